"""SQL end to end: statements through the parser, planner, DuckDB views and Iceberg writes."""

import datetime
from decimal import Decimal

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from pyiceberg.transforms import BucketTransform
from pyiceberg.types import IntegerType, StringType

import indb
from indb.engine.tables import table_facts
from indb.query.scan import Scans
from indb.storage.files import data_files
from indb.datasets import synthetic_ticks
from indb.errors import CatalogError, SqlError


def snapshot(conn, name):
    return table_facts(conn._engine, name)["snapshot_id"]


def make_ticks(conn, name, rows=2000, shards=4):
    conn.sql(f"CREATE TABLE {name} (sym VARCHAR, ts TIMESTAMP, px DOUBLE, size INTEGER, "
             f"SHARD KEY (sym)) WITH (SHARDS = {shards})")
    conn.load(name, synthetic_ticks(rows, symbols=50))


def test_create_insert_select(conn, table_name):
    conn.sql(f"CREATE TABLE {table_name} (sym VARCHAR, ts TIMESTAMP, px DOUBLE, SHARD KEY (sym))")
    result = conn.sql(f"INSERT INTO {table_name} VALUES ('A', '2026-01-01 09:30:00.123456', 1.5), "
                      "('B', NULL, 2.5)")
    assert result.rowcount == 2
    rows = conn.sql(f"SELECT * FROM {table_name} ORDER BY sym").fetchall()
    assert rows == [("A", datetime.datetime(2026, 1, 1, 9, 30, 0, 123456), 1.5), ("B", None, 2.5)]


def test_insert_select_with_column_list_fills_nulls(conn, table_name):
    make_ticks(conn, table_name, rows=100)
    conn.sql(f"INSERT INTO {table_name} (sym, px) SELECT sym, px * 2 FROM {table_name} WHERE size > 5000")
    expected = conn.sql(f"SELECT count(*) FROM {table_name} WHERE size > 5000 AND ts IS NOT NULL").fetchone()[0]
    assert conn.sql(f"SELECT count(*) FROM {table_name} WHERE ts IS NULL").fetchone()[0] == expected


def test_insert_overwrite_replaces_the_rows_in_one_snapshot(conn, table_name):
    conn.sql(f"CREATE TABLE {table_name} (a INTEGER PRIMARY KEY, b VARCHAR)")
    conn.sql(f"INSERT INTO {table_name} VALUES (1, 'x'), (2, 'y')")
    before = snapshot(conn, table_name)
    assert conn.sql(f"INSERT OVERWRITE TABLE {table_name} SELECT a + 10, b FROM {table_name}"
                    ).rowcount == 2  # Spark's: reading the rows it replaces
    assert conn.sql(f"SELECT * FROM {table_name} ORDER BY a").fetchall() == [(11, "x"), (12, "y")]
    assert conn.sql(f"SELECT count(*) FROM {table_name} AT (VERSION => {before})").fetchone() == (2,)
    conn.sql(f"INSERT OVERWRITE INTO {table_name} VALUES (1, 'z')")  # Snowflake's; keys: its own
    assert conn.sql(f"SELECT * FROM {table_name}").fetchall() == [(1, "z")]
    with pytest.raises(indb.IntegrityError):  # its rows' keys are checked, and nothing changes
        conn.sql(f"INSERT OVERWRITE INTO {table_name} VALUES (2, 'p'), (2, 'q')")
    assert conn.sql(f"SELECT * FROM {table_name}").fetchall() == [(1, "z")]
    conn.sql(f"INSERT OVERWRITE {table_name} SELECT 1, 'a' WHERE false")  # no rows: empties it
    assert conn.sql(f"SELECT count(*) FROM {table_name}").fetchone() == (0,)
    with pytest.raises(SqlError, match="PARTITION is not supported"):
        conn.sql(f"INSERT OVERWRITE TABLE {table_name} PARTITION (a = 1) SELECT 'q'")


def test_every_write_is_one_snapshot(conn, table_name):
    make_ticks(conn, table_name, rows=1000)
    table = conn.table(table_name)._engine.db.load(table_name)[0]
    before = len(table.snapshots())
    conn.sql(f"INSERT INTO {table_name} SELECT * FROM {table_name}")
    conn.sql(f"DELETE FROM {table_name} WHERE px > 100")
    table = conn.table(table_name)._engine.db.load(table_name)[0]
    assert len(table.snapshots()) == before + 2


def test_shards_are_iceberg_buckets(conn, table_name):
    make_ticks(conn, table_name, rows=3000, shards=4)
    bucket = BucketTransform(4).transform(StringType())
    total = 0
    for k in range(4):
        rows = conn.table(table_name).shard(k)
        total += rows.num_rows
        assert {bucket(s) for s in rows["sym"].to_pylist()} <= {k}
    assert total == 3000
    with pytest.raises(indb.OptionError, match="shards 0..3, not 4"):
        conn.table(table_name).shard(4)


def test_replicated_table_is_whole_on_every_shard(conn, table_name):
    conn.sql(f"CREATE REPLICATED TABLE {table_name} (k VARCHAR, v DOUBLE)")
    conn.sql(f"INSERT INTO {table_name} VALUES ('a', 1), ('b', 2)")
    handle = conn.table(table_name)
    assert handle.shard(0).num_rows == 2 and handle.shard(0).equals(handle.arrow())
    assert handle.shard(5).equals(handle.arrow())  # whichever shard asks, it sees the whole table
    with pytest.raises(indb.OptionError, match="not -1"):
        handle.shard(-1)


def test_rows_come_back_in_the_order_they_were_written(conn, table_name):
    conn.sql(f"CREATE TABLE {table_name} (a INTEGER, b VARCHAR) WITH (SHARDS = 8)")
    conn.sql(f"INSERT INTO {table_name} VALUES (1, 'a'), (2, 'b'), (3, 'c'), (4, 'd'), (5, 'e')")
    conn.sql(f"INSERT INTO {table_name} VALUES (6, 'f')")
    conn.sql(f"INSERT INTO {table_name} SELECT i, 'x' || i FROM range(7, 500) AS r(i)")
    conn.load(table_name, pa.table({"a": pa.array(range(500, 9000), pa.int32()),
                                    "b": [f"y{i}" for i in range(500, 9000)]}))
    handle = conn.table(table_name)
    assert sum(handle.shard(k).num_rows > 0 for k in range(8)) == 8  # the load was spread
    order = [a for (a,) in conn.sql(f"SELECT a FROM {table_name}").fetchall()]
    assert order == list(range(1, 9000))
    assert conn.sql(f"SELECT a FROM {table_name} WHERE a % 1000 = 7").fetchall() == \
        [(i,) for i in range(7, 9000, 1000)]
    # a small write is one file, read on one thread: order-sensitive aggregates see it in order
    conn.sql(f"CREATE TABLE {table_name}_small AS SELECT * FROM {table_name} WHERE a < 7")
    assert conn.sql(f"SELECT string_agg(b, ','), list(a) FROM {table_name}_small").fetchone() == \
        ("a,b,c,d,e,f", [1, 2, 3, 4, 5, 6])
    assert len(data_files(conn._engine.db.load(f"{table_name}_small")[0])) == 1
    assert conn.sql(f"SELECT a FROM {table_name} LIMIT 3").fetchall() == [(1,), (2,), (3,)]
    # an updated row stays where it was, a deleted one leaves the others where they were
    conn.sql(f"UPDATE {table_name} SET b = 'z' WHERE a % 3 = 0")
    gone = conn.sql(f"DELETE FROM {table_name} WHERE a % 5 = 0 RETURNING a").fetchall()
    assert gone == [(i,) for i in range(5, 9000, 5)]  # RETURNING in the table's order too
    kept = [i for i in range(1, 9000) if i % 5]
    assert conn.sql(f"SELECT a, b = 'z' FROM {table_name}").fetchall() == [(i, i % 3 == 0) for i in kept]
    conn.sql(f"ALTER TABLE {table_name} ALTER COLUMN a TYPE BIGINT")  # every file rewritten
    assert [a for (a,) in conn.sql(f"SELECT a FROM {table_name}").fetchall()] == kept


