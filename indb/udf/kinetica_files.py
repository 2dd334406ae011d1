"""The files through which a Kinetica UDF script meets its run: Kinetica's process control
protocol, written and read with Arrow and numpy.

A script's instance gets ``KINETICA_PCF``, the path of a *control file*: the request info,
parameters, and for every input and output table its columns, each column a set of files (a
data file of fixed-width values, a nulls file of one byte a row, and for variable-width types a
file of the values one after another, the data file then holding each value's offset). The script
writes the output columns' files and then an *output control file* with its results; while it
runs it may write its status to a status file. This is the protocol Kinetica's own
``kinetica_proc.py`` reads and writes, so that module runs against indb unchanged; indb's
``kinetica_proc`` (``indb.udf.procdata``) reads the same files.

Every integer in the control files is a native 64-bit unsigned integer; a string is its byte
length then its UTF-8 bytes; a map is its entry count then key and value strings.
"""

from __future__ import annotations

import fcntl
import json
import os
import struct
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

VERSION = 2  # the control file version that carries a status file
_U64 = struct.Struct("=Q")


class ColumnType:
    """Kinetica's column type codes, as the control file names them (indb writes the types
    ``KINDS`` holds; the others are here for scripts that compare ``column.type`` with them)."""

    ARRAY = 0x80000000
    CHAR1 = 0x00080000
    CHAR2 = 0x00100000
    CHAR4 = 0x00001000
    CHAR8 = 0x00002000
    CHAR16 = 0x00004000
    CHAR32 = 0x00200000
    CHAR64 = 0x00400000
    CHAR128 = 0x00800000
    CHAR256 = 0x01000000
    DATETIME = 0x00000200
    IPV4 = 0x00008000
    UUID = 0x00000008
    BOOLEAN = 0x20000000
    BYTES = 0x00000002
    DATE = 0x02000000
    DECIMAL = 0x08000000
    DOUBLE = 0x00000010
    FLOAT = 0x00000020
    INT = 0x00000040
    INT8 = 0x00020000
    INT16 = 0x00040000
    JSON = 0x00000100
    LONG = 0x00000080
    STRING = 0x00000001
    TIME = 0x04000000
    TIMESTAMP = 0x00010000
    ULONG = 0x00000800
    VECTOR = 0x40000000


@dataclass(frozen=True)
class Kind:
    """One Kinetica column type: how its values look to a script (``wire``, an Arrow type) and
    how they lie in the data file (``dtype``; None for the variable-width types)."""

    code: int
    wire: pa.DataType
    dtype: np.dtype | None
    terminated: bool = False  # variable-width values end with a NUL byte (text)


_DECIMAL_WIRE = pa.decimal128(18, 4)  # Kinetica's DECIMAL: an int64 count of ten-thousandths
KINDS: dict[int, Kind] = {k.code: k for k in (
    Kind(ColumnType.BOOLEAN, pa.bool_(), np.dtype(np.bool_)),
    Kind(ColumnType.INT8, pa.int8(), np.dtype(np.int8)),
    Kind(ColumnType.INT16, pa.int16(), np.dtype(np.int16)),
    Kind(ColumnType.INT, pa.int32(), np.dtype(np.int32)),
    Kind(ColumnType.LONG, pa.int64(), np.dtype(np.int64)),
    Kind(ColumnType.ULONG, pa.uint64(), np.dtype(np.uint64)),
    Kind(ColumnType.FLOAT, pa.float32(), np.dtype(np.float32)),
    Kind(ColumnType.DOUBLE, pa.float64(), np.dtype(np.float64)),
    Kind(ColumnType.DATE, pa.date32(), np.dtype(np.int32)),
    Kind(ColumnType.TIME, pa.time32("ms"), np.dtype(np.uint32)),
    Kind(ColumnType.TIMESTAMP, pa.int64(), np.dtype(np.int64)),  # milliseconds since 1970
    Kind(ColumnType.DECIMAL, _DECIMAL_WIRE, np.dtype(np.int64)),
    Kind(ColumnType.STRING, pa.large_string(), None, terminated=True),
    Kind(ColumnType.JSON, pa.large_string(), None, terminated=True),
    Kind(ColumnType.BYTES, pa.large_binary(), None),
    Kind(ColumnType.VECTOR, pa.large_list(pa.float32()), None),
)}

