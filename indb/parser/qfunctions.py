"""q's functions as DuckDB expressions, one table a kind: aggregates, uniform functions (running
along the rows), moving windows, temporal parts (``time.minute``), scalar functions and
literals. ``indb.parser.qsql`` decides where each is evaluated (once a group, or as a window)."""

from __future__ import annotations

import math
import re
from collections.abc import Callable

from sqlglot import exp

from indb.parser.qsyntax import Dyad, Lit, Node, QError

SUFFIXES = {"h": "SMALLINT", "i": "INTEGER", "j": "BIGINT", "e": "REAL", "f": "DOUBLE"}
CASTS = {"boolean": "BOOLEAN", "short": "SMALLINT", "int": "INTEGER", "long": "BIGINT",
         "real": "REAL", "float": "DOUBLE", "symbol": "VARCHAR", "date": "DATE",
         "timestamp": "TIMESTAMP_NS", "time": "TIME", "": "VARCHAR"}
LETTERS = {"b": "boolean", "h": "short", "i": "int", "j": "long", "e": "real", "f": "float",
           "s": "symbol", "d": "date", "p": "timestamp", "t": "time"}  # "F"$x, "i"$x
_ESCAPES = {"n": "\n", "t": "\t", "r": "\r"}

AGGREGATE_NAMES = {"med": "median", "dev": "stddev_pop", "sdev": "stddev_samp",
                   "var": "var_pop", "svar": "var_samp", "prd": "product", "all": "bool_and",
                   "any": "bool_or", "cov": "covar_pop", "scov": "covar_samp", "cor": "corr"}
SCALAR_NAMES = {"abs": "abs", "sqrt": "sqrt", "exp": "exp", "log": "ln", "floor": "floor",
                "ceiling": "ceil", "upper": "upper", "lower": "lower", "signum": "sign",
                **{f: f for f in ("trim", "ltrim", "rtrim", "cos", "sin", "tan", "acos", "asin",
                                  "atan")}}

# a window over the rows in order: frame None (lag/lead), 0 (from the first row), n (n rows)
Over = Callable[[exp.Expr, "int | None"], exp.Expr]


def cast(node: Node, value: exp.Expr) -> exp.Expr | None:
    """```float$x``, ```$x`` (a symbol), ``"f"$x`` (q's letter) and ``"F"$x`` (upper case
    parses text: q's dates are 2024.01.02, timestamps 2024.01.02D10:00); None where ``node``
    names no type."""
    name: str | None = None
    if isinstance(node, Lit) and node.kind == "sym":
        name = node.text
    elif isinstance(node, Lit) and node.kind == "str" and len(node.text) == 3:
        name = LETTERS.get(node.text[1].lower())
    if name not in CASTS:
        return None
    target = CASTS[name]
    if isinstance(node, Lit) and node.kind == "str" and node.text[1].isupper() \
            and target in ("DATE", "TIMESTAMP_NS"):
        value = exp.func("regexp_replace", value, exp.Literal.string(
            r"^(\d{4})\.(\d\d)\.(\d\d)D?"), exp.Literal.string(r"\1-\2-\3 "))
        value = exp.func("trim", value)
    return exp.cast(value, exp.DataType.build(target, dialect="duckdb"))


def aggregate(fn: str, x: exp.Expr, y: exp.Expr | None, order: exp.Order) -> exp.Expr:
    """An aggregate of ``x`` (``y`` the second argument of cov, scov, cor)."""
    if fn in ("first", "last"):
        ordered = exp.Order(this=x, expressions=order.expressions)
        return exp.First(this=ordered) if fn == "first" else exp.Last(this=ordered)
    simple = {"avg": exp.Avg, "sum": exp.Sum, "min": exp.Min, "max": exp.Max}
    if fn in simple:
        return simple[fn](this=x)
    args = [x] if y is None else [x, y]
    return exp.func(AGGREGATE_NAMES[fn], *args, dialect="duckdb")


EACH = {"count": "len", "sum": "list_sum", "avg": "list_avg", "min": "list_min",
        "max": "list_max", "med": "list_median", "dev": "list_stddev_pop", "var": "list_var_pop",
        "distinct": "list_distinct"}


