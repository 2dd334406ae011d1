"""The DB-API 2.0 shape of a connection, and the Result API."""

import pandas as pd
import pyarrow as pa
import pytest

import indb


def test_module_globals():
    assert indb.apilevel == "2.0" and indb.paramstyle == "qmark" and indb.threadsafety in (0, 1, 2, 3)


def test_cursor(conn, table_name):
    cur = conn.cursor()
    cur.execute(f"CREATE TABLE {table_name} (a INTEGER, b VARCHAR)")
    assert cur.description is None
    cur.execute(f"INSERT INTO {table_name} VALUES (1, 'x'), (2, 'y'), (3, 'z')")
    assert cur.rowcount == 3
    cur.execute(f"SELECT a, b FROM {table_name} ORDER BY a")
    assert [d[0] for d in cur.description] == ["a", "b"]
    assert cur.fetchone() == (1, "x")
    assert cur.fetchmany(1) == [(2, "y")]
    assert cur.fetchall() == [(3, "z")]
    assert cur.fetchone() is None


def test_connection_execute_and_result(conn, table_name):
    conn.execute(f"CREATE TABLE {table_name} AS SELECT range AS i FROM range(5)")
    assert conn.execute(f"SELECT sum(i) FROM {table_name}").fetchone() == (10,)
    result = conn.sql(f"SELECT i FROM {table_name} ORDER BY i")
    assert isinstance(result.arrow(), pa.Table) and result.arrow().num_rows == 5
    assert isinstance(result.df(), pd.DataFrame) and result.df()["i"].tolist() == [0, 1, 2, 3, 4]
    assert result.fetchall() == [(i,) for i in range(5)]


def test_context_manager_and_transactions(tmp_path):
    with indb.connect(tmp_path / "db") as conn:
        conn.execute("CREATE TABLE t (a INTEGER)")
        conn.commit()  # autocommit: a no-op that must exist
        with pytest.raises(indb.IndbError, match="no multi-statement transactions"):
            conn.rollback()
    with indb.connect(tmp_path / "db") as again:
        assert again.sql("SHOW TABLES").fetchall()[0][0] == "t"


def test_fetch_before_execute_is_an_error(conn):
    with pytest.raises(indb.IndbError, match="no statement"):
        conn.cursor().fetchall()