def test_a_keyed_table_gives_its_writes_in_order_and_a_write_shard_by_shard(conn, table_name):
    conn.sql(f"CREATE TABLE {table_name} (k INTEGER PRIMARY KEY, v VARCHAR) WITH (SHARDS = 4)")
    first = list(range(100, 0, -1))
    conn.sql(f"INSERT INTO {table_name} SELECT k, 'first' FROM unnest({first}) AS u(k)")
    conn.sql(f"INSERT INTO {table_name} VALUES (500, 'second'), (400, 'second')")
    rows = conn.sql(f"SELECT k, v FROM {table_name}").fetchall()
    assert [v for _, v in rows] == ["first"] * 100 + ["second"] * 2
    bucket = BucketTransform(4).transform(IntegerType())
    shards = [bucket(k) for k, _ in rows[:100]]
    runs = [shard for n, shard in enumerate(shards) if n == 0 or shards[n - 1] != shard]
    assert len(runs) == len(set(runs))  # each shard's rows together
    assert runs[0] == bucket(first[0])  # the shard of the write's first row first
    for shard in runs:  # each shard's rows in the order written
        assert [k for k in (r[0] for r in rows[:100]) if bucket(k) == shard] == \
            [k for k in first if bucket(k) == shard]


def test_image_arrays_round_trip_exactly(conn, table_name):
    rng = np.random.default_rng(1)
    images = rng.integers(0, 256, (500, 784), dtype=np.uint8)
    conn.sql(f"CREATE TABLE {table_name} (id INTEGER, pixels UTINYINT[784], xy FLOAT[2], SHARD KEY (id))")
    data = pa.table({"id": np.arange(500, dtype=np.int32),
                     "pixels": pa.FixedSizeListArray.from_arrays(pa.array(images.ravel()), 784),
                     "xy": pa.FixedSizeListArray.from_arrays(pa.array(rng.random(1000, dtype=np.float32)), 2)})
    conn.load(table_name, data)
    back = conn.sql(f"SELECT * FROM {table_name} ORDER BY id").arrow()
    assert back["pixels"].type == pa.list_(pa.uint8(), 784)
    matrix = back["pixels"].combine_chunks().values.to_numpy().reshape(-1, 784)
    assert (matrix == images).all()
    assert back["xy"].to_pylist() == data["xy"].to_pylist()
    shard = conn.table(table_name).shard(0)
    assert shard["pixels"].type == pa.list_(pa.uint8(), 784)
    # Stored compactly: 784 bytes a row, not a list of 784 ints.
    files = conn.table(table_name)._engine.db.load(table_name)[0].inspect.files()
    assert sum(files["file_size_in_bytes"].to_pylist()) < 500 * 784 * 1.2
    assert conn.sql(f"SELECT list_sum(pixels::INTEGER[]) FROM {table_name} WHERE id = 7").fetchone()[0] == int(images[7].sum())


def test_joins_aggregates_windows_ctes(conn, table_name):
    make_ticks(conn, table_name, rows=5000)
    ref = table_name + "_ref"
    conn.sql(f"CREATE REPLICATED TABLE {ref} AS SELECT DISTINCT sym, length(sym) AS n FROM {table_name}")
    sql = f"""
        WITH last AS (
            SELECT sym, px, row_number() OVER (PARTITION BY sym ORDER BY ts DESC) AS r FROM {table_name})
        SELECT l.sym, l.px, r.n FROM last l JOIN {ref} r USING (sym) WHERE l.r = 1 ORDER BY l.sym"""
    got = conn.sql(sql).df()
    ticks = conn.table(table_name).arrow().to_pandas()
    expected = ticks.sort_values("ts").groupby("sym").tail(1).sort_values("sym")
    assert got["px"].tolist() == expected["px"].tolist()
    assert (got["n"] == 5).all()


def test_delete_where(conn, table_name):
    make_ticks(conn, table_name, rows=4000)
    before = conn.sql(f"SELECT count(*), count(*) FILTER (WHERE px > 100) FROM {table_name}").fetchone()
    result = conn.sql(f"DELETE FROM {table_name} WHERE px > 100")
    assert result.rowcount == before[1] > 0
    assert conn.sql(f"SELECT count(*), max(px) FROM {table_name}").fetchone()[0] == before[0] - before[1]
    assert conn.sql(f"SELECT max(px) FROM {table_name}").fetchone()[0] <= 100
    # Rows kept stay on their shard.
    bucket = BucketTransform(4).transform(StringType())
    for k in range(4):
        assert {bucket(s) for s in conn.table(table_name).shard(k)["sym"].to_pylist()} <= {k}
    assert conn.sql(f"DELETE FROM {table_name}").rowcount == before[0] - before[1]
    assert conn.sql(f"SELECT count(*) FROM {table_name}").fetchone()[0] == 0


def test_delete_keeps_rows_where_condition_is_null(conn, table_name):
    conn.sql(f"CREATE TABLE {table_name} (a INTEGER)")
    conn.sql(f"INSERT INTO {table_name} VALUES (1), (NULL), (3)")
    assert conn.sql(f"DELETE FROM {table_name} WHERE a > 2").rowcount == 1
    assert sorted(conn.sql(f"SELECT a FROM {table_name}").fetchall(), key=str) == [(1,), (None,)]


def test_delete_names_its_table_as_postgresql_does_and_takes_using(conn, table_name):
    """``WHERE t.id = 1`` (as SQLAlchemy's and Django's deletes write it), an alias, and
    PostgreSQL's ``DELETE FROM t USING s [, u] WHERE ...``."""
    other = table_name + "_gone"
    conn.sql(f"CREATE TABLE {table_name} (id INTEGER, v VARCHAR)")
    conn.sql(f"INSERT INTO {table_name} VALUES (1, 'a'), (2, 'b'), (3, 'c'), (4, 'd'), (5, 'e')")
    conn.sql(f"CREATE TABLE {other} (id INTEGER)")
    conn.sql(f"INSERT INTO {other} VALUES (2), (2), (4)")  # 2 twice: its row goes once
    assert conn.sql(f"DELETE FROM {table_name} WHERE {table_name}.id = 1").rowcount == 1
    assert conn.sql(f"DELETE FROM main.{table_name} AS x WHERE x.id = 5 RETURNING x.v").fetchall() == [("e",)]
    deleted = conn.sql(f"DELETE FROM {table_name} USING {other} WHERE {table_name}.id = {other}.id "
                       f"RETURNING {table_name}.id")
    assert sorted(deleted.fetchall()) == [(2,), (4,)] and deleted.rowcount == 2
    assert conn.sql(f"SELECT id FROM {table_name}").fetchall() == [(3,)]
    conn.sql(f"INSERT INTO {table_name} VALUES (6, 'f')")
    assert conn.sql(f"DELETE FROM {table_name} t USING {other} o, {other} p "
                    "WHERE t.id > o.id + p.id").rowcount == 1  # 6 > 2 + 2; 3 is not
    assert conn.sql(f"SELECT id FROM {table_name}").fetchall() == [(3,)]


