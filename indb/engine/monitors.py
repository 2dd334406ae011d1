"""Handlers of the monitor statements, and the statistics a monitor's run computes.

A run (``EXECUTE MONITOR``, or the monitor's procedure on its ``EVERY`` schedule) reads the
reference (the model version's training data, ``indb.planner.monitors``) and the table's rows of
the windows not computed yet for that version, through ``Engine.execute`` (so with the
privileges of the user it runs as), and computes per window and feature the population
stability index and the two-sample Kolmogorov-Smirnov statistic and p-value against the
reference; with a ``LABEL`` column, the model's accuracy, precision and recall on the window's
labelled rows (its predictions from the served model, as PREDICT's). The rows go to the
monitor's metrics table in one snapshot, through the engine's write path; a metric past its
threshold has ``alert`` true. The statistics are scipy's (``ks_2samp``; PSI as the symmetric
Kullback-Leibler divergence of ``scipy.stats.entropy`` over the reference's decile bins) and
scikit-learn's (``accuracy_score``, ``precision_score``, ``recall_score``).
"""

from __future__ import annotations

import dataclasses
import logging
import time
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from sqlglot import exp

from indb.catalog import users
from indb.catalog.names import split_name
from indb.engine import privileges
from indb.engine.tables import write_rows  # the engine's write path: one snapshot
from indb.errors import CatalogError, NotSupportedError, PrivilegeError, SqlError
from indb.parser import monitors as monitor_trees
from indb.parser import render, render_indb
from indb.planner import access as rules
from indb.planner import monitors as plans
from indb.planner import procedures as schedules
from indb.registry.models import ModelInfo
from indb.registry.monitors import MonitorInfo, MonitorStore
from indb.registry.procedures import ProcedureInfo, ProcedureStore, when
from indb.result import Result

if TYPE_CHECKING:
    from indb.engine.core import Engine

BINS = 10               # PSI's bins: the reference's deciles
FLOOR = 1e-4            # a bin's share at least this, so that an empty bin's log is finite
METRICS_COLUMNS = (     # the metrics table; its first time and text columns make the web chart
    ("window_start", "TIMESTAMP"), ("window_end", "TIMESTAMP"), ("series", "VARCHAR"),
    ("value", "DOUBLE"), ("alert", "BOOLEAN"), ("model", "VARCHAR"), ("version", "BIGINT"),
    ("feature", "VARCHAR"), ("metric", "VARCHAR"), ("rows", "BIGINT"),
    ("reference_rows", "BIGINT"), ("threshold", "DOUBLE"), ("computed", "TIMESTAMP"))

log = logging.getLogger("indb.monitors")


# -- statistics -------------------------------------------------------------------------------

def psi(reference: np.ndarray, current: np.ndarray, bins: int = BINS) -> float:
    """Population stability index of ``current`` against ``reference``: over the reference's
    quantile bins, sum((c - r) * ln(c / r)) of the shares, which is KL(c||r) + KL(r||c)."""
    stats = _scipy()
    edges = np.unique(np.quantile(reference, np.linspace(0, 1, bins + 1)[1:-1]))
    shares = [np.maximum(np.bincount(np.searchsorted(edges, x, side="right"),
                                     minlength=len(edges) + 1) / len(x), FLOOR)
              for x in (reference, current)]
    return float(stats.entropy(shares[1], shares[0]) + stats.entropy(shares[0], shares[1]))


def ks(reference: np.ndarray, current: np.ndarray) -> tuple[float, float]:
    """The two-sample Kolmogorov-Smirnov statistic and its p-value."""
    result = _scipy().ks_2samp(reference, current)
    return float(result.statistic), float(result.pvalue)


def quality(labels: np.ndarray, predicted: np.ndarray) -> dict[str, float]:
    """Accuracy, precision and recall: of the positive class for 0/1 labels, else the mean over
    the classes (macro)."""
    try:
        from sklearn import metrics
    except ImportError:
        raise NotSupportedError("a monitor with LABEL needs scikit-learn: pip install "
                                "'indb[monitor]'") from None
    binary = set(np.unique(labels).tolist()) | set(np.unique(predicted).tolist()) <= {0, 1}
    average = "binary" if binary else "macro"
    return {"accuracy": float(metrics.accuracy_score(labels, predicted)),
            "precision": float(metrics.precision_score(labels, predicted, average=average,
                                                       zero_division=0)),
            "recall": float(metrics.recall_score(labels, predicted, average=average,
                                                 zero_division=0))}


def _scipy() -> Any:
    try:
        from scipy import stats
    except ImportError:
        raise NotSupportedError("monitors need scipy: pip install 'indb[monitor]'") from None
    return stats


