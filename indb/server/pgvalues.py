"""Values in PostgreSQL's binary format, both ways, through psycopg's adapters: a parameter's
bytes decoded by its type OID, and a result value encoded for a column of a type OID. Clients
such as asyncpg send and ask for binary values; psycopg's adapters are PostgreSQL's own binary
formats, kept by psycopg's maintainers, used here without a connection. And the text forms
PostgreSQL writes where buenavista's differ (booleans, special floats, decimals, fractions of
seconds, intervals): some clients parse only PostgreSQL's; ``text_writer`` picks a column's.
"""

from __future__ import annotations

import datetime
import decimal
import functools
import math
import re
import struct
from collections.abc import Callable
from typing import Any, NamedTuple

import psycopg
from buenavista import core, postgres
from psycopg.abc import Dumper
from psycopg.adapt import PyFormat, Transformer
from psycopg.pq import Format
from sqlglot import exp

from indb.errors import DataError, NotSupportedError
from indb.server import pgparams

TEXT_ARRAY = 1009  # text[]: an array literal's items read as strings, then cast
_CONTEXT = Transformer()  # psycopg's default adapters, no connection (time zones are UTC)


def decoded(raw: bytes, oid: int, binary: bool = True) -> Any:
    """A parameter's value from its binary bytes (or, ``binary`` false, its text in
    PostgreSQL's form: an array's ``{1,2}``), by its type OID (0: text as text)."""
    if oid == 0:
        return raw.decode()
    return _loader(oid, binary).load(raw)


@functools.cache
def _loader(oid: int, binary: bool) -> Any:
    loader = _CONTEXT.adapters.get_loader(oid, Format.BINARY if binary else Format.TEXT)
    if loader is None:
        raise NotSupportedError(f"a {'binary' if binary else 'text'} parameter of type OID "
                                f"{oid} is not supported; send it as text")
    return loader(oid, _CONTEXT)


def encoder(oid: int) -> Callable[[Any], bytes]:
    """How a result column of this type OID writes a value in binary; a type without a binary
    form (anyarray, unknown), or a value its form cannot take, is an error that names it."""
    refusal = NotSupportedError(f"a column of type OID {oid} cannot be sent in binary; ask for "
                                "it in text, or cast it to VARCHAR")
    if oid == INTERVAL:
        return interval_binary
    try:
        kind = _CONTEXT.adapters.get_dumper_by_oid(oid, Format.BINARY)
    except psycopg.ProgrammingError:
        raise refusal from None
    dumpers: dict[type, Dumper] = {}  # one for each Python type of the column's values

    def encode(value: Any) -> bytes:  # (never None: NULLs are sent apart)
        try:
            if type(value) not in dumpers:
                dumpers[type(value)] = kind(type(value), _CONTEXT)
            return bytes(dumpers[type(value)].dump(value) or b"")
        except (TypeError, ValueError, psycopg.Error):
            raise refusal from None
    return encode


def text(value: Any) -> bytes:
    """A value in PostgreSQL's text form of its type, by psycopg's text dumpers: a list as an
    array (``{1,2}``, ``{"a b",NULL}``)."""
    return bytes(_CONTEXT.get_dumper(value, PyFormat.TEXT).dump(value) or b"")


def array_literal(node: exp.Cast) -> exp.Expr:
    """``'{1,2}'::int[]``, PostgreSQL's array literal, as DuckDB's array of the items' texts
    cast to the type (``CAST(['1', '2'] AS INT[])``), read by psycopg's loader of text[]: quoted
    items, NULL and nested arrays as PostgreSQL reads them. Any other cast comes back as it was."""
    if not is_array_literal(node):
        return node  # DuckDB's own '[1, 2]'::INT[] too
    try:
        items = decoded(node.this.name.encode(), TEXT_ARRAY, binary=False)
    except psycopg.DataError as error:
        raise DataError(f"malformed array literal {node.this.sql()}: {error}; write it as "
                        "'{1,2}' or ARRAY[1, 2]") from None
    return exp.cast(_array(items), node.to)


def is_array_literal(node: exp.Cast) -> bool:
    """Whether the cast is of PostgreSQL's array literal to an array (``'{1,2}'::int[]``)."""
    return node.this.is_string and node.this.name.lstrip().startswith("{") \
        and isinstance(node.to, exp.DataType) and node.to.this == exp.DataType.Type.ARRAY