def test_postgresql_s_to_char_and_to_timestamp_take_its_formats(conn):
    # to_char's format was dropped (a cast to text) before: the wrong answer, without an error
    assert conn.sql("SELECT to_char(TIMESTAMP '2024-05-06 07:08:09', 'YYYY-MM-DD HH24:MI'), "
                    "to_char(DATE '2024-05-06', 'DD/MM/YYYY')").fetchone() == ("2024-05-06 07:08", "06/05/2024")
    assert conn.sql("SELECT to_date('20240506', 'YYYYMMDD'), "
                    "to_timestamp('06/05/2024 07:08', 'DD/MM/YYYY HH24:MI')").fetchone() == \
        (datetime.date(2024, 5, 6), datetime.datetime(2024, 5, 6, 7, 8))


def test_returning_gives_the_rows_written_and_a_mistake_in_it_writes_nothing(conn, table_name):
    conn.sql(f"CREATE TABLE {table_name} (id INTEGER, v VARCHAR, ts TIMESTAMP_NS)")
    inserted = conn.sql(f"INSERT INTO {table_name} AS t (id, v) VALUES (1, 'a'), (2, NULL) "
                        "RETURNING t.id, upper(v) AS u, ts")
    assert inserted.fetchall() == [(1, "A", None), (2, None, None)] and inserted.rowcount == 2
    assert [d[0] for d in inserted.description] == ["id", "u", "ts"]
    conn.sql(f"INSERT INTO {table_name} VALUES (3, 'c', '2024-01-02 00:00:00.000000001')")
    deleted = conn.sql(f"DELETE FROM {table_name} WHERE id >= 2 RETURNING *")
    assert sorted(deleted.fetchall(), key=lambda r: r[0]) == [
        (2, None, None), (3, "c", pd.Timestamp("2024-01-02 00:00:00.000000001"))]
    assert deleted.rowcount == 2
    before = len(conn._engine.db.load(table_name)[0].snapshots())
    for statement in (f"INSERT INTO {table_name} VALUES (4, 'd', NULL) RETURNING nosuch",
                      f"DELETE FROM {table_name} RETURNING v::INTEGER",  # 'a' is no integer
                      f"UPDATE {table_name} SET v = 'x' RETURNING 1 + v"):
        with pytest.raises(indb.SqlError):
            conn.sql(statement)
    assert len(conn._engine.db.load(table_name)[0].snapshots()) == before
    assert conn.sql(f"SELECT id, v FROM {table_name}").fetchall() == [(1, "a")]
    assert conn.sql(f"DELETE FROM {table_name} RETURNING id").fetchall() == [(1,)]


def test_defaults_and_identities_fill_what_a_write_leaves_out(conn, table_name):
    conn.sql(f"CREATE TABLE {table_name} (id SERIAL PRIMARY KEY, name VARCHAR, "
             "n INT DEFAULT 7, at DATE DEFAULT DATE '2024-01-02')")
    first = conn.sql(f"INSERT INTO {table_name} (name) VALUES ('ann'), ('bob') RETURNING id, n, at")
    assert first.fetchall() == [(1, 7, datetime.date(2024, 1, 2)), (2, 7, datetime.date(2024, 1, 2))]
    conn.sql(f"INSERT INTO {table_name} VALUES (DEFAULT, 'cy', 1, DEFAULT)")
    conn.sql(f"INSERT INTO {table_name} (id, name) VALUES (100, 'given')")  # as BY DEFAULT
    conn.sql(f"INSERT INTO {table_name} (name) VALUES ('dee') ON CONFLICT (id) DO NOTHING")
    conn.sql(f"MERGE INTO {table_name} t USING (SELECT 'eve' AS name) s ON t.name = s.name "
             "WHEN NOT MATCHED THEN INSERT (name) VALUES (s.name)")
    conn.sql(f"ALTER TABLE {table_name} RENAME COLUMN id TO uid")  # the numbering goes on
    assert conn.sql(f"INSERT INTO {table_name} (name) VALUES ('fay') RETURNING uid").fetchall() \
        == [(6,)]
    assert conn.load(table_name, pa.table({"name": ["gus"]})) == 1  # the bulk path fills them too
    assert conn.sql(f"SELECT uid, name, n FROM {table_name} ORDER BY uid").fetchall() == [
        (1, "ann", 7), (2, "bob", 7), (3, "cy", 1), (4, "dee", 7), (5, "eve", 7), (6, "fay", 7),
        (7, "gus", 7), (100, "given", 7)]
    detail = dict((r[0], r[2]) for r in conn.sql(f"DESCRIBE {table_name}").fetchall())
    assert "identity" in detail["uid"] and detail["n"] == "default 7"
    # GENERATED ALWAYS refuses a value given, as PostgreSQL's; numbers what comes without one
    always = f"{table_name}_always"
    conn.sql(f"CREATE TABLE {always} (id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY, v VARCHAR)")
    assert conn.sql(f"INSERT INTO {always} VALUES (DEFAULT, 'a') RETURNING id").fetchall() == [(1,)]
    assert conn.sql(f"INSERT INTO {always} (v) VALUES ('b') ON CONFLICT DO NOTHING "
                    "RETURNING id").fetchall() == [(2,)]
    with pytest.raises(indb.SqlError, match="GENERATED ALWAYS AS IDENTITY"):
        conn.sql(f"INSERT INTO {always} VALUES (9, 'c')")
    with pytest.raises(indb.SqlError, match="GENERATED ALWAYS AS IDENTITY"):
        conn.load(always, pa.table({"id": [9], "v": ["d"]}))
    # ... unless told OVERRIDING SYSTEM VALUE; OVERRIDING USER VALUE numbers what was given
    conn.sql(f"INSERT INTO {always} (id, v) OVERRIDING SYSTEM VALUE VALUES (50, 'sys')")
    assert conn.sql(f"INSERT INTO {always} (id, v) OVERRIDING USER VALUE VALUES (60, 'usr') "
                    "RETURNING id").fetchall() == [(3,)]
    with pytest.raises(indb.SqlError, match="Expected OVERRIDING SYSTEM VALUE"):
        conn.sql(f"INSERT INTO {always} (id, v) OVERRIDING ALL VALUE VALUES (1, 'x')")
    # an UPDATE sets no GENERATED ALWAYS column, nor an identity to DEFAULT; DEFAULT elsewhere
    # is the column's
    with pytest.raises(indb.SqlError, match="GENERATED ALWAYS AS IDENTITY: an UPDATE"):
        conn.sql(f"UPDATE {always} SET id = 7 WHERE v = 'a'")
    with pytest.raises(indb.SqlError, match="SET uid = DEFAULT"):
        conn.sql(f"UPDATE {table_name} SET uid = DEFAULT")
    conn.sql(f"UPDATE {table_name} SET n = DEFAULT, uid = 300 WHERE name = 'cy'")  # BY DEFAULT
    assert conn.sql(f"SELECT uid, n FROM {table_name} WHERE name = 'cy'").fetchall() == [(300, 7)]
    assert conn.sql(f"SELECT id, v FROM {always} ORDER BY id").fetchall() == [
        (1, "a"), (2, "b"), (3, "usr"), (50, "sys")]
    # a table dropped and made again numbers from its start again
    steps = f"{table_name}_steps"
    conn.sql(f"CREATE TABLE {steps} (k BIGINT GENERATED BY DEFAULT AS IDENTITY "
             "(START WITH 10 INCREMENT BY 5), v VARCHAR)")
    assert conn.sql(f"INSERT INTO {steps} (v) VALUES ('a'), ('b') RETURNING k").fetchall() == [
        (10,), (15,)]
    conn.sql(f"DROP TABLE {steps}")
    conn.sql(f"CREATE TABLE {steps} (k BIGINT GENERATED BY DEFAULT AS IDENTITY, v VARCHAR)")
    assert conn.sql(f"INSERT INTO {steps} (v) VALUES ('c') RETURNING k").fetchall() == [(1,)]


