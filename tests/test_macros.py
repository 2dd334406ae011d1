"""DuckDB's macros: CREATE [TEMP] MACRO (and CREATE FUNCTION m(a) AS ...), scalar and table,
kept in the catalog for every connection or by the session, put in place of each call before
the statement is checked, so their reads are the caller's; DROP MACRO, SHOW MACROS."""

from __future__ import annotations

import pytest

import indb
from indb.errors import CatalogError, PrivilegeError, SqlError


@pytest.fixture
def conn(tmp_path):
    with indb.connect(tmp_path / "db") as connection:
        connection.sql("CREATE TABLE t (x INTEGER, y VARCHAR)")
        connection.sql("INSERT INTO t VALUES (1, 'a'), (2, 'b'), (3, 'c')")
        yield connection


def test_a_scalar_macro_is_its_expression_with_the_call_s_arguments(conn):
    conn.sql("CREATE MACRO add1(a) AS a + 1")
    conn.sql("CREATE FUNCTION twice(a) AS a * 2")  # DuckDB's other spelling of a macro
    result = conn.sql("SELECT add1(x), twice(x + 1) AS t2 FROM t WHERE add1(x) > 2 ORDER BY 1")
    assert result.columns == ["add1(x)", "t2"]  # named as DuckDB names a macro's call
    assert result.fetchall() == [(3, 6), (4, 8)]  # (x + 1) * 2, not x + 1 * 2
    assert conn.sql("SELECT add1(twice(add1(1)))").fetchone() == (5,)  # calls in calls
    conn.sql("CREATE MACRO double(a) AS a + a")  # ten deep: 10 expansions, innermost first
    assert conn.sql("SELECT " + "double(" * 10 + "1" + ")" * 10).fetchone() == (1024,)
    conn.sql("CREATE MACRO below(a) AS (SELECT max(x) FROM t WHERE x < a)")  # a scalar subquery
    assert conn.sql("SELECT below(3)").fetchone() == (2,)


def test_a_table_macro_is_its_query_where_it_stands_in_from(conn):
    conn.sql("CREATE MACRO upto(n) AS TABLE SELECT * FROM t WHERE x <= n")
    assert conn.sql("SELECT * FROM upto(2) ORDER BY x").fetchall() == [(1, "a"), (2, "b")]
    assert conn.sql("SELECT u.y FROM upto(3) AS u WHERE u.x = 3").fetchall() == [("c",)]
    assert conn.sql("SELECT count(*) FROM upto(1) JOIN t USING (x)").fetchone() == (1,)


def test_macros_are_the_catalog_s_for_every_connection_and_temporary_ones_the_session_s(tmp_path):
    with indb.connect(tmp_path / "db") as one, indb.connect(tmp_path / "db") as two:
        one.sql("CREATE MACRO add1(a) AS a + 1")
        one.sql("CREATE TEMP MACRO mine(a, b) AS a || b")
        assert two.sql("SELECT add1(41)").fetchone() == (42,)
        with pytest.raises(SqlError, match="mine does not exist"):
            two.sql("SELECT mine('a', 'b')")
        assert one.sql("SELECT mine('a', 'b')").fetchone() == ("ab",)
        shown = one.sql("SHOW MACROS").fetchall()
        assert shown == [("mine", ["a", "b"], "scalar", True, "CREATE TEMPORARY MACRO mine(a, b) "
                          "AS a || b"), ("add1", ["a"], "scalar", False, "CREATE MACRO add1(a) AS a + 1")]
        one.sql("CREATE OR REPLACE MACRO add1(a) AS a + 2")
        assert two.sql("SELECT add1(40)").fetchone() == (42,)
        two.sql("DROP MACRO add1")
        assert two.sql("DROP MACRO IF EXISTS add1").message == "macro add1 does not exist"
        with pytest.raises(SqlError, match="add1 does not exist"):
            one.sql("SELECT add1(1)")
    with indb.connect(tmp_path / "db") as three:
        assert three.sql("SHOW MACROS").fetchall() == []  # the temporary one went with its session


