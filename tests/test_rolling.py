"""The incremental fast path of a subscription's query (``indb.stream.rolling``): which forms
it recognizes, and its rows against DuckDB's (the window's fallback) batch after batch."""

from __future__ import annotations

import logging

import numpy as np
import pyarrow as pa
import pytest
import sqlglot

from indb.planner import subscriptions as plans
from indb.stream import rolling
from indb.stream.window import Mirror, Window

FEATURES = ("SELECT time, sym, px, "
            "coalesce((px - avg(px) OVER w) / nullif(stddev_samp(px) OVER w, 0), 0) AS ret_z, "
            "coalesce((ln(size) - avg(ln(size)) OVER w) / nullif(stddev_samp(ln(size)) OVER w, 0), "
            "0) AS vol_z FROM ticks WINDOW w AS (PARTITION BY sym ORDER BY time "
            "ROWS BETWEEN 19 PRECEDING AND CURRENT ROW)")

# every window function and scalar form recognized, over a named window of ``{n}`` rows
EVERYTHING = (
    "SELECT id, time, sym, px, qty, avg(px) OVER w AS a, sum(px) OVER w AS s, "
    "count(px) OVER w AS c, count(*) OVER w AS cs, min(px) OVER w AS mn, max(px) OVER w AS mx, "
    "min(qty) OVER w AS mnq, max(qty) OVER w AS mxq, avg(qty) OVER w AS aq, "
    "stddev_samp(px) OVER w AS sd, stddev_pop(px) OVER w AS sdp, var_samp(px) OVER w AS v, "
    "var_pop(px) OVER w AS vp, stddev(px) OVER w AS sd2, variance(px) OVER w AS v2, "
    "lag(px, 2) OVER w AS l2, lag(qty) OVER w AS lq, row_number() OVER w AS rn, "
    "avg(ln(abs(px) + 1)) OVER w AS al, px + 1 AS p1, px - qty AS pq, px * 2e0 AS p2, "
    "px / qty AS pdq, qty / 0 AS q0, -px AS neg, abs(px) AS ab, ln(abs(px)) AS lnp, "
    "log(abs(px)) AS lg, log(2, abs(px)) AS lg2, exp(px / 10) AS ex, sqrt(px) AS sq, "
    "coalesce(px, 0) AS cz, coalesce(qty, 1) AS cq, coalesce(px, qty, 2) AS c3, "
    "coalesce(px, qty) AS c2, "
    "nullif(px, 0) AS nz, nullif(qty, 0) AS nq, px > 0 AS gt, px >= qty AS ge, px < 1.5 AS lt, "
    "px <= 0 AS le, px = qty AS eq, px <> qty AS ne, qty >= qty AS qq, px * -1.5 AS nd, "
    "(px - avg(px) OVER w) / nullif(stddev_samp(px) OVER w, 0) AS z, "
    "avg(px) OVER (PARTITION BY sym ORDER BY time ROWS 2 PRECEDING) AS inline "
    "FROM ticks WINDOW w AS (PARTITION BY sym ORDER BY time ROWS BETWEEN {n} PRECEDING AND "
    "CURRENT ROW)")


def planned(sql: str, history: float | None = None) -> dict:
    """A Window's setup for ``sql`` over table ticks, as the planner makes it."""
    query, windowed, keys, kept = plans._query(sqlglot.parse_one(sql, dialect="duckdb"), "ticks",
                                               history)
    return {"name": "s", "table": "ticks", "query": query, "windowed": windowed, "keys": keys,
            "history": kept}


