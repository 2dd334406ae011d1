"""Generated columns (``indb.catalog.generated``): ``GENERATED ALWAYS AS (expr) [VIRTUAL |
STORED]`` and DuckDB's ``AS (expr)``, computed and stored by every write, refused where a write
gives them a value, kept through ALTER TABLE, EXPORT/IMPORT and the pg catalog."""

from __future__ import annotations

import pyarrow as pa
import pytest

import indb
from indb.catalog import generated
from indb.catalog.tables import TableInfo
from indb.catalog.types import Column
from indb.errors import DataError, SchemaError, SqlError


@pytest.fixture
def conn(tmp_path):
    with indb.connect(tmp_path / "db") as connection:
        yield connection


def rows(conn, table="t", order="id"):
    return conn.sql(f"SELECT * FROM {table} ORDER BY {order}").fetchall()


def test_duckdb_s_documented_example_and_postgresql_s_stored_column(conn):
    # DuckDB's documentation: a column of no type takes its expression's
    conn.sql("CREATE TABLE t1 (x FLOAT, two_x AS (2 * x))")
    conn.sql("INSERT INTO t1 VALUES (1.5)")
    assert conn.sql("SELECT x, two_x, typeof(two_x) FROM t1").fetchall() == [(1.5, 3.0, "FLOAT")]
    # PostgreSQL's documentation
    conn.sql("CREATE TABLE people (height_cm numeric, "
             "height_in numeric GENERATED ALWAYS AS (height_cm / 2.54) STORED)")
    conn.sql("INSERT INTO people (height_cm) VALUES (254)")
    assert float(conn.sql("SELECT height_in FROM people").fetchone()[0]) == 100.0
    # the three spellings, one of them naming another generated column
    conn.sql("CREATE TABLE t (id INTEGER, a INTEGER, b AS (a * 2), "
             "c INTEGER GENERATED ALWAYS AS (b + 1) VIRTUAL, "
             "d VARCHAR GENERATED ALWAYS AS ('#' || id) STORED)")
    conn.sql("INSERT INTO t VALUES (1, 5)")  # VALUES for the columns a write gives, as DuckDB's
    conn.sql("INSERT INTO t (id) VALUES (2)")
    assert rows(conn) == [(1, 5, 10, 11, "#1"), (2, None, None, None, "#2")]
    assert [r[:2] for r in conn.sql("DESCRIBE t").fetchall()[:4]] == [
        ("id", "INTEGER"), ("a", "INTEGER"), ("b", "INTEGER"), ("c", "INTEGER")]
    assert conn.sql("DESCRIBE t").fetchall()[2][2] == "generated always as (a * 2)"


def test_postgresql_s_default_for_a_generated_column_in_values(conn):
    conn.sql("CREATE TABLE t (id INTEGER, a INTEGER, b INTEGER GENERATED ALWAYS AS (a * 2) STORED)")
    conn.sql("INSERT INTO t VALUES (1, 5, DEFAULT)")  # PostgreSQL's: every column, DEFAULT for it
    conn.sql("INSERT INTO t (id, a, b) VALUES (2, 6, DEFAULT), (3, 7, DEFAULT)")
    conn.sql("INSERT INTO t VALUES (4, 8)")  # DuckDB's: the columns a write gives
    assert rows(conn) == [(1, 5, 10), (2, 6, 12), (3, 7, 14), (4, 8, 16)]
    with pytest.raises(SqlError, match="Cannot insert into a generated column"):
        conn.sql("INSERT INTO t (id, a, b) VALUES (5, 9, DEFAULT), (6, 9, 18)")  # a value: refused
    assert len(rows(conn)) == 4


@pytest.mark.parametrize("statement, message", [
    ("INSERT INTO t (id, a, b) VALUES (3, 1, 2)", "Cannot insert into a generated column"),
    ("INSERT INTO t VALUES (3, 1, 2)", "has 2 columns but 3 values"),
    ("UPDATE t SET b = 1", "column b is a generated column"),
    ("MERGE INTO t USING (SELECT 1 AS id) s ON t.id = s.id WHEN MATCHED THEN UPDATE SET b = 1",
     "column b is a generated column"),
])
def test_a_write_that_gives_a_generated_column_a_value_is_refused(conn, statement, message):
    conn.sql("CREATE TABLE t (id INTEGER, a INTEGER, b AS (a * 2))")
    conn.sql("INSERT INTO t VALUES (1, 5)")
    with pytest.raises(SqlError, match=message):
        conn.sql(statement)
    assert rows(conn) == [(1, 5, 10)]


