"""kdb+ IPC layouts indb reads and writes itself, on the tickerplant's hot path.

PyKX is the codec (``indb.stream.kdb``), but its conversions cost about 2 µs an atom and 8 µs
an object: most of a tickerplant's CPU a tick. Two forms are therefore laid out here, from the
IPC layout (code.kx.com, "Serialization examples": a general list is type 0, an attribute byte
and its count, then its items; an atom is its negative type and its value; a vector its type,
an attribute byte, its count and its values, little-endian; a symbol its UTF-8 bytes and a 0
byte; a string type 10 and a count; a table ``flip`` (type 98 and an attribute byte) of a
dictionary (type 99) of a symbol vector of the column names and a general list of the columns):

- ``update_call``: a feed's update ``(`.u.upd; `t; x)``, ``x`` a list of atoms (one row) or
  of vectors (columns), read into what PyKX's ``np()`` makes of it;
- ``table_body``: Arrow rows encoded as a kdb+ table, byte for byte what PyKX encodes.

Anything else (another type, a null time that PyKX reads its own way, an attribute, a message
that does not read whole) gets None, and PyKX does it. tests/test_stream_layout.py compares the
two on every type, on damaged messages, and on tables with nulls.
"""

from __future__ import annotations

import functools
import struct
from collections.abc import Callable
from typing import Any

import numpy as np
import pyarrow as pa

from indb.hosts.kdb import HEADER, RESPONSE

UPDATES = (".u.upd", "upd")  # the names a feed's update call goes by
LIST = VECTOR = struct.Struct("<bBi")  # a general list's or a vector's type, attribute, count
FLIP = b"\x62\x00\x63"  # a table: flip (98), its attribute, a dictionary (99)
DICTIONARY = b"\x63"  # a dictionary (99): its keys, then its values (a keyed table: two tables)
SYMBOL, SYMBOLS, CHARS = -11, 11, 10
TIMESTAMP, DATE, TIMESPAN = 12, 14, 16
EPOCH_2000 = 946_684_800_000_000_000  # kdb+'s timestamps count ns from 2000.01.01
EPOCH_2000_DAYS = 10_957  # and its dates days
NULL_LONG, NULL_INT = np.iinfo(np.int64).min, np.iinfo(np.int32).min
LATEST = np.iinfo(np.int64).max - EPOCH_2000  # the latest kdb+ timestamp a datetime64 holds
# kdb+'s fixed-width types <-> numpy's (what PyKX makes of each, and of what)
NUMBERS = {1: np.dtype(np.bool_), 4: np.dtype(np.uint8), 5: np.dtype("<i2"),
           6: np.dtype("<i4"), 7: np.dtype("<i8"), 8: np.dtype("<f4"), 9: np.dtype("<f8")}
_CODES = {dtype: code for code, dtype in NUMBERS.items()}
_INTEGERS = (5, 6, 7)  # short, int, long: their nulls are their types' smallest values
# an atom as PyKX's np() gives it: a bool, or a numpy scalar of its type
_ATOMS: dict[int, tuple[struct.Struct, Callable[[Any], Any]]] = {
    -1: (struct.Struct("<?"), bool), -4: (struct.Struct("<B"), np.uint8),
    -5: (struct.Struct("<h"), np.int16), -6: (struct.Struct("<i"), np.int32),
    -7: (struct.Struct("<q"), np.int64), -8: (struct.Struct("<f"), np.float32),
    -9: (struct.Struct("<d"), np.float64)}
_LONG = struct.Struct("<q")
PLAIN_CALL = LIST.pack(0, 0, 3)  # a call's list of three: function, table, data
MAX_ITEMS = 64  # a row's values or an update's columns read here, at most


# -- reading: a feed's update -----------------------------------------------------------------

class _NotRead(Exception):
    """What ``update_call`` leaves to PyKX."""


def update_call(message: bytes | bytearray) -> np.ndarray | None:
    """A plain update call (a row of atoms, or columns) as PyKX's ``np()`` decodes it: an
    object array of the function's name, the table's and the data; None for any other."""
    start = HEADER.size + LIST.size
    if not isinstance(message, bytes | bytearray) or len(message) < start or \
            message[0] != 1 or message[1] > RESPONSE or message[2] != 0 or message[3] != 0 or \
            message[HEADER.size:start] != PLAIN_CALL:  # what PyKX reads: no other header
        return None
    try:
        ends = names_end(message, start)
        if ends is None:
            return None
        after, offset = ends
        function, table = name(message, start, after), name(message, after, offset)
        if (function.decode() if isinstance(function, bytes) else function) not in UPDATES or \
                message[offset] != 0:
            return None
        kind, attribute, count = LIST.unpack_from(message, offset)
        if attribute != 0 or not 0 < count <= MAX_ITEMS:
            return None
        offset += LIST.size
        values = np.empty(count, object)
        for index in range(count):
            values[index], offset = _item(message, offset)
    except (LookupError, ValueError, TypeError, struct.error, _NotRead):
        return None
    if offset != len(message) or HEADER.unpack_from(message)[4] != len(message):
        return None
    call = np.empty(3, object)
    call[0], call[1], call[2] = function, table, values
    return call


