"""The DB-API 2.0 shape of a connection and its cursors: parameters, type codes, closing,
and the Result API through them."""

import datetime
import os

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import indb


def test_module_globals():
    # 2: threads may share the module and connections (tests/test_concurrency.py), not cursors
    assert indb.apilevel == "2.0" and indb.paramstyle == "qmark" and indb.threadsafety == 2


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
        conn.commit()  # autocommit: nothing to commit, and no error
        conn.rollback()
        conn.begin()
        conn.execute("INSERT INTO t VALUES (1)")
    # closed with a transaction open: rolled back (PEP 249)
    with indb.connect(tmp_path / "db") as again:
        assert again.sql("SHOW TABLES").fetchall()[0][0] == "t"
        assert again.sql("SELECT count(*) FROM t").fetchone() == (0,)


def test_fetch_before_execute_is_an_error(conn):
    with pytest.raises(indb.IndbError, match="no statement"):
        conn.cursor().fetchall()


def test_fetching_after_a_statement_without_rows_is_an_error(conn, table_name):
    cur = conn.cursor()
    cur.execute(f"CREATE TABLE {table_name} (a INTEGER)")
    with pytest.raises(indb.InterfaceError, match="returned no rows"):
        cur.fetchone()
    cur.execute(f"INSERT INTO {table_name} VALUES (1), (2)")
    assert cur.rowcount == 2 and cur.description is None
    with pytest.raises(indb.InterfaceError, match="inserted 2 rows"):
        cur.fetchall()
    assert conn.sql(f"INSERT INTO {table_name} VALUES (3)").fetchall() == [(1,)]  # the summary


def test_parameters_that_are_not_a_sequence_are_a_programming_error(conn):
    with pytest.raises(indb.ProgrammingError, match=r"parameters are a sequence.*such as \[5\]"):
        conn.execute("SELECT ?", 5)
    with pytest.raises(indb.ProgrammingError, match="not a str"):
        conn.execute("SELECT ?", "5")
    with pytest.raises(indb.ProgrammingError, match="parameters are a sequence"):
        conn.cursor().executemany("SELECT ?", [1, 2])
    with pytest.raises(indb.ProgrammingError, match="sequence of parameter sets"):
        conn.cursor().executemany("SELECT ?", 3)
    with pytest.raises(indb.ProgrammingError, match="SQL is a str"):
        conn.execute(42)
    with pytest.raises(indb.SqlError):  # two values for one ?: DuckDB's own words
        conn.execute("SELECT ?", [1, 2])
    assert conn.execute("SELECT ? + 1", [5]).fetchone() == (6,)
    assert conn.execute("SELECT $x * 2", {"x": 4}).fetchone() == (8,)


def test_description_type_codes_compare_equal_to_the_type_objects(conn):
    cur = conn.execute("SELECT 'a' AS s, 1::BIGINT AS n, 2.5::DECIMAL(9,2) AS d, 1.5::DOUBLE AS f, "
                       "TIMESTAMP '2026-01-05 09:30:00' AS ts, DATE '2026-01-05' AS dt, "
                       "'x'::BLOB AS b")
    codes = {d[0]: d[1] for d in cur.description}
    assert all(len(d) == 7 for d in cur.description)
    assert codes["s"] == indb.STRING and codes["s"] != indb.NUMBER
    assert codes["n"] == indb.NUMBER and codes["d"] == indb.NUMBER and codes["f"] == indb.NUMBER
    assert codes["ts"] == indb.DATETIME and codes["dt"] == indb.DATETIME and codes["ts"] != indb.STRING
    assert codes["b"] == indb.BINARY and codes["b"] != indb.STRING
    assert indb.ROWID is not None and all(code != indb.ROWID for code in codes.values())  # no row ids
    assert codes["n"] == "BIGINT" and str(codes["d"]) == "DECIMAL(9,2)"  # DuckDB's type names
    shown = conn.execute("SHOW TABLES").description  # indb's own rows get type codes too
    assert shown[0][1] == indb.STRING and shown[3][1] == indb.NUMBER


