"""Table upkeep end to end: UPDATE, MERGE, ALTER TABLE, views, COPY, EXPLAIN, time travel,
VACUUM and OPTIMIZE through SQL, checked against the Iceberg tables they leave behind."""

import datetime
import json
import os
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pandas as pd
import pytest
from pyiceberg.transforms import BucketTransform
from pyiceberg.types import IntegerType, LongType

import indb
from indb.catalog import filesystems
from indb.catalog.tables import ROWID
from indb.engine import upkeep as vacuuming
from indb.errors import CatalogError, DataError, SqlError
from indb.storage import files, upkeep
from indb.storage.files import local_path
from stores import new_bucket


def snapshots(conn, name):
    return len(conn._engine.db.load(name)[0].snapshots())


def stored(conn, name):
    """The table as pyiceberg reads it (by Iceberg field ids; hidden columns included)."""
    return conn._engine.db.load(name)[0].scan().to_arrow()


def data_files_on_disk(conn, name):
    location = local_path(conn._engine.db.load(name)[0].location())
    return {str(p) for p in Path(location, "data").rglob("*.parquet")}


def rows(conn, sql, params=None):
    return conn.sql(sql, params).fetchall()


def make_accounts(conn, name, shards=4):
    conn.sql(f"CREATE TABLE {name} (id INTEGER NOT NULL, owner VARCHAR, balance DOUBLE, "
             f"SHARD KEY (id)) WITH (SHARDS = {shards})")
    conn.sql(f"INSERT INTO {name} VALUES (1, 'ann', 10), (2, 'bob', 20), (3, 'cy', NULL), "
             "(4, 'di', 40), (5, 'ed', 50)")


def shard_check(conn, name, key_type, shards):
    """Every row sits in the shard Iceberg's bucket of its key names; returns the row count."""
    bucket = BucketTransform(shards).transform(key_type)
    total = 0
    for shard in range(shards):
        part = conn.table(name).shard(shard)
        assert {bucket(k) for k in part["id"].to_pylist()} <= {shard}
        total += part.num_rows
    return total


# -- UPDATE -------------------------------------------------------------------------------------

def test_update_with_parameters_is_one_snapshot(conn, table_name):
    make_accounts(conn, table_name)
    before = snapshots(conn, table_name)
    result = conn.sql(f"UPDATE {table_name} SET balance = balance * ?, owner = upper(owner) "
                      "WHERE id >= ?", [2, 4])
    assert result.rowcount == 2 and result.fetchall() == [(2,)]
    assert snapshots(conn, table_name) == before + 1
    assert rows(conn, f"SELECT id, owner, balance FROM {table_name} ORDER BY id") == [
        (1, "ann", 10.0), (2, "bob", 20.0), (3, "cy", None), (4, "DI", 80.0), (5, "ED", 100.0)]


def test_update_leaves_rows_whose_condition_is_null_and_matching_nothing_writes_nothing(conn, table_name):
    make_accounts(conn, table_name)
    conn.sql(f"UPDATE {table_name} SET owner = 'rich' WHERE balance > 15")
    assert rows(conn, f"SELECT id FROM {table_name} WHERE owner = 'rich' ORDER BY id") == [(2,), (4,), (5,)]
    before = snapshots(conn, table_name)
    assert conn.sql(f"UPDATE {table_name} SET owner = 'x' WHERE id > 100").rowcount == 0
    assert snapshots(conn, table_name) == before


def test_updating_the_shard_key_moves_rows_to_their_shard(conn, table_name):
    make_accounts(conn, table_name)
    conn.sql(f"UPDATE {table_name} SET id = id + 1000")
    assert shard_check(conn, table_name, IntegerType(), 4) == 5
    assert rows(conn, f"SELECT min(id), max(id) FROM {table_name}") == [(1001, 1005)]


def test_update_keeps_the_row_ids_of_a_table_without_shard_key(conn, table_name):
    conn.sql(f"CREATE TABLE {table_name} (k INTEGER, v VARCHAR)")
    conn.load(table_name, pa.table({"k": np.arange(200, dtype=np.int32), "v": ["a"] * 200}))
    ids_before = dict(zip(*stored(conn, table_name).select(["k", ROWID]).to_pydict().values()))
    conn.sql(f"UPDATE {table_name} SET v = 'b' WHERE k % 3 = 0")
    after = stored(conn, table_name)
    assert dict(zip(*after.select(["k", ROWID]).to_pydict().values())) == ids_before
    assert after["v"].to_pylist().count("b") == 67


def test_update_from_another_table(conn, table_name):
    make_accounts(conn, table_name)
    rates = f"{table_name}_rates"
    conn.sql(f"CREATE TABLE {rates} (owner VARCHAR, rate DOUBLE)")
    conn.sql(f"INSERT INTO {rates} VALUES ('ann', 1.5), ('di', 0.5)")
    conn.sql(f"UPDATE {table_name} AS a SET balance = a.balance * r.rate FROM {rates} r "
             "WHERE a.owner = r.owner")
    assert rows(conn, f"SELECT id, balance FROM {table_name} ORDER BY id") == [
        (1, 15.0), (2, 20.0), (3, None), (4, 20.0), (5, 50.0)]


def test_update_from_a_source_matching_a_row_twice_updates_it_once(conn, table_name):
    """PostgreSQL's and DuckDB's UPDATE ... FROM: by one of the rows (MERGE refuses, as the
    standard has it)."""
    conn.sql(f"CREATE TABLE {table_name} (id INTEGER, v INTEGER)")
    conn.sql(f"INSERT INTO {table_name} VALUES (1, 0), (2, 0), (3, 0)")
    source = "(VALUES (1, 10), (1, 20), (2, 30)) AS s (id, v)"
    changed = conn.sql(f"UPDATE {table_name} AS t SET v = s.v FROM {source} WHERE t.id = s.id "
                       "RETURNING t.id, t.v").fetchall()
    assert sorted(i for i, _ in changed) == [1, 2]  # a row a target row, not one a match
    got = dict(rows(conn, f"SELECT id, v FROM {table_name}"))
    assert got[1] in (10, 20) and (got[2], got[3]) == (30, 0) and len(got) == 3
    with pytest.raises(SqlError, match="matches more than one source row"):
        conn.sql(f"MERGE INTO {table_name} AS t USING {source} ON t.id = s.id "
                 "WHEN MATCHED THEN UPDATE SET v = s.v")


def test_a_refused_update_writes_nothing(conn, table_name):
    make_accounts(conn, table_name)
    before, on_disk = snapshots(conn, table_name), data_files_on_disk(conn, table_name)
    with pytest.raises(DataError, match="NOT NULL"):
        conn.sql(f"UPDATE {table_name} SET id = NULL WHERE id = 3")
    with pytest.raises(SqlError, match="has no column nope") as caught:
        conn.sql(f"UPDATE {table_name}\nSET nope = 1")
    assert (caught.value.line, caught.value.col) == (2, 5)
    assert snapshots(conn, table_name) == before
    assert data_files_on_disk(conn, table_name) == on_disk


@pytest.mark.parametrize("statement", [
    "UPDATE {t} SET owner = 'x' WHERE id < 3",
    "MERGE INTO {t} USING (SELECT 2 AS id) s ON {t}.id = s.id WHEN MATCHED THEN DELETE "
    "WHEN NOT MATCHED BY SOURCE AND {t}.id = 5 THEN UPDATE SET balance = 0",
    "ALTER TABLE {t} ADD COLUMN note VARCHAR",
    "ALTER TABLE {t} RENAME COLUMN owner TO holder",
    "ALTER TABLE {t} DROP COLUMN balance",
    "ALTER TABLE {t} SET (SHARDS = 2)",
    "COPY {t} FROM '{csv}' (HEADER)",
    "INSERT INTO {t} SELECT * FROM {t} AT (VERSION => {first})",
])
def test_each_statement_that_changes_data_is_one_snapshot(conn, table_name, tmp_path, statement):
    make_accounts(conn, table_name)
    csv = tmp_path / "more.csv"
    csv.write_text("id,owner,balance\n7,gil,70\n")
    first = rows(conn, f"SHOW SNAPSHOTS {table_name}")[0][0]
    before = snapshots(conn, table_name)
    conn.sql(statement.format(t=table_name, csv=csv, first=first))
    assert snapshots(conn, table_name) == before + 1


