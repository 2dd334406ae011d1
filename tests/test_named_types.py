"""Named types: CREATE TYPE name AS ENUM (...) or AS any type, DROP TYPE; kept in the catalog
and put in place of their names before a statement is checked; ENUM columns."""

from __future__ import annotations

import pyarrow as pa
import pytest

import indb
from indb.errors import CatalogError, DataError, PrivilegeError, SqlError


@pytest.fixture
def conn(tmp_path):
    with indb.connect(tmp_path / "db") as connection:
        yield connection


def test_duckdb_s_documented_enum_example(conn):
    conn.sql("CREATE TYPE mood AS ENUM ('sad', 'ok', 'happy')")
    conn.sql("CREATE TABLE person (name TEXT, current_mood mood)")
    conn.sql("INSERT INTO person VALUES ('Pedro', 'happy'), ('Mark', NULL), ('Pagliacci', 'sad'), "
             "('Mr. Mackey', 'ok')")
    assert conn.sql("SELECT * FROM person WHERE current_mood = 'sad'").fetchall() == [
        ("Pagliacci", "sad")]
    # an ENUM sorts in the order of its values, not of their text
    assert conn.sql("SELECT name FROM person ORDER BY current_mood").fetchall() == [
        ("Pagliacci",), ("Mr. Mackey",), ("Pedro",), ("Mark",)]
    assert conn.sql("SELECT enum_range(NULL::mood), 'ok'::mood < 'happy'::mood").fetchone() == (
        ["sad", "ok", "happy"], True)
    assert conn.sql("SELECT typeof(current_mood) FROM person LIMIT 1").fetchone() == (
        "ENUM('sad', 'ok', 'happy')",)
    column = conn.sql("SELECT current_mood FROM person").arrow().schema.field(0)
    assert column.type == pa.dictionary(pa.uint8(), pa.string())  # as DuckDB gives an ENUM


def test_a_value_that_is_not_the_enum_s_is_refused_and_nothing_is_written(conn):
    conn.sql("CREATE TABLE t (id INTEGER, m ENUM('sad', 'ok', 'happy'))")
    conn.sql("INSERT INTO t VALUES (1, 'ok')")
    with pytest.raises(SqlError, match="Could not convert string 'meh'"):
        conn.sql("INSERT INTO t VALUES (2, 'happy'), (3, 'meh')")
    with pytest.raises(DataError, match="'meh' is not one of its values"):
        conn.load("t", pa.table({"id": [2, 3], "m": ["happy", "meh"]}))
    assert conn.sql("SELECT id, m FROM t").fetchall() == [(1, "ok")]
    conn.load("t", pa.table({"id": [4], "m": pa.array(["sad"]).dictionary_encode()}))
    assert conn.sql("SELECT id FROM t ORDER BY m").fetchall() == [(4,), (1,)]


def test_any_type_may_be_named(conn):
    conn.sql("CREATE TYPE point AS STRUCT(x DOUBLE, y DOUBLE)")
    conn.sql("CREATE TYPE public.tag AS VARCHAR")  # pg_dump's spelling: types have no schema
    conn.sql("CREATE TYPE mood AS ENUM ('sad', 'ok')")
    conn.sql("CREATE TABLE shapes (p point, tags tag[], moods mood[])")
    conn.sql("INSERT INTO shapes VALUES ({'x': 1, 'y': 2}, ['a'], ['ok', 'sad'])")
    assert conn.sql("SELECT p.y, tags, moods FROM shapes").fetchone() == (2.0, ["a"], ["ok", "sad"])
    assert [r[1] for r in conn.sql("DESCRIBE shapes").fetchall()[:3]] == [
        "STRUCT(x DOUBLE, y DOUBLE)", "VARCHAR[]", "ENUM('sad', 'ok')[]"]


