"""ALTER TABLE's and ALTER VIEW's RENAME TO and ALTER TABLE IF EXISTS (``indb.planner.alter``,
``indb.engine.alter``): a renamed table keeps its rows, numbering, owner, grants and the views
that read it, and its directory is never a new table's nor VACUUM's to clean. (The changes of
columns and constraints are tested in test_upkeep.py and test_constraints.py.)"""

from __future__ import annotations

import pyarrow as pa
import pytest

import indb
from indb.errors import CatalogError, PrivilegeError
from indb.query import live


def test_a_renamed_table_keeps_its_rows_numbering_and_the_views_that_read_it(fresh):
    fresh.sql("CREATE TABLE t (id INT GENERATED ALWAYS AS IDENTITY, a INT PRIMARY KEY, b TEXT)")
    fresh.sql("INSERT INTO t (a, b) VALUES (1, 'x'), (2, 'y')")
    fresh.sql("CREATE VIEW v AS SELECT a, b FROM t WHERE a > 1")
    fresh.sql("CREATE VIEW shadowed AS WITH t AS (SELECT 9 AS a) SELECT a FROM t")  # not the table
    assert fresh.sql("ALTER TABLE t RENAME TO u").message == "renamed table t to u"
    assert fresh.sql("SELECT a, b FROM v").fetchall() == [(2, "y")]  # the view follows it
    assert fresh.sql("SELECT a FROM shadowed").fetchall() == [(9,)]
    fresh.sql("INSERT INTO u (a, b) VALUES (3, 'z')")
    assert fresh.sql("SELECT id, a FROM u ORDER BY a").fetchall() == [(1, 1), (2, 2), (3, 3)]
    with pytest.raises(indb.DataError, match="duplicate primary key"):
        fresh.sql("INSERT INTO u (a, b) VALUES (3, 'again')")
    with pytest.raises(indb.SqlError, match="Table with name t does not exist"):
        fresh.sql("SELECT * FROM t")
    # a new table of the old name lives beside the renamed one's files, never among them
    fresh.sql("CREATE TABLE t AS SELECT 7 AS x")
    assert fresh.table("t").info and fresh._engine.db.load("t")[0].location() != \
        fresh._engine.db.load("u")[0].location()
    fresh.sql("DROP TABLE t")
    fresh.sql("VACUUM")  # the renamed table's directory is a live one, not a dropped table's
    assert fresh.sql("SELECT count(*) FROM u").fetchone() == (3,)


def test_renaming_views_and_what_is_refused(fresh):
    fresh.sql("CREATE TABLE t (a INT)")
    fresh.sql("CREATE VIEW v AS SELECT a FROM t")
    fresh.sql("CREATE VIEW vv AS SELECT a FROM v")
    assert fresh.sql("ALTER VIEW v RENAME TO w").message == "renamed view v to w"
    assert fresh.sql("ALTER TABLE w RENAME TO w2").message == "renamed view w to w2"  # as in PostgreSQL
    fresh.sql("INSERT INTO t VALUES (5)")
    assert fresh.sql("SELECT a FROM vv").fetchall() == [(5,)]
    fresh.sql("CREATE TABLE other (a INT)")
    with pytest.raises(CatalogError, match="a table or view named other exists already"):
        fresh.sql("ALTER TABLE t RENAME TO other")
    with pytest.raises(CatalogError, match="a table or view named w2 exists already"):
        fresh.sql("ALTER TABLE t RENAME TO w2")
    with pytest.raises(indb.SqlError, match="RENAME TO keeps t in schema main"):
        fresh.sql("CREATE SCHEMA s2") and fresh.sql("ALTER TABLE t RENAME TO s2.t")
    with pytest.raises(CatalogError, match="table nope does not exist"):
        fresh.sql("ALTER TABLE nope RENAME TO n2")
    assert "nothing renamed" in fresh.sql("ALTER TABLE IF EXISTS nope RENAME TO n2").message
    assert "nothing altered" in fresh.sql("ALTER TABLE IF EXISTS nope ADD COLUMN c INT").message
    fresh.sql("ALTER TABLE IF EXISTS t ADD COLUMN c INT")
    assert [c.name for c in fresh.table("t").info.columns] == ["a", "c"]