def test_a_view_keeps_what_its_macros_said_when_it_was_made(conn):
    conn.sql("CREATE MACRO add1(a) AS a + 1")
    conn.sql("CREATE VIEW v AS SELECT add1(x) AS w FROM t")
    conn.sql("DROP MACRO add1")
    assert conn.sql("SELECT sum(w) FROM v").fetchone() == (9,)


@pytest.mark.parametrize("sql, error, message", [
    ("SELECT add1(1, 2)", SqlError, r"macro add1 takes 1 argument\(s\) by position \(a\)"),
    ("SELECT * FROM add1(1)", SqlError, "macro add1 gives a value, not a table"),
    ("SELECT upto(1)", SqlError, "macro upto is a table macro: read it in FROM"),
    ("SELECT loop(1)", CatalogError, "a macro that calls itself.*never ends"),
    ("CREATE MACRO sum(a) AS a", CatalogError, "sum is a function of DuckDB's or indb's"),
    ("CREATE MACRO predict(a) AS a", CatalogError, "predict is a function of DuckDB's or indb's"),
    ("CREATE MACRO add1(a) AS a", CatalogError, "macro add1 already exists; CREATE OR REPLACE"),
    ("CREATE MACRO m(a, a) AS a", SqlError, "names parameter a twice"),
    ("DROP MACRO nope", CatalogError, "macro nope does not exist; SHOW MACROS lists them"),
])
def test_what_cannot_be_is_refused_by_name(conn, sql, error, message):
    conn.sql("CREATE MACRO add1(a) AS a + 1")
    conn.sql("CREATE MACRO upto(n) AS TABLE SELECT * FROM t WHERE x <= n")
    conn.sql("CREATE MACRO loop(a) AS loop(a)")
    with pytest.raises(error, match=message):
        conn.sql(sql)


def test_a_macro_reads_as_its_caller_and_only_admins_keep_macros(conn):
    conn.sql("CREATE TABLE secret (x INTEGER)")
    conn.sql("CREATE USER ann")
    conn.sql("GRANT SELECT ON TABLE t TO ann")
    conn.sql("CREATE MACRO peek() AS TABLE SELECT * FROM secret")
    conn.sql("CREATE MACRO upto(n) AS TABLE SELECT * FROM t WHERE x <= n")
    with conn._engine.as_user("ann"):
        assert conn.sql("SELECT count(*) FROM upto(2)").fetchone() == (2,)
        with pytest.raises(PrivilegeError, match="secret"):
            conn.sql("SELECT * FROM peek()")  # the macro's read is ann's, who may not
        with pytest.raises(PrivilegeError):
            conn.sql("CREATE MACRO hers(a) AS a")
        with pytest.raises(PrivilegeError, match="DROP MACRO upto needs the admin role"):
            conn.sql("DROP MACRO upto")
        conn.sql("CREATE TEMP MACRO hers(a) AS a * 10")  # anyone's, for the session
        assert conn.sql("SELECT hers(x) FROM t ORDER BY 1").fetchall() == [(10,), (20,), (30,)]
        conn.sql("DROP MACRO hers")


def test_parameters_with_defaults_are_given_by_name(conn):
    conn.sql("CREATE MACRO add_default(a, b := 5) AS a + b")  # DuckDB's documented example
    conn.sql("CREATE MACRO upto(n := 2) AS TABLE SELECT * FROM t WHERE x <= n")
    assert conn.sql("SELECT add_default(37), add_default(40, b := 2)").fetchone() == (42, 42)
    assert conn.sql("SELECT count(*) FROM upto()").fetchone() == (2,)
    assert conn.sql("SELECT count(*) FROM upto(n := 3)").fetchone() == (3,)
    with pytest.raises(SqlError, match=r"takes 1 argument\(s\) by position \(a\) and b by name"):
        conn.sql("SELECT add_default(40, 2)")
    with pytest.raises(SqlError, match="it has no parameter c with a default"):
        conn.sql("SELECT add_default(40, c := 2)")
    with pytest.raises(SqlError, match="parameters with defaults come after the others"):
        conn.sql("CREATE MACRO wrong(a := 1, b) AS a + b")


