"""Python data a connection registers for its statements (DuckDB's ``register``): read, never
written, the session's alone, needing no privilege."""

from __future__ import annotations

import pandas as pd
import pyarrow as pa
import pytest

import indb
from indb.errors import OptionError, SqlError


@pytest.fixture
def conn(tmp_path):
    with indb.connect(tmp_path / "db") as connection:
        connection.sql("CREATE TABLE weights (name VARCHAR, w INTEGER)")
        connection.sql("INSERT INTO weights VALUES ('a', 10), ('c', 30)")
        yield connection


def test_a_registered_dataframe_is_read_as_a_table(conn):
    frame = pd.DataFrame({"name": ["a", "b", "c"], "n": [1, 2, 3]})
    assert conn.register("people", frame) is conn  # DuckDB's chains
    assert conn.sql("SELECT name FROM people WHERE n > 1 ORDER BY n").fetchall() == [("b",), ("c",)]
    assert conn.sql("SELECT p.name, n, w FROM people AS p JOIN weights USING (name) "
                    "ORDER BY 1").fetchall() == [("a", 1, 10), ("c", 3, 30)]
    assert conn.execute("SELECT count(*) FROM people, people AS q WHERE people.n = ?",
                        [2]).fetchone() == (3,)
    assert conn.sql("DESCRIBE people").fetchall()[0][:2] == ("name", "VARCHAR")
    conn.sql("CREATE TABLE copied AS SELECT * FROM people")  # its rows made a table's
    conn.sql("INSERT INTO weights SELECT name, n * 100 FROM people WHERE n = 2")
    assert conn.sql("SELECT w FROM weights WHERE name = 'b'").fetchall() == [(200,)]
    conn.sql("CREATE TEMP TABLE people_t AS SELECT * FROM people")
    conn.unregister("people")
    assert conn.sql("SELECT count(*) FROM copied").fetchone() == (3,)
    with pytest.raises(SqlError, match="people does not exist"):
        conn.sql("SELECT * FROM people")


def test_arrow_tables_readers_and_a_new_registration_under_a_name(conn):
    conn.register("weights", pa.table({"w": [1, 2]}))  # before the table of that name
    assert conn.sql("SELECT sum(w) FROM weights").fetchone() == (3,)
    assert conn.sql("SELECT sum(w) FROM main.weights").fetchone() == (40,)  # the table
    assert conn.sql("WITH weights AS (SELECT 7 AS w) SELECT w FROM weights").fetchall() == [
        (7,)]  # a CTE's name is the CTE's
    conn.register("weights", pa.table({"w": [5]}).to_reader())
    assert conn.sql("SELECT w FROM weights").fetchall() == [(5,)]
    with pytest.raises(OptionError, match="cannot register a list"):
        conn.register("x", [1, 2])
    with pytest.raises(OptionError, match="without a schema"):
        conn.register("s.x", pa.table({"a": [1]}))


@pytest.mark.parametrize("statement, message", [
    ("INSERT INTO people VALUES ('x', 1)", "read, not written"),
    ("DELETE FROM people", "read, not written"),
    ("UPDATE people SET n = 0", "read, not written"),
    ("CREATE VIEW v AS SELECT * FROM people", "a view cannot read people"),
    ("EXECUTE FUNCTION ident(INPUT_TABLE_NAMES => INPUT_TABLE(SELECT * FROM people), "
     "OUTPUT_TABLE_NAMES => OUTPUT_TABLES('o'))", "a function's input reads tables"),
])
def test_it_is_read_by_the_session_s_own_statements_only(conn, statement, message):
    conn.register("people", pd.DataFrame({"name": ["a"], "n": [1]}))
    conn.sql("CREATE FUNCTION ident LANGUAGE PYTHON AS $$\ndef ident(ctx, t):\n    return t\n$$")
    with pytest.raises(SqlError, match=message):
        conn.sql(statement)
    assert [r[0] for r in conn.sql("SHOW TABLES").fetchall()] == ["weights"]  # nothing made


def test_it_is_the_session_s_alone_and_needs_no_privilege(tmp_path):
    with indb.connect(tmp_path / "db") as one, indb.connect(tmp_path / "db") as two:
        one.sql("CREATE USER ann")
        one.register("mine", pa.table({"a": [1]}))
        with pytest.raises(SqlError, match="mine does not exist"):
            two.sql("SELECT * FROM mine")
        with one.engine.as_user("ann"):  # no grant reaches a session's own rows
            assert one.sql("SELECT a FROM mine").fetchall() == [(1,)]