# -- statements -------------------------------------------------------------------------------

def create_monitor(engine: Engine, plan: plans.CreateMonitor, params: object) -> Result:
    store, procedures = MonitorStore(engine.db), ProcedureStore(engine.db)
    if store.find(plan.name) and not plan.replace:
        raise CatalogError(f"monitor {plan.name} already exists; use CREATE OR REPLACE MONITOR, "
                           f"or DROP MONITOR {plan.name} first")
    schedule = procedures.find(plan.procedure)
    if schedule is not None and schedule.statements != (_run_statement(plan.name),):
        raise CatalogError(f"procedure {plan.name} is not this monitor's: a monitor runs on its "
                           f"EVERY schedule as procedure {plan.procedure}; drop or rename it")
    _read(engine, plan, _select(plan, plan.features).limit(0))  # the columns exist, readable
    engine.execute(render(_metrics_definition(plan)))  # as the user: its table
    now = time.time()
    store.create(MonitorInfo(plan.name, dataclasses.asdict(plan), plan.ddl, engine.user, now),
                 replace=plan.replace)
    if plan.every is not None:  # the procedures' scheduler runs it: one scheduler a server
        first = plan.start if plan.start is not None else now
        procedures.create(ProcedureInfo(plan.procedure, "", (_run_statement(plan.name),),
                                        plan.ddl, engine.user, now, plan.every, first, None),
                          replace=True)
        users.set_owner(engine.db.engine, "procedure", plan.procedure, engine.user)
    elif schedule is not None:
        _drop_schedule(engine, plan.procedure)
    every = "on demand" if plan.every is None else f"every {plan.every:g} s as procedure " \
                                                   f"{plan.procedure}"
    return Result(message=f"created monitor {plan.name} ({every}); its metrics go to table "
                          f"{plan.metrics_table}")


def execute_monitor(engine: Engine, plan: plans.ExecuteMonitor, params: object) -> Result:
    store = MonitorStore(engine.db)
    info = store.get(plan.name)
    privileges.check_creator(engine, "monitor", info, "run")
    monitor = plans.restored(info.definition)
    needed = [rules.Need("SELECT", "table", monitor.table),
              rules.Need("USAGE", "model", monitor.model)]
    rules.check_needs(needed, privileges.access(engine, engine.user, needed))
    model = engine.models.get(monitor.model, monitor.version)
    reference = _read(engine, monitor, exp.select(exp.Star()).from_(
        exp.Subquery(this=_reference(monitor, model), alias=exp.TableAlias(
            this=exp.to_identifier("reference")))))
    features = monitor.features or tuple(
        f.name for f in reference.schema if _numeric(f.type) and f.name not in
        (monitor.time_column, monitor.label))
    if not features:
        raise CatalogError(f"monitor {monitor.name}: the reference has no numeric column to "
                           "compare; name them: FEATURES (c1, c2)")
    seconds = _epoch(monitor.time_column)
    bounds = _read(engine, monitor, exp.select(exp.Min(this=seconds), exp.Max(this=seconds))
                   .from_(_table(monitor.table)))
    first, newest = bounds.column(0)[0].as_py(), bounds.column(1)[0].as_py()
    last = store.done(monitor.name).get(model.version)
    if first is None:
        return _nothing_new(monitor, model, "the table has no rows")
    start, end = plans.windows(first, newest, monitor.window, last)
    if start >= end:
        return _nothing_new(monitor, model, f"no window complete since {when(start)}")
    if not store.advance(monitor.name, model.version, last, end):
        return _nothing_new(monitor, model, "another run is computing these windows")
    try:
        rows = _read(engine, monitor, _select(monitor, features).where(
            exp.and_(exp.GTE(this=seconds, expression=exp.Literal.number(start)),
                     exp.LT(this=seconds, expression=exp.Literal.number(end)))))
        metrics = _metrics(engine, monitor, model, reference, rows, features, start)
        if metrics.num_rows:
            _write(engine, monitor, metrics)
    except BaseException:
        store.release(monitor.name, model.version, last, end)
        raise
    alerts = int(pc.sum(metrics.column("alert")).as_py() or 0)
    if alerts:
        log.warning("monitor %s: %d alert%s in %s to %s", monitor.name, alerts,
                    "s" * (alerts != 1), when(start), when(end))
    return Result(metrics, f"monitor {monitor.name}: model {model.name} version {model.version}, "
                           f"{when(start)} to {when(end)}: {metrics.num_rows} metrics, "
                           f"{alerts} alert{'s' * (alerts != 1)} (table {monitor.metrics_table})")


