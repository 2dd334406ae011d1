"""Plans for model monitors (``indb.parser.monitors``), and the windows a run computes.

A monitor compares a table's rows, one time window at a time, with a reference: the training
data of the model version it watches. The reference is the ``REFERENCE (SELECT ...)`` query
when given; otherwise the query (or table) the version's training run read, recorded in its
lineage, with each table pinned to the snapshot that run read (``t AT (VERSION => id)``), so
later writes to the table do not move the reference. Windows are ``WINDOW`` long, aligned to
the epoch (UTC), and computed once the table holds a row at or past their end; each model
version keeps its own high-water mark (``done``), so a new version starts from the table's
first window.

Everything here is pure: times are seconds since the epoch, UTC.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from sqlglot import exp

from indb.catalog.names import DEFAULT_SCHEMA
from indb.parser import error_at, parse, render, render_indb
from indb.parser import monitors as trees
from indb.planner.durations import moment, seconds
from indb.planner.tables import CatalogFacts, new_name, table_name
from indb.registry.models import ModelInfo

DRIFT = ("psi", "ks", "ks_pvalue")                # per feature and window
QUALITY = ("accuracy", "precision", "recall")     # per window, where LABEL rows arrived
METRICS = DRIFT + QUALITY
DEFAULT_THRESHOLDS = (("psi", ">", 0.2),)         # the usual "significant shift" of PSI
DEFAULT_WINDOW = 86400.0
METRICS_SUFFIX = "_metrics"
PROCEDURE_PREFIX = "monitor_"                     # the procedure that runs a monitor on EVERY


@dataclass(frozen=True)
class CreateMonitor:
    name: str
    replace: bool
    model: str
    version: str | None             # a number or an alias; None: the latest at each run
    table: str
    time_column: str
    features: tuple[str, ...]       # empty: the reference's numeric columns
    label: str | None
    reference: str | None           # REFERENCE's query (DuckDB SQL); None: the lineage's
    window: float                   # seconds
    thresholds: tuple[tuple[str, str, float], ...]  # (metric, > or <, value)
    every: float | None             # seconds; None: on demand only
    start: float | None             # EVERY ... STARTING AT; None: when created
    ddl: str

    @property
    def metrics_table(self) -> str:
        return metrics_table(self.name)

    @property
    def procedure(self) -> str:
        return PROCEDURE_PREFIX + self.name


@dataclass(frozen=True)
class ExecuteMonitor:
    name: str


@dataclass(frozen=True)
class ShowMonitors:
    name: str | None                # None: every monitor


@dataclass(frozen=True)
class DropMonitor:
    name: str
    if_exists: bool


def metrics_table(monitor: str) -> str:
    return monitor + METRICS_SUFFIX


def plan_create(tree: trees.CreateMonitor, catalog: CatalogFacts) -> CreateMonitor:
    name = new_name(tree.this, "monitor")
    model = tree.args["model"].name.lower()
    version = tree.args["version"].name if tree.args.get("version") is not None else None
    info = catalog.model(model, version)  # CatalogError if there is no such model or version
    table = table_name(tree.args["table"])
    if not catalog.exists(table):
        raise error_at(tree.args["table"], f"table {table} does not exist; a monitor watches an "
                                           "existing table")
    if tree.args.get("time") is None:
        raise error_at(tree.this, "a monitor needs the table's time column to cut windows: "
                                  f"CREATE MONITOR {name} ON MODEL {model} FOR TABLE {table} "
                                  "TIME COLUMN ts")
    label = tree.args["label"].name.lower() if tree.args.get("label") is not None else None
    thresholds = tuple((t.this.name.lower(), ">" if isinstance(t, exp.GT) else "<",
                        float(t.expression.name)) for t in tree.args.get("thresholds") or [])
    for (metric, _, _), node in zip(thresholds, tree.args.get("thresholds") or []):
        if metric not in METRICS:
            raise error_at(node.this, f"unknown metric {metric}: a threshold names one of "
                                      f"{', '.join(METRICS)}")
        if metric in QUALITY and label is None:
            raise error_at(node.this, f"{metric} needs labels: add LABEL col, the column holding "
                                      "the true class")
    if label is not None:
        predicted_class(info, tree.args["label"])
    reference = None
    if tree.args.get("reference") is not None:
        reference = render(tree.args["reference"])
    else:
        lineage_reference(info, tree.this)  # refused now if the version records no training query
    every = start = None
    if tree.args.get("every") is not None:
        every = seconds(tree.args["every"], "EVERY")
        start = moment(tree.args["starting"], "STARTING AT") if tree.args.get("starting") else None
    window = seconds(tree.args["window"], "WINDOW") if tree.args.get("window") else DEFAULT_WINDOW
    features = tuple(f.name.lower() for f in tree.args.get("features") or [])
    if len(set(features)) != len(features):
        raise error_at(tree.args["features"][0], "FEATURES names a column twice")
    return CreateMonitor(name, bool(tree.args.get("replace")), model, version, table,
                         tree.args["time"].name.lower(), features, label, reference, window,
                         thresholds or DEFAULT_THRESHOLDS, every, start, render_indb(tree))


def restored(definition: dict[str, Any]) -> CreateMonitor:
    """A monitor's plan from its catalog record (``dataclasses.asdict`` of it, through JSON)."""
    return CreateMonitor(**{**definition, "features": tuple(definition["features"]),
                            "thresholds": tuple(tuple(t) for t in definition["thresholds"])})