def each(fn: str, x: exp.Expr, pos: int) -> exp.Expr:
    """``f each x`` of a column of lists (a ``select ... by``'s): ``f`` of each row's list."""
    if fn in ("first", "last"):
        return exp.func("list_extract", x, exp.Literal.number(1 if fn == "first" else -1))
    if fn not in EACH:
        raise QError(f"{fn} each is not translated (each takes "
                     + ", ".join(sorted([*EACH, "first", "last"])) + ")", pos)
    return exp.func(EACH[fn], x, dialect="duckdb")


def running(fn: str, x: exp.Expr, over: Over) -> exp.Expr:
    """q's uniform functions (``sums``, ``deltas``, ``fills``...), along the rows in order."""
    if fn == "prev":
        return over(exp.func("lag", x), None)
    if fn == "next":
        return over(exp.func("lead", x), None)
    if fn == "deltas":  # q: the first item less 0
        return exp.Sub(this=x, expression=over(exp.func("lag", x, _n(1), _n(0)), None))
    if fn == "ratios":  # q: the first item over 1, as floats
        return exp.Div(this=exp.cast(x, exp.DataType.build("DOUBLE")),
                       expression=over(exp.func("lag", x, _n(1), _n(1)), None))
    if fn == "differ":  # q: the first item differs
        return exp.NullSafeNEQ(this=x, expression=over(exp.func("lag", x), None))
    if fn == "fills":
        return over(exp.IgnoreNulls(this=exp.LastValue(this=x)), 0)
    aggregates = {"sums": exp.Sum, "maxs": exp.Max, "mins": exp.Min, "avgs": exp.Avg}
    return over(aggregates[fn](this=x) if fn in aggregates else exp.func("product", x), 0)


def rank(x: exp.Expr, partition: list[exp.Expr] | None, row: exp.Expr) -> exp.Expr:
    """q's ``rank x`` (``iasc iasc x``): each item's place, from 0, in ``x`` sorted ascending
    (nulls first, as q sorts; ties in row order), within the partition's rows."""
    order = exp.Order(expressions=[exp.Ordered(this=x, nulls_first=True), exp.Ordered(this=row)])
    return exp.Paren(this=exp.Sub(this=exp.Window(this=exp.RowNumber(), partition_by=partition,
                                                  order=order, over="OVER"), expression=_n(1)))


def powers(op: str, left: exp.Expr, right: exp.Expr, partition: list[exp.Expr] | None,
           row: exp.Expr) -> exp.Expr:
    """``x xexp y`` (x to the power y), ``x xlog y`` (y's logarithm to base x), ``n xrank x``
    (``x``'s ranks in ``n`` buckets of equal counts: ``floor n * rank x % count x``)."""
    if op == "xexp":
        return exp.func("power", exp.cast(left, exp.DataType.build("DOUBLE")), right)
    if op == "xlog":
        return exp.Anonymous(this="log", expressions=[left, right])  # DuckDB's log(b, x)
    count = exp.Window(this=exp.Count(this=exp.Star()), partition_by=partition, over="OVER")
    buckets = exp.Div(this=exp.Mul(this=left, expression=rank(right, partition, row)),
                      expression=count)
    return exp.cast(exp.func("floor", buckets), exp.DataType.build("BIGINT"))


def moving(fn: str, n: int, x: exp.Expr, over: Over) -> exp.Expr:
    """``n mavg x`` and its kin: over each row and the ``n - 1`` before it."""
    if fn == "xprev":
        return over(exp.func("lag", x, _n(n)), None)
    if fn == "msum":  # q's msum counts a null as 0, and an all-null window sums to 0
        return exp.Coalesce(this=over(exp.Sum(this=x), n), expressions=[_n(0)])
    windowed = {"mavg": exp.Avg(this=x), "mcount": exp.Count(this=x), "mmin": exp.Min(this=x),
                "mmax": exp.Max(this=x), "mdev": exp.func("stddev_pop", x)}
    return over(windowed[fn], n)


def smoothing(node: Node) -> float:
    """``ema``'s smoothing factor: a number, or numbers with ``+ - * %`` (``2%1+10``), in (0, 1]."""
    value = constant(node)
    if value is None or not 0 < value <= 1:
        raise QError("ema takes a smoothing factor between 0 and 1 first, a number or numbers "
                     "with + - * %: ema[0.1; price], (2%1+10) ema price", node.pos)
    return value


