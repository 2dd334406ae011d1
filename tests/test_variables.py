"""DuckDB's session variables: SET VARIABLE, getvariable, RESET VARIABLE."""

from __future__ import annotations

import datetime

import pytest

import indb
from indb.errors import PrivilegeError, SqlError


@pytest.fixture
def conn(tmp_path):
    with indb.connect(tmp_path / "db") as connection:
        connection.sql("CREATE TABLE t (a INTEGER, b VARCHAR)")
        connection.sql("INSERT INTO t VALUES (1, 'x'), (5, 'y')")
        yield connection


def test_a_variable_keeps_its_value_and_type(conn):
    conn.sql("SET VARIABLE my_var = 30")
    assert conn.sql("SELECT getvariable('my_var') AS my_var").fetchone() == (30,)
    assert conn.sql("SELECT typeof(getvariable('my_var'))").fetchone() == ("INTEGER",)
    conn.sql("SET VARIABLE day = DATE '2024-01-31'")
    conn.sql("SET VARIABLE ratio = 0.1::DOUBLE")
    conn.sql("SET VARIABLE tags = ['a', 'b']")
    assert conn.sql("SELECT getvariable('day') + 1, getvariable('ratio') = 0.1::DOUBLE, "
                    "getvariable('tags')").fetchone() == (datetime.date(2024, 2, 1), True, ["a", "b"])
    assert conn.sql("SELECT getvariable('never_set')").fetchone() == (None,)
    conn.sql("RESET VARIABLE my_var")
    assert conn.sql("SELECT getvariable('my_var')").fetchone() == (None,)


def test_a_subquery_is_evaluated_once_when_set(conn):
    conn.sql("SET VARIABLE top = (SELECT max(a) FROM t)")
    conn.sql("INSERT INTO t VALUES (9, 'z')")
    assert conn.sql("SELECT b FROM t WHERE a = getvariable('top')").fetchall() == [("y",)]


def test_variables_are_the_session_s_and_its_reads_checked(tmp_path):
    with indb.connect(tmp_path / "db") as one, indb.connect(tmp_path / "db") as two:
        one.sql("CREATE TABLE secret (x INTEGER)")
        one.sql("CREATE USER ann")
        one.sql("SET VARIABLE mine = 'one'")
        assert two.sql("SELECT getvariable('mine')").fetchone() == (None,)
        with one.engine.as_user("ann"):
            with pytest.raises(PrivilegeError, match="secret"):
                one.sql("SET VARIABLE peek = (SELECT max(x) FROM secret)")
            one.sql("SET VARIABLE hers = 1")  # anyone's to set


@pytest.mark.parametrize("statement, message", [
    ("SET VARIABLE a = 1, b = 2", "takes one name = value"),
    ("SELECT getvariable(b) FROM t", "a variable's name in quotes"),
    ("RESET VARIABLE", "takes a variable's name"),
])
def test_mistakes_are_refused(conn, statement, message):
    with pytest.raises(SqlError, match=message):
        conn.sql(statement)


def test_a_postgresql_session_keeps_its_variables(tmp_path):
    import psycopg

    from serving import Served
    with indb.connect(tmp_path / "db") as conn:
        conn.sql("CREATE FUNCTION ident LANGUAGE PYTHON AS $$\ndef ident(ctx, t):\n    return t\n$$")
        conn.sql("CREATE TABLE one_row AS SELECT 1 AS k")
    served = Served(tmp_path / "db")
    dsn = f"host=127.0.0.1 port={served.pg_port} dbname=indb"
    try:
        with psycopg.connect(dsn, autocommit=True) as one, psycopg.connect(dsn, autocommit=True) as two:
            one.execute("SET VARIABLE answer = 42")  # (not a setting the port accepts and ignores)
            assert one.execute("SELECT getvariable('answer')").fetchone() == (42,)
            one.execute("EXECUTE FUNCTION ident(INPUT_TABLE_NAMES => INPUT_TABLE(SELECT "
                        "getvariable('answer') AS x FROM one_row), "
                        "OUTPUT_TABLE_NAMES => OUTPUT_TABLES('ran'))")
            assert two.execute("SELECT x FROM ran").fetchall() == [(42,)]  # a run's connection
            assert two.execute("SELECT getvariable('answer')").fetchone() == (None,)
            one.execute("RESET VARIABLE answer")
            assert one.execute("SELECT getvariable('answer')").fetchone() == (None,)
            one.execute("SET VARIABLE answer = 7")
            one.execute("DISCARD ALL")  # a pooler's reset
            assert one.execute("SELECT getvariable('answer')").fetchone() == (None,)
    finally:
        served.stop()
