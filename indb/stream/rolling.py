"""A subscription's pre-processing query evaluated incrementally, outside DuckDB, for the forms
it recognizes (``indb.stream.window`` falls back to DuckDB for the rest).

DuckDB costs about 1 ms of CPU a query before any window and 6 ms for four rolling aggregates
over a few hundred rows: most of a batch. The forms here cost tens of microseconds:

- one SELECT over the subscription's table (no join, WHERE, GROUP BY, ORDER BY, LIMIT, DISTINCT),
  its items ``*``, columns, and expressions built from the ``SCALARS`` table (arithmetic, ``ln``
  ``log`` ``exp`` ``sqrt`` ``abs``, ``coalesce``, ``nullif``, comparisons) over number columns
  and number literals, and window calls from the ``AGGREGATES`` table (``avg sum count min max
  stddev_samp stddev_pop var_samp var_pop``, ``lag(x, k)``, ``row_number()``), each ``OVER`` a
  window (named or not) partitioned by the subscription's key column (or not at all), ordered by
  one column ascending, framed ``ROWS BETWEEN n PRECEDING AND CURRENT ROW``;
- column types for which numpy gives what DuckDB gives: DOUBLE arithmetic (IEEE: ``x / 0`` is
  inf or NaN in DuckDB too), no integer ``+ - *`` or unary minus (DuckDB raises on overflow),
  no DECIMAL results; decided at the first batch, from its types and the output schema DuckDB
  gives for the query over no rows (names and types are DuckDB's).

The window state is numpy: for each key, the last ``history`` values of every windowed argument
(and of the ORDER BY column), right-aligned in a row of a (keys, history) matrix. A batch's rows
are laid out per key after their key's history, each row's frame is gathered as a row of a
(rows, n) matrix, and each aggregate is computed over it exactly (variance in two passes over
values shifted by the frame's first one: a constant frame gives 0 as DuckDB's does), not from
running sums that lose precision. A batch whose rows are not in ORDER BY order within a key
(with its history), has a NULL or NaN there, or makes a variance non-finite (a NaN or an
infinity in the frame, where two-pass and DuckDB's Welford arithmetic part ways) is
``Fallback``: the window runs that batch in DuckDB.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, NamedTuple

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import sqlglot
from sqlglot import exp

from indb.planner import subscriptions as plans


class Unsupported(Exception):
    """Not a form evaluated here: the query runs in DuckDB (``args[0]`` says why)."""


class Fallback(Exception):
    """This batch runs in DuckDB (rows out of order, or a result DuckDB would refuse)."""


class Value(NamedTuple):
    data: np.ndarray
    valid: np.ndarray    # bool: not NULL
    kind: str            # "f" DOUBLE, "i" an integer, "d" a DECIMAL literal, "b" BOOLEAN


# -- scalars ----------------------------------------------------------------------------------

def _number(value: Value, what: str) -> Value:
    if value.kind not in "fid":
        raise Unsupported(f"{what} of a non-number")
    return value


def _doubles(*values: Value) -> list[np.ndarray]:
    return [v.data.astype(np.float64, copy=False) for v in values]


def _compared(*values: Value) -> list[np.ndarray]:
    """Values as compared: integers as they are (a DOUBLE holds 53 bits), else as DOUBLEs."""
    return [v.data for v in values] if {v.kind for v in values} == {"i"} else _doubles(*values)


def _arithmetic(function: Callable[[np.ndarray, np.ndarray], np.ndarray], division: bool
                ) -> Callable[..., Value]:
    def apply(left: Value, right: Value) -> Value:
        kinds = {_number(left, "arithmetic").kind, _number(right, "arithmetic").kind}
        if "d" in kinds and kinds != {"f", "d"}:
            raise Unsupported("DECIMAL arithmetic")
        if kinds == {"i"} and not division:  # DuckDB raises on overflow, numpy wraps
            raise Unsupported("integer arithmetic")
        a, b = _doubles(left, right)
        return Value(function(a, b), left.valid & right.valid, "f")
    return apply


def _math(function: Callable[[np.ndarray], np.ndarray]) -> Callable[..., Value]:
    def apply(value: Value) -> Value:
        if _number(value, "a function").kind == "d":
            raise Unsupported("a function of a DECIMAL")
        return Value(function(_doubles(value)[0]), value.valid, "f")
    return apply


def _double_only(function: Callable[[np.ndarray], np.ndarray], what: str) -> Callable[..., Value]:
    def apply(value: Value) -> Value:
        if value.kind != "f":
            raise Unsupported(f"{what} of a non-DOUBLE")  # integers: DuckDB raises on overflow
        return Value(function(value.data), value.valid, "f")
    return apply


def _negative(value: Value) -> Value:
    """Unary minus of a DOUBLE, or of a DECIMAL literal (exact); DuckDB checks integers'."""
    if value.kind == "d":
        return Value(-value.data, value.valid, "d")
    return _double_only(np.negative, "unary minus")(value)


