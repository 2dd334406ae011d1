"""kdb+ objects and IPC messages, through PyKX in its unlicensed mode.

PyKX encodes and decodes kdb+ objects here (``kx.serialize``/``kx.deserialize``), except the
two forms on the tickerplant's hot path that ``indb.stream.layout`` reads and writes from the
IPC layout (a feed's plain update, a table of plain columns), checked against PyKX's answers.
Two things PyKX cannot make without a licence are built around its output: a table (kdb+ encodes
``flip d`` as the type byte 98 and an attribute byte before the dictionary ``d``, and flipping
needs q), and an error object (the type byte -128 and the message as a C string), which is the
reply to a sync message that failed.

An update message ``(`upd; `t; table)``, which the tickerplant sends for every publication, is
joined from PyKX's encodings too (``update_messages``): the list's items are encoded one after
another after its count, so PyKX's encoding of ``(`upd; `t; 0)`` without its last item, then
the table's, is the message's body. One table encoded gives every message of it (a
subscription's journal entry and publication), and no PyKX object of the table is made only to
be encoded again: a third less CPU a publication than through ``kx.toq`` of the call.
"""

from __future__ import annotations

import datetime
import functools
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple, TypeAlias

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from indb.catalog.types import Column
from indb.errors import DataError, InternalError, SchemaError
from indb.hosts.kdb import CAPABILITY, HEADER, RESPONSE, SYNC, encode, pykx
from indb.parser.qshapes import Shape
from indb.stream import layout

kx = pykx()  # the tickerplant decodes every message it reads: PyKX is loaded with this module
ASYNC = 0  # the message type of an async message (SYNC and RESPONSE are the client's)
MAX_MESSAGE = 256 << 20  # bytes in one message, at most: a longer header is refused
DAY_NS = 86_400_000_000_000  # a day in ns: a timespan's time of day is a stamp modulo this


class MessageError(ValueError):
    """A message that does not decode, or asks what the tickerplant does not do; its text is
    the kdb+ error the client gets."""


class Header(NamedTuple):  # a tuple: one is made for every message read
    message_type: int
    compressed: bool
    length: int


def header(data: bytes | bytearray | memoryview, offset: int = 0) -> Header:
    """The 8-byte header of an IPC message (at ``offset``); refuses what no kdb+ peer sends."""
    endian, kind, compressed, _, length = HEADER.unpack_from(data, offset)
    if endian != 1:
        raise MessageError("indb reads little-endian kdb+ IPC messages only (first header byte 1)")
    if kind > RESPONSE or compressed > 1 or length < HEADER.size or length > MAX_MESSAGE:
        raise MessageError(f"not a kdb+ IPC message header (type {kind}, compressed {compressed}, "
                           f"length {length}; at most {MAX_MESSAGE} bytes)")
    return Header(kind, bool(compressed), length)


def decode(message: bytes) -> Any:
    """A whole IPC message (header included) as numpy and Python values (PyKX's ``np()``:
    atoms keep their kdb+ types as numpy scalars, timestamps their nanoseconds; vectors are
    arrays, general lists object arrays, symbols ``str``, strings ``bytes``, tables pandas).
    A feed's plain update is read by its layout (``layout.update_call``), as PyKX reads it."""
    call = layout.update_call(message)
    if call is not None:
        return call
    try:
        value = kx.deserialize(message).np()
    except Exception as error:  # PyKX raises several types for bytes it cannot read
        raise MessageError(f"the message does not decode: {error}") from None
    if isinstance(value, np.ndarray) and value.dtype.kind == "S":  # a string alone: its chars
        return value.tobytes()
    return value


UPDATES = layout.UPDATES


def error_message(text: str) -> bytes:
    """The response to a sync message that failed: a kdb+ error (type -128) with ``text``."""
    return framed(b"\x80" + text.replace("\0", " ").encode()[:4000] + b"\0", RESPONSE)


def call(name: str, *args: Any) -> Any:
    """The list ``(`name; args...)``: how kdb+ sends a function call, a subscriber's ``upd``."""
    return kx.toq([kx.SymbolAtom(name), *args])