# -- MERGE --------------------------------------------------------------------------------------

def test_merge_applies_the_first_clause_that_fits_in_one_snapshot(conn, table_name):
    make_accounts(conn, table_name)
    changes = f"{table_name}_changes"
    conn.sql(f"CREATE TABLE {changes} (id INTEGER, owner VARCHAR, closed BOOLEAN)")
    conn.sql(f"INSERT INTO {changes} VALUES (1, 'anne', false), (2, NULL, true), (9, 'new', false)")
    before = snapshots(conn, table_name)
    result = conn.sql(f"""MERGE INTO {table_name} AS a USING {changes} AS c ON a.id = c.id
        WHEN MATCHED AND c.closed THEN DELETE
        WHEN MATCHED THEN UPDATE SET owner = c.owner
        WHEN NOT MATCHED THEN INSERT (id, owner, balance) VALUES (c.id, c.owner, 0)
        WHEN NOT MATCHED BY SOURCE AND a.balance IS NULL THEN DELETE
        WHEN NOT MATCHED BY SOURCE THEN UPDATE SET balance = a.balance + 1""")
    assert result.fetchall() == [(1, 3, 2)] and result.rowcount == 6
    assert snapshots(conn, table_name) == before + 1
    assert rows(conn, f"SELECT id, owner, balance FROM {table_name} ORDER BY id") == [
        (1, "anne", 10.0), (4, "di", 41.0), (5, "ed", 51.0), (9, "new", 0.0)]
    assert shard_check(conn, table_name, IntegerType(), 4) == 4


def test_merge_refuses_a_row_two_source_rows_match(conn, table_name):
    make_accounts(conn, table_name)
    before = snapshots(conn, table_name)
    with pytest.raises(SqlError, match="matches more than one source row"):
        conn.sql(f"MERGE INTO {table_name} t USING (SELECT 1 AS id UNION ALL SELECT 1) s "
                 "ON t.id = s.id WHEN MATCHED THEN UPDATE SET owner = 'twice'")
    assert snapshots(conn, table_name) == before


def test_merge_into_an_empty_table_and_parameters_in_written_order(conn, table_name):
    conn.sql(f"CREATE TABLE {table_name} (k VARCHAR, n BIGINT, SHARD KEY (k))")
    conn.sql(f"""MERGE INTO {table_name} t USING (SELECT * FROM (VALUES ('a', 1), ('b', 2)) v(k, n)
                 WHERE n <= ?) s ON t.k = s.k
                 WHEN NOT MATCHED AND s.n > ? THEN INSERT VALUES (s.k, s.n * ?)""", [2, 0, 10])
    assert rows(conn, f"SELECT * FROM {table_name} ORDER BY k") == [("a", 10), ("b", 20)]
    conn.sql(f"MERGE INTO {table_name} t USING {table_name} s ON t.k = s.k "
             "WHEN MATCHED THEN UPDATE SET * ")
    assert rows(conn, f"SELECT * FROM {table_name} ORDER BY k") == [("a", 10), ("b", 20)]


def test_merge_returning_gives_each_row_and_its_action(conn, table_name):
    """PostgreSQL 17's MERGE ... RETURNING: the new values of rows inserted and updated, the
    old ones of rows deleted, and merge_action(); before the commit (a mistake writes nothing)."""
    conn.sql(f"CREATE TABLE {table_name} (k INT PRIMARY KEY, v VARCHAR)")
    conn.sql(f"INSERT INTO {table_name} VALUES (1, 'a'), (2, 'b'), (3, 'c')")
    source = "(SELECT * FROM (VALUES (1, 'A'), (2, NULL), (4, 'D')) v(k, v))"
    merge = (f"MERGE INTO {table_name} t USING {source} s ON t.k = s.k WHEN MATCHED AND s.v IS "
             "NULL THEN DELETE WHEN MATCHED THEN UPDATE SET v = s.v WHEN NOT MATCHED THEN "
             "INSERT VALUES (s.k, s.v) RETURNING ")
    before = snapshots(conn, table_name)
    with pytest.raises(SqlError, match='"nope" not found'):
        conn.sql(merge + "nope")
    assert snapshots(conn, table_name) == before
    result = conn.sql(merge + "merge_action() AS action, t.*")
    assert sorted(result.fetchall()) == [("DELETE", 2, "b"), ("INSERT", 4, "D"), ("UPDATE", 1, "A")]
    assert result.rowcount == 3
    # DuckDB's spelling, a column of that name; PostgreSQL's, named as PostgreSQL names it
    duck = conn.sql(f"MERGE INTO {table_name} t USING {source} s ON t.k = s.k WHEN MATCHED "
                    "THEN UPDATE SET v = t.v RETURNING merge_action, merge_action() = 'UPDATE', k")
    assert [d[0] for d in duck.description][0] == "merge_action"
    assert sorted(duck.fetchall()) == [("UPDATE", True, 1), ("UPDATE", True, 4)]
    assert sorted(conn.sql(f"MERGE INTO {table_name} t USING {source} s ON t.k = s.k WHEN "
                           "MATCHED THEN UPDATE SET v = lower(t.v) RETURNING *").fetchall()) == [
        (1, "a"), (4, "d")]
    assert rows(conn, f"SELECT * FROM {table_name} ORDER BY k") == [(1, "a"), (3, "c"), (4, "d")]
    with pytest.raises(SqlError, match="merge_action.. can only be used in the RETURNING list of a MERGE"):
        conn.sql(f"UPDATE {table_name} SET v = 'x' RETURNING merge_action()")


# -- INSERT ... ON CONFLICT ---------------------------------------------------------------------

def test_on_conflict_updates_or_keeps_rows_of_a_known_key_in_one_snapshot(conn, table_name):
    conn.sql(f"CREATE TABLE {table_name} (id INTEGER PRIMARY KEY, v VARCHAR, n INTEGER)")
    conn.sql(f"INSERT INTO {table_name} VALUES (1, 'x', 1), (2, 'y', 2)")
    before = snapshots(conn, table_name)
    result = conn.sql(f"INSERT INTO {table_name} VALUES (1, 'q', 10), (3, 'z', 3) ON CONFLICT (id) "
                      f"DO UPDATE SET v = excluded.v, n = {table_name}.n + excluded.n")
    assert result.fetchall() == [(1, 1)] and result.rowcount == 2  # PostgreSQL: INSERT 0 2
    assert snapshots(conn, table_name) == before + 1
    # DO NOTHING: a known key, and the second of two new rows of one key, are left out
    assert conn.sql(f"INSERT INTO {table_name} (id, v) VALUES (2, 'no'), (4, 'four'), (4, 'again') "
                    "ON CONFLICT DO NOTHING").rowcount == 1
    conn.sql(f"INSERT INTO {table_name} AS t VALUES (4, 'w', 0) ON CONFLICT (id) DO UPDATE "
             "SET v = excluded.v WHERE t.n IS NOT NULL")  # 4's n is null: not updated
    returned = conn.sql(f"INSERT INTO {table_name} VALUES (3, 'r', 0), (5, 'f', 5) ON CONFLICT (id) "
                        "DO UPDATE SET n = excluded.n RETURNING id, v, n")  # updated and inserted
    assert sorted(returned.fetchall()) == [(3, "z", 0), (5, "f", 5)] and returned.rowcount == 2
    conn.sql(f"DELETE FROM {table_name} WHERE id = 5")
    conn.sql(f"INSERT OR REPLACE INTO {table_name} VALUES (3, 'r', 30)")
    conn.execute(f"INSERT OR IGNORE INTO {table_name} VALUES (?, ?, ?)", [3, "ignored", 0])
    assert rows(conn, f"SELECT * FROM {table_name} ORDER BY id") == [
        (1, "q", 11), (2, "y", 2), (3, "r", 30), (4, "four", None)]


