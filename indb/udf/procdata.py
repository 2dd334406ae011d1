"""indb's ``kinetica_proc``: the ``ProcData`` a Kinetica UDF script imports, with Kinetica's
semantics, over the files of Kinetica's own protocol (``indb.udf.kinetica_files``).

A script registered with ``RUN_COMMAND = 'python'`` runs as its own process, once per instance;
``ProcData()`` reads the control file ``$KINETICA_PCF`` names. As in Kinetica, an output table
has no rows until the script sizes it: ``out_table.size = n`` gives every column ``n`` slots
holding the type's zero (``0``, ``0.0``, ``False``, ``""``, ``b""``), which the script assigns
by index (``y[i] = v``, ``y[i] += v``, ``y[:] = values``) or fills in order with ``append`` and
``extend``, which start at the first slot not yet appended to and raise
``IndexError("Insufficient table size")`` past the last. Text, bytes and vector columns are
filled in order only. The table copy of Kinetica's documentation::

    proc_data = ProcData()
    for in_table, out_table in zip(proc_data.input_data, proc_data.output_data):
        out_table.size = in_table.size
        for in_column, out_column in zip(in_table, out_table):
            out_column.extend(in_column)
    proc_data.complete()
"""

from __future__ import annotations

import datetime
import os
import sys
from collections.abc import Iterable, Iterator, Sequence
from decimal import Decimal
from types import MappingProxyType
from typing import Any

import numpy as np
import pyarrow as pa

from indb.udf import kinetica_files as kf

__all__ = ["InputColumn", "InputTable", "OutputColumn", "OutputTable", "ProcData"]

# what an output slot holds before the script writes it, where that is not numpy's zero
_ZEROS: dict[int, Any] = {kf.ColumnType.STRING: "", kf.ColumnType.JSON: "",
                          kf.ColumnType.BYTES: b"", kf.ColumnType.VECTOR: None,
                          kf.ColumnType.DATE: None,  # no date has all its bits zero
                          kf.ColumnType.TIME: datetime.time(0),
                          kf.ColumnType.DECIMAL: Decimal(0).scaleb(-4)}
_OBJECT_KINDS = (kf.ColumnType.DATE, kf.ColumnType.TIME, kf.ColumnType.DECIMAL)


class _Column(Sequence[Any]):
    """What input and output columns share: name, Kinetica type, nullability, size, reading."""

    def __init__(self, files: kf.ColumnFiles) -> None:
        self._files = files
        self._kind = files.kind

    @property
    def name(self) -> str:
        return self._files.name

    @property
    def type(self) -> int:
        """The Kinetica type code (compare with ``ProcData.ColumnType.DOUBLE``...)."""
        return self._kind.code

    @property
    def is_nullable(self) -> bool:
        return bool(self._files.nulls)

    @property
    def size(self) -> int:
        return len(self)

    def _index(self, index: int) -> int:
        size = len(self)
        position = index + size if index < 0 else index
        if not 0 <= position < size:
            raise IndexError(f"Index out of range: {position}")
        return position


class InputColumn(_Column):
    """One input column: ``len``, indexing, slicing and iteration give Python values."""

    def __init__(self, files: kf.ColumnFiles) -> None:
        super().__init__(files)
        self._rows = kf.row_count(files)  # the values are read when first used
        self._array: pa.Array | None = None
        self._values: list | None = None

    @property
    def _arrow(self) -> pa.Array:
        if self._array is None:
            self._array = kf.read_column(self._files)
        return self._array

    def _list(self) -> list:
        if self._values is None:
            self._values = self._arrow.to_pylist()
        return self._values

    def __len__(self) -> int:
        return self._rows

    def __getitem__(self, index: int | slice) -> Any:
        if type(index) is int:  # the common case first: scripts index in loops
            values = self._list()
            if -len(values) <= index < len(values):
                return values[index]
        if isinstance(index, slice):
            return self._list()[index]
        if not isinstance(index, int | np.integer):
            raise TypeError(f"Invalid index specified: {index}")
        return self._list()[self._index(int(index))]

    def __iter__(self) -> Iterator[Any]:
        return iter(self._list())

    def to_numpy(self) -> np.ndarray:
        """The column as a numpy array (an indb extension: zero-copy for numeric columns)."""
        return self._arrow.to_numpy(zero_copy_only=False)

    def to_arrow(self) -> pa.Array:
        """The column as a pyarrow Array (an indb extension)."""
        return self._arrow