def show_monitors(engine: Engine, plan: plans.ShowMonitors, params: object) -> Result:
    """The monitors whose metrics table the user may read."""
    store = MonitorStore(engine.db)
    infos = [store.get(plan.name)] if plan.name else store.all()
    access = privileges.access(engine, engine.user, [])
    shown = [i for i in infos
             if access.may(engine.user, "SELECT", "table", plans.metrics_table(i.name))]
    if plan.name and not shown:
        raise PrivilegeError(f"{engine.user} may not see monitor {plan.name}: it may not read "
                             f"its table {plans.metrics_table(plan.name)}")
    procedures = ProcedureStore(engine.db)
    rows: dict[str, list[Any]] = {k: [] for k in (
        "name", "model", "table", "metrics_table", "definer", "schedule", "windows_done", "ddl")}
    for info in shown:
        definition = info.definition
        schedule = procedures.find(plans.PROCEDURE_PREFIX + info.name)
        done = store.done(info.name)
        for key, value in (("name", info.name), ("model", definition["model"]),
                           ("table", definition["table"]),
                           ("metrics_table", plans.metrics_table(info.name)),
                           ("definer", info.definer),
                           ("schedule", _schedule(schedule)),
                           ("windows_done", ", ".join(f"version {v} to {when(t)}"
                                                      for v, t in sorted(done.items())) or None),
                           ("ddl", info.ddl)):
            rows[key].append(value)
    return Result(pa.table(rows, schema=pa.schema([(k, pa.string()) for k in rows])))


def drop_monitor(engine: Engine, plan: plans.DropMonitor, params: object) -> Result:
    """The monitor and its schedule go; its metrics table stays (DROP TABLE removes it)."""
    store = MonitorStore(engine.db)
    info = store.to_drop(plan.name, plan.if_exists)
    if info is None:
        return Result(message=f"monitor {plan.name} does not exist")
    privileges.check_creator(engine, "monitor", info, "drop")
    store.drop(plan.name)
    _drop_schedule(engine, plans.PROCEDURE_PREFIX + plan.name)
    return Result(message=f"dropped monitor {plan.name}; its metrics stay in table "
                          f"{plans.metrics_table(plan.name)}")


# -- the parts of a run -----------------------------------------------------------------------

def _metrics(engine: Engine, monitor: plans.CreateMonitor, model: ModelInfo,
             reference: pa.Table, rows: pa.Table, features: tuple[str, ...],
             start: float) -> pa.Table:
    """The metric rows of the windows ``rows`` fall in (a window without rows has none)."""
    expected = {f: _values(reference.column(f)) for f in features}
    seconds = rows.column("_t").to_numpy(zero_copy_only=False).astype(np.float64)
    index = np.floor((seconds - start) / monitor.window).astype(np.int64)
    limits = {metric: (metric, op, value) for metric, op, value in monitor.thresholds}
    out: dict[str, list[Any]] = {name: [] for name, _ in METRICS_COLUMNS}
    computed = time.time()

    def add(window: int, feature: str | None, metric: str, value: float, count: int,
            reference_rows: int) -> None:
        low = start + window * monitor.window
        rule = limits.get(metric)
        for key, item in (("window_start", low), ("window_end", low + monitor.window),
                          ("series", f"{feature} {metric}" if feature else metric),
                          ("value", value), ("alert", rule is not None and plans.alert(value, rule)),
                          ("model", model.name), ("version", model.version),
                          ("feature", feature), ("metric", metric), ("rows", count),
                          ("reference_rows", reference_rows),
                          ("threshold", rule[2] if rule else None), ("computed", computed)):
            out[key].append(item)

    for window in np.unique(index).tolist():
        chosen = index == window
        for feature in features:
            current = _values(rows.column(feature))[chosen]
            current = current[~np.isnan(current)]
            ref = expected[feature][~np.isnan(expected[feature])]
            if not len(current) or not len(ref):
                continue
            statistic, pvalue = ks(ref, current)
            for metric, value in (("psi", psi(ref, current)), ("ks", statistic),
                                  ("ks_pvalue", pvalue)):
                add(window, feature, metric, value, len(current), len(ref))
        if monitor.label is not None:
            for metric, value, count in _quality(engine, monitor, model, rows, features, chosen):
                add(window, None, metric, value, count, 0)
    return _as_table(out)