def test_on_conflict_do_update_takes_parameters(conn, table_name):
    """Parameters in DO UPDATE (SQLAlchemy's ``set_={"v": 5}`` sends one) as well as in
    VALUES, as ``?`` or ``$n``; the INSERT's and the DO UPDATE's are told apart."""
    conn.sql(f"CREATE TABLE {table_name} (k VARCHAR PRIMARY KEY, v VARCHAR, n INTEGER)")
    conn.execute(f"INSERT INTO {table_name} VALUES (?, ?, ?) ON CONFLICT (k) DO UPDATE SET v = ?",
                 ["a", "x", 1, "unused"])
    conn.execute(f"INSERT INTO {table_name} AS t VALUES (?, ?, ?) ON CONFLICT (k) DO UPDATE "
                 "SET v = ? || excluded.v, n = t.n + ?", ["a", "y", 5, "pre-", 10])
    assert rows(conn, f"SELECT * FROM {table_name}") == [("a", "pre-y", 11)]
    conn.execute(f"INSERT INTO {table_name} AS t VALUES ($1, $2, $3) ON CONFLICT (k) DO UPDATE "
                 "SET v = $2 || $4 WHERE t.n > $3", ["a", "z", 3, "!"])  # $2 on both sides
    returned = conn.execute(f"INSERT INTO {table_name} VALUES ($1, 'w', $2), ($3, 'w', $2) "
                            "ON CONFLICT (k) DO UPDATE SET n = $4 RETURNING k, n", ["a", 7, "b", 8])
    assert sorted(returned.fetchall()) == [("a", 8), ("b", 7)]
    with pytest.raises(SqlError, match=r"has parameter \$5, and 3 were given"):
        conn.execute(f"INSERT INTO {table_name} VALUES ($1, $2, $3) ON CONFLICT (k) DO UPDATE "
                     "SET n = $5", ["c", "w", 7])
    assert rows(conn, f"SELECT * FROM {table_name} ORDER BY k") == [("a", "z!", 8), ("b", "w", 7)]


def test_writes_to_a_table_of_a_schema_call_it_by_its_own_name(conn, table_name):
    conn.sql(f"CREATE SCHEMA IF NOT EXISTS {table_name}_s")
    kv = f"{table_name}_s.kv"
    conn.sql(f"CREATE TABLE {kv} (k INT PRIMARY KEY, v VARCHAR)")
    conn.sql(f"INSERT INTO {kv} VALUES (1, 'a')")
    upserted = conn.sql(f"INSERT INTO {kv} VALUES (1, 'b'), (2, 'c') ON CONFLICT (k) DO UPDATE "
                        "SET v = excluded.v || kv.v RETURNING kv.k, v")  # kv, as PostgreSQL's
    assert sorted(upserted.fetchall()) == [(1, "ba"), (2, "c")]
    assert conn.sql(f"UPDATE {kv} SET v = kv.v || '!' WHERE kv.k = 2 RETURNING kv.v").fetchall() \
        == [("c!",)]


def test_merge_using_columns_and_values_as_duckdb_s(conn, table_name):
    t = table_name
    conn.sql(f"CREATE TABLE {t} (item_id INT, balance INT)")
    conn.sql(f"INSERT INTO {t} VALUES (10, 2200), (20, 1900)")
    conn.sql(f"MERGE INTO {t} USING (VALUES (10, 5), (40, 30)) AS buys (item_id, volume) "
             f"USING (item_id) WHEN MATCHED THEN UPDATE SET balance = balance + buys.volume "
             "WHEN NOT MATCHED THEN INSERT VALUES (buys.item_id, buys.volume)")
    assert rows(conn, f"SELECT * FROM {t} ORDER BY item_id") == [(10, 2205), (20, 1900), (40, 30)]
    # a bare USING column is the source's (it was ambiguous); bare THEN UPDATE and THEN INSERT
    # take the source row's columns in order (UPDATE SET *, INSERT *), as DuckDB's do
    conn.sql(f"WITH s (item_id, balance) AS (VALUES (50, 1)) MERGE INTO {t} USING s USING (item_id) "
             "WHEN NOT MATCHED THEN INSERT VALUES (item_id, s.balance)")
    conn.sql(f"MERGE INTO {t} USING (VALUES (10, 1), (60, 2)) AS n (item_id, balance) "
             "USING (item_id) WHEN MATCHED THEN UPDATE WHEN NOT MATCHED BY TARGET THEN INSERT "
             "WHEN NOT MATCHED BY SOURCE THEN DELETE")
    assert rows(conn, f"SELECT * FROM {t} ORDER BY item_id") == [(10, 1), (60, 2)]


def test_duckdb_s_merge_actions_error_default_values_and_by_name(conn, table_name):
    t = table_name
    conn.sql(f"CREATE TABLE {t} (id INT, v INT DEFAULT 7)")
    conn.sql(f"INSERT INTO {t} VALUES (1, 1), (2, 2)")
    before = snapshots(conn, t)
    with pytest.raises(indb.IntegrityError, match="^Merge error condition WHEN MATCHED: bad 1$"):
        conn.sql(f"MERGE INTO {t} USING (SELECT 1 AS id) s USING (id) WHEN MATCHED AND s.id > 5 "
                 "THEN DELETE WHEN MATCHED THEN ERROR 'bad ' || s.id WHEN NOT MATCHED THEN INSERT "
                 "BY NAME")
    with pytest.raises(indb.IntegrityError, match="^Merge error condition WHEN MATCHED: id 1$"):
        conn.sql(f"MERGE INTO {t} USING (SELECT 1 AS id) s USING (id) WHEN MATCHED THEN ERROR "
                 "'id ' || id")  # a bare USING column in the message: the source's, as elsewhere
    with pytest.raises(indb.IntegrityError, match="^Merge error condition WHEN NOT MATCHED BY SOURCE$"):
        conn.sql(f"MERGE INTO {t} USING (SELECT 1 AS id) s USING (id) WHEN NOT MATCHED BY SOURCE "
                 "THEN ERROR")
    assert snapshots(conn, t) == before  # nothing written
    # no row came to the ERROR: the others' actions are done
    conn.sql(f"MERGE INTO {t} USING (SELECT 1 AS id) s USING (id) WHEN MATCHED AND s.id > 5 "
             "THEN ERROR WHEN MATCHED THEN UPDATE SET v = 10")
    assert conn.sql(f"MERGE INTO {t} USING (SELECT 3 AS id) s USING (id) WHEN NOT MATCHED THEN "
                    "INSERT DEFAULT VALUES RETURNING *").fetchall() == [(None, 7)]
    # BY NAME: the source's columns of the table's names; one it lacks kept, or its default
    assert conn.sql(f"MERGE INTO {t} USING (SELECT 5 AS v, 4 AS id) s USING (id) WHEN NOT MATCHED "
                    "THEN INSERT BY NAME RETURNING *").fetchall() == [(4, 5)]
    assert conn.sql(f"MERGE INTO {t} USING (SELECT 6 AS id) s USING (id) WHEN NOT MATCHED "
                    "THEN INSERT BY NAME RETURNING *").fetchall() == [(6, 7)]
    assert conn.sql(f"MERGE INTO {t} USING (SELECT 9 AS v, 4 AS id) s USING (id) WHEN MATCHED "
                    "THEN UPDATE BY NAME RETURNING *").fetchall() == [(4, 9)]
    assert rows(conn, f"SELECT * FROM {t} ORDER BY id") == [
        (1, 10), (2, 2), (4, 9), (6, 7), (None, 7)]
    # INSERT * and a bare UPDATE: the source's columns in order, whatever their names (DuckDB's)
    assert conn.sql(f"MERGE INTO {t} USING (SELECT 8 AS a, 70 AS b) s ON s.a = {t}.id "
                    "WHEN NOT MATCHED THEN INSERT * RETURNING *").fetchall() == [(8, 70)]
    assert conn.sql(f"MERGE INTO {t} USING (SELECT 80 AS a, 8 AS b) s ON s.b = {t}.id "
                    "WHEN MATCHED THEN UPDATE RETURNING *").fetchall() == [(80, 8)]
    with pytest.raises(SqlError, match=f"UPDATE BY NAME: table {t} has no column w, which the "
                                       "source has"):
        conn.sql(f"MERGE INTO {t} USING (SELECT 8 AS id, 1 AS w) s USING (id) WHEN MATCHED THEN "
                 "UPDATE BY NAME")
    with pytest.raises(SqlError, match="INSERT \\* takes the source's columns in order: table "
                                       f"{t} has 2 columns, the source 1"):
        conn.sql(f"MERGE INTO {t} USING (SELECT 9 AS id) s USING (id) WHEN NOT MATCHED THEN INSERT")


