"""Updates read together, decoded and gathered a column at a time (``indb.stream.decoding``),
on the event loop and in decoder processes (``indb tick --decoders N``): runs, lone messages,
journal frames, and, over a socket, order, refusals and sync answers kept as before."""

from __future__ import annotations

import os
import signal
import socket
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest

pytest.importorskip("indb.stream.kdb")  # sets PyKX's unlicensed mode before it loads

from indb.stream import decoding, kdb  # noqa: E402
from indb.stream import qlog  # noqa: E402
from indb.stream.journal import frame  # noqa: E402
from indb.stream.kdb import kx  # noqa: E402
from tests.test_stream_server import Server, make_db, read_message  # noqa: E402

STAMP = 1_796_380_000_000_000_000
FILLS = {"trade": "timestamp"}  # the tables whose time the tickerplant fills in


def message(x, table: str = "trade", sync: bool = False) -> bytes:
    """``(".u.upd"; `table; x)`` as PyKX's client sends it."""
    return bytes(kx.serialize(kx.toq([kx.CharVector(".u.upd"), kx.SymbolAtom(table), x]),
                              mode=3, wait=int(sync)).copy())


def row(sym: str, price, size: int):
    return kx.toq([kx.SymbolAtom(sym), price if not isinstance(price, float) else
                   kx.FloatAtom(price), kx.LongAtom(size)])


def columns(syms: list[str], prices: list[float], sizes: list[int]):
    return kx.toq([kx.SymbolVector(syms), kx.FloatVector(prices), kx.LongVector(sizes)])


def query(text: str) -> bytes:
    return bytes(kx.serialize(kx.CharVector(text), mode=3, wait=1).copy())


def test_runs_of_one_table_and_form_are_gathered_the_rest_left_alone():
    sent = [message(row("A", 1.0, 1)), message(row("B", 2.0, 2), sync=True),
            message(row("C", 3.0, 3)),
            message(columns(["D", "E"], [4.0, 5.0], [4, 5])),  # another form: a new run
            message(columns(["F"], [6.0], [6])),
            message(row("G", 7.0, 7), table="quote"),  # another table, alone in its run
            query("SELECT 1"),  # not an update
            message(row("H", 8.0, 8)), message(row("I", kx.LongAtom(9), 9)),  # two types
            b"\x01\x00\x00\x00\x0c\x00\x00\x00\xff\xff\xff\xff"]  # does not decode
    data = b"".join(sent)
    bounds = [0, *decoding.ends(data)]
    assert bounds[-1] == len(data) and len(bounds) == len(sent) + 1
    segments = decoding.gather(data, STAMP, FILLS)
    kinds = [type(s).__name__ if isinstance(s, decoding.Gathered) else "lone" for s in segments]
    assert kinds == ["Gathered", "Gathered", "lone", "lone", "lone", "lone", "lone"]
    rows, cols = segments[0], segments[1]
    assert isinstance(rows, decoding.Gathered) and isinstance(cols, decoding.Gathered)
    assert (rows.table, rows.count, rows.syncs, rows.timed) == ("trade", 3, (1,), False)
    assert (rows.start, rows.end) == (bounds[0], bounds[3])
    assert rows.frames == b"".join(frame(STAMP, m) for m in sent[:3])  # as the journal makes them
    assert rows.logged == b"".join(qlog.update_chunk(m, STAMP, FILLS) for m in sent[:3])  # the log's
    assert rows.vectors[0].tolist() == ["A", "B", "C"]
    assert rows.vectors[1].tolist() == [1.0, 2.0, 3.0] and rows.vectors[2].tolist() == [1, 2, 3]
    assert (cols.count, cols.syncs) == (2, ())
    assert cols.vectors[0].tolist() == ["D", "E", "F"]
    assert cols.vectors[2].dtype == np.int64 and cols.vectors[2].tolist() == [4, 5, 6]
    lone = segments[2:]
    assert [s[:2] for s in lone] == [  # type: ignore[index]
        (bounds[i], bounds[i + 1]) for i in range(5, 10)]  # H and I: two types, each alone
    # decoded where they were gathered (kept for the loop), not where sent to another process
    assert kdb.text(lone[1][2]) == "SELECT 1"  # type: ignore[index]
    assert lone[-1][2] is None  # type: ignore[index]
    remote = decoding.gather(data, STAMP, FILLS, remote=True)
    assert all(s[2] is None for s in remote if not isinstance(s, decoding.Gathered))
    assert isinstance(remote[0], decoding.Gathered)
    assert isinstance(remote[0].vectors[0], pa.Array)  # symbols as Arrow: cheaper to send
    assert remote[0].vectors[0].to_pylist() == ["A", "B", "C"]