def _quality(engine: Engine, monitor: plans.CreateMonitor, model: ModelInfo, rows: pa.Table,
             features: tuple[str, ...], chosen: np.ndarray) -> list[tuple[str, float, int]]:
    """Accuracy, precision, recall on the window's rows that have a label and every feature."""
    assert monitor.label is not None
    labels = rows.column(monitor.label).combine_chunks().filter(pa.array(chosen))
    matrix = np.column_stack([_values(rows.column(f))[chosen] for f in features])
    kept = labels.is_valid().to_numpy(zero_copy_only=False) & ~np.isnan(matrix).any(axis=1)
    if not kept.any():
        return []
    truth = np.asarray(labels.filter(pa.array(kept)).to_numpy(zero_copy_only=False)).astype(np.int64)
    scores = engine.served_model(model.name, model.version).predict(matrix[kept])
    cut = plans.predicted_class(model)
    predicted = (scores > cut if cut is not None else scores).astype(np.int64)
    return [(metric, value, len(truth)) for metric, value in quality(truth, predicted).items()]


def _reference(monitor: plans.CreateMonitor, model: ModelInfo) -> exp.Expr:
    text = monitor.reference if monitor.reference is not None else plans.lineage_reference(model)
    return exp.maybe_parse(text, dialect="duckdb")


def _select(monitor: plans.CreateMonitor, features: tuple[str, ...]) -> exp.Select:
    """The table's rows: the time in seconds (``_t``), the features, the label."""
    columns = [_epoch(monitor.time_column).as_("_t"), *(_column(f) for f in features)]
    if monitor.label is not None:
        columns.append(_column(monitor.label))
    return exp.select(*columns).from_(_table(monitor.table))


def _read(engine: Engine, monitor: plans.CreateMonitor, query: exp.Expr) -> pa.Table:
    """A query's rows, run as the engine's user; an error names the monitor."""
    try:
        return engine.execute(render(query)).arrow()
    except SqlError as error:
        raise SqlError(f"monitor {monitor.name}: {error.args[0]}") from None


def _write(engine: Engine, monitor: plans.CreateMonitor, metrics: pa.Table) -> None:
    write_rows(engine, monitor.metrics_table, [metrics])


def _metrics_definition(plan: plans.CreateMonitor) -> exp.Create:
    columns = [exp.ColumnDef(this=exp.to_identifier(name, quoted=True),
                             kind=exp.DataType.build(sql_type, dialect="duckdb"))
               for name, sql_type in METRICS_COLUMNS]
    return exp.Create(this=exp.Schema(this=_table(plan.metrics_table), expressions=columns),
                      kind="TABLE", replace=plan.replace)


def _run_statement(name: str) -> str:
    return render_indb(monitor_trees.ExecuteMonitor(this=exp.to_identifier(name)))


def _drop_schedule(engine: Engine, procedure: str) -> None:
    if ProcedureStore(engine.db).drop(procedure):
        users.forget_object(engine.db.engine, "procedure", procedure)


def _schedule(info: ProcedureInfo | None) -> str:
    if info is None or info.every is None or info.first_due is None:
        return "on demand"
    upcoming = schedules.next_due(info.first_due, info.every, info.stop, info.last_due)
    return f"every {info.every:g} s (procedure {info.name}), next {when(upcoming)}"


def _nothing_new(monitor: plans.CreateMonitor, model: ModelInfo, why: str) -> Result:
    return Result(_as_table({name: [] for name, _ in METRICS_COLUMNS}),
                  f"monitor {monitor.name}: model {model.name} version {model.version}: {why}")


def _as_table(columns: dict[str, list[Any]]) -> pa.Table:
    types = {"TIMESTAMP": pa.timestamp("us"), "VARCHAR": pa.string(), "DOUBLE": pa.float64(),
             "BOOLEAN": pa.bool_(), "BIGINT": pa.int64()}
    arrays = {}
    for name, sql_type in METRICS_COLUMNS:
        values = columns[name]
        if sql_type == "TIMESTAMP":
            values = [int(round(v * 1e6)) for v in values]
            arrays[name] = pa.array(values, pa.int64()).cast(types[sql_type])
        else:
            arrays[name] = pa.array(values, types[sql_type])
    return pa.table(arrays)


def _values(column: pa.ChunkedArray) -> np.ndarray:
    return np.asarray(column.to_numpy(), dtype=np.float64)


def _numeric(kind: pa.DataType) -> bool:
    return pa.types.is_integer(kind) or pa.types.is_floating(kind) or pa.types.is_decimal(kind)


def _epoch(column: str) -> exp.Expr:
    return exp.Anonymous(this="epoch", expressions=[_column(column)])


def _column(name: str) -> exp.Column:
    return exp.column(name, quoted=True)


def _table(name: str) -> exp.Table:
    schema, table = split_name(name)
    return exp.table_(table, db=schema, quoted=True)