# Arrow types indb stores that Kinetica has no exact type for, and the Kinetica type they travel as
_WIDER: dict[pa.DataType, int] = {pa.uint8(): ColumnType.INT16, pa.uint16(): ColumnType.INT,
                                  pa.uint32(): ColumnType.LONG, pa.float16(): ColumnType.FLOAT}


def kind_of(arrow_type: pa.DataType) -> Kind:
    """The Kinetica type a column of ``arrow_type`` is given to a script as."""
    if pa.types.is_dictionary(arrow_type):  # an ENUM: its values
        return kind_of(arrow_type.value_type)
    for kind in KINDS.values():
        if kind.dtype is not None and kind.wire == arrow_type and kind.code != ColumnType.TIMESTAMP:
            return kind
    if arrow_type in _WIDER:
        return KINDS[_WIDER[arrow_type]]
    t = pa.types
    checks: list[tuple[Callable[[pa.DataType], bool], int]] = [
        (t.is_timestamp, ColumnType.TIMESTAMP), (t.is_date, ColumnType.DATE),
        (t.is_time, ColumnType.TIME), (t.is_decimal, ColumnType.DECIMAL),
        (lambda a: t.is_string(a) or t.is_large_string(a) or t.is_string_view(a), ColumnType.STRING),
        (lambda a: t.is_binary(a) or t.is_large_binary(a) or t.is_fixed_size_binary(a)
         or t.is_binary_view(a), ColumnType.BYTES),
        (lambda a: (t.is_list(a) or t.is_large_list(a) or t.is_fixed_size_list(a))
         and a.value_type in (pa.float32(), pa.float16()), ColumnType.VECTOR),  # no wider
    ]
    for check, code in checks:
        if check(arrow_type):
            return KINDS[code]
    return KINDS[ColumnType.JSON]  # lists, structs, maps: JSON text


# -- values as scripts see them ("wire") and as tables hold them -------------------------------

def to_wire(array: pa.Array | pa.ChunkedArray, kind: Kind) -> pa.Array:
    """A column's values as the script sees them (Kinetica's types)."""
    if isinstance(array, pa.ChunkedArray):
        array = array.combine_chunks()
    if pa.types.is_dictionary(array.type):
        array = array.dictionary_decode()
    if kind.code == ColumnType.TIMESTAMP:
        return pc.cast(array, pa.timestamp("ms", tz=getattr(array.type, "tz", None)),
                       safe=False).cast(pa.int64())
    if kind.code == ColumnType.JSON and not pa.types.is_string(array.type) \
            and not pa.types.is_large_string(array.type):
        return pa.array([None if v is None else json.dumps(v, default=str)
                         for v in array.to_pylist()], pa.large_string())
    return pc.cast(array, kind.wire, safe=kind.code not in (ColumnType.TIME, ColumnType.DECIMAL))


def from_wire(array: pa.Array, kind: Kind, target: pa.DataType) -> pa.Array:
    """A script's output values as a column of ``target`` (raises pa.ArrowInvalid when they do
    not fit it)."""
    if kind.code == ColumnType.TIMESTAMP:  # milliseconds since 1970 UTC
        array = array.cast(pa.timestamp("ms", tz=getattr(target, "tz", None)))
    elif kind.code == ColumnType.JSON and not (pa.types.is_string(target)
                                               or pa.types.is_large_string(target)):
        return pa.array([None if v is None else json.loads(v) for v in array.to_pylist()], target)
    return array.cast(target)


# -- column files ------------------------------------------------------------------------------

@dataclass(frozen=True)
class ColumnFiles:
    """One column in a control file: its name, Kinetica type, and files ("" where it has none)."""

    name: str
    code: int
    data: str
    nulls: str = ""
    var: str = ""

    @property
    def kind(self) -> Kind:
        return KINDS[self.code]


def column_files(directory: Path, stem: str, name: str, kind: Kind, nullable: bool) -> ColumnFiles:
    """The (not yet written) files of one column, named ``stem`` in ``directory``."""
    return ColumnFiles(name, kind.code, str(directory / f"{stem}.data"),
                       str(directory / f"{stem}.nulls") if nullable else "",
                       str(directory / f"{stem}.var") if kind.dtype is None else "")