def test_an_index_is_recorded_and_its_columns_are_checked(conn, table_name):
    conn.sql(f"CREATE TABLE {table_name} (id INTEGER, CONSTRAINT {table_name}_pk PRIMARY KEY (id))")
    made = conn.sql(f"CREATE INDEX {table_name}_ix ON {table_name} (id)")
    assert made.message == f"created index {table_name}_ix on {table_name} (id)"
    assert not made.returns_rows
    with pytest.raises(indb.SqlError, match=f"table {table_name} has no column nope"):
        conn.sql(f"CREATE INDEX {table_name}_iy ON {table_name} (nope)")
    assert conn.sql(f"DROP INDEX {table_name}_ix").message == f"dropped index {table_name}_ix"
    with pytest.raises(indb.DataError, match="duplicate primary key"):  # the named key holds
        conn.sql(f"INSERT INTO {table_name} VALUES (1), (1)")


def test_create_table_as_select(conn, table_name):
    make_ticks(conn, table_name, rows=500)
    daily = table_name + "_daily"
    conn.sql(f"CREATE TABLE {daily} WITH (SHARD_KEY = 'sym', SHARDS = 2) AS "
             f"SELECT sym, avg(px) AS px, count(*)::INTEGER AS n FROM {table_name} GROUP BY sym")
    described = dict((r[0], r[1]) for r in conn.sql(f"DESCRIBE {daily}").fetchall())
    assert described["px"] == "DOUBLE" and described["n"] == "INTEGER"
    assert described["# shards"] == "2" and described["# shard key"] == "sym"
    assert conn.sql(f"SELECT sum(n) FROM {daily}").fetchone()[0] == 500


def test_describe_and_show_tables(conn, table_name):
    make_ticks(conn, table_name, rows=300, shards=4)
    rows = conn.sql(f"DESCRIBE {table_name}").fetchall()
    assert rows[0] == ("sym", "VARCHAR", "shard key")
    facts = {r[0]: r[1] for r in rows if r[0].startswith("#")}
    assert facts["# shards"] == "4" and facts["# rows"] == "300"
    assert int(facts["# snapshot id"]) == snapshot(conn, table_name)
    shown = {r[0]: r for r in conn.sql("SHOW TABLES").fetchall()}
    assert shown[table_name][1:5] == ("sharded", "sym", 4, 300)


def test_show_tables_of_a_schema_and_like_a_pattern(fresh):
    """DuckDB's SHOW TABLES FROM s, Spark's and MySQL's FROM | IN s and LIKE (SQL's % and _,
    or Spark's * and |), Snowflake's LIKE ... IN SCHEMA s; SHOW VIEWS LIKE."""
    for sql in ["CREATE SCHEMA lab", "CREATE TABLE abc (x INT)", "CREATE TABLE xyz (x INT)",
                "CREATE TABLE lab.ab (x INT)", "CREATE VIEW v_one AS SELECT 1 AS a",
                "CREATE VIEW other AS SELECT 1 AS a"]:
        fresh.sql(sql)

    def names(sql):
        return [row[0] for row in fresh.sql(sql).fetchall()]
    assert names("SHOW TABLES") == ["abc", "lab.ab", "xyz"]
    assert names("SHOW TABLES FROM lab") == names("SHOW TABLES IN indb.lab") == ["lab.ab"]
    assert names("SHOW TABLES FROM main") == ["abc", "xyz"]
    assert names("SHOW TABLES FROM indb") == ["abc", "lab.ab", "xyz"]  # the database: all
    assert names("SHOW TABLES LIKE 'A%'") == ["abc", "lab.ab"]  # case does not count
    assert names("SHOW TABLES LIKE 'a_c'") == ["abc"]
    assert names("SHOW TABLES IN lab LIKE 'a*|x*'") == ["lab.ab"]  # Spark's
    assert names("SHOW TABLES LIKE '%c' IN SCHEMA main") == ["abc"]  # Snowflake's
    assert names("SHOW VIEWS LIKE 'v_%'") == ["v_one"] and names("SHOW VIEWS") == ["v_one", "other"]  # in the order made
    with pytest.raises(SqlError, match="schema nope does not exist"):
        fresh.sql("SHOW TABLES FROM nope")
    fresh.sql("CREATE TEMP TABLE scratch (z DOUBLE)")
    every = {(r[1], r[2]): r for r in fresh.sql("SHOW ALL TABLES").fetchall()}  # DuckDB's
    assert every["lab", "ab"] == ("indb", "lab", "ab", ["x"], ["INTEGER"], False)
    assert every["main", "v_one"][3:5] == (["a"], ["INTEGER"])  # views too
    assert [r for (schema, name), r in every.items() if name == "scratch"][0][5] is True


def test_drop_table(conn, table_name):
    conn.sql(f"CREATE TABLE {table_name} (a INTEGER)")
    conn.sql(f"INSERT INTO {table_name} VALUES (1), (2)")
    folder = conn.path / "warehouse" / "main" / table_name
    assert list(folder.rglob("*.parquet"))
    conn.sql(f"DROP TABLE {table_name}")
    assert not list(folder.rglob("*.parquet"))  # its data files are deleted too
    with pytest.raises(SqlError, match="does not exist"):
        conn.sql(f"SELECT * FROM {table_name}")
    conn.sql(f"DROP TABLE IF EXISTS {table_name}")
    with pytest.raises(CatalogError):
        conn.sql(f"DROP TABLE {table_name}")


def test_truncate_empties_tables_and_may_number_identities_again(conn, table_name):
    a, b = f"{table_name}_a", f"{table_name}_b"
    conn.sql(f"CREATE TABLE {a} (id BIGINT GENERATED BY DEFAULT AS IDENTITY, x INTEGER)")
    conn.sql(f"CREATE TABLE {b} (x INTEGER)")
    conn.sql(f"INSERT INTO {a} (x) VALUES (1), (2)")
    conn.sql(f"INSERT INTO {b} VALUES (1)")
    with pytest.raises(CatalogError, match=f"{table_name}_nope does not exist"):
        conn.sql(f"TRUNCATE {a}, {table_name}_nope")  # one missing: none is emptied
    assert conn.sql(f"SELECT count(*) FROM {a}").fetchall() == [(2,)]
    conn.sql(f"TRUNCATE TABLE {a}, {b} CASCADE")
    assert conn.sql(f"SELECT (SELECT count(*) FROM {a}), (SELECT count(*) FROM {b})").fetchall() \
        == [(0, 0)]
    conn.sql(f"INSERT INTO {a} (x) VALUES (3)")  # the identity goes on from where it was
    assert conn.sql(f"SELECT id FROM {a}").fetchall() == [(3,)]
    conn.sql(f"TRUNCATE {a} RESTART IDENTITY")
    conn.sql(f"INSERT INTO {a} (x) VALUES (4)")
    assert conn.sql(f"SELECT id, x FROM {a}").fetchall() == [(1, 4)]


