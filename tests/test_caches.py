"""Spark's table-cache statements and DuckDB's CHECKPOINT: CACHE TABLE and REFRESH TABLE check
their table and do nothing (indb keeps no cache), UNCACHE TABLE and CHECKPOINT do nothing, CACHE
TABLE v AS query makes a temporary view."""

from __future__ import annotations

import pytest

import indb
from indb.errors import PrivilegeError, SqlError


@pytest.fixture
def conn(tmp_path):
    with indb.connect(tmp_path / "db") as connection:
        connection.sql("CREATE TABLE t AS SELECT range AS x FROM range(3)")
        yield connection


@pytest.mark.parametrize("sql", ["CACHE TABLE t", "CACHE LAZY TABLE t", "REFRESH TABLE t",
                                 "UNCACHE TABLE t", "UNCACHE TABLE IF EXISTS nope"])
def test_a_spark_script_s_cache_statements_run_and_change_nothing(conn, sql):
    result = conn.sql(sql)
    assert "nothing to do" in result.message or "keeps no cache" in result.message
    assert conn.sql("SELECT count(*) FROM t").fetchone() == (3,)


@pytest.mark.parametrize("sql", ["CACHE TABLE nope", "REFRESH TABLE nope", "UNCACHE TABLE nope"])
def test_a_table_that_does_not_exist_is_refused(conn, sql):
    with pytest.raises(SqlError, match="nope does not exist"):
        conn.sql(sql)


def test_cache_table_as_a_query_is_a_temporary_view(tmp_path, conn):
    conn.sql("CACHE TABLE big AS SELECT x FROM t WHERE x > 0")
    assert conn.sql("SELECT x FROM big ORDER BY x").fetchall() == [(1,), (2,)]
    assert conn.sql("SHOW VIEWS").fetchall() == [("big", "SELECT x FROM t WHERE x > 0", True)]
    assert "nothing to do" in conn.sql("REFRESH TABLE big").message
    with indb.connect(tmp_path / "db") as other:  # the session's alone
        with pytest.raises(SqlError, match="big does not exist"):
            other.sql("SELECT * FROM big")


def test_caching_a_table_needs_what_reading_it_does(conn):
    conn.sql("CREATE USER ann")
    with conn._engine.as_user("ann"):
        with pytest.raises(PrivilegeError):
            conn.sql("CACHE TABLE t")


@pytest.mark.parametrize("sql", ["CHECKPOINT", "checkpoint memory", "FORCE CHECKPOINT",
                                 "FORCE CHECKPOINT db"])
def test_duckdb_s_checkpoint_does_nothing(conn, sql):
    """Every write is in its table's snapshot once it returns: no log to fold in."""
    assert conn.sql(sql).message == "CHECKPOINT"


@pytest.mark.parametrize("sql", ["FORCE CHECKPOINT a b", "FORCE x"])
def test_a_checkpoint_takes_at_most_a_database(conn, sql):
    with pytest.raises(SqlError, match=r"\[FORCE\] CHECKPOINT \[db\]"):
        conn.sql(sql)