def test_an_enum_of_a_query_s_values(conn):
    """DuckDB's AS ENUM (SELECT ...): the distinct values, in the order the query returns them,
    NULLs left out, as text; made when the statement runs."""
    conn.sql("CREATE TABLE months (m VARCHAR, n INT)")
    conn.sql("INSERT INTO months VALUES ('MAR', 3), ('JAN', 1), (NULL, 0), ('JAN', 1), ('FEB', 2)")
    conn.sql("CREATE TYPE month AS ENUM (SELECT m FROM months ORDER BY n)")
    assert conn.sql("SELECT enum_range(NULL::month)").fetchone() == (["JAN", "FEB", "MAR"],)
    conn.sql("CREATE OR REPLACE TYPE month AS ENUM (SELECT DISTINCT n FROM months WHERE n > 1 "
             "ORDER BY n)")
    assert conn.sql("SELECT enum_range(NULL::month)").fetchone() == (["2", "3"],)
    with pytest.raises(SqlError, match="a query of one column"):
        conn.sql("CREATE TYPE two AS ENUM (SELECT m, n FROM months)")


@pytest.mark.parametrize("statement, error, message", [
    ("CREATE TYPE mood AS ENUM ('a')", CatalogError, "type mood already exists"),
    ("CREATE TYPE int AS ENUM ('a')", SqlError, "int is DuckDB's name of INTEGER"),
    ("CREATE TYPE c AS (a int, b text)", SqlError, "AS STRUCT\\(a INTEGER, b VARCHAR\\)"),
    ("CREATE TYPE c AS nosuchtype", SqlError, "unknown column type"),
    ("CREATE TYPE s.c AS INTEGER", SqlError, "types live in no schema"),
    ("DROP TYPE nope", CatalogError, "type nope does not exist"),
])
def test_mistakes_are_refused(conn, statement, error, message):
    conn.sql("CREATE TYPE mood AS ENUM ('sad', 'ok')")
    with pytest.raises(error, match=message):
        conn.sql(statement)


def test_replace_and_drop_leave_the_columns_made_with_the_type_as_they_were(conn):
    conn.sql("CREATE TYPE mood AS ENUM ('sad', 'ok')")
    conn.sql("CREATE TABLE a (m mood)")
    conn.sql("CREATE OR REPLACE TYPE mood AS ENUM ('sad', 'ok', 'happy')")
    conn.sql("CREATE TABLE b (m mood)")
    assert conn.sql("DESCRIBE a").fetchone()[1] == "ENUM('sad', 'ok')"
    assert conn.sql("DESCRIBE b").fetchone()[1] == "ENUM('sad', 'ok', 'happy')"
    conn.sql("DROP TYPE mood")
    conn.sql("INSERT INTO b VALUES ('happy')")
    assert conn.sql("SELECT m FROM b").fetchall() == [("happy",)]
    assert conn.sql("DROP TYPE IF EXISTS mood CASCADE").message == "type mood does not exist"
    with pytest.raises(SqlError, match="unknown column type 'mood'"):
        conn.sql("CREATE TABLE c (m mood)")


def test_add_value_widens_the_type_and_the_columns_of_it(conn):
    conn.sql("CREATE TYPE mood AS ENUM ('sad', 'ok', 'happy')")
    conn.sql("CREATE TABLE p (name VARCHAR, m mood)")
    conn.sql("CREATE TABLE other (m ENUM('sad', 'ok'))")  # another ENUM: left as it is
    conn.sql("INSERT INTO p VALUES ('a', 'ok'), ('b', 'happy')")
    message = conn.sql("ALTER TYPE mood ADD VALUE 'calm' BEFORE 'ok'").message
    assert message == "added 'calm' to type mood; widened p.m"
    conn.sql("ALTER TYPE public.mood ADD VALUE 'zen'")  # at the end
    conn.sql("INSERT INTO p VALUES ('c', 'calm'), ('d', 'zen')")
    assert conn.sql("SELECT name FROM p ORDER BY m").fetchall() == [("c",), ("a",), ("b",), ("d",)]
    assert conn.sql("SELECT enum_range(NULL::mood)").fetchone() == (["sad", "calm", "ok", "happy",
                                                                      "zen"],)
    assert conn.sql("DESCRIBE other").fetchone()[1] == "ENUM('sad', 'ok')"
    assert conn.sql("ALTER TYPE mood ADD VALUE IF NOT EXISTS 'zen'").message == \
        "type mood has 'zen' already"
    with pytest.raises(CatalogError, match="has 'zen' already"):
        conn.sql("ALTER TYPE mood ADD VALUE 'zen'")
    with pytest.raises(SqlError, match="'nope' is not a value of type mood"):
        conn.sql("ALTER TYPE mood ADD VALUE 'x' AFTER 'nope'")
    conn.sql("CREATE TYPE id AS INTEGER")
    with pytest.raises(SqlError, match="not an ENUM"):
        conn.sql("ALTER TYPE id ADD VALUE 'x'")
    assert "no owner" in conn.sql("ALTER TYPE mood OWNER TO postgres").message  # pg_dump's
    with pytest.raises(SqlError, match="ALTER TYPE takes ADD VALUE or RENAME TO"):
        conn.sql("ALTER TYPE mood SET SCHEMA s")


