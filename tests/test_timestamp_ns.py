"""TIMESTAMP_NS end to end: stored as Iceberg ``long`` nanoseconds, read back exactly by SQL,
shard reads, UDF frames and function outputs; nanoseconds bound for TIMESTAMP refused unless
``truncate_timestamps``."""

from __future__ import annotations

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import indb
from indb.catalog.types import Column, from_storage, storage_type_of, to_storage

NS = [1_767_225_600_123_456_789, 1_767_225_600_123_456_790, -1]  # 2026-01-01 00:00:00.123456789...


def ticks(values: list[int]) -> pa.Table:
    return pa.table({"sym": ["AAPL"] * len(values), "ts": pa.array(values, pa.timestamp("ns"))})


def test_stored_as_long_nanoseconds_and_back():
    column = Column("ts", "TIMESTAMP_NS")
    assert storage_type_of("TIMESTAMP_NS") == pa.int64()
    stored = to_storage(pa.array(NS + [None], pa.timestamp("ns")), column)
    assert stored.to_pylist() == NS + [None]
    assert from_storage(stored, column).cast(pa.int64()).to_pylist() == NS + [None]


def test_nested_nanoseconds_are_refused():
    with pytest.raises(indb.SchemaError, match="TIMESTAMP_NS is a column type of its own"):
        storage_type_of("TIMESTAMP_NS[]")


def test_create_insert_load_and_query_back_exact_nanoseconds(fresh, tmp_path):
    fresh.sql("CREATE TABLE t (sym VARCHAR, ts TIMESTAMP_NS, SHARD KEY (ts)) WITH (SHARDS = 4)")
    fresh.sql("INSERT INTO t VALUES ('MSFT', TIMESTAMP_NS '2026-01-01 00:00:00.000000001')")
    fresh.load("t", ticks(NS[:2]))
    frame = pd.DataFrame({"sym": ["IBM"], "ts": pd.to_datetime([NS[2]], unit="ns")})
    fresh.load("t", frame)
    pq.write_table(ticks([NS[0] + 10]), tmp_path / "more.parquet")
    fresh.sql(f"COPY t FROM '{tmp_path / 'more.parquet'}'")
    assert fresh.sql("DESCRIBE t").fetchone()[:2] == ("sym", "VARCHAR")
    assert [r[1] for r in fresh.sql("DESCRIBE t").fetchall() if r[0] == "ts"] == ["TIMESTAMP_NS"]
    got = fresh.sql("SELECT epoch_ns(ts) FROM t ORDER BY ts").fetchall()
    assert [r[0] for r in got] == sorted([1_767_225_600_000_000_001, *NS, NS[0] + 10])
    assert fresh.sql("SELECT typeof(ts) FROM t LIMIT 1").fetchone() == ("TIMESTAMP_NS",)
    # a filter on the nanosecond tells two ticks of one microsecond apart
    assert fresh.sql("SELECT count(*) FROM t WHERE ts > TIMESTAMP_NS "
                     "'2026-01-01 00:00:00.123456789'").fetchone() == (2,)
    shards = [fresh.table("t").shard(k) for k in range(4)]
    values = sorted(v for s in shards for v in s["ts"].cast(pa.int64()).to_pylist())
    assert values == sorted([1_767_225_600_000_000_001, *NS, NS[0] + 10])
    assert all(s.schema.field("ts").type == pa.timestamp("ns") for s in shards)
    fresh.sql("UPDATE t SET ts = ts + INTERVAL 1 SECOND WHERE sym = 'IBM'")
    assert fresh.sql("SELECT epoch_ns(ts) FROM t WHERE sym = 'IBM'").fetchone() == (NS[2] + 10**9,)


def test_functions_see_nanoseconds_and_write_them(fresh):
    fresh.sql("CREATE TABLE t (sym VARCHAR, ts TIMESTAMP_NS) WITH (SHARDS = 2)")
    fresh.load("t", ticks(NS[:2]))
    fresh.sql("CREATE FUNCTION later LANGUAGE PYTHON AS $$\n"
              "import pyarrow as pa\n"
              "def later(ctx, t):\n"
              "    assert t.schema.field('ts').type == pa.timestamp('ns'), t.schema\n"
              "    ns = t['ts'].cast(pa.int64()).to_numpy() + 1\n"
              "    return {'sym': t['sym'], 'ts': pa.array(ns).cast(pa.timestamp('ns'))}\n$$")
    fresh.sql("CREATE TABLE out (sym VARCHAR, ts TIMESTAMP_NS)")
    fresh.sql("EXECUTE FUNCTION later(INPUT_TABLE_NAMES => t, "
              "OUTPUT_TABLE_NAMES => OUTPUT_TABLES('out'))")
    expected = [(v + 1,) for v in sorted(NS[:2])]
    assert fresh.sql("SELECT epoch_ns(ts) FROM out ORDER BY ts").fetchall() == expected
    # the input query of a run reads TIMESTAMP_NS too
    fresh.sql("EXECUTE FUNCTION later(INPUT_TABLE_NAMES => INPUT_TABLE(SELECT * FROM t WHERE ts > "
              "TIMESTAMP_NS '2026-01-01 00:00:00.123456789'), OUTPUT_TABLE_NAMES => OUTPUT_TABLES('out'))")
    assert fresh.sql("SELECT max(epoch_ns(ts)) FROM out").fetchone() == (NS[1] + 1,)


def test_sub_microsecond_values_are_refused_for_timestamp_naming_column_and_value(fresh):
    fresh.sql("CREATE TABLE t (sym VARCHAR, ts TIMESTAMP)")
    fresh.load("t", ticks([1_767_225_600_000_000_000]))  # whole microseconds load
    with pytest.raises(indb.DataError, match=r"column ts is TIMESTAMP .* value "
                       r"2026-01-01 00:00:00\.123456789 \(row 1 .*truncate_timestamps=True"):
        fresh.load("t", ticks(NS[:2]))
    assert fresh.sql("SELECT count(*) FROM t").fetchone() == (1,)
    fresh.load("t", ticks(NS[:2]), truncate_timestamps=True)
    assert fresh.sql("SELECT epoch_us(ts) FROM t ORDER BY ts").fetchall() == [
        (1_767_225_600_000_000,), (1_767_225_600_123_456,), (1_767_225_600_123_456,)]


def test_a_new_table_from_nanosecond_data_is_timestamp_and_refuses_or_truncates(fresh):
    with pytest.raises(indb.DataError, match="TIMESTAMP_NS to keep them"):
        fresh.load("t", ticks(NS[:1]))
    assert not fresh.sql("SHOW TABLES").fetchall()
    fresh.load("t", ticks(NS[:1]), truncate_timestamps=True)
    assert fresh.sql("SELECT typeof(ts), epoch_us(ts) FROM t").fetchall() == [
        ("TIMESTAMP", 1_767_225_600_123_456)]


def test_a_served_database_takes_the_truncate_option(tmp_path):
    from serving import Served
    with indb.connect(tmp_path / "db") as conn:
        conn.sql("CREATE TABLE t (sym VARCHAR, ts TIMESTAMP)")
    server = Served(tmp_path / "db")
    try:
        with indb.connect(server.url) as remote:
            with pytest.raises(indb.DataError, match="truncate_timestamps=True"):
                remote.load("t", ticks(NS[:1]))
            assert remote.load("t", ticks(NS[:1]), truncate_timestamps=True) == 1
            assert remote.sql("SELECT epoch_us(ts) FROM t").fetchall() == [(NS[0] // 1000,)]
    finally:
        server.stop()
