"""Subscriptions (``CREATE SUBSCRIPTION``): the grammar, the plan's window state, privileges, and
the tickerplant (``indb tick``, its own process) running them for real PyKX feeds and
subscribers: ticks scored by a small model, the output table's subscribers and SQL seeing the
anomalies, adaptive micro-batches, a failing function that harms nothing, a subscription created
and dropped while the tickerplant runs."""

from __future__ import annotations

import asyncio
import dataclasses
import os
import socket
import threading
import time
import types
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest

pytest.importorskip("indb.stream.kdb")  # sets PyKX's unlicensed mode before it loads
torch = pytest.importorskip("torch")

import indb  # noqa: E402
from indb.errors import CatalogError, OptionError, PrivilegeError, SqlError  # noqa: E402
from indb.parser import parse, render_indb  # noqa: E402
from indb.planner import subscriptions as plans  # noqa: E402
from indb.runtime.predictors import save_model  # noqa: E402
from indb.sharding import sandbox  # noqa: E402
from indb.stream import kdb  # noqa: E402
from indb.stream.kdb import kx  # noqa: E402
from indb.stream.subscriptions import Subscriptions  # noqa: E402
from indb.stream.tickerplant import Tickerplant  # noqa: E402
from indb.engine import subscriptions as statements  # noqa: E402
from indb.stream import window as windows  # noqa: E402
from indb.stream.window import Mirror, Window, kept_tail  # noqa: E402
from test_stream_server import Server, read_message  # noqa: E402

WAIT = 60  # seconds a test waits for the tickerplant's subscription to catch up, at most

SCORE = '''
import os
import time
import numpy as np
from indb import udf

@udf.function(frame="numpy",
              params=["model", "threshold", "delay_ms", "fail_below", "crash_below", "read",
                      "half_below"])
def score(ctx, rows):
    if "read" in ctx.params:  # what a sandboxed function may not do
        open(ctx.params["read"], "rb").read()
    if float(ctx.params.get("half_below", "-1e300")) > rows["px"].min():
        import sys  # half a message to the tickerplant (4,096 bytes said, 1 sent), then silence
        os.write(int(sys.argv[1]), b"\\x00\\x00\\x10\\x00R")
        time.sleep(600)
    if float(ctx.params.get("crash_below", "-1e300")) > rows["px"].min():
        os._exit(3)
    if float(ctx.params.get("fail_below", "-1e300")) > rows["px"].min():
        raise ValueError("a price below the floor")
    time.sleep(float(ctx.params.get("delay_ms", "0")) / 1000)  # stands in for a slower model
    x = np.column_stack([rows["px"] - rows["m"], np.zeros(len(rows["px"]))])
    name = ctx.params.get("model", "recon")
    # model = 'none': recon's error computed here, for the tests of batches, query paths,
    # failures and publishing, where each new process importing torch took seconds
    error = (x ** 2).sum(axis=1) if name == "none" else ctx.models.load(name).predict(x)
    return {"time": rows["time"], "sym": rows["sym"], "px": rows["px"], "error": error,
            "anomaly": error > float(ctx.params.get("threshold", "1")),
            "loads": np.full(len(error), ctx.models.misses)}
'''
QUERY = ("INPUT_TABLE(SELECT time, sym, px, avg(px) OVER (PARTITION BY sym ORDER BY time "
         "ROWS BETWEEN 3 PRECEDING AND CURRENT ROW) AS m FROM ticks)")