def symbol(name: str) -> Any:
    return kx.SymbolAtom(name)


def is_name(value: Any) -> bool:
    """A decoded symbol or string."""
    return isinstance(value, str | bytes)


def text(value: Any) -> str:
    """A decoded symbol or string (char vector) as a str."""
    return value.decode(errors="replace") if isinstance(value, bytes) else str(value)


def symbols(value: Any) -> list[str]:
    """A decoded symbol, symbol list or null symbol as names (empty: every name)."""
    if is_name(value):
        return [text(value)] if text(value) else []
    if isinstance(value, np.ndarray) and all(is_name(v) for v in value):
        return [text(v) for v in value if text(v)]
    raise MessageError(f"expected a symbol or a list of symbols, not {value!r:.60}")


# -- Arrow -> kdb+ ------------------------------------------------------------------------------

def table(rows: pa.Table | pa.RecordBatch) -> Any:
    """A kdb+ table of Arrow rows: strings as symbols, timestamps as kdb+ timestamps, times as
    timespans; null numbers as kdb+ nulls."""
    return kx.deserialize(framed(table_body(rows), RESPONSE))


def update_messages(functions: Sequence[str], name: str, rows: pa.Table | pa.RecordBatch
                    ) -> list[bytes]:
    """The async messages ``(`f; `name; table)`` of Arrow rows, one a function name ``f``
    (``upd``, ``.u.upd``), the table encoded once: what ``encode(call(f, symbol(name),
    table(rows)), ASYNC)`` gives, byte for byte."""
    body = table_body(rows)
    return [framed(_call_head(function, name) + body, ASYNC) for function in functions]


def table_body(rows: pa.Table | pa.RecordBatch) -> bytes:
    """The encoded table (no message header): laid out by indb where it can be
    (``layout.table_body``), else by PyKX."""
    body = layout.table_body(rows)
    return _pykx_body(rows) if body is None else body


def _pykx_body(rows: pa.Table | pa.RecordBatch) -> bytes:
    # numpy columns, converted by one ``kx.toq`` of the dictionary (cheaper than one a column)
    columns = {name: _vector(rows.column(i)) for i, name in enumerate(rows.schema.names)}
    dictionary = encode(kx.toq(columns), RESPONSE)
    return layout.FLIP + dictionary[HEADER.size + 1:]  # flip: the dictionary (type 99) as a table


def framed(body: bytes, message_type: int) -> bytes:
    """An encoded object (no header) as a whole IPC message of ``message_type``."""
    return HEADER.pack(1, message_type, 0, 0, HEADER.size + len(body)) + body


@functools.lru_cache(maxsize=1024)
def _call_head(function: str, name: str) -> bytes:
    """The encoded list ``(`function; `name; x)`` up to its last item: PyKX's encoding of it
    with a long atom for ``x``, less that atom's own encoding."""
    atom = encode(kx.LongAtom(0), ASYNC)[HEADER.size:]
    body = encode(call(function, symbol(name), kx.LongAtom(0)), ASYNC)[HEADER.size:]
    if not body.endswith(atom):  # a list's items are encoded one after another, in order
        raise InternalError("PyKX encoded a list with its last item elsewhere than at its end")
    return body[:-len(atom)]


