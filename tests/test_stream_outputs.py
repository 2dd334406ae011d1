"""indb.stream.outputs: a subscription's output rows are journalled like a feed's updates, so
``kill -9`` and a restart rebuild the output table's real-time rows, each once, before and
after a flush (``indb tick`` in its own process, the real PyKX client)."""

from __future__ import annotations

import signal
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

pytest.importorskip("indb.stream.kdb")  # sets PyKX's unlicensed mode before it loads

from test_stream_server import Server, read_message  # noqa: E402

import indb  # noqa: E402
from indb.stream.kdb import kx  # noqa: E402

DOUBLE = '''
from indb import udf

@udf.function(frame="numpy")
def double(ctx, rows):
    return {"time": rows["time"], "sym": rows["sym"], "px2": rows["px"] * 2}
'''
TICKS = 40


def make_db(root: Path) -> Path:
    code = root / "double.py"
    code.write_text(DOUBLE)
    conn = indb.connect(root / "db")
    conn.sql("CREATE TABLE ticks (time TIMESTAMP, sym VARCHAR, px DOUBLE)")
    conn.sql("CREATE TABLE ticks_out (time TIMESTAMP, sym VARCHAR, px2 DOUBLE)")
    conn.sql(f"CREATE FUNCTION double FILE PATHS '{code}'")
    conn.sql("CREATE SUBSCRIPTION doubled ON ticks EXECUTE FUNCTION double() "
             "OUTPUT_TABLES('ticks_out')")
    conn.close()
    return root / "db"


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    made = Server(make_db(tmp_path), tmp_path / "server.log")
    yield made
    if made.process is not None and made.process.poll() is None:
        made.kill(signal.SIGKILL)


def outputs(server: Server) -> list[float]:
    q = server.connect()
    try:
        return sorted(q("SELECT px2 FROM ticks_out").py()["px2"])
    finally:
        q.close()


def test_kill_9_then_the_outputs_real_time_rows_are_rebuilt_once(server):
    server.start()
    reader = socket.create_connection(("127.0.0.1", server.port), timeout=120)
    reader.sendall(b"\x03\x00")
    assert reader.recv(1) == b"\x03"
    reader.sendall(bytes(kx.serialize(kx.toq([kx.SymbolAtom(".u.sub"), kx.SymbolAtom("ticks_out"),
                                               kx.SymbolAtom("")]), mode=3, wait=1).copy()))
    assert read_message(reader).py()[0] == "ticks_out"
    feed = server.connect()
    try:
        for n in range(TICKS):
            feed(".u.upd", kx.SymbolAtom("ticks"), kx.toq([kx.SymbolAtom("A"), kx.FloatAtom(float(n))]))
    finally:
        feed.close()
    published: list[float] = []
    while len(published) < TICKS:  # an output row is journalled before it is published
        name, table, rows = read_message(reader).py()
        assert (name, table) == ("upd", "ticks_out")
        published += rows["px2"]
    reader.close()
    expected = [2.0 * n for n in range(TICKS)]
    assert sorted(published) == expected
    server.kill(signal.SIGKILL)  # before any flush: the rows were in memory and the journal only

    server.start()
    assert outputs(server) == expected  # rebuilt from the journal, not scored again
    q = server.connect()
    try:
        assert q("SELECT count(*) AS n FROM ticks").py()["n"] == [TICKS]
        q(".u.endofday")  # flushed into the table, the journal rolled
    finally:
        q.close()
    assert outputs(server) == expected
    server.kill(signal.SIGKILL)
    server.start()
    assert outputs(server) == expected  # nothing replayed twice after the flush