def constant(node: Node) -> float | None:
    """The value of a q expression of numbers and ``+ - * %`` (right to left), else None."""
    if isinstance(node, Lit) and node.kind == "num":
        return float(node.text.rstrip("hijef"))
    if not (isinstance(node, Dyad) and node.op in ("+", "-", "*", "%")):
        return None
    left, right = constant(node.left), constant(node.right)
    if left is None or right is None or (node.op == "%" and right == 0):
        return None
    return {"+": left + right, "-": left - right, "*": left * right,
            "%": left / right if right else 0}[node.op]


# an ema's rows are summed in blocks of rows whose weights (1-a)^-k stay below e^300 in a
# double; a row more than a block back weighs less than e^-300 of its own, and is left out
EMA_EXPONENT = 300


def ema(alpha: float, x: exp.Expr, partition: list[exp.Expr] | None, row: exp.Expr) -> exp.Expr:
    """q's ``alpha ema x``: ``e0 = x0``, ``ei = alpha*xi + (1-alpha)*e(i-1)`` along the rows
    (of each partition), null from a null on (q's arithmetic). SQL has no scan, so it is the
    closed form ``alpha * sum((1-alpha)^(i-j) * zj)`` with ``z0 = x0/alpha``, ``zj = xj``,
    the sum taken in blocks of rows (``EMA_EXPONENT``): the rows of this block, and the
    block before's sum scaled by ``(1-alpha)^K``. The row's place in its partition is a
    window inside windows, which the translation computes a level below."""
    value = exp.cast(x, exp.DataType.build("DOUBLE"))
    decay = 1 - alpha
    size = max(1, math.floor(EMA_EXPONENT / -math.log(decay))) if decay else 1
    by_row = exp.Order(expressions=[exp.Ordered(this=row)])
    place = exp.Paren(this=exp.Sub(this=exp.Window(this=exp.RowNumber(), partition_by=partition,
                                                   order=by_row, over="OVER"),
                                   expression=_n(1)))
    offset = exp.Paren(this=exp.Mod(this=place, expression=_n(size)))  # its place in its block
    block = exp.IntDiv(this=place.copy(), expression=_n(size))
    first = exp.Div(this=value.copy(), expression=exp.Literal.number(alpha))
    z = exp.Case(ifs=[exp.If(this=exp.EQ(this=place.copy(), expression=_n(0)), true=first)],
                 default=value.copy())
    weighed = exp.Mul(this=_power(decay, exp.Neg(this=offset)), expression=z)
    sofar = exp.WindowSpec(kind="ROWS", start="UNBOUNDED", start_side="PRECEDING",
                           end="CURRENT ROW")
    this_block = exp.Window(this=exp.Sum(this=weighed), partition_by=[*(partition or []), block],
                            order=by_row.copy(), spec=sofar, over="OVER")
    before = exp.WindowSpec(kind="RANGE", start=_n(1), start_side="PRECEDING", end=_n(1),
                            end_side="PRECEDING")
    block_before = exp.Coalesce(this=exp.Window(
        this=exp.Sum(this=weighed.copy()), partition_by=partition,
        order=exp.Order(expressions=[exp.Ordered(this=block.copy())]), spec=before,
        over="OVER"), expressions=[_n(0)])
    total = exp.Add(this=exp.Mul(this=_power(decay, offset.copy()), expression=this_block),
                    expression=exp.Mul(this=_power(decay, exp.Add(
                        this=offset.copy(), expression=_n(size))), expression=block_before))
    unbroken = exp.Window(this=exp.func("bool_and", exp.Not(this=exp.Is(
        this=value.copy(), expression=exp.Null()))), partition_by=partition,
        order=by_row.copy(), spec=sofar.copy(), over="OVER")
    return exp.Case(ifs=[exp.If(this=unbroken, true=exp.Mul(
        this=exp.Literal.number(alpha), expression=exp.Paren(this=total)))])


def _power(base: float, exponent: exp.Expr) -> exp.Expr:
    return exp.func("power", exp.Literal.number(base), exponent)