def test_a_merge_clause_condition_may_hold_a_subquery(conn, table_name):
    totals, buy = table_name, f"{table_name}_buy"
    conn.sql(f"CREATE TABLE {totals} (item_id INT, balance INT, top BOOLEAN)")
    conn.sql(f"CREATE TABLE {buy} (item_id INT, volume INT)")
    conn.sql(f"INSERT INTO {buy} VALUES (10, 1000), (20, 2000), (30, 300)")
    conn.sql(f"MERGE INTO {totals} USING {buy} USING (item_id) WHEN NOT MATCHED AND "
             f"{buy}.volume = (SELECT max(volume) FROM {buy}) THEN INSERT VALUES "
             f"({buy}.item_id, {buy}.volume, true) WHEN NOT MATCHED THEN INSERT VALUES "
             f"({buy}.item_id, {buy}.volume, false)")
    assert rows(conn, f"SELECT * FROM {totals} ORDER BY item_id") == [
        (10, 1000, False), (20, 2000, True), (30, 300, False)]
    # or a call with side effects, which a clause before it keeps from running
    conn.sql(f"MERGE INTO {totals} USING {buy} USING (item_id) WHEN MATCHED AND true THEN DELETE "
             "WHEN MATCHED AND error('not reached') IS NULL THEN DELETE")
    assert rows(conn, f"SELECT count(*) FROM {totals}") == [(0,)]


def test_a_dbt_merge_reads_the_present_row_s_bare_columns(conn, table_name):
    """dbt-duckdb's incremental merge, as DuckDB's tests have it."""
    dest, src = table_name, f"{table_name}_src"
    conn.sql(f"CREATE TABLE {dest} (id INTEGER, val INTEGER)")
    conn.sql(f"CREATE TABLE {src} (id INTEGER, val INTEGER)")
    conn.sql(f"INSERT INTO {dest} VALUES (1, 10), (3, 30)")
    conn.sql(f"INSERT INTO {src} VALUES (1, 100), (2, 200)")
    conn.sql(f'MERGE INTO {dest} AS DBT_INTERNAL_DEST USING {src} AS DBT_INTERNAL_SOURCE '
             'ON DBT_INTERNAL_SOURCE.id = DBT_INTERNAL_DEST.id '
             'WHEN MATCHED THEN UPDATE SET "id" = DBT_INTERNAL_SOURCE."id", "val" = DBT_INTERNAL_SOURCE."val" '
             'WHEN NOT MATCHED THEN INSERT ("id", "val") VALUES ("id", "val") '
             'WHEN NOT MATCHED BY SOURCE THEN UPDATE SET val = val + 1')
    assert rows(conn, f"SELECT * FROM {dest} ORDER BY id") == [(1, 100), (2, 200), (3, 31)]


def test_a_with_before_update_delete_and_merge(conn, table_name):
    t = table_name
    conn.sql(f"CREATE TABLE {t} (id INT, val INT)")
    conn.sql(f"INSERT INTO {t} VALUES (1, 5), (2, 6)")
    conn.sql(f"WITH v (tid, n) AS (VALUES (1, NULL)) UPDATE {t} SET val = n FROM v WHERE id = tid")
    conn.sql(f"WITH a AS (SELECT 2 AS id), b AS (SELECT id FROM a) "  # one reads another
             f"DELETE FROM {t} WHERE id IN (SELECT id FROM b)")
    conn.sql(f"WITH s (id, val) AS (VALUES (3, 30)) MERGE INTO {t} USING s USING (id) "
             "WHEN NOT MATCHED THEN INSERT VALUES (s.id, s.val)")
    assert rows(conn, f"SELECT * FROM {t} ORDER BY id") == [(1, None), (3, 30)]
    with pytest.raises(SqlError, match="WITH RECURSIVE is not supported"):
        conn.sql(f"WITH RECURSIVE r AS (SELECT 1 AS id) DELETE FROM {t} WHERE id IN (SELECT id FROM r)")


def test_on_conflict_on_a_unique_as_postgresql_s(conn, table_name):
    t = table_name
    conn.sql(f"CREATE TABLE {t} (id INT, email VARCHAR UNIQUE, n INT)")
    conn.sql(f"INSERT INTO {t} VALUES (1, 'a', 1)")
    conn.sql(f"INSERT INTO {t} VALUES (2, 'a', 5) ON CONFLICT (email) DO UPDATE SET n = n + excluded.n")
    conn.sql(f"INSERT INTO {t} VALUES (3, 'a', 9), (4, NULL, 0), (5, NULL, 0) ON CONFLICT DO NOTHING")
    conn.sql(f"INSERT INTO {t} VALUES (6, 'b', 1) ON CONFLICT ON CONSTRAINT {t.split('.')[-1]}_email_key "
             "DO UPDATE SET n = 100")  # (the one UNIQUE: no target needed, as DuckDB's)
    conn.sql(f"INSERT INTO {t} VALUES (7, 'b', 2) ON CONFLICT DO UPDATE SET n = excluded.n")
    assert rows(conn, f"SELECT * FROM {t} ORDER BY id") == [  # NULLs clash with nothing
        (1, "a", 6), (4, None, 0), (5, None, 0), (6, "b", 2)]
    # DEFAULT in DO UPDATE SET is the column's (it was read as a column of the row there)
    conn.sql(f"CREATE TABLE {t}_d (a INT PRIMARY KEY DEFAULT 4, b INT DEFAULT 3)")
    conn.sql(f"INSERT INTO {t}_d VALUES (2, 3), (4, 5)")
    conn.sql(f"INSERT INTO {t}_d VALUES (DEFAULT, 6) ON CONFLICT (a) DO UPDATE SET b = DEFAULT")
    assert rows(conn, f"SELECT * FROM {t}_d ORDER BY a") == [(2, 3), (4, 3)]  # DuckDB's test


@pytest.mark.parametrize("statement, message", [
    ("INSERT INTO {t} VALUES (9, 'c', 0), (9, 'd', 0) ON CONFLICT (id) DO UPDATE SET v = 'e'",
     "cannot affect a row a second time: the rows inserted have id = 9"),
    ("INSERT INTO {t} VALUES (1, 'c', 0) ON CONFLICT (v) DO NOTHING",
     r"ON CONFLICT \(v\) names no primary key or UNIQUE of .*: its keys are .*_pkey \(id\)"),
    ("INSERT INTO {t} VALUES (1, 'c', 0) ON CONFLICT ON CONSTRAINT k DO NOTHING",
     "constraint k does not exist"),
    ("INSERT INTO {t}_plain VALUES (1) ON CONFLICT DO NOTHING", "has none"),
])
def test_on_conflict_refused_and_nothing_written(conn, table_name, statement, message):
    conn.sql(f"CREATE TABLE {table_name} (id INTEGER PRIMARY KEY, v VARCHAR, n INTEGER)")
    conn.sql(f"CREATE TABLE {table_name}_plain (id INTEGER)")
    conn.sql(f"INSERT INTO {table_name} VALUES (1, 'x', 1)")
    before = snapshots(conn, table_name)
    with pytest.raises(SqlError, match=message):
        conn.sql(statement.format(t=table_name))
    assert snapshots(conn, table_name) == before
    assert rows(conn, f"SELECT * FROM {table_name}") == [(1, "x", 1)]


# -- ALTER TABLE ---------------------------------------------------------------------------------

