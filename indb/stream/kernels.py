"""DuckDB's scalar functions and window aggregates over numpy arrays, as ``indb.stream.rolling``
evaluates a subscription's query: ``SCALARS`` and ``AGGREGATES`` map sqlglot classes to
functions of ``Value``s (a column) and ``Frame``s (a windowed argument over each row's frame).

A batch is a few rows, so numpy's cost a call, not a row, is what counts: a Value's ``valid`` is
``None`` where nothing is NULL (a batch's columns, usually) and a Frame's ``present`` is ``None``
where every row's frame is full of values (a key's history full, nothing NULL): the functions
then skip the masks' arithmetic, which costs as many calls as the numbers' own.
"""

from __future__ import annotations

from typing import Callable, NamedTuple

import numpy as np
from sqlglot import exp


class Unsupported(Exception):
    """Not a form evaluated here: the query runs in DuckDB (``args[0]`` says why)."""


class Fallback(Exception):
    """This batch runs in DuckDB (rows out of order, or a result DuckDB would refuse)."""


class Value(NamedTuple):
    data: np.ndarray
    valid: np.ndarray | None  # bool: not NULL; None: none is NULL
    kind: str                 # "f" DOUBLE, "i" an integer, "d" a DECIMAL literal, "b" BOOLEAN


def both_valid(a: np.ndarray | None, b: np.ndarray | None) -> np.ndarray | None:
    """Where neither is NULL (``None``: everywhere)."""
    if a is None:
        return b
    return a if b is None else a & b


def everywhere(mask: np.ndarray) -> bool:
    """``mask.all()``, at a third of its cost on a batch's few rows."""
    return np.count_nonzero(mask) == mask.size


# -- scalars ----------------------------------------------------------------------------------

def _number(value: Value, what: str) -> Value:
    if value.kind not in "fid":
        raise Unsupported(f"{what} of a non-number")
    return value


def _double(value: Value) -> np.ndarray:
    return value.data if value.kind == "f" else value.data.astype(np.float64, copy=False)


def _compared(left: Value, right: Value) -> tuple[np.ndarray, np.ndarray]:
    """Values as compared: integers as they are (a DOUBLE holds 53 bits), else as DOUBLEs."""
    if left.kind == "i" and right.kind == "i":
        return left.data, right.data
    return _double(left), _double(right)


def _arithmetic(function: Callable[[np.ndarray, np.ndarray], np.ndarray], division: bool
                ) -> Callable[..., Value]:
    def apply(left: Value, right: Value) -> Value:
        kinds = {_number(left, "arithmetic").kind, _number(right, "arithmetic").kind}
        if "d" in kinds and kinds != {"f", "d"}:
            raise Unsupported("DECIMAL arithmetic")
        if kinds == {"i"} and not division:  # DuckDB raises on overflow, numpy wraps
            raise Unsupported("integer arithmetic")
        return Value(function(_double(left), _double(right)), both_valid(left.valid, right.valid),
                     "f")
    return apply


def _math(function: Callable[[np.ndarray], np.ndarray]) -> Callable[..., Value]:
    def apply(value: Value) -> Value:
        if _number(value, "a function").kind == "d":
            raise Unsupported("a function of a DECIMAL")
        return Value(function(_double(value)), value.valid, "f")
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
    b, x = _double(_number(base, "log")), _double(_number(value, "log"))
    return Value(np.log(x) / np.log(b), both_valid(base.valid, value.valid), "f")


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
    data, valid = cast[-1], values[-1].valid
    for part, value in zip(reversed(cast[:-1]), reversed(values[:-1])):
        if value.valid is None:  # never NULL: what comes after it is never looked at
            data, valid = part, None
        else:
            data = np.where(value.valid, part, data)
            valid = None if valid is None else value.valid | valid
    return Value(data, valid, kind)