def test_show_macros_gives_statements_that_make_them_again(tmp_path, conn):
    conn.sql("CREATE MACRO add_default(a, b := 5) AS a + b")
    conn.sql("CREATE MACRO upto(n := 2) AS TABLE SELECT * FROM t WHERE x <= n")
    made = {name: ddl for name, *_, ddl in conn.sql("SHOW MACROS").fetchall()}
    assert made["add_default"] == "CREATE MACRO add_default(a, b := 5) AS a + b"
    with indb.connect(tmp_path / "again") as again:
        again.sql("CREATE TABLE t (x INTEGER, y VARCHAR)")
        again.sql("INSERT INTO t VALUES (1, 'a'), (2, 'b'), (3, 'c')")
        for ddl in made.values():
            again.sql(ddl)
        assert {name: ddl for name, *_, ddl in again.sql("SHOW MACROS").fetchall()} == made
        assert again.sql("SELECT count(*) FROM upto()").fetchone() == (2,)


def test_overloads_are_chosen_by_their_arguments_as_duckdb_chooses(tmp_path, conn):
    # DuckDB's documentation's example: one name, a definition a number of parameters
    conn.sql("CREATE MACRO add_x(a, b) AS a + b, (a, b, c) AS a + b + c")
    assert conn.sql("SELECT add_x(21, 42) AS two, add_x(21, 42, 21) AS three").fetchone() == (63, 84)
    conn.sql("CREATE MACRO rows_of(n) AS TABLE (SELECT * FROM t WHERE x <= n), "
             "(lo, hi := 3) AS TABLE (SELECT * FROM t WHERE x BETWEEN lo AND hi)")
    assert conn.sql("SELECT count(*) FROM rows_of(1)").fetchone() == (1,)
    assert conn.sql("SELECT count(*) FROM rows_of(2, hi := 2)").fetchone() == (1,)
    with pytest.raises(SqlError, match="macro add_x takes 2 or 3 argument"):
        conn.sql("SELECT add_x(1)")
    with pytest.raises(SqlError, match="two definitions of 1 parameter"):
        conn.sql("CREATE MACRO twice(a) AS a, (b) AS b")
    made = {name: ddl for name, *_, ddl in conn.sql("SHOW MACROS").fetchall()}
    assert made["add_x"] == "CREATE MACRO add_x (a, b) AS a + b, (a, b, c) AS a + b + c"
    with indb.connect(tmp_path / "again") as again:  # SHOW MACROS's statement makes it again
        again.sql(made["add_x"])
        assert again.sql("SELECT add_x(1, 2, 3)").fetchone() == (6,)
    conn.sql("CREATE OR REPLACE MACRO add_x(a) AS a + 1")  # its overloads go with it
    with pytest.raises(SqlError, match="macro add_x takes 1 argument"):
        conn.sql("SELECT add_x(1, 2)")
    conn.sql("DROP MACRO rows_of")
    conn.sql("CREATE TEMP MACRO both_ways(a) AS a, (a, b) AS a * b")
    assert conn.sql("SELECT both_ways(3), both_ways(3, 4)").fetchone() == (3, 12)


def test_a_typed_parameter_casts_its_argument(conn):
    conn.sql("CREATE MACRO scaled(a INTEGER, b := 5) AS typeof(a) || ':' || (a * b)::VARCHAR")
    assert conn.sql("SELECT scaled(2), scaled('3', b := 2)").fetchone() == ("INTEGER:10", "INTEGER:6")
    conn.sql("CREATE MACRO first_n(n BIGINT) AS TABLE SELECT * FROM t WHERE x <= n")
    assert conn.sql("SELECT count(*) FROM first_n('2')").fetchone() == (2,)
    with pytest.raises(SqlError, match="Could not convert"):
        conn.sql("SELECT scaled('x')")


def test_drop_function_drops_a_macro_as_duckdb_s_does(fresh):
    fresh.sql("CREATE FUNCTION two() AS 2")  # DuckDB's CREATE FUNCTION: a macro
    assert fresh.sql("SELECT two()").fetchone() == (2,)
    fresh.sql("DROP FUNCTION two")
    with pytest.raises(indb.CatalogError, match="function or macro two does not exist"):
        fresh.sql("DROP FUNCTION two")
    assert "does not exist" in fresh.sql("DROP FUNCTION IF EXISTS two").message
