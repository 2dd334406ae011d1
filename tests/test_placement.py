import datetime

import numpy as np
import pyarrow as pa
import pytest
from pyiceberg.schema import Schema
from pyiceberg.transforms import BucketTransform
from pyiceberg.types import LongType, NestedField, StringType, TimestampType

from indb.catalog.tables import COMPOSITE_KEY, ROWID, TableInfo
from indb.catalog.types import Column
from indb.storage.placement import (FEW_DISTINCT, PEEK_ROWS, RUN_ROWS, SAMPLE_ROWS, has_few_distinct,
                                     partition_values, rowids_in_runs, rowids_in_shard,
                                     split_by_partition, split_in_runs, with_hidden_columns)


def test_shards_agree_with_iceberg_bucket_function():
    info = TableInfo("t", (Column("sym", "VARCHAR"), Column("ts", "TIMESTAMP")), ("sym",), 8)
    schema = Schema(NestedField(1, "sym", StringType()), NestedField(2, "ts", TimestampType()))
    syms = [f"SYM{i}" for i in range(200)]
    rows = pa.table({"sym": syms, "ts": pa.array([datetime.datetime(2026, 1, 1)] * 200)})
    bucket = BucketTransform(8).transform(StringType())  # pyiceberg's scalar function
    assert partition_values(info, rows, schema).to_pylist() == [bucket(s) for s in syms]


def test_split_by_shard_keeps_every_row_once_in_input_order():
    info = TableInfo("t", (Column("k", "BIGINT"),), ("k",), 4)
    schema = Schema(NestedField(1, "k", LongType()))
    rows = pa.table({"k": np.arange(1000, dtype=np.int64)})
    parts = split_by_partition(info, rows, schema)
    bucket = BucketTransform(4).transform(LongType())
    assert sorted(np.concatenate(list(parts.values())).tolist()) == list(range(1000))
    for shard, positions in parts.items():
        assert positions.tolist() == sorted(positions.tolist())
        assert {bucket(k) for k in rows["k"].take(positions).to_pylist()} == {shard}


def sequence():
    """An ``allocate`` like the table's row id sequence: ranges one after the other."""
    following = [0]

    def allocate(count):
        start = following[0]
        following[0] += count
        return start
    return allocate


def test_no_shard_key_spreads_rows_by_row_id_in_runs():
    info = TableInfo("t", (Column("x", "DOUBLE"),), (), 8)
    schema = Schema(NestedField(1, "x", StringType()), NestedField(2, ROWID, LongType()))
    stored = with_hidden_columns(info, pa.table({"x": np.zeros(80_000)}), rowids_in_runs(sequence(), 8))
    ids = stored[ROWID].to_numpy()
    assert len(np.unique(ids)) == 80_000
    shards = partition_values(info, stored, schema).to_numpy()
    # eight runs of consecutive rows, each run in a shard of its own, the first where id 0 is
    assert shards.tolist() == np.repeat((np.arange(8) + BucketTransform(8).transform(LongType())(0)) % 8,
                                        10_000).tolist()
    assert all((np.diff(ids[k * 10_000:(k + 1) * 10_000]) > 0).all() for k in range(8))


def test_a_small_write_is_one_run_where_its_first_id_goes():
    info = TableInfo("t", (Column("x", "DOUBLE"),), (), 8)
    schema = Schema(NestedField(1, "x", StringType()), NestedField(2, ROWID, LongType()))
    allocate = sequence()
    for count in (RUN_ROWS - 1, 2 * RUN_ROWS - 1):  # one run; still one (two need 2 * RUN_ROWS)
        small = with_hidden_columns(info, pa.table({"x": np.zeros(count)}), rowids_in_runs(allocate, 8))
        assert len(set(partition_values(info, small, schema).to_pylist())) == 1
    two = with_hidden_columns(info, pa.table({"x": np.zeros(2 * RUN_ROWS)}), rowids_in_runs(allocate, 8))
    assert len(set(partition_values(info, two, schema).to_pylist())) == 2
    following = allocate(0)
    one = with_hidden_columns(info, pa.table({"x": np.zeros(1)}), rowids_in_runs(allocate, 8))
    assert one[ROWID].to_pylist() == [following]  # a one-row write takes the next id, as before
    nothing = with_hidden_columns(info, pa.table({"x": np.zeros(0)}), rowids_in_runs(allocate, 8))
    assert nothing.num_rows == 0 and nothing[ROWID].type == pa.int64()


@pytest.mark.parametrize("count", [1, 3, 1001, 2048, 9000])
def test_rows_in_runs_split_as_every_id_hashed_would_split_them(count):
    info = TableInfo("t", (Column("x", "DOUBLE"),), (), 8)
    schema = Schema(NestedField(1, "x", StringType()), NestedField(2, ROWID, LongType()))
    stored = with_hidden_columns(info, pa.table({"x": np.zeros(count)}), rowids_in_runs(sequence(), 8))
    by_first_ids = split_in_runs(info, stored)
    by_every_id = split_by_partition(info, stored, schema)
    assert by_first_ids.keys() == by_every_id.keys()
    assert all(by_first_ids[k].tolist() == by_every_id[k].tolist() for k in by_every_id)


