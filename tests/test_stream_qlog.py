"""The day's kdb+ log (``.u.L``): q's file format byte for byte, read back as ``-11!`` reads
it, written from the real-time tables (flushed, at end of day, when ``.u.i`` is asked) and
remade from the journal when the tickerplant starts again."""

from __future__ import annotations

import datetime
import struct

import numpy as np
import pyarrow as pa
import pytest

pytest.importorskip("indb.stream.kdb")  # sets PyKX's unlicensed mode before it loads

from test_stream_tickerplant import Clock, columns, db, plant, row, upd  # noqa: E402,F401

from indb.errors import DirectoryError  # noqa: E402
from indb.stream import kdb, qlog  # noqa: E402
from indb.stream.kdb import kx  # noqa: E402

NOON = 1_796_385_600_000_000_000  # 2026-12-04 12:00 UTC, in ns since 1970


def update(x, function=kx.SymbolAtom(".u.upd"), **options) -> bytes:
    """A feed's ``.u.upd[`trade; x]`` as it comes over IPC."""
    return bytes(kx.serialize(kx.toq([function, kx.SymbolAtom("trade"), x]), mode=3, wait=0,
                              **options).copy())


def body_of(x) -> bytes:
    return bytes(kx.serialize(x, mode=3, wait=0).copy())[8:]


def as_q_reads(chunk: bytes):
    """A log message as q's ``-11!`` reads it: the IPC body of the value."""
    return kx.deserialize(kdb.HEADER.pack(1, 0, 0, 0, 8 + len(chunk)) + chunk)


ROW = kx.toq([kx.SymbolAtom("AAPL"), kx.FloatAtom(187.5), kx.LongAtom(100)])
COLUMNS = kx.toq([kx.SymbolVector(["IBM", "MSFT"]), kx.FloatVector([150.0, 410.5]),
                  kx.LongVector([7, 8])])


def test_an_update_is_logged_as_tick_q_logs_it_the_time_filled_in_first():
    chunk = qlog.update_chunk(update(ROW), NOON, {"trade": "timestamp"})
    expected = kx.toq([kx.SymbolAtom("upd"), kx.SymbolAtom("trade"), kx.toq(
        [kx.toq(np.datetime64(NOON, "ns")), *ROW])])
    assert chunk == body_of(expected)  # byte for byte what q would log for it
    function, table, x = as_q_reads(chunk).py()
    assert (function, table, x[1:]) == ("upd", "trade", ["AAPL", 187.5, 100])
    assert x[0] == datetime.datetime(2026, 12, 4, 12, 0)


def test_columns_get_a_time_vector_and_a_time_column_a_timespan():
    function, table, x = as_q_reads(qlog.update_chunk(update(COLUMNS), NOON, {"trade": "timespan"})).py()
    assert (function, table, x[1:]) == ("upd", "trade", [["IBM", "MSFT"], [150.0, 410.5], [7, 8]])
    assert x[0] == [datetime.timedelta(hours=12)] * 2  # TIME: the stamp's time of day
    times = as_q_reads(qlog.update_chunk(update(COLUMNS), NOON, {"trade": "timespan"})).np()[2][0]
    assert times.dtype == "timedelta64[ns]"  # a timespan vector


def test_a_time_the_feed_sent_or_a_table_is_logged_as_sent():
    timed = kx.toq([kx.toq(np.datetime64(5, "ns")), *ROW])
    chunk = qlog.update_chunk(update(timed), NOON, {"trade": "timestamp"})
    assert chunk == body_of(kx.toq([kx.SymbolAtom("upd"), kx.SymbolAtom("trade"), timed]))
    assert qlog.update_chunk(update(ROW), NOON, {}) == body_of(
        kx.toq([kx.SymbolAtom("upd"), kx.SymbolAtom("trade"), ROW]))  # a table without time
    table = kx.toq(pa.table({"sym": ["A"], "price": [1.0]}))
    chunk = qlog.update_chunk(update(table), NOON, {"trade": "timestamp"})
    assert as_q_reads(chunk).py()[2] == {"sym": ["A"], "price": [1.0]}