def test_analyze_and_postgresql_storage_parameters_are_taken_and_change_nothing(conn, table_name):
    conn.sql(f"CREATE TABLE {table_name} (x INTEGER) WITH (fillfactor = 100, "
             "autovacuum_enabled = false, toast.autovacuum_enabled = false)")
    assert "changed nothing" in conn.sql(f"ANALYZE {table_name}").message
    assert "changed nothing" in conn.sql("ANALYZE").message
    assert "changed nothing" in conn.sql("ANALYZE VERBOSE").message
    with pytest.raises(CatalogError, match="does not exist"):
        conn.sql(f"ANALYZE {table_name}_nope")
    with pytest.raises(SqlError, match="unknown table option PAGES"):
        conn.sql(f"CREATE TABLE {table_name}_2 (x INTEGER) WITH (pages = 3)")


def test_drop_table_of_several_tables(conn, table_name):
    a, b = f"{table_name}_a", f"{table_name}_b"
    conn.sql(f"CREATE TABLE {a} (x INTEGER)")
    conn.sql(f"CREATE TABLE {b} (x INTEGER)")
    with pytest.raises(CatalogError, match=f"{table_name}_nope does not exist"):
        conn.sql(f"DROP TABLE {a}, {table_name}_nope, {b}")  # one missing: none is dropped
    assert conn.sql(f"SELECT count(*) FROM {a}, {b}").fetchall() == [(0,)]
    conn.sql(f"DROP TABLE IF EXISTS {a}, {table_name}_nope")  # pgbench -i's first statement
    conn.sql(f"DROP TABLE {b}")
    names = {r[0] for r in conn.sql("SHOW TABLES").fetchall()}
    assert not names & {a, b}


@pytest.mark.parametrize("statement, error", [
    ("INSERT INTO {t} VALUES ('x', 'not a number')", "Conversion Error"),
    ("INSERT INTO {t} VALUES (1, 2, 3)", "3 values"),
    ("INSERT INTO {t} (nope) VALUES (1)", "nope"),
    ("INSERT INTO {t} SELECT 1000 AS a, 1 AS b", "out of range|Conversion"),
    ("SELECT nope FROM {t}", "nope"),
    ("DELETE FROM {t} WHERE nope = 1", "nope"),
    ("CREATE TABLE {t} (a INTEGER)", "already exists"),
    ("SELECT * FORM {t}", "Line 1, Col"),
])
def test_bad_statements_change_nothing(conn, table_name, statement, error):
    conn.sql(f"CREATE TABLE {table_name} (s VARCHAR, x DOUBLE, SHARD KEY (s))")
    conn.sql(f"INSERT INTO {table_name} VALUES ('a', 1)")
    tiny = table_name + "_tiny"
    conn.sql(f"CREATE TABLE {tiny} (a TINYINT, b INTEGER)")
    target = tiny if "1000" in statement else table_name
    before = snapshot(conn, target)
    with pytest.raises(indb.IndbError, match=error) as caught:
        conn.sql(statement.format(t=target))
    assert "__indb" not in str(caught.value)
    assert snapshot(conn, target) == before


def test_failed_write_leaves_no_files(conn, table_name):
    conn.sql(f"CREATE TABLE {table_name} (a INTEGER NOT NULL, b TINYINT)")
    engine = conn.table(table_name)._engine
    data_dir = engine.db.path / "warehouse" / "main" / table_name / "data"
    bad = pa.table({"a": [1, 2], "b": [1, 1000]})  # 1000 does not fit a TINYINT
    with pytest.raises(indb.DataError, match="TINYINT"):
        conn.load(table_name, bad)
    schema = pa.schema([("a", pa.int64()), ("b", pa.int64())])
    good_then_bad = pa.RecordBatchReader.from_batches(schema, [
        pa.record_batch({"a": [1], "b": [1]}, schema=schema),
        pa.record_batch({"a": [None], "b": [1]}, schema=schema)])
    from indb.engine import tables
    old, tables.LOAD_CHUNK_ROWS = tables.LOAD_CHUNK_ROWS, 1
    try:
        with pytest.raises(indb.DataError, match="NOT NULL"):
            conn.load(table_name, good_then_bad)  # the first chunk's file is written, then removed
    finally:
        tables.LOAD_CHUNK_ROWS = old
    assert not data_dir.exists() or not list(data_dir.rglob("*.parquet"))
    assert conn.sql(f"SELECT count(*) FROM {table_name}").fetchone()[0] == 0


def test_load_formats(conn, table_name, tmp_path):
    ticks = synthetic_ticks(1000, symbols=10)
    pq.write_table(ticks, tmp_path / "t.parquet")
    ticks.to_pandas().to_csv(tmp_path / "t.csv", index=False)
    sources = [ticks, ticks.to_reader(), ticks.to_pandas(), tmp_path / "t.parquet", str(tmp_path / "t.csv")]
    for i, source in enumerate(sources):
        name = f"{table_name}_{i}"
        assert conn.load(name, source, shard_key="sym", shards=2) == 1000
        got = conn.sql(f"SELECT sym, ts, px, size FROM {name} ORDER BY ts").arrow()
        assert got["px"].to_pylist() == ticks["px"].to_pylist()
        assert got["sym"].to_pylist() == ticks["sym"].to_pylist()
    assert conn.table(f"{table_name}_0").info.shard_key == ("sym",)
    with pytest.raises(indb.OptionError, match="cannot load"):
        conn.load(table_name, [1, 2, 3])


def test_load_into_existing_table_checks_columns(conn, table_name):
    conn.sql(f"CREATE TABLE {table_name} (a INTEGER, b VARCHAR)")
    assert conn.load(table_name, pd.DataFrame({"b": ["x"], "a": [1]})) == 1
    with pytest.raises(indb.SchemaError, match="no column c"):
        conn.load(table_name, pd.DataFrame({"c": [1]}))
    assert conn.sql(f"SELECT * FROM {table_name}").fetchall() == [(1, "x")]


def test_readers_see_a_consistent_snapshot(conn, table_name):
    make_ticks(conn, table_name, rows=100)
    other = indb.connect(conn.path)
    count = f"SELECT count(*) FROM {table_name}"
    assert other.sql(count).fetchone()[0] == 100
    conn.sql(f"INSERT INTO {table_name} SELECT * FROM {table_name}")
    assert other.sql(count).fetchone()[0] == 200  # the next statement sees the new snapshot
    other.close()


def test_parameters(conn, table_name):
    conn.sql(f"CREATE TABLE {table_name} (a INTEGER, b VARCHAR)")
    conn.cursor().executemany(f"INSERT INTO {table_name} VALUES (?, ?)", [(1, "x"), (2, "y")])
    assert conn.sql(f"SELECT b FROM {table_name} WHERE a = ?", [2]).fetchall() == [("y",)]


