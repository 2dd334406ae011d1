"""SQL column types and how they are stored.

A column has three faces: its SQL type (DuckDB's spelling, kept in the catalog), the Arrow type
users and UDFs see, and the Arrow type it is stored as in Iceberg's Parquet files. Iceberg has
no 8- or 16-bit integers and no fixed-size lists, so those are stored widened (integers) or as
``fixed(n)`` bytes (``UTINYINT[784]`` is 784 bytes a row, ``FLOAT[2]`` is 8), and turned back
into the SQL type whenever they are read. The conversions are zero-copy where the layout allows.
``TIMESTAMP_NS`` needs Iceberg's ``timestamp_ns`` (format version 3), which pyiceberg 0.12 cannot
write: it is stored as ``long`` nanoseconds since the epoch, as kdb+ keeps its timestamps. An
``ENUM('a', 'b')`` is stored as its values' text (``string``); a value not among them is refused
on the way in, and it is read back as Arrow's dictionary of the values in their order, as
DuckDB gives an ENUM.
"""

from __future__ import annotations

import functools
import threading
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from sqlglot import exp

from indb.errors import DataError, SchemaError

# Integers Iceberg lacks, widened to the smallest type that holds every value.
_WIDENED: dict[pa.DataType, pa.DataType] = {
    pa.int8(): pa.int32(),
    pa.int16(): pa.int32(),
    pa.uint8(): pa.int32(),
    pa.uint16(): pa.int32(),
    pa.uint32(): pa.int64(),
}
# an INTERVAL as Iceberg can hold it: Arrow's (and DuckDB's) three parts, a struct of them
INTERVAL_PARTS = pa.struct([pa.field("months", pa.int32()), pa.field("days", pa.int32()),
                            pa.field("nanoseconds", pa.int64())])
_INTERVAL_LAYOUT = np.dtype([("months", "<i4"), ("days", "<i4"), ("nanoseconds", "<i8")])
_PARTS = ("months", "days", "nanoseconds")


@dataclass(frozen=True)
class Identity:
    """An identity column's numbering (``GENERATED ... AS IDENTITY``, ``SERIAL``): a row
    inserted without a value takes the next of ``start``, ``start + increment``...; the count is
    the catalog's sequence ``sequence`` of the table (named once, so a renamed column keeps it).
    ``always`` (``GENERATED ALWAYS``): a value given for it is refused, as PostgreSQL's."""

    sequence: str
    start: int = 1
    increment: int = 1
    always: bool = False


@dataclass(frozen=True)
class Column:
    """One column of a table: its name, SQL type and nullability; the value an INSERT gives it
    when it names no value (``default``: DuckDB SQL of a constant expression), or numbers it
    (``identity``); its ``comment``; ``generated``: DuckDB SQL of the expression of the row's
    other columns that computes it as the row is written (``GENERATED ALWAYS AS (...)``,
    catalog.generated)."""

    name: str
    sql_type: str
    nullable: bool = True
    default: str | None = None
    identity: Identity | None = None
    comment: str | None = None  # COMMENT ON COLUMN's
    generated: str | None = None
    collation: str | None = None  # a VARCHAR's COLLATE (DuckDB's name: nocase, noaccent...)

    @property
    def arrow_type(self) -> pa.DataType:
        return arrow_type_of(self.sql_type)

    @property
    def storage_type(self) -> pa.DataType:
        return storage_type_of(self.sql_type)

    @property
    def is_fixed_array(self) -> bool:
        return pa.types.is_fixed_size_list(self.arrow_type)

    @property
    def is_interval(self) -> bool:
        """An ``INTERVAL`` column (stored as the struct ``INTERVAL_PARTS``)."""
        return self.arrow_type == pa.month_day_nano_interval()

    @property
    def enum_values(self) -> pa.Array | None:
        """An ``ENUM`` column's values, in their order (None for another column)."""
        return enum_values(self.sql_type) if pa.types.is_dictionary(self.arrow_type) else None

    @property
    def is_nanoseconds(self) -> bool:
        """A ``TIMESTAMP_NS`` column (stored as ``long`` nanoseconds since the epoch)."""
        return is_nanoseconds(self.arrow_type)