def name_end(message: bytes | bytearray, offset: int) -> int | None:
    """Where the symbol atom or the string at ``offset`` ends; None where there is neither (or
    past the message's end). A string's attribute (``u#``...) changes none of its bytes."""
    if offset >= len(message):
        return None
    if message[offset] == SYMBOL & 0xFF:
        end = message.find(b"\0", offset + 1)
        return None if end < 0 else end + 1
    if message[offset] == CHARS and offset + VECTOR.size <= len(message):
        _, attribute, count = VECTOR.unpack_from(message, offset)
        end = offset + VECTOR.size + count
        return end if count >= 0 and end <= len(message) else None
    return None


def names_end(message: bytes | bytearray, start: int) -> tuple[int, int] | None:
    """Where a call's function name (at ``start``) and then its table's name end
    (``name_end``); None where either is not a name."""
    after = name_end(message, start)
    end = None if after is None else name_end(message, after)
    return None if after is None or end is None else (after, end)


def name(message: bytes | bytearray, offset: int, end: int) -> str | bytes:
    """The symbol (``str``) or the string (``bytes``) at ``offset``, which ends at ``end``
    (``name_end``)."""
    if message[offset] == CHARS:
        return bytes(message[offset + VECTOR.size:end])
    return message[offset + 1:end - 1].decode()


def _item(message: bytes | bytearray, offset: int) -> tuple[Any, int]:
    """The atom or vector at ``offset`` as PyKX's ``np()`` gives it, and where it ends."""
    code = message[offset]
    if code >= 128:
        return _atom(message, offset)
    kind, attribute, count = VECTOR.unpack_from(message, offset)
    offset += VECTOR.size
    if attribute != 0 or count < 0:
        raise _NotRead
    if kind == SYMBOLS:
        rest = bytes(message[offset:])
        parts = rest.split(b"\0", count)
        if len(parts) <= count:
            raise _NotRead  # fewer 0 bytes than names
        end = len(rest) - len(parts[-1])  # after the count-th 0 byte
        vector = np.empty(count, object)
        if count:  # one decode, one split: not one of each a name
            vector[:] = rest[:end - 1].decode().split("\0")
        return vector, offset + end
    dtype = NUMBERS.get(kind) or (np.dtype("<i8") if kind in (TIMESTAMP, TIMESPAN) else None)
    if dtype is None:
        raise _NotRead
    end = offset + count * dtype.itemsize
    if end > len(message):
        raise _NotRead
    values = np.frombuffer(message, np.uint8 if kind == 1 else dtype, count, offset).copy()
    if kind == 1:
        if count and values.max() > 1:
            raise _NotRead  # PyKX refuses such booleans
        return values.astype(np.bool_), end
    if kind == TIMESPAN:
        return values.view("timedelta64[ns]"), end
    if kind == TIMESTAMP:
        if count and (values.min() == NULL_LONG or values.max() > LATEST):
            raise _NotRead  # PyKX's own arithmetic for these
        return (values + EPOCH_2000).view("datetime64[ns]"), end
    if kind in _INTEGERS and count and values.min() == smallest(dtype):
        raise _NotRead  # with a null, PyKX makes a masked array
    return values, end


def _atom(message: bytes | bytearray, offset: int) -> tuple[Any, int]:
    code = message[offset] - 256
    offset += 1
    read = _ATOMS.get(code)
    if code == -1 and message[offset] > 1:
        raise _NotRead  # PyKX refuses such booleans
    if read is not None:
        return read[1](read[0].unpack_from(message, offset)[0]), offset + read[0].size
    if code == SYMBOL:
        end = message.index(b"\0", offset)
        return message[offset:end].decode(), end + 1
    if code in (-TIMESTAMP, -TIMESPAN):
        value = _LONG.unpack_from(message, offset)[0]
        if code == -TIMESPAN:
            return np.timedelta64(value, "ns"), offset + 8
        if value == NULL_LONG or value > LATEST:
            raise _NotRead
        return np.datetime64(value + EPOCH_2000, "ns"), offset + 8
    raise _NotRead


# -- writing: Arrow rows as a table -----------------------------------------------------------

def table_body(rows: pa.Table | pa.RecordBatch) -> bytes | None:
    """The rows as an encoded kdb+ table (no message header), or None where a name holds a 0
    byte or a column is of a type left to PyKX (``vector``)."""
    head = _table_head(tuple(rows.schema.names))
    vectors = [vector(rows.column(i)) for i in range(rows.num_columns)]
    if head is None or any(v is None for v in vectors):
        return None
    return b"".join([head, *vectors])  # type: ignore[list-item]


