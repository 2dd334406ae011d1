"""indb.stream.outputs: a subscription's output rows are journalled like a feed's updates, so
``kill -9`` and a restart rebuild the output table's real-time rows, each once, before and
after a flush (``indb tick`` in its own process, the real PyKX client)."""

from __future__ import annotations

import signal
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pytest

pytest.importorskip("indb.stream.kdb")  # sets PyKX's unlicensed mode before it loads

from test_stream_server import Server, read_message  # noqa: E402

import indb  # noqa: E402
from indb.engine.core import Engine  # noqa: E402
from indb.stream.outputs import commit, prepared  # noqa: E402
from indb.stream import journal  # noqa: E402
from indb.stream.kdb import kx  # noqa: E402
from indb.stream.tickerplant import Subscriber, Tickerplant  # noqa: E402

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


# -- in one process: how a batch's outputs are encoded and published -------------------------

@pytest.fixture
def plant(tmp_path: Path) -> Iterator[Any]:
    conn = indb.connect(tmp_path / "db")
    conn.sql("CREATE TABLE scored (time TIMESTAMP, sym VARCHAR, error DOUBLE)")
    conn.close()
    made = Tickerplant(Engine(tmp_path / "db", cluster="threads"), flush_seconds=None)
    yield made
    made.close()
    made.engine.close()


def listener(plant: Tickerplant, syms: list[str]) -> list[bytes]:
    """A subscriber of ``scored`` for ``syms`` (all: none); the raw messages it is sent."""
    got: list[bytes] = []
    plant.subscribe(Subscriber("s", got.append, lambda: 0, lambda: None), "scored", syms)
    return got


def scored(syms: list[str], errors: list[float]) -> pa.Table:
    stamp = np.datetime64("2026-12-03T09:30:00.000001", "us")
    return pa.table({"sym": syms, "error": errors,  # in another order than the table's
                     "time": pa.array([stamp] * len(syms), pa.timestamp("us"))})


def test_outputs_are_encoded_once_off_the_loop_and_sent_as_they_were_journalled(plant):
    first = prepared(plant, [("scored", scored(["A"], [0.5]))])
    assert first[0].live is None  # no real-time table yet: the loop makes it and encodes then
    commit(plant, first)
    every, only_b = listener(plant, []), listener(plant, ["B"])
    ready = prepared(plant, [("scored", scored(["A", "B"], [1.0, 2.0]))])
    assert ready[0].live is plant.tables["scored"]
    count = plant.journal.count
    commit(plant, ready)
    assert every == [ready[0].published]  # the message made off the loop, as it was made
    name, table, rows = kx.deserialize(every[0]).py()
    assert (name, table, rows["sym"], rows["error"]) == ("upd", "scored", ["A", "B"], [1.0, 2.0])
    assert list(rows) == ["time", "sym", "error"]  # in the table's column order
    assert [kx.deserialize(m).py()[2]["sym"] for m in only_b] == [["B"]]  # its syms only
    journalled = [e.message for e in journal.read(plant.journal.path)[0]][count:]
    assert journalled == [ready[0].journalled]  # journalled before it was published
    assert kx.deserialize(journalled[0]).py()[:2] == [".u.upd", "scored"]
    assert plant.engine.execute("SELECT sym, error FROM scored ORDER BY error").fetchall() == \
        [("A", 0.5), ("A", 1.0), ("B", 2.0)]


def test_the_message_made_off_the_loop_is_not_sent_when_other_rows_arrived_with_it(plant):
    commit(plant, prepared(plant, [("scored", scored(["A"], [0.5]))]))
    every = listener(plant, [])
    ready = prepared(plant, [("scored", scored(["B"], [2.0]))])
    live = plant.tables["scored"]
    live.append_row([0, "C", 3.0], live.upto)  # as if a feed's row came first
    commit(plant, ready)
    assert every != [ready[0].published]
    assert kx.deserialize(every[0]).py()[2]["sym"] == ["C", "B"]  # both, in one message