def test_update_merge_and_upsert_compute_it_from_the_row_s_new_values(conn):
    conn.sql("CREATE TABLE t (id INTEGER PRIMARY KEY, a INTEGER, b AS (a * 2), "
             "tag VARCHAR AS ('x' || id))")
    conn.sql("INSERT INTO t (id, a) VALUES (1, 1), (2, 2)")
    assert conn.sql("UPDATE t SET a = a + 10 WHERE id = 1 RETURNING b").fetchall() == [(22,)]
    conn.sql("UPDATE t SET b = DEFAULT, a = 3 WHERE id = 2")  # DEFAULT: computed, as PostgreSQL
    conn.sql("INSERT INTO t (id, a) VALUES (2, 4), (3, 5) ON CONFLICT (id) DO UPDATE SET a = excluded.a")
    assert rows(conn) == [(1, 11, 22, "x1"), (2, 4, 8, "x2"), (3, 5, 10, "x3")]
    conn.sql("MERGE INTO t USING (SELECT 3 AS id, 7 AS a UNION ALL SELECT 4, 8) s ON t.id = s.id "
             "WHEN MATCHED THEN UPDATE SET a = s.a WHEN NOT MATCHED THEN INSERT (id, a) VALUES (s.id, s.a)")
    assert rows(conn)[2:] == [(3, 7, 14, "x3"), (4, 8, 16, "x4")]


def test_loads_copy_and_a_function_s_outputs_compute_it(conn, tmp_path):
    conn.sql("CREATE TABLE t (id INTEGER, a INTEGER, b AS (a * 2))")
    conn.load("t", pa.table({"id": [1], "a": [1]}))
    (tmp_path / "in.csv").write_text("id,a\n2,2\n")
    conn.sql(f"COPY t FROM '{tmp_path / 'in.csv'}' (HEADER)")
    conn.sql("CREATE TABLE src (id INTEGER, a INTEGER)")
    conn.sql("INSERT INTO src VALUES (3, 3)")
    conn.sql("CREATE FUNCTION ident LANGUAGE PYTHON AS $$\ndef ident(ctx, t):\n    return t\n$$")
    conn.sql("EXECUTE FUNCTION ident(INPUT_TABLE_NAMES => src, "
             "OUTPUT_TABLE_NAMES => OUTPUT_TABLES('t'))")
    assert rows(conn) == [(1, 1, 2), (2, 2, 4), (3, 3, 6)]
    with pytest.raises(DataError, match="column b of table t is a generated column"):
        conn.load("t", pa.table({"id": [4], "a": [4], "b": [0]}))
    conn.sql("CREATE TABLE src2 (id INTEGER, a INTEGER, b INTEGER)")
    conn.sql("INSERT INTO src2 VALUES (5, 5, 0)")
    with pytest.raises(indb.RunError, match="column b of table t is a generated column"):
        conn.sql("EXECUTE FUNCTION ident(INPUT_TABLE_NAMES => src2, "
                 "OUTPUT_TABLE_NAMES => OUTPUT_TABLES('t'))")
    assert len(rows(conn)) == 3  # nothing written


def test_a_value_that_cannot_be_computed_writes_nothing(conn):
    conn.sql("CREATE TABLE t (id INTEGER, s VARCHAR, n INTEGER AS (CAST(s AS INTEGER)))")
    conn.sql("INSERT INTO t (id, s) VALUES (1, '7')")
    with pytest.raises(DataError, match="cannot be computed: .*'x'"):
        conn.load("t", pa.table({"id": [2, 3], "s": ["8", "x"]}))
    assert rows(conn) == [(1, "7", 7)]


@pytest.mark.parametrize("definition, message", [
    ("a INTEGER, b AS (zz + 1)", 'Column "zz" referenced by generated column does not exist'),
    ("a INTEGER, b AS (sum(a))", "Aggregate functions are not supported"),
    ("a INTEGER, b INTEGER AS (a * 2) DEFAULT 3", "takes no DEFAULT"),
    ("a INTEGER, b AS ((SELECT 1))", "no subquery"),
    ("a INTEGER, b AS (c), c AS (b + 1)", "Circular dependency"),
])
def test_an_expression_that_is_not_a_row_s_is_refused_and_no_table_made(conn, definition, message):
    with pytest.raises(SqlError, match=message):
        conn.sql(f"CREATE TABLE g ({definition})")
    assert conn.sql("SHOW TABLES").fetchall() == []