TYPED_VALUES = {
    "BOOLEAN": "true", "TINYINT": "-7", "SMALLINT": "300", "INTEGER": "-5", "BIGINT": "9000000000",
    "UTINYINT": "255", "USMALLINT": "65535", "UINTEGER": "4000000000", "FLOAT": "1.5",
    "DOUBLE": "2.25", "DECIMAL(10,2)": "12.34", "VARCHAR": "'héllo'", "BLOB": "'\\xAA\\x00'::BLOB",
    "DATE": "DATE '2026-11-22'", "TIME": "TIME '09:30:00.5'",
    "TIMESTAMP": "TIMESTAMP '2026-11-22 09:30:00.123456'", "TIMESTAMP_MS": "TIMESTAMP '2026-11-22 09:30:00.123'",
    "TIMESTAMP WITH TIME ZONE": "TIMESTAMPTZ '2026-11-22 09:30:00+00'", "INTEGER[]": "[1, 2, NULL]",
    "SMALLINT[2]": "[1, -2]", "STRUCT(a INTEGER, b VARCHAR)": "{'a': 1, 'b': 'x'}",
}


def test_every_supported_type_round_trips(conn, table_name):
    columns = ", ".join(f"c{i} {t}" for i, t in enumerate(TYPED_VALUES))
    conn.sql(f"CREATE TABLE {table_name} ({columns})")
    conn.sql(f"INSERT INTO {table_name} VALUES ({', '.join(TYPED_VALUES.values())}), "
             f"({', '.join('NULL' for _ in TYPED_VALUES)})")
    select = ", ".join(f"CAST({v} AS {t})" for t, v in TYPED_VALUES.items())
    expected = conn.sql(f"SELECT {select}").fetchone()
    got = conn.sql(f"SELECT * FROM {table_name} ORDER BY c0 NULLS LAST").fetchall()
    assert got[0] == expected
    assert got[1] == (None,) * len(TYPED_VALUES)
    described = [r[1] for r in conn.sql(f"DESCRIBE {table_name}").fetchall() if not r[0].startswith("#")]
    assert described == [conn.sql(f"SELECT typeof(CAST(NULL AS {t}))").fetchone()[0] for t in TYPED_VALUES]


def test_pandas_nanosecond_timestamps(conn, table_name):
    frame = pd.DataFrame({"ts": pd.date_range("2026-01-01", periods=3, freq="s").astype("datetime64[ns]")})
    conn.load(table_name, frame)
    assert conn.sql(f"DESCRIBE {table_name}").fetchone()[1] == "TIMESTAMP"
    assert conn.sql(f"SELECT count(*) FROM {table_name}").fetchone()[0] == 3
    frame.loc[0, "ts"] = pd.Timestamp("2026-01-01 00:00:00.000000001")
    with pytest.raises(indb.DataError, match="column ts is TIMESTAMP"):
        conn.load(table_name, frame)
    assert conn.sql(f"SELECT count(*) FROM {table_name}").fetchone()[0] == 3


def test_column_names_pyiceberg_escapes_in_files(conn, table_name):
    conn.sql(f'CREATE TABLE {table_name} ("my col" INTEGER, "Ünï" VARCHAR, "px s" UTINYINT[2], '
             'SHARD KEY ("my col"))')
    conn.sql(f"INSERT INTO {table_name} VALUES (1, 'x', [1, 2]), (2, 'y', [3, 4])")
    # a fixed-size array is a tuple, as DuckDB's client gives it
    assert conn.sql(f"SELECT * FROM {table_name} ORDER BY 1").fetchall() == [(1, "x", (1, 2)), (2, "y", (3, 4))]
    assert sum(conn.table(table_name).shard(k).num_rows for k in range(8)) == 2
    conn.sql(f'DELETE FROM {table_name} WHERE "my col" = 1')
    assert conn.sql(f"SELECT \"Ünï\" FROM {table_name}").fetchall() == [("y",)]


@pytest.mark.parametrize("sql_type, allowed", [("UTINYINT[4]", True), ("DATE", True), ("DECIMAL(10,2)", True),
                                               ("TIMESTAMP", True), ("TINYINT", True), ("BLOB", True),
                                               ("DOUBLE", False), ("BOOLEAN", False)])
def test_shard_key_types_follow_icebergs_bucket(conn, table_name, sql_type, allowed):
    statement = f"CREATE TABLE {table_name} (k {sql_type}, SHARD KEY (k))"
    if allowed:
        conn.sql(statement)
        assert conn.table(table_name).info.shard_key == ("k",)
    else:
        with pytest.raises(indb.SchemaError, match="cannot shard by k"):
            conn.sql(statement)
        assert table_name not in [r[0] for r in conn.sql("SHOW TABLES").fetchall()]


# -- Kinetica's table DDL (issue 13) ---------------------------------------------------------

def test_create_or_replace_table_swaps_the_table_in_one_commit(fresh):
    fresh.sql("CREATE TABLE t (a INTEGER, SHARD KEY (a)) WITH (SHARDS = 2)")
    fresh.sql("INSERT INTO t VALUES (1), (2)")
    old_location = fresh._engine.db.load("t")[0].location()
    result = fresh.sql("CREATE OR REPLACE TABLE t AS SELECT range AS b, 'x' AS c FROM range(5)")
    assert result.rowcount == 5 and "replaced table t" in result.message
    assert fresh.sql("SELECT count(*), sum(b) FROM t").fetchone() == (5, 10)
    assert [d[0] for d in fresh.sql("SELECT * FROM t").description] == ["b", "c"]
    new_location = fresh._engine.db.load("t")[0].location()
    assert new_location != old_location
    assert not (fresh.path / "warehouse" / "main" / "t").exists()  # the old table's files went
    fresh.sql("CREATE OR REPLACE TABLE t (z VARCHAR)")  # an empty table replaces it too
    assert fresh.sql("SELECT count(*) FROM t").fetchone() == (0,)
    assert [r[0] for r in fresh.sql("SHOW TABLES").fetchall()] == ["t"]
    assert len(list((fresh.path / "warehouse" / "main").iterdir())) == 1  # the newest t alone
    fresh.sql("CREATE OR REPLACE TABLE fresh_one (x INTEGER)")  # none to replace: created
    assert fresh.sql("SELECT count(*) FROM fresh_one").fetchone() == (0,)


def test_a_failed_create_or_replace_leaves_the_old_table(fresh):
    fresh.sql("CREATE TABLE t (a INTEGER)")
    fresh.sql("INSERT INTO t VALUES (1)")
    with pytest.raises(SqlError):
        fresh.sql("CREATE OR REPLACE TABLE t AS SELECT 1 / 0 AS x, error('boom') AS y")
    assert fresh.sql("SELECT * FROM t").fetchall() == [(1,)]
    with pytest.raises(SqlError, match="not a column"):
        fresh.sql("CREATE OR REPLACE TABLE t (b INTEGER, SHARD KEY (nope))")
    assert fresh.sql("SELECT * FROM t").fetchall() == [(1,)]
    # the replacement's files were deleted: only the old table's directory is left
    assert [p.name for p in (fresh.path / "warehouse" / "main").iterdir()] == ["t"]


