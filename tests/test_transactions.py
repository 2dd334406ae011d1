"""Transactions: BEGIN ... COMMIT | ROLLBACK and savepoints (``indb.engine.transactions``, the
staged writes of ``indb.storage.pending``, the plans of ``indb.planner.transactions``), on an
embedded connection, DuckDB's ``begin()``/``commit()``/``rollback()``, and through the
PostgreSQL port as psycopg and SQLAlchemy drive it."""

from __future__ import annotations

import psycopg
import pyarrow as pa
import pytest

import indb
from serving import Served


def rows(conn, sql="SELECT a, b FROM t ORDER BY a"):
    return conn.sql(sql).fetchall()


@pytest.fixture()
def two(tmp_path):
    """Two connections to one database, with a table t (a INT PRIMARY KEY, b VARCHAR) of one row."""
    first, second = indb.connect(tmp_path / "db"), indb.connect(tmp_path / "db")
    first.sql("CREATE TABLE t (a INT PRIMARY KEY, b VARCHAR)")
    first.sql("CREATE TABLE u (k INT)")
    first.sql("INSERT INTO t VALUES (1, 'x')")
    yield first, second
    first.close()
    second.close()


def test_a_transaction_s_writes_are_its_own_until_commit(two):
    first, second = two
    first.sql("BEGIN")
    first.sql("INSERT INTO t VALUES (2, 'y')")
    first.sql("UPDATE t SET b = 'z' WHERE a = 1")
    first.sql("INSERT INTO u VALUES (7)")
    first.load("u", pa.table({"k": pa.array([8], pa.int32())}))
    assert rows(first) == [(1, "z"), (2, "y")]  # its own statements see them
    assert rows(second) == [(1, "x")] and rows(second, "SELECT count(*) FROM u") == [(0,)]
    second.sql("INSERT INTO u VALUES (9)")  # another writer meanwhile: appends go on top
    first.sql("COMMIT")
    assert rows(second) == [(1, "z"), (2, "y")]
    assert rows(second, "SELECT k FROM u ORDER BY k") == [(7,), (8,), (9,)]


def test_rollback_undoes_every_write_and_deletes_their_files(two, tmp_path):
    first, second = two
    before = {p for p in (tmp_path / "db").rglob("*.parquet")}
    first.begin()
    first.sql("INSERT INTO t VALUES (2, 'y')")
    first.sql("DELETE FROM t WHERE a = 1")
    first.sql("TRUNCATE u")
    first.rollback()
    assert rows(first) == [(1, "x")]
    assert {p for p in (tmp_path / "db").rglob("*.parquet")} == before


def test_savepoints(two):
    first, _ = two
    first.sql("BEGIN")
    first.sql("INSERT INTO t VALUES (2, 'y')")
    first.sql("SAVEPOINT s1")
    first.sql("INSERT INTO t VALUES (3, 'w')")
    first.sql("SAVEPOINT s2")
    first.sql("DELETE FROM t")
    first.sql("ROLLBACK TO SAVEPOINT s2")
    assert rows(first) == [(1, "x"), (2, "y"), (3, "w")]
    first.sql("ROLLBACK TO s1")
    assert rows(first) == [(1, "x"), (2, "y")]
    first.sql("RELEASE SAVEPOINT s1")
    first.sql("COMMIT")
    assert rows(first) == [(1, "x"), (2, "y")]
    first.sql("BEGIN")
    first.sql("INSERT INTO t VALUES (4, 'v')")
    with pytest.raises(indb.SqlError, match="no such savepoint"):  # an error: aborted, as in
        first.sql("ROLLBACK TO s1")  # PostgreSQL (the savepoint went with RELEASE)
    assert first.sql("COMMIT").message.startswith("ROLLBACK")
    assert rows(first) == [(1, "x"), (2, "y")]


def test_a_failed_statement_aborts_the_transaction(two):
    first, second = two
    first.sql("BEGIN")
    first.sql("INSERT INTO t VALUES (2, 'y')")
    with pytest.raises(indb.UniqueViolation):
        first.sql("INSERT INTO t VALUES (2, 'again')")
    with pytest.raises(indb.TransactionAborted, match="until ROLLBACK"):
        first.sql("SELECT 1")
    assert first.sql("COMMIT").message.startswith("ROLLBACK")  # a failed one is rolled back
    assert rows(second) == [(1, "x")]
    first.sql("BEGIN")
    first.sql("SAVEPOINT s")
    with pytest.raises(indb.SqlError):
        first.sql("SELEC 1")
    first.sql("ROLLBACK TO s")  # a savepoint before the failure: usable again
    first.sql("INSERT INTO t VALUES (3, 'z')")
    first.sql("COMMIT")
    assert rows(second) == [(1, "x"), (3, "z")]


def test_what_is_not_a_write_of_rows_commits_the_transaction_first(two):
    first, second = two
    first.sql("BEGIN")
    first.sql("INSERT INTO t VALUES (2, 'y')")
    first.sql("SHOW TABLES")  # reads stay inside
    assert rows(second) == [(1, "x")]
    first.sql("CREATE TABLE v (x INT)")  # DDL commits the writes before it, as MySQL's does
    assert rows(second) == [(1, "x"), (2, "y")]
    first.sql("INSERT INTO t VALUES (3, 'z')")  # the transaction goes on after it
    first.sql("ROLLBACK")
    assert rows(second) == [(1, "x"), (2, "y")]