def plan_execute(tree: trees.ExecuteMonitor, catalog: CatalogFacts) -> ExecuteMonitor:
    return ExecuteMonitor(tree.this.name.lower())


def plan_show(tree: trees.ShowMonitors, catalog: CatalogFacts) -> ShowMonitors:
    return ShowMonitors(tree.this.name.lower() if tree.args.get("this") else None)


def plan_drop(tree: trees.DropMonitor, catalog: CatalogFacts) -> DropMonitor:
    return DropMonitor(tree.this.name.lower(), bool(tree.args.get("exists")))


# -- what a run reads and computes ------------------------------------------------------------

def predicted_class(info: ModelInfo, node: exp.Expr | None = None) -> float | None:
    """How a prediction becomes a class to compare with a label: None for a classifier (its
    prediction is the class), else the threshold above which a ``value`` model's output is the
    positive class (its ``threshold`` metric, as the market autoencoder's anomalies)."""
    if info.output == "class":
        return None
    if info.output == "value" and "threshold" in info.metrics:
        return float(info.metrics["threshold"])
    raise error_at(node, f"LABEL needs predictions that are classes: model {info.name} version "
                         f"{info.version} gives {info.output}s with no threshold metric")


def lineage_reference(info: ModelInfo, node: exp.Expr | None = None) -> str:
    """The training data of a model version as DuckDB SQL: its training run's one input query
    (or table), every table in it read at the snapshot the run read."""
    inputs = info.lineage.get("inputs")
    if not isinstance(inputs, list) or len(inputs) != 1:
        raise error_at(node, f"model {info.name} version {info.version} records "
                             f"{'no' if not inputs else 'more than one'} training input; give "
                             "the reference data: REFERENCE (SELECT ...)")
    text = str(inputs[0])
    trees_ = parse(text)
    query = trees_[0] if len(trees_) == 1 and isinstance(trees_[0], exp.Query) \
        else exp.select(exp.Star()).from_(exp.to_table(text))
    snapshots = info.lineage.get("snapshots") or {}
    assert isinstance(snapshots, dict)
    ctes = {cte.alias_or_name.lower() for cte in query.find_all(exp.CTE)}
    for table in query.find_all(exp.Table):
        key = table.name.lower() if not table.db else f"{table.db}.{table.name}".lower()
        snapshot = snapshots.get(key, snapshots.get(key.removeprefix(f"{DEFAULT_SCHEMA}.")))
        if key not in ctes and snapshot is not None and table.args.get("when") is None:
            table.set("when", exp.HistoricalData(this="AT", kind="VERSION",
                                                 expression=exp.Literal.number(snapshot)))
    return render(query)


def windows(first: float, newest: float, window: float, done: float | None) -> tuple[float, float]:
    """The span ``[start, end)`` of the windows a run computes: from the end of those done
    before (else the window holding the table's first row) up to the window holding its newest
    row, which is not complete yet. ``start == end``: nothing to compute."""
    start = done if done is not None else math.floor(first / window) * window
    end = max(start, math.floor(newest / window) * window)
    return start, end


def alert(value: float, rule: tuple[str, str, float]) -> bool:
    _, op, limit = rule
    return value > limit if op == ">" else value < limit