class OutputColumn(_Column):
    """One output column: sized by its table, written by index or filled in order."""

    def __init__(self, files: kf.ColumnFiles) -> None:
        super().__init__(files)
        self._var = self._kind.dtype is None
        self._nullable = bool(files.nulls)
        self._values: Any = [] if self._var else self._empty(0)
        self._nulls = np.zeros(0, np.bool_)
        self._pos = 0  # the next slot append/extend fills

    def _empty(self, size: int) -> np.ndarray:
        code = self._kind.code
        if code in _OBJECT_KINDS:
            values = np.empty(size, object)
            values[:] = [_ZEROS[code]] * size
            return values
        assert self._kind.dtype is not None
        return np.zeros(size, self._kind.dtype)

    def _reserve(self, size: int) -> None:
        """Resize to ``size`` slots: kept values stay, new slots hold the type's zero."""
        keep = min(size, len(self))
        if self._var:
            self._values = self._values[:keep] + [_ZEROS[self._kind.code]] * (size - keep)
        else:
            values = self._empty(size)
            values[:keep] = self._values[:keep]
            self._values = values
        nulls = np.zeros(size, np.bool_)
        nulls[:keep] = self._nulls[:keep]
        self._nulls = nulls

    def __len__(self) -> int:
        return len(self._values)

    def __getitem__(self, index: int | slice) -> Any:
        if type(index) is int and -len(self._values) <= index < len(self._values):
            return self._get(index)  # the common case first: scripts index in loops
        if isinstance(index, slice):
            return [self._get(i) for i in range(*index.indices(len(self)))]
        if not isinstance(index, int | np.integer):
            raise TypeError(f"Invalid index specified: {index}")
        return self._get(self._index(int(index)))

    def _get(self, i: int) -> Any:
        if self._nulls[i]:
            return None
        value = self._values[i]
        return value.item() if isinstance(value, np.generic) else value

    def __setitem__(self, index: int | slice, value: Any) -> None:
        if type(index) is int and not self._var and -len(self._values) <= index < len(self._values) \
                and (value is not None or not self._nullable):  # the common case, kept short
            self._values[index] = value
            self._nulls[index] = False
            return
        if self._var:
            raise RuntimeError("Cannot set values in variable-length column (fill text, bytes "
                               "and vector columns in order with append or extend)")
        if isinstance(index, slice):
            positions = range(*index.indices(len(self)))
            values = _sequence(value)
            if len(values) != len(positions):
                raise IndexError("Incorrect slice assignment size")
            self._put(positions, values)
        elif isinstance(index, int | np.integer):
            self._put(range(self._index(int(index)), self._index(int(index)) + 1), [value])
        else:
            raise TypeError(f"Invalid index specified: {index}")

    def _put(self, positions: range, values: Sequence[Any]) -> None:
        """Write values into slots; None is NULL in a nullable column."""
        array = values if isinstance(values, np.ndarray) else None
        if array is not None and array.dtype != object and not self._var:
            slots = np.arange(positions.start, positions.stop, positions.step)  # any step
            self._values[slots] = array
            self._nulls[slots] = False
            return
        if self._var and positions.step == 1:  # filling in order: one slice, NULLs found at once
            items = list(values)
            self._values[positions.start:positions.stop] = items
            self._nulls[positions.start:positions.stop] = np.fromiter(
                (v is None for v in items), np.bool_, len(items))
            return
        for i, v in zip(positions, values, strict=True):
            if v is None and (self._nullable or self._var):
                self._nulls[i] = True
            else:
                self._values[i] = v
                self._nulls[i] = False

    def append(self, value: Any) -> int:
        """Fill the next slot; returns its index."""
        index = self._pos
        if index >= len(self):
            raise IndexError("Insufficient table size")
        self._put(range(index, index + 1), [value])
        self._pos += 1
        return index

    def extend(self, values: Iterable[Any]) -> int:
        """Fill the next slots in order; returns the last index filled."""
        items = _sequence(values)
        room = len(self) - self._pos
        count = min(len(items), room)
        self._put(range(self._pos, self._pos + count), items[:count])
        self._pos += count
        if count < len(items):
            raise IndexError("Insufficient table size")
        return self._pos - 1

    def _to_wire(self) -> pa.Array:
        values = self._values
        mask = self._nulls if self._nulls.any() else None
        if self._var or values.dtype == object:
            return pa.array([None if null else v for v, null in zip(values, self._nulls, strict=True)],
                            self._kind.wire)
        return pa.array(values, self._kind.wire, mask=mask)


