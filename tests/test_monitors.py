"""Model monitors: the grammar (goldens in tests/golden/monitor_*.sql), the plans and windows,
the statistics against scipy and scikit-learn on the same arrays, and monitors on a real
database: drift against the training data the model version records, alerts by threshold,
accuracy/precision/recall from labels, privileges, and runs on the procedures' schedule."""

import numpy as np
import pyarrow as pa
import pytest
import torch
from scipy import stats
from sklearn import metrics as sk

import indb
from indb import planner
from indb.engine import monitors as running
from indb.engine import procedures as scheduled
from indb.errors import CatalogError, PrivilegeError, SqlError
from indb.parser import parse
from indb.planner import monitors as plans
from indb.registry.models import ModelInfo, StagedModel, staging_dir
from indb.registry.monitors import MonitorStore
from indb.runtime.predictors import save_model
from indb.server.pool import ConnectionPool
from indb.server.scheduler import Scheduler

DAY = 86400.0
FIRST_DAY = 19700 * DAY  # 2023-12-09 00:00 UTC
DAYS = 6
ROWS = 200  # a day


# -- the grammar ------------------------------------------------------------------------------

@pytest.mark.parametrize("sql, words", [
    ("CREATE MONITOR m FOR TABLE t", "expected ON MODEL"),
    ("CREATE MONITOR m ON MODEL x TIME COLUMN ts", "expected FOR TABLE"),
    ("CREATE MONITOR m ON MODEL x FOR TABLE t WINDOW 1 DAY WINDOW 2 DAYS", "WINDOW is given twice"),
    ("CREATE MONITOR m ON MODEL x FOR TABLE t THRESHOLD psi = 0.2", "> or <"),
    ("CREATE MONITOR m ON MODEL x FOR TABLE t FEATURES a, b", "in parentheses"),
    ("CREATE MONITOR m ON MODEL x FOR TABLE t WINDOW 2 WEEKS", "a number and a unit"),
    ("CREATE MONITOR m ON MODEL x FOR TABLE t REFERENCE SELECT 1", "query in parentheses"),
    ("CREATE MONITOR m ON MODEL x FOR TABLE t NOW", "unexpected NOW"),
    ("CREATE MONITOR s.m ON MODEL x FOR TABLE t", "no schema"),
])
def test_malformed_monitors_are_refused_saying_what_is_wrong(sql, words):
    with pytest.raises(SqlError, match=words):
        parse(sql)


# -- plans ------------------------------------------------------------------------------------

def model_info(output="class", metrics=None, lineage=None):
    return ModelInfo("clf", 3, "torch", "/x/model.pt2", (2,), "float32", output, 2,
                     metrics or {}, lineage if lineage is not None else
                     {"inputs": ["WITH w AS (SELECT x, y FROM train) SELECT x, y FROM w JOIN s.other USING (x)"],
                      "snapshots": {"train": 11, "s.other": 22}})


class Facts:
    default_shards = 1

    def __init__(self, info):
        self.info = info

    def exists(self, name):
        return name == "live"

    def model(self, name, version):
        if name != "clf":
            raise CatalogError(f"model {name} does not exist")
        return self.info


def plan_of(sql, info=None):
    (tree,) = parse(sql)
    return planner.plan(tree, Facts(info or model_info()))


def test_a_plan_has_defaults_and_the_clauses_given():
    plan = plan_of("CREATE MONITOR Mon ON MODEL clf FOR TABLE live TIME COLUMN ts")
    assert (plan.name, plan.table, plan.time_column, plan.window, plan.thresholds, plan.every) == (
        "mon", "live", "ts", DAY, (("psi", ">", 0.2),), None)
    assert plan.metrics_table == "mon_metrics" and plan.procedure == "monitor_mon"
    plan = plan_of("CREATE OR REPLACE MONITOR m ON MODEL clf VERSION 'prod' FOR TABLE live "
                   "TIME COLUMN ts FEATURES (X, y) LABEL truth WINDOW 6 HOURS "
                   "THRESHOLD ks > 0.3, accuracy < 0.9 EVERY 1 HOUR STARTING AT '2027-01-01'")
    assert (plan.replace, plan.version, plan.features, plan.label, plan.window, plan.every,
            plan.start) == (True, "prod", ("x", "y"), "truth", 6 * 3600.0, 3600.0, 1798761600.0)
    assert plan.thresholds == (("ks", ">", 0.3), ("accuracy", "<", 0.9))
    assert plans.restored(__import__("dataclasses").asdict(plan)) == plan  # the record's round trip


