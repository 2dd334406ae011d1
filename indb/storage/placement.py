"""Which shard a row belongs to: Iceberg's ``bucket(N, source)`` of its shard source column.

The bucket function is pyiceberg's own transform (murmur3, as the Iceberg spec defines it), so a
shard computed here is the partition any Iceberg reader sees. Tables without a shard key get a
hidden row id from a per-table sequence and are bucketed by it; tables with a composite key get a
hidden string column joining the key values.

A NULL single-column key has no bucket: Iceberg's transforms map null to null, so such rows are
stored in the table's null partition, which indb reads as shard ``NULL_KEY_SHARD``. (Composite keys
are never NULL: a NULL part is written as ``NULL_KEY`` inside the joined string.)
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
NULL_KEY_SHARD = 0       # the shard whose instance (and ``shard(k)``) reads rows with a NULL key
# A column whose first SAMPLE_ROWS rows hold at most FEW_DISTINCT values (ticker symbols, say) is
# taken for one of few distinct values: as a shard key it is hashed once per distinct value
# (hashing every row costs several times a dictionary encoding), and data files store it with a
# dictionary (see ``files.dictionary_columns``).
SAMPLE_ROWS = 8192
FEW_DISTINCT = SAMPLE_ROWS // 16
# A write to a table without a shard key is cut into runs of at least RUN_ROWS rows, one a shard
# (``rowids_in_runs``): a smaller write is one file, which DuckDB reads on one thread, so that
# string_agg, list and first see its rows in order, and INSERTs of a few rows leave a file each
# rather than one a shard; writes of thousands of rows are still spread over every shard
RUN_ROWS = 1024
# more than FEW_DISTINCT values in the first PEEK_ROWS already settle it, at a tenth of the cost
# of counting the whole sample (ids, prices, times: 0.02 ms against 0.25 a column on the
# developers' VM, in every write of an instance's output)
PEEK_ROWS = 2 * FEW_DISTINCT


def with_hidden_columns(info: TableInfo, stored: pa.Table,
                        rowids: Callable[[int], np.ndarray]) -> pa.Table:
    """Append the hidden placement column a table needs, unless the rows already carry it.

    ``rowids(n)`` gives n new row ids (see ``rowids_in_runs`` and ``rowids_in_shard``).
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


def rowids_in_runs(allocate: Callable[[int], int], shards: int) -> Callable[[int], np.ndarray]:
    """Row ids from a sequence for rows written in the order given: the rows are cut into up to
    ``shards`` runs of consecutive rows (``_runs``), and each run's ids all bucket into a shard
    of its own, so that each shard's file holds one run and the files, read in their names'
    order (``files.data_files``), give the rows back in the order they were written, as DuckDB
    and PostgreSQL do. ``allocate(n)`` reserves n ids and returns the first. The first run's
    shard is the first id's, so that small writes spread over the shards as one-row writes of
    consecutive ids do."""
    transform = BucketTransform(shards).pyarrow_transform(LongType())

    def rowids(count: int) -> np.ndarray:
        runs = _runs(count, shards)
        wanted: list[int] = [len(run) for run in runs]
        found: list[list[np.ndarray]] = [[] for _ in runs]
        targets: list[int] = []
        while sum(wanted):
            # each shard's share of the candidates is binomial: six deviations to spare, so
            # that a second range is rarely wanted
            size = sum(wanted) + 6 * int(np.sqrt(sum(wanted) * shards)) + 64 * len(runs)
            start = allocate(size)
            candidates = np.arange(start, start + size, dtype=np.int64)
            buckets = np.asarray(transform(pa.array(candidates)))
            if not targets:
                targets = [(int(buckets[0]) + j) % shards for j in range(len(runs))]
            for j, shard in enumerate(targets):
                if wanted[j]:
                    chosen = candidates[buckets == shard][:wanted[j]]
                    found[j].append(chosen)
                    wanted[j] -= len(chosen)
        return np.concatenate([part for run in found for part in run]) if count \
            else np.empty(0, dtype=np.int64)
    return rowids


def _runs(count: int, shards: int) -> list[np.ndarray]:
    """The positions of each run of ``rowids_in_runs``'s rows: runs of RUN_ROWS rows or more,
    at most one a shard."""
    return np.array_split(np.arange(count), min(shards, max(1, count // RUN_ROWS))) if count else []


def split_in_runs(info: TableInfo, stored: pa.Table) -> dict[int | None, np.ndarray]:
    """``split_by_partition`` of rows whose row ids ``rowids_in_runs`` drew for them, all at
    once: each run's shard is its first id's, so that one id a run is hashed, not every one."""
    transform = BucketTransform(info.shards).pyarrow_transform(LongType())
    runs = _runs(stored.num_rows, info.shards)
    firsts = stored[ROWID].take(pa.array([int(run[0]) for run in runs], pa.int64()))
    return dict(zip(np.asarray(transform(firsts.combine_chunks())).tolist(), runs, strict=True))


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


def partition_values(info: TableInfo, stored: pa.Table, iceberg_schema: Schema) -> pa.Array:
    """Each stored row's Iceberg partition value: pyiceberg's bucket transform of the shard source
    column (int32; null where the key is NULL); all 0 for a table without one."""
    source = info.shard_source
    if source is None:
        return pa.array(np.zeros(stored.num_rows, dtype=np.int32))
    bucket = BucketTransform(info.shards).pyarrow_transform(
        iceberg_schema.find_field(source).field_type)
    keys = stored[source]
    if pa.types.is_string(keys.type) or pa.types.is_binary(keys.type):
        if has_few_distinct(keys):
            encoded = pc.dictionary_encode(keys).combine_chunks()
            return pc.take(bucket(encoded.dictionary), encoded.indices)
    buckets = bucket(keys)
    return buckets.combine_chunks() if isinstance(buckets, pa.ChunkedArray) else buckets


def has_few_distinct(column: pa.ChunkedArray) -> bool:
    """Whether a column's first rows hold few distinct values (see ``FEW_DISTINCT``)."""
    if pa.types.is_nested(column.type):
        return False
    for rows in (PEEK_ROWS, SAMPLE_ROWS) if len(column) > PEEK_ROWS else (PEEK_ROWS,):
        if pc.count_distinct(column.slice(0, rows), mode="all").as_py() > FEW_DISTINCT:
            return False
    return True


def split_by_partition(info: TableInfo, stored: pa.Table,
                       iceberg_schema: Schema) -> dict[int | None, np.ndarray]:
    """The positions (ascending) of the rows of ``stored`` that go to each partition value: the
    shard, or None for NULL keys."""
    if not stored.num_rows:
        return {}
    values = partition_values(info, stored, iceberg_schema)
    codes = values.fill_null(-1).to_numpy(zero_copy_only=False)  # -1: the null partition
    if (codes == codes[0]).all():  # one shard (a UDF instance's rows, usually)
        return {_partition(codes[0]): np.arange(stored.num_rows)}
    counts = np.bincount(codes + 1, minlength=info.shards + 1)
    # one pass a partition present: several times faster than sorting by partition
    return {_partition(code): np.flatnonzero(codes == code)
            for code in range(-1, info.shards) if counts[code + 1]}


def _partition(code: int) -> int | None:
    return None if code < 0 else int(code)