class Feed:
    """Random batches of ticks: several keys, a NULL key, NULL values, ties in time, keys that
    come in some batches only, integer quantities (zeros among them)."""

    def __init__(self, seed: int, nulls: bool = True, ties: bool = True) -> None:
        self.rng, self.nulls, self.id, self.time = np.random.default_rng(seed), nulls, 0, 0
        self.step = 0 if ties else 1

    def batch(self, size: int, nulls: bool | None = None, distinct: bool | None = None
              ) -> pa.Table:
        """``nulls``, ``distinct`` (whether no two rows share a key) asked for this batch:
        true, at least one NULL ``px``, each row a key of its own; false, no NULL, keys
        repeated; None, as the feed goes."""
        rng, asked, nulls = self.rng, nulls, self.nulls if nulls is None else nulls
        # this batch's keys, of 40 (the state grows its matrices past 16 and 32 keys)
        if distinct:
            keys = rng.choice(40, size=size, replace=False)
        else:
            pool = rng.choice(40, size=min(40, max(1, size // 2)) if distinct is False
                              else rng.integers(1, 30), replace=False)
            keys = rng.choice(pool, size)
        syms = [None if k == 0 and nulls else f"s{k}" for k in keys]
        times = self.time + np.cumsum(rng.integers(self.step, 2, size))  # ties: steps of 0
        self.time = int(times[-1]) if size else self.time
        px = rng.normal(0, 2, size)
        qty = rng.integers(0, 5, size)
        missing = rng.random(size) < (0.15 if nulls else 0)
        if asked:
            missing[rng.integers(size)] = True
        table = pa.table({
            "id": np.arange(self.id, self.id + size),
            "time": pa.array(times * 1000 + 7, pa.timestamp("ns")),
            "sym": pa.array(syms, pa.string()),
            "px": pa.array(px, mask=missing),
            "qty": pa.array(qty, mask=rng.random(size) < (0.1 if nulls else 0)),
            "size": rng.integers(1, 1000, size)})
        self.id += size
        return table


def same(fast: pa.Table, slow: pa.Table) -> None:
    """The fast path's rows are DuckDB's: names, types, NULLs, values (floats to rounding)."""
    assert fast.schema == slow.schema
    assert fast.num_rows == slow.num_rows
    key = "id" if "id" in fast.column_names else "time"
    fast, slow = fast.sort_by(key), slow.sort_by(key)
    for name in fast.column_names:
        a, b = fast[name], slow[name]
        assert a.is_null().to_pylist() == b.is_null().to_pylist(), name
        if pa.types.is_floating(a.type):
            x = a.fill_null(0).to_numpy()
            y = b.fill_null(0).to_numpy()
            assert np.allclose(x, y, rtol=1e-9, atol=1e-12, equal_nan=True), \
                (name, np.nanmax(np.abs(x - y)))
        else:
            assert a.to_pylist() == b.to_pylist(), name


def both(setup: dict, tail: pa.Table | None = None) -> tuple[Window, Window]:
    """The window (incremental where it can) and DuckDB's, with ties in time broken by arrival
    (``id``) for DuckDB: it leaves the order of equal times undefined (it put a tail's two rows
    of one time the other way round), the incremental path keeps them as they came."""
    ordered = {**setup, "query": setup["query"].replace("ORDER BY time", "ORDER BY time, id"),
               "incremental": False}
    return Window(setup, tail), Window(ordered, tail)


@pytest.mark.parametrize("n", [0, 2, 19, 600])
def test_every_form_matches_duckdb_batch_after_batch(n):
    fast, slow = both(planned(EVERYTHING.format(n=n)))
    assert fast.path == "incremental" and slow.path == "duckdb"
    feed = Feed(n)
    for size in [1, 3, 500, 1, 1, 2, 40, 7, 1, 120, 1, 13]:
        batch = feed.batch(size)
        same(fast.rows(batch), slow.rows(batch))
        fast.keep()  # (``slow``'s next ``rows`` keeps its batch first: both ways are checked)
    assert fast.path == "incremental" and fast.fallbacks == 0
    for window in (fast, slow):
        window.close()


# batches of each kind the incremental path tells apart: (rows, NULLs, distinct keys)
TURNS = [(1000, False, False),                         # every key's history full, no NULL
         (1, False, True), (7, False, True), (30, False, False), (2, False, False),
         (3, True, True), (1, False, True), (12, False, True),    # NULLs in some histories
         (20, True, False), (4, False, True), (30, False, False), (1, True, True),
         (2, False, True), (9, False, False), (400, True, None), (5, False, True),
         (1, False, True), (25, False, False), (6, False, True)]


@pytest.mark.parametrize("n", [0, 2, 19])
def test_batches_with_and_without_nulls_of_distinct_and_repeated_keys(n):
    # where nothing is NULL and each row's frame is full, validity is not computed at all, and
    # where no two rows share a key the frames are slices: a wrong shortcut shows against DuckDB
    fast, slow = both(planned(EVERYTHING.format(n=n)))
    feed, taken = Feed(30 + n), set()
    for number, (size, nulls, distinct) in enumerate(TURNS):
        batch = feed.batch(size, nulls, distinct)
        if number in (1, 4, 16):  # a new key, its history empty, among full ones
            syms = batch.column("sym").to_pylist()
            batch = batch.set_column(2, "sym", pa.array([f"new{number}"] + syms[1:]))
        if not nulls and number % 3 == 1:  # a NULL qty beside no NULL px
            qty = batch.column("qty").to_numpy()
            batch = batch.set_column(4, "qty", pa.array(qty, mask=np.arange(size) == 0))
        same(fast.rows(batch), slow.rows(batch))
        assert fast.prepared is not None
        prepared = fast.prepared.batch
        assert prepared.layout is not None
        taken.add((prepared.layout.distinct, prepared.arguments["px"].valid is None))
        fast.keep()
    assert taken == {(True, True), (True, False), (False, True), (False, False)}
    assert (fast.path, fast.fallbacks) == ("incremental", 0)


def test_a_history_shorter_than_the_frames():
    # HISTORY 2 under 7-row frames: DuckDB sees 2 rows of a key before the batch, and so do
    # the incremental frames (the frame's places before the key's held ones are not rows)
    sql = ("SELECT id, time, avg(px) OVER w AS a, count(*) OVER w AS c, stddev_pop(px) OVER w "
           "AS s, lag(px, 6) OVER w AS l, row_number() OVER w AS r FROM ticks WINDOW w AS "
           "(PARTITION BY sym ORDER BY time ROWS BETWEEN 6 PRECEDING AND CURRENT ROW)")
    fast, slow = both(planned(sql, history=2))
    feed = Feed(8)
    for size, nulls, distinct in TURNS:
        batch = feed.batch(min(size, 40), nulls, distinct)
        same(fast.rows(batch), slow.rows(batch))
    assert (fast.path, fast.fallbacks) == ("incremental", 0)


def test_nan_without_nulls_as_duckdb_orders_it():
    # NaN is above every number in DuckDB: max is NaN, min the least number, avg NaN; a NaN
    # ORDER BY value sends its batch to DuckDB
    sql = ("SELECT id, time, min(px) OVER w AS mn, max(px) OVER w AS mx, avg(px) OVER w AS a, "
           "lag(px) OVER w AS l, px = px AS e, px > 0 AS up, nullif(px, px) AS n, "
           "avg(px) OVER (PARTITION BY sym "
           "ORDER BY t ROWS 2 PRECEDING) AS bt FROM ticks WINDOW w AS (PARTITION BY sym ORDER BY "
           "time ROWS BETWEEN 3 PRECEDING AND CURRENT ROW)")
    sql = sql.replace("ORDER BY time ROWS", "ORDER BY t ROWS")
    fast, slow = both(planned(sql))
    feed = Feed(9, nulls=False)
    for number, (size, _, distinct) in enumerate(TURNS):
        batch = feed.batch(min(size, 40), False, distinct)
        px = batch.column("px").to_numpy().copy()
        px[::3] = np.nan
        t = batch.column("id").to_numpy().astype(float)
        if number == 6:
            t[-1] = np.nan
        batch = batch.set_column(3, "px", pa.array(px)).append_column("t", pa.array(t))
        same(fast.rows(batch), slow.rows(batch))
    assert (fast.path, fast.fallbacks) == ("incremental", 1)


def test_the_feature_query_matches_duckdb():
    fast, slow = both(planned(FEATURES))
    feed = Feed(5, ties=False)  # (its rows have no id to tell rows of one time apart)
    for size in np.random.default_rng(5).integers(1, 300, 25):
        batch = feed.batch(int(size))
        same(fast.rows(batch), slow.rows(batch))
    assert (fast.path, fast.fallbacks) == ("incremental", 0)


def test_constant_windows_have_no_deviation_as_in_duckdb():
    # sum(x)/n of equal values need not be x: a one-pass mean would give a tiny deviation and a
    # z-score from it; DuckDB's (and the shifted two-pass) variance of equal values is 0
    # (windows filling and full; batches of repeated keys and of distinct ones)
    fast, slow = both(planned(FEATURES))
    start = 0
    for syms in [["a", "b", "a"]] * 10 + [["a"], ["b", "a"], ["a", "a"]] * 10:
        count = len(syms)
        batch = pa.table({"id": range(start, start + count),
                          "time": pa.array(range(start, start + count), pa.timestamp("ns")),
                          "sym": syms, "px": [0.1 if s == "a" else 0.7 for s in syms],
                          "size": [3] * count})
        out = fast.rows(batch)
        same(out, slow.rows(batch))
        assert out.column("ret_z").to_pylist() == [0.0] * count
        start += count


def test_a_window_without_partition_and_a_query_without_windows():
    for sql in ["SELECT time, px, avg(px) OVER (ORDER BY time ROWS 4 PRECEDING) AS m, "
                "count(*) OVER (ORDER BY time ROWS 4 PRECEDING) AS c FROM ticks",
                "SELECT *, px - 3 AS m, px > 0 AS up FROM ticks"]:
        fast, slow = both(planned(sql))
        feed = Feed(7)
        for size in (1, 9, 60, 2):
            batch = feed.batch(size)
            same(fast.rows(batch), slow.rows(batch))
        assert fast.path == "incremental"


def test_rows_out_of_order_run_in_duckdb_for_their_batch():
    fast, slow = both(planned(EVERYTHING.format(n=3)))
    feed = Feed(11)
    for number in range(12):
        batch = feed.batch(20)
        if number in (4, 9):  # a key's time goes back (and a NULL time): DuckDB sorts them
            times = batch.column("time").to_numpy().copy()
            times[5] = times[0] - 5_000
            batch = batch.set_column(1, "time", pa.array(times, pa.timestamp("ns"),
                                                         mask=np.arange(20) == 7))
        same(fast.rows(batch), slow.rows(batch))
        fast.keep()
    assert fast.fallbacks >= 2 and fast.path == "incremental"


def test_a_history_out_of_order_runs_in_duckdb_until_it_is_gone():
    # a one-row batch going back in time runs in DuckDB, and so does its key's next one, in
    # order itself, while the row before it and the one going back are both in the key's
    # history (2 rows): DuckDB sorts them (the last row alone is not what is checked)
    fast, slow = both(planned(EVERYTHING.format(n=2)))
    feed = Feed(13, nulls=False, ties=False)
    batch = feed.batch(200, False, False)
    same(fast.rows(batch), slow.rows(batch))
    key = batch.column("sym")[-1].as_py()
    for number in range(6):
        one = feed.batch(1).set_column(2, "sym", pa.array([key]))
        if number == 1:
            one = one.set_column(1, "time", pa.array([feed.time - 10_000], pa.timestamp("ns")))
        same(fast.rows(one), slow.rows(one))
    assert fast.fallbacks == 2  # the row going back, and the next
    for window in (fast, slow):
        window.close()


def test_non_finite_variances_are_left_to_duckdb():
    fast, slow = both(planned(EVERYTHING.format(n=3)))
    feed = Feed(12)
    for number in range(6):
        batch = feed.batch(10)
        if number == 2:
            px = batch.column("px").to_numpy(zero_copy_only=False).copy()
            px[[1, 4]] = [np.nan, np.inf]
            batch = batch.set_column(3, "px", pa.array(px))
        same(fast.rows(batch), slow.rows(batch))
    assert fast.fallbacks >= 1


def test_a_restarted_process_seeded_from_the_mirror_goes_on_alike():
    setup = planned(FEATURES)
    window, mirror, feed = Window(setup), Mirror(setup["keys"], setup["history"]), Feed(3, ties=False)
    for size in (5, 300, 1, 40, 7):
        batch = feed.batch(size)
        mirror.add(batch)
        window.rows(batch)
    window.keep()
    seed = mirror.fold()
    restarted, duck = both(setup, seed)
    for size in (1, 30, 200):
        batch = feed.batch(size)
        out = restarted.rows(batch)
        assert out.equals(window.rows(batch))
        same(out, duck.rows(batch))
    assert restarted.path == "incremental"


@pytest.mark.parametrize("sql, column_types", [
    ("SELECT time, qty + 1 AS q FROM ticks", {}),                         # INTEGER overflow raises
    ("SELECT time, -qty AS q FROM ticks", {}),
    ("SELECT time, sum(qty) OVER (PARTITION BY sym ORDER BY time ROWS 2 PRECEDING) AS q "
     "FROM ticks", {}),                                                   # HUGEINT
    ("SELECT time, qty * 1.5 AS q FROM ticks", {}),                       # DECIMAL
    ("SELECT time, px * 2 AS y, y + 1 AS z FROM ticks", {}),              # y: an alias
    ("SELECT time, px * 1.5 AS q FROM ticks", {"px": pa.float32()}),      # REAL
    ("SELECT time, min(sym) OVER (PARTITION BY sym ORDER BY time ROWS 2 PRECEDING) AS q "
     "FROM ticks", {}),
])
def test_types_the_fast_path_cannot_match_run_in_duckdb(sql, column_types):
    fast, slow = both(planned(sql))
    assert fast.path == "incremental"  # the form is recognized; its types are not
    feed = Feed(4)
    for size in (3, 8):
        batch = feed.batch(size)
        for name, kind in column_types.items():
            batch = batch.set_column(batch.schema.get_field_index(name), name,
                                     batch.column(name).cast(kind))
        try:
            expected = slow.rows(batch)
        except Exception as error:  # noqa: BLE001 (DuckDB refuses it: so does the window)
            with pytest.raises(type(error)):
                fast.rows(batch)
        else:
            same(fast.rows(batch), expected)
        assert fast.path == "duckdb" and fast.why


@pytest.mark.parametrize("sql", [
    "SELECT px FROM ticks WHERE px > 0",
    "SELECT sym, avg(px) AS m FROM ticks GROUP BY sym",
    "SELECT px FROM ticks ORDER BY time",
    "SELECT px FROM ticks LIMIT 3",
    "SELECT DISTINCT px FROM ticks",
    "SELECT a.px FROM ticks a JOIN ticks b ON a.time = b.time",
    "WITH t AS (SELECT px FROM ticks) SELECT px FROM t",
    "SELECT px FROM (SELECT px FROM ticks)",
    "SELECT CASE WHEN px > 0 THEN 1 ELSE 0 END AS c FROM ticks",
    "SELECT CAST(px AS INTEGER) AS c FROM ticks",
    "SELECT px % 2 AS c FROM ticks",
    "SELECT greatest(px, 0) AS c FROM ticks",
    "SELECT 'a' AS c FROM ticks",
    "SELECT px, y FROM (SELECT px, px AS y FROM ticks)",
    "SELECT avg(DISTINCT px) OVER (PARTITION BY sym ORDER BY time ROWS 2 PRECEDING) FROM ticks",
    "SELECT sum(px) FILTER (WHERE px > 0) OVER (PARTITION BY sym ORDER BY time ROWS 2 PRECEDING) "
    "FROM ticks",
    "SELECT avg(px) OVER (PARTITION BY sym ORDER BY time RANGE BETWEEN 2 PRECEDING AND CURRENT ROW)"
    " FROM ticks",
    "SELECT avg(px) OVER (PARTITION BY sym ORDER BY time ROWS BETWEEN 2 PRECEDING AND 1 FOLLOWING)"
    " FROM ticks",
    "SELECT avg(px) OVER (PARTITION BY sym ORDER BY time DESC ROWS 2 PRECEDING) FROM ticks",
    "SELECT avg(px) OVER (PARTITION BY sym ORDER BY time, px ROWS 2 PRECEDING) FROM ticks",
    "SELECT avg(px) OVER (PARTITION BY sym, qty ORDER BY time ROWS 2 PRECEDING) FROM ticks",
    "SELECT avg(px) OVER (PARTITION BY sym ORDER BY time ROWS 2 PRECEDING) AS a, "
    "avg(px) OVER (PARTITION BY sym ORDER BY id ROWS 2 PRECEDING) AS b FROM ticks",
    "SELECT avg(px) OVER (PARTITION BY sym ORDER BY time NULLS FIRST ROWS 2 PRECEDING) FROM ticks",
    "SELECT lag(px, 1, 0) OVER (PARTITION BY sym ORDER BY time) FROM ticks",
    "SELECT rank() OVER (PARTITION BY sym ORDER BY time) FROM ticks",
    "SELECT first_value(px) OVER (PARTITION BY sym ORDER BY time ROWS 2 PRECEDING) FROM ticks",
    "SELECT avg(px) OVER (PARTITION BY sym ORDER BY time ROWS 2 PRECEDING) AS a FROM ticks "
    "QUALIFY a > 0",
])
def test_other_forms_are_not_recognized(sql):
    setup = planned(sql, history=5)
    with pytest.raises(rolling.Unsupported):
        rolling.recognize(setup["query"], setup["keys"])
    window = Window(setup)
    assert (window.path, bool(window.why)) == ("duckdb", True)


def test_the_recognized_form_of_the_feature_query():
    setup = planned(FEATURES)
    query = rolling.recognize(setup["query"], setup["keys"])
    assert (query.key, query.order) == ("sym", "time")
    assert sorted(query.arguments) == ["LN(size)", "px"]  # each kept once per key
    assert query.items[:3] == ("time", "sym", "px")  # columns as they are


def test_a_windowed_query_left_to_duckdb_says_so(caplog):
    caplog.set_level(logging.INFO, logger="indb.stream")
    Window(planned(FEATURES)).close()
    assert not caplog.records  # incremental: nothing to say
    Window(planned(FEATURES.replace("ROWS BETWEEN 19", "RANGE BETWEEN 19"), history=20)).close()
    (record,) = caplog.records
    assert record.levelno == logging.WARNING
    assert record.getMessage() == ("subscription s: its query runs in DuckDB, not incrementally: "
                                   "a frame other than ROWS BETWEEN n PRECEDING AND CURRENT ROW")


def test_integers_are_compared_as_integers():
    # 2^53 and 2^53 + 1 are one DOUBLE: DuckDB tells them apart, and so must the fast path
    fast, slow = both(planned("SELECT id, a = b AS e, a < b AS lt, nullif(a, b) AS n FROM ticks"))
    big = 2 ** 53
    batch = pa.table({"id": [0, 1], "a": [big, big], "b": [big + 1, big]})
    out = fast.rows(batch)
    same(out, slow.rows(batch))
    assert out.to_pydict() == {"id": [0, 1], "e": [False, True], "lt": [True, False],
                               "n": [big, None]}
    assert fast.path == "incremental"