@pytest.mark.parametrize("sql, info, words", [
    ("CREATE MONITOR m ON MODEL clf FOR TABLE live", None, "TIME COLUMN"),
    ("CREATE MONITOR m ON MODEL nope FOR TABLE live TIME COLUMN ts", None, "does not exist"),
    ("CREATE MONITOR m ON MODEL clf FOR TABLE dead TIME COLUMN ts", None, "does not exist"),
    ("CREATE MONITOR m ON MODEL clf FOR TABLE live TIME COLUMN ts THRESHOLD auc > 1", None,
     "unknown metric auc"),
    ("CREATE MONITOR m ON MODEL clf FOR TABLE live TIME COLUMN ts THRESHOLD recall < 1", None,
     "needs labels"),
    ("CREATE MONITOR m ON MODEL clf FOR TABLE live TIME COLUMN ts LABEL y", model_info("vector"),
     "no threshold metric"),
    ("CREATE MONITOR m ON MODEL clf FOR TABLE live TIME COLUMN ts",
     model_info(lineage={"run_id": "imported"}), "REFERENCE"),
    ("CREATE MONITOR m ON MODEL clf FOR TABLE live TIME COLUMN ts WINDOW 0 DAYS", None, "positive"),
])
def test_plans_refuse_what_a_monitor_cannot_compute(sql, info, words):
    with pytest.raises((SqlError, CatalogError), match=words):
        plan_of(sql, info)


def test_a_model_without_lineage_is_monitored_against_an_explicit_reference():
    plan = plan_of("CREATE MONITOR m ON MODEL clf FOR TABLE live TIME COLUMN ts "
                   "REFERENCE (SELECT x FROM live WHERE ts < '2024-01-01')",
                   model_info(lineage={}))
    assert plan.reference == "SELECT x FROM live WHERE ts < '2024-01-01'"


def test_the_lineage_reference_reads_the_tables_at_the_training_snapshots():
    sql = plans.lineage_reference(model_info())
    assert "train AT (VERSION => 11)" in sql and "s.other AT (VERSION => 22)" in sql
    assert "w AT" not in sql  # a CTE is no table
    bare = plans.lineage_reference(model_info(lineage={"inputs": ["train"], "snapshots": {"train": 5}}))
    assert bare == "SELECT * FROM train AT (VERSION => 5)"


def test_a_value_model_s_classes_come_from_its_threshold():
    assert plans.predicted_class(model_info("class")) is None
    assert plans.predicted_class(model_info("value", {"threshold": 0.7})) == 0.7


def test_windows_are_aligned_and_the_newest_one_waits_until_it_is_complete():
    assert plans.windows(FIRST_DAY + 5, FIRST_DAY + 3 * DAY + 7, DAY, None) == (FIRST_DAY, FIRST_DAY + 3 * DAY)
    assert plans.windows(FIRST_DAY, FIRST_DAY + 3 * DAY + 7, DAY, FIRST_DAY + 3 * DAY) == (
        FIRST_DAY + 3 * DAY, FIRST_DAY + 3 * DAY)  # nothing new is complete
    assert plans.alert(0.3, ("psi", ">", 0.2)) and not plans.alert(0.95, ("accuracy", "<", 0.9))


# -- statistics -------------------------------------------------------------------------------

def test_psi_and_ks_are_scipy_s_on_the_reference_s_deciles():
    rng = np.random.default_rng(1)
    reference, current = rng.normal(size=5000), rng.normal(0.5, 1.3, size=700)
    edges = np.quantile(reference, np.linspace(0, 1, 11))
    edges[0], edges[-1] = -np.inf, np.inf
    r = np.histogram(reference, edges)[0] / len(reference)
    c = np.histogram(current, edges)[0] / len(current)
    assert running.psi(reference, current) == pytest.approx(float(np.sum((c - r) * np.log(c / r))))
    expected = stats.ks_2samp(reference, current)
    assert running.ks(reference, current) == (pytest.approx(expected.statistic),
                                              pytest.approx(expected.pvalue))
    assert running.psi(reference, rng.normal(size=5000)) < 0.02 < 0.2 < running.psi(reference, current)


def test_quality_is_scikit_learn_s():
    labels, predicted = np.array([0, 1, 1, 0, 1, 1]), np.array([0, 1, 0, 1, 1, 1])
    assert running.quality(labels, predicted) == {
        "accuracy": sk.accuracy_score(labels, predicted),
        "precision": sk.precision_score(labels, predicted),
        "recall": sk.recall_score(labels, predicted)}
    many, guess = np.array([0, 1, 2, 2]), np.array([0, 2, 2, 1])
    assert running.quality(many, guess)["precision"] == sk.precision_score(many, guess, average="macro")


