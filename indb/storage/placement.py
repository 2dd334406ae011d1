"""Which shard a row belongs to: Iceberg's ``bucket(N, source)`` of its shard source column.

The bucket function is pyiceberg's own transform (murmur3, as the Iceberg spec defines it), so a
shard computed here is the partition any Iceberg reader sees. Tables without a shard key get a
hidden row id from a per-table sequence and are bucketed by it; tables with a composite key get a
hidden string column joining the key values.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from pyiceberg.schema import Schema
from pyiceberg.transforms import BucketTransform
from pyiceberg.types import LongType

from indb.catalog.tables import ROWID, TableInfo

KEY_SEPARATOR = "\x1f"   # ASCII unit separator between composite key values
NULL_KEY = "\x00"        # stands for a NULL key value inside a composite key


def with_hidden_columns(info: TableInfo, stored: pa.Table,
                        rowids: Callable[[int], np.ndarray]) -> pa.Table:
    """Append the hidden placement column a table needs, unless the rows already carry it.

    ``rowids(n)`` gives n new row ids (see ``consecutive_rowids`` and ``rowids_in_shard``).
    """
    for field in info.hidden_columns:
        if field.name in stored.column_names:
            continue
        if field.name == ROWID:
            values = pa.array(rowids(stored.num_rows))
        else:
            values = composite_key(stored, info.shard_key)
        stored = stored.append_column(field, values)
    return stored


def consecutive_rowids(allocate: Callable[[int], int]) -> Callable[[int], np.ndarray]:
    """Row ids from a sequence: ``allocate(n)`` reserves n ids and returns the first."""
    def rowids(count: int) -> np.ndarray:
        start = allocate(count)
        return np.arange(start, start + count, dtype=np.int64)
    return rowids


def rowids_in_shard(allocate: Callable[[int], int], shards: int, shard: int) -> Callable[[int], np.ndarray]:
    """Row ids from a sequence that all bucket into ``shard``: a UDF instance's output rows stay
    in the shard it ran on. About one id in ``shards`` qualifies; the rest of a range is unused."""
    transform = BucketTransform(shards).pyarrow_transform(LongType())

    def rowids(count: int) -> np.ndarray:
        found: list[np.ndarray] = []
        missing = count
        while missing > 0:
            size = missing * shards + 64 * shards + missing * shards // 4
            start = allocate(size)
            candidates = np.arange(start, start + size, dtype=np.int64)
            buckets = np.asarray(transform(pa.array(candidates)))
            chosen = candidates[buckets == shard][:missing]
            found.append(chosen)
            missing -= len(chosen)
        return np.concatenate(found) if found else np.empty(0, dtype=np.int64)
    return rowids


def composite_key(rows: pa.Table, key: tuple[str, ...]) -> pa.ChunkedArray:
    """Key values of several columns joined into one string per row."""
    parts = [pc.cast(rows[name], pa.string()) for name in key]
    return pc.binary_join_element_wise(*parts, KEY_SEPARATOR, null_handling="replace",
                                       null_replacement=NULL_KEY)


def shard_numbers(info: TableInfo, stored: pa.Table, iceberg_schema: Schema) -> np.ndarray:
    """Each stored row's shard: pyiceberg's bucket transform of the shard source column."""
    source = info.shard_source
    if source is None:
        return np.zeros(stored.num_rows, dtype=np.int32)
    source_type = iceberg_schema.find_field(source).field_type
    buckets = BucketTransform(info.shards).pyarrow_transform(source_type)(stored[source])
    if isinstance(buckets, pa.ChunkedArray):
        buckets = buckets.combine_chunks()
    return buckets.to_numpy(zero_copy_only=False).astype(np.int32, copy=False)


def split_by_shard(info: TableInfo, stored: pa.Table, iceberg_schema: Schema) -> dict[int, pa.Table]:
    """The rows of ``stored`` grouped by shard, each group in input order."""
    if not stored.num_rows:
        return {}
    if info.shard_source is None:
        return {0: stored}
    shards = shard_numbers(info, stored, iceberg_schema)
    if (shards == shards[0]).all():  # one shard (a UDF instance's rows, usually): no reordering
        return {int(shards[0]): stored}
    order = np.argsort(shards, kind="stable")
    counts = np.bincount(shards, minlength=info.shards)
    grouped = stored.take(pa.array(order))
    out, start = {}, 0
    for shard, count in enumerate(counts):
        if count:
            out[shard] = grouped.slice(start, int(count))
        start += int(count)
    return out