def _array(items: list) -> exp.Array:
    return exp.Array(expressions=[exp.null() if item is None else _array(item)
                                  if isinstance(item, list) else exp.Literal.string(item)
                                  for item in items])


def vector_text(value: list[int]) -> bytes:
    """An int2vector's or oidvector's text form: its numbers apart by spaces."""
    return " ".join(str(v) for v in value).encode()


def boolean_text(value: bool) -> str:
    """``t`` or ``f``, as PostgreSQL writes a boolean (pg8000 reads ``true`` as false)."""
    return "t" if value else "f"


def float_text(value: float) -> str:
    """A float as PostgreSQL writes one: the shortest digits that read back the same, without
    an exponent from 1e-4 to below 1e15 (``100``, ``0.0001``), else with one of at least two
    digits (``1e+15``, ``1.5e-05``), and ``Infinity``, ``-Infinity``, ``NaN`` by those names
    (Python writes ``100.0``, ``1000000000000000.0`` and ``inf``)."""
    if not math.isfinite(value):
        return "NaN" if math.isnan(value) else "Infinity" if value > 0 else "-Infinity"
    if value == 0:
        return "-0" if math.copysign(1.0, value) < 0 else "0"
    shortest = decimal.Decimal(repr(value)).normalize()  # repr: the shortest that reads back
    sign, digits, exponent = shortest.as_tuple()
    point = len(digits) + int(exponent) - 1  # the exponent of the scientific form
    if -4 <= point < 15:
        return format(shortest, "f")
    mantissa = "".join(map(str, digits))
    mantissa = mantissa[0] + ("." + mantissa[1:] if len(digits) > 1 else "")
    return f"{'-' if sign else ''}{mantissa}e{point:+03d}"


def numeric_text(value: decimal.Decimal | int) -> str:
    """A decimal as PostgreSQL writes a numeric: its digits, never an exponent (``100`` for
    ``Decimal('1E+2')``), and ``NaN``, ``Infinity``, ``-Infinity``; an integer (UBIGINT's, sent
    as numeric) as it is."""
    if not isinstance(value, decimal.Decimal):
        return str(value)
    if value.is_finite():
        return format(value, "f")
    return "NaN" if value.is_nan() else "Infinity" if value > 0 else "-Infinity"


def timestamp_text(value: datetime.datetime | datetime.time) -> str:
    """A timestamp or time as PostgreSQL writes one: a space before the time, a fraction of a
    second without its trailing zeros (``03:04:05.12``), a time zone's offset in hours, and
    minutes where it has them (``+00``, ``+05:30``)."""
    naive = value.replace(tzinfo=None)
    written = naive.isoformat(sep=" ") if isinstance(naive, datetime.datetime) else naive.isoformat()
    written = written.rstrip("0") if value.microsecond else written
    offset = value.utcoffset()
    if offset is None:
        return written
    sign, minutes = "-" if offset < datetime.timedelta(0) else "+", abs(offset) // datetime.timedelta(minutes=1)
    hours, minutes = divmod(minutes, 60)
    return written + f"{sign}{hours:02d}" + (f":{minutes:02d}" if minutes else "")


INTERVAL = 1186  # interval's type OID


class Interval(NamedTuple):
    """An interval as PostgreSQL keeps one (and DuckDB): months, days and microseconds apart,
    so that a month is a month (``1 mon``, not ``30 days``)."""

    months: int
    days: int
    microseconds: int


def interval_text(value: Interval) -> str:
    """An interval as PostgreSQL writes one (its default IntervalStyle, postgres, EncodeInterval):
    ``1 year 2 mons 3 days 04:05:06.5``, ``-1 days +02:00:00``, ``00:00:00``."""
    years, months = _truncated(value.months, 12)
    parts: list[str] = []
    before = False  # the last part written was negative: a positive one after it takes a +
    for count, unit in ((years, "year"), (months, "mon"), (value.days, "day")):
        if count:
            parts.append(f"{'+' if before and count > 0 else ''}{count} {unit}{'' if count == 1 else 's'}")
            before = count < 0
    if value.microseconds or not parts:
        sign = "-" if value.microseconds < 0 else "+" if before else ""
        minutes, microseconds = divmod(abs(value.microseconds), 60_000_000)
        hours, minutes = divmod(minutes, 60)
        seconds, fraction = divmod(microseconds, 1_000_000)
        written = f"{sign}{hours:02d}:{minutes:02d}:{seconds:02d}"
        parts.append(written + f".{fraction:06d}".rstrip("0") if fraction else written)
    return " ".join(parts)