def test_primary_key_is_unique_on_insert_and_load(fresh):
    fresh.sql("CREATE TABLE people (id BIGINT, region VARCHAR, name VARCHAR, "
              "PRIMARY KEY (id, region), SHARD KEY (region)) WITH (SHARDS = 4)")
    fresh.sql("INSERT INTO people VALUES (1, 'eu', 'ann'), (1, 'us', 'bob'), (2, 'eu', 'cy')")
    with pytest.raises(indb.DataError, match=r"duplicate primary key in people: .*id = 1, region = 'eu'"):
        fresh.sql("INSERT INTO people VALUES (1, 'eu', 'again')")
    with pytest.raises(indb.DataError, match="id = 5, region = 'us'"):
        fresh.sql("INSERT INTO people VALUES (5, 'us', 'x'), (5, 'us', 'y')")
    with pytest.raises(indb.DataError, match="duplicate primary key"):
        fresh.load("people", pa.table({"id": [2], "region": ["eu"], "name": ["dup"]}))
    with pytest.raises(SqlError, match="NOT NULL"):
        fresh.sql("INSERT INTO people VALUES (NULL, 'eu', 'no key')")  # key columns are NOT NULL
    assert fresh.sql("SELECT count(*) FROM people").fetchone() == (3,)  # nothing was written
    assert fresh.table("people").info.primary_key == ("id", "region")
    described = {r[0]: r[2] for r in fresh.sql("DESCRIBE people").fetchall()}
    assert described["id"] == "primary key, not null" and described["region"] == "shard key, primary key, not null"
    fresh.sql("INSERT INTO people VALUES (3, 'eu', 'dee')")
    assert fresh.sql("SELECT count(*) FROM people").fetchone() == (4,)


def test_primary_key_without_shard_key_shards_by_it(fresh):
    fresh.sql("CREATE TABLE k (id BIGINT PRIMARY KEY, v DOUBLE) WITH (SHARDS = 2)")
    assert fresh.table("k").info.shard_key == ("id",)
    fresh.sql("INSERT INTO k SELECT range, range FROM range(100)")
    with pytest.raises(indb.DataError, match="id = 42"):
        fresh.sql("INSERT INTO k VALUES (42, 0)")


def test_select_top_n(fresh):
    fresh.sql("CREATE TABLE t (a INTEGER)")
    fresh.sql("INSERT INTO t SELECT range FROM range(10)")
    assert fresh.sql("SELECT TOP 3 a FROM t ORDER BY a DESC").fetchall() == [(9,), (8,), (7,)]
    assert fresh.sql("SELECT a FROM (SELECT TOP (2) a FROM t ORDER BY a) ORDER BY a").fetchall() == \
        [(0,), (1,)]


def test_alter_table_keeps_the_primary_key(fresh):
    fresh.sql("CREATE TABLE k (id BIGINT PRIMARY KEY, v DOUBLE)")
    fresh.sql("INSERT INTO k VALUES (1, 1.0)")
    with pytest.raises(SqlError, match="in the primary key of k"):
        fresh.sql("ALTER TABLE k DROP COLUMN id")
    fresh.sql("ALTER TABLE k RENAME COLUMN id TO key")
    assert fresh.table("k").info.primary_key == ("key",)
    with pytest.raises(indb.DataError, match="key = 1"):
        fresh.sql("INSERT INTO k VALUES (1, 2.0)")


def test_update_and_merge_keep_the_primary_key_unique(fresh):
    fresh.sql("CREATE TABLE k (id BIGINT PRIMARY KEY, v DOUBLE) WITH (SHARDS = 2)")
    fresh.sql("INSERT INTO k SELECT range, range FROM range(10)")
    with pytest.raises(indb.DataError, match="duplicate primary key in k: .*id = 1"):
        fresh.sql("UPDATE k SET id = 1 WHERE id = 2")
    with pytest.raises(indb.DataError, match="id = 3"):
        fresh.sql("MERGE INTO k USING (SELECT 3 AS id, 0.5 AS v) s ON k.id = s.id + 100 "
                  "WHEN NOT MATCHED THEN INSERT VALUES (s.id, s.v)")
    assert fresh.sql("SELECT count(*), sum(id) FROM k").fetchone() == (10, 45)  # nothing changed
    fresh.sql("UPDATE k SET id = id + 100 WHERE id < 5")  # keys that stay distinct
    fresh.sql("MERGE INTO k USING (SELECT 3 AS id, 0.5 AS v) s ON k.id = s.id "
              "WHEN NOT MATCHED THEN INSERT VALUES (s.id, s.v)")
    assert fresh.sql("SELECT count(*), sum(id) FROM k").fetchone() == (11, 548)


def test_the_primary_key_check_reads_only_the_shards_written_to(fresh, monkeypatch):
    fresh.sql("CREATE TABLE k (id BIGINT PRIMARY KEY, v DOUBLE) WITH (SHARDS = 4)")
    fresh.sql("INSERT INTO k SELECT range, range FROM range(100)")  # a file in each shard
    read: list[list[str]] = []
    original = Scans.scan
    monkeypatch.setattr(Scans, "scan", lambda self, info, paths, *args:
                        read.append(paths) or original(self, info, paths, *args))
    fresh.sql("SELECT 1")  # the table's view is remade before a statement: not that scan
    read.clear()
    fresh.sql("INSERT INTO k VALUES (1000, 0)")
    (paths,) = read
    shard_files = {int(p.split("_indb_shard=")[1].split("/")[0]) for p in paths}
    assert len(paths) == 2 and len(shard_files) == 1  # the shard's old file and the new one


def test_kinetica_style_table_ddl_runs(fresh):
    """The DDL Kinetica's UDF examples run around their functions, as they write it."""
    fresh.sql("CREATE SCHEMA IF NOT EXISTS example_udf")
    fresh.sql("CREATE OR REPLACE TABLE example_udf.udf_tc_in_table (id INTEGER(PRIMARY_KEY, SHARD_KEY) "
              "NOT NULL, name VARCHAR(64, DICT), cost DECIMAL(10, 2, STORE_ONLY))")
    fresh.sql("INSERT INTO example_udf.udf_tc_in_table VALUES (1, 'a', 1.25), (2, 'b', 2.5)")
    info = fresh.table("example_udf.udf_tc_in_table").info
    assert (info.primary_key, info.shard_key) == (("id",), ("id",))
    assert fresh.sql("SELECT TOP 1 name, cost FROM example_udf.udf_tc_in_table ORDER BY id DESC"
                     ).fetchall() == [("b", Decimal("2.50"))]


def test_a_function_run_appending_a_duplicate_key_writes_nothing(fresh):
    fresh.sql("CREATE TABLE src (id BIGINT, SHARD KEY (id)) WITH (SHARDS = 2)")
    fresh.sql("INSERT INTO src SELECT range FROM range(10)")
    fresh.sql("CREATE TABLE keyed (id BIGINT PRIMARY KEY) WITH (SHARDS = 2)")
    fresh.sql("INSERT INTO keyed VALUES (3)")
    fresh.sql("CREATE FUNCTION ident LANGUAGE PYTHON AS $$\ndef ident(ctx, t):\n    return t\n$$")
    with pytest.raises(indb.RunError, match="duplicate primary key in keyed: .*id = 3"):
        fresh.sql("EXECUTE FUNCTION ident(INPUT_TABLE_NAMES => src, "
                  "OUTPUT_TABLE_NAMES => OUTPUT_TABLES('keyed'))")
    assert fresh.sql("SELECT * FROM keyed").fetchall() == [(3,)]
    fresh.sql("EXECUTE FUNCTION ident(INPUT_TABLE_NAMES => (SELECT id FROM src WHERE id <> 3), "
              "OUTPUT_TABLE_NAMES => OUTPUT_TABLES('keyed'))")
    assert fresh.sql("SELECT count(*) FROM keyed").fetchone() == (10,)


