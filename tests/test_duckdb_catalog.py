"""DuckDB's catalog as an embedded connection's queries read it (``engine/duckdb_catalog.py``):
indb's tables as DuckDB's own, not as the views over their files they are in the query
session."""

import pytest

import indb


@pytest.fixture
def conn(tmp_path):
    with indb.connect(tmp_path / "db") as conn:
        conn.sql("CREATE TABLE t (a INT PRIMARY KEY, b VARCHAR DEFAULT 'x' NOT NULL, c DOUBLE, "
                 "CHECK (c > 0))")
        conn.sql("CREATE SCHEMA s")
        conn.sql("CREATE TABLE s.u (k INT)")
        conn.sql("CREATE VIEW v AS SELECT 1 AS x")
        conn.sql("CREATE TEMP TABLE scratch (z INT)")
        yield conn


def test_information_schema_tables_says_base_table_for_indb_s_tables(conn):
    rows = conn.sql("SELECT table_schema, table_name, table_type FROM information_schema.tables "
                    "ORDER BY table_name").fetchall()
    assert [(n, kind) for _, n, kind in rows] == [
        ("scratch", "LOCAL TEMPORARY"), ("t", "BASE TABLE"), ("u", "BASE TABLE"), ("v", "VIEW")]
    assert conn.sql("SELECT it.table_name FROM information_schema.tables AS it "
                    "WHERE it.table_type = 'BASE TABLE' ORDER BY 1").fetchall() == [("t",), ("u",)]


def test_information_schema_columns_has_defaults_and_not_null(conn):
    assert conn.sql("SELECT column_name, data_type, column_default, is_nullable "
                    "FROM information_schema.columns WHERE table_name = 't' "
                    "ORDER BY ordinal_position").fetchall() == [
        ("a", "INTEGER", None, "NO"), ("b", "VARCHAR", "'x'", "NO"), ("c", "DOUBLE", None, "YES")]


def test_duckdb_tables_lists_indb_s_tables_with_their_keys_and_ddl(conn):
    rows = conn.sql("SELECT schema_name, table_name, temporary, has_primary_key, column_count, "
                    "check_constraint_count, sql FROM duckdb_tables() ORDER BY table_name").fetchall()
    assert [row[1:6] for row in rows] == [("scratch", True, False, 1, 0), ("t", False, True, 3, 1),
                                          ("u", False, False, 1, 0)]
    assert rows[1][6].startswith("CREATE TABLE t (a INT NOT NULL") and rows[2][0] == "s"
    assert conn.sql("SELECT count(*) FROM duckdb_tables").fetchone() == (3,)
    conn.sql("COMMENT ON TABLE t IS 'the t'")
    assert conn.sql("SELECT comment FROM duckdb_tables() WHERE table_name = 't'").fetchall() == [
        ("the t",)]


def test_a_view_of_the_catalog_keeps_duckdb_s_own(conn):
    """A view outlives the statement's facts: it reads DuckDB's catalog as it is (documented)."""
    conn.sql("CREATE VIEW listed AS SELECT table_name, table_type FROM information_schema.tables")
    assert ("t", "VIEW") in conn.sql("SELECT * FROM listed").fetchall()


def test_pragma_table_info_has_not_null_defaults_and_the_key(conn):
    assert conn.sql("PRAGMA table_info('t')").fetchall() == [
        (0, "a", "INTEGER", True, None, True), (1, "b", "VARCHAR", True, "'x'", False),
        (2, "c", "DOUBLE", False, None, False)]
    assert conn.sql("SELECT name, pk FROM pragma_table_info('s.u')").fetchall() == [("k", False)]


def test_duckdb_variables_lists_the_session_s_variables(conn):
    conn.sql("SET VARIABLE animal = 'bird'")
    conn.sql("SET VARIABLE n = 42")
    assert conn.sql("FROM duckdb_variables() ORDER BY name").fetchall() == [
        ("animal", "bird", "VARCHAR"), ("n", "42", "INTEGER")]
    assert not [r for r in conn.sql("SELECT table_name FROM information_schema.tables").fetchall()
                if r[0].startswith("__indb")]  # the facts the statement reads are not listed