def test_add_primary_key_checks_the_rows_then_holds_on_every_write(conn, table_name):
    t = table_name
    conn.sql(f"CREATE TABLE {t} (bid INTEGER, balance INTEGER, note VARCHAR)")
    conn.sql(f"INSERT INTO {t} VALUES (1, 0, 'x'), (2, 0, NULL), (2, 5, 'again')")
    snapshots = len(conn.sql(f"SHOW SNAPSHOTS {t}").fetchall())
    for statement, error, message in [
            ("ADD PRIMARY KEY (nope)", SqlError, "has no column nope"),
            ("ADD PRIMARY KEY (note)", DataError, "column note .* holds NULL"),
            ("ADD PRIMARY KEY (bid)", DataError, "more than one row has bid = 2"),
            ("ADD PRIMARY KEY (bid, bid)", SqlError, "names bid twice"),
            ("ADD COLUMN y INT, ADD COLUMN z INT", SqlError, "makes one change at a time")]:
        with pytest.raises(error, match=message):
            conn.sql(f"ALTER TABLE {t} {statement}")
    assert len(conn.sql(f"SHOW SNAPSHOTS {t}").fetchall()) == snapshots  # nothing written
    conn.sql(f"DELETE FROM {t} WHERE balance = 5")
    conn.sql(f"ALTER TABLE {t} ADD CONSTRAINT {t}_key PRIMARY KEY (bid)")  # PostgreSQL's forms
    with pytest.raises(SqlError, match="has a primary key already"):
        conn.sql(f"ALTER TABLE {t} ADD PRIMARY KEY (balance)")
    with pytest.raises(DataError, match="duplicate primary key"):
        conn.sql(f"INSERT INTO {t} VALUES (1, 7, 'dup')")
    with pytest.raises(SqlError, match="NOT NULL"):  # its columns are NOT NULL, as PostgreSQL's
        conn.sql(f"INSERT INTO {t} VALUES (NULL, 7, 'null')")
    conn.sql(f"INSERT INTO {t} VALUES (1, 9, 'y') ON CONFLICT (bid) DO UPDATE SET balance = 9")
    assert conn.sql(f"SELECT * FROM {t} ORDER BY bid").fetchall() == [(1, 9, "x"), (2, 0, None)]
    assert conn.sql(f"DESCRIBE {t}").fetchall()[0] == ("bid", "INTEGER", "primary key, not null")


def test_alter_column_not_null_and_default(conn, table_name):
    t = table_name
    conn.sql(f"CREATE TABLE {t} (id INTEGER PRIMARY KEY, n INTEGER, s VARCHAR)")
    conn.sql(f"INSERT INTO {t} VALUES (1, NULL, 'x'), (2, 3, NULL)")
    with pytest.raises(DataError, match=f"column n of {t} holds NULL, so it cannot be NOT NULL"):
        conn.sql(f"ALTER TABLE {t} ALTER COLUMN n SET NOT NULL")
    conn.sql(f"UPDATE {t} SET n = 0 WHERE n IS NULL")
    conn.sql(f"ALTER TABLE {t} ALTER COLUMN n SET NOT NULL")
    assert "nothing to change" in conn.sql(f"ALTER TABLE {t} ALTER COLUMN n SET NOT NULL").message
    with pytest.raises(SqlError, match="NOT NULL constraint failed"):
        conn.sql(f"INSERT INTO {t} VALUES (3, NULL, 'y')")
    with pytest.raises(SqlError, match="column id is in the primary key"):
        conn.sql(f"ALTER TABLE {t} ALTER COLUMN id DROP NOT NULL")
    conn.sql(f"ALTER TABLE {t} ALTER COLUMN s SET DEFAULT 'd' || 1")  # later inserts take it
    conn.sql(f"INSERT INTO {t} (id, n) VALUES (4, 1)")
    with pytest.raises(SqlError, match="Could not convert"):  # a DEFAULT that fits no INTEGER
        conn.sql(f"ALTER TABLE {t} ALTER COLUMN n SET DEFAULT 'abc'")
    conn.sql(f"ALTER TABLE {t} ALTER COLUMN s DROP DEFAULT")
    conn.sql(f"INSERT INTO {t} (id, n) VALUES (5, 1)")
    conn.sql(f"ALTER TABLE {t} ALTER n DROP NOT NULL")
    conn.sql(f"INSERT INTO {t} VALUES (6, NULL, 'z')")
    assert conn.sql(f"SELECT * FROM {t} ORDER BY id").fetchall() == [
        (1, 0, "x"), (2, 3, None), (4, 1, "d1"), (5, 1, None), (6, None, "z")]
    conn.sql(f"ALTER TABLE {t} ALTER COLUMN n TYPE TEXT")  # each value converted
    assert conn.sql(f"SELECT n FROM {t} ORDER BY id").fetchall() == [
        ("0",), ("3",), ("1",), ("1",), (None,)]


def test_a_new_column_s_default_fills_the_rows_there_and_those_to_come(conn, table_name):
    conn.sql(f"CREATE TABLE {table_name} (k INTEGER, SHARD KEY (k)) WITH (SHARDS = 2)")
    conn.sql(f"INSERT INTO {table_name} VALUES (1), (2)")
    conn.sql(f"ALTER TABLE {table_name} ADD COLUMN n INT NOT NULL DEFAULT 7")
    conn.sql(f"ALTER TABLE {table_name} ADD COLUMN at TIMESTAMP_NS "
             "DEFAULT TIMESTAMP_NS '2024-01-02 00:00:00.000000001'")
    conn.sql(f"INSERT INTO {table_name} (k) VALUES (3)")
    at = pd.Timestamp("2024-01-02 00:00:00.000000001")
    assert rows(conn, f"SELECT * FROM {table_name} ORDER BY k") == [(1, 7, at), (2, 7, at), (3, 7, at)]
    with pytest.raises(SqlError, match="NOT NULL"):
        conn.sql(f"INSERT INTO {table_name} VALUES (4, NULL, NULL)")


def test_add_column_to_a_table_without_shard_key(conn, table_name):
    conn.sql(f"CREATE TABLE {table_name} (k INTEGER, v VARCHAR)")
    conn.sql(f"INSERT INTO {table_name} VALUES (1, 'a'), (2, 'b')")
    before = snapshots(conn, table_name)
    conn.sql(f"ALTER TABLE {table_name} ADD COLUMN score TINYINT")
    assert snapshots(conn, table_name) == before + 1
    conn.sql(f"INSERT INTO {table_name} VALUES (3, 'c', 7)")
    conn.sql(f"UPDATE {table_name} SET score = -1 WHERE k = 1")
    assert rows(conn, f"SELECT * FROM {table_name} ORDER BY k") == [(1, "a", -1), (2, "b", None),
                                                                     (3, "c", 7)]
    # every file has the table's columns, hidden row id last, as another engine reads them
    table = stored(conn, table_name)
    assert table.column_names == ["k", "v", "score", ROWID] and table.num_rows == 3
    assert sum(conn.table(table_name).shard(k).num_rows for k in range(8)) == 3


def test_rename_and_drop_columns_and_read_the_table_as_it_was(conn, table_name):
    make_accounts(conn, table_name)
    first = rows(conn, f"SHOW SNAPSHOTS {table_name}")[-1][0]
    conn.sql(f"ALTER TABLE {table_name} RENAME COLUMN id TO account")
    conn.sql(f"ALTER TABLE {table_name} DROP COLUMN owner")
    assert [r[:2] for r in rows(conn, f"DESCRIBE {table_name}")][:2] == [("account", "INTEGER"),
                                                                        ("balance", "DOUBLE")]
    assert rows(conn, f"DESCRIBE {table_name}")[0][2] == "shard key, not null"
    assert rows(conn, f"SELECT account, balance FROM {table_name} WHERE account = 2") == [(2, 20.0)]
    assert stored(conn, table_name).column_names == ["account", "balance"]
    assert rows(conn, f"SELECT id, owner FROM {table_name} AT (VERSION => {first}) WHERE id = 2") == \
        [(2, "bob")]


@pytest.mark.parametrize("sql, message", [
    ("ALTER TABLE {t} DROP COLUMN id", "is the shard key of"),
    ("ALTER TABLE {t} ADD COLUMN OWNER VARCHAR", "has a column owner already"),
    ("ALTER TABLE {t} RENAME COLUMN owner TO Balance", "has a column balance already"),
    ("ALTER TABLE {t} RENAME COLUMN nope TO x", "has no column nope"),
])
def test_alter_table_refusals_write_nothing(conn, table_name, sql, message):
    make_accounts(conn, table_name)
    before = snapshots(conn, table_name)
    with pytest.raises(SqlError, match=message):
        conn.sql(sql.format(t=table_name))
    assert snapshots(conn, table_name) == before


def test_alter_table_if_exists_forms_and_last_column(conn, table_name):
    conn.sql(f"CREATE REPLICATED TABLE {table_name} (only_one INTEGER)")
    before = snapshots(conn, table_name)
    conn.sql(f"ALTER TABLE {table_name} DROP COLUMN IF EXISTS nope")
    conn.sql(f"ALTER TABLE {table_name} ADD COLUMN IF NOT EXISTS only_one INTEGER")
    assert snapshots(conn, table_name) == before
    with pytest.raises(SqlError, match="the only column"):
        conn.sql(f"ALTER TABLE {table_name} DROP COLUMN only_one")
    with pytest.raises(SqlError, match="REPLICATED"):
        conn.sql(f"ALTER TABLE {table_name} SET (SHARDS = 4)")


