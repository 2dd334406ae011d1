"""A cached-plan fast path for ``SELECT PREDICT('m', ...)`` of one row: no table, each column a
PREDICT call on typed literals (``0.3::FLOAT``) or ``?`` parameters.

The first time a statement's text runs, it takes the ordinary path; if it has that shape, its
plan (the model versions PREDICT bound to), the served predictors and the result's names and
types are kept. Later runs of the same text by the same user call the predictors directly, with
no parse, plan, DuckDB connection or function registration, while nothing changed: SQLite's
``PRAGMA data_version`` on a connection of the cache's own changes with every commit any other
connection makes to the catalog file (a new model version, an alias moved, a grant, a table), so
any such commit sends the next run back to the ordinary path, which learns again. The privilege
check still runs every time. A catalog that is not a SQLite file has no stamp: no fast path.
"""

from __future__ import annotations

import sqlite3
import threading
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa
from sqlglot import exp

from indb import planner
from indb.engine import privileges
from indb.parser import parse
from indb.query import predict
from indb.result import Result
from indb.runtime.predictors import Predictor

if TYPE_CHECKING:
    from indb.engine.core import Engine

KEPT = 256  # statements kept, the least recently run dropped first
DTYPES = {"FLOAT": np.float32, "DOUBLE": np.float64}  # what DuckDB hands PREDICT for each cast


@dataclass(frozen=True)
class Argument:
    """A feature: a literal of a dtype, or the ``index``-th parameter."""

    value: float | None = None
    dtype: Any = None
    index: int | None = None


@dataclass(frozen=True)
class Shortcut:
    tree: exp.Expr           # the statement, for the privilege check
    user: str
    stamp: int               # the catalog's data_version when it was planned
    predictors: tuple[Predictor, ...]
    arguments: tuple[tuple[Argument, ...], ...]  # a column's features
    schema: pa.Schema
    types: tuple[Any, ...] | None
    parameters: int          # how many ``?`` it takes


class Shortcuts:
    def __init__(self, catalog_file: str | None) -> None:
        self._stamps = sqlite3.connect(catalog_file, check_same_thread=False) \
            if catalog_file else None
        self._lock = threading.Lock()
        self._kept: OrderedDict[str, Shortcut] = OrderedDict()

    def stamp(self) -> int | None:
        if self._stamps is None:
            return None
        with self._lock:
            return int(self._stamps.execute("PRAGMA data_version").fetchone()[0])

    def run(self, engine: Engine, sql: str, params: object) -> Result | None:
        """The statement's result by the fast path, or None to take the ordinary one."""
        shortcut = self._kept.get(sql)
        if shortcut is None or shortcut.user != engine.user or shortcut.stamp != self.stamp():
            return None
        values = _parameters(params, shortcut.parameters)
        if values is None:
            return None
        privileges.check(engine, shortcut.tree, shortcut.user)
        columns = []
        for predictor, arguments in zip(shortcut.predictors, shortcut.arguments):
            rows = np.column_stack([np.array([values[a.index] if a.index is not None else a.value],
                                             dtype=a.dtype) for a in arguments])
            assert predictor.info is not None
            columns.append(predict.as_arrow(predictor.info, predictor.predict(rows)))
        result = Result(pa.Table.from_arrays(columns, schema=shortcut.schema))
        result.types = shortcut.types
        self._kept.move_to_end(sql)
        return result

    def learn(self, engine: Engine, sql: str, tree: exp.Expr, plan: planner.Plan,
              result: Result, stamp: int | None) -> None:
        """Keep the statement if it has the fast path's shape (``stamp``: read before planning)."""
        if stamp is None or not isinstance(plan, planner.WithPredictions) \
                or not isinstance(plan.plan, planner.Query):
            return
        shape = _shape(plan)
        if shape is None:
            return
        functions, arguments, parameters = shape
        bound = {p.function.lower(): p for p in plan.predictions}
        predictors = tuple(engine.served_model(bound[f].model, bound[f].version) for f in functions)
        self._kept[sql] = Shortcut(tree, engine.user, stamp, predictors, arguments, result.schema,
                                   tuple(result.types) if result.types is not None else None,
                                   parameters)
        self._kept.move_to_end(sql)
        while len(self._kept) > KEPT:
            self._kept.popitem(last=False)

    def close(self) -> None:
        if self._stamps is not None:
            self._stamps.close()


def _shape(plan: planner.WithPredictions) -> tuple[list[str], tuple[tuple[Argument, ...], ...],
                                                   int] | None:
    """Each column's PREDICT function and features, if the planned query is a SELECT of PREDICT
    calls on typed literals and parameters alone; else None."""
    assert isinstance(plan.plan, planner.Query)
    trees = parse(plan.plan.sql)
    select = trees[0] if len(trees) == 1 else None
    if not isinstance(select, exp.Select) or any(
            value for key, value in select.args.items() if key != "expressions"):
        return None
    names = {p.function.lower() for p in plan.predictions}
    functions, columns, parameters = [], [], 0
    for column in select.expressions:
        call = column.this if isinstance(column, exp.Alias) else column
        if not isinstance(call, exp.Anonymous) or str(call.this).lower() not in names:
            return None
        features = []
        for argument in call.expressions:
            feature = _feature(argument, parameters)
            if feature is None:
                return None
            parameters += feature.index is not None
            features.append(feature)
        functions.append(str(call.this).lower())
        columns.append(tuple(features))
    return functions, tuple(columns), parameters


def _feature(node: exp.Expr, parameters: int) -> Argument | None:
    if isinstance(node, exp.Placeholder) and node.args.get("this") is None:  # ?, not $1 or :name
        return Argument(index=parameters)
    sign = 1.0
    while isinstance(node, exp.Paren | exp.Neg):
        sign = -sign if isinstance(node, exp.Neg) else sign
        node = node.this
    if isinstance(node, exp.Cast) and isinstance(node.this, exp.Literal) and not node.this.is_string:
        dtype = DTYPES.get(node.to.this.value if isinstance(node.to.this, exp.DType) else "")
        if dtype is not None:
            return Argument(value=sign * float(node.this.name), dtype=dtype)
    return None


def _parameters(params: object, count: int) -> Sequence[Any] | None:
    """The ``?`` values when each is a number, as DuckDB binds them (float DOUBLE, int BIGINT)."""
    if count == 0:
        return () if params is None or params == () or params == [] else None
    if not isinstance(params, list | tuple) or len(params) != count or any(
            isinstance(v, bool) or not isinstance(v, int | float) for v in params):
        return None
    return params