# -- on a database ----------------------------------------------------------------------------

def live_rows(rng, days, first=FIRST_DAY):
    """A day of rows each; x drifts by 0.4 a day, the label is x > 0.5."""
    day = np.repeat(np.arange(days), ROWS)
    x = rng.normal(size=len(day)) + 0.4 * day
    return pa.table({"ts": pa.array(((first + day * DAY + 60) * 1e6).astype(np.int64), pa.timestamp("us")),
                     "x": x, "y": rng.normal(size=len(day)), "truth": (x > 0.5).astype(np.int32)})


@pytest.fixture(scope="module")
def db(tmp_path_factory):
    """A database with training data, a classifier (class = x > 0) registered with lineage
    naming it, and a table of newer rows whose x drifts."""
    conn = indb.connect(tmp_path_factory.mktemp("monitors") / "db")
    engine = conn._engine
    rng = np.random.default_rng(0)
    conn.sql("CREATE TABLE train (x DOUBLE, y DOUBLE)")
    conn.load("train", pa.table({"x": rng.normal(size=2000), "y": rng.normal(size=2000)}))
    model = torch.nn.Linear(2, 2)
    with torch.no_grad():
        model.weight[:] = torch.tensor([[-1.0, 0.0], [1.0, 0.0]])
        model.bias[:] = 0.0
    with staging_dir(engine.db.path) as directory:
        shape, dtype, width = save_model(model, torch.randn(4, 2), "torch", directory)
    snapshot = engine.db.load("train")[0].metadata.current_snapshot().snapshot_id
    engine.models.register(StagedModel("clf", "torch", str(directory), shape, dtype, "class", width, {}),
                           {"inputs": ["SELECT x, y FROM train"], "snapshots": {"train": snapshot}})
    scorer = torch.nn.Linear(2, 1)  # a value model: its output is x; above 0.5, class 1
    with torch.no_grad():
        scorer.weight[:] = torch.tensor([[1.0, 0.0]])
        scorer.bias[:] = 0.0
    with staging_dir(engine.db.path) as directory:
        shape, dtype, width = save_model(scorer, torch.randn(4, 2), "torch", directory)
    engine.models.register(StagedModel("score", "torch", str(directory), shape, dtype, "value", width,
                                       {"threshold": 0.5}),
                           {"inputs": ["train"], "snapshots": {"train": snapshot}})
    conn.load("train", pa.table({"x": [1e6] * 2000, "y": [1e6] * 2000}))  # after training
    conn.sql("CREATE TABLE live (ts TIMESTAMP, x DOUBLE, y DOUBLE, truth INTEGER)")
    conn.load("live", live_rows(rng, DAYS))
    yield conn
    conn.close()


def complete_days(db):
    """The days of table live before its newest one."""
    return db.sql("SELECT count(DISTINCT floor(epoch(ts) / 86400)) - 1 FROM live").fetchone()[0]


def metrics_of(db, monitor, metric, feature=None):
    rows = db.sql(f"SELECT epoch(window_start), value, alert FROM {monitor}_metrics WHERE metric = "
                  f"'{metric}' AND feature IS NOT DISTINCT FROM ? ORDER BY 1", [feature]).fetchall()
    return [(start, value, alert) for start, value, alert in rows]