def test_vacuum_clears_what_a_killed_create_or_replace_left(fresh):
    import os
    import time
    from pathlib import Path

    from indb.catalog.database import STAND_IN_PREFIX
    from indb.catalog.tables import TableInfo
    from indb.catalog.types import Column
    from indb.storage.files import local_path

    def age(path):
        old = time.time() - 2 * 24 * 3600
        os.utime(path, (old, old))

    fresh.sql("CREATE TABLE t (k INTEGER)")
    fresh.sql("CREATE OR REPLACE TABLE t AS SELECT 2 AS k")  # t now lives in a directory t-<hex>
    db = fresh._engine.db
    live = Path(local_path(db.load("t")[0].location()))
    # killed between building its stand-in and the swap: a stand-in table in the catalog
    info = TableInfo.checked("t", (Column("k", "INTEGER"),), (), 8, False)
    stand_in = ("main", f"{STAND_IN_PREFIX}killed")
    db._create(info, stand_in, [], db.replacement_location("t"))
    stand_in_dir = Path(local_path(db.catalog.load_table(stand_in).location()))
    for path in stand_in_dir.rglob("*.json"):
        age(path)
    # ... and one killed while writing its files: a replacement directory no table lives in
    ghost = Path(local_path(db.replacement_location("t"))) / "data" / "part.parquet"
    ghost.parent.mkdir(parents=True)
    pq.write_table(pa.table({"k": [1]}), ghost)
    age(ghost)
    assert [r[0] for r in fresh.sql("SHOW TABLES").fetchall()] == ["t"]  # a stand-in never shows
    fresh.sql("VACUUM")
    assert db.stand_ins() == {} and not stand_in_dir.exists() and not ghost.exists()
    assert live.is_dir() and fresh.sql("SELECT * FROM t").fetchall() == [(2,)]


def test_comments_on_tables_and_columns(tmp_path):
    with indb.connect(tmp_path / "db") as conn:
        conn.sql("CREATE TABLE t (id INT COMMENT 'the key', v TEXT)")
        conn.sql("COMMENT ON TABLE public.t IS 'hello'")
        conn.sql("COMMENT ON COLUMN t.v IS 'a value'")
        conn.sql("INSERT INTO t VALUES (1, 'x')")  # a comment is the table's, kept with it
        details = {name: detail for name, _, detail in conn.sql("DESCRIBE t").fetchall()}
        assert details["id"] == "comment 'the key'" and details["v"] == "comment 'a value'"
        assert dict((n, t) for n, t, _ in conn.sql("DESCRIBE t").fetchall())["# comment"] == "hello"
        conn.sql("COMMENT ON COLUMN t.id IS NULL")
        conn.sql("COMMENT ON TABLE t IS NULL")
        described = conn.sql("DESCRIBE t").fetchall()
        assert all(name != "# comment" for name, _, _ in described)
        assert dict((n, d) for n, _, d in described)["id"] == ""
        with pytest.raises(indb.SqlError, match="has no column nope"):
            conn.sql("COMMENT ON COLUMN t.nope IS 'x'")
        with pytest.raises(indb.SqlError, match="COMMENT ON VIEW is not supported"):
            conn.sql("COMMENT ON VIEW t IS 'x'")
        with pytest.raises(indb.CatalogError):
            conn.sql("COMMENT ON TABLE nope IS 'x'")


def test_duckdb_s_summarize_pivot_and_pragma_run_as_the_reads_they_are(tmp_path):
    with indb.connect(tmp_path / "db") as conn:
        conn.sql("CREATE TABLE sales AS SELECT * FROM (VALUES ('a', 2024, 1), ('a', 2025, 2), "
                 "('b', 2025, 5)) AS v(sym, yr, qty)")
        conn.sql("CREATE TABLE hidden AS SELECT 1 AS x")
        assert conn.sql("SUMMARIZE sales").df().set_index("column_name").loc["qty", "max"] == "5"
        assert sorted(conn.sql("PIVOT sales ON yr USING sum(qty) GROUP BY sym").fetchall()) == [
            ("a", 1, 2), ("b", None, 5)]
        assert sorted(conn.sql("UNPIVOT (SELECT 1 AS a, 2 AS b) ON a, b INTO NAME k VALUE v")
                      .fetchall()) == [("a", 1), ("b", 2)]
        # a PIVOT after CREATE ... AS; a view's names its values, as DuckDB requires
        conn.sql("CREATE TABLE wide AS PIVOT sales ON yr USING sum(qty) GROUP BY sym ORDER BY sym")
        assert conn.sql("SELECT * FROM wide").fetchall() == [("a", 1, 2), ("b", None, 5)]
        conn.sql("CREATE VIEW by_year AS PIVOT sales ON yr IN (2025) USING sum(qty) GROUP BY sym")
        assert sorted(conn.sql("SELECT * FROM by_year").fetchall()) == [("a", 2), ("b", 5)]
        with pytest.raises(SqlError, match="a PIVOT in a view names its values"):
            conn.sql("CREATE VIEW loose AS PIVOT sales ON yr USING sum(qty)")
        info = conn.sql("SELECT * FROM pragma_table_info('sales')").fetchall()
        assert conn.sql("PRAGMA table_info('sales')").fetchall() == info
        assert conn.sql("CALL pragma_table_info('sales')").fetchall() == info
        assert [row[1] for row in info] == ["sym", "yr", "qty"]
        assert conn.sql("PRAGMA version").fetchone()[0].startswith("v")
        assert conn.sql("PRAGMA show_tables").fetchall() == conn.sql("SHOW TABLES").fetchall()
        conn.sql("PRAGMA threads = 1")  # a setting, not a read (tests/test_planner_settings.py)
        assert conn.sql("SELECT current_setting('threads')").fetchone() == (1,)
        conn.sql("CREATE USER ann")
        conn.sql("GRANT SELECT ON sales TO ann")
    with indb.connect(tmp_path / "db", user="ann") as ann:  # reads, checked as reads
        assert len(ann.sql("SUMMARIZE sales").fetchall()) == 3
        with pytest.raises(indb.errors.PrivilegeError, match="hidden"):
            ann.sql("SUMMARIZE hidden")
        with pytest.raises(indb.errors.PrivilegeError, match="hidden"):
            ann.sql("PIVOT hidden ON x USING count(*)")


def test_duckdb_s_calls_sqlglot_rewrote_answer_as_duckdb_answers_them(tmp_path):
    """jaro_winkler_similarity is case-sensitive and takes a score cutoff; time_bucket takes a
    time zone's name (sqlglot upper-cased the strings, dropped the cutoff, and read the name as
    a division of columns)."""
    import duckdb
    query = ("SELECT jaro_winkler_similarity('abc', 'ABC'), jaro_winkler_similarity('abcd', 'abce', 0.99), "
             "time_bucket(INTERVAL '1 day', TIMESTAMPTZ '2024-01-02 05:00:00+00', 'Asia/Tokyo')")
    with indb.connect(tmp_path / "db") as conn:
        assert conn.sql(query).fetchone() == tuple(duckdb.connect().sql(query).fetchall()[0])
        assert conn.sql(query).fetchone()[:2] == (0.0, 0.0)