def test_named_types_are_every_connection_s_and_their_admins_to_make(tmp_path):
    with indb.connect(tmp_path / "db") as one, indb.connect(tmp_path / "db") as two:
        one.sql("CREATE TYPE mood AS ENUM ('sad', 'ok')")
        one.sql("CREATE USER ann")
        assert two.sql("SELECT 'ok'::mood").fetchone() == ("ok",)
        with one.engine.as_user("ann"):
            assert one.sql("SELECT enum_range(NULL::mood)").fetchone() == (["sad", "ok"],)
            with pytest.raises(PrivilegeError, match="admin"):
                one.sql("CREATE TYPE hers AS INTEGER")
            with pytest.raises(PrivilegeError, match="admin"):
                one.sql("DROP TYPE mood")


def test_a_postgresql_client_reads_an_enum_as_text(tmp_path):
    import psycopg

    from serving import Served
    served = Served(tmp_path / "db")
    dsn = f"host=127.0.0.1 port={served.pg_port} dbname=indb"
    try:
        with psycopg.connect(dsn, autocommit=True) as client:
            client.execute("CREATE TYPE public.mood AS ENUM ('sad', 'ok', 'happy')")  # pg_dump's
            client.execute("CREATE TABLE public.person (name text, current_mood public.mood)")
            client.execute("INSERT INTO person VALUES (%s, %s), (%s, %s)",
                           ["Pedro", "happy", "Mark", "sad"])
            rows = client.execute("SELECT name, current_mood FROM person ORDER BY current_mood")
            assert rows.fetchall() == [("Mark", "sad"), ("Pedro", "happy")]
    finally:
        served.stop()


def test_alter_type_rename_to_names_it_otherwise_and_its_columns_stay(conn):
    conn.sql("CREATE TYPE mood AS ENUM ('sad', 'ok')")
    conn.sql("CREATE TABLE t (m mood)")
    conn.sql("INSERT INTO t VALUES ('ok')")
    conn.sql("CREATE TYPE other AS INTEGER")
    with pytest.raises(CatalogError, match="type other already exists"):
        conn.sql("ALTER TYPE mood RENAME TO other")
    with pytest.raises(SqlError, match="DuckDB's name of INTEGER"):
        conn.sql("ALTER TYPE mood RENAME TO int4")
    conn.sql("ALTER TYPE public.mood RENAME TO feeling")  # (pg_dump writes its schema)
    assert conn.sql("SELECT 'sad'::feeling::VARCHAR, m FROM t").fetchall() == [("sad", "ok")]
    with pytest.raises(SqlError, match="mood"):
        conn.sql("SELECT 'sad'::mood")
    with pytest.raises(CatalogError, match="type mood does not exist"):
        conn.sql("ALTER TYPE mood RENAME TO again")
    with pytest.raises(SqlError, match="RENAME VALUE is not supported"):
        conn.sql("ALTER TYPE feeling RENAME VALUE 'ok' TO 'fine'")