def test_drift_against_the_recorded_training_data_and_alerts_by_threshold(db):
    db.sql("CREATE MONITOR drift ON MODEL clf FOR TABLE live TIME COLUMN ts THRESHOLD psi > 0.2")
    db.sql("EXECUTE MONITOR drift")
    psi = metrics_of(db, "drift", "psi", "x")
    # the windows up to the newest one, which has not ended
    assert [start for start, _, _ in psi] == [FIRST_DAY + d * DAY for d in range(complete_days(db))]
    train = db.sql("SELECT x FROM train WHERE x < 1e5").arrow().column("x").to_numpy()
    live = db.sql("SELECT epoch(ts) AS t, x FROM live").arrow()
    for start, value, alert in psi:
        day = live.filter(pa.compute.equal(pa.compute.floor(
            pa.compute.divide(live["t"], DAY)), start / DAY))["x"].to_numpy()
        # against the 2,000 rows trained on, not the outliers written since
        assert value == pytest.approx(running.psi(train, day))
        assert alert == (value > 0.2)
    assert psi[0][1] < 0.2 < psi[-1][1] and psi[-1][2]  # drift grows with the shift
    ks = metrics_of(db, "drift", "ks", "x")
    assert [v for _, v, a in ks] == pytest.approx([stats.ks_2samp(train, live.filter(
        pa.compute.equal(pa.compute.floor(pa.compute.divide(live["t"], DAY)), s / DAY))["x"].to_numpy()
    ).statistic for s, _, _ in ks]) and not any(a for _, _, a in ks)  # no threshold on ks
    # computed once: a second run finds no new complete window; a new day completes one
    assert db.sql("EXECUTE MONITOR drift").arrow().num_rows == 0
    db.load("live", live_rows(np.random.default_rng(5), 1, FIRST_DAY + DAYS * DAY))
    added = db.sql("EXECUTE MONITOR drift").arrow()
    assert set(added["window_start"].to_pylist()) == {
        pa.scalar(int((FIRST_DAY + (DAYS - 1) * DAY) * 1e6), pa.timestamp("us")).as_py()}
    assert db.sql("SELECT count(*) FROM drift_metrics WHERE alert").fetchone()[0] == sum(
        a for _, _, a in metrics_of(db, "drift", "psi", "x") + metrics_of(db, "drift", "psi", "y"))


def test_labels_give_accuracy_precision_and_recall_per_window(db):
    db.sql("CREATE MONITOR quality ON MODEL clf FOR TABLE live TIME COLUMN ts FEATURES (x, y) "
           "LABEL truth WINDOW 2 DAYS THRESHOLD accuracy < 0.9")
    db.sql("EXECUTE MONITOR quality")
    rows = db.sql("SELECT epoch(ts) AS t, x, truth FROM live").arrow()
    accuracy = metrics_of(db, "quality", "accuracy")
    assert accuracy
    for start, value, alert in accuracy:
        inside = rows.filter(pa.compute.and_(pa.compute.greater_equal(rows["t"], start),
                                             pa.compute.less(rows["t"], start + 2 * DAY)))
        truth, predicted = inside["truth"].to_numpy(), (inside["x"].to_numpy() > 0).astype(int)
        assert value == pytest.approx(sk.accuracy_score(truth, predicted))
        assert alert == (value < 0.9)
        assert metrics_of(db, "quality", "recall")[accuracy.index((start, value, alert))][1] == \
            pytest.approx(sk.recall_score(truth, predicted))
    assert any(alert for _, _, alert in accuracy) and not all(alert for _, _, alert in accuracy)


def test_a_value_model_is_scored_by_its_threshold_metric(db):
    db.sql("CREATE MONITOR scored ON MODEL score FOR TABLE live TIME COLUMN ts LABEL truth "
           "THRESHOLD accuracy < 1")
    db.sql("EXECUTE MONITOR scored")  # truth is x > 0.5, as the model's output above 0.5
    assert {(v, a) for _, v, a in metrics_of(db, "scored", "accuracy")} == {(1.0, False)}
    assert len(metrics_of(db, "scored", "psi", "x")) == complete_days(db)  # the table's columns


def test_a_failed_run_hands_its_windows_back(db):
    db.sql("CREATE MONITOR fragile ON MODEL clf FOR TABLE live TIME COLUMN ts")
    db.sql("DROP TABLE fragile_metrics")
    with pytest.raises(CatalogError):
        db.sql("EXECUTE MONITOR fragile")
    assert MonitorStore(db._engine.db).done("fragile") == {}
    db.sql("CREATE OR REPLACE MONITOR fragile ON MODEL clf FOR TABLE live TIME COLUMN ts")
    assert db.sql("EXECUTE MONITOR fragile").arrow().num_rows > 0


def test_show_and_drop(db):
    db.sql("CREATE MONITOR shown ON MODEL clf FOR TABLE live TIME COLUMN ts FEATURES (x)")
    with pytest.raises(CatalogError, match="already exists"):
        db.sql("CREATE MONITOR shown ON MODEL clf FOR TABLE live TIME COLUMN ts")
    with pytest.raises(SqlError, match="monitor shown"):  # a column the table lacks
        db.sql("CREATE OR REPLACE MONITOR shown ON MODEL clf FOR TABLE live TIME COLUMN ts FEATURES (z)")
    (row,) = db.sql("SHOW MONITOR shown").arrow().to_pylist()
    assert (row["model"], row["table"], row["metrics_table"], row["schedule"]) == (
        "clf", "live", "shown_metrics", "on demand")
    db.sql("DROP MONITOR shown")
    with pytest.raises(CatalogError, match="does not exist"):
        db.sql("EXECUTE MONITOR shown")
    db.sql("DROP MONITOR IF EXISTS shown")
    assert db.sql("SELECT count(*) FROM shown_metrics").fetchone() == (0,)  # the metrics stay