def _log(base: Value, value: Value | None = None) -> Value:
    """``log(x)`` (base 10 in DuckDB; sqlglot puts x in ``this``) or ``log(b, x)``."""
    if value is None:
        return _math(np.log10)(base)
    b, x = _doubles(_number(base, "log"), _number(value, "log"))
    return Value(np.log(x) / np.log(b), base.valid & value.valid, "f")


def _common(values: tuple[Value, ...], what: str) -> str:
    """The kind of values combined into one (coalesce, nullif, comparisons)."""
    kinds = {v.kind for v in values}
    if kinds <= {"f", "i", "d"} and not ("d" in kinds and kinds != {"f", "d"}):
        return "f" if "f" in kinds else "i"
    if kinds == {"b"}:
        return "b"
    raise Unsupported(f"{what} of mixed types")


def _coalesce(*values: Value) -> Value:
    kind = _common(values, "coalesce")
    cast = [v.data.astype(np.float64, copy=False) if kind == "f" else v.data for v in values]
    data, valid = cast[-1].copy(), values[-1].valid.copy()
    for part, value in zip(reversed(cast[:-1]), reversed(values[:-1])):
        data = np.where(value.valid, part, data)
        valid = value.valid | valid
    return Value(data, valid, kind)


def _equal(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """DuckDB's equality of DOUBLEs: NaN equals NaN."""
    return (a == b) | (np.isnan(a) & np.isnan(b))


def _greater(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """DuckDB's order of DOUBLEs: NaN above everything."""
    return (a > b) | (np.isnan(a) & ~np.isnan(b))


def _nullif(value: Value, other: Value) -> Value:
    if _common((value, other), "nullif") != value.kind and value.kind != "f":
        raise Unsupported("nullif of mixed types")
    a, b = _compared(value, other)
    return Value(value.data, value.valid & ~(other.valid & _equal(a, b)), value.kind)


def _comparison(test: Callable[[np.ndarray, np.ndarray], np.ndarray]) -> Callable[..., Value]:
    def apply(left: Value, right: Value) -> Value:
        if _common((left, right), "a comparison") == "b":
            raise Unsupported("a comparison of BOOLEANs")
        a, b = _compared(left, right)
        return Value(test(a, b), left.valid & right.valid, "b")
    return apply


# what each sqlglot class computes from its operands' values (``this``, ``expression``,
# ``expressions``, in that order)
SCALARS: dict[type[exp.Expr], Callable[..., Value]] = {
    exp.Add: _arithmetic(np.add, False),
    exp.Sub: _arithmetic(np.subtract, False),
    exp.Mul: _arithmetic(np.multiply, False),
    exp.Div: _arithmetic(np.divide, True),
    exp.Neg: _negative,
    exp.Abs: _double_only(np.abs, "abs"),
    exp.Paren: lambda value: value,
    exp.Ln: _math(np.log),
    exp.Log: _log,
    exp.Exp: _math(np.exp),
    exp.Sqrt: _math(np.sqrt),
    exp.Coalesce: _coalesce,
    exp.Nullif: _nullif,
    exp.EQ: _comparison(_equal),
    exp.NEQ: _comparison(lambda a, b: ~_equal(a, b)),
    exp.GT: _comparison(_greater),
    exp.GTE: _comparison(lambda a, b: _greater(a, b) | _equal(a, b)),
    exp.LT: _comparison(lambda a, b: _greater(b, a)),
    exp.LTE: _comparison(lambda a, b: _greater(b, a) | _equal(a, b)),
}


# -- window aggregates ------------------------------------------------------------------------

class Frame(NamedTuple):
    """A window's argument over each row's frame: values (rows, n), present (not NULL, a row);
    shared by the aggregates over it: the values present as DOUBLEs (else 0), how many."""
    values: np.ndarray
    present: np.ndarray
    kind: str
    filled: np.ndarray
    counted: np.ndarray


def frame_of(values: np.ndarray, present: np.ndarray, kind: str) -> Frame:
    return Frame(values, present, kind, np.where(present, values, 0).astype(np.float64, copy=False),
                 present.sum(axis=1))


def _count(frame: Frame) -> Value:
    return Value(frame.counted.astype(np.int64), np.ones(len(frame.counted), bool), "i")


def _sum(frame: Frame) -> Value:
    if frame.kind != "f":
        raise Unsupported("sum of integers (HUGEINT in DuckDB)")
    return Value(frame.filled.sum(axis=1), frame.counted > 0, "f")


def _avg(frame: Frame) -> Value:
    counted = frame.counted
    return Value(frame.filled.sum(axis=1) / np.maximum(counted, 1), counted > 0, "f")


def _extreme(largest: bool) -> Callable[[Frame], Value]:
    def apply(frame: Frame) -> Value:
        present, values = frame.present, frame.values
        if frame.kind == "i":
            info = np.iinfo(values.dtype)
            fill = info.min if largest else info.max
            chosen = np.where(present, values, fill)
            return Value(chosen.max(axis=1) if largest else chosen.min(axis=1),
                         np.asarray(present.any(axis=1)), "i")
        if frame.kind != "f":
            raise Unsupported("min/max of a non-number")
        nan = present & np.isnan(values)
        number = present & ~nan
        if largest:  # NaN is above every number in DuckDB
            best = np.where(number, values, -np.inf).max(axis=1)
            best = np.where(nan.any(axis=1), np.nan, best)
        else:
            best = np.where(number, values, np.inf).min(axis=1)
            best = np.where(number.any(axis=1), best, np.nan)
        return Value(best, np.asarray(present.any(axis=1)), "f")
    return apply


def _variance(sample: bool, root: bool) -> Callable[[Frame], Value]:
    def apply(frame: Frame) -> Value:
        present, values, counted = frame.present, frame.filled, frame.counted
        first = values[np.arange(len(values)), present.argmax(axis=1)]
        shifted = np.where(present, values - first[:, None], 0.0)  # constant frames: exactly 0
        mean = shifted.sum(axis=1) / np.maximum(counted, 1)
        squares = (np.where(present, shifted - mean[:, None], 0.0) ** 2).sum(axis=1)
        result = squares / np.maximum(counted - (1 if sample else 0), 1)
        valid = counted > (1 if sample else 0)
        if root:
            result = np.sqrt(result)
        if not np.isfinite(result[valid]).all():  # NaN, inf in the frame: DuckDB's way
            raise Fallback("a variance that is not finite")
        return Value(result, valid, "f")
    return apply


def _lag(frame: Frame) -> Value:
    """``lag(x, k)``: the frame is the k rows before and the row; the first is the one."""
    return Value(frame.values[:, 0], frame.present[:, 0], frame.kind)


AGGREGATES: dict[type[exp.Expr], Callable[[Frame], Value]] = {
    exp.Count: _count,
    exp.Sum: _sum,
    exp.Avg: _avg,
    exp.Min: _extreme(False),
    exp.Max: _extreme(True),
    exp.Stddev: _variance(True, True),
    exp.StddevSamp: _variance(True, True),
    exp.StddevPop: _variance(False, True),
    exp.Variance: _variance(True, False),
    exp.VariancePop: _variance(False, False),
    exp.Lag: _lag,
}


# -- the recognized query -----------------------------------------------------------------------

Scalar = Callable[["Batch"], Value]


@dataclass(frozen=True)
class Call:
    """A window call: its function, argument (None: ``*``), frame size (rows) and ORDER BY."""
    function: type[exp.Expr]
    argument: str | None         # the argument's SQL: its values are kept per key
    size: int
    order: str


@dataclass(frozen=True)
class Query:
    """A recognized query: its items (``None``: ``*``; a name: that column as it is; else a
    scalar program), its windowed arguments, the key and the ORDER BY column."""
    items: tuple[str | Scalar | None, ...]
    arguments: dict[str, Scalar]
    key: str | None
    order: str | None


def recognize(query: str, keys: tuple[str, ...]) -> Query:
    """The query (as planned: over ``BATCH``, windowed ones wrapped to keep ``NEW`` rows) as
    evaluated here; Unsupported saying why not."""
    tree = sqlglot.parse_one(query, dialect="duckdb")
    inner = _unwrapped(tree)
    if not isinstance(inner, exp.Select):
        raise Unsupported("not one SELECT")
    extra = sorted(k for k, v in inner.args.items() if v and k not in ("expressions", "from_",
                                                                          "windows"))
    if extra:
        raise Unsupported(f"a SELECT with {', '.join(extra)}")
    source = inner.args["from_"].this
    if not isinstance(source, exp.Table) or source.name != plans.BATCH or source.args.get("joins"):
        raise Unsupported("not a SELECT over the table alone")
    if len(keys) > 1:
        raise Unsupported("windows partitioned by several columns")
    named = {w.this.name.lower(): w for w in inner.args.get("windows") or []}
    found = _Found(named, keys[0] if keys else None)
    items = tuple(found.item(node) for node in inner.expressions)
    orders = {call.order for call in found.calls}
    if len(orders) > 1:
        raise Unsupported("windows ordered by different columns")
    return Query(items, found.arguments, found.key if found.calls else None,
                 orders.pop() if orders else None)


def _unwrapped(tree: exp.Expr) -> exp.Expr:
    """The planner's SELECT * EXCLUDE (NEW) FROM (SELECT ..., NEW ...) WHERE NEW: the inner
    SELECT without its NEW column; any other query as it is."""
    where = tree.args.get("where")
    if not (isinstance(tree, exp.Select) and isinstance(where, exp.Where)
            and isinstance(where.this, exp.Column) and where.this.name == plans.NEW):
        return tree
    inner = tree.args["from_"].this.this.copy()
    inner.set("expressions", [e for e in inner.expressions
                              if not (isinstance(e, exp.Column) and e.name == plans.NEW)])
    return inner


class _Found:
    """What a query's items use, gathered while they are compiled."""

    def __init__(self, named: dict[str, exp.Window], key: str | None) -> None:
        self.named, self.key = named, key
        self.calls: list[Call] = []
        self.arguments: dict[str, Scalar] = {}

    def item(self, node: exp.Expr) -> str | Scalar | None:
        if isinstance(node, exp.Alias):
            node = node.this
        if isinstance(node, exp.Star):
            if any(node.args.get(k) for k in ("except_", "replace", "rename")):
                raise Unsupported("* with EXCLUDE/REPLACE")
            return None
        if isinstance(node, exp.Column):
            return _column_name(node)
        return self.scalar(node)

    def scalar(self, node: exp.Expr) -> Scalar:
        if isinstance(node, exp.Column):
            name = _column_name(node)
            return lambda batch: batch.column(name)
        if isinstance(node, exp.Literal):
            return _literal(node)
        if isinstance(node, exp.Window):
            return self.window(node)
        function = SCALARS.get(type(node))
        if function is None:
            raise Unsupported(f"{node.key} is not evaluated incrementally")
        operands = _operands(node)
        parts = [self.scalar(o) for o in operands]
        return lambda batch: function(*[part(batch) for part in parts])

    def window(self, node: exp.Window) -> Scalar:
        call = node.this
        function = type(call)
        base = self.named.get(node.alias.lower()) if isinstance(node.args.get("alias"),
                                                                exp.Identifier) else None
        if node.args.get("alias") is not None and base is None:
            raise Unsupported("an unknown named window")
        partition = node.args.get("partition_by") or (base.args.get("partition_by") if base else [])
        order = node.args.get("order") or (base.args.get("order") if base else None)
        spec = node.args.get("spec") or (base.args.get("spec") if base else None)
        if [_column_name(p) if isinstance(p, exp.Column) else None for p in partition or []] != \
                ([self.key] if self.key else []):
            raise Unsupported("a window not partitioned by the subscription's key")
        ordered = order.expressions if isinstance(order, exp.Order) else []
        if len(ordered) != 1 or not isinstance(ordered[0].this, exp.Column) \
                or ordered[0].args.get("desc") or ordered[0].args.get("nulls_first"):
            raise Unsupported("a window not ordered by one column ascending")
        by = _column_name(ordered[0].this)
        if isinstance(call, exp.RowNumber):
            self.calls.append(Call(function, None, 1, by))
            return lambda batch: batch.row_number()
        if isinstance(call, exp.Lag):
            size = _lag_offset(call) + 1
            if call.args.get("default") is not None:
                raise Unsupported("lag with a default")
        else:
            size = _frame_size(spec)
        if function not in AGGREGATES:
            raise Unsupported(f"the window function {call.key}")
        if any(v for k, v in call.args.items() if k not in ("this", "offset", "big_int")):
            raise Unsupported(f"{call.key} with {', '.join(k for k, v in call.args.items() if v)}")
        argument = call.this
        if isinstance(argument, exp.Star) and function is exp.Count:
            key = None
        elif isinstance(argument, exp.Expr) and not isinstance(argument, exp.Star) \
                and not any(isinstance(n, exp.Window) for n in argument.find_all(exp.Window)):
            key = argument.sql(dialect="duckdb")
            self.arguments.setdefault(key, self.scalar(argument))
        else:
            raise Unsupported(f"the argument of {call.key}")
        made = Call(function, key, size, by)
        self.calls.append(made)
        return lambda batch: AGGREGATES[made.function](batch.frame(made))


def _operands(node: exp.Expr) -> list[exp.Expr]:
    args = node.args
    if any(v for k, v in args.items() if k not in ("this", "expression", "expressions")):
        raise Unsupported(f"{node.key} with {', '.join(k for k, v in args.items() if v)}")
    operands = [args[k] for k in ("this", "expression") if args.get(k) is not None]
    return operands + list(args.get("expressions") or [])


def _column_name(node: exp.Column) -> str:
    return node.name


def _literal(node: exp.Literal) -> Scalar:
    if node.is_string:
        raise Unsupported("a string literal")
    text = node.name
    if any(c in text for c in "eE"):
        kind, number = "f", float(text)
    elif "." in text:
        kind, number = "d", float(text)
    else:
        kind, number = "i", int(text)
    return lambda batch: Value(np.full(batch.count, number), np.ones(batch.count, bool), kind)


def _lag_offset(call: exp.Lag) -> int:
    offset = call.args.get("offset")
    if offset is None:
        return 1
    if isinstance(offset, exp.Literal) and offset.is_int and int(offset.name) >= 0:
        return int(offset.name)
    raise Unsupported("lag by something other than a whole number")


def _frame_size(spec: exp.Expr | None) -> int:
    """Rows in ``ROWS BETWEEN n PRECEDING AND CURRENT ROW`` (n + 1)."""
    if not isinstance(spec, exp.WindowSpec) or str(spec.args.get("kind")).upper() != "ROWS" \
            or str(spec.args.get("end")).upper() != "CURRENT ROW" or spec.args.get("end_side") \
            or any(spec.args.get(k) for k in spec.args if k not in ("kind", "start", "start_side",
                                                                    "end", "end_side")):
        raise Unsupported("a frame other than ROWS BETWEEN n PRECEDING AND CURRENT ROW")
    start, side = spec.args.get("start"), str(spec.args.get("start_side") or "").upper()
    if str(start).upper() == "CURRENT ROW":
        return 1
    if isinstance(start, exp.Literal) and start.is_int and side == "PRECEDING":
        return int(start.name) + 1
    raise Unsupported("a frame other than ROWS BETWEEN n PRECEDING AND CURRENT ROW")


# -- the state and a batch --------------------------------------------------------------------

def values_of(column: pa.ChunkedArray | pa.Array) -> Value:
    """A column as a Value (numbers and booleans; times as their integers, for ORDER BY)."""
    kind_of = column.type
    if (pa.types.is_floating(kind_of) and kind_of != pa.float64()) or kind_of == pa.uint64():
        raise Unsupported(f"a {kind_of} column")
    if pa.types.is_floating(kind_of):
        kind, zero = "f", 0.0
    elif pa.types.is_integer(kind_of) or pa.types.is_temporal(kind_of):
        kind, zero = "i", 0  # times: their integers (numpy's datetime64 viewed as int64)
    elif pa.types.is_boolean(kind_of):
        kind, zero = "b", False
    else:
        raise Unsupported(f"a {kind_of} column in an expression")
    if pa.types.is_temporal(kind_of) and not (pa.types.is_timestamp(kind_of)
                                              or pa.types.is_duration(kind_of)):
        raise Unsupported(f"a {kind_of} column")
    nulls = column.null_count
    valid = np.asarray(column.is_valid()) if nulls else np.ones(len(column), bool)
    data = np.asarray(column.fill_null(pa.scalar(zero, kind_of)) if nulls else column)
    if kind == "i":
        data = data.view(np.int64) if data.dtype.kind in "mM" else data.astype(np.int64, copy=False)
    return Value(data, valid, kind)


SMALL = 64  # rows: up to this many, a batch's keys are looked up one by one


class State:
    """Each key's last ``history`` values of the windowed arguments and of the ORDER BY column,
    right-aligned in matrices of a row a key (``fill``: how many are rows)."""

    def __init__(self, history: int) -> None:
        self.history = history
        self.slots: dict[Any, int] = {}
        self.fill = np.zeros(0, np.int64)
        self.values: dict[str, Value] = {}  # an argument's (keys, history) values, valid

    def slots_of(self, keys: pa.ChunkedArray | None, count: int) -> np.ndarray:
        """Each row's key's slot (new keys get one)."""
        if keys is None:
            names, indices = [None], np.zeros(count, np.int64)
        elif count <= SMALL:  # a dict lookup a row costs less than encoding the column
            return np.array([self._slot(name) for name in keys.to_pylist()], np.int64)
        else:
            encoded = pc.dictionary_encode(keys.combine_chunks() if isinstance(keys, pa.ChunkedArray)
                                           else keys)
            names = encoded.dictionary.to_pylist() + [None]
            indices = np.asarray(encoded.indices.fill_null(len(names) - 1)
                                 if encoded.indices.null_count else encoded.indices)
        lookup = np.array([self._slot(name) for name in names], np.int64)
        return lookup[indices]

    def _slot(self, name: Any) -> int:
        slot = self.slots.get(name)
        if slot is None:
            slot = self.slots[name] = len(self.slots)
            if slot >= len(self.fill):
                self._grow(max(16, 2 * slot))
        return slot

    def _grow(self, size: int) -> None:
        grown = size - len(self.fill)
        self.fill = np.r_[self.fill, np.zeros(grown, np.int64)]
        for name, held in self.values.items():
            self.values[name] = Value(
                np.r_[held.data, np.zeros((grown, self.history), held.data.dtype)],
                np.r_[held.valid, np.zeros((grown, self.history), bool)], held.kind)

    def held(self, name: str, like: Value) -> Value:
        if name not in self.values:
            self.values[name] = Value(np.zeros((len(self.fill), self.history), like.data.dtype),
                                      np.zeros((len(self.fill), self.history), bool), like.kind)
        return self.values[name]


class Layout:
    """A batch's rows laid out per key after their key's history: each key a segment of
    ``history + its rows`` places in one flat array."""

    def __init__(self, state: State, slots: np.ndarray) -> None:
        history, count = state.history, len(slots)
        self.state = state
        self.keys, segment, counts = np.unique(slots, return_inverse=True, return_counts=True)
        segment = segment.reshape(-1)  # (numpy 2.0 shaped it as ``slots``)
        lengths = history + counts
        self.counts, self.segment, self.size = counts, segment, int(lengths.sum())
        self.starts = np.cumsum(lengths) - lengths
        place = np.zeros(count, np.int64)  # each row's place among its key's rows
        if len(counts) < count:
            order = np.argsort(segment, kind="stable")
            place[order] = np.arange(count) - np.repeat(np.cumsum(counts) - counts, counts)
        self.place = place
        self.ends = self.starts[segment] + history + place  # each row's own place, flat
        self.windows: dict[int, tuple[np.ndarray, np.ndarray]] = {}
        self.held_at = (self.starts[:, None] + np.arange(history)).ravel()
        self.fill = state.fill[self.keys]
        self.exists = np.ones(self.size, bool)
        self.exists[self.held_at] = (np.arange(history) >= history - self.fill[:, None]).ravel()

    def flat(self, held: Value, batch: Value) -> Value:
        """Held values of the batch's keys and the batch's values, laid out."""
        data = np.empty(self.size, np.result_type(held.data.dtype, batch.data.dtype))
        valid = np.empty(self.size, bool)
        data[self.held_at], valid[self.held_at] = held.data[self.keys].ravel(), \
            held.valid[self.keys].ravel()
        data[self.ends], valid[self.ends] = batch.data, batch.valid
        return Value(data, valid & self.exists, batch.kind)

    def window(self, size: int) -> tuple[np.ndarray, np.ndarray]:
        """Each row's frame of ``size`` rows (places, flat) and which of them are rows."""
        if size not in self.windows:
            places = self.ends[:, None] - np.arange(size - 1, -1, -1)
            inside = places >= self.starts[self.segment][:, None]
            places = np.maximum(places, 0)
            self.windows[size] = places, inside & self.exists[places]
        return self.windows[size]

    def in_order(self, order: Value) -> bool:
        """Whether each key's rows (history and batch) are ascending, without NULL or NaN."""
        rows = self.exists
        if not order.valid[rows].all() or (order.kind == "f" and np.isnan(order.data[rows]).any()):
            return False
        both = rows[1:] & rows[:-1]  # neighbours that are rows of one key (segments begin empty
        both[self.starts[1:] - 1] = False  # or with a row after the one before's last)
        return bool((order.data[1:][both] >= order.data[:-1][both]).all())

    def kept(self, flat: Value) -> Value:
        """Each key's new last ``history`` values from a laid-out array."""
        history = self.state.history
        places = (self.starts + self.counts)[:, None] + np.arange(history)
        return Value(flat.data[places], flat.valid[places], flat.kind)


class Batch:
    """One batch as the compiled query sees it."""

    def __init__(self, rows: pa.Table, layout: Layout | None) -> None:
        self.rows, self.layout, self.count = rows, layout, rows.num_rows
        self.columns: dict[str, Value] = {}
        self.arguments: dict[str, Value] = {}   # each windowed argument, laid out
        self.frames: dict[tuple[str | None, int], Frame] = {}

    def column(self, name: str) -> Value:
        if name not in self.columns:
            if name not in self.rows.column_names:
                raise Unsupported(f"{name} is not a column of the table")
            self.columns[name] = values_of(self.rows[name])
        return self.columns[name]

    def frame(self, call: Call) -> Frame:
        key = (call.argument, call.size)
        if key not in self.frames:
            assert self.layout is not None
            places, inside = self.layout.window(call.size)
            if call.argument is None:
                self.frames[key] = frame_of(np.zeros(places.shape), inside, "f")
            else:
                flat = self.arguments[call.argument]
                self.frames[key] = frame_of(flat.data[places], inside & flat.valid[places],
                                            flat.kind)
        return self.frames[key]

    def row_number(self) -> Value:
        assert self.layout is not None
        number = self.layout.fill[self.layout.segment] + self.layout.place + 1
        return Value(number.astype(np.int64), np.ones(self.count, bool), "i")


ORDER = "\0order"  # the ORDER BY column's held values (a name no argument's SQL has)


@dataclass
class Pending:
    """A batch prepared: its rows, as the query sees them, and its laid-out values."""
    rows: pa.Table
    batch: Batch
    flats: dict[str, Value]


class Rolling:
    """A recognized query over batch after batch, with its window state."""

    def __init__(self, query: Query, history: int, schema: pa.Schema) -> None:
        self.query, self.schema = query, schema  # ``schema``: DuckDB's for the query
        self.state = State(history)
        self.windowed = query.order is not None

    def prepare(self, rows: pa.Table) -> Pending:
        """The batch's rows laid out after their keys' history (the state is not changed)."""
        layout = None
        if self.windowed:
            keys = rows[self.query.key] if self.query.key is not None else None
            layout = Layout(self.state, self.state.slots_of(keys, rows.num_rows))
        batch, flats = Batch(rows, layout), {}
        if layout is not None:
            assert self.query.order is not None
            with np.errstate(all="ignore"):
                named = {**self.query.arguments, ORDER: lambda b: b.column(self.query.order)}
                for name, scalar in named.items():
                    value = scalar(batch)
                    if value.kind not in "fi":
                        raise Unsupported("a window over a non-number")
                    flats[name] = layout.flat(self.state.held(name, value), value)
            batch.arguments = flats
        return Pending(rows, batch, flats)

    def output(self, pending: Pending) -> pa.Table:
        """The query's rows for a prepared batch (in the batch's order); Fallback where DuckDB
        has to run it."""
        batch = pending.batch
        if batch.layout is not None and not batch.layout.in_order(pending.flats[ORDER]):
            raise Fallback("rows out of order")
        columns: list[pa.Array | pa.ChunkedArray] = []
        with np.errstate(all="ignore"):
            for item in self.query.items:
                if item is None:
                    columns += [pending.rows[n] for n in pending.rows.column_names
                                if n != plans.NEW]
                elif isinstance(item, str):
                    if item not in pending.rows.column_names:
                        raise Unsupported(f"{item} is not a column of the table")
                    columns.append(pending.rows[item])
                else:
                    columns.append(_arrow(item(batch)))
        if len(columns) != len(self.schema):
            raise Unsupported("items that DuckDB names otherwise")
        return pa.Table.from_arrays([_as(c, f.type) for c, f in zip(columns, self.schema)],
                                    schema=self.schema)

    def keep(self, pending: Pending) -> None:
        """The batch's rows into the state: each of its keys' last ``history`` values."""
        layout = pending.batch.layout
        if layout is None:
            return
        for name, flat in pending.flats.items():
            held = self.state.values[name]
            kept = layout.kept(flat)
            held.data[layout.keys], held.valid[layout.keys] = kept.data, kept.valid
        self.state.fill[layout.keys] = np.minimum(self.state.history, layout.fill + layout.counts)


def _arrow(value: Value) -> pa.Array:
    if value.kind == "d":
        raise Unsupported("a DECIMAL item")
    return pa.array(value.data, mask=None if value.valid.all() else ~value.valid)


# the Arrow types a computed item of each kind may be cast to, to be DuckDB's
CASTS: dict[str, Callable[[pa.DataType], bool]] = {
    "float64": lambda t: t == pa.float64(),
    "int64": pa.types.is_integer,
    "bool": pa.types.is_boolean,
}


def _as(column: pa.Array | pa.ChunkedArray, target: pa.DataType) -> pa.Array | pa.ChunkedArray:
    """A column as DuckDB's type for it: a column of the table as it is, a computed one only
    to its own kind (an integer to a narrower one, checked)."""
    if column.type == target:
        return column
    if isinstance(column, pa.Array) and not CASTS.get(str(column.type), lambda t: False)(target):
        raise Unsupported(f"DuckDB's {target} for a computed {column.type}")
    try:
        return column.cast(target)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as error:
        raise Fallback(str(error)) from None