def write_column(files: ColumnFiles, wire: pa.Array) -> None:
    """Write a column of wire values into its files."""
    kind = files.kind
    nulls = wire.is_null().to_numpy(zero_copy_only=False)
    if files.nulls:
        nulls.astype(np.uint8).tofile(files.nulls)
    elif nulls.any():
        raise ValueError(f"column {files.name} holds NULLs but is not nullable")
    if kind.dtype is not None:
        _encode_fixed(wire, kind).tofile(files.data)
        return
    if kind.code == ColumnType.VECTOR:
        lengths = pc.fill_null(pc.list_value_length(wire), 0).to_numpy().astype(np.uint64) * 4
        payload = pc.list_flatten(wire).to_numpy(zero_copy_only=False).astype(np.float32).tobytes()
    else:
        binary = wire.cast(pa.large_binary())
        if kind.terminated:  # each text value ends with a NUL byte; a NULL writes nothing
            empty, nul = pa.scalar(b"", pa.large_binary()), pa.scalar(b"\x00", pa.large_binary())
            binary = pc.binary_join_element_wise(binary, empty, nul)
        lengths = pc.fill_null(pc.binary_length(binary), 0).to_numpy().astype(np.uint64)
        payload = _large_binary_payload(binary)
    offsets = np.concatenate([np.zeros(min(len(wire), 1), np.uint64), np.cumsum(lengths)[:-1]])
    offsets.astype(np.uint64).tofile(files.data)
    Path(files.var).write_bytes(payload)


def _large_binary_payload(binary: pa.Array) -> bytes:
    offsets = np.frombuffer(binary.buffers()[1], np.int64)[binary.offset:binary.offset + len(binary) + 1]
    data = binary.buffers()[2]
    return b"" if data is None else data.to_pybytes()[offsets[0]:offsets[-1]]


def row_count(files: ColumnFiles) -> int:
    """The rows a column's data file holds."""
    kind = files.kind
    width = kind.dtype.itemsize if kind.dtype is not None else 8
    return os.path.getsize(files.data) // width if os.path.exists(files.data) else 0