@functools.lru_cache(maxsize=1024)
def _table_head(names: tuple[str, ...]) -> bytes | None:
    """A table's bytes before its columns' vectors: flip, the names, the list's count."""
    if any("\0" in name for name in names):
        return None
    return b"".join([FLIP, VECTOR.pack(SYMBOLS, 0, len(names)),
                     *(name.encode() + b"\0" for name in names), LIST.pack(0, 0, len(names))])


def vector(column: pa.Array | pa.ChunkedArray) -> bytes | None:
    """A column as a kdb+ vector's bytes, or None for a type left to PyKX (int8 and unsigned
    types wider than a byte, which PyKX widens; lists...). Nulls are kdb+'s (``0N``, ``0n``,
    ``0Np``...; a null string is the empty symbol, a null boolean false)."""
    column = plain(column)
    kind = column.type
    if pa.types.is_string(kind) or pa.types.is_large_string(kind):
        return _symbols(column)
    if pa.types.is_timestamp(kind):  # a zone's instants as UTC, as PyKX takes them
        nanoseconds = column if kind.unit == "ns" else column.cast(pa.timestamp("ns", kind.tz))
        # numpy's NaT is kdb+'s null long: no fill needed
        values = np.asarray(nanoseconds.to_numpy(zero_copy_only=False)).view(np.int64)
        return _since_2000(values, TIMESTAMP, EPOCH_2000, NULL_LONG, column.null_count)
    if pa.types.is_time(kind):
        return _since_2000(numpy(column.cast(pa.time64("ns")).cast(pa.int64()), NULL_LONG),
                           TIMESPAN, 0, NULL_LONG, column.null_count)
    if pa.types.is_date(kind):
        return _since_2000(numpy(column.cast(pa.date32()).cast(pa.int32()), NULL_INT),
                           DATE, EPOCH_2000_DAYS, NULL_INT, column.null_count)
    if not (pa.types.is_floating(kind) or pa.types.is_integer(kind) or pa.types.is_boolean(kind)):
        return None
    values = numpy(column, float("nan") if pa.types.is_floating(kind) else
                   False if pa.types.is_boolean(kind) else integer_null(kind))
    code = _CODES.get(values.dtype)
    if code is None:
        return None
    return VECTOR.pack(code, 0, len(values)) + _little(values)


def _since_2000(values: np.ndarray, code: int, epoch: int, null: int, nulls: int) -> bytes:
    """Times counted from 1970 (ns, or days; nulls ``null``) as a kdb+ vector counted from
    2000, as kdb+ counts them."""
    shifted = values - values.dtype.type(epoch)
    if nulls:
        shifted[values == null] = null
    return VECTOR.pack(code, 0, len(values)) + _little(shifted)


def _symbols(column: pa.Array | pa.ChunkedArray) -> bytes | None:
    """Strings as a symbol vector; None where one holds a 0 byte (PyKX cuts it there)."""
    strings = numpy(column, "").tolist()
    text = "\0".join(strings)
    if text.count("\0") != max(len(strings) - 1, 0):
        return None
    return VECTOR.pack(SYMBOLS, 0, len(strings)) + (text.encode() + b"\0" if strings else b"")


def _little(values: np.ndarray) -> bytes:
    return values.astype(values.dtype.newbyteorder("<"), copy=False).tobytes()


# -- Arrow columns as numpy, as kdb+ holds them (PyKX's conversions take these too) -----------

def plain(column: pa.Array | pa.ChunkedArray) -> pa.Array | pa.ChunkedArray:
    """DuckDB's sums of integers (HUGEINT) and decimals as longs or floats, as q holds them."""
    if not pa.types.is_decimal(column.type):
        return column
    try:
        return column.cast(pa.int64() if column.type.scale == 0 else pa.float64())
    except pa.ArrowInvalid:  # beyond a long: a float
        return column.cast(pa.float64(), safe=False)


@functools.lru_cache(maxsize=16)
def smallest(dtype: np.dtype) -> int:
    """An integer type's smallest value, kdb+'s null of its width (numpy's ``iinfo`` costs
    microseconds, paid for every value and vector of every update)."""
    return int(np.iinfo(dtype).min)


@functools.lru_cache(maxsize=16)
def integer_null(kind: pa.DataType) -> int:
    """kdb+'s null of an Arrow integer type's width."""
    return smallest(np.dtype(kind.to_pandas_dtype()))


def numpy(column: pa.Array | pa.ChunkedArray, null: Any) -> np.ndarray:
    """A column's values as numpy, its nulls ``null``: with no nulls (the usual case) no
    ``fill_null`` pass, which costs more than the conversion for a few rows."""
    if column.null_count:
        column = column.fill_null(null)
    return np.asarray(column.to_numpy(zero_copy_only=False))