def test_upkeep_in_a_transaction_commits_on_its_own(two):
    first, second = two
    first.sql("CREATE TABLE m (x INT) WITH (SHARDS = 1)")
    first.sql("INSERT INTO m VALUES (1)")
    first.sql("BEGIN")
    first.sql("INSERT INTO m VALUES (2)")
    first.sql("OPTIMIZE m")  # commits the transaction's writes, then merges them, committed
    first.sql("INSERT INTO m VALUES (3)")
    first.sql("ROLLBACK")  # undoes what came after it alone
    assert rows(second, "SELECT x FROM m ORDER BY x") == [(1,), (2,)]
    files = {r[0]: r[5] for r in second.sql("SHOW TABLES").fetchall()}
    assert files["m"] == 1  # the merge stayed


@pytest.mark.slow  # (a function run starts the database's cluster)
def test_a_function_run_in_a_transaction_commits_on_its_own(two):
    first, second = two
    first.sql("CREATE FUNCTION ident LANGUAGE PYTHON AS $$\ndef ident(ctx, t):\n    return t\n$$")
    first.sql("BEGIN")
    first.sql("INSERT INTO t VALUES (2, 'y')")
    first.sql("EXECUTE FUNCTION ident(INPUT_TABLE_NAMES => INPUT_TABLE(SELECT a FROM t), "
              "OUTPUT_TABLE_NAMES => OUTPUT_TABLES('copied'))")
    first.sql("INSERT INTO t VALUES (3, 'z')")
    first.sql("ROLLBACK")  # undoes what came after the run alone
    assert rows(second) == [(1, "x"), (2, "y")]
    assert rows(second, "SELECT a FROM copied ORDER BY a") == [(1,), (2,)]


def test_commit_is_all_or_nothing_when_another_writer_got_in_first(two):
    first, second = two
    first.sql("BEGIN")
    first.sql("INSERT INTO u VALUES (1)")
    first.sql("DELETE FROM t WHERE a = 1")  # rewrites t's file
    second.sql("UPDATE t SET b = 'other' WHERE a = 1")  # and so does another writer, first
    with pytest.raises(indb.ConflictError):
        first.sql("COMMIT")
    assert rows(second) == [(1, "other")] and rows(second, "SELECT count(*) FROM u") == [(0,)]
    first.sql("INSERT INTO u VALUES (2)")  # the transaction is over: this commits alone
    assert rows(second, "SELECT k FROM u") == [(2,)]


def test_a_key_two_writers_add_at_once_is_refused_at_commit(two):
    first, second = two
    first.begin()
    first.sql("INSERT INTO t VALUES (5, 'mine')")
    second.sql("INSERT INTO t VALUES (5, 'theirs')")
    with pytest.raises(indb.UniqueViolation):
        first.commit()
    assert rows(second) == [(1, "x"), (5, "theirs")]


def test_without_a_transaction_commit_and_rollback_have_nothing_to_do(two):
    first, _ = two
    assert first.sql("COMMIT").message.startswith("no transaction is open")
    first.commit()
    first.rollback()  # DB-API's: the statements committed as they returned
    first.sql("BEGIN")
    assert first.sql("BEGIN").message.startswith("a transaction is open already")
    first.sql("END")  # PostgreSQL's COMMIT
    with pytest.raises(indb.SqlError, match="BEGIN first"):
        first.sql("SAVEPOINT s")


def test_postgresql_clients_run_transactions(tmp_path):
    sqlalchemy = pytest.importorskip("sqlalchemy")
    with indb.connect(tmp_path / "db") as conn:
        conn.sql("CREATE TABLE t (a INT PRIMARY KEY, b VARCHAR)")
    served = Served(tmp_path / "db")
    dsn = f"host=127.0.0.1 port={served.pg_port} dbname=indb user=admin"
    try:
        with psycopg.connect(dsn) as writer, psycopg.connect(dsn, autocommit=True) as reader:
            writer.execute("INSERT INTO t VALUES (%s,%s)", (1, "x"))  # psycopg's BEGIN first
            assert writer.info.transaction_status == psycopg.pq.TransactionStatus.INTRANS
            assert reader.execute("SELECT count(*) FROM t").fetchone() == (0,)
            writer.commit()
            assert reader.execute("SELECT count(*) FROM t").fetchone() == (1,)
            writer.execute("INSERT INTO t VALUES (2, 'y')")
            writer.rollback()
            with pytest.raises(psycopg.errors.UniqueViolation):
                writer.execute("INSERT INTO t VALUES (1, 'again')")
            assert writer.info.transaction_status == psycopg.pq.TransactionStatus.INERROR
            with pytest.raises(psycopg.errors.InFailedSqlTransaction):  # 25P02
                writer.execute("SELECT 1")
            writer.rollback()
            with writer.transaction():  # BEGIN ... COMMIT, and a savepoint inside
                writer.execute("INSERT INTO t VALUES (3, 'z')")
                with pytest.raises(psycopg.errors.UniqueViolation), writer.transaction():
                    writer.execute("INSERT INTO t VALUES (3, 'again')")
                writer.execute("INSERT INTO t VALUES (4, 'w')")
            assert reader.execute("SELECT a FROM t ORDER BY a").fetchall() == [(1,), (3,), (4,)]
        engine = sqlalchemy.create_engine(f"postgresql+psycopg://admin@127.0.0.1:{served.pg_port}/indb")
        with engine.connect() as conn:
            conn.execute(sqlalchemy.text("INSERT INTO t VALUES (10, 'rolled back')"))
            conn.rollback()
            conn.execute(sqlalchemy.text("INSERT INTO t VALUES (11, 'kept')"))
            conn.commit()
        with engine.connect() as conn:
            assert conn.execute(sqlalchemy.text("SELECT max(a) FROM t")).scalar() == 11
            assert conn.execute(sqlalchemy.text("SELECT count(*) FROM t WHERE a = 10")).scalar() == 0
        engine.dispose()
    finally:
        served.stop()