def _truncated(number: int, by: int) -> tuple[int, int]:
    """C's division (toward zero) and its remainder, as PostgreSQL splits months into years."""
    whole = abs(number) // by * (1 if number >= 0 else -1)
    return whole, number - whole * by


def interval_binary(value: Interval) -> bytes:
    """PostgreSQL's binary interval: microseconds, days, months."""
    return struct.pack("!qii", value.microseconds, value.days, value.months)


# -- a result column's text writer, by buenavista's type of it ------------------------------

PSYCOPG_TEXT = (core.BVType.ARRAY, core.BVType.INTEGERARRAY, core.BVType.STRINGARRAY)
# PostgreSQL's text forms of the types buenavista writes otherwise (true, inf, 1E+2, .120000)
TEXT_FORMS: dict[core.BVType, Callable[[Any], str]] = {
    core.BVType.BOOL: boolean_text, core.BVType.FLOAT: float_text,
    core.BVType.DECIMAL: numeric_text, core.BVType.TIMESTAMP: timestamp_text,
    core.BVType.TIME: timestamp_text, core.BVType.INTERVAL: interval_text}
# types whose binary form is their text's bytes (text, json, unknown): a column sent as text
# because buenavista has no type for it (fixed-size lists, unions) takes its text form there too
BINARY_IS_TEXT = (25, 114, 705)


def text_writer(kind: core.BVType) -> Callable[[Any], bytes]:
    """How a column of this type writes a value in PostgreSQL's text form."""
    if kind in PSYCOPG_TEXT:  # (buenavista's joins strings only)
        return text
    buenavista_s = postgres.BVTYPE_TO_PGTYPE.get(kind, postgres.PG_UNKNOWN)[1]
    return functools.partial(_text_bytes, TEXT_FORMS.get(kind, buenavista_s))


def _text_bytes(form: Callable[[Any], str], value: Any) -> bytes:
    """``form``'s text of the value; a text (a date PostgreSQL's client types cannot hold,
    ``pgrows.plain``'s) is written as it is."""
    return (value if isinstance(value, str) else form(value)).encode()


# -- a Bind's parameters ---------------------------------------------------------------------

# parameter values sent as text, by their type OID (pg_type.h); others stay text
TEXT_PARAMS: dict[int, Callable[[str], Any]] = {
    16: lambda v: v.lower() in ("t", "true", "1", "on", "yes"), 20: int, 21: int, 23: int, 26: int,
    700: float, 701: float, 1700: decimal.Decimal, 1082: datetime.date.fromisoformat,
    1083: datetime.time.fromisoformat, 1114: datetime.datetime.fromisoformat,
    1184: datetime.datetime.fromisoformat, 17: lambda v: bytes.fromhex(v.removeprefix("\\x")),
}


def parameter(raw: bytes, oid: int, fmt: int) -> Any:
    """A Bind's parameter value from its bytes, by its type OID and format (0: text)."""
    if fmt == 0 and (oid in pgparams.ARRAYS.values() or oid == pgparams.OID_ARRAY):  # {1,2}:
        # psycopg's loader reads PostgreSQL's form of an array
        return decoded(raw, oid, binary=False)
    if fmt == 0:
        text = raw.decode()
        dated = _DATE_WITH_ZONE.fullmatch(text) if oid in (0, 1082) else None
        if dated:  # JDBC's setDate: a date and a zone, untyped; PostgreSQL reads the date
            return datetime.date.fromisoformat(dated.group(1))
        return TEXT_PARAMS.get(oid, str)(text)
    return decoded(raw, oid)


_DATE_WITH_ZONE = re.compile(r"(\d{4}-\d{2}-\d{2}) ?[+-]\d{2}(?::?\d{2})?")