def test_a_string_for_the_function_or_the_table_is_logged_alike():
    plain = qlog.update_chunk(update(COLUMNS), NOON, {"trade": "timestamp"})
    assert qlog.update_chunk(update(COLUMNS, kx.CharVector(".u.upd")), NOON, {"trade": "timestamp"}) == plain
    named = bytes(kx.serialize(kx.toq([kx.SymbolAtom(".u.upd"), kx.CharVector("trade"), COLUMNS]),
                               mode=3, wait=0).copy())
    assert qlog.update_chunk(named, NOON, {"trade": "timestamp"}) == plain
    assert qlog._layout(update(ROW))[0] == qlog._layout(named)[0] == "trade"
    # a string with an attribute (u#".u.upd": found by fuzzing the tick port) is the same name
    attributed = bytearray(update(COLUMNS, kx.CharVector(".u.upd")))
    assert attributed[kdb.HEADER.size + 6:kdb.HEADER.size + 8] == b"\x0a\x00"  # the string's
    attributed[kdb.HEADER.size + 7] = 2  # u#
    assert qlog.update_chunk(bytes(attributed), NOON, {"trade": "timestamp"}) == plain
    attributed[kdb.HEADER.size + 1] = 3  # and the call's list's
    assert qlog.update_chunk(bytes(attributed), NOON, {"trade": "timestamp"}) == plain


def test_an_empty_log_is_what_q_writes_for_an_empty_list(tmp_path):
    log = qlog.QLog(tmp_path / "sym2026.12.04")
    log.close()
    # q: .[`:sym2026.12.04;();:;()] then read1: 0xff01000000000000 0000 00000000
    assert (tmp_path / "sym2026.12.04").read_bytes() == bytes.fromhex("ff01000000000000" "0000" "00000000")


def test_a_log_is_the_file_header_and_the_ipc_body_of_its_messages(tmp_path):
    path = tmp_path / "sym2026.12.04"
    log = qlog.QLog(path)
    chunks = [qlog.update_chunk(update(x), NOON, {"trade": "timestamp"}) for x in (ROW, COLUMNS, ROW)]
    log.append(chunks[0], 1)
    log.append(b"".join(chunks[1:]), 2)
    log.close()
    whole = kx.serialize(kx.toq([as_q_reads(c) for c in chunks]), mode=3, wait=0)
    data = path.read_bytes()
    assert data[:8] == b"\xff\x01" + bytes(6)  # q's header of a list stored in a file
    assert data[8:] == bytes(whole.copy())[8:]  # then the list as IPC encodes it: q's `get` reads it
    assert struct.unpack_from("<i", data, 10) == (3,)  # the count, rewritten by each append
    assert log.count == 3


def test_replay_gives_the_first_messages_as_r_q_evaluates_them(tmp_path):
    path = tmp_path / "sym2026.12.04"
    log = qlog.QLog(path)
    log.append(*qlog.update_chunks([(NOON, update(x)) for x in (ROW, COLUMNS)], {"trade": "timestamp"}))
    replayed = list(qlog.replay(f":{path}", upto=1))  # .u.L as a q client gets it
    assert len(replayed) == 1
    function, table, x = replayed[0]
    assert (function, table, list(x[1:])) == ("upd", "trade", ["AAPL", 187.5, 100])
    assert len(list(qlog.replay(path))) == 2


def test_a_message_being_appended_is_not_read_half(tmp_path):
    path = tmp_path / "sym2026.12.04"
    log = qlog.QLog(path)
    log.append(qlog.update_chunk(update(ROW), NOON, {"trade": "timestamp"}), 1)
    with open(path, "ab") as half:  # the bytes of the next message, before its count
        half.write(qlog.update_chunk(update(ROW), NOON, {"trade": "timestamp"})[:25])
    with pytest.raises(DirectoryError, match="does not decode as the 1 messages its header counts"):
        qlog.read(path)  # a file that stopped growing with half a message is not a log


def test_what_is_not_a_log_is_refused(tmp_path):
    path = tmp_path / "sym2026.12.04"
    path.write_bytes(b"INDBTICK\x01\0\0\0")
    with pytest.raises(DirectoryError, match="is not a kdb\\+ log"):
        qlog.read(path)


def logged(path) -> list[tuple[str, list]]:
    """Each message of a kdb+ log as (function, x without its time)."""
    return [(function, [list(v) if hasattr(v, "__len__") and not isinstance(v, str) else v
                        for v in x[1:]]) for function, table, x in qlog.read(path)]


def test_the_log_gets_each_update_when_u_i_is_asked(plant):
    tp = plant()
    upd(tp, row("A", 1.0, 1))
    upd(tp, columns(["B", "C"], [2.0, 3.0], [2, 3]))
    assert tp.variable(".u.i").py() == 2 == tp.journal.count  # one message an update
    assert tp.variable(".u.L").py() == f":{tp.qlog.path}"
    assert logged(tp.qlog.path) == [("upd", ["A", 1.0, 1]), ("upd", [["B", "C"], [2.0, 3.0], [2, 3]])]
    first_time = qlog.read(tp.qlog.path)[0][2][0]
    stored = tp.engine.execute("SELECT time FROM trade WHERE sym = 'A'").fetchall()[0][0]
    assert first_time == np.datetime64(stored, "ns")  # the time the table got
    assert tp.qlog.path.name == f"sym{tp.date:%Y.%m.%d}" and (tp.qlog.path.parent / "sym").is_dir()


