"""The tickerplant in one process: updates checked, journalled, added to real-time tables that
every connection of the process queries, published to subscribers, flushed into the tables
with no gap and no duplicate, and rebuilt from the journal."""

from __future__ import annotations

import datetime
import threading
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest

pytest.importorskip("indb.stream.kdb")  # sets PyKX's unlicensed mode before it loads

import indb  # noqa: E402
from indb.engine.core import Engine  # noqa: E402
from indb.errors import DataError  # noqa: E402
from indb.stream import kdb  # noqa: E402
from indb.stream.kdb import kx  # noqa: E402
from indb.stream.tickerplant import FLUSHED, Subscriber, Tickerplant  # noqa: E402

NOON = 1_796_385_600_000_000_000  # 2026-12-04 12:00 UTC, in ns


class Clock:
    def __init__(self) -> None:
        self.now = NOON

    def __call__(self) -> int:
        return self.now


@pytest.fixture
def db(tmp_path: Path) -> Path:
    conn = indb.connect(tmp_path / "db")
    conn.sql("CREATE TABLE trade (time TIMESTAMP, sym VARCHAR, price DOUBLE, size BIGINT, "
             "SHARD KEY (sym)) WITH (SHARDS = 4)")
    conn.close()
    return tmp_path / "db"


@pytest.fixture
def plant(db: Path):
    made: list[Tickerplant] = []

    def open_plant(**options) -> Tickerplant:
        engine = Engine(db, cluster="threads")
        made.append(Tickerplant(engine, flush_seconds=None, clock=options.pop("clock", Clock()),
                                **options))
        return made[-1]
    yield open_plant
    for p in made:
        p.close()
        p.engine.close()


def decoded(x):
    """A PyKX object as the server decodes it from a message."""
    return kdb.decode(kdb.encode(x, kdb.ASYNC))


def upd(plant: Tickerplant, x, table: str = "trade") -> None:
    message = kdb.encode(kdb.call(".u.upd", kdb.symbol(table), x), kdb.ASYNC)
    plant.commit([plant.prepare(table, decoded(x), message, plant.clock())])


def row(sym: str, price: float, size: int):
    return kx.toq([kx.SymbolAtom(sym), kx.FloatAtom(price), kx.LongAtom(size)])


def columns(syms: list[str], prices: list[float], sizes: list[int]):
    return kx.toq([kx.SymbolVector(syms), kx.FloatVector(prices), kx.LongVector(sizes)])


def test_updates_are_queryable_at_once_with_the_time_filled_in(plant, db):
    tp = plant()
    upd(tp, row("AAPL", 187.5, 100))
    upd(tp, columns(["MSFT", "AAPL"], [410.0, 188.0], [5, 7]))
    stamp = datetime.datetime(2026, 12, 4, 12, 0)
    assert tp.engine.execute("SELECT * FROM trade ORDER BY price").fetchall() == [
        (stamp, "AAPL", 187.5, 100), (stamp, "AAPL", 188.0, 7), (stamp, "MSFT", 410.0, 5)]
    other = indb.connect(db)  # any connection of this process sees the real-time rows
    try:
        assert other.sql("SELECT sym, sum(size) FROM trade GROUP BY sym ORDER BY sym").fetchall() == [
            ("AAPL", 107), ("MSFT", 5)]
    finally:
        other.close()
    assert tp.journal.count == 2


def test_a_time_the_feed_sends_is_kept_and_tables_are_taken_by_column_name(plant):
    tp = plant()
    moment = np.array([1_796_380_000_123_456_789], "datetime64[ns]")
    sent = kx.toq(moment)
    upd(tp, kx.toq([sent, kx.SymbolVector(["IBM"]), kx.FloatVector([1.0]), kx.LongVector([1])]))
    upd(tp, kdb.table(pa.table({"size": [2], "sym": ["IBM"], "price": [2.0]})))  # no time: filled
    times = [t for (t,) in tp.engine.execute("SELECT time FROM trade ORDER BY size").fetchall()]
    kept = moment.astype("datetime64[us]")[0].item()  # a TIMESTAMP column keeps microseconds
    assert times == [kept, datetime.datetime(2026, 12, 4, 12, 0)]