@functools.cache
def enum_values(sql_type: str) -> pa.Array:
    """The values of ``ENUM('a', 'b')``, in their order."""
    data_type = exp.DataType.build(sql_type, dialect="duckdb")
    return pa.array([e.name for e in data_type.expressions], type=pa.string())


def is_nanoseconds(arrow_type: pa.DataType) -> bool:
    return pa.types.is_timestamp(arrow_type) and arrow_type.unit == "ns"


_probe_lock = threading.Lock()  # one DuckDB connection answers every thread's questions


@functools.cache
def _probe() -> Any:
    """The DuckDB connection that says what a type is (made on first use: the planner, which
    imports this module, must import without DuckDB)."""
    import duckdb
    return duckdb.connect()


@functools.cache
def _resolve(sql_type: str) -> tuple[str, pa.DataType]:
    import duckdb
    try:
        data_type = exp.DataType.build(sql_type, dialect="duckdb")
    except Exception:  # sqlglot raises several types for a bad type name
        if "TUPLE(" in sql_type.upper():
            raise SchemaError(f"column type {sql_type}: a TUPLE (DuckDB's unnamed struct, what "
                              "ROW(1, 2) makes) cannot be a column's type; name its fields: "
                              "STRUCT(a INTEGER, b INTEGER), or {'a': 1, 'b': 2}") from None
        raise SchemaError(f"unknown column type {sql_type!r}: not a type of DuckDB's, nor one "
                          "CREATE TYPE named") from None
    probe = exp.select(exp.cast(exp.null(), data_type).as_("c")).sql(dialect="duckdb")
    try:
        with _probe_lock:
            relation = _probe().sql(probe)
            return str(relation.types[0]), relation.to_arrow_table().schema.field(0).type
    except duckdb.Error as error:
        raise SchemaError(f"unknown column type {sql_type!r}: {error}") from None


def canonical_sql_type(sql_type: str) -> str:
    """DuckDB's own spelling of a type (``FLOAT[2]``, ``DECIMAL(10,2)``); raises SchemaError if unknown."""
    return _resolve(sql_type)[0]


def arrow_type_of(sql_type: str) -> pa.DataType:
    """The Arrow type users see for a SQL type."""
    return _resolve(sql_type)[1]


@functools.lru_cache(maxsize=256)  # a DuckDB query each: a function's output types, every run
def sql_type_of(arrow_type: pa.DataType) -> str:
    """The SQL type DuckDB gives an Arrow type (used for CREATE TABLE AS and loads)."""
    with _probe_lock:
        relation = _probe().from_arrow(pa.table({"c": pa.array([], type=arrow_type)}))
        return str(relation.types[0])


def inferred_sql_type(arrow_type: pa.DataType) -> str:
    """The SQL type a new table gets for loaded Arrow data.

    Nanosecond timestamps (pandas' default) become TIMESTAMP: values are then written only if
    they have no sub-microsecond part, so nothing is truncated silently.
    """
    if pa.types.is_timestamp(arrow_type) and arrow_type.unit == "ns":
        arrow_type = pa.timestamp("us", tz=arrow_type.tz)
    return sql_type_of(arrow_type)


@functools.cache
def storage_type_of(sql_type: str) -> pa.DataType:
    """The Arrow type a SQL type is stored as in Iceberg; raises SchemaError for unstorable types."""
    arrow_type = arrow_type_of(sql_type)
    if is_nanoseconds(arrow_type):  # pyiceberg cannot write format 3's timestamp_ns
        return pa.int64()
    if arrow_type == pa.month_day_nano_interval():  # Iceberg has no interval type
        return INTERVAL_PARTS
    return _storage(arrow_type, sql_type)