def _equal(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """DuckDB's equality (of DOUBLEs: NaN equals NaN)."""
    if a.dtype.kind != "f":
        return a == b
    return (a == b) | (np.isnan(a) & np.isnan(b))


def _greater(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """DuckDB's order (of DOUBLEs: NaN above everything)."""
    if a.dtype.kind != "f":
        return a > b
    return (a > b) | (np.isnan(a) & ~np.isnan(b))


def _nullif(value: Value, other: Value) -> Value:
    if _common((value, other), "nullif") != value.kind and value.kind != "f":
        raise Unsupported("nullif of mixed types")
    a, b = _compared(value, other)
    # NaN = NaN only where both may be NaN: an integer or a literal never is (nullif(x, 0))
    equal = _equal(a, b) if value.kind == other.kind == "f" else a == b
    if other.valid is not None:
        equal &= other.valid
    return Value(value.data, both_valid(value.valid, ~equal), value.kind)


def _comparison(test: Callable[[np.ndarray, np.ndarray], np.ndarray]) -> Callable[..., Value]:
    def apply(left: Value, right: Value) -> Value:
        if _common((left, right), "a comparison") == "b":
            raise Unsupported("a comparison of BOOLEANs")
        return Value(test(*_compared(left, right)), both_valid(left.valid, right.valid), "b")
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

class Frame:
    """A window's argument over each row's frame: ``values`` (rows, n), ``present`` which of
    them are rows and not NULL (``None``: all of them); shared by the aggregates over it."""

    def __init__(self, values: np.ndarray, present: np.ndarray | None, kind: str) -> None:
        self.values, self.present, self.kind = values, present, kind
        self.size = values.shape[1]
        doubles = values.astype(np.float64, copy=False)
        # the values present as DOUBLEs, else 0
        self.filled = doubles if present is None else np.where(present, doubles, 0.0)
        self._counted: np.ndarray | None = None

    @property
    def counted(self) -> np.ndarray:
        """How many values each row's frame has."""
        if self._counted is None:
            self._counted = np.full(len(self.values), self.size) if self.present is None \
                else self.present.sum(axis=1)
        return self._counted


def _count(frame: Frame) -> Value:
    return Value(frame.counted.astype(np.int64), None, "i")


def _sums(values: np.ndarray) -> np.ndarray:
    """Each row's sum: ``np.add.reduce``, which ``ndarray.sum`` calls through two Python
    functions (as much as the sum of a few rows costs)."""
    return np.add.reduce(values, axis=1)


def _sum(frame: Frame) -> Value:
    if frame.kind != "f":
        raise Unsupported("sum of integers (HUGEINT in DuckDB)")
    return Value(_sums(frame.filled), None if frame.present is None else frame.counted > 0, "f")


def _avg(frame: Frame) -> Value:
    if frame.present is None:
        return Value(_sums(frame.filled) / frame.size, None, "f")
    counted = frame.counted
    return Value(_sums(frame.filled) / np.maximum(counted, 1), counted > 0, "f")


def _extreme(largest: bool) -> Callable[[Frame], Value]:
    def apply(frame: Frame) -> Value:
        present, values = frame.present, frame.values
        if frame.kind not in "fi":
            raise Unsupported("min/max of a non-number")
        if present is None:  # NaN is above every number in DuckDB: max gives it as numpy's
            best = (np.maximum if largest else np.fmin).reduce(values, axis=1)  # min skips it
            return Value(best, None, frame.kind)
        if frame.kind == "i":
            info = np.iinfo(values.dtype)
            fill = info.min if largest else info.max
            chosen = np.where(present, values, fill)
            return Value(chosen.max(axis=1) if largest else chosen.min(axis=1),
                         np.asarray(present.any(axis=1)), "i")
        nan = present & np.isnan(values)
        number = present & ~nan
        if largest:
            best = np.where(number, values, -np.inf).max(axis=1)
            best = np.where(nan.any(axis=1), np.nan, best)
        else:
            best = np.where(number, values, np.inf).min(axis=1)
            best = np.where(number.any(axis=1), best, np.nan)
        return Value(best, np.asarray(present.any(axis=1)), "f")
    return apply


def _variance(sample: bool, root: bool) -> Callable[[Frame], Value]:
    """Two passes over the values shifted by each frame's first one: a constant frame gives
    exactly 0, as DuckDB's Welford arithmetic does (a one-pass mean of equal values need not be
    the value, and ``nullif(stddev, 0)`` would tell)."""
    least = 2 if sample else 1  # values a result needs (fewer: NULL)

    def apply(frame: Frame) -> Value:
        values, valid = frame.filled, None
        if frame.present is None:
            shifted = values - values[:, :1]
            deviations = shifted - (_sums(shifted) / frame.size)[:, None]
            result = _sums(deviations * deviations) / max(frame.size - least + 1, 1)
            finite = frame.size < least or everywhere(np.isfinite(result))
            if frame.size < least:
                valid = np.zeros(len(values), bool)
        else:
            present, counted = frame.present, frame.counted
            first = values[np.arange(len(values)), present.argmax(axis=1)]
            shifted = np.where(present, values - first[:, None], 0.0)
            mean = shifted.sum(axis=1) / np.maximum(counted, 1)
            squares = (np.where(present, shifted - mean[:, None], 0.0) ** 2).sum(axis=1)
            result = squares / np.maximum(counted - least + 1, 1)
            valid = counted >= least
            finite = everywhere(np.isfinite(result[valid]))
        if not finite:  # NaN, inf in the frame: DuckDB's way
            raise Fallback("a variance that is not finite")
        return Value(np.sqrt(result) if root else result, valid, "f")
    return apply


def _lag(frame: Frame) -> Value:
    """``lag(x, k)``: the frame is the k rows before and the row; the first is the one."""
    return Value(frame.values[:, 0], None if frame.present is None else frame.present[:, 0],
                 frame.kind)


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
