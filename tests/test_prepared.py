"""Prepared statements in SQL: PREPARE q [(types)] AS statement, EXECUTE q(values), DEALLOCATE;
the session's, checked when prepared and again, as if typed, at each EXECUTE."""

from __future__ import annotations

import pytest

import indb
from indb.errors import CatalogError, PrivilegeError, SqlError


@pytest.fixture
def conn(tmp_path):
    with indb.connect(tmp_path / "db") as connection:
        connection.sql("CREATE TABLE person (name VARCHAR, age INTEGER)")
        connection.sql("INSERT INTO person VALUES ('Bob', 41), ('Ann', 30), ('Bill', 52)")
        yield connection


def test_duckdb_s_documented_examples(conn):
    conn.sql("PREPARE query_person AS SELECT * FROM person WHERE starts_with(name, ?) "
             "AND age >= ? ORDER BY age")
    assert conn.sql("EXECUTE query_person('B', 40)").fetchall() == [("Bob", 41), ("Bill", 52)]
    assert conn.sql("EXECUTE query_person('A', 1)").fetchall() == [("Ann", 30)]
    conn.sql("PREPARE query_person AS SELECT * FROM person WHERE starts_with(name, $2) "
             "AND age >= $1")  # PREPARE again replaces it; $2 is the second value
    assert conn.sql("EXECUTE query_person(40, 'B')").fetchall() == [("Bob", 41), ("Bill", 52)]
    conn.sql("PREPARE by_name AS SELECT age FROM person WHERE name = $name_param")
    assert conn.sql("EXECUTE by_name(name_param := 'Ann')").fetchall() == [(30,)]
    conn.sql("DEALLOCATE query_person")
    with pytest.raises(SqlError, match='"query_person" does not exist') as caught:
        conn.sql("EXECUTE query_person(40, 'B')")
    assert (caught.value.line, caught.value.col) == (1, 9)


def test_placeholders_are_numbered_in_the_order_they_are_written(conn):
    # a walk of the syntax tree breadth first meets LIMIT's ? before the WHERE's
    conn.sql("PREPARE q AS SELECT name FROM person WHERE age > ? AND name IN "
             "(SELECT name FROM person WHERE age < ?) ORDER BY name LIMIT ?")
    assert conn.sql("EXECUTE q(35, 60, 1)").fetchall() == [("Bill",)]


def test_postgresql_s_declared_types_cast_the_values(conn):
    conn.sql("PREPARE plus (INTEGER) AS SELECT $1 + 1 AS n")
    result = conn.sql("EXECUTE plus('41')")  # a text value, cast as the declaration says
    assert result.fetchall() == [(42,)] and result.types == ["INTEGER"]
    conn.sql("PREPARE ins (text, int) AS INSERT INTO person VALUES ($1, $2)")
    assert conn.sql("EXECUTE ins('Cid', '77')").rowcount == 1
    assert conn.sql("SELECT age FROM person WHERE name = 'Cid'").fetchall() == [(77,)]


def test_writes_and_the_values_of_an_execute_s_own_parameters(conn):
    conn.sql("PREPARE older AS UPDATE person SET age = age + $2 WHERE name = $1")
    assert conn.sql("EXECUTE older('Bob', 1 + 1)").rowcount == 1  # a value may be an expression
    conn.sql("PREPARE ins AS INSERT INTO person VALUES (?, ?)")
    snapshots = len(conn.sql("SHOW SNAPSHOTS person").fetchall())
    conn.executemany("EXECUTE ins(?, ?)", [("Dee", 20), ("Eve", 21)])  # staged, one snapshot
    assert len(conn.sql("SHOW SNAPSHOTS person").fetchall()) == snapshots + 1
    conn.sql("PREPARE one AS SELECT age FROM person WHERE name = $1")
    assert conn.execute("EXECUTE one(?)", ["Bob"]).fetchall() == [(43,)]
    assert conn.execute("EXECUTE one(?)", ["Eve"]).fetchall() == [(21,)]


@pytest.mark.parametrize("statement, message", [
    ("EXECUTE q('B')", "prepared statement q takes 2 values, EXECUTE gave 1"),
    ("EXECUTE q('B', 1, 2)", "takes 2 values, EXECUTE gave 3"),
    ("EXECUTE q(a := 'B', b := 1)", "q's parameters are numbered"),
    ("EXECUTE named('x')", "named's parameters are named: give each value by name"),
    ("EXECUTE named(nope := 1, who := 'x')", r"named has no parameter \$nope; it has \$who"),
    ("EXECUTE named()", r"EXECUTE named gives no value for \$who"),
])
def test_values_that_do_not_match_the_parameters_are_refused(conn, statement, message):
    conn.sql("PREPARE q AS SELECT * FROM person WHERE starts_with(name, ?) AND age >= ?")
    conn.sql("PREPARE named AS SELECT * FROM person WHERE name = $who")
    with pytest.raises(SqlError, match=message):
        conn.sql(statement)