def test_end_of_day_closes_the_days_log_and_starts_the_next(plant):
    clock = Clock()
    tp = plant(clock=clock)
    upd(tp, row("A", 1.0, 1))
    ended = tp.qlog.path
    clock.now += 86_400_000_000_000
    tp.end_of_day()
    assert logged(ended) == [("upd", ["A", 1.0, 1])]
    assert tp.qlog.path.name == f"sym{datetime.date(2026, 12, 5):%Y.%m.%d}" and tp.qlog.count == 0
    upd(tp, row("B", 2.0, 2))
    assert tp.variable(".u.i").py() == 1
    assert logged(tp.qlog.path) == [("upd", ["B", 2.0, 2])]


def test_a_restart_makes_the_log_again_from_the_journal_flushed_rows_too(plant):
    first = plant()
    upd(first, columns(["A", "B"], [1.0, 2.0], [1, 2]))
    first.flush()  # these rows are in the table now, not in memory
    upd(first, row("C", 3.0, 3))
    first.journal.close()
    first.qlog.path.write_bytes(b"")  # killed while it was written: made again from the journal
    second = plant()
    assert second.replayed == 1  # C, into memory again
    assert second.qlog.count == 2 and second.variable(".u.i").py() == 2
    assert logged(second.qlog.path) == [("upd", [["A", "B"], [1.0, 2.0], [1, 2]]),
                                        ("upd", ["C", 3.0, 3])]


def test_messages_gathered_before_their_table_was_known_are_logged_with_its_time(plant):
    from indb.stream import decoding
    tp = plant()
    messages = [bytes(kx.serialize(kdb.call(".u.upd", kdb.symbol("trade"), row(s, 1.0, 1)),
                                   mode=3, wait=0).copy()) for s in "AB"]
    data = b"".join(messages)
    (run,) = decoding.gather(data, NOON, {})  # read before trade was in memory: no time kind
    assert isinstance(run, decoding.Gathered)
    update = tp.gathered(run.table, run.vectors, run.timed, NOON, frames=run.frames,
                         framed=run.count, logged=run.logged, fills={})
    assert update is not None
    assert update.logged == b"".join(qlog.update_chunk(m, NOON, {"trade": "timestamp"})
                                     for m in messages)  # made again, the time filled in
    tp.commit([update])
    assert [x[1] for _, _, x in qlog.read(tp.qlog.path)] == ["A", "B"] and tp.qlog.count == 2


def test_without_a_kdb_log_u_l_names_the_journal_and_nothing_is_made(plant):
    from indb.stream import decoding
    tp = plant(kdb_log=False)
    assert tp.qlog is None and tp.fills() is None
    upd(tp, row("A", 1.0, 1))
    (run,) = decoding.gather(b"".join(bytes(kx.serialize(kdb.call(".u.upd", kdb.symbol("trade"),
                             row(s, 1.0, 1)), mode=3, wait=0).copy()) for s in "BC"), NOON, tp.fills())
    assert isinstance(run, decoding.Gathered) and run.logged == b""
    update = tp.gathered(run.table, run.vectors, run.timed, NOON, frames=run.frames,
                         framed=run.count, logged=run.logged, fills=tp.fills())
    assert update is not None
    tp.commit([update])
    assert tp.variable(".u.i").py() == 3 and tp.variable(".u.L").py() == f":{tp.journal.path}"
    assert not list(tp.journal_dir.glob("sym*"))


def test_a_kdb_log_that_cannot_be_written_is_given_up_not_the_update(plant, monkeypatch, caplog):
    tp = plant()
    upd(tp, row("A", 1.0, 1))

    def full(*args):
        raise OSError(28, "No space left on device")
    monkeypatch.setattr(tp.qlog, "append", full)
    upd(tp, row("B", 2.0, 2))  # journalled and applied all the same
    assert "could not be written" in caplog.text and tp.qlog is None
    assert tp.engine.execute("SELECT count(*) FROM trade").fetchall() == [(2,)]
    assert tp.variable(".u.i").py() == 2 and tp.variable(".u.L").py() == f":{tp.journal.path}"
    upd(tp, row("C", 3.0, 3))
    assert tp.journal.count == 3
