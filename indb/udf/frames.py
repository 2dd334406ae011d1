"""Shard rows in the frame a UDF asked for, and what a UDF returns back as Arrow tables.

GPU frames (``torch`` on a GPU worker, ``cupy``) reach the device through ``gpus.to_device``.
The frames are named in ``indb.registry.code.FRAMES`` (checked when a function is
registered); ``CONVERTERS`` has one converter each.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
import pyarrow as pa

from indb.errors import FunctionError
from indb.runtime.gpus import to_device


def _numpy_frame(table: pa.Table, device: str) -> object:
    """A dict of arrays, fixed-size array columns (``FLOAT[784]``) as 2-D ``(rows, n)`` arrays,
    without copies."""
    return {name: _to_numpy(table[name]) for name in table.column_names}


def _torch_frame(table: pa.Table, device: str) -> object:
    """A dict of tensors on ``device`` (text columns stay numpy)."""
    return {name: to_device(_numpy_chunks(table[name]), device) for name in table.column_names}


def _cupy_frame(table: pa.Table, device: str) -> object:
    """A dict of CuPy arrays on the GPU (through DLPack)."""
    if device == "cpu":
        raise FunctionError("frame='cupy' needs a GPU, and this worker has none; use frame='numpy'")
    import cupy
    return {name: _dlpack_or_numpy(to_device(_numpy_chunks(table[name]), device), cupy.from_dlpack)
            for name in table.column_names}


def _cudf_frame(table: pa.Table, device: str) -> object:
    """A cuDF DataFrame."""
    try:
        import cudf
    except ImportError:
        raise FunctionError("frame='cudf' needs cuDF, which this worker cannot import") from None
    return cudf.DataFrame.from_arrow(table)


CONVERTERS: dict[str, Callable[[pa.Table, str], object]] = {
    "arrow": lambda table, device: table,
    "pandas": lambda table, device: table.to_pandas(),
    "numpy": _numpy_frame,
    "torch": _torch_frame,
    "cupy": _cupy_frame,
    "cudf": _cudf_frame,
}


def to_frame(table: pa.Table, frame: str, device: str = "cpu") -> object:
    """The table in ``frame`` (one of ``CONVERTERS``), its device columns on ``device``."""
    converter = CONVERTERS.get(frame)
    if converter is None:
        raise FunctionError(f"unknown frame {frame!r}; frames are {', '.join(CONVERTERS)}")
    return converter(table, device)


def _dlpack_or_numpy(column: Any, convert: Any) -> Any:
    return column if isinstance(column, np.ndarray) else convert(column)


def _to_numpy(column: pa.ChunkedArray) -> np.ndarray:
    return _chunk_to_numpy(column.combine_chunks() if column.num_chunks != 1 else column.chunk(0))


def _numpy_chunks(column: pa.ChunkedArray) -> list[np.ndarray]:
    """A column's chunks as numpy arrays (no copies where the layout allows), for to_device to
    stack straight into its staging buffer (a file read in row groups comes in several)."""
    chunks = [_chunk_to_numpy(chunk) for chunk in column.chunks if len(chunk)]
    if len({(c.dtype, c.shape[1:]) for c in chunks}) != 1:  # none, or unlike (nulls in one)
        return [_to_numpy(column)]
    return chunks


def _chunk_to_numpy(array: pa.Array) -> np.ndarray:
    if pa.types.is_fixed_size_list(array.type) and array.null_count == 0:
        width = array.type.list_size
        values = array.flatten().to_numpy(zero_copy_only=False)
        return values.reshape(len(array), width)
    return array.to_numpy(zero_copy_only=False)


def to_table(value: object, what: str) -> pa.Table:
    """An Arrow table from an Arrow table or batch, a pandas DataFrame or a dict of columns."""
    if isinstance(value, pa.Table):
        return value
    if isinstance(value, pa.RecordBatch):
        return pa.Table.from_batches([value])
    if type(value).__module__.startswith("pandas") and hasattr(value, "columns"):
        return pa.Table.from_pandas(value, preserve_index=False)
    if isinstance(value, Mapping):
        try:
            return pa.table({str(name): _to_arrow(column) for name, column in _fetched(value).items()})
        except (pa.ArrowException, ValueError, TypeError) as error:
            raise FunctionError(f"{what}: could not make columns of {sorted(value)}: {error}") from None
    raise FunctionError(f"{what} is a {type(value).__name__}; return a pyarrow Table, a pandas "
                   "DataFrame or a dict of columns")


def _fetched(columns: Mapping[Any, Any]) -> Mapping[Any, Any]:
    """The columns, their torch tensors on a GPU copied to the host in one transfer (packed
    there as bytes): one wait for the device instead of one a column."""
    if sum(1 for column in columns.values() if getattr(column, "is_cuda", False)) < 2:
        return columns
    import torch  # a tensor on a GPU: torch is imported already
    to_numpy = {getattr(torch, name): np.dtype(name) for name in (
        "bool", "uint8", "int8", "int16", "int32", "int64", "float16", "float32", "float64")}
    # widest first: every column's bytes start aligned for its type
    on_gpu = {name: column for name, column in sorted(
        columns.items(), key=lambda item: -getattr(item[1], "itemsize", 0))
        if getattr(column, "is_cuda", False) and column.dtype in to_numpy}
    if len(on_gpu) < 2:
        return columns
    packed = torch.cat([column.detach().contiguous().view(-1).view(torch.uint8)
                        for column in on_gpu.values()]).cpu().numpy()
    fetched, offset = dict(columns), 0
    for name, column in on_gpu.items():
        size = column.numel() * column.element_size()
        fetched[name] = packed[offset:offset + size].view(to_numpy[column.dtype]).reshape(column.shape)
        offset += size
    return fetched


def _to_arrow(column: Any) -> pa.Array | pa.ChunkedArray:
    if isinstance(column, pa.Array | pa.ChunkedArray):
        return column
    if hasattr(column, "detach") and hasattr(column, "cpu"):  # a torch tensor, maybe on a GPU
        column = column.detach().cpu().numpy()
    elif type(column).__module__.startswith("cupy"):  # copied back once
        column = column.get()
    if hasattr(column, "to_numpy") and not isinstance(column, np.ndarray):  # pandas Series, torch
        column = column.to_numpy() if type(column).__module__.startswith("pandas") else np.asarray(column)
    array = np.asarray(column) if not isinstance(column, list) else None
    if array is None:
        return pa.array(column)
    if array.ndim == 2:  # rows of fixed-size arrays: FLOAT[n] and friends
        return pa.FixedSizeListArray.from_arrays(pa.array(np.ascontiguousarray(array).ravel()),
                                                 array.shape[1])
    return pa.array(array)


def to_outputs(result: object, names: Sequence[str]) -> list[pa.Table | None]:
    """A UDF's return value as one table (or None) per output table.

    One output: a table-like value. Several: a tuple or list of them in output order, or a dict
    keyed by output table name. ``None`` writes nothing.
    """
    if result is None or not names:  # nothing to write (a run without outputs ignores rows)
        return [None] * len(names)
    lowered = [n.lower() for n in names]
    if isinstance(result, Mapping) and result and all(str(k).lower() in lowered for k in result) \
            and all(_table_like(v) or v is None for v in result.values()):
        by_name = {str(k).lower(): v for k, v in result.items()}
        return [None if by_name.get(n) is None else to_table(by_name[n], f"the output for {n}")
                for n in lowered]
    if len(names) == 1:
        return [to_table(result, f"the output for {names[0]}")]
    if isinstance(result, tuple | list) and len(result) == len(names):
        return [None if v is None else to_table(v, f"the output for {n}") for v, n in zip(result, names)]
    raise FunctionError(f"the run has {len(names)} output tables ({', '.join(names)}); return a tuple "
                   f"of {len(names)} tables in that order, or a dict keyed by table name")


def _table_like(value: object) -> bool:
    return isinstance(value, pa.Table | pa.RecordBatch) or (
        type(value).__module__.startswith("pandas") and hasattr(value, "columns")) or (
        isinstance(value, Mapping))