@pytest.mark.parametrize("statement, error, message", [
    ("PREPARE q AS INSERT INTO nope VALUES (?)", CatalogError, "nope"),
    ("PREPARE q AS SELECT * FROM nope WHERE a = ?", SqlError, "nope does not exist"),  # DuckDB's
    ("PREPARE q AS SELECT nocol FROM person WHERE age > $1", SqlError, "nocol"),  # binder's
    ("PREPARE q AS DETACH x", SqlError, "DETACH statements are not supported"),
    ("PREPARE q AS SELECT ?, $1", SqlError, "all \\? or all \\$1"),
    ("PREPARE q AS EXECUTE r", SqlError, "a prepared statement cannot be EXECUTE"),
    ("PREPARE q SELECT 1", SqlError, "expected AS"),
    ("PREPARE q (int) AS SELECT $who", SqlError, "this statement's parameters are named"),
])
def test_a_statement_that_cannot_run_is_refused_when_it_is_prepared(conn, statement, error, message):
    with pytest.raises(error, match=message):
        conn.sql(statement)
    with pytest.raises(SqlError, match='"q" does not exist'):
        conn.sql("EXECUTE q(1)")


def test_deallocate(conn):
    conn.sql("PREPARE a AS SELECT 1")
    conn.sql("PREPARE b AS SELECT 2")
    assert conn.sql("DEALLOCATE PREPARE a").message == "DEALLOCATE"
    assert conn.sql("EXECUTE b").fetchall() == [(2,)]
    with pytest.raises(CatalogError, match='prepared statement "a" does not exist'):
        conn.sql("DEALLOCATE a")
    conn.sql("DEALLOCATE ALL")
    with pytest.raises(SqlError, match='"b" does not exist'):
        conn.sql("EXECUTE b")


def test_prepared_statements_are_the_session_s(tmp_path):
    with indb.connect(tmp_path / "db") as one, indb.connect(tmp_path / "db") as two:
        one.sql("PREPARE mine AS SELECT 42")
        assert one.sql("EXECUTE mine").fetchall() == [(42,)]
        with pytest.raises(SqlError, match='"mine" does not exist'):
            two.sql("EXECUTE mine")


def test_names_are_resolved_at_each_execute_as_if_it_were_typed_then(conn):
    conn.sql("CREATE SCHEMA s")
    conn.sql("CREATE TABLE s.person AS SELECT 'Sam' AS name, 9 AS age")
    conn.sql("PREPARE names AS SELECT name FROM person ORDER BY name")
    assert conn.sql("EXECUTE names").fetchall() == [("Ann",), ("Bill",), ("Bob",)]
    conn.sql("SET search_path TO s")
    assert conn.sql("EXECUTE names").fetchall() == [("Sam",)]
    conn.sql("RESET search_path")
    conn.sql("CREATE TEMP VIEW young AS SELECT name FROM person WHERE age < 35")
    conn.sql("PREPARE young_names AS SELECT * FROM young")
    assert conn.sql("EXECUTE young_names").fetchall() == [("Ann",)]
    conn.sql("CREATE OR REPLACE TEMP VIEW young AS SELECT name FROM person WHERE age < 45 "
             "ORDER BY name")
    assert conn.sql("EXECUTE young_names").fetchall() == [("Ann",), ("Bob",)]


def test_privileges_are_checked_when_prepared_and_at_each_execute(conn):
    conn.sql("CREATE TABLE secret (x INTEGER)")
    conn.sql("CREATE USER ann")
    conn.sql("GRANT SELECT ON TABLE person TO ann")
    with conn._engine.as_user("ann"):
        with pytest.raises(PrivilegeError, match="secret"):
            conn.sql("PREPARE peek AS SELECT * FROM secret")
        conn.sql("PREPARE mine AS SELECT count(*) FROM person")
        assert conn.sql("EXECUTE mine").fetchall() == [(3,)]
    conn.sql("REVOKE SELECT ON TABLE person FROM ann")
    with conn._engine.as_user("ann"), pytest.raises(PrivilegeError, match="person"):
        conn.sql("EXECUTE mine")


def test_a_connection_without_a_session_refuses_them(conn):
    conn.engine.temporaries = None  # as the HTTP API's pooled connections are
    with pytest.raises(SqlError, match="HTTP API has none"):
        conn.sql("PREPARE q AS SELECT 1")


def test_the_postgresql_port_runs_them_with_postgresql_s_tags(tmp_path):
    import psycopg

    from serving import Served
    with indb.connect(tmp_path / "db") as conn:
        conn.sql("CREATE TABLE t (x INTEGER, y VARCHAR)")
    served = Served(tmp_path / "db")
    dsn = f"host=127.0.0.1 port={served.pg_port} dbname=indb"
    try:
        with psycopg.connect(dsn, autocommit=True) as one, psycopg.connect(dsn, autocommit=True) as two:
            cur = one.execute("PREPARE ins (int, text) AS INSERT INTO t VALUES ($1, $2)")
            assert cur.statusmessage == "PREPARE"
            cur = one.execute("EXECUTE ins(1, 'a')")
            assert (cur.statusmessage, cur.rowcount) == ("INSERT 0 1", 1)
            one.execute("PREPARE sel AS SELECT y FROM t WHERE x = $1")
            assert one.execute("EXECUTE sel(1)").fetchall() == [("a",)]
            with pytest.raises(psycopg.Error, match='"sel" does not exist'):
                two.execute("EXECUTE sel(1)")
            assert one.execute("DEALLOCATE sel").statusmessage == "DEALLOCATE"
            with pytest.raises(psycopg.Error, match='"sel" does not exist'):
                one.execute("EXECUTE sel(1)")
            one.execute("DISCARD ALL")  # a pooler's reset
            with pytest.raises(psycopg.Error, match='"ins" does not exist'):
                one.execute("EXECUTE ins(2, 'b')")
    finally:
        served.stop()
