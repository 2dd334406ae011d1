"""EXPORT DATABASE and IMPORT DATABASE, DuckDB's: a directory of schema.sql, load.sql and a file
of each table's rows, written whole or not at all, read back by indb (and DuckDB's read too)."""

from __future__ import annotations

import duckdb
import pytest

import indb
from indb.errors import CatalogError, IndbError, OptionError, PrivilegeError, SqlError

SETUP = [
    "CREATE SCHEMA s", "CREATE TYPE mood AS ENUM ('sad', 'ok')", "CREATE SEQUENCE q START 5",
    "CREATE TABLE t (id INTEGER PRIMARY KEY, m mood, x INTEGER DEFAULT nextval('q'), "
    "SHARD KEY (id)) WITH (SHARDS = 2)",
    "INSERT INTO t (id, m) VALUES (1, 'ok'), (2, 'sad')",
    "CREATE TABLE s.u (n SERIAL, v VARCHAR)", "INSERT INTO s.u (v) VALUES ('a'), ('b')",
    "CREATE VIEW z_ids AS SELECT id FROM t", "CREATE VIEW a_reads_z AS SELECT * FROM z_ids",
    "CREATE MACRO add1(a) AS a + 1", "CREATE MACRO from_id(n) AS TABLE SELECT * FROM t WHERE id >= n"]


@pytest.mark.parametrize("options", ["", "(FORMAT parquet, COMPRESSION zstd)", "(FORMAT csv)"])
def test_a_database_exported_and_imported_is_the_same_database(tmp_path, options):
    with indb.connect(tmp_path / "one") as one:
        for statement in SETUP:
            one.sql(statement)
        one.sql(f"EXPORT DATABASE '{tmp_path / 'out'}' {options}")
        files = sorted(p.name for p in (tmp_path / "out").iterdir())
        suffix = "parquet" if "parquet" in options else "csv"
        assert files == ["load.sql", f"s_u.{suffix}", "schema.indb.sql", "schema.sql",
                         f"t.{suffix}"]
    with indb.connect(tmp_path / "two") as two:
        assert two.sql(f"IMPORT DATABASE '{tmp_path / 'out'}'").message.startswith("imported 2")
        assert two.sql("SELECT * FROM t ORDER BY id").fetchall() == [(1, "ok", 5), (2, "sad", 6)]
        assert two.sql("SELECT id FROM t ORDER BY m").fetchall() == [(2,), (1,)]  # the ENUM's order
        assert two.sql("SELECT * FROM a_reads_z ORDER BY id").fetchall() == [(1,), (2,)]
        assert two.sql("SELECT add1(1), (SELECT count(*) FROM from_id(2))").fetchone() == (2, 1)
        assert two.sql("SELECT nextval('q')").fetchone() == (7,)  # on from where it stood
        two.sql("INSERT INTO s.u (v) VALUES ('c')")  # the identity too
        assert two.sql("SELECT n FROM s.u WHERE v = 'c'").fetchone() == (3,)
        ddl = two.sql("SHOW CREATE TABLE t").fetchone()[0]
        assert "SHARD KEY (id)" in ddl and "SHARDS=2" in ddl and "ENUM('sad', 'ok')" in ddl


def test_duckdb_s_export_imports(tmp_path):
    duck = duckdb.connect()
    for statement in ["CREATE SCHEMA s", "CREATE TYPE mood AS ENUM ('a', 'b')",
                      "CREATE SEQUENCE q START 5",
                      "CREATE TABLE t (id INT PRIMARY KEY, m mood, x INT DEFAULT nextval('q'))",
                      "INSERT INTO t (id, m) VALUES (1, 'a')", "CREATE TABLE s.u (v VARCHAR)",
                      "INSERT INTO s.u VALUES ('x')", "CREATE VIEW v AS SELECT * FROM t",
                      "CREATE MACRO add1(a) AS a + 1"]:
        duck.execute(statement)
    duck.execute(f"EXPORT DATABASE '{tmp_path / 'from_duckdb'}' (FORMAT parquet)")
    with indb.connect(tmp_path / "db") as conn:
        conn.sql(f"IMPORT DATABASE '{tmp_path / 'from_duckdb'}'")
        assert conn.sql("SELECT * FROM v").fetchall() == [(1, "a", 5)]
        assert conn.sql("SELECT v, add1(1) FROM s.u").fetchall() == [("x", 2)]