def test_a_caller_s_variable_is_read_by_its_name_as_duckdb_s_replacement_scans(conn):
    scores = pd.DataFrame({"name": ["a", "b"], "s": [1.5, 2.5]})
    batch = pa.table({"name": ["c"], "s": [9.0]})
    assert conn.sql("SELECT name FROM scores WHERE s > 2").fetchall() == [("b",)]
    assert conn.execute("SELECT count(*) FROM scores JOIN weights USING (name)").fetchone() == (1,)
    cursor = conn.cursor()
    assert cursor.execute("SELECT * FROM batch").fetchall() == [("c", 9.0)]
    conn.sql("CREATE TABLE kept AS SELECT * FROM scores UNION ALL SELECT * FROM batch")
    scores = pd.DataFrame({"name": ["z"], "s": [0.0]})  # read as it is at each statement
    assert conn.sql("SELECT name FROM scores").fetchall() == [("z",)]
    assert conn.sql("SELECT count(*) FROM kept").fetchone() == (3,)
    assert conn.sql("SELECT count(*) FROM weights").fetchone() == (2,)


def test_a_table_view_or_registration_of_the_name_comes_before_a_variable(conn):
    weights = pd.DataFrame({"name": ["from the variable"]})  # noqa: F841 (read by name)
    pg_class = pd.DataFrame({"x": [1]})  # noqa: F841 (DuckDB's catalog view comes first)
    assert conn.sql("SELECT count(*) FROM weights").fetchone() == (2,)
    assert conn.sql("SELECT count(*) > 1 FROM pg_class").fetchone() == (True,)
    other = pd.DataFrame({"v": [1]})  # noqa: F841
    conn.register("other", pa.table({"v": [2]}))
    assert conn.sql("SELECT v FROM other").fetchall() == [(2,)]


def test_a_variable_is_read_not_written_nor_named(conn):
    fresh = pd.DataFrame({"n": [1]})  # noqa: F841
    held = pd.DataFrame({"n": [1]})  # noqa: F841
    scalar = 5  # noqa: F841 (not data: not read)
    with pytest.raises(indb.CatalogError, match="fresh does not exist"):
        conn.sql("INSERT INTO fresh VALUES (2)")
    with pytest.raises(SqlError, match="scalar does not exist"):
        conn.sql("SELECT * FROM scalar")
    conn.sql("CREATE TABLE fresh (n INTEGER)")  # the name of a table it makes: the table's
    conn.sql("INSERT INTO fresh VALUES (7)")
    assert conn.sql("SELECT n FROM fresh").fetchall() == [(7,)]
    with pytest.raises(SqlError, match="a view cannot read"):
        conn.sql("CREATE VIEW v AS SELECT * FROM held")  # a view outlives the variable
    conn.sql("DROP TABLE fresh")


def test_a_server_s_statements_read_no_variable_of_the_server(tmp_path):
    from indb.engine import Engine
    secret = pd.DataFrame({"key": ["s3cret"]})  # noqa: F841 (the engine's caller's own)
    engine = Engine(tmp_path / "db", cluster="threads")
    try:  # the engine alone (as the servers call it): no variables are read
        with pytest.raises(SqlError, match="secret does not exist"):
            engine.execute("SELECT * FROM secret")
    finally:
        engine.close()


def test_replacements_off_reads_no_variable_and_the_server_s_connections_have_them_off(tmp_path):
    from indb.engine.temporary import Temporaries
    from indb.server.pool import ConnectionPool
    guarded = pd.DataFrame({"secret": ["s3cret"]})  # noqa: F841 (what a client must not read)
    with indb.connect(tmp_path / "db", replacements=False) as conn:
        with pytest.raises(SqlError, match="guarded does not exist"):
            conn.sql("SELECT * FROM guarded")
        assert conn.from_df(pd.DataFrame({"a": [1]})).fetchall() == [(1,)]  # its own data: read
    pool = ConnectionPool(tmp_path / "db", cluster="threads", workers=1)
    try:
        with pool.connection() as served:
            served.engine.temporaries = Temporaries()  # as a PostgreSQL session lends its own
            with pytest.raises(SqlError, match="guarded does not exist"):
                served.sql("SELECT * FROM guarded")
            served.engine.temporaries = None
    finally:
        pool.close()