def _storage(arrow_type: pa.DataType, sql_type: str, nested: bool = False) -> pa.DataType:
    if pa.types.is_fixed_size_list(arrow_type):
        if nested:  # (to_storage turns a column's arrays into bytes, not a list's elements)
            raise SchemaError(f"{sql_type}: a fixed-size array is a column type of its own, not an "
                              "element of a list, struct or map; use a variable-length list inside")
        value = arrow_type.value_type
        if not (pa.types.is_integer(value) or pa.types.is_floating(value)):
            raise SchemaError(f"fixed-size arrays of {value} are not supported ({sql_type}); "
                           "use numeric elements or a variable-length list")
        return pa.binary(arrow_type.list_size * value.byte_width)
    if pa.types.is_list(arrow_type) or pa.types.is_large_list(arrow_type):
        return pa.list_(_storage(arrow_type.value_type, sql_type, nested=True))
    if pa.types.is_map(arrow_type):
        return pa.map_(_storage(arrow_type.key_type, sql_type, nested=True),
                       _storage(arrow_type.item_type, sql_type, nested=True))
    if pa.types.is_struct(arrow_type):
        return pa.struct([pa.field(f.name, _storage(f.type, sql_type, nested=True))
                          for f in arrow_type])
    if pa.types.is_uint64(arrow_type):  # Iceberg has no unsigned long: a decimal of its digits
        return pa.decimal128(20, 0)
    if arrow_type in _WIDENED:
        return _WIDENED[arrow_type]
    if pa.types.is_timestamp(arrow_type):
        if arrow_type.unit == "ns":
            raise SchemaError(f"{sql_type}: TIMESTAMP_NS is a column type of its own, not an element "
                              "of a list or struct; make it a column, or use TIMESTAMP inside")
        return pa.timestamp("us", tz="UTC" if arrow_type.tz else None)  # Iceberg keeps UTC
    if pa.types.is_large_string(arrow_type) or pa.types.is_string_view(arrow_type):
        return pa.string()
    if pa.types.is_large_binary(arrow_type):
        return pa.binary()
    if pa.types.is_dictionary(arrow_type) and pa.types.is_string(arrow_type.value_type):
        return pa.string()  # an ENUM: its values' text
    unsupported = (pa.types.is_union, pa.types.is_interval,
                   pa.types.is_duration, pa.types.is_dictionary)
    if any(check(arrow_type) for check in unsupported) or (
            pa.types.is_decimal(arrow_type) and arrow_type.precision > 38) or \
            isinstance(arrow_type, pa.BaseExtensionType):  # DuckDB's own (BIGNUM)
        raise SchemaError(f"column type {sql_type} cannot be stored in an Iceberg table; "
                       "use a signed integer, DECIMAL(p<=38), VARCHAR, a list or a struct")
    return arrow_type


def _chunks(array: pa.Array | pa.ChunkedArray) -> list[pa.Array]:
    return array.chunks if isinstance(array, pa.ChunkedArray) else [array]


def _fixed_list_to_bytes(array: pa.FixedSizeListArray, column: Column) -> pa.Array:
    """``T[n]`` rows as ``fixed(n*width)`` bytes, sharing the values buffer."""
    n = array.type.list_size
    values = array.values  # the whole child, ignoring this array's offset
    valid_rows = array if not array.null_count else array.filter(array.is_valid())
    if valid_rows.values.slice(valid_rows.offset * n, len(valid_rows) * n).null_count:
        raise DataError(f"column {column.name} ({column.sql_type}) has a NULL element inside an "
                       "array; array elements must not be NULL (the whole array may be)")
    width = values.type.byte_width
    data = values.buffers()[1].slice(values.offset * width)
    return pa.Array.from_buffers(pa.binary(n * width), len(array), [array.buffers()[0], data],
                                 offset=array.offset)