def _vector(column: pa.Array | pa.ChunkedArray) -> Any:
    """A column as what ``kx.toq`` makes its kdb+ vector of: numpy (of the kdb+ type's numpy
    type), or a symbol vector made already (an object array of no strings would not be one)."""
    column = layout.plain(column)
    kind = column.type
    if pa.types.is_string(kind) or pa.types.is_large_string(kind):
        return kx.toq(layout.numpy(column, ""), kx.SymbolVector)
    if pa.types.is_timestamp(kind):
        values = column if kind.unit == "ns" and kind.tz is None else column.cast(pa.timestamp("ns"))
        if not values.null_count:  # already datetime64[ns], without a cast
            return np.asarray(values.to_numpy(zero_copy_only=False))
        return layout.numpy(values.cast(pa.int64()), 0).view("datetime64[ns]")
    if pa.types.is_time(kind):
        values = column.cast(pa.time64("ns")).cast(pa.int64())
        return layout.numpy(values, 0).view("timedelta64[ns]")
    if pa.types.is_date(kind):
        return np.asarray(column.cast(pa.date32()).to_numpy(zero_copy_only=False)).astype("datetime64[D]")
    if pa.types.is_floating(kind):
        return layout.numpy(column, float("nan"))
    if pa.types.is_integer(kind):
        return layout.numpy(column, layout.integer_null(kind))
    if pa.types.is_boolean(kind):
        return layout.numpy(column, False)
    if pa.types.is_binary(kind) or pa.types.is_large_binary(kind) or pa.types.is_fixed_size_binary(kind):
        return kx.toq([np.frombuffer(v or b"", np.uint8) for v in column.to_pylist()])  # q's X
    if pa.types.is_list(kind) or pa.types.is_large_list(kind) or pa.types.is_fixed_size_list(kind):
        return _lists(column)
    return kx.SymbolVector([None if v is None else str(v) for v in column.to_pylist()])


def _lists(column: pa.Array) -> Any:
    """A column of lists as q's list of vectors (``J`` for lists of longs...): each row's items
    a vector of their type, a null row an empty one."""
    if isinstance(column, pa.ChunkedArray):
        column = column.combine_chunks()
    if pa.types.is_fixed_size_list(column.type):
        column = column.cast(pa.list_(column.type.value_type))
    items = _vector(column.flatten()) if not column.null_count else None
    if isinstance(items, np.ndarray):  # one conversion, then a view of it for each row
        offsets = np.asarray(column.offsets)
        offsets = offsets - offsets[0]  # (a slice's offsets count from its first value)
        return kx.toq([items[start:end] for start, end in zip(offsets[:-1], offsets[1:], strict=True)])
    kind = column.type.value_type
    return kx.toq([_vector(pa.array(row or [], kind)) for row in column.to_pylist()])


def answer(rows: pa.Table, shape: Shape) -> Any:
    """A query's rows as q gives its answer (``qshapes``): a table, a keyed table, a list, an
    atom, a dictionary of the one row's columns, or one of the first column to the second."""
    kind = shape.kind
    if kind == "keyed" and 0 < shape.keys < rows.num_columns:  # a dictionary of two tables
        keys, values = rows.select(range(shape.keys)), rows.select(range(shape.keys, rows.num_columns))
        return kx.deserialize(framed(layout.DICTIONARY + table_body(keys) + table_body(values),
                                     RESPONSE))
    if kind == "list" and rows.num_columns == 1:
        return kx.toq(_vector(rows.column(0)))
    if kind == "atom" and rows.shape == (1, 1):
        return _item(rows.column(0))
    if kind == "dict" and rows.num_rows == 1:
        return kx.toq({name: _item(column) for name, column in zip(rows.column_names, rows.columns)})
    count = shape.keys or 1  # (k!v: one)
    if kind in _DICTIONARIES and count < rows.num_columns:  # exec ... by's, and k!v
        keys, values = rows.select(range(count)), rows.select(range(count, rows.num_columns))
        list_keys, list_values = _DICTIONARIES[kind]
        if (not list_keys or keys.num_columns == 1) and (not list_values or values.num_columns == 1):
            return kx.deserialize(framed(layout.DICTIONARY + _dictionary_side(keys, list_keys)
                                         + _dictionary_side(values, list_values), RESPONSE))
    return table(rows)


# a dictionary's shapes: whether its keys, and its values, are a list (else a table)
_DICTIONARIES = {"map": (True, True), "list_table": (True, False), "table_list": (False, True)}


def _dictionary_side(rows: pa.Table, as_list: bool) -> bytes:
    """The encoded keys or values of a dictionary: the one column's values, or a table."""
    if not as_list:
        return table_body(rows)
    return encode(kx.toq(_vector(rows.column(0))), RESPONSE)[HEADER.size:]


