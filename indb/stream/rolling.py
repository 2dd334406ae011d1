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
  one column ascending, framed ``ROWS BETWEEN n PRECEDING AND CURRENT ROW``; both tables, and
  what the numpy functions in them compute, are ``indb.stream.kernels``';
- column types for which numpy gives what DuckDB gives: DOUBLE arithmetic (IEEE: ``x / 0`` is
  inf or NaN in DuckDB too), no integer ``+ - *`` or unary minus (DuckDB raises on overflow),
  no DECIMAL results; decided at the first batch, from its types and the output schema DuckDB
  gives for the query over no rows (names and types are DuckDB's).

The window state is numpy: for each key, the last ``history`` values of every windowed argument
(and of the ORDER BY column), right-aligned in a row of a (keys, history) matrix. A batch's rows
are laid out per key after their key's history, each row's frame is gathered as a row of a
(rows, n) matrix (a slice of a (rows, history + 1) matrix where the batch's keys are distinct,
as a small batch's usually are), and each aggregate is computed over it exactly (variance in two
passes over values shifted by the frame's first one: a constant frame gives 0 as DuckDB's does),
not from running sums that lose precision. A batch whose rows are not in ORDER BY order within a
key (with its history), has a NULL or NaN there, or makes a variance non-finite (a NaN or an
infinity in the frame, where two-pass and DuckDB's Welford arithmetic part ways) is
``Fallback``: the window runs that batch in DuckDB.

A batch is a few rows: what it costs is numpy's and Python's cost a call, not a row. So where
nothing is NULL and every key's history is full (the usual case), validity is ``None`` rather
than masks of trues, and the frames are views rather than gathers; the general arrays of a
layout are made only where wanted.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property, lru_cache
from typing import Any, Callable, NamedTuple

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import sqlglot
from sqlglot import exp

from indb.planner import subscriptions as plans
from indb.stream.kernels import (AGGREGATES, SCALARS, Fallback, Frame, Unsupported, Value,
                                 everywhere)

__all__ = ["Fallback", "Pending", "Query", "Rolling", "Unsupported", "recognize"]

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
        parts = [self.scalar(o) for o in _operands(node)]
        if len(parts) == 1:  # (most nodes: without the list, a call less each)
            (only,) = parts
            return lambda batch: function(only(batch))
        if len(parts) == 2:
            left, right = parts
            return lambda batch: function(left(batch), right(batch))
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
    made: dict[int, Value] = {}  # by rows, for small batches (read-only: shared by them)

    def value(batch: Batch) -> Value:
        if batch.count in made:
            return made[batch.count]
        data = np.full(batch.count, number)
        data.flags.writeable = False
        if batch.count <= SMALL:
            made[batch.count] = Value(data, None, kind)
        return Value(data, None, kind)
    return value


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

@lru_cache(maxsize=None)
def _type_kind(kind_of: pa.DataType) -> tuple[str, Any]:
    """A column type's kind as a Value, and its zero (for NULLs' places)."""
    if (pa.types.is_floating(kind_of) and kind_of != pa.float64()) or kind_of == pa.uint64():
        raise Unsupported(f"a {kind_of} column")
    if pa.types.is_temporal(kind_of) and not (pa.types.is_timestamp(kind_of)
                                              or pa.types.is_duration(kind_of)):
        raise Unsupported(f"a {kind_of} column")
    if pa.types.is_floating(kind_of):
        return "f", 0.0
    if pa.types.is_integer(kind_of) or pa.types.is_temporal(kind_of):
        return "i", 0  # times: their integers (numpy's datetime64 viewed as int64)
    if pa.types.is_boolean(kind_of):
        return "b", False
    raise Unsupported(f"a {kind_of} column in an expression")


def values_of(column: pa.ChunkedArray | pa.Array) -> Value:
    """A column as a Value (numbers and booleans; times as their integers, for ORDER BY)."""
    kind, zero = _type_kind(column.type)
    if column.null_count:
        valid: np.ndarray | None = np.asarray(column.is_valid())
        data = np.asarray(column.fill_null(pa.scalar(zero, column.type)))
    else:
        valid, data = None, np.asarray(column)
    if kind == "i":
        data = data.view(np.int64) if data.dtype.kind in "mM" else data.astype(np.int64, copy=False)
    return Value(data, valid, kind)


SMALL = 64  # rows: up to this many, a batch's keys are looked up one by one


class Grouping(NamedTuple):
    """A batch's rows grouped by key: each row's key's segment, each segment's rows, each row's
    place among its key's rows."""
    segment: np.ndarray
    counts: np.ndarray
    place: np.ndarray


def _grouped_few(slots: list[int]) -> tuple[np.ndarray, Grouping]:
    """A few rows' slots grouped in Python (numpy's unique and argsort cost more for a few),
    the keys in the order of their first rows."""
    segments: dict[int, int] = {}
    place: list[int] = []
    counts: list[int] = []
    for slot in slots:
        at = segments.get(slot)
        if at is None:
            segments[slot] = len(counts)
            counts.append(1)
            place.append(0)
        else:
            place.append(counts[at])
            counts[at] += 1
    segment = [segments[slot] for slot in slots]
    return np.array(list(segments), np.int64), Grouping(
        np.array(segment, np.int64), np.array(counts, np.int64), np.array(place, np.int64))


def _grouped_many(slots: np.ndarray) -> tuple[np.ndarray, Grouping]:
    """Many rows' slots grouped, the keys in ascending order."""
    keys, segment, counts = np.unique(slots, return_inverse=True, return_counts=True)
    segment = segment.reshape(-1)  # (numpy 2.0 shaped it as ``slots``)
    place = np.zeros(len(slots), np.int64)
    order = np.argsort(segment, kind="stable")
    place[order] = np.arange(len(slots)) - np.repeat(np.cumsum(counts) - counts, counts)
    return keys, Grouping(segment, counts, place)


class Held:
    """An argument's values held: (keys, history) matrices of them and of where they are rows
    and not NULL (``valid``), and how many places of the keys seen are not (``gaps``: at 0,
    a batch need not look)."""

    def __init__(self, data: np.ndarray, valid: np.ndarray, gaps: int) -> None:
        self.data, self.valid, self.gaps = data, valid, gaps


class State:
    """Each key's last ``history`` values of the windowed arguments and of the ORDER BY column,
    right-aligned in matrices of a row a key (``fill``: how many are rows)."""

    def __init__(self, history: int) -> None:
        self.history = history
        self.slots: dict[Any, int] = {}
        self.fill = np.zeros(0, np.int64)
        self.values: dict[str, Held] = {}

    def keys_of(self, keys: pa.ChunkedArray | None, count: int
                ) -> tuple[np.ndarray, Grouping | None]:
        """The slots of a batch's keys (new keys get one), each once, and its rows grouped by
        them (``None``: no two rows share a key; the slots are the rows')."""
        if keys is None:  # (one window over all rows)
            slot = self._slot(None)
            if count <= 1:
                return np.full(count, slot, np.int64), None
            return np.array([slot], np.int64), Grouping(np.zeros(count, np.int64),
                                                        np.array([count]), np.arange(count))
        if count <= SMALL:  # a dict lookup a row costs less than encoding the column
            names = keys.to_pylist()
            try:
                slots = [self.slots[name] for name in names]
            except KeyError:  # new keys
                slots = [self._slot(name) for name in names]
        else:
            encoded = pc.dictionary_encode(keys.combine_chunks()
                                           if isinstance(keys, pa.ChunkedArray) else keys)
            names, indices = encoded.dictionary.to_pylist(), encoded.indices
            if indices.null_count:  # (a slot for the NULL key only where it has rows)
                names.append(None)
                indices = indices.fill_null(len(names) - 1)
            lookup = np.array([self._slot(name) for name in names], np.int64)
            return _grouped_many(lookup[np.asarray(indices)])
        if len(set(slots)) == count:
            return np.array(slots, np.int64), None
        return _grouped_few(slots)

    def _slot(self, name: Any) -> int:
        slot = self.slots.get(name)
        if slot is None:
            slot = self.slots[name] = len(self.slots)
            if slot >= len(self.fill):
                self._grow(max(16, 2 * slot))
            for held in self.values.values():
                held.gaps += self.history
        return slot

    def _grow(self, size: int) -> None:
        grown = size - len(self.fill)
        self.fill = np.r_[self.fill, np.zeros(grown, np.int64)]
        for held in self.values.values():
            held.data = np.r_[held.data, np.zeros((grown, self.history), held.data.dtype)]
            held.valid = np.r_[held.valid, np.zeros((grown, self.history), bool)]

    def held(self, name: str, like: Value) -> Held:
        if name not in self.values:
            shape = (len(self.fill), self.history)
            self.values[name] = Held(np.zeros(shape, like.data.dtype), np.zeros(shape, bool),
                                     len(self.slots) * self.history)
        return self.values[name]

    def kept(self, name: str, layout: Layout, flat: Value) -> None:
        """A laid-out argument's last ``history`` values of each key in its batch held."""
        held, kept = self.values[name], layout.kept(flat)
        held.data[layout.keys] = kept.data
        if kept.valid is not None:  # (else the keys' held values were rows, and still are)
            held.valid[layout.keys] = kept.valid
            seen = len(self.slots)
            held.gaps = seen * self.history - int(np.count_nonzero(held.valid[:seen]))


@lru_cache(maxsize=64)
def _back(size: int) -> np.ndarray:
    """``size - 1, ..., 0``: a frame's places before its row's (one array for every batch)."""
    back = np.arange(size - 1, -1, -1)
    back.flags.writeable = False
    return back


class Layout:
    """A batch's rows laid out per key after their key's history: each key a segment of
    ``history + its rows`` places in one flat array, ``keys`` (their slots) in segment order.
    Where no two rows share a key (``distinct``), the segments are in the rows' order, of
    ``history + 1`` places each: the flat array is a (rows, history + 1) matrix, whose slices
    are the rows' frames; the index arrays of the general case are made only where wanted."""

    def __init__(self, state: State, keys: np.ndarray, grouping: Grouping | None) -> None:
        self.history, self.keys, self.distinct = state.history, keys, grouping is None
        self.rows = len(keys) if grouping is None else len(grouping.segment)
        if grouping is not None:
            self.grouping = grouping
        self.fill = state.fill[keys]
        self.places: dict[int, np.ndarray] = {}  # by frame size
        self.windows: dict[int, tuple[np.ndarray, np.ndarray]] = {}

    @cached_property
    def grouping(self) -> Grouping:
        """(Of distinct keys: each row its own segment.)"""
        return Grouping(np.arange(self.rows), np.ones(self.rows, np.int64),
                        np.zeros(self.rows, np.int64))

    @property
    def segment(self) -> np.ndarray:
        return self.grouping.segment

    @property
    def counts(self) -> np.ndarray:
        return self.grouping.counts

    @property
    def place(self) -> np.ndarray:
        return self.grouping.place

    @cached_property
    def least(self) -> int:
        """The fewest rows a key of the batch has before its first row in it."""
        return int(self.fill.min()) if self.rows else self.history

    @cached_property
    def starts(self) -> np.ndarray:
        lengths = self.history + self.counts
        return np.cumsum(lengths) - lengths

    @cached_property
    def ends(self) -> np.ndarray:
        """Each row's own place, flat."""
        return self.starts[self.segment] + self.history + self.place

    @cached_property
    def held_at(self) -> np.ndarray:
        return (self.starts[:, None] + np.arange(self.history)).ravel()

    @cached_property
    def exists(self) -> np.ndarray:
        """Which places are rows."""
        history = self.history
        exists = np.ones(history * len(self.keys) + self.rows, bool)
        exists[self.held_at] = (np.arange(history) >= history - self.fill[:, None]).ravel()
        return exists

    def flat(self, held: Held, batch: Value) -> Value:
        """Held values of the batch's keys and the batch's values, laid out (valid ``None``:
        every place a row, not NULL)."""
        history = self.history
        kind = np.result_type(held.data.dtype, batch.data.dtype)
        if self.distinct:
            matrix = np.empty((self.rows, history + 1), kind)
            matrix[:, :history], matrix[:, history] = held.data[self.keys], batch.data
            data = matrix.reshape(-1)
        else:
            data = np.empty(history * len(self.keys) + self.rows, kind)
            data[self.held_at], data[self.ends] = held.data[self.keys].ravel(), batch.data
        if batch.valid is None and held.gaps == 0:
            return Value(data, None, batch.kind)
        rows = held.valid[self.keys]  # false where NULL or not a row
        if batch.valid is None and everywhere(rows):
            return Value(data, None, batch.kind)
        valid = np.empty(len(data), bool)
        valid[self.held_at], valid[self.ends] = rows.ravel(), \
            True if batch.valid is None else batch.valid
        return Value(data, valid & self.exists, batch.kind)

    def frame(self, flat: Value | None, size: int) -> Frame:
        """Each row's frame of ``size`` places of a laid-out argument (None: ``*``)."""
        if flat is None:  # count(*): which are rows
            present = None if self.least >= size - 1 else self.window(size)[1]
            return Frame(np.zeros((self.rows, size)), present, "f")
        width = self.history + 1
        if flat.valid is None and size <= width:  # each row's frame: all rows
            if self.distinct:  # (a view)
                return Frame(flat.data.reshape(self.rows, width)[:, width - size:], None,
                             flat.kind)
            return Frame(flat.data[self.frames(size)], None, flat.kind)
        places, inside = self.window(size)
        present = inside if flat.valid is None else inside & flat.valid[places]
        return Frame(flat.data[places], present, flat.kind)

    def frames(self, size: int) -> np.ndarray:
        """Each row's frame of ``size`` places (flat; they may go before its key's)."""
        if size not in self.places:
            self.places[size] = self.ends[:, None] - _back(size)
        return self.places[size]

    def window(self, size: int) -> tuple[np.ndarray, np.ndarray]:
        """Each row's frame of ``size`` places (flat) and which of them are rows."""
        if size not in self.windows:
            places = self.frames(size)
            inside = places >= self.starts[self.segment][:, None]
            places = np.maximum(places, 0)
            self.windows[size] = places, inside & self.exists[places]
        return self.windows[size]

    def in_order(self, order: Value) -> bool:
        """Whether each key's rows (history and batch) are ascending, without NULL or NaN."""
        if order.valid is None:  # every place a row, none NULL
            data = order.data
            if order.kind == "f" and np.isnan(data).any():
                return False
            if self.distinct:
                matrix = data.reshape(self.rows, self.history + 1)
                return everywhere(matrix[:, 1:] >= matrix[:, :-1])
            ascending = data[1:] >= data[:-1]
            ascending[self.starts[1:] - 1] = True  # (neighbours of two keys)
            return everywhere(ascending)
        rows = self.exists
        if not order.valid[rows].all() or (order.kind == "f" and np.isnan(order.data[rows]).any()):
            return False
        both = rows[1:] & rows[:-1]  # neighbours that are rows of one key (segments begin empty
        both[self.starts[1:] - 1] = False  # or with a row after the one before's last)
        return bool((order.data[1:][both] >= order.data[:-1][both]).all())

    def kept(self, flat: Value) -> Value:
        """Each key's new last ``history`` values from a laid-out array."""
        history = self.history
        if self.distinct:
            shape = (self.rows, history + 1)
            return Value(flat.data.reshape(shape)[:, 1:],
                         None if flat.valid is None else flat.valid.reshape(shape)[:, 1:],
                         flat.kind)
        places = self.kept_at
        return Value(flat.data[places], None if flat.valid is None else flat.valid[places],
                     flat.kind)

    @cached_property
    def kept_at(self) -> np.ndarray:
        """Each key's last ``history`` places (keys, history)."""
        return (self.starts + self.counts)[:, None] + np.arange(self.history)

    def row_number(self) -> np.ndarray:
        if self.distinct:
            return self.fill + 1
        return self.fill[self.segment] + self.place + 1


class Batch:
    """One batch as the compiled query sees it."""

    def __init__(self, rows: pa.Table, layout: Layout | None) -> None:
        self.rows, self.layout, self.count = rows, layout, rows.num_rows
        self.arrow: dict[str, pa.ChunkedArray] = {}  # (a table's column by name: microseconds)
        self.columns: dict[str, Value] = {}
        self.arguments: dict[str, Value] = {}   # each windowed argument, laid out
        self.frames: dict[tuple[str | None, int], Frame] = {}

    def of(self, name: str) -> pa.ChunkedArray:
        """The batch's column ``name``."""
        if name not in self.arrow:
            try:
                self.arrow[name] = self.rows[name]
            except KeyError:
                raise Unsupported(f"{name} is not a column of the table") from None
        return self.arrow[name]

    def column(self, name: str) -> Value:
        if name not in self.columns:
            self.columns[name] = values_of(self.of(name))
        return self.columns[name]

    def frame(self, call: Call) -> Frame:
        key = (call.argument, call.size)
        if key not in self.frames:
            assert self.layout is not None
            flat = None if call.argument is None else self.arguments[call.argument]
            self.frames[key] = self.layout.frame(flat, call.size)
        return self.frames[key]

    def row_number(self) -> Value:
        assert self.layout is not None
        return Value(self.layout.row_number().astype(np.int64), None, "i")


ORDER = "\0order"  # the ORDER BY column's held values (a name no argument's SQL has)


@dataclass
class Pending:
    """A batch prepared: its rows, as the query sees them (laid out after their keys' history;
    the windowed arguments are evaluated and laid out by ``output``, or ``keep``)."""
    rows: pa.Table
    batch: Batch


class Rolling:
    """A recognized query over batch after batch, with its window state."""

    def __init__(self, query: Query, history: int, schema: pa.Schema) -> None:
        self.query, self.schema = query, schema  # ``schema``: DuckDB's for the query
        self.state = State(history)
        self.windowed = query.order is not None
        order = query.order
        self.named: dict[str, Scalar] = {**query.arguments, ORDER: lambda b: b.column(order)} \
            if order is not None else {}

    def prepare(self, rows: pa.Table) -> Pending:
        """The batch's rows laid out after their keys' history (the state is not changed)."""
        batch = Batch(rows, None)
        if self.windowed:
            keys = batch.of(self.query.key) if self.query.key is not None else None
            batch.layout = Layout(self.state, *self.state.keys_of(keys, rows.num_rows))
        return Pending(rows, batch)

    def _laid_out(self, batch: Batch) -> dict[str, Value]:
        """Each windowed argument and the ORDER BY column, laid out (once a batch)."""
        if batch.layout is not None and not batch.arguments:
            for name, scalar in self.named.items():
                value = scalar(batch)
                if value.kind not in "fi":
                    raise Unsupported("a window over a non-number")
                batch.arguments[name] = batch.layout.flat(self.state.held(name, value), value)
        return batch.arguments

    def output(self, pending: Pending) -> pa.Table:
        """The query's rows for a prepared batch (in the batch's order); Fallback where DuckDB
        has to run it."""
        batch = pending.batch
        columns: list[pa.Array | pa.ChunkedArray] = []
        with np.errstate(all="ignore"):
            flats = self._laid_out(batch)
            if batch.layout is not None and not batch.layout.in_order(flats[ORDER]):
                raise Fallback("rows out of order")
            for item in self.query.items:
                if item is None:
                    columns += [pending.rows[n] for n in pending.rows.column_names
                                if n != plans.NEW]
                elif isinstance(item, str):
                    columns.append(batch.of(item))
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
        if not pending.batch.arguments:  # (a batch kept without its output: a seed)
            with np.errstate(all="ignore"):
                self._laid_out(pending.batch)
        for name, flat in pending.batch.arguments.items():
            self.state.kept(name, layout, flat)
        if layout.least < self.state.history:  # (else every key's history was full, and is)
            self.state.fill[layout.keys] = np.minimum(self.state.history,
                                                      layout.fill + layout.counts)


def _arrow(value: Value) -> pa.Array:
    if value.kind == "d":
        raise Unsupported("a DECIMAL item")
    valid = value.valid
    return pa.array(value.data, mask=None if valid is None or everywhere(valid) else ~valid)


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