def test_constructors_bind_as_their_sql_types(conn, table_name):
    conn.execute(f"CREATE TABLE {table_name} (d DATE, t TIME, ts TIMESTAMP, b BLOB)")
    conn.execute(f"INSERT INTO {table_name} VALUES (?, ?, ?, ?)",
                 [indb.Date(2002, 12, 25), indb.Time(13, 45, 30),
                  indb.Timestamp(2002, 12, 25, 13, 45, 30), indb.Binary(b"\x00Something")])
    row = conn.execute(f"SELECT d, t, ts, b FROM {table_name}").fetchone()
    assert row == (datetime.date(2002, 12, 25), datetime.time(13, 45, 30),
                   datetime.datetime(2002, 12, 25, 13, 45, 30), b"\x00Something")
    ticks = datetime.datetime(2002, 12, 25, 13, 45, 30).timestamp()  # local time, as PEP 249's are
    assert indb.TimestampFromTicks(ticks) == datetime.datetime(2002, 12, 25, 13, 45, 30)
    assert indb.DateFromTicks(ticks) == datetime.date(2002, 12, 25)
    assert indb.TimeFromTicks(ticks) == datetime.time(13, 45, 30)


def test_a_closed_connection_and_its_cursors_refuse_everything(tmp_path):
    conn = indb.connect(tmp_path / "db")
    cur = conn.cursor()
    cur.execute("SELECT 1")
    conn.close()
    for use in (conn.cursor, conn.commit, conn.rollback, conn.close, lambda: conn.sql("SELECT 1"),
                lambda: conn.execute("SELECT 1"), lambda: cur.execute("SELECT 1"), cur.fetchone,
                lambda: conn.load("t", pa.table({"a": [1]})), lambda: conn.table("t"),
                lambda: conn.engine):
        with pytest.raises(indb.InterfaceError, match="connection is closed"):
            use()
    with indb.connect(tmp_path / "db") as again:  # closed inside the block: leaving it is fine
        again.close()
    other = indb.connect(tmp_path / "db").cursor()
    other.close()
    with pytest.raises(indb.InterfaceError, match="cursor is closed"):
        other.execute("SELECT 1")


def test_the_engine_is_the_one_behind_the_connections_statements_and_read_only(conn, table_name):
    conn.sql(f"CREATE TABLE {table_name} (a INTEGER)")
    conn.engine.execute(f"INSERT INTO {table_name} VALUES (7)")  # as the server's scheduler does
    assert conn.sql(f"SELECT a FROM {table_name}").fetchall() == [(7,)]
    assert conn.engine is conn.engine
    with pytest.raises(AttributeError):
        conn.engine = None


def test_exceptions_are_attributes_of_the_connection(conn):
    for name in ("Warning", "Error", "InterfaceError", "DatabaseError", "DataError",
                 "OperationalError", "IntegrityError", "InternalError", "ProgrammingError",
                 "NotSupportedError"):
        assert getattr(conn, name) is getattr(indb, name)
    with pytest.raises(conn.ProgrammingError):  # indb's kinds are caught by their DB-API class
        conn.execute("SELEC 1")


def test_callproc_calls_a_sql_function(conn):
    cur = conn.cursor()
    assert cur.callproc("lower", ("FOO",)) == ("FOO",)
    assert cur.fetchall() == [("foo",)]
    with pytest.raises(indb.ProgrammingError, match="function name"):
        cur.callproc("lower(1); DROP TABLE x; --", ())


def test_cursors_are_independent_and_a_half_read_result_blocks_nothing(conn, table_name):
    conn.execute(f"CREATE TABLE {table_name} AS SELECT range AS i FROM range(300000)")
    first, second = conn.cursor(), conn.cursor()
    first.execute(f"SELECT i FROM {table_name} ORDER BY i")
    assert first.fetchone() == (0,)
    second.execute(f"INSERT INTO {table_name} VALUES (-1)")  # a write while a stream is open
    second.execute(f"SELECT min(i) FROM {table_name}")
    assert second.fetchone() == (-1,)
    assert first.fetchmany(2) == [(1,), (2,)]  # its own snapshot, read on where it stopped
    first.execute(f"SELECT count(*) FROM {table_name}")  # a new statement drops the old stream
    assert first.fetchone() == (300001,)