SYSTEM = {".z.p", ".z.P", ".z.d", ".z.D", ".z.t", ".z.T"}


def system(name: str) -> exp.Expr:
    """q's clock: ``.z.p`` now (UTC) as a timestamp, ``.z.d`` its date, ``.z.t`` its time;
    upper case (``.z.P``...) the local ones (DuckDB's TimeZone setting)."""
    now: exp.Expr = exp.func("get_current_timestamp")
    now = exp.func("timezone", exp.Literal.string("UTC"), now) if name[-1].islower() \
        else exp.cast(now, exp.DataType.build("TIMESTAMP"))
    kind = {"p": "TIMESTAMP_NS", "d": "DATE", "t": "TIME"}[name[-1].lower()]
    return exp.cast(now, exp.DataType.build(kind, dialect="duckdb"))


PARTS = {"date", "time", "minute", "second", "month", "year", "hh", "mm", "ss", "dd"}


def part(name: str, x: exp.Expr) -> exp.Expr:
    """``x.date``, ``x.minute``, ``x.hh``...: a part of a timestamp or time, as q's types
    (a minute and a second as TIME)."""
    if name == "date":
        return exp.cast(x, exp.DataType.build("DATE"))
    if name == "time":
        return exp.cast(x, exp.DataType.build("TIME"))
    if name == "month":
        return exp.cast(exp.func("date_trunc", exp.Literal.string("month"), x),
                        exp.DataType.build("DATE"))
    if name in ("minute", "second"):
        seconds = exp.func("second", x) if name == "second" else _n(0)
        return exp.func("make_time", exp.func("hour", x), exp.func("minute", x), seconds)
    fields = {"year": "year", "hh": "hour", "mm": "minute", "ss": "second", "dd": "day"}
    return exp.func(fields[name], x)


def bucket(name: str, size: exp.Expr, x: exp.Expr) -> exp.Expr:
    """``n xbar x.minute`` (n minutes), ``n xbar x.second`` (n seconds), ``n xbar x.time`` (n
    milliseconds: q's time counts them), ``n xbar date``."""
    if name == "time":
        return exp.func("time_bucket", exp.func("to_milliseconds", size), part("time", x),
                        ORIGINS["TIME"].copy())
    if name == "date":  # q counts days from 2000.01.01
        epoch = exp.cast(exp.Literal.string("2000-01-01"), exp.DataType.build("DATE"))
        days = exp.Sub(this=exp.cast(x, exp.DataType.build("DATE")), expression=epoch)
        return exp.Add(this=epoch, expression=exp.cast(floor_to(days, size),
                                                       exp.DataType.build("INTEGER")))
    hour, minute = exp.func("hour", x), exp.func("minute", x)
    of_day = exp.Add(this=exp.Mul(this=hour, expression=_n(60)), expression=minute)
    unit = 60
    if name == "second":
        of_day = exp.Add(this=exp.Mul(this=exp.Paren(this=of_day), expression=_n(60)),
                         expression=exp.func("second", x))
        unit = 3600
    floored = exp.Paren(this=floor_to(of_day, size))
    if name == "minute":
        return exp.func("make_time", exp.IntDiv(this=floored, expression=_n(60)),
                        mod(floored, _n(60)), _n(0))
    return exp.func("make_time", exp.IntDiv(this=floored, expression=_n(unit)),
                    mod(exp.Paren(this=exp.IntDiv(this=floored, expression=_n(60))), _n(60)),
                    mod(floored, _n(60)))


# q's buckets count from midnight (a time) and from 2000.01.01 (a timestamp); DuckDB's
# time_bucket counts from 2000.01.03 unless told, which moves buckets that do not divide two
# days (0D00:07 xbar time)
ORIGINS = {"TIME": exp.cast(exp.Literal.string("00:00:00"), exp.DataType.build("TIME")),
           "TIMESTAMP": exp.cast(exp.Literal.string("2000-01-01"),
                                 exp.DataType.build("TIMESTAMP"))}


def span_bucket(size: exp.Expr, x: exp.Expr, kind: str) -> exp.Expr:
    """``0D00:05 xbar x``: ``x`` floored to a multiple of the timespan, counted from q's origin
    for ``kind`` (``TIME`` or ``TIMESTAMP``; DuckDB's where the translation does not know it)."""
    origin = ORIGINS.get(kind)
    return exp.func("time_bucket", size, x, *([origin.copy()] if origin else []))