def test_alter_table_keeps_what_it_is_computed_from(conn):
    conn.sql("CREATE TABLE t (id INTEGER, a INTEGER, b AS (a * 2))")
    conn.sql("INSERT INTO t VALUES (1, 5)")
    with pytest.raises(SqlError, match="column a of t cannot be dropped: generated column b"):
        conn.sql("ALTER TABLE t DROP COLUMN a")
    with pytest.raises(SqlError, match="cannot be changed in type: generated column b"):
        conn.sql("ALTER TABLE t ALTER COLUMN a TYPE BIGINT")
    with pytest.raises(SqlError, match="is made with its table"):
        conn.sql("ALTER TABLE t ADD COLUMN c INTEGER GENERATED ALWAYS AS (a + 1) STORED")
    with pytest.raises(SqlError, match="takes no DEFAULT"):
        conn.sql("ALTER TABLE t ALTER COLUMN b SET DEFAULT 1")
    conn.sql("ALTER TABLE t RENAME COLUMN a TO amount")  # the expression follows the name
    conn.sql("INSERT INTO t (id, amount) VALUES (2, 6)")
    assert rows(conn) == [(1, 5, 10), (2, 6, 12)]
    assert "b INT GENERATED ALWAYS AS (amount * 2)" in conn.sql("SHOW CREATE TABLE t").fetchone()[0]
    conn.sql("ALTER TABLE t DROP COLUMN b")
    conn.sql("ALTER TABLE t DROP COLUMN amount")
    assert rows(conn) == [(1,), (2,)]


def test_export_writes_the_columns_a_write_gives_and_import_computes_the_others(conn, tmp_path):
    conn.sql("CREATE TABLE t (id INTEGER, a INTEGER, b AS (a * 2))")
    conn.sql("INSERT INTO t VALUES (1, 5)")
    conn.sql(f"EXPORT DATABASE '{tmp_path / 'out'}'")
    assert (tmp_path / "out" / "t.csv").read_text().splitlines() == ["id,a", "1,5"]  # as DuckDB's
    assert "b INT GENERATED ALWAYS AS (a * 2)" in (tmp_path / "out" / "schema.sql").read_text()
    with indb.connect(tmp_path / "other") as other:
        other.sql(f"IMPORT DATABASE '{tmp_path / 'out'}'")
        assert rows(other) == [(1, 5, 10)]


def test_the_pg_catalog_says_a_column_is_generated(conn):
    from indb.engine.privileges import Relation
    from indb.server import pgcatalog
    info = TableInfo("g", (Column("a", "INTEGER"), Column("b", "INTEGER", generated="a * 2")))
    shadows = pgcatalog.Shadows()
    try:
        def ask(sql):
            relation = Relation("main", "g", False, (("a", "INTEGER"), ("b", "INTEGER")), info)
            return shadows.answer([relation], [], pgcatalog.catalog_query(sql, None), None).fetchall()
        assert ask("SELECT attname, attgenerated FROM pg_attribute a JOIN pg_class c "
                   "ON c.oid = a.attrelid WHERE relname = 'g' ORDER BY attnum") == [("a", ""), ("b", "s")]
        assert ask("SELECT column_name, is_generated FROM information_schema.columns "
                   "WHERE table_name = 'g' ORDER BY ordinal_position") == [("a", "NEVER"), ("b", "ALWAYS")]
    finally:
        shadows.close()


def test_expanded_puts_a_generated_column_s_expression_in_place_of_its_name():
    info = TableInfo("t", (Column("a", "INTEGER"), Column("b", "BIGINT", generated="a * 2"),
                           Column("c", "VARCHAR", generated="b || 'x'")))
    assert generated.expanded(info, info.columns[2]).sql("duckdb") == \
        "(CAST(CAST(\"a\" AS INT) * 2 AS BIGINT)) || 'x'"
    looped = TableInfo("t", (Column("a", "INTEGER", generated="b"),
                             Column("b", "INTEGER", generated="a")))
    with pytest.raises(SchemaError, match="computed from itself"):
        generated.expanded(looped, looped.columns[0])


def test_the_tickerplant_refuses_a_table_with_generated_columns(tmp_path):
    pytest.importorskip("pykx")
    from indb.engine.core import Engine
    from indb.stream.tickerplant import Tickerplant
    with indb.connect(tmp_path / "db") as conn:
        conn.sql("CREATE TABLE trade (time TIMESTAMP, sym VARCHAR, price DOUBLE, size BIGINT, "
                 "notional AS (price * size))")
    engine = Engine(tmp_path / "db", cluster="threads")
    plant = Tickerplant(engine, flush_seconds=None)
    try:
        with pytest.raises(DataError, match="table trade has generated columns"):
            plant.table("trade")
    finally:
        plant.close()
        engine.close()


def test_a_function_s_returned_columns_are_not_generated(conn):
    with pytest.raises(SqlError, match="no generated column"):
        conn.sql("CREATE FUNCTION f RETURNS TABLE (a INT, b AS (a + 1)) LANGUAGE PYTHON AS "
                 "$$\ndef f(ctx, t):\n    return t\n$$")