def test_a_renamed_table_keeps_its_owner_and_grants(fresh):
    fresh.sql("CREATE USER dev")
    fresh.sql("GRANT developer TO dev")
    fresh.sql("CREATE USER ann")
    fresh.sql("GRANT analyst TO ann")
    with fresh._engine.as_user("dev"):
        fresh.sql("CREATE TABLE mine (a INT)")
        fresh.sql("INSERT INTO mine VALUES (1)")
        fresh.sql("GRANT SELECT ON mine TO ann")
        fresh.sql("ALTER TABLE mine RENAME TO ours")  # its owner renames it
    with fresh._engine.as_user("ann"):
        assert fresh.sql("SELECT a FROM ours").fetchall() == [(1,)]
        with pytest.raises(PrivilegeError, match="owner"):
            fresh.sql("ALTER TABLE ours RENAME TO theirs")
    with fresh._engine.as_user("dev"):
        fresh.sql("DROP TABLE ours")  # still dev's


def test_a_column_widens_as_iceberg_widens_it_and_keeps_its_rows_and_shards(fresh):
    fresh.sql("CREATE TABLE t (id INT PRIMARY KEY, s SMALLINT, b VARCHAR(100), p REAL, "
              "d DECIMAL(10, 2)) WITH (SHARDS = 4)")
    fresh.sql("INSERT INTO t SELECT range, range % 100, 'x', 1.5, 3.25 FROM range(1000)")
    before = fresh.sql("SELECT * FROM t ORDER BY id").fetchall()
    assert "nothing to change" in fresh.sql("ALTER TABLE t ALTER COLUMN b TYPE VARCHAR(200)").message
    for statement in ("ALTER COLUMN s TYPE INTEGER", "ALTER COLUMN p TYPE DOUBLE PRECISION",
                      "ALTER COLUMN d SET DATA TYPE NUMERIC(12, 2) USING d::NUMERIC(12, 2)",
                      "ALTER COLUMN id TYPE BIGINT USING id::BIGINT"):  # Django's BigAutoField
        assert fresh.sql(f"ALTER TABLE t {statement}").fetchone() == (1000,)
    assert [c.sql_type for c in fresh.table("t").info.columns] == [
        "BIGINT", "INTEGER", "VARCHAR", "DOUBLE", "DECIMAL(12,2)"]
    assert fresh.sql("SELECT * FROM t ORDER BY id").fetchall() == before
    fresh.sql("INSERT INTO t VALUES (9999999999, 70000, 'y', 0.1, 1234567890.25)")
    with pytest.raises(indb.UniqueViolation, match="id = 5"):  # its shard is where it was
        fresh.sql("INSERT INTO t VALUES (5, 0, 'z', 0, 0)")
    with pytest.raises(indb.SqlError, match="column id is in the shard key of t, so its type "
                                            "changes only by widening"):
        fresh.sql("ALTER TABLE t ALTER COLUMN id TYPE VARCHAR")