@pytest.mark.parametrize("x, message", [
    (lambda: kx.toq([kx.SymbolAtom("A"), kx.SymbolAtom("x"), kx.LongAtom(1)]), "column price is DOUBLE"),
    (lambda: kx.toq([kx.SymbolAtom("A"), kx.FloatAtom(1.0)]), "send 3 .* or 4 values, not 2"),
    (lambda: kx.toq([kx.SymbolVector(["A"]), kx.FloatVector([1.0, 2.0]), kx.LongVector([1])]),
     "different lengths"),
    (lambda: kdb.table(pa.table({"sym": ["A"], "price": [1.0], "size": [1], "venue": ["X"]})),
     "has no column venue"),
])
def test_a_wrong_schema_is_refused_and_nothing_is_journalled(plant, x, message):
    tp = plant()
    with pytest.raises(DataError, match=message):
        tp.prepare("trade", decoded(x()), b"", tp.clock())
    assert tp.journal.count == 0 and tp.tables["trade"].row_count == 0


def test_an_unknown_table_is_refused(plant):
    with pytest.raises(DataError, match="there is no table quote"):
        plant().prepare("quote", decoded(row("A", 1.0, 1)), b"", 0)


def test_restart_rebuilds_the_real_time_table_from_the_journal(plant):
    first = plant()
    for n in range(5):
        upd(first, row(f"S{n}", float(n), n))
    first.journal.close()  # what a killed process leaves: the journal, written
    second = plant()
    assert second.replayed == 5
    assert second.engine.execute("SELECT count(*), sum(size) FROM trade").fetchall() == [(5, 10)]


def test_a_flush_moves_rows_into_the_table_once(plant, db):
    tp = plant()
    upd(tp, columns(["A", "B", "C"], [1.0, 2.0, 3.0], [1, 2, 3]))
    assert tp.flush() == 3
    assert tp.tables["trade"].row_count == 0
    table, _ = tp.engine.db.load("trade")
    assert table.properties[FLUSHED] == f"{tp.journal.path.name}:1"
    assert tp.engine.execute("SELECT count(*) FROM trade").fetchall() == [(3,)]
    upd(tp, row("D", 4.0, 4))
    tp.journal.close()
    again = plant()  # the flushed message is not replayed; the one after it is
    assert again.replayed == 1
    assert again.engine.execute("SELECT sym FROM trade ORDER BY sym").fetchall() == [
        ("A",), ("B",), ("C",), ("D",)]


def test_queries_during_flushes_see_each_row_exactly_once(plant):
    tp = plant()
    total = 0
    seen: list[int] = []
    stop = threading.Event()

    def query() -> None:
        other = Engine(tp.directory, cluster="threads")
        try:
            while not stop.is_set():
                seen.append(other.execute("SELECT count(*) FROM trade").fetchall()[0][0])
        finally:
            other.close()
    reader = threading.Thread(target=query)
    reader.start()
    try:
        for n in range(6):
            upd(tp, columns([f"S{n}"] * 50, [1.0] * 50, [n] * 50))
            total += 50
            expected = total
            tp.flush()
            counts_after = len(seen)
            assert tp.engine.execute("SELECT count(*) FROM trade").fetchall() == [(expected,)]
    finally:
        stop.set()
        reader.join()
    assert seen and counts_after
    assert all(count % 50 == 0 and count <= total for count in seen)  # never half, never twice
    assert sorted(seen) == seen  # rows never go missing once seen


def sink(name: str = "s") -> tuple[Subscriber, list]:
    got: list = []
    subscriber = Subscriber(name, lambda m: got.append(kx.deserialize(m).py()), lambda: 0,
                            lambda: got.append("closed"))
    return subscriber, got