def test_duckdb_imports_indb_s_export(tmp_path):
    """schema.sql is DuckDB's: no placement, an identity numbered from a sequence of its own
    that goes on where the identity stood; indb's own IMPORT reads schema.indb.sql."""
    with indb.connect(tmp_path / "one") as one:
        for statement in SETUP:
            one.sql(statement)
        one.sql("COMMENT ON TABLE t IS 'the t'")
        one.sql(f"EXPORT DATABASE '{tmp_path / 'out'}'")
    duck = duckdb.connect()
    duck.execute(f"IMPORT DATABASE '{tmp_path / 'out'}'")
    assert duck.sql("SELECT * FROM t ORDER BY id").fetchall() == [(1, "ok", 5), (2, "sad", 6)]
    assert duck.sql("SELECT add1(1), (SELECT count(*) FROM from_id(2))").fetchall() == [(2, 1)]
    assert duck.sql("SELECT nextval('q')").fetchall() == [(7,)]
    duck.execute("INSERT INTO s.u (v) VALUES ('c')")
    assert duck.sql("SELECT n FROM s.u WHERE v = 'c'").fetchall() == [(3,)]
    assert duck.sql("SELECT comment FROM duckdb_tables() WHERE table_name = 't'").fetchall() == [
        ("the t",)]


def test_an_export_that_cannot_be_written_writes_nothing(tmp_path):
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "keep.txt").write_text("mine")
    with indb.connect(tmp_path / "db") as conn:
        conn.sql("CREATE TABLE t (x INTEGER)")
        with pytest.raises(OptionError, match="not an empty one"):
            conn.sql(f"EXPORT DATABASE '{tmp_path / 'full'}'")
        with pytest.raises(SqlError, match="csv or parquet"):
            conn.sql(f"EXPORT DATABASE '{tmp_path / 'x'}' (FORMAT json)")
        assert sorted(p.name for p in tmp_path.iterdir()) == ["db", "full"]
        (tmp_path / "empty").mkdir()  # an empty directory is filled
        conn.sql(f"EXPORT DATABASE '{tmp_path / 'empty'}'")
        assert (tmp_path / "empty" / "t.csv").exists()


def test_an_import_that_fails_drops_what_it_made(tmp_path):
    with indb.connect(tmp_path / "one") as one:
        for statement in SETUP:
            one.sql(statement)
        one.sql(f"EXPORT DATABASE '{tmp_path / 'out'}' (FORMAT parquet)")
    (tmp_path / "out" / "s_u.parquet").unlink()  # the second table's rows lost
    with indb.connect(tmp_path / "two") as two:
        with pytest.raises(IndbError, match="load.sql, statement 2"):
            two.sql(f"IMPORT DATABASE '{tmp_path / 'out'}'")
        assert two.sql("SHOW TABLES").fetchall() == []
        assert two.sql("SHOW VIEWS").fetchall() == [] and two.sql("SHOW MACROS").fetchall() == []
        assert two.sql("SHOW SEQUENCES").fetchall() == []
        with pytest.raises(CatalogError):
            two.sql("DROP TYPE mood")
        with pytest.raises(OptionError, match="has no schema.sql"):
            two.sql(f"IMPORT DATABASE '{tmp_path}'")


def test_a_moved_export_imports_from_where_it_is(tmp_path):
    with indb.connect(tmp_path / "one") as one:
        one.sql("CREATE TABLE t AS SELECT 42 AS x")
        one.sql(f"EXPORT DATABASE '{tmp_path / 'out'}'")
    (tmp_path / "out").rename(tmp_path / "moved")
    with indb.connect(tmp_path / "two") as two:
        two.sql(f"IMPORT DATABASE '{tmp_path / 'moved'}'")
        assert two.sql("SELECT x FROM t").fetchall() == [(42,)]


def test_they_are_for_admins(tmp_path):
    with indb.connect(tmp_path / "db") as conn:
        conn.sql("CREATE USER ann")
        with conn.engine.as_user("ann"):
            for statement in [f"EXPORT DATABASE '{tmp_path / 'out'}'",
                              f"IMPORT DATABASE '{tmp_path / 'out'}'"]:
                with pytest.raises(PrivilegeError, match="admin"):
                    conn.sql(statement)