def test_set_shards_rewrites_rows_into_the_new_buckets(conn, table_name):
    make_accounts(conn, table_name, shards=4)
    conn.sql(f"INSERT INTO {table_name} SELECT i, 'x', i FROM range(6, 500) t(i)")
    before = snapshots(conn, table_name)
    conn.sql(f"ALTER TABLE {table_name} SET (SHARDS = 7)")
    assert snapshots(conn, table_name) == before + 1
    assert shard_check(conn, table_name, IntegerType(), 7) == 499
    facts = {r[0]: r for r in rows(conn, "SHOW TABLES")}[table_name]
    assert (facts[3], facts[4]) == (7, 499)
    table = conn._engine.db.load(table_name)[0]
    assert str(table.spec().fields[0].transform) == "bucket[7]"
    conn.sql(f"INSERT INTO {table_name} VALUES (1000, 'late', 1)")  # new rows go by the new count
    assert shard_check(conn, table_name, IntegerType(), 7) == 500


def test_composite_key_survives_a_rename_and_a_reshard(conn, table_name):
    conn.sql(f"CREATE TABLE {table_name} (a VARCHAR, b BIGINT, v DOUBLE, SHARD KEY (a, b)) "
             "WITH (SHARDS = 3)")
    conn.sql(f"INSERT INTO {table_name} SELECT 'k' || (i % 5), i % 7, i FROM range(100) t(i)")
    conn.sql(f"ALTER TABLE {table_name} RENAME COLUMN b TO bee")
    conn.sql(f"ALTER TABLE {table_name} SET (SHARDS = 5)")
    conn.sql(f"UPDATE {table_name} SET bee = bee + 1 WHERE a = 'k1'")
    assert rows(conn, f"SELECT count(*), sum(v) FROM {table_name}") == [(100, 4950.0)]
    assert sum(conn.table(table_name).shard(k).num_rows for k in range(5)) == 100


# -- views --------------------------------------------------------------------------------------

def test_views_are_kept_for_every_connection(tmp_path):
    with indb.connect(tmp_path / "db") as first:
        first.sql("CREATE TABLE t (k INTEGER, v DOUBLE)")
        first.sql("INSERT INTO t VALUES (1, 1.5), (2, 2.5)")
        first.sql("CREATE VIEW big AS SELECT k FROM t WHERE v > 2")
        first.sql("CREATE VIEW bigger AS SELECT k + 1 AS k FROM big")
        assert rows(first, "SELECT * FROM bigger") == [(3,)]
        # DuckDB's DESCRIBE of its rows: a view has no table metadata to show
        assert [r[:2] for r in rows(first, "DESCRIBE bigger")] == [("k", "INTEGER")]
        with indb.connect(tmp_path / "db") as second:
            assert rows(second, "SELECT * FROM big") == [(2,)]
            second.sql("CREATE OR REPLACE VIEW big AS SELECT k FROM t")
            second.sql("INSERT INTO t VALUES (3, 0.5)")
        assert rows(first, "SELECT * FROM bigger ORDER BY k") == [(2,), (3,), (4,)]
        assert [r[0] for r in rows(first, "SHOW VIEWS")] == ["bigger", "big"]
        with pytest.raises(CatalogError, match="view big already exists"):
            first.sql("CREATE VIEW big AS SELECT 1")
        first.sql("CREATE VIEW IF NOT EXISTS big AS SELECT 1")
        with pytest.raises(CatalogError, match="a table called t exists"):
            first.sql("CREATE VIEW t AS SELECT 1")
        with pytest.raises(SqlError, match="nope"):  # DuckDB checks the query first
            first.sql("CREATE VIEW broken AS SELECT * FROM nope")
        first.sql("DROP VIEW big")
        with pytest.raises(SqlError, match="view bigger cannot be read"):
            first.sql("SELECT * FROM bigger")
        with pytest.raises(CatalogError, match="view big does not exist"):
            first.sql("DROP VIEW big")
        first.sql("DROP VIEW IF EXISTS big")
        assert [r[0] for r in rows(first, "SHOW VIEWS")] == ["bigger"]


def test_a_view_lives_in_a_schema_as_a_table_does(tmp_path):
    with indb.connect(tmp_path / "db") as conn:
        conn.sql("CREATE SCHEMA staging")
        conn.sql("CREATE TABLE staging.t (k INTEGER)")
        conn.sql("INSERT INTO staging.t VALUES (1), (2)")
        conn.sql("CREATE VIEW staging.big AS SELECT k FROM staging.t WHERE k > 1")
        conn.sql("CREATE VIEW reads_it AS SELECT k * 10 AS k FROM staging.big")
        assert rows(conn, "SELECT * FROM reads_it") == [(20,)]
        assert rows(conn, "SELECT table_schema, table_name FROM information_schema.tables "
                          "WHERE table_type = 'VIEW' ORDER BY 1") == [("main", "reads_it"),
                                                                      ("staging", "big")]
        conn.sql("USE staging")
        assert rows(conn, "SELECT * FROM big") == [(2,)]  # along the search path
        conn.sql("USE main")
        with pytest.raises(SqlError, match="schema nowhere does not exist"):
            conn.sql("CREATE VIEW nowhere.v AS SELECT 1")
        with pytest.raises(CatalogError, match="a table called staging.t exists"):
            conn.sql("CREATE VIEW staging.t AS SELECT 1")
        conn.sql("ALTER VIEW staging.big RENAME TO bigger")
        assert rows(conn, "SELECT * FROM reads_it") == [(20,)]  # it follows the rename
        with pytest.raises(CatalogError, match=r"holds 1 view\(s\) \(staging.bigger\)"):
            conn.sql("DROP SCHEMA staging")
        assert rows(conn, "SELECT * FROM staging.bigger") == [(2,)]  # nothing was dropped
        conn.sql("DROP SCHEMA staging CASCADE")
        assert [r[0] for r in rows(conn, "SHOW VIEWS")] == ["reads_it"]
        conn.sql("CREATE SCHEMA staging")  # a new schema of the name starts empty
        with pytest.raises(SqlError, match="bigger does not exist"):
            conn.sql("SELECT * FROM staging.bigger")


def test_a_recursive_view_as_postgresql_and_duckdb_define_it(tmp_path):
    with indb.connect(tmp_path / "db") as conn:
        conn.sql("CREATE RECURSIVE VIEW nums (n) AS VALUES (1) UNION ALL "
                 "SELECT n + 1 FROM nums WHERE n < 5")
        assert rows(conn, "FROM nums") == [(1,), (2,), (3,), (4,), (5,)]
        conn.sql("CREATE OR REPLACE RECURSIVE VIEW nums (n) AS SELECT 10 UNION ALL "
                 "SELECT n + 1 FROM nums WHERE n < 11")
        with indb.connect(tmp_path / "db") as other:  # kept, as any view
            assert rows(other, "FROM nums") == [(10,), (11,)]
        with pytest.raises(SqlError, match="CREATE RECURSIVE VIEW names its columns"):
            conn.sql("CREATE RECURSIVE VIEW loose AS SELECT 1")