def floor_to(x: exp.Expr, size: exp.Expr) -> exp.Expr:
    """``x`` less its remainder by ``size`` (q's xbar: floors, and keeps x's type)."""
    x = exp.Paren(this=x)
    return exp.Sub(this=x, expression=exp.Paren(this=mod(x, size)))


def mod(left: exp.Expr, right: exp.Expr) -> exp.Expr:
    """q's ``mod``: the remainder takes the divisor's sign (DuckDB's ``%`` the dividend's)."""
    remainder = exp.Paren(this=exp.Mod(this=left, expression=right))
    return exp.Mod(this=exp.Paren(this=exp.Add(this=remainder, expression=right)),
                   expression=right)


def scalar(fn: str, value: exp.Expr) -> exp.Expr:
    if fn == "not":
        return exp.Not(this=exp.Paren(this=value))
    if fn == "null":
        return exp.Is(this=value, expression=exp.Null())
    if fn == "string":
        return exp.cast(value, exp.DataType.build("VARCHAR"))
    if fn == "neg":
        return exp.Neg(this=exp.Paren(this=value))
    if fn == "reciprocal":
        return exp.Div(this=exp.Literal.number("1.0"), expression=value)
    return exp.func(SCALAR_NAMES[fn], value, dialect="duckdb")


def literal(node: Lit, of_day: bool = False) -> exp.Expr:
    """A q literal; with ``of_day``, a timespan within a day is a TIME (indb keeps kdb+'s
    timespan columns as times of day, which an INTERVAL does not compare with)."""
    text, kind = node.text, node.kind
    if kind == "sym":
        return exp.Literal.string(text)
    if kind == "str":
        return exp.Literal.string(re.sub(r"\\(.)", lambda m: _ESCAPES.get(m[1], m[1]),
                                         text[1:-1]))
    if kind == "bool":
        return exp.Boolean(this=text == "1")
    if kind == "null":
        return exp.Null()
    if kind == "num":
        digits = text.lstrip("-")
        suffix = digits[-1] if digits[-1] in SUFFIXES else ""
        number = exp.Literal.number(digits[:-1] if suffix else digits)
        value: exp.Expr = exp.Neg(this=number) if text.startswith("-") else number
        if suffix in ("", "j"):
            return value
        return exp.cast(value, exp.DataType.build(SUFFIXES[suffix]))
    if kind == "date":
        return exp.cast(exp.Literal.string(text.replace(".", "-")), exp.DataType.build("DATE"))
    if kind == "timestamp":
        day, time = text.split("D")
        return exp.cast(exp.Literal.string(f"{day.replace('.', '-')} {time}"),
                        exp.DataType.build("TIMESTAMP_NS", dialect="duckdb"))
    if kind == "time":
        return exp.cast(exp.Literal.string(text), exp.DataType.build("TIME"))
    sign = -1 if text.startswith("-") else 1
    days, time = text.lstrip("-").split("D")
    hours, minutes, *rest = (time + ":00").split(":")[:3]  # 0D01 is 0D01:00
    if of_day and int(days) == 0 and sign > 0:
        return exp.cast(exp.Literal.string(f"{hours}:{minutes}:{rest[0] if rest else '00'}"),
                        exp.DataType.build("TIME"))
    seconds = float(rest[0]) if rest else 0.0
    micros = sign * round(((int(days) * 24 + int(hours)) * 60 + int(minutes)) * 60e6
                          + seconds * 1e6)
    return exp.Interval(this=exp.Literal.string(str(micros)), unit=exp.var("MICROSECONDS"))


def glob(node: Lit) -> str:
    """q's like pattern as a GLOB: the same ``*``, ``?`` and ``[...]``; q negates a class
    with ``^``, GLOB with ``!``."""
    if node.kind not in ("str", "sym"):
        raise QError('like takes a pattern in quotes: sym like "AA*"', node.pos)
    text = node.text if node.kind == "sym" else str(literal(node).name)
    return text.replace("[^", "[!")


def _n(value: int) -> exp.Expr:
    return exp.Literal.number(value)