def _item(column: pa.ChunkedArray) -> Any:
    """The value of a column's one row: an atom, or a list's items as a vector."""
    value = column.combine_chunks()
    if pa.types.is_list(value.type) or pa.types.is_large_list(value.type):
        return kx.toq(_vector(value.flatten()))
    if pa.types.is_string(value.type) or pa.types.is_large_string(value.type):
        return kx.SymbolAtom(value[0].as_py() or "")
    converted = _vector(value)
    return kx.toq(converted[0]) if isinstance(converted, np.ndarray) else converted


# -- kdb+ -> Arrow: the rows of an update, checked against the table's columns ----------------

Convert = Callable[[Any], Any]


@dataclass(frozen=True)
class Slot:
    """How values of a column arrive: the Arrow type they are gathered in (``carrier``) and the
    function that checks one Python value from PyKX and turns it into a carrier value."""

    column: Column
    carrier: pa.DataType
    convert: Convert

    def array(self, values: Sequence[Any]) -> pa.Array:
        """Gathered values as an array of the column's type."""
        return _cast(pa.array(values, type=self.carrier), self.column.arrow_type)


def _cast(values: pa.Array, target: pa.DataType) -> pa.Array:
    if values.type == target:
        return values
    if pa.types.is_temporal(values.type) and pa.types.is_temporal(target):
        # kdb+ times are nanoseconds: a microsecond column keeps the microseconds
        return values.cast(target, safe=False)
    return values.cast(target)


def is_null(value: Any) -> bool:
    """Whether a decoded atom is a kdb+ null: ``0N`` (an integer type's smallest value), ``0n``
    (NaN), ``0Np`` and ``0Nn`` (NaT)."""
    if isinstance(value, np.datetime64 | np.timedelta64):  # (a timedelta64 is an np.integer)
        return bool(np.isnat(value))
    if isinstance(value, np.integer) and not isinstance(value, np.bool_):
        return bool(value == layout.smallest(value.dtype))
    if isinstance(value, float | np.floating):
        return value != value
    return False


def _nulls(vector: np.ndarray) -> np.ndarray | None:
    """Where a decoded vector holds kdb+ nulls (None: nowhere, or a type without them)."""
    kind = vector.dtype.kind
    if kind == "i":
        found = vector == layout.smallest(vector.dtype)
    elif kind == "f":
        found = np.isnan(vector)
    elif kind in "mM":
        found = np.isnat(vector)
    else:
        return None
    return found if found.any() else None


def _refuse(column: Column, value: Any) -> DataError:
    kind = type(value).__name__ if value is not None else "null"
    return DataError(f"column {column.name} is {column.sql_type}; the feed sent a {kind} ({value!r:.40})")


def slot(column: Column) -> Slot:
    """The slot of a column, by the family of its Arrow type."""
    target = column.arrow_type

    def checked(accept: tuple[type, ...], turn: Convert = lambda v: v) -> Convert:
        def convert(value: Any) -> Any:
            if value is None or (isinstance(value, accept) and not (
                    isinstance(value, bool | np.bool_) and bool not in accept) and not (
                    isinstance(value, np.timedelta64) and np.timedelta64 not in accept)):
                return None if value is None or is_null(value) else turn(value)
            raise _refuse(column, value)
        return convert
    if pa.types.is_boolean(target):
        return Slot(column, target, checked((bool, np.bool_)))
    if pa.types.is_integer(target):
        return Slot(column, target, checked((int, np.integer)))
    if pa.types.is_floating(target):
        return Slot(column, target, checked((float, int, np.floating, np.integer)))
    if pa.types.is_string(target) or pa.types.is_large_string(target):
        return Slot(column, target, checked((str, bytes), lambda v: v.decode() if isinstance(v, bytes) else v))
    if pa.types.is_timestamp(target):
        return Slot(column, pa.timestamp("ns", target.tz), checked((int, datetime.datetime, np.datetime64), _nanoseconds))
    if pa.types.is_time(target):
        return Slot(column, pa.time64("ns"), checked((datetime.timedelta, np.timedelta64, datetime.time), _time_of_day))
    if pa.types.is_date(target):
        return Slot(column, pa.date32(), checked((datetime.date, np.datetime64), _date))
    raise SchemaError(f"column {column.name} is {column.sql_type}, a type the tickerplant does "
                      "not take from kdb+ feeds (it takes numbers, strings, booleans, timestamps, "
                      "times and dates)")