def test_another_type_is_each_value_converted_as_duckdb_converts_it(fresh):
    fresh.sql("CREATE TABLE t (id INT, n INT, s VARCHAR, p DOUBLE, SHARD KEY (id)) WITH (SHARDS = 2)")
    fresh.sql("INSERT INTO t VALUES (1, 10, '2024-01-02', 1.5), (2, NULL, 'x', 2.7)")
    before = len(fresh.sql("SHOW SNAPSHOTS t").fetchall())
    with pytest.raises(indb.DataError, match="column s cannot become DATE: .*\"x\""):
        fresh.sql("ALTER TABLE t ALTER COLUMN s TYPE DATE")  # one value that is no date
    assert len(fresh.sql("SHOW SNAPSHOTS t").fetchall()) == before  # nothing written
    fresh.sql("ALTER TABLE t ALTER COLUMN n TYPE TEXT")
    fresh.sql("ALTER TABLE t ALTER COLUMN p TYPE INTEGER")  # DuckDB's cast rounds
    fresh.sql("ALTER TABLE t ALTER COLUMN s SET DATA TYPE VARCHAR USING upper(s) || id::VARCHAR")
    assert [(c.name, c.sql_type) for c in fresh.table("t").info.columns] == [
        ("id", "INTEGER"), ("n", "VARCHAR"), ("s", "VARCHAR"), ("p", "INTEGER")]
    assert fresh.sql("SELECT * FROM t ORDER BY id").fetchall() == [
        (1, "10", "2024-01-021", 2), (2, None, "X2", 3)]
    fresh.sql("INSERT INTO t VALUES (3, 'three', 'y', 4)")  # the new types from here on
    assert fresh.sql("SELECT n FROM t AT (VERSION => "  # an older snapshot reads as it was
                     f"{fresh.sql('SHOW SNAPSHOTS t').fetchall()[before - 1][0]}) ORDER BY id"
                     ).fetchall() == [(10,), (None,)]
    fresh.sql("CREATE TABLE k (id INT, x INT CHECK (x > 0))")
    with pytest.raises(indb.SqlError, match="column x is in CHECK k_x_check"):
        fresh.sql("ALTER TABLE k ALTER x TYPE VARCHAR")


def test_an_enum_column_takes_a_list_its_values_are_in_and_no_other(fresh):
    fresh.sql("CREATE TABLE t (id INTEGER, m ENUM('a', 'b'))")
    fresh.sql("INSERT INTO t VALUES (1, 'a'), (2, 'b')")
    snapshots = len(fresh.sql("SHOW SNAPSHOTS t").fetchall())
    with pytest.raises(indb.DataError, match="ENUM\\('a'\\), and 'b' is not one of its values"):
        fresh.sql("ALTER TABLE t ALTER COLUMN m TYPE ENUM('a')")  # 'b' would be unreadable
    assert len(fresh.sql("SHOW SNAPSHOTS t").fetchall()) == snapshots  # nothing written
    fresh.sql("ALTER TABLE t ALTER COLUMN m TYPE ENUM('c', 'b', 'a')")  # more, in another order
    fresh.sql("INSERT INTO t VALUES (3, 'c')")
    assert fresh.sql("SELECT id FROM t ORDER BY m").fetchall() == [(3,), (2,), (1,)]
    fresh.sql("CREATE TABLE words (w VARCHAR)")
    fresh.sql("INSERT INTO words VALUES ('x'), ('zz')")
    with pytest.raises(indb.DataError, match="'zz' is not one of its values"):
        fresh.sql("ALTER TABLE words ALTER w TYPE ENUM('x')")
    assert fresh.sql("SELECT w FROM words ORDER BY w").fetchall() == [("x",), ("zz",)]


def test_a_real_time_table_is_not_renamed_while_a_tickerplant_serves_it(fresh):
    fresh.sql("CREATE TABLE ticks (sym VARCHAR, px DOUBLE)")
    directory = fresh._engine.db.path
    live.register(directory, "ticks", lambda: pa.table({"sym": ["a"], "px": [1.0]}))
    try:
        with pytest.raises(CatalogError, match="ticks is real-time"):
            fresh.sql("ALTER TABLE ticks RENAME TO trades")
    finally:
        live.unregister(directory, "ticks")
    fresh.sql("ALTER TABLE ticks RENAME TO trades")


def test_rename_without_column_renames_a_column_not_the_table(fresh):
    """``ALTER TABLE t RENAME a TO b`` is a column's rename in PostgreSQL and DuckDB (COLUMN
    may be left out); it once renamed the table to ``a``."""
    fresh.sql("CREATE TABLE t (a INT, b TEXT)")
    fresh.sql("INSERT INTO t VALUES (1, 'x')")
    fresh.sql("ALTER TABLE t RENAME a TO n")
    assert fresh.sql("SELECT n, b FROM t").fetchall() == [(1, "x")]
    assert not fresh._engine.db.exists("a")