def test_subscribers_get_their_syms_and_end_of_day(plant):
    clock = Clock()
    tp = plant(clock=clock)
    upd(tp, row("A", 0.5, 0))  # before anyone subscribed: never published
    some, got_some = sink()
    every, got_every = sink()
    schema = tp.subscribe(some, "trade", ["A"]).py()
    assert schema == ["trade", {"time": [], "sym": [], "price": [], "size": []}]
    assert [pair[0] for pair in tp.subscribe(every, "", []).py()] == ["trade"]
    upd(tp, columns(["A", "B"], [1.0, 2.0], [1, 2]))
    upd(tp, row("B", 3.0, 3))  # nothing for the A subscriber
    assert [m[:2] for m in got_every] == [["upd", "trade"], ["upd", "trade"]]
    assert len(got_some) == 1 and got_some[0][2]["sym"] == ["A"]
    assert got_every[1][2]["price"] == [3.0]
    journal = tp.journal.path
    clock.now += 86_400_000_000_000
    assert tp.day_ended()
    tp.end_of_day()
    assert got_some[-1] == [".u.end", datetime.date(2026, 12, 4)]
    assert tp.journal.path != journal and tp.journal.count == 0
    assert tp.engine.execute("SELECT count(*) FROM trade").fetchall() == [(4,)]  # flushed, once
    assert tp.tables["trade"].row_count == 0


def test_rows_only_subscriptions_read_stay_in_the_table_until_taken(plant):
    """Subscriptions are told of each update's rows, and take them once a batch: sealed into
    Arrow once then, not once an update; where a kdb+ subscriber reads them too, they get them
    at once, with every row not taken before."""
    tp = plant()
    told: list = []
    tp.listened.add("trade")
    tp.on_rows = lambda name, rows, count: told.append((name, None if rows is None else rows.num_rows, count))
    tp.table("trade").watched = True
    for sym, price in (("A", 1.0), ("B", 2.0), ("C", 3.0)):
        upd(tp, row(sym, price, 1))
    upd(tp, columns(["D", "E"], [4.0, 5.0], [2, 3]))
    assert told == [("trade", None, 1)] * 3 + [("trade", None, 2)]
    taken = tp.taken("trade")
    assert taken.column("sym").to_pylist() == ["A", "B", "C", "D", "E"]
    # one seal for the three one-row updates (a column update is a batch of its own)
    assert [len(chunk) for chunk in taken.column("price").chunks] == [3, 2]
    assert tp.taken("trade").num_rows == 0
    upd(tp, row("X", 9.0, 9))  # not taken when a kdb+ subscriber comes: the subscriptions' alone
    reader, got = sink()
    tp.subscribe(reader, "trade", [])
    assert told[4:6] == [("trade", None, 1), ("trade", 1, 0)]  # X given to them, not sent
    upd(tp, row("F", 6.0, 6))
    upd(tp, row("G", 7.0, 7))
    assert told[6:] == [("trade", 1, 1), ("trade", 1, 1)]
    assert [m[2]["sym"] for m in got] == [["F"], ["G"]]


def test_a_subscriber_that_does_not_read_is_cut_off(plant, caplog):
    tp = plant(subscriber_limit=1_000)
    queued = [0]
    closed: list[bool] = []
    slow = Subscriber("slow", lambda m: queued.__setitem__(0, queued[0] + len(m)), lambda: queued[0],
                      lambda: closed.append(True))
    tp.subscribe(slow, "trade", [])
    for n in range(20):
        upd(tp, columns(["A"] * 10, [1.0] * 10, [n] * 10))
    assert closed == [True] and slow not in tp.subscribers
    assert queued[0] < 2_000  # nothing more was sent once it was over the limit
    assert "disconnected" in caplog.text