def test_show_create_gives_the_statement_that_makes_a_table_or_view_again(tmp_path):
    with indb.connect(tmp_path / "db") as conn:
        conn.sql("CREATE SCHEMA s")
        conn.sql("CREATE TABLE s.t (id BIGINT GENERATED ALWAYS AS IDENTITY (START WITH 5 "
                 "INCREMENT BY 2), a INTEGER NOT NULL DEFAULT 3, b VARCHAR, ts TIMESTAMP_NS, "
                 "v FLOAT[3], d DECIMAL(10, 2), PRIMARY KEY (id), SHARD KEY (id), "
                 "CONSTRAINT b_once UNIQUE (b), CHECK (a > 0)) WITH (SHARDS = 4)")
        conn.sql("CREATE REPLICATED TABLE r (k VARCHAR)")
        conn.sql("CREATE VIEW pv AS SELECT a FROM s.t WHERE a > 1")
        conn.sql("CREATE TEMP VIEW tv AS SELECT b FROM s.t")
        ddl = conn.sql("SHOW CREATE TABLE s.t").arrow()
        assert ddl.column_names == ["DDL"] and ddl.num_rows == 1  # Kinetica's SHOW TABLE's
        made = ddl.column(0)[0].as_py()
        conn.sql("CREATE SCHEMA s2")
        conn.sql(made.replace("s.t", "s2.t"))  # the same table again
        assert conn.sql("SHOW CREATE TABLE s2.t").fetchone()[0] == made.replace("s.t", "s2.t")
        assert conn.sql("DESCRIBE s2.t").fetchall()[:6] == conn.sql("DESCRIBE s.t").fetchall()[:6]
        conn.sql("INSERT INTO s2.t (b) VALUES ('x')")
        assert conn.sql("SELECT id, a FROM s2.t").fetchall() == [(5, 3)]  # identity, default
        with pytest.raises(indb.IntegrityError):  # its CHECK came along
            conn.sql("INSERT INTO s2.t (a, b) VALUES (0, 'y')")
        assert conn.sql("SHOW TABLE r").fetchone() == ("CREATE REPLICATED TABLE r (k TEXT)",)
        assert conn.sql("SHOW CREATE VIEW pv").fetchone() == (
            "CREATE VIEW pv AS SELECT a FROM s.t WHERE a > 1",)
        assert conn.sql("SHOW VIEW tv").fetchone() == ("CREATE TEMPORARY VIEW tv AS SELECT b FROM s.t",)
        with pytest.raises(CatalogError, match="table nope does not exist"):
            conn.sql("SHOW CREATE TABLE nope")
        with pytest.raises(CatalogError, match="view nope does not exist"):
            conn.sql("SHOW CREATE VIEW nope")
        assert conn.sql("SHOW search_path").fetchone() == ("main",)  # the session's, as PostgreSQL's
        with pytest.raises(SqlError, match="SHOW 1 is not supported"):
            conn.sql("SHOW 1")


def test_show_columns_and_show_t_describe_a_table(tmp_path):
    """Spark's and MySQL's SHOW COLUMNS (DuckDB's DESCRIBE t, in a query), and DuckDB's
    SHOW t (its DESCRIBE t), a schema's table's too."""
    with indb.connect(tmp_path / "db") as conn:
        conn.sql("CREATE SCHEMA s")
        conn.sql("CREATE TABLE s.t (id BIGINT, name VARCHAR)")
        conn.sql("CREATE VIEW v AS SELECT name FROM s.t")
        columns = conn.sql("SHOW COLUMNS FROM s.t")
        assert columns.columns[:2] == ["column_name", "column_type"]
        assert [r[:2] for r in columns.fetchall()] == [("id", "BIGINT"), ("name", "VARCHAR")]
        assert [r[0] for r in conn.sql("SHOW COLUMNS IN t IN s").fetchall()] == ["id", "name"]
        assert [r[0] for r in conn.sql("SHOW COLUMNS FROM v").fetchall()] == ["name"]
        assert conn.sql("SHOW s.t").fetchall() == conn.sql("DESCRIBE s.t").fetchall()
        conn.sql("USE s")
        assert conn.sql("SHOW t").fetchall() == conn.sql("DESCRIBE s.t").fetchall()
        assert conn.sql("SHOW CREATE TABLE t").fetchone()[0].startswith("CREATE TABLE s.t (")
        with pytest.raises(CatalogError, match="table nope does not exist"):
            conn.sql("SHOW nope")


@pytest.mark.parametrize("sql, named", [
    ("DETACH x", "DETACH"), ("INSTALL httpfs", "INSTALL"), ("LOAD httpfs", "LOAD"),
    ("ATTACH 'x.db' AS x", "ATTACH")])
def test_a_statement_indb_does_not_run_is_refused_by_its_own_words(tmp_path, sql, named):
    with indb.connect(tmp_path / "db") as conn:
        with pytest.raises(SqlError, match=f"^{named} statements are not supported"):
            conn.sql(sql)


# -- EXPLAIN and COPY ----------------------------------------------------------------------------

def test_explain_shows_plans_and_changes_nothing(conn, table_name):
    make_accounts(conn, table_name)
    before = snapshots(conn, table_name)
    lines = dict(rows(conn, f"EXPLAIN UPDATE {table_name} SET balance = 0 WHERE id = 1"))
    assert (lines["plan"], lines["clauses[1].condition"]) == ("Update", "id = 1")
    assert snapshots(conn, table_name) == before
    lines = rows(conn, f"EXPLAIN SELECT owner, count(*) FROM {table_name} GROUP BY owner")
    assert lines[0] == ("plan", "Query") and lines[-1][0] == "physical_plan"
    analyzed = rows(conn, f"EXPLAIN ANALYZE SELECT count(*) FROM {table_name}")
    assert analyzed[-1][0] == "analyzed_plan"
    # DuckDB's options: a plan in another format is DuckDB's document alone
    [(key, document)] = rows(conn, f"EXPLAIN (FORMAT json) SELECT count(*) FROM {table_name}")
    assert key == "physical_plan" and isinstance(json.loads(document), list)
    [(key, document)] = rows(conn, f"EXPLAIN (ANALYZE, FORMAT 'json') SELECT * FROM {table_name}")
    assert key == "analyzed_plan" and "operator" in json.loads(document)
    assert rows(conn, "EXPLAIN ANALYSE SELECT 1")[-1][0] == "analyzed_plan"
    with pytest.raises(indb.SqlError, match="options FORMAT and ANALYZE, not VERBOSE"):
        conn.sql("EXPLAIN (VERBOSE) SELECT 1")
    with pytest.raises(indb.SqlError, match="formats DuckDB's plan of a query"):
        conn.sql(f"EXPLAIN (FORMAT json) DELETE FROM {table_name}")


def test_copy_to_a_file_and_back(conn, table_name, tmp_path):
    make_accounts(conn, table_name)
    target = tmp_path / "accounts.parquet"
    conn.sql(f"COPY {table_name} TO '{target}' (FORMAT parquet)")
    assert pq.read_table(target).num_rows == 5
    copy = f"{table_name}_copy"
    conn.sql(f"CREATE TABLE {copy} (id INTEGER NOT NULL, owner VARCHAR, balance DOUBLE)")
    result = conn.sql(f"COPY {copy} FROM '{target}' (FORMAT parquet)")
    assert result.rowcount == 5 and snapshots(conn, copy) == 1
    assert rows(conn, f"SELECT * FROM {copy} EXCEPT SELECT * FROM {table_name}") == []
    csv = tmp_path / "partial.csv"
    csv.write_text("owner,id\nzed,\n")
    with pytest.raises((DataError, SqlError), match="NOT NULL|null"):
        conn.sql(f"COPY {copy} (owner, id) FROM '{csv}' (HEADER)")
    assert snapshots(conn, copy) == 1


# -- time travel --------------------------------------------------------------------------------

def test_time_travel_by_snapshot_id_and_by_time(conn, table_name):
    make_accounts(conn, table_name)
    conn.sql(f"DELETE FROM {table_name} WHERE id > 2")
    history = rows(conn, f"SHOW SNAPSHOTS {table_name}")
    (first, _, first_at, operation, count, _, current), last = history[0], history[-1]
    assert (operation, count, current, last[4], last[6]) == ("append", 5, False, 2, True)
    assert rows(conn, f"SELECT count(*) FROM {table_name} AT (VERSION => {first})") == [(5,)]
    moment = first_at.isoformat(sep=" ")
    assert rows(conn, f"SELECT count(*) FROM {table_name} AT (TIMESTAMP => '{moment}')") == [(5,)]
    assert rows(conn, f"SELECT count(*) FROM {table_name} FOR SYSTEM_TIME AS OF '{moment}+00:00'") \
        == [(5,)]
    earlier = (first_at - datetime.timedelta(milliseconds=1)).isoformat(sep=" ")
    with pytest.raises(SqlError, match=f"table {table_name} has no snapshot at or before"):
        conn.sql(f"SELECT * FROM {table_name} AT (TIMESTAMP => '{earlier}')")
    with pytest.raises(SqlError, match="has no snapshot 12345; SHOW SNAPSHOTS"):
        conn.sql(f"SELECT * FROM {table_name} AT (VERSION => 12345)")