def read_column(files: ColumnFiles) -> pa.Array:
    """A column's wire values from its files: the rows the data file holds."""
    kind = files.kind
    width = kind.dtype.itemsize if kind.dtype is not None else 8
    raw = _read(files.data)
    rows = len(raw) // width
    mask = np.frombuffer(_read(files.nulls), np.uint8)[:rows] == 1 if files.nulls else None
    if mask is not None and len(mask) < rows:
        mask = np.concatenate([mask, np.zeros(rows - len(mask), bool)])
    if kind.dtype is not None:
        values = np.frombuffer(raw, kind.dtype, rows)
        return _decode_fixed(values, kind, mask)
    offsets = np.frombuffer(raw, np.uint64, rows).astype(np.int64)
    payload = np.frombuffer(_read(files.var), np.uint8)
    starts, lengths = _spans(offsets, len(payload))
    if kind.terminated:
        lengths = np.maximum(lengths - 1, 0)
    if mask is not None:
        lengths[mask] = 0
    take = np.repeat(starts - np.concatenate([[0], np.cumsum(lengths)[:-1]]), lengths) \
        + np.arange(int(lengths.sum()))
    data = pa.py_buffer(payload[take].tobytes())
    new_offsets = pa.py_buffer(np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64).tobytes())
    validity = _validity(mask)
    if kind.code == ColumnType.VECTOR:
        floats = pa.Array.from_buffers(pa.float32(), len(data) // 4, [None, data])
        list_offsets = pa.py_buffer((np.frombuffer(new_offsets, np.int64) // 4).tobytes())
        return pa.Array.from_buffers(kind.wire, rows, [validity, list_offsets], children=[floats])
    array = pa.Array.from_buffers(kind.wire, rows, [validity, new_offsets, data])
    array.validate(full=True)  # text that is not UTF-8 is refused here, not later
    return array


def _validity(mask: np.ndarray | None) -> pa.Buffer | None:
    """An Arrow validity bitmap from a mask of NULLs (None when there are none)."""
    if mask is None or not mask.any():
        return None
    return pa.py_buffer(np.packbits(~mask, bitorder="little").tobytes())


def _spans(offsets: np.ndarray, end: int) -> tuple[np.ndarray, np.ndarray]:
    """Each slot's start and length. Slots a script sized but never filled keep offset 0 after
    filled ones (Kinetica fills variable-width columns in order only): they are empty."""
    rows = len(offsets)
    drops = np.nonzero(offsets[1:] < offsets[:-1])[0]
    filled = int(drops[0]) + 1 if len(drops) else rows
    starts = offsets.copy()
    ends = np.concatenate([offsets[1:filled], [end]]) if filled else np.zeros(0, np.int64)
    lengths = np.zeros(rows, np.int64)
    lengths[:filled] = np.clip(ends - starts[:filled], 0, None)
    starts[filled:] = 0
    return starts, lengths


def _read(path: str) -> bytes:
    return Path(path).read_bytes() if path and os.path.exists(path) else b""


def _encode_fixed(wire: pa.Array, kind: Kind) -> np.ndarray:
    assert kind.dtype is not None
    if kind.code == ColumnType.DATE:
        year, month, day = (pc.fill_null(f(wire), 0).to_numpy().astype(np.int64)
                            for f in (pc.year, pc.month, pc.day))
        packed = ((year - 1900) << 21) | (month << 17) | (day << 12)
        # a NULL's slot still holds a valid date (1900-01-01): readers decode whole slices
        return np.where(wire.is_null().to_numpy(zero_copy_only=False), (1 << 17) | (1 << 12),
                        packed).astype(np.int32)
    if kind.code == ColumnType.TIME:
        ms = pc.fill_null(wire.cast(pa.int32()), 0).to_numpy().astype(np.uint32)
        h, m, s, f = ms // 3_600_000, ms // 60_000 % 60, ms // 1000 % 60, ms % 1000
        return (h << 26) | (m << 20) | (s << 14) | (f << 4)
    if kind.code == ColumnType.DECIMAL:
        words = np.frombuffer(wire.buffers()[1], np.int64)[2 * wire.offset:2 * (wire.offset + len(wire))]
        return np.where(wire.is_null().to_numpy(zero_copy_only=False), 0, words[::2])
    zero: Any = False if kind.code == ColumnType.BOOLEAN else 0
    return pc.fill_null(wire, zero).to_numpy(zero_copy_only=False).astype(kind.dtype)


def _decode_fixed(values: np.ndarray, kind: Kind, mask: np.ndarray | None) -> pa.Array:
    if kind.code == ColumnType.DATE:
        v = values.astype(np.int64)
        year, month, day = 1900 + (v >> 21), (v >> 17) & 0xF, (v >> 12) & 0x1F
        invalid = (month == 0) | (day == 0)  # an unwritten slot: no date at all
        months = (year - 1970) * 12 + np.maximum(month, 1) - 1
        first = months.astype("datetime64[M]").astype("datetime64[D]").astype(np.int64)
        days = first + np.maximum(day, 1) - 1
        mask = invalid if mask is None else (mask | invalid)
        return pa.array(days.astype(np.int32), pa.int32(), mask=mask).cast(pa.date32())
    if kind.code == ColumnType.TIME:
        v = values.astype(np.int64)
        ms = ((v >> 26) * 3_600_000 + ((v >> 20) & 0x3F) * 60_000 + ((v >> 14) & 0x3F) * 1000
              + ((v >> 4) & 0x3FF))
        return pa.array(ms.astype(np.int32), pa.int32(), mask=mask).cast(pa.time32("ms"))
    if kind.code == ColumnType.DECIMAL:
        words = np.zeros(2 * len(values), np.int64)
        words[::2], words[1::2] = values, values >> 63  # the high word extends the sign
        return pa.Array.from_buffers(_DECIMAL_WIRE, len(values),
                                     [_validity(mask), pa.py_buffer(words.tobytes())])
    return pa.array(values, kind.wire, mask=mask)


# -- control files -----------------------------------------------------------------------------

@dataclass(frozen=True)
class TableFiles:
    name: str
    columns: tuple[ColumnFiles, ...]


@dataclass(frozen=True)
class Control:
    """What a control file says."""

    request_info: Mapping[str, str]
    params: Mapping[str, str]
    bin_params: Mapping[str, bytes]
    inputs: tuple[TableFiles, ...]
    outputs: tuple[TableFiles, ...]
    output_control: str
    status: str


@dataclass
class Completion:
    """What a script hands back in its output control file."""

    results: dict[str, str] = field(default_factory=dict)
    bin_results: dict[str, bytes] = field(default_factory=dict)


class _Writer:
    def __init__(self) -> None:
        self.parts: list[bytes] = []

    def u64(self, value: int) -> None:
        self.parts.append(_U64.pack(value))

    def text(self, value: str | bytes) -> None:
        data = value if isinstance(value, bytes) else value.encode()
        self.u64(len(data))
        self.parts.append(data)

    def mapping(self, values: Mapping[str, str] | Mapping[str, bytes]) -> None:
        self.u64(len(values))
        for key, value in values.items():
            self.text(key)
            self.text(value)

    def tables(self, tables: tuple[TableFiles, ...]) -> None:
        self.u64(len(tables))
        for table in tables:
            self.text(table.name)
            self.u64(len(table.columns))
            for c in table.columns:
                self.text(c.name)
                self.u64(c.code)
                for path in (c.data, c.nulls, c.var):
                    self.text(path)


class _Reader:
    def __init__(self, data: bytes) -> None:
        self.data, self.pos = data, 0

    def u64(self) -> int:
        value: int = _U64.unpack_from(self.data, self.pos)[0]
        self.pos += 8
        return value

    def raw(self) -> bytes:
        length = self.u64()
        value = self.data[self.pos:self.pos + length]
        self.pos += length
        return value

    def text(self) -> str:
        return self.raw().decode(errors="replace")

    def mapping(self) -> dict[str, str]:
        return {self.text(): self.text() for _ in range(self.u64())}

    def binary_mapping(self) -> dict[str, bytes]:
        return {self.text(): self.raw() for _ in range(self.u64())}

    def tables(self) -> tuple[TableFiles, ...]:
        return tuple(TableFiles(self.text(), tuple(
            ColumnFiles(self.text(), self.u64(), self.text(), self.text(), self.text())
            for _ in range(self.u64()))) for _ in range(self.u64()))


def write_control(path: Path, control: Control) -> None:
    """Write the control file; every output column's data file exists (empty) afterwards, as
    Kinetica's module maps them all."""
    for table in control.outputs:
        for column in table.columns:
            for name in (column.data, column.nulls, column.var):
                if name:
                    Path(name).touch()
    w = _Writer()
    w.u64(VERSION)
    w.mapping(control.request_info)
    w.mapping({})  # a second request-info map, which readers merge into the first
    w.mapping(control.params)
    w.mapping(control.bin_params)
    w.tables(control.inputs)
    w.tables(control.outputs)
    w.text(control.output_control)
    w.text(control.status)
    path.write_bytes(b"".join(w.parts))


def read_control(path: str) -> Control:
    r = _Reader(Path(path).read_bytes())
    version = r.u64()
    if version not in (1, 2):
        raise ValueError(f"unrecognized control file version {version}")
    info = r.mapping()
    info.update(r.mapping())
    params = r.mapping()
    bin_params = r.binary_mapping()
    inputs, outputs = r.tables(), r.tables()
    output_control = r.text()
    status = r.text() if version == 2 else ""
    return Control(info, params, bin_params, inputs, outputs, output_control, status)


def write_completion(path: str, completion: Completion) -> None:
    w = _Writer()
    w.u64(1)
    w.mapping(completion.results)
    w.mapping(completion.bin_results)
    Path(path).write_bytes(b"".join(w.parts))


def read_completion(path: str) -> Completion | None:
    """The output control file's results; None if the script never wrote it."""
    data = _read(path)
    if len(data) < 8 or _U64.unpack_from(data, 0)[0] != 1:
        return None
    r = _Reader(data)
    r.u64()
    results = r.mapping()
    return Completion(results, r.binary_mapping())


def write_status(path: str, text: str) -> None:
    """Write the status file as Kinetica's module does: locked, its length then its bytes."""
    with open(path, "r+b" if os.path.exists(path) else "w+b") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            f.write(_U64.pack(len(text.encode())) + text.encode())
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def read_status(path: str) -> str | None:
    """The status a script last wrote; None if none yet."""
    try:
        with open(path, "rb") as f:
            fcntl.flock(f, fcntl.LOCK_SH)
            try:
                data = f.read()
            finally:
                fcntl.flock(f, fcntl.LOCK_UN)
    except FileNotFoundError:
        return None
    if len(data) < 8:
        return None
    length = _U64.unpack_from(data, 0)[0]
    return data[8:8 + length].decode(errors="replace")