class Reconstruction(torch.nn.Module):
    """A fixed 'autoencoder' that reconstructs every row as zeros: its error is x0^2 + x1^2."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (x ** 2).sum(dim=1)


def make_db(root: Path) -> Path:
    """ticks, ticks_anomaly, the score function and the recon model."""
    code = root / "score.py"
    code.write_text(SCORE)
    model_dir = root / "model"
    model_dir.mkdir()
    save_model(Reconstruction(), np.zeros((4, 2), np.float32), "torch", model_dir)
    conn = indb.connect(root / "db")
    conn.sql("CREATE TABLE ticks (time TIMESTAMP, sym VARCHAR, px DOUBLE, size BIGINT)")
    conn.sql("CREATE TABLE ticks_anomaly (time TIMESTAMP, sym VARCHAR, px DOUBLE, error DOUBLE, "
             "anomaly BOOLEAN, loads BIGINT)")
    conn.sql(f"CREATE FUNCTION score FILE PATHS '{code}'")
    conn.sql(f"CREATE MODEL recon FROM FILE '{next(model_dir.glob('*.pt2'))}'")
    conn.sql(f"CREATE SUBSCRIPTION scored ON ticks WHERE sym IN ('AAPL', 'MSFT') "
             f"EXECUTE FUNCTION score(INPUT_TABLE_NAMES => {QUERY}, "
             "PARAMS => KV_PAIRS(threshold = '4')) OUTPUT_TABLES('ticks_anomaly')")
    conn.close()
    return root / "db"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    root = tmp_path_factory.mktemp("subscriptions")
    running = Server(make_db(root), root / "server.log", "--fsync", "5").start()
    yield running
    running.kill()


def figures(q: kx.SyncQConnection, name: str, until, what: str) -> dict:
    """The subscription's SHOW SUBSCRIPTION row, once ``until(row)`` holds (figures are
    reported every second)."""
    deadline = time.monotonic() + WAIT
    while True:
        row = {k: v[0] for k, v in q(f"SHOW SUBSCRIPTION {name}").pa().to_pydict().items()}
        if until(row):
            return row
        assert time.monotonic() < deadline, f"{what}: {row}"
        time.sleep(0.1)


def tick(sym: str, px: float):
    return kx.toq([kx.SymbolAtom(sym), kx.FloatAtom(px), kx.LongAtom(1)])


def upd(q: kx.SyncQConnection, table: str, x, wait: bool = True):
    return q(".u.upd", kx.SymbolAtom(table), x, wait=wait)


def subscribed(q: kx.SyncQConnection, name: str, table: str, params: str, tail: str = "",
               query: str = "") -> None:
    """A new ticks table and a running subscription scoring its rows against ``m = px - 3``
    (or ``query``'s ``m``)."""
    q(f"CREATE TABLE {table} (time TIMESTAMP, sym VARCHAR, px DOUBLE, size BIGINT)")
    query = query.replace("FROM ticks", f"FROM {table}") or \
        f"INPUT_TABLE(SELECT time, sym, px, px - 3 AS m FROM {table})"
    q(f"CREATE SUBSCRIPTION {name} ON {table} EXECUTE FUNCTION score(INPUT_TABLE_NAMES => "
      f"{query}, PARAMS => KV_PAIRS({params})) OUTPUT_TABLES('{table}_out') {tail}")
    figures(q, name, lambda r: r["state"] == "running", "started")


# -- the grammar and the plan -----------------------------------------------------------------

def test_create_subscription_renders_back_as_written():
    text = ("CREATE OR REPLACE SUBSCRIPTION s ON ticks WHERE sym IN ('A', 'B') EXECUTE FUNCTION "
            "f(PARAMS => KV_PAIRS(k = 'v')) OUTPUT_TABLES('o') PUBLISH TO 'kdb://h:5010' "
            "WITH (MAX_BATCH = 100, MAX_WAIT = 2.5)")
    (tree,) = parse(text)
    assert render_indb(tree) == text
    assert [render_indb(t) for t in parse("SHOW SUBSCRIPTIONS; SHOW SUBSCRIPTION s; "
                                          "DROP SUBSCRIPTION IF EXISTS s")] == \
        ["SHOW SUBSCRIPTIONS", "SHOW SUBSCRIPTION s", "DROP SUBSCRIPTION IF EXISTS s"]


@pytest.mark.parametrize(("text", "message", "at"), [
    ("CREATE SUBSCRIPTION s ticks", "expected ON table", "ticks"),
    ("CREATE SUBSCRIPTION s ON ticks\n  SELECT", "expected EXECUTE FUNCTION", "SELECT"),
    ("CREATE SUBSCRIPTION s ON ticks EXECUTE FUNCTION f() BATCH 3", "unexpected BATCH", "BATCH"),
    ("CREATE SUBSCRIPTION s ON ticks EXECUTE FUNCTION f()\nPUBLISH TO 7", "PUBLISH TO takes", "7"),
])
def test_grammar_errors_point_at_the_mistake(text, message, at):
    with pytest.raises(SqlError, match=message) as caught:
        parse(text)
    line = next(i for i, s in enumerate(text.splitlines(), 1) if at in s)
    word = text.splitlines()[line - 1]
    assert (caught.value.line, caught.value.col) == (line, word.index(at) + 1)  # 1-based


@pytest.fixture
def db(tmp_path: Path) -> Iterator[indb.Connection]:
    code = tmp_path / "score.py"
    code.write_text(SCORE)
    conn = indb.connect(tmp_path / "db")
    conn.sql("CREATE TABLE ticks (time TIMESTAMP, sym VARCHAR, px DOUBLE, size BIGINT)")
    conn.sql("CREATE TABLE other (x DOUBLE)")
    conn.sql(f"CREATE FUNCTION score FILE PATHS '{code}'")
    yield conn
    conn.close()


@pytest.mark.parametrize(("tail", "message"), [
    ("WHERE px > 1 EXECUTE FUNCTION score() OUTPUT_TABLES('o')", "WHERE picks symbols"),
    ("EXECUTE FUNCTION score()", "needs an output table"),
    ("EXECUTE FUNCTION score() OUTPUT_TABLES('ticks')", "its own table"),
    ("EXECUTE FUNCTION score(OPTIONS => KV_PAIRS(timeout = '1')) OUTPUT_TABLES('o')", "no OPTIONS"),
    ("EXECUTE FUNCTION score(PARAMS => KV_PAIRS(nope = '1')) OUTPUT_TABLES('o')", "no parameter nope"),
    ("EXECUTE FUNCTION score() OUTPUT_TABLES('o') WITH (MAX_BATCH = 0)", "MAX_BATCH is a whole"),
    ("EXECUTE FUNCTION score() OUTPUT_TABLES('o') WITH (SPEED = 1)", "unknown option SPEED"),
    ("EXECUTE FUNCTION score() OUTPUT_TABLES('o') WITH (TIMEOUT = 0)", "TIMEOUT is a number"),
    ("EXECUTE FUNCTION score() OUTPUT_TABLES('o') WITH (ISOLATION = 'thread')",
     "ISOLATION is 'process' or 'none', not 'thread'"),
    ("EXECUTE FUNCTION score() OUTPUT_TABLES('o') WITH (ISOLATION = 1)", "ISOLATION is 'process'"),
    ("EXECUTE FUNCTION score() OUTPUT_TABLES('o') WITH (ISOLATION = 'none', TIMEOUT = 5)",
     "cannot be stopped"),
    ("EXECUTE FUNCTION score() OUTPUT_TABLES('o') PUBLISH TO 'tcp://h:1'", "kdb://host:port"),
    ("EXECUTE FUNCTION score() OUTPUT_TABLES('o') PUBLISH TO 'kdb://u:secret@h:1'", "INDB_KDB_USER"),
    ("EXECUTE FUNCTION score(INPUT_TABLE_NAMES => INPUT_TABLE(SELECT x FROM other)) "
     "OUTPUT_TABLES('o')", "not other"),
    ("EXECUTE FUNCTION score(INPUT_TABLE_NAMES => INPUT_TABLE(SELECT avg(px) OVER "
     "(PARTITION BY sym) FROM ticks)) OUTPUT_TABLES('o')", "HISTORY = n"),
    ("EXECUTE FUNCTION score(INPUT_TABLE_NAMES => INPUT_TABLE(SELECT lead(px) OVER "
     "(PARTITION BY sym ORDER BY time) FROM ticks)) OUTPUT_TABLES('o')", "have not arrived"),
    ("EXECUTE FUNCTION score(INPUT_TABLE_NAMES => INPUT_TABLE(SELECT sym, lag(px) OVER "
     "(PARTITION BY sym ORDER BY time) FROM ticks GROUP BY sym, px, time)) OUTPUT_TABLES('o')",
     "without GROUP BY"),
    ("EXECUTE FUNCTION score(INPUT_TABLE_NAMES => INPUT_TABLE(SELECT nope FROM ticks)) "
     "OUTPUT_TABLES('o')", "nope"),
    ("EXECUTE FUNCTION missing() OUTPUT_TABLES('o')", "does not exist"),
])
def test_bad_subscriptions_are_refused_and_nothing_is_recorded(db, tail, message):
    with pytest.raises((SqlError, CatalogError), match=message):
        db.sql(f"CREATE SUBSCRIPTION s ON ticks {tail}")
    assert db.sql("SHOW SUBSCRIPTIONS").arrow().num_rows == 0


def test_isolation_is_planned_and_defaults_to_a_process_of_its_own(db):
    db.sql("CREATE SUBSCRIPTION apart ON ticks EXECUTE FUNCTION score() OUTPUT_TABLES('o')")
    db.sql("CREATE SUBSCRIPTION inside ON ticks EXECUTE FUNCTION score() OUTPUT_TABLES('o') "
           "WITH (ISOLATION = 'none', MAX_BATCH = 10)")
    store = {r["name"]: r for r in db.sql("SHOW SUBSCRIPTIONS").arrow().to_pylist()}
    assert store["inside"]["ddl"].endswith("WITH (ISOLATION = 'none', MAX_BATCH = 10)")
    records = {i.name: plans.restored(i.definition)
               for i in statements.SubscriptionStore(db._engine.db).all()}
    assert (records["apart"].isolation, records["inside"].isolation) == ("process", "none")
    assert records["inside"].max_batch == 10
    older = {k: v for k, v in dataclasses.asdict(records["apart"]).items() if k != "isolation"}
    assert plans.restored(older).isolation == "process"  # a record made before the option


def test_a_windowed_query_marks_and_keeps_the_batchs_rows():
    (tree,) = parse("CREATE SUBSCRIPTION s ON ticks EXECUTE FUNCTION f(INPUT_TABLE_NAMES => "
                    "INPUT_TABLE(SELECT sym, avg(px) OVER (PARTITION BY sym ORDER BY time ROWS "
                    "BETWEEN 3 PRECEDING AND CURRENT ROW) AS m FROM ticks t WHERE px > 0)) "
                    "OUTPUT_TABLES('o')")
    query, windowed, keys, history = plans._query(tree.expressions[0].expression, "ticks", None)
    assert query == ('SELECT * EXCLUDE ("__indb_new") FROM (SELECT sym, AVG(px) OVER (PARTITION '
                     'BY sym ORDER BY time ROWS BETWEEN 3 PRECEDING AND CURRENT ROW) AS m, '
                     '"__indb_new" FROM indb_batch AS t WHERE px > 0) AS batch_rows WHERE '
                     '"__indb_new"')
    assert (windowed, keys, history) == (True, ("sym",), 3)


def test_window_state_is_planned_from_the_frames(db):
    db.sql("CREATE SUBSCRIPTION s ON ticks EXECUTE FUNCTION score(INPUT_TABLE_NAMES => "
           "INPUT_TABLE(SELECT sym, lag(px, 7) OVER w AS a, avg(px) OVER (PARTITION BY sym ORDER "
           "BY time ROWS BETWEEN 3 PRECEDING AND CURRENT ROW) AS m FROM ticks WINDOW w AS "
           "(PARTITION BY sym ORDER BY time))) OUTPUT_TABLES('o')")
    db.sql("CREATE SUBSCRIPTION plain ON ticks EXECUTE FUNCTION score(INPUT_TABLE_NAMES => "
           "INPUT_TABLE(SELECT sym, px * 2 AS p FROM ticks)) OUTPUT_TABLES('o') "
           "WITH (HISTORY = 5)")
    from indb.registry.subscriptions import SubscriptionStore
    store = SubscriptionStore(db._engine.db)
    windowed, plain = (plans.restored(store.get(n).definition) for n in ("s", "plain"))
    assert (windowed.windowed, windowed.keys, windowed.history) == (True, ("sym",), 7)
    assert plans.BATCH in windowed.query and plans.NEW in windowed.query
    assert (plain.windowed, plain.keys) == (False, ())
    assert (plain.max_batch, plain.max_wait) == (plans.DEFAULT_MAX_BATCH, plans.DEFAULT_MAX_WAIT)


def test_figures_of_a_tickerplant_gone_silent_say_not_running(db):
    from indb.registry.subscriptions import SubscriptionStore
    db.sql("CREATE SUBSCRIPTION s ON ticks EXECUTE FUNCTION score() OUTPUT_TABLES('o')")
    store = SubscriptionStore(db._engine.db)
    created = store.get("s").created
    for age, state in ((0, "running"), (60, "not running")):
        store.report("s", created, {"state": "running", "rows_in": 7, "reported": time.time() - age})
        (row,) = db.sql("SHOW SUBSCRIPTION s").arrow().to_pylist()
        assert (row["state"], row["rows_in"]) == (state, 7)  # what it last said stays shown
    store.report("s", created - 1, {"state": "running"})  # a replaced one's: not recorded
    assert store.figures("s")["rows_in"] == 7


def test_the_tail_keeps_the_last_rows_of_each_key_in_order():
    rows = pa.table({"sym": ["a", "b", "a", "a", "b", "c", "a"], "x": [1, 2, 3, 4, 5, 6, 7],
                     plans.NEW: [True] * 7})
    kept = kept_tail(rows, ("sym",), 2)
    assert kept.to_pydict() == {"sym": ["b", "a", "b", "c", "a"], "x": [2, 4, 5, 6, 7],
                                plans.NEW: [False] * 5}
    assert kept_tail(rows, (), 3).column("x").to_pylist() == [5, 6, 7]
    assert kept_tail(rows, ("sym",), 0) is None


def test_the_tail_does_not_pile_up_chunks_batch_after_batch():
    # each update reaches a subscription as a chunk of its own; a tail keeping them grew to a
    # chunk a row and made every later batch pay for it (100 ms a batch at 1,000 ticks/s)
    tail = None
    for batch in range(5):
        updates = [pa.table({"sym": [f"s{(batch * 50 + i) % 10}"], "x": [batch * 50 + i],
                             plans.NEW: [True]}) for i in range(50)]
        rows = pa.concat_tables(([tail] if tail is not None else []) + updates)
        tail = kept_tail(rows, ("sym",), 3)
        assert tail is not None and tail.column("x").num_chunks == 1
    assert tail.num_rows == 30 and sorted(tail.column("x").to_pylist())[0] == 220


def windowed_plan(db: indb.Connection) -> plans.CreateSubscription:
    db.sql(f"CREATE SUBSCRIPTION w ON ticks EXECUTE FUNCTION score(INPUT_TABLE_NAMES => {QUERY}) "
           "OUTPUT_TABLES('o')")
    from indb.registry.subscriptions import SubscriptionStore
    return plans.restored(SubscriptionStore(db._engine.db).get("w").definition)


def window_of(plan: plans.CreateSubscription, tail: pa.Table | None = None,
              incremental: bool = True) -> Window:
    return Window({"name": plan.name, "table": plan.table, "query": plan.query,
                   "windowed": plan.windowed, "keys": plan.keys, "history": plan.history,
                   "incremental": incremental}, tail)


def ticks_of(count: int, seed: int) -> pa.Table:
    rng = np.random.default_rng(seed)
    return pa.table({"time": pa.array(np.arange(count) * 1000, pa.timestamp("us")),
                     "sym": [f"s{i}" for i in rng.integers(0, 7, count)],
                     "px": rng.standard_normal(count).round(3), "size": np.ones(count, np.int64)})


def by_time(rows: pa.Table) -> dict:
    return rows.sort_by("time").to_pydict()


def test_window_state_crosses_batches_in_the_functions_process(db):
    """The query over batch after batch in the process's ``Window`` gives each row what the
    query over all the rows at once gives it; only the batch's keys' history enters DuckDB."""
    plan = windowed_plan(db)
    ticks = ticks_of(60, 1)
    whole = by_time(statements.prepare(plan, ticks))
    window, start = window_of(plan, incremental=False), 0  # DuckDB's way (indb.stream.rolling's
    for number, size in enumerate([1, 5, 2, 13, 1, 8, 30]):  # is tests/test_rolling.py's)
        batch = ticks.slice(start, size)
        out = window.rows(batch)
        assert by_time(out) == {k: v[start:start + size] for k, v in whole.items()}
        entered = set(window.batch.rows.column("sym").to_pylist())  # what DuckDB read
        assert entered == set(batch.column("sym").to_pylist())
        if number % 2:  # else the next batch's ``rows`` brings the state up to date first
            window.keep()
        start += size
    window.close()


def test_a_new_process_is_seeded_with_the_window_state_the_old_one_had(db):
    plan = windowed_plan(db)
    ticks = ticks_of(200, 2)
    window, mirror = window_of(plan), Mirror(plan.keys, plan.history)
    for start in range(0, 180, 9):
        batch = ticks.slice(start, 9)
        mirror.add(batch)
        window.rows(batch)
    window.keep()
    seed = mirror.fold()
    assert seed is not None and by_time(seed) == by_time(window.tail)
    assert seed.num_rows == 7 * plan.history  # the last rows of each of the 7 symbols
    restarted, rest = window_of(plan, seed), ticks.slice(180)
    assert by_time(restarted.rows(rest)) == by_time(window.rows(rest))
    for part in (window, restarted):
        part.close()


def test_a_mirror_folds_its_batches_off_the_thread_that_adds_them(monkeypatch):
    monkeypatch.setattr(windows, "FOLD_ROWS", 10)
    started, release, threads = threading.Event(), threading.Event(), []

    def held_fold(rows, keys, history):  # a fold on another thread is held until let go
        threads.append(threading.current_thread().name)
        started.set()
        if threading.current_thread() is not threading.main_thread():
            assert release.wait(30)
        return kept_tail(rows, keys, history)
    monkeypatch.setattr(windows, "kept_tail", held_fold)
    batches = [pa.table({"sym": [f"s{(n + i) % 3}" for i in range(4)],
                         "px": np.arange(n, n + 4, dtype=np.float64)}) for n in range(0, 40, 4)]
    mirror = Mirror(("sym",), 2)
    for batch in batches[:3]:  # 12 rows: past FOLD_ROWS, a fold starts on its thread
        mirror.add(batch)
    assert started.wait(30) and threads == ["indb-window-fold_0"]
    for batch in batches[3:]:  # while it runs, batches are only kept (no second fold)
        mirror.add(batch)
    assert threads == ["indb-window-fold_0"] and not release.is_set()
    release.set()
    folded = mirror.fold()  # the fold's result, then the batches added since
    assert folded is not None
    expected = kept_tail(windows.marked(pa.concat_tables(batches), False), ("sym",), 2)
    assert folded.to_pylist() == expected.to_pylist()
    # each symbol's last 2 rows (a row's symbol is s{px % 3}), in their order
    assert folded.column("px").to_pylist() == [34.0, 35.0, 36.0, 37.0, 38.0, 39.0]


class Taking:
    """A stand-in for a running subscription: what ``Subscriptions`` asks of one."""

    def __init__(self, alive: bool) -> None:
        self.plan, self.alive, self.untaken = types.SimpleNamespace(table="ticks"), alive, 0

    def arrived(self, arrived: int, count: int) -> None:
        self.untaken += self.alive

    def given(self, rows: pa.Table) -> None:
        self.untaken = 0

    def send_next(self) -> None:
        pass


@pytest.mark.parametrize("alive", [True, False])
def test_rows_wait_in_the_table_for_subscriptions_that_take_them_only(db, alive):
    """A table only subscriptions read keeps its new rows for them to take once a batch; not
    where none of them will (failed to start, stopped): those would pile up."""
    engine = db._engine
    plant = Tickerplant(engine, journal=engine.db.path / "tick", flush_seconds=None)
    try:
        subscriptions = Subscriptions(plant, asyncio.new_event_loop(), None)
        subscriptions.running["s"] = Taking(alive)
        plant.on_rows = subscriptions.offer
        plant.listened.add("ticks")
        plant.table("ticks").watched = True
        x = kx.toq([kx.SymbolAtom("AAPL"), kx.FloatAtom(1.0), kx.LongAtom(1)])
        message = kdb.encode(kdb.call(".u.upd", kdb.symbol("ticks"), x), kdb.ASYNC)
        plant.commit([plant.prepare("ticks", kdb.decode(message)[2], message, plant.clock())])
        assert plant.taken("ticks").num_rows == (1 if alive else 0)
    finally:
        plant.close()


def as_user(conn: indb.Connection, user: str, sql: str):
    with conn._engine.as_user(user):
        return conn.sql(sql)


def test_privileges_are_those_of_executing_the_function(db):
    db.sql("CREATE USER sam")
    db.sql("CREATE USER other")
    db.sql("CREATE TABLE taken (x DOUBLE)")
    create = "CREATE SUBSCRIPTION mine ON ticks EXECUTE FUNCTION score() OUTPUT_TABLES('{}')"
    with pytest.raises(PrivilegeError, match="EXECUTE"):
        as_user(db, "sam", create.format("out"))
    db.sql("GRANT EXECUTE ON FUNCTION score TO sam")
    with pytest.raises(PrivilegeError, match="SELECT"):
        as_user(db, "sam", create.format("out"))
    db.sql("GRANT SELECT ON TABLE ticks TO sam")
    with pytest.raises(PrivilegeError, match="INSERT"):  # an existing output needs INSERT
        as_user(db, "sam", create.format("taken"))
    as_user(db, "sam", create.format("out"))  # a new one will be sam's
    with pytest.raises(PrivilegeError, match="creator"):
        as_user(db, "other", "DROP SUBSCRIPTION mine")
    assert as_user(db, "other", "SHOW SUBSCRIPTIONS").arrow().num_rows == 0  # ticks unreadable
    (row,) = as_user(db, "sam", "SHOW SUBSCRIPTIONS").arrow().to_pylist()
    assert (row["name"], row["definer"], row["state"]) == ("mine", "sam", "not running")
    as_user(db, "sam", "DROP SUBSCRIPTION mine")
    assert db.sql("SHOW SUBSCRIPTIONS").arrow().num_rows == 0


def test_only_an_admin_runs_an_admins_function_in_the_tickerplants_process(db, monkeypatch):
    """ISOLATION = 'none' puts the function's code in the tickerplant's process, with its
    rights: the definer must be an admin, and so must the function's owner (who may replace
    its code at any time); the sandbox, where it is required, refuses it."""
    inside = ("CREATE OR REPLACE SUBSCRIPTION inside ON ticks EXECUTE FUNCTION {}() "
              "OUTPUT_TABLES('o') WITH (ISOLATION = 'none')")
    db.sql("CREATE USER sam")
    db.sql("CREATE USER ada")
    db.sql("GRANT developer TO sam")
    db.sql("GRANT admin TO ada")
    db.sql("GRANT EXECUTE ON FUNCTION score TO sam")
    db.sql("GRANT SELECT ON TABLE ticks TO sam")
    with pytest.raises(PrivilegeError, match="only an admin may run"):
        as_user(db, "sam", inside.format("score"))
    as_user(db, "sam", inside.format("score").replace(" WITH (ISOLATION = 'none')", ""))
    as_user(db, "ada", inside.format("score"))  # the database's owner's function: an admin's
    code = Path(db._engine.db.path).parent / "theirs.py"
    code.write_text(SCORE)
    db.sql(f"CREATE FUNCTION theirs FILE PATHS '{code}'")
    db.sql("ALTER FUNCTION theirs OWNER TO sam")  # sam may now replace its code
    with pytest.raises(PrivilegeError, match="function theirs is sam's, who is not an admin"):
        as_user(db, "ada", inside.format("theirs"))
    db.sql("ALTER FUNCTION theirs OWNER TO ada")
    as_user(db, "ada", inside.format("theirs"))
    engine = db._engine
    (info,) = [i for i in statements.SubscriptionStore(engine.db).all() if i.name == "inside"]
    statements.check_definer(engine, plans.restored(info.definition), "ada")  # as a start does
    db.sql("GRANT EXECUTE ON FUNCTION theirs TO ada")
    db.sql("GRANT SELECT ON TABLE ticks TO ada")
    db.sql("REVOKE admin FROM ada")  # an admin no more, though granted what the rest needs
    with pytest.raises(PrivilegeError, match="only an admin"):  # checked again at each start
        statements.check_definer(engine, plans.restored(info.definition), "ada")
    monkeypatch.setenv("INDB_SANDBOX", "on")
    with pytest.raises(OptionError, match="INDB_SANDBOX=on"):
        db.sql(inside.format("score"))


# -- in the tickerplant -----------------------------------------------------------------------

def test_ticks_are_scored_and_reach_the_output_tables_subscribers_and_sql(server):
    feed, subscriber, querier = server.connect(), server.connect(), server.connect()
    try:
        schema = subscriber(".u.sub", kx.SymbolAtom("ticks_anomaly"), kx.SymbolVector([])).py()
        assert schema[0] == "ticks_anomaly"
        sock = socket.socket(fileno=os.dup(subscriber.fileno()))
        sock.settimeout(WAIT)
        prices = [100.0, 100.0, 100.0, 100.0, 108.0, 100.0]  # 108 against a mean of 102
        for px in prices:
            upd(feed, "ticks", tick("AAPL", px))
            upd(feed, "ticks", tick("IBM", px * 10))  # not one of the subscription's symbols
        received: dict[str, list] = {"sym": [], "px": [], "anomaly": [], "loads": []}
        while len(received["px"]) < len(prices):
            name, table, rows = read_message(sock).py()
            assert (name, table) == ("upd", "ticks_anomaly")
            for column in received:
                received[column] += rows[column]
        assert received["sym"] == ["AAPL"] * len(prices) and received["px"] == prices
        # the rolling mean of 4 rows across batches: (108 - 102)^2 = 36 > 4 at the spike, and
        # (100 - 102)^2 = 4, not above, after it
        assert received["anomaly"] == [False, False, False, False, True, False]
        assert set(received["loads"]) == {1}  # the model was loaded once and stayed
        seen = querier("SELECT px, anomaly FROM ticks_anomaly WHERE anomaly").py()
        assert seen == {"px": [108.0], "anomaly": [True]}
        row = figures(querier, "scored", lambda r: r["rows_out"] == len(prices), "rows out")
        assert row["state"] == "running" and row["rows_in"] == len(prices)
        assert row["errors"] == 0 and row["latency_p99_ms"] >= row["latency_p50_ms"] > 0
        assert (row["query_path"], row["query_fallbacks"]) == ("incremental", 0)
    finally:
        for q in (feed, subscriber, querier):
            q.close()


def test_show_subscriptions_says_how_the_query_runs(server):
    q = server.connect()
    try:
        subscribed(q, "sorted", "sorting", "threshold = '1', model = 'none'", query=(
            "INPUT_TABLE(SELECT time, sym, px, px - 3 AS m FROM ticks ORDER BY px)"))
        upd(q, "sorting", tick("AAPL", 1.0))
        row = figures(q, "sorted", lambda r: r["rows_out"] == 1, "a row")
        assert row["query_path"] == "duckdb: a SELECT with order"
        # ticks out of time order within a symbol: the incremental path leaves that batch to
        # DuckDB, and the windowed query's rows are still right
        subscribed(q, "rolling", "unordered", "threshold = '1', model = 'none'", query=QUERY)
        stamp = np.datetime64("2026-01-02T10:00:00", "ns")
        for at, px in ((stamp, 10.0), (stamp - np.timedelta64(1, "s"), 20.0)):
            upd(q, "unordered", kx.toq([kx.TimestampAtom(at), kx.SymbolAtom("AAPL"),
                                        kx.FloatAtom(px), kx.LongAtom(1)]))
            figures(q, "rolling", lambda r, px=px: r["rows_out"] == (1 if px == 10.0 else 2),
                    "the rows")
        row = figures(q, "rolling", lambda r: r["query_fallbacks"] == 1, "the fallback")
        assert row["query_path"] == "incremental" and row["errors"] == 0
        # the earlier tick ends its own frame (ordered by time): the mean of 20 alone
        assert q("SELECT px, error FROM unordered_out ORDER BY px").py() == \
            {"px": [10.0, 20.0], "error": [pytest.approx(0.0), pytest.approx(0.0)]}
    finally:
        q.close()


def test_batches_grow_under_load_and_stay_bounded(server):
    q = server.connect()
    try:
        subscribed(q, "loaded", "burst", "delay_ms = '20', model = 'none'", "WITH (MAX_BATCH = 40)")
        upd(q, "burst", tick("AAPL", 1.0))  # alone: a batch of one
        figures(q, "loaded", lambda r: r["rows_out"] == 1, "the first row")
        for i in range(400):  # a burst, much faster than 20 ms a batch
            upd(q, "burst", tick("AAPL", float(i)), wait=False)
        row = figures(q, "loaded", lambda r: r["rows_out"] == 401, "the burst")
        assert row["batch_rows_max"] == 40  # grew to the bound, never past it
        assert row["batches"] < 401 / 4  # most rows came in large batches
        assert q("SELECT count(*) AS n FROM burst_out").py() == {"n": [401]}
    finally:
        q.close()


def test_a_batch_waits_up_to_max_wait_for_more_rows_or_until_max_batch(server):
    q = server.connect()
    try:
        subscribed(q, "patient", "sparse", "model = 'none'", "WITH (MAX_WAIT = 60000, MAX_BATCH = 3)")
        for i in range(3):  # the first waits (a minute at most) for company; the third fills it
            upd(q, "sparse", tick("AAPL", float(i)), wait=False)
        row = figures(q, "patient", lambda r: r["rows_out"] == 3, "the three rows")
        assert (row["batches"], row["batch_rows_max"]) == (1, 3)  # one batch, sent when full
        assert row["errors"] == 0
    finally:
        q.close()


def test_a_failing_function_is_reported_and_harms_nothing(server):
    q = server.connect()
    try:
        # windowed: the window state survives the failures and the function's process dying
        subscribed(q, "breaks", "fragile", "fail_below = '0', crash_below = '-100', model = 'none'",
                   query=QUERY)
        upd(q, "fragile", tick("AAPL", -1.0))
        row = figures(q, "breaks", lambda r: r["errors"] == 1, "the error")
        assert "a price below the floor" in row["last_error"]
        upd(q, "fragile", tick("AAPL", -200.0))  # the function's process exits
        row = figures(q, "breaks", lambda r: r["errors"] == 2, "the crash")
        assert "exit code 3" in row["last_error"]
        upd(q, "fragile", tick("AAPL", 5.0))  # the subscription goes on, in a new process
        figures(q, "breaks", lambda r: r["rows_out"] == 1, "a good row after the errors")
        assert q("SELECT px FROM fragile_out").py() == {"px": [5.0]}
        # the rolling mean of 4 rows (-1, -200, 5) is -65.3: a new process's fresh window
        # would have said 5 (error 0)
        (error,) = q("SELECT error FROM fragile_out").py()["error"]
        assert error == pytest.approx((5.0 - (-1.0 - 200.0 + 5.0) / 3) ** 2)
        assert q("SELECT count(*) AS n FROM fragile").py() == {"n": [3]}  # the ticks are kept
        q("DROP SUBSCRIPTION breaks")
        assert q("SHOW SUBSCRIPTIONS").pa().column("name").to_pylist().count("breaks") == 0
    finally:
        q.close()



def test_a_query_failing_on_a_batch_is_reported_as_the_querys(server):
    q = server.connect()
    try:
        q("CREATE TABLE badcast (time TIMESTAMP, sym VARCHAR, px DOUBLE, size BIGINT)")
        q("CREATE SUBSCRIPTION casts ON badcast EXECUTE FUNCTION score(INPUT_TABLE_NAMES => "
          "INPUT_TABLE(SELECT time, sym, px, CAST(sym AS DOUBLE) AS m FROM badcast)) "
          "OUTPUT_TABLES('badcast_out')")  # fine over no rows: CREATE cannot tell
        figures(q, "casts", lambda r: r["state"] == "running", "started")
        upd(q, "badcast", tick("AAPL", 1.0))
        row = figures(q, "casts", lambda r: r["errors"] == 1, "the failed query")
        assert row["last_error"].startswith("SqlError: subscription casts: its query fails")
        assert "AAPL" in row["last_error"]
    finally:
        q.close()


def test_a_function_past_its_timeout_is_stopped(server):
    q = server.connect()
    try:
        subscribed(q, "stuck", "stalled", "delay_ms = '600000'", "WITH (TIMEOUT = 0.5)")
        upd(q, "stalled", tick("AAPL", 1.0))
        row = figures(q, "stuck", lambda r: r["errors"] == 1, "the timeout")
        assert "took more than 0.5 s" in row["last_error"]
    finally:
        q.close()

def test_half_a_message_from_the_functions_process_holds_up_only_its_subscription(server):
    """The tickerplant reads the process's socket on its event loop: a process that sends half
    a message and stops must not stall it (feeds, queries and other subscriptions go on); its
    timeout ends it, and the next batch starts a new process."""
    q = server.connect()
    try:
        subscribed(q, "halved", "cut", "model = 'none', half_below = '0'", "WITH (TIMEOUT = 5)")
        upd(q, "cut", tick("AAPL", -1.0))  # its process sends half a message and sleeps
        started = time.monotonic()
        for i in range(20):  # meanwhile the tickerplant takes updates and answers at once
            upd(q, "cut", tick("AAPL", float(i)))
        assert q("SELECT count(*) AS n FROM cut").py() == {"n": [21]}
        assert time.monotonic() - started < 5  # before the timeout ended the process
        row = figures(q, "halved", lambda r: r["errors"] >= 1 and r["rows_out"] >= 20, "the timeout")
        assert "took more than 5 s" in row["last_error"]
    finally:
        q.close()


SLOW_LOADING = '''
import time
from indb import udf

time.sleep(2)  # a slow import (a big model read as the module loads, a busy machine)

@udf.function(frame="numpy")
def slow_loading(ctx, rows):
    if rows["px"].min() < 0:
        time.sleep(600)  # past the timeout: the next batch needs a new process
    return {"px": rows["px"]}
'''


def test_a_batch_timeout_counts_from_when_the_process_has_loaded_the_function(server, tmp_path):
    """A process that takes longer to load than TIMEOUT still runs its batches: the batch's
    time starts when the process says it is ready, also for the one started after a timeout."""
    code = tmp_path / "slow_loading.py"
    code.write_text(SLOW_LOADING)
    q = server.connect()
    try:
        q(f"CREATE FUNCTION slow_loading FILE PATHS '{code}'")
        q("CREATE TABLE slow (time TIMESTAMP, sym VARCHAR, px DOUBLE, size BIGINT)")
        q("CREATE SUBSCRIPTION slowly ON slow EXECUTE FUNCTION slow_loading(INPUT_TABLE_NAMES => "
          "INPUT_TABLE(SELECT px FROM slow)) OUTPUT_TABLES('slow_out') WITH (TIMEOUT = 1)")
        figures(q, "slowly", lambda r: r["state"] == "running", "started")
        upd(q, "slow", tick("AAPL", 1.0))
        figures(q, "slowly", lambda r: r["rows_out"] == 1, "the first tick scored")
        upd(q, "slow", tick("AAPL", -1.0))
        figures(q, "slowly", lambda r: r["errors"] == 1, "the timeout")
        upd(q, "slow", tick("AAPL", 2.0))  # a new process, 2 s loading, then this batch
        row = figures(q, "slowly", lambda r: r["rows_out"] == 2, "the tick after the timeout")
        assert row["errors"] == 1 and "took more than 1 s" in row["last_error"]
        assert q("SELECT px FROM slow_out ORDER BY px").py() == {"px": [1.0, 2.0]}
    finally:
        q.close()


@pytest.mark.skipif(sandbox.unavailable() is not None, reason="the machine cannot sandbox")
def test_the_function_runs_sandboxed(server):
    q = server.connect()
    try:
        catalog = server.db / "catalog.db"
        assert catalog.is_file()
        subscribed(q, "nosy", "watched", f"read = '{catalog}'")
        upd(q, "watched", tick("AAPL", 1.0))
        row = figures(q, "nosy", lambda r: r["errors"] == 1, "the refused read")
        assert row["last_error"].startswith("FunctionError: PermissionError")
    finally:
        q.close()


WHERE_RUN = '''
import os
import numpy as np
from indb import udf

@udf.function(frame="numpy")
def where_run(ctx, rows):
    return {"time": rows["time"], "pid": np.full(len(rows["time"]), os.getpid())}
'''


def test_an_unisolated_function_runs_in_the_tickerplants_process(server, tmp_path):
    code = tmp_path / "where_run.py"
    code.write_text(WHERE_RUN)
    q = server.connect()
    try:
        q(f"CREATE FUNCTION where_run FILE PATHS '{code}'")
        q("CREATE TABLE places (time TIMESTAMP, sym VARCHAR, px DOUBLE, size BIGINT)")
        for name, isolation in (("apart", "process"), ("inside", "none")):
            q(f"CREATE SUBSCRIPTION {name} ON places EXECUTE FUNCTION where_run() "
              f"OUTPUT_TABLES('places_{name}') WITH (ISOLATION = '{isolation}')")
            figures(q, name, lambda r: r["state"] == "running", f"{name} started")
        upd(q, "places", tick("AAPL", 1.0))
        pids = {}
        for name in ("apart", "inside"):
            figures(q, name, lambda r: r["rows_out"] == 1, f"{name}'s row")
            (pids[name],) = q(f"SELECT pid FROM places_{name}").py()["pid"]
        assert pids["inside"] == server.process.pid != pids["apart"]
    finally:
        q.close()


def test_an_unisolated_subscription_scores_with_its_window_and_model(server, tmp_path):
    """ISOLATION = 'none': the same query, window state across batches, model and outputs as
    in a process of its own; a failing batch is reported and the next goes on; a model that
    is not an admin's is not loaded there."""
    feed, subscriber = server.connect(), server.connect()
    try:
        feed("CREATE TABLE inline_out (time TIMESTAMP, sym VARCHAR, px DOUBLE, error DOUBLE, "
             "anomaly BOOLEAN, loads BIGINT)")
        schema = subscriber(".u.sub", kx.SymbolAtom("inline_out"), kx.SymbolVector([])).py()
        assert schema[0] == "inline_out"
        sock = socket.socket(fileno=os.dup(subscriber.fileno()))
        sock.settimeout(WAIT)
        subscribed(feed, "inlined", "inline", "threshold = '4', fail_below = '0'",
                   "WITH (ISOLATION = 'none')", query=QUERY)
        prices = [100.0, 100.0, -1.0, 100.0, 100.0, 108.0, 100.0]  # -1 fails its batch
        for done, px in enumerate(prices, 1):  # a batch a tick, so that only -1's fails
            upd(feed, "inline", tick("AAPL", px))
            figures(feed, "inlined", lambda r: r["rows_out"] + r["errors"] == done, "a batch")
        received: dict[str, list] = {"px": [], "anomaly": [], "loads": []}
        while len(received["px"]) < len(prices) - 1:
            name, table, rows = read_message(sock).py()
            assert (name, table) == ("upd", "inline_out")
            for column in received:
                received[column] += rows[column]
        assert received["px"] == [p for p in prices if p >= 0]
        # the window is the rolling mean of 4 rows, across batches; a failed batch's rows stay
        # in it, as in a process of its own: 100 after -1 is far from its mean (74.75), and so
        # is 108 (76.75); the last 100's mean is 102: (100 - 102)^2 = 4, not above
        assert received["anomaly"] == [False, False, True, True, True, False]
        assert set(received["loads"]) == {1}
        row = figures(feed, "inlined", lambda r: r["rows_out"] == len(prices) - 1, "rows out")
        assert "a price below the floor" in row["last_error"]
        assert (row["query_path"], row["state"]) == ("incremental", "running")

        model_dir = tmp_path / "model"
        model_dir.mkdir()
        save_model(Reconstruction(), np.zeros((4, 2), np.float32), "torch", model_dir)
        feed("CREATE USER dana")
        feed(f"CREATE MODEL danas FROM FILE '{next(model_dir.glob('*.pt2'))}'")
        feed("ALTER MODEL danas OWNER TO dana")  # dana could add a version that runs code
        subscribed(feed, "borrowed", "borrowing", "model = 'danas'", "WITH (ISOLATION = 'none')")
        upd(feed, "borrowing", tick("AAPL", 1.0))
        row = figures(feed, "borrowed", lambda r: r["errors"] == 1, "the refused model")
        assert "model danas is not an admin's" in row["last_error"]
        assert feed("SELECT count(*) AS n FROM borrowing").py() == {"n": [1]}  # the tick stays
    finally:
        # with no user left, the tickerplant lets the other tests in without a password again
        feed("DROP SUBSCRIPTION IF EXISTS borrowed")
        feed("DROP MODEL IF EXISTS danas")
        feed("DROP USER IF EXISTS dana")
        for q in (feed, subscriber):
            q.close()


def test_outputs_are_published_to_a_remote_tickerplant(server):
    """PUBLISH TO: each output batch goes as async ``.u.upd`` to the kdb+ host (here a listener
    that reads what a tickerplant would, as PyKX decodes it)."""
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(WAIT)
    q = server.connect()
    try:
        port = listener.getsockname()[1]
        subscribed(q, "relay", "relayed", "threshold = '1', model = 'none'",
                   f"PUBLISH TO 'kdb://127.0.0.1:{port}'")
        upd(q, "relayed", tick("AAPL", 7.0))
        remote, _ = listener.accept()
        remote.settimeout(WAIT)
        hello = b""
        while not hello.endswith(b"\0"):
            hello += remote.recv(64)
        remote.sendall(b"\3")  # the handshake's answer: the capability
        function, table, rows = read_message(remote).py()
        assert (function, table) == (".u.upd", "relayed_out")
        assert rows["px"] == [7.0] and rows["error"] == [9.0] and rows["anomaly"] == [True]
        remote.close()
    finally:
        q.close()
        listener.close()


VERSIONED = '''
import numpy as np
from indb import udf

@udf.function(frame="numpy")
def versioned(ctx, rows):
    return {"px": rows["px"], "m": rows["m"], "version": np.full(len(rows["px"]), VERSION)}
'''


def test_a_replaced_function_runs_its_new_code_with_the_windows_it_had(server, tmp_path):
    code = tmp_path / "versioned.py"
    code.write_text(VERSIONED.replace("VERSION", "1"))
    q = server.connect()

    def scored(px: float) -> dict:
        """One tick's output row, once it is out."""
        upd(q, "changing", tick("AAPL", px))
        deadline = time.monotonic() + WAIT
        while True:
            row = q(f"SELECT version, m FROM changing_out WHERE px = {px}").py()
            if row["version"]:
                return {k: v[0] for k, v in row.items()}
            assert time.monotonic() < deadline, f"no output for the tick at {px}"
            time.sleep(0.01)

    try:
        q(f"CREATE FUNCTION versioned FILE PATHS '{code}'")
        q("CREATE TABLE changing (time TIMESTAMP, sym VARCHAR, px DOUBLE, size BIGINT)")
        q("CREATE TABLE changing_out (px DOUBLE, m DOUBLE, version BIGINT)")
        q("CREATE SUBSCRIPTION evolving ON changing EXECUTE FUNCTION versioned(INPUT_TABLE_NAMES "
          "=> INPUT_TABLE(SELECT px, avg(px) OVER (PARTITION BY sym ORDER BY time ROWS BETWEEN 3 "
          "PRECEDING AND CURRENT ROW) AS m FROM changing)) OUTPUT_TABLES('changing_out')")
        figures(q, "evolving", lambda r: r["state"] == "running", "started")
        assert scored(1.0)["version"] == 1
        code.write_text(VERSIONED.replace("VERSION", "2"))
        q(f"CREATE OR REPLACE FUNCTION versioned FILE PATHS '{code}'")
        px, row = 2.0, scored(2.0)
        deadline = time.monotonic() + WAIT
        while row["version"] == 1:  # until the tickerplant's next reading of the catalog
            assert time.monotonic() < deadline, "the subscription kept the old code"
            px += 1
            row = scored(px)
        assert row["version"] == 2
        # the windows went on: the mean of the last 4 ticks, as if nothing had restarted
        assert row["m"] == pytest.approx(np.mean(np.arange(max(1.0, px - 3), px + 1)))
        assert scored(px + 1)["version"] == 2  # and stays there
        q("DROP FUNCTION versioned")
        row = figures(q, "evolving", lambda r: r["state"] == "failed to start", "stopped")
        assert "function versioned does not exist" in row["last_error"]
        code.write_text(VERSIONED.replace("VERSION", "3"))
        q(f"CREATE FUNCTION versioned FILE PATHS '{code}'")  # created again: it starts afresh
        figures(q, "evolving", lambda r: r["state"] == "running", "started again")
        assert scored(px + 2) == {"version": 3, "m": px + 2}  # a new window
    finally:
        q.close()