def _sequence(values: Any) -> Any:
    """Values as something with a length and slices: numpy for numbers (fast), else a list."""
    if isinstance(values, InputColumn):
        arrow = values.to_arrow()
        if arrow.null_count == 0 and (pa.types.is_integer(arrow.type) or pa.types.is_floating(arrow.type)
                                      or pa.types.is_boolean(arrow.type)):
            return arrow.to_numpy(zero_copy_only=False)
        return values[:]
    if hasattr(values, "to_numpy") and not isinstance(values, np.ndarray):  # pandas, cuDF
        array = values.to_numpy()
        if array.dtype != object:
            return array
        # pandas marks a missing text value NaN (or NA): NULL, as None is
        return [None if v is None or v is getattr(sys.modules.get("pandas"), "NA", None)
                or (isinstance(v, float) and v != v) else v for v in array]
    if isinstance(values, np.ndarray):
        return values
    return values if isinstance(values, list | tuple) else list(values)


class _Named(Sequence[Any]):
    """Items reachable by position, slice or name (a name that differs only in case is found too)."""

    def __init__(self, items: list) -> None:
        self._items = items
        self._by_name = {item.name: item for item in items}

    def __len__(self) -> int:
        return len(self._items)

    def __iter__(self) -> Iterator:
        return iter(self._items)

    def __getitem__(self, key: int | str | slice) -> Any:
        if not isinstance(key, str):
            return self._items[key]
        found = self._by_name.get(key) or next(
            (item for item in self._items if item.name.lower() == key.lower()), None)
        if found is None:
            raise KeyError(f"{key!r} is not among " + ", ".join(repr(i.name) for i in self._items))
        return found


class InputTable(_Named):
    """One input table: this instance's rows; ``size`` is the row count."""

    def __init__(self, files: kf.TableFiles) -> None:
        super().__init__([InputColumn(c) for c in files.columns])
        self.name = files.name
        self._size = min((len(c) for c in self._items), default=0)

    @property
    def size(self) -> int:
        return self._size


class OutputTable(_Named):
    """One output table: no rows until ``size`` is set."""

    def __init__(self, files: kf.TableFiles) -> None:
        super().__init__([OutputColumn(c) for c in files.columns])
        self.name = files.name
        self._size = 0

    @property
    def size(self) -> int:
        return self._size

    @size.setter
    def size(self, rows: int) -> None:
        if rows < 0:
            raise ValueError(f"Invalid size specified: {rows}")
        for column in self._items:
            column._reserve(rows)
        self._size = rows


class _DataSet(_Named):
    """``input_data``/``output_data``: tables by position or by name."""