def as_user(conn, user, sql):
    with conn._engine.as_user(user):
        return conn.sql(sql)


def test_a_monitor_needs_select_on_the_table_and_usage_on_the_model(db):
    for sql in ["CREATE USER mona", "CREATE USER other", "GRANT developer TO mona",
                "GRANT developer TO other"]:
        db.sql(sql)
    create = "CREATE MONITOR mine ON MODEL clf FOR TABLE live TIME COLUMN ts"
    with pytest.raises(PrivilegeError, match="SELECT"):
        as_user(db, "mona", create)
    db.sql("GRANT SELECT ON TABLE live TO mona")
    with pytest.raises(PrivilegeError, match="USAGE"):
        as_user(db, "mona", create)
    db.sql("GRANT USAGE ON MODEL clf TO mona")
    as_user(db, "mona", create + " EVERY 1 HOUR")
    with pytest.raises(PrivilegeError, match="train"):  # the reference: the training table
        as_user(db, "mona", "EXECUTE MONITOR mine")
    db.sql("GRANT SELECT ON TABLE train TO mona")
    assert as_user(db, "mona", "EXECUTE MONITOR mine").arrow().num_rows > 0
    for statement in ("EXECUTE MONITOR mine", "DROP MONITOR mine"):
        with pytest.raises(PrivilegeError, match="creator"):
            as_user(db, "other", statement)
    assert as_user(db, "other", "SHOW MONITORS").arrow().num_rows == 0  # it may read no metrics
    db.sql("REVOKE USAGE ON MODEL clf FROM mona")
    with pytest.raises(PrivilegeError, match="USAGE"):  # a run checks again
        as_user(db, "mona", "EXECUTE MONITOR mine")
    as_user(db, "mona", "DROP MONITOR mine")
    assert db.sql("SHOW PROCEDURES").arrow().num_rows == 0  # its schedule went with it


def test_every_runs_on_the_procedures_scheduler_once_a_due_time(db):
    start = 1798761600.0  # 2027-01-01 00:00:00 UTC
    db.sql("CREATE MONITOR hourly ON MODEL clf FOR TABLE live TIME COLUMN ts FEATURES (x) "
           "EVERY 1 HOUR STARTING AT '2027-01-01 00:00:00'")
    (procedure,) = db.sql("SHOW PROCEDURES").arrow().to_pylist()
    assert procedure["name"] == "monitor_hourly" and procedure["definer"] == "owner"
    engine = db._engine
    assert scheduled.run_due(engine, start - 10) == start  # not due yet: nothing computed
    assert db.sql("SELECT count(*) FROM hourly_metrics").fetchone() == (0,)
    assert scheduled.run_due(engine, start + 1) == start + 3600
    computed = db.sql("SELECT count(*) FROM hourly_metrics").fetchone()[0]
    assert computed == 3 * complete_days(db)  # psi, ks, ks_pvalue of x for each complete day
    scheduled.run_due(engine, start + 2)  # the same due time: no second run
    assert db.sql("SELECT count(*) FROM hourly_metrics").fetchone()[0] == computed
    runs = db.sql("SHOW FUNCTION STATUS").arrow().to_pylist()
    assert [r["OVERALL_STATUS"] for r in runs if r["FUNCTION_NAME"] == "monitor_hourly"] == ["complete"]
    # the server's scheduler, on its own connection of the database, runs the next due time:
    # a day of new rows has completed one more window
    db.load("live", live_rows(np.random.default_rng(7), 1, FIRST_DAY + (complete_days(db) + 1) * DAY))
    pool = ConnectionPool(engine.db.path, cluster="threads", workers=1)
    try:
        assert Scheduler(pool, clock=lambda: start + 3601).tick() == start + 7200
    finally:
        pool.close()
    assert db.sql("SELECT count(*) FROM hourly_metrics").fetchone()[0] == computed + 3
    db.sql("CREATE OR REPLACE MONITOR hourly ON MODEL clf FOR TABLE live TIME COLUMN ts")
    assert db.sql("SHOW PROCEDURES").arrow().num_rows == 0  # no EVERY: no schedule
    db.sql("DROP MONITOR hourly")