def test_nanosecond_timestamps_keep_their_nanoseconds_in_memory_and_flushed(tmp_path):
    conn = indb.connect(tmp_path / "ns")
    conn.sql("CREATE TABLE quote (time TIMESTAMP_NS, sym VARCHAR, bid DOUBLE, SHARD KEY (sym))")
    conn.close()
    tp = Tickerplant(Engine(tmp_path / "ns", cluster="threads"), flush_seconds=None, clock=Clock())
    try:
        moments = np.array([1_796_380_000_123_456_789, 1_796_380_000_123_456_790], "datetime64[ns]")
        upd(tp, kx.toq([kx.toq(moments[0]), kx.SymbolAtom("A"), kx.FloatAtom(1.0)]), table="quote")
        upd(tp, kx.toq([kx.toq(moments[1:]), kx.SymbolVector(["B"]), kx.FloatVector([2.0])]),
            table="quote")
        query = "SELECT CAST(epoch_ns(time) AS BIGINT) FROM quote ORDER BY sym"
        expected = [(int(m),) for m in moments.astype(np.int64)]
        assert tp.engine.execute(query).fetchall() == expected
        assert tp.flush() == 2
        assert tp.engine.execute(query).fetchall() == expected
    finally:
        tp.close()
        tp.engine.close()


def test_updates_read_together_are_checked_together_each_refusal_its_own(plant):
    tp = plant()
    sent = [row("A", 1.0, 1), row("B", 2.0, 2), row("C", 3.0, 3),
            columns(["G"], [7.0], [7]), columns(["H"], [8.0], [8]),
            kx.toq([kx.SymbolAtom("D"), kx.SymbolAtom("x"), kx.LongAtom(4)]),  # a str for price
            row("E", 5.0, 5), row("F", float("nan"), 6), row("I", 9.0, 9)]
    calls = [("trade", decoded(x), kdb.encode(kdb.call(".u.upd", kdb.symbol("trade"), x), kdb.ASYNC))
             for x in sent]
    calls.append(("quote", decoded(row("J", 1.0, 1)), b""))
    updates, errors = tp.prepare_many(calls, tp.clock())
    assert sorted(errors) == [5, 9]
    assert "column price is DOUBLE; the feed sent a str" in str(errors[5])
    assert "there is no table quote" in str(errors[9])
    # a run of updates of one form is checked as one; a run with a refusal, one at a time
    assert [len(u.messages) for u in updates] == [3, 2, 1, 1, 1]
    tp.commit(updates)
    assert tp.journal.count == 8  # .u.i counts messages, not updates
    assert tp.engine.execute("SELECT sym, price FROM trade ORDER BY size").fetchall() == [
        ("A", 1.0), ("B", 2.0), ("C", 3.0), ("E", 5.0), ("F", None), ("G", 7.0), ("H", 8.0),
        ("I", 9.0)]
    tp.journal.close()
    again = plant()  # each message replays alone, to the same rows
    assert again.replayed == 8
    assert again.engine.execute("SELECT count(*), sum(size) FROM trade").fetchall() == [(8, 41)]


def test_an_update_the_kdb_log_cannot_take_journals_nothing(plant, monkeypatch):
    """The kdb+ log's messages are made before anything is journalled: one that fails leaves
    the journal, the table and the next restart as they were."""
    from indb.stream import qlog
    tp = plant(kdb_log=True)
    upd(tp, row("A", 1.0, 1))
    made = qlog.update_chunk

    def failing(message, stamp, fills):
        raise RuntimeError("no log message for this one")
    monkeypatch.setattr(qlog, "update_chunk", failing)
    with pytest.raises(RuntimeError):
        upd(tp, row("B", 2.0, 2))
    monkeypatch.setattr(qlog, "update_chunk", made)
    upd(tp, row("C", 3.0, 3))
    assert tp.journal.count == 2
    tp.journal.close()
    again = plant(kdb_log=True)
    assert again.engine.execute("SELECT sym FROM trade ORDER BY sym").fetchall() == [("A",), ("C",)]