def bytes_to_fixed_list(array: pa.Array | pa.ChunkedArray, list_type: pa.FixedSizeListType) -> pa.Array:
    """``fixed(n*width)`` bytes as ``T[n]`` rows, sharing the bytes buffer."""
    if isinstance(array, pa.ChunkedArray):
        array = array.combine_chunks()
    if not pa.types.is_fixed_size_binary(array.type):
        array = array.cast(pa.binary(list_type.list_size * list_type.value_type.byte_width))
    n = list_type.list_size
    values = pa.Array.from_buffers(list_type.value_type, (array.offset + len(array)) * n,
                                   [None, array.buffers()[1]]).slice(array.offset * n, len(array) * n)
    mask = array.is_null() if array.null_count else None
    return pa.FixedSizeListArray.from_arrays(values, type=list_type, mask=mask)


def _interval_to_parts(array: pa.Array) -> pa.Array:
    """Month-day-nanosecond intervals as the struct of their parts (read from the values
    buffer: 16 bytes a value, two int32 and an int64)."""
    values = np.frombuffer(array.buffers()[1], dtype=_INTERVAL_LAYOUT,
                           count=array.offset + len(array))[array.offset:]
    mask = array.is_null() if array.null_count else None
    return pa.StructArray.from_arrays(
        [pa.array(values[name]) for name in _PARTS],
        fields=list(INTERVAL_PARTS), mask=mask)


def _parts_to_interval(array: pa.Array) -> pa.Array:
    """The struct of an interval's parts as the month-day-nanosecond interval they make."""
    array = array.cast(INTERVAL_PARTS)  # (a file's struct may differ in its fields' metadata)
    values = np.zeros(len(array), dtype=_INTERVAL_LAYOUT)
    for index, name in enumerate(_PARTS):
        values[name] = pc.fill_null(array.field(index), 0).to_numpy(zero_copy_only=False)
    valid = pc.invert(array.is_null()) if array.null_count else None
    buffers = [valid.buffers()[1] if valid is not None else None, pa.py_buffer(values.tobytes())]
    if valid is not None and valid.offset:  # (a sliced bitmap: made whole again)
        buffers[0] = pa.array(valid.to_pylist(), pa.bool_()).buffers()[1]
    return pa.Array.from_buffers(pa.month_day_nano_interval(), len(array), buffers)


def to_storage(array: pa.Array | pa.ChunkedArray, column: Column) -> pa.ChunkedArray:
    """A column of user values (any Arrow type castable to the column's) as stored in Iceberg."""
    if not column.nullable and array.null_count:
        raise DataError(f"column {column.name} is NOT NULL but {array.null_count} value(s) are NULL")
    target = column.storage_type
    chunks = []
    for chunk in _chunks(array):
        if column.is_fixed_array:
            chunks.append(_fixed_list_to_bytes(_cast(chunk, column.arrow_type, column), column))
        elif column.is_interval:
            chunks.append(_interval_to_parts(_cast(chunk, column.arrow_type, column)))
        elif column.enum_values is not None:
            chunks.append(_enum_text(chunk, column))
        else:  # through the SQL type first, so range checks are the SQL type's (TINYINT: -128..127)
            chunks.append(_cast(_cast(chunk, column.arrow_type, column), target, column))
            if column.sql_type in _DECIMAL_STORED:
                _check_38_digits(chunks[-1], column)
    return pa.chunked_array(chunks, type=target)


# 128-bit integers, stored as Iceberg's decimal(38, 0) (Arrow carries them so, from DuckDB too: a
# UHUGEINT of 2**127 or more comes as a negative number, its bits read as signed)
_DECIMAL_STORED = {"HUGEINT": "-(10**38 - 1) to 10**38 - 1", "UHUGEINT": "0 to 10**38 - 1"}