def test_composite_key_colocates_equal_keys():
    info = TableInfo("t", (Column("a", "VARCHAR"), Column("b", "INTEGER")), ("a", "b"), 8)
    schema = Schema(NestedField(1, "a", StringType()), NestedField(2, "b", LongType()),
                    NestedField(3, COMPOSITE_KEY, StringType()))
    rows = pa.table({"a": ["x", "x", "y", "x", None], "b": [1, 1, 1, 2, 1]})
    stored = with_hidden_columns(info, rows, rowids_in_runs(lambda n: 0, 8))
    keys = stored[COMPOSITE_KEY].to_pylist()
    assert keys[0] == keys[1] and len(set(keys)) == 4
    shards = partition_values(info, stored, schema).to_pylist()
    assert shards[0] == shards[1] and None not in shards  # a NULL part still makes a key


def test_no_rows_no_shards():
    info = TableInfo("t", (Column("k", "BIGINT"),), ("k",), 4)
    assert split_by_partition(info, pa.table({"k": pa.array([], pa.int64())}),
                          Schema(NestedField(1, "k", LongType()))) == {}


def test_rowids_in_shard_all_bucket_into_that_shard_and_never_repeat() -> None:
    issued = iter(range(0, 10**9, 10**6))  # each reservation gets a fresh range
    rowids = rowids_in_shard(lambda n: next(issued), 8, 3)
    first, second = rowids(1000), rowids(5)
    assert len(first) == 1000 and len(second) == 5
    ids = np.concatenate([first, second])
    assert len(set(ids.tolist())) == len(ids)
    transform = BucketTransform(8).transform(LongType())
    assert {transform(int(i)) for i in ids} == {3}


def test_keys_of_few_distinct_values_bucket_as_iceberg_does():
    """Hashed once per distinct value (the sample has few), the buckets are still Iceberg's."""
    info = TableInfo("t", (Column("sym", "VARCHAR"),), ("sym",), 8)
    schema = Schema(NestedField(1, "sym", StringType()))
    syms = [f"S{i % (FEW_DISTINCT // 2)}" if i % 7 else None for i in range(3 * SAMPLE_ROWS)]
    rows = pa.table({"sym": pa.chunked_array([syms[:100], syms[100:]])})
    bucket = BucketTransform(8).transform(StringType())
    assert partition_values(info, rows, schema).to_pylist() == [bucket(s) for s in syms]


def test_null_keys_are_the_null_partition_as_iceberg_buckets_them():
    """Iceberg's transforms map null to null: NULL-keyed rows are one group of their own."""
    info = TableInfo("t", (Column("k", "BIGINT"), Column("v", "INTEGER")), ("k",), 4)
    schema = Schema(NestedField(1, "k", LongType()), NestedField(2, "v", LongType()))
    keys = [None, 3, None, 8, 3, None]
    rows = pa.table({"k": pa.array(keys, pa.int64()), "v": pa.array(range(6), pa.int32())})
    bucket = BucketTransform(4).transform(LongType())
    assert partition_values(info, rows, schema).to_pylist() == [bucket(k) for k in keys]
    parts = split_by_partition(info, rows, schema)
    assert parts[None].tolist() == [0, 2, 5]
    assert sum(len(p) for p in parts.values()) == 6
    only_nulls = split_by_partition(info, rows.filter(pa.array([k is None for k in keys])), schema)
    assert {k: v.tolist() for k, v in only_nulls.items()} == {None: [0, 1, 2]}


def test_few_distinct_counts_the_whole_sample_when_its_first_rows_do_not_settle_it():
    few, peek, sample = FEW_DISTINCT, PEEK_ROWS, SAMPLE_ROWS
    repeated = np.arange(peek) % few  # FEW_DISTINCT values in the first PEEK_ROWS rows
    # ... and more later in the sample: only counting the whole sample sees them
    many_later = pa.chunked_array([np.concatenate([repeated, np.arange(few, few + sample)])])
    assert not has_few_distinct(many_later)
    # ... and none later: few
    assert has_few_distinct(pa.chunked_array([np.tile(repeated, sample // peek + 1)]))
    # more than FEW_DISTINCT in the first rows: settled without the rest
    assert not has_few_distinct(pa.chunked_array([np.arange(sample * 2)]))
    # beyond the sample nothing counts
    assert has_few_distinct(pa.chunked_array([np.concatenate([np.zeros(sample),
                                                                        np.arange(sample)])]))
    assert has_few_distinct(pa.chunked_array([np.arange(few)]))  # a short column
    assert not has_few_distinct(pa.chunked_array([np.arange(few + 1)]))