def _nanoseconds(value: Any) -> int:
    """A timestamp as nanoseconds since 1970 (the ``int`` is the tickerplant's own stamp)."""
    if isinstance(value, int):
        return value
    if isinstance(value, datetime.datetime):
        moment = value if value.tzinfo else value.replace(tzinfo=datetime.UTC)
        delta = moment - datetime.datetime(1970, 1, 1, tzinfo=datetime.UTC)
        return (delta // datetime.timedelta(microseconds=1)) * 1000
    return int(np.datetime64(value, "ns").astype(np.int64))


def _date(value: Any) -> datetime.date:
    return value if isinstance(value, datetime.date) else value.astype("datetime64[D]").item()


def _time_of_day(value: Any) -> int:
    if isinstance(value, datetime.time):
        return ((value.hour * 60 + value.minute) * 60 + value.second) * 10**9 + value.microsecond * 1000
    if isinstance(value, datetime.timedelta):
        return value // datetime.timedelta(microseconds=1) * 1000
    return int(np.timedelta64(value, "ns").astype(np.int64))


def is_temporal_column(column: Column) -> bool:
    return pa.types.is_timestamp(column.arrow_type) or pa.types.is_time(column.arrow_type)


def is_temporal(value: Any) -> bool:
    """Whether a decoded value (an atom, or a vector) is a time: tick.q fills the time column of
    an update whose first value is not one."""
    kind = value.dtype.kind if isinstance(value, np.ndarray | np.generic) else ""
    return kind in "mM" and bool(kind)


def shape(x: Any) -> str:
    """What a decoded update's data is: ``"table"``, ``"columns"`` (a list of vectors, one a
    column) or ``"row"`` (one row: a list of atoms, or a simple vector of one type's atoms)."""
    if type(x).__name__ == "DataFrame" or (isinstance(x, np.ndarray) and x.dtype.names):
        return "table"
    if isinstance(x, np.ndarray) and x.ndim == 1:
        if x.dtype == object and len(x) and all(isinstance(v, np.ndarray) for v in x):
            return "columns"
        return "row"
    raise MessageError(f"an update's data is a table, a list of columns or a list of one row's "
                       f"values, not {x!r:.60}")


def table_rows(x: Any) -> pa.Table:
    """A decoded table (a numpy record array, or pandas inside a list) as Arrow."""
    if isinstance(x, np.ndarray):
        return pa.table({name: column_array([np.asarray(x[name])], None) for name in x.dtype.names})
    return pa.Table.from_pandas(x, preserve_index=False)


Vector: TypeAlias = "np.ndarray | pa.Array"  # decoded values of a column; symbols made Arrow strings already


def strings(vector: np.ndarray) -> Vector:
    """A decoded vector of symbols (``str``) as an Arrow string array, made where it was
    decoded; any other vector as it is."""
    if vector.dtype == object and len(vector) and isinstance(vector[0], str):
        try:
            return _symbols(vector)
        except (pa.ArrowInvalid, pa.ArrowTypeError):  # not all of them str
            return vector
    return vector


def _symbols(vector: np.ndarray) -> pa.Array:
    """An object vector of ``str`` as Arrow strings: ``from_pandas`` takes pyarrow's fast path
    for object arrays (about 35 ns a string against 600 without it; nothing here is NaN)."""
    return pa.array(vector, pa.string() if len(vector) and isinstance(vector[0], str) else None,
                    from_pandas=True)


def checked_vector(vector: Vector, column: Column) -> Vector:
    """A decoded vector (a column of an update), refused unless its type suits the column's;
    kept as numpy until ``column_array`` turns many of them into one Arrow array."""
    if isinstance(vector, pa.Array):  # symbols (``strings``)
        if not _same_family(vector.type, column.arrow_type):
            raise DataError(f"column {column.name} is {column.sql_type}; the feed sent a "
                            "column of symbol")
        return vector
    if vector.dtype == object and len(vector) and isinstance(vector[0], bytes):
        vector = np.array([v.decode(errors="replace") for v in vector], dtype=object)
    refusal = _refusal(vector.dtype, column)
    if refusal:
        raise DataError(refusal)
    target = column.arrow_type
    if pa.types.is_integer(target) and vector.dtype.kind in "iu" and len(vector) and \
            vector.dtype.itemsize > target.bit_width // 8:
        limits = np.iinfo(target.to_pandas_dtype())
        nulls = _nulls(vector)  # 0N is a null of any width, not a value out of range
        values = vector if nulls is None else vector[~nulls]
        if len(values) and (values.min() < limits.min or values.max() > limits.max):
            raise DataError(f"column {column.name} is {column.sql_type}: a value sent for it is "
                            f"outside {limits.min}..{limits.max}")
    return vector


# the types of one-row values that ``gather_rows`` gathers into a vector as they are
_GATHERED = frozenset({str, np.float64, np.float32, np.int64, np.int32, np.int16, np.uint8,
                       np.bool_, np.datetime64, np.timedelta64})


def gather_rows(rows: Sequence[Any]) -> list[np.ndarray] | None:
    """Many one-row updates' values (decoded rows of as many values) as vectors, a column at a
    time, not checked yet; None unless each column's values are all of one type that a vector
    holds as they are (each row is then checked alone, for its own error)."""
    vectors = []
    for values in zip(*rows, strict=True):
        kinds = set(map(type, values))
        kind = kinds.pop()
        if kinds or kind not in _GATHERED:
            return None
        vector = np.array(values, dtype=object if kind is str else None)
        if vector.dtype.kind in "mM" and np.datetime_data(vector.dtype)[0] != "ns":
            return None  # dates, kdb+ times: each value is converted alone
        vectors.append(vector)
    return vectors


def join_columns(xs: Sequence[Any]) -> list[np.ndarray] | None:
    """Column updates' vectors (decoded lists of as many columns) joined a column at a time,
    not checked yet; None unless each update's columns are of one length and each column's
    vectors of one type."""
    if any(len({len(v) for v in x}) > 1 for x in xs):
        return None
    vectors = []
    for parts in zip(*xs, strict=True):
        if len({v.dtype for v in parts}) > 1:
            return None
        vectors.append(np.concatenate(parts))
    return vectors


def checked_vectors(vectors: Sequence[Vector], columns: Sequence[Column]) -> list[Vector] | None:
    """Gathered vectors (``gather_rows``, ``join_columns``) checked against their columns
    (``checked_vector``); None where one of them does not check."""
    try:
        return [checked_vector(v, c) for v, c in zip(vectors, columns, strict=True)]
    except DataError:
        return None


@functools.lru_cache(maxsize=1024)
def _refusal(dtype: np.dtype, column: Column) -> str | None:
    """Why vectors of a numpy type cannot fill a column (None: they can)."""
    if dtype.kind == "O":
        source: pa.DataType = pa.string()
    elif dtype.kind in "mM":
        source = pa.duration("ns") if dtype.kind == "m" else pa.timestamp("ns")
    else:
        try:
            source = pa.from_numpy_dtype(dtype)
        except (pa.ArrowNotImplementedError, TypeError):
            return f"column {column.name} is {column.sql_type}; the feed sent a column of {dtype}"
    target = column.arrow_type
    if pa.types.is_duration(source) and pa.types.is_time(target):  # a timespan: a time of day
        return None
    if _same_family(source, target):
        return None
    return f"column {column.name} is {column.sql_type}; the feed sent a column of {_kdb_name(dtype)}"


def column_array(vectors: Sequence[Vector], column: Column | None) -> pa.Array:
    """Checked vectors of a column, one after the other, as one array of the column's type
    (of their own type, without a column)."""
    if any(isinstance(v, pa.Array) for v in vectors):  # symbols, some made Arrow already
        arrays = [v if isinstance(v, pa.Array) else _symbols(v) for v in vectors]
        joined = arrays[0] if len(arrays) == 1 else pa.concat_arrays(arrays)
        return joined if column is None or joined.type == column.arrow_type else \
            arrow_column(joined, column, "symbol")
    if column is not None and len({v.dtype for v in vectors}) > 1:
        # of different types (an int column and a long one): each its own array, so that each
        # keeps its own type's nulls (0Ni is not 0N)
        return pa.concat_arrays([column_array([v], column) for v in vectors])
    joined = vectors[0] if len(vectors) == 1 else np.concatenate(vectors)
    array = _symbols(joined) if joined.dtype == object else pa.array(joined, mask=_nulls(joined))
    if column is None or array.type == column.arrow_type:  # the commonest: nothing to check
        return array
    try:
        return arrow_column(array, column, _kdb_name(joined.dtype))
    except (pa.ArrowException, TypeError, ValueError) as error:
        raise DataError(f"column {column.name} is {column.sql_type}: {error}") from None


def arrow_column(array: pa.Array | pa.ChunkedArray, column: Column, what: str) -> pa.Array:
    """Arrow values (a decoded column of an update) as an array of the column's type, refused
    unless they are of its kind (numbers for numbers, strings for strings...)."""
    target = column.arrow_type
    if isinstance(array, pa.ChunkedArray):
        array = array.combine_chunks()
    source = array.type
    if pa.types.is_duration(source) and pa.types.is_time(target):  # a timespan: a time of day
        array = pc.cast(array.cast(pa.int64()), pa.time64("ns"))
        source = array.type
    if not _same_family(source, target):
        raise DataError(f"column {column.name} is {column.sql_type}; the feed sent a column of "
                        f"{what}")
    try:
        return _cast(array, target)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as error:
        raise DataError(f"column {column.name} is {column.sql_type}: {error}") from None


def timestamps(stamp: int, count: int, column: Column) -> np.ndarray:
    """``count`` copies of the tickerplant's stamp (ns since 1970) for a time column."""
    if pa.types.is_time(column.arrow_type):
        return np.full(count, stamp % DAY_NS, "timedelta64[ns]")
    return np.full(count, stamp, "datetime64[ns]")


def _same_family(source: pa.DataType, target: pa.DataType) -> bool:
    checks = (pa.types.is_boolean, lambda t: pa.types.is_integer(t) or pa.types.is_floating(t),
              lambda t: pa.types.is_string(t) or pa.types.is_large_string(t),
              pa.types.is_timestamp, pa.types.is_time, pa.types.is_date)
    for check in checks:
        if check(target):
            if pa.types.is_boolean(source) and not pa.types.is_boolean(target):
                return False
            if pa.types.is_floating(source) and pa.types.is_integer(target):
                return False
            return bool(check(source))
    return False


@functools.lru_cache(maxsize=64)
def _kdb_name(dtype: np.dtype) -> str:
    """How kdb+ names a decoded vector's type, for errors (cached: ``column_array`` asks for
    every column of every update, and numpy's dtype names cost microseconds)."""
    names = {"f": "float", "i": "int", "b": "boolean", "M": "timestamp", "m": "timespan", "O": "symbol"}
    if dtype.kind == "f" and dtype.itemsize == 4:
        return "real"
    if dtype.kind == "i" and dtype.itemsize != 4:
        return {8: "long", 2: "short", 1: "byte"}.get(dtype.itemsize, "long")
    return names.get(dtype.kind, str(dtype))


__all__ = ["ASYNC", "CAPABILITY", "HEADER", "MAX_MESSAGE", "MessageError", "RESPONSE", "SYNC",
           "UPDATES", "Slot", "arrow_column", "call", "checked_vector", "checked_vectors",
           "column_array", "decode", "encode", "error_message", "framed", "gather_rows", "header",
           "is_name", "is_null", "is_temporal", "is_temporal_column", "join_columns", "kx", "shape",
           "slot", "strings", "symbol", "symbols", "table", "table_rows", "text", "timestamps",
           "update_messages"]