def _check_38_digits(chunk: pa.Array, column: Column) -> None:
    """DataError for a HUGEINT or UHUGEINT value that decimal(38, 0) cannot hold."""
    largest = 10**38 - 1
    smallest = 0 if column.sql_type == "UHUGEINT" else -largest
    outside = pc.or_(pc.greater(chunk, pa.scalar(largest, chunk.type)),
                     pc.less(chunk, pa.scalar(smallest, chunk.type)))
    if pc.any(outside).as_py():
        raise DataError(f"column {column.name} is {column.sql_type}, stored as Iceberg's "
                        f"decimal(38, 0): it holds {_DECIMAL_STORED[column.sql_type]}, and a value "
                        "is outside that; use DOUBLE or VARCHAR for larger numbers")


def from_storage(array: pa.Array | pa.ChunkedArray, column: Column) -> pa.ChunkedArray:
    """A stored column turned back into the column's SQL type."""
    target = column.arrow_type
    if column.is_fixed_array:
        chunks = [bytes_to_fixed_list(chunk, target) for chunk in _chunks(array)]
        return pa.chunked_array(chunks, type=target)
    if column.is_interval:
        return pa.chunked_array([_parts_to_interval(chunk) for chunk in _chunks(array)], type=target)
    values = column.enum_values
    if values is not None:  # indices into the ENUM's values, as DuckDB gives one
        return pa.chunked_array([pa.DictionaryArray.from_arrays(
            pc.index_in(chunk, value_set=values).cast(target.index_type), values)
            for chunk in _chunks(array)], type=target)
    chunks = [chunk if chunk.type == target else chunk.cast(target) for chunk in _chunks(array)]
    return pa.chunked_array(chunks, type=target)


def _enum_text(chunk: pa.Array, column: Column) -> pa.Array:
    """An ENUM column's values as text, each one of the ENUM's (DataError naming one that is not)."""
    text = chunk.dictionary_decode() if pa.types.is_dictionary(chunk.type) else chunk
    text = _cast(text, pa.string(), column)
    values = column.enum_values
    unknown = pc.and_(pc.invert(pc.is_in(text, value_set=values)), pc.is_valid(text))
    if pc.any(unknown).as_py():
        value = text.filter(unknown)[0].as_py()
        raise DataError(f"column {column.name} is {column.sql_type}, and {value!r} is not one of "
                        "its values")
    return text


def truncated_nanoseconds(array: pa.Array | pa.ChunkedArray,
                          column: Column) -> pa.Array | pa.ChunkedArray:
    """Nanosecond values bound for a microsecond column with their sub-microsecond part dropped
    (toward zero, as Arrow's cast does); anything else unchanged. The load option
    ``truncate_timestamps`` asks for it; without it such values are refused."""
    if not is_nanoseconds(array.type) or column.is_nanoseconds \
            or not pa.types.is_timestamp(column.arrow_type):
        return array
    return array.cast(pa.timestamp("us", tz=array.type.tz), safe=False)


def _sub_microsecond(array: pa.Array, column: Column) -> DataError:
    """The error for nanosecond values a microsecond column would lose, naming the first."""
    whole = array.cast(pa.timestamp("us", tz=array.type.tz), safe=False).cast(array.type)
    row = pc.index(pc.fill_null(pc.not_equal(array, whole), False), True).as_py()
    return DataError(f"column {column.name} is {column.sql_type} (microseconds) but value "
                     f"{pc.strftime(array[row:row + 1], '%Y-%m-%d %H:%M:%S')[0]} (row {row + 1} "
                     "of the batch) has nanoseconds; declare the column TIMESTAMP_NS to keep them, "
                     "or load with truncate_timestamps=True to drop them")


def _cast(array: pa.Array, target: pa.DataType, column: Column) -> pa.Array:
    if array.type == target:
        return array
    try:
        return array.cast(target, safe=True)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as error:
        if is_nanoseconds(array.type) and pa.types.is_timestamp(target) and target.unit != "ns":
            raise _sub_microsecond(array, column) from None
        raise DataError(f"column {column.name} expects {column.sql_type} but got {array.type} "
                       f"values that do not convert: {error}") from None