def test_restore_old_rows_from_a_snapshot(conn, table_name):
    make_accounts(conn, table_name)
    first = rows(conn, f"SHOW SNAPSHOTS {table_name}")[0][0]
    conn.sql(f"DELETE FROM {table_name} WHERE owner IN ('bob', 'cy')")
    conn.sql(f"MERGE INTO {table_name} t USING {table_name} AT (VERSION => {first}) old "
             "ON t.id = old.id WHEN NOT MATCHED THEN INSERT *")
    assert rows(conn, f"SELECT count(*) FROM {table_name}") == [(5,)]


# -- VACUUM and OPTIMIZE -------------------------------------------------------------------------

def age(path, days):
    old = time.time() - days * 24 * 3600
    os.utime(path, (old, old))


def test_vacuum_keeps_the_newest_snapshots_and_deletes_what_only_old_ones_read(fresh):
    fresh.sql("CREATE TABLE t (k INTEGER, v VARCHAR, SHARD KEY (k)) WITH (SHARDS = 2)")
    fresh.sql("INSERT INTO t VALUES (1, 'x'), (2, 'x'), (3, 'x')")
    fresh.sql("UPDATE t SET v = 'y'")
    fresh.sql("UPDATE t SET v = 'z'")
    table = fresh._engine.db.load("t")[0]
    (first, second, third) = sorted(table.snapshots(), key=lambda s: s.sequence_number)

    def read_by(*kept):
        return {local_path(f.file_path) for s in kept for f in upkeep.snapshot_files(table, s)}

    everything, kept = read_by(first, second, third), read_by(second, third)
    assert data_files_on_disk(fresh, "t") == everything != kept
    assert fresh.sql("VACUUM t RETAIN 2").fetchall()[0][:2] == ("t", 1)
    assert snapshots(fresh, "t") == 2
    assert data_files_on_disk(fresh, "t") == kept
    assert not Path(local_path(first.manifest_list)).exists()
    with pytest.raises(SqlError, match="SHOW SNAPSHOTS t lists those VACUUM kept"):
        fresh.sql(f"SELECT * FROM t AT (VERSION => {first.snapshot_id})")
    assert rows(fresh, f"SELECT DISTINCT v FROM t AT (VERSION => {second.snapshot_id})") == [("y",)]
    fresh.sql("VACUUM t")
    assert snapshots(fresh, "t") == 1 and data_files_on_disk(fresh, "t") == read_by(third)
    assert rows(fresh, "SELECT k, v FROM t ORDER BY k") == [(1, "z"), (2, "z"), (3, "z")]


def test_vacuum_deletes_old_orphans_of_killed_writes_only(fresh):
    fresh.sql("CREATE TABLE t (k INTEGER, v VARCHAR, SHARD KEY (k)) WITH (SHARDS = 2)")
    fresh.sql("INSERT INTO t VALUES (1, 'a'), (2, 'b')")
    table, info = fresh._engine.db.load("t")
    killed = files.write_data_files(table.io, table.metadata, info, files.to_stored(
        pa.table({"k": [7, 8], "v": ["x", "y"]}), info, lambda n: np.arange(n)))  # never committed
    in_flight = files.write_data_files(table.io, table.metadata, info, files.to_stored(
        pa.table({"k": [9], "v": ["z"]}), info, lambda n: np.arange(n)))
    for data_file in killed:
        age(local_path(data_file.file_path), days=2)
    # a table that never came to be: a killed run's new output, written under its future location
    ghost = Path(local_path(fresh._engine.db.table_location("ghost"))) / "data" / "part.parquet"
    ghost.parent.mkdir(parents=True)
    pq.write_table(pa.table({"x": [1]}), ghost)
    age(ghost, days=2)
    before = snapshots(fresh, "t")
    outcome = dict((r[0], r) for r in rows(fresh, "VACUUM"))
    assert outcome["t"][1:3] == (0, len(killed)) and outcome[None][2] == 1
    on_disk = data_files_on_disk(fresh, "t")
    assert not any(local_path(f.file_path) in on_disk for f in killed)
    assert all(local_path(f.file_path) in on_disk for f in in_flight)
    assert not ghost.exists() and snapshots(fresh, "t") == before
    assert rows(fresh, "SELECT count(*) FROM t") == [(2,)]


def test_vacuum_spares_files_younger_than_a_run_still_going(fresh, monkeypatch):
    fresh.sql("CREATE TABLE t (k INTEGER)")
    fresh.sql("INSERT INTO t VALUES (1)")
    table, info = fresh._engine.db.load("t")
    (orphan,) = files.write_data_files(table.io, table.metadata, info, files.to_stored(
        pa.table({"k": [5]}), info, lambda n: np.arange(n)))
    age(local_path(orphan.file_path), days=2)
    started = time.time() - 3 * 24 * 3600  # a run going for three days wrote this file
    monkeypatch.setattr(fresh._engine.runs, "runs", lambda: pa.table(
        {"started": [started], "status": ["running"]}))
    fresh.sql("VACUUM t")
    assert Path(local_path(orphan.file_path)).exists()
    monkeypatch.undo()
    fresh.sql("VACUUM t")
    assert not Path(local_path(orphan.file_path)).exists()


def test_vacuum_deletes_staged_files_in_an_object_store_once_no_run_may_own_them(s3, tmp_path,
                                                                               monkeypatch):
    """A lost attempt's (or a killed load's) files in an S3 warehouse (moto's): files of no
    snapshot, kept while a run that started before them is going, deleted after."""
    monkeypatch.setenv("INDB_SCRATCH", str(tmp_path / "scratch"))
    monkeypatch.setattr(vacuuming, "ORPHAN_MIN_AGE_S", -3600)  # moto's objects cannot be aged
    conn = indb.connect(catalog=f"sqlite:///{tmp_path / 'catalog.db'}",
                        warehouse=f"s3://{new_bucket(s3)}/db", properties=s3)
    try:
        conn.sql("CREATE TABLE t (k INTEGER, SHARD KEY (k)) WITH (SHARDS = 2)")
        conn.sql("INSERT INTO t VALUES (1), (2)")
        db = conn._engine.db
        table, info = db.load("t")
        started = time.time() - 1  # S3 keeps whole seconds: the files are younger than this
        lost = files.write_data_files(table.io, table.metadata, info, files.to_stored(
            pa.table({"k": [7, 8]}), info, lambda n: np.arange(n)))  # never reported, never committed

        def listed() -> set[str]:
            return {path for path, _ in filesystems.list_files(f"{table.location()}/data",
                                                               db.io_properties)}
        with monkeypatch.context() as going:
            going.setattr(conn._engine.runs, "runs", lambda: pa.table(
                {"started": [started], "status": ["running"]}))
            assert rows(conn, "VACUUM t")[0][1:3] == (0, 0)
        assert {local_path(f.file_path) for f in lost} <= listed()
        assert rows(conn, "VACUUM t")[0][1:3] == (0, len(lost))
        assert not {local_path(f.file_path) for f in lost} & listed()
        assert rows(conn, "SELECT k FROM t ORDER BY k") == [(1,), (2,)]
    finally:
        conn.close()


def test_optimize_merges_each_shard_s_small_files_in_one_snapshot(conn, table_name):
    conn.sql(f"CREATE TABLE {table_name} (k BIGINT, v DOUBLE, SHARD KEY (k)) WITH (SHARDS = 3)")
    # two inserts: two small files a shard to merge (six took 15 s on S3 under load, in test_urls)
    for n in range(2):
        conn.sql(f"INSERT INTO {table_name} SELECT i, i * {n} FROM range(?, ?) t(i)",
                 [n * 100, n * 100 + 100])
    content = rows(conn, f"SELECT k, v FROM {table_name} ORDER BY k")
    assert len(files.data_files(conn._engine.db.load(table_name)[0])) == 6
    before = snapshots(conn, table_name)
    assert rows(conn, f"OPTIMIZE {table_name}") == [(table_name, 6, 3)]
    assert snapshots(conn, table_name) == before + 1
    assert rows(conn, f"SELECT k, v FROM {table_name} ORDER BY k") == content
    bucket = BucketTransform(3).transform(LongType())
    for shard in range(3):
        assert {bucket(k) for k in conn.table(table_name).shard(shard)["k"].to_pylist()} == {shard}
    assert rows(conn, f"OPTIMIZE {table_name}") == [(table_name, 0, 0)]
    assert snapshots(conn, table_name) == before + 1