def test_a_refused_statement_leaves_the_connection_usable(tmp_path):
    with indb.connect(tmp_path / "db") as conn:
        conn.execute("CREATE TABLE t (a INTEGER NOT NULL)")
        bad = tmp_path / "bad.parquet"
        pq.write_table(pa.table({"_indb_rowid": [1, 2]}), bad)  # a reserved column name
        refusals = []  # kept, as a notebook keeps the last one: with them, what they held
        for _ in range(3):
            with pytest.raises(indb.IndbError) as refused:
                conn.load("fresh", bad)  # refused with the file's reader half read
            refusals.append(refused)
            with pytest.raises(indb.IndbError) as refused:
                conn.execute("INSERT INTO t VALUES (NULL)")
            refusals.append(refused)
        conn.execute("INSERT INTO t VALUES (?)", [7])
        assert conn.execute("SELECT a FROM t").fetchall() == [(7,)]


def test_an_in_memory_database_is_the_connection_s_and_gone_at_its_close():
    first, second = indb.connect(), indb.connect(":memory:")  # DuckDB's two spellings
    try:
        first.sql("CREATE TABLE t AS SELECT 1 AS a")
        assert first.sql("FROM t").fetchall() == [(1,)]
        with pytest.raises(indb.SqlError, match="t does not exist"):
            second.sql("FROM t")  # each its own
        path = first.path
        assert os.path.isdir(path)
    finally:
        first.close()
        second.close()
    assert not os.path.exists(path)


def test_the_module_s_functions_run_on_its_default_in_memory_connection():
    frame = pd.DataFrame({"a": [1, 2, 3]})  # noqa: F841 (read by name)
    assert indb.sql("SELECT sum(a) FROM frame").fetchall() == [(6,)]
    assert indb.default_connection() is indb.default_connection()
    indb.execute("CREATE OR REPLACE TABLE kept AS SELECT 7 AS x")
    assert indb.table("kept").fetchall() == [(7,)]
    assert indb.from_df(pd.DataFrame({"b": [1, 2]})).filter("b > 1").to_df().shape == (1, 1)
    assert isinstance(indb.from_query("SELECT 1"), indb.Relation)


def test_python_functions_sql_calls_are_the_connection_s(tmp_path):
    with indb.connect(tmp_path / "db") as conn, indb.connect(tmp_path / "db") as other:
        def plus_one(x: int) -> int:
            return x + 1
        assert conn.create_function("plus_one", plus_one) is conn  # types from the annotations
        conn.create_function("shout", lambda s: s.upper() + "!", ["VARCHAR"], "VARCHAR")
        conn.sql("CREATE TABLE t AS SELECT range AS x FROM range(4)")
        assert conn.sql("SELECT sum(plus_one(x)), shout('hi') FROM t").fetchone() == (10, "HI!")
        conn.sql("CREATE TABLE u AS SELECT plus_one(x) AS y FROM t")  # its values are stored
        assert other.sql("SELECT max(y) FROM u").fetchone() == (4,)
        with pytest.raises(indb.SqlError, match="plus_one"):  # another connection has none
            other.sql("SELECT plus_one(1)")
        with pytest.raises(indb.SqlError, match="already created"):
            conn.create_function("plus_one", plus_one)
        conn.remove_function("shout")
        with pytest.raises(indb.SqlError, match="shout does not exist"):
            conn.sql("SELECT shout('x')")


def test_the_connection_reads_its_last_statement_s_rows_in_duckdb_s_forms():
    with indb.connect() as conn:
        conn.execute("SELECT 1 AS a UNION ALL SELECT 2")
        assert conn.df()["a"].tolist() == [1, 2]  # (looks, does not consume)
        assert conn.arrow().column("a").to_pylist() == [1, 2]
        assert conn.fetchnumpy()["a"].tolist() == [1, 2]
        conn.execute("SELECT 3 AS b")
        assert conn.fetchdf()["b"].tolist() == [3] and conn.fetch_arrow_table().num_rows == 0