def test_table_constraints_and_key_column_usage_list_indb_s_keys(conn):
    """How tools find a table's primary key: the two joined on the constraint's name."""
    conn.sql("CREATE TABLE child (id INT UNIQUE, t_a INT REFERENCES t (a))")
    assert conn.sql("SELECT table_name, constraint_name, constraint_type "
                    "FROM information_schema.table_constraints ORDER BY ALL").fetchall() == [
        ("child", "child_id_key", "UNIQUE"), ("child", "child_t_a_fkey", "FOREIGN KEY"),
        ("t", "t_c_check", "CHECK"), ("t", "t_pkey", "PRIMARY KEY")]
    assert conn.sql(
        "SELECT kcu.table_name, kcu.column_name, kcu.position_in_unique_constraint "
        "FROM information_schema.table_constraints AS tc "
        "JOIN information_schema.key_column_usage AS kcu USING (constraint_name) "
        "WHERE tc.constraint_type IN ('PRIMARY KEY', 'FOREIGN KEY') ORDER BY ALL").fetchall() == [
        ("child", "t_a", 1), ("t", "a", None)]


def test_duckdb_columns_has_defaults_not_null_and_comments(conn):
    conn.sql("COMMENT ON COLUMN t.b IS 'the b'")
    assert conn.sql("SELECT column_name, column_default, is_nullable, comment FROM duckdb_columns() "
                    "WHERE table_name = 't' ORDER BY column_index").fetchall() == [
        ("a", None, False, None), ("b", "'x'", False, "the b"), ("c", None, True, None)]


def test_duckdb_indexes_lists_the_indexes_create_index_recorded(conn):
    """As DuckDB lists its own: CREATE INDEX's, not the keys' (t's primary key is not there)."""
    conn.sql("CREATE UNIQUE INDEX ub ON t (b, c)")
    conn.sql("CREATE INDEX uk ON s.u (k)")
    rows = conn.sql("SELECT schema_name, table_name, index_name, is_unique, is_primary, "
                    "expressions, sql FROM duckdb_indexes() ORDER BY index_name").fetchall()
    assert rows == [("main", "t", "ub", True, False, "[b, c]", 'CREATE UNIQUE INDEX ub ON "t"(b, c);'),
                    ("s", "u", "uk", False, False, "[k]", 'CREATE INDEX uk ON "s"."u"(k);')]
    conn.sql("DROP INDEX ub")
    assert conn.sql("SELECT index_name FROM duckdb_indexes()").fetchall() == [("uk",)]


def test_describe_of_a_table_in_a_query_and_show_columns_have_its_facts(conn):
    """DuckDB's DESCRIBE t of a table in a query (``FROM (DESCRIBE t)``, what SHOW COLUMNS FROM t
    is) says NOT NULL, PRI / UNI and the default, in the columns' order; of a query it does not,
    as DuckDB's does not."""
    conn.sql("CREATE TABLE w (z INT, a INT PRIMARY KEY, u VARCHAR UNIQUE, d INT DEFAULT 3 NOT NULL)")
    want = [("z", "INTEGER", "YES", None, None, None), ("a", "INTEGER", "NO", "PRI", None, None),
            ("u", "VARCHAR", "YES", "UNI", None, None), ("d", "INTEGER", "NO", None, "3", None)]
    assert conn.sql("SELECT * FROM (DESCRIBE w)").fetchall() == want
    assert conn.sql("SHOW COLUMNS FROM w").fetchall() == want
    assert conn.sql("SHOW COLUMNS FROM u IN s").fetchall() == [("k", "INTEGER", "YES", None, None, None)]
    assert conn.sql("SELECT column_name FROM (DESCRIBE w) WHERE key = 'PRI'").fetchall() == [("a",)]
    assert [r[2] for r in conn.sql("DESCRIBE SELECT * FROM w").fetchall()] == ["YES"] * 4
    assert conn.sql("SHOW COLUMNS FROM v").fetchall() == [("x", "INTEGER", "YES", None, None, None)]
    conn.sql("CREATE TABLE s.keyed (k INT PRIMARY KEY)")
    conn.sql("USE s")  # a name without its schema, along the search path
    assert conn.sql("SELECT * FROM (DESCRIBE keyed)").fetchall() == [
        ("k", "INTEGER", "NO", "PRI", None, None)]