class ProcData:
    """This instance's view of its run, as Kinetica's ``kinetica_proc.ProcData`` gives it; one
    per process, as there (calling ``ProcData()`` again returns the same object)."""

    ColumnType = kf.ColumnType
    _instances: dict[str, ProcData] = {}

    def __new__(cls) -> ProcData:
        path = os.environ.get("KINETICA_PCF")
        if not path:
            raise RuntimeError("ProcData() works inside a function run: register this script with "
                               "CREATE FUNCTION ... RUN_COMMAND = 'python' and EXECUTE FUNCTION it")
        if path not in cls._instances:
            instance = super().__new__(cls)
            instance._load(path)
            cls._instances[path] = instance
        return cls._instances[path]

    def _load(self, path: str) -> None:
        control = kf.read_control(path)
        self._control = control
        self.request_info = MappingProxyType(dict(control.request_info))
        self.params = MappingProxyType(dict(control.params))
        self.bin_params = MappingProxyType(dict(control.bin_params))
        self.input_data = _DataSet([InputTable(t) for t in control.inputs])
        self.output_data = _DataSet([OutputTable(t) for t in control.outputs])
        self.results: dict[str, str] = {}
        self.bin_results: dict[str, bytes] = {}
        self._status = ""

    @property
    def status(self) -> str:
        return self._status

    @status.setter
    def status(self, message: str) -> None:
        """Shown as this instance's message in SHOW FUNCTION STATUS while the script runs."""
        self._status = str(message)
        if self._control.status:
            kf.write_status(self._control.status, self._status)

    def to_df(self) -> Any:
        """The input as pandas: one table's DataFrame, or a Series of them by table name."""
        import pandas as pd
        frames = {table.name: pd.DataFrame({c.name: _pandas_values(c) for c in table},
                                           index=pd.RangeIndex(table.size))
                  for table in self.input_data}
        if len(frames) == 1:
            return next(iter(frames.values()))
        return pd.Series(frames, dtype=object)

    def from_df(self, df: Any, output_table: OutputTable) -> None:
        """Write each of ``df``'s columns into the output column of its name: numeric columns by
        slice (size the table first, as in Kinetica), text columns filled from their first slot."""
        for name in df.columns:
            column = output_table[name]
            if column._var:
                column._pos = 0
                column.extend(df[name])
            else:
                column[:] = df[name]

    def to_cudf(self) -> Any:
        """The input as cuDF (on the GPU): a DataFrame, or a Series of them by table name."""
        import pandas as pd
        cudf = _cudf()
        frames = self.to_df()
        if isinstance(frames, pd.DataFrame):
            return cudf.DataFrame.from_pandas(frames)
        return frames.map(cudf.DataFrame.from_pandas)

    def from_cudf(self, gdf: Any, output_table: OutputTable) -> None:
        _cudf()
        self.from_df(gdf.to_pandas(), output_table)

    def complete(self) -> None:
        """Hand the output tables and results back; a script that exits without calling this
        has failed, and nothing it wrote is kept."""
        for table in self.output_data:
            for column in table:
                kf.write_column(column._files, column._to_wire())
        kf.write_completion(self._control.output_control,
                            kf.Completion({str(k): str(v) for k, v in self.results.items()},
                                          {str(k): bytes(v) for k, v in self.bin_results.items()}))


def _pandas_values(column: InputColumn) -> Any:
    """A column as pandas would make it from the column's Python values (Kinetica's to_df builds
    it so), numeric columns without NULLs straight from numpy."""
    arrow = column.to_arrow()
    if arrow.null_count == 0 and column.type in _WIDE_DTYPES:
        return arrow.to_numpy(zero_copy_only=False).astype(_WIDE_DTYPES[column.type])
    return column[:]


_WIDE_DTYPES = {kf.ColumnType.BOOLEAN: np.bool_, kf.ColumnType.INT8: np.int64,
                kf.ColumnType.INT16: np.int64, kf.ColumnType.INT: np.int64,
                kf.ColumnType.LONG: np.int64, kf.ColumnType.TIMESTAMP: np.int64,
                kf.ColumnType.FLOAT: np.float64, kf.ColumnType.DOUBLE: np.float64}


def _cudf() -> Any:
    try:
        import cudf
    except ImportError:
        print("cuDF is not installed: to_cudf/from_cudf need RAPIDS cuDF on a GPU machine",
              file=sys.stderr)
        raise
    return cudf