def test_pieces_are_whole_messages_of_about_a_size():
    ends = [10, 20, 35, 50, 51]
    assert decoding.pieces(ends, 20) == [(0, 20), (20, 50), (50, 51)]
    assert decoding.pieces(ends, 1000) == [(0, 51)]
    with pytest.raises(kdb.MessageError):
        decoding.ends(b"\x00" * 16)  # big-endian, or garbage: the stream cannot be followed


def test_a_piece_whose_decoder_failed_is_gathered_on_the_loop():
    import asyncio
    data = b"".join(message(row(s, 1.0, 1)) for s in "AB")
    loop = asyncio.new_event_loop()
    try:
        piece = decoding.Piece(data, STAMP, FILLS, future=loop.create_future())
        assert not piece.ready()  # still at its decoder
        assert piece.future is not None
        piece.future.set_exception(RuntimeError("a decoder process died"))
        assert piece.ready()
        assert piece.segments is not None and len(piece.segments) == 1
        run = piece.segments[0]
        assert isinstance(run, decoding.Gathered) and run.count == 2 and run.logged
    finally:
        loop.close()


def exchange(port: int, data: bytes, answers: int) -> list:
    """Send ``data`` in one write over a fresh connection; the first ``answers`` replies."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=120)
    try:
        sock.sendall(b":\x03\x00")
        assert sock.recv(1) == b"\x03"
        sock.sendall(data)
        return [read_message(sock) for _ in range(answers)]
    finally:
        sock.close()


@pytest.mark.parametrize("decoders", [0, 1])
def test_a_large_read_keeps_order_refusals_and_answers(tmp_path: Path, decoders: int):
    server = Server(make_db(tmp_path / "db"), tmp_path / "server.log",
                    "--decoders", str(decoders)).start()
    try:
        first = [message(row(f"S{i % 7}", float(i), i)) for i in range(1500)]
        bad = message(kx.toq([kx.SymbolAtom("X"), kx.SymbolAtom("x"), kx.LongAtom(0)]))
        hundred = [message(columns([f"T{j}" for j in range(100)], [1.0] * 100,
                                   list(range(100)))) for _ in range(50)]
        data = b"".join([*first[:700], bad, *first[700:], message(row("Y", 1.0, 1), sync=True),
                         query("SELECT count(*) AS n FROM trade"), *hundred,
                         query(".u.i")])
        assert len(data) > decoding.POOL_BYTES  # what the decoder processes take
        done, counted, journalled = exchange(server.port, data, 3)
        assert done.py() is None  # the sync update's ``::``
        assert counted.py()["n"] == [1501]  # every update before the query, the bad one not
        assert journalled.py() == 1551  # messages journalled: not the refused one
        assert "async message refused: column price is DOUBLE" in (tmp_path / "server.log").read_text()
        assert server.process is not None
        helpers = _descendants(server.process.pid)
        assert len(helpers) >= (2 if decoders else 0)  # its forkserver and decoders
        server.kill(signal.SIGKILL)
        deadline = time.monotonic() + 30
        while _running(helpers) and time.monotonic() < deadline:
            time.sleep(0.2)  # a decoder sees its tickerplant gone within a second
        assert not _running(helpers), "decoder processes outlived a killed tickerplant"
        server.start()  # the journal replays to the same rows
        q = server.connect()
        try:
            assert q("SELECT count(*) AS n, sum(size) AS s FROM trade").py() == {
                "n": [1501 + 5000], "s": [sum(range(1500)) + 1 + 50 * sum(range(100))]}
        finally:
            q.close()
    finally:
        server.kill(signal.SIGTERM)


def _parents() -> dict[int, int]:
    found = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as stat:
                    found[int(entry)] = int(stat.read().rpartition(")")[2].split()[1])
            except OSError:  # gone meanwhile
                continue
    return found


def _descendants(pid: int) -> set[int]:
    parents, found = _parents(), {pid}
    for _ in range(4):
        found |= {child for child, parent in parents.items() if parent in found}
    return found - {pid}


def _running(pids: set[int]) -> bool:
    """Whether any of them still runs (a zombie does not)."""
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat") as stat:
                if stat.read().rpartition(")")[2].split()[0] != "Z":
                    return True
        except OSError:
            continue
    return False
