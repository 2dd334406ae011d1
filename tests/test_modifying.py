"""PostgreSQL's data-modifying statements in WITH (``indb.engine.modifying``): the WITH queries
that write run first, once each, their RETURNING rows read by the rest; the whole one
transaction, checked against the user's privileges part by part."""

from __future__ import annotations

import psycopg
import pytest

import indb
from indb.errors import IntegrityError, PrivilegeError, SqlError
from serving import Served


@pytest.fixture()
def conn(tmp_path):
    with indb.connect(tmp_path / "db") as conn:
        conn.sql("CREATE TABLE t (id INTEGER PRIMARY KEY, v INTEGER)")
        conn.sql("CREATE TABLE archive (id INTEGER, v INTEGER)")
        conn.sql("INSERT INTO t VALUES (1, 10), (2, 20), (3, 30)")
        yield conn


def rows(conn, table):
    return conn.sql(f"SELECT * FROM {table} ORDER BY id").fetchall()


def test_rows_deleted_are_moved_in_one_statement(conn):
    result = conn.sql("WITH moved AS (DELETE FROM t WHERE id > 1 RETURNING *) "
                      "INSERT INTO archive SELECT * FROM moved")
    assert result.rowcount == 2
    assert rows(conn, "t") == [(1, 10)] and rows(conn, "archive") == [(2, 20), (3, 30)]


def test_a_query_reads_what_an_update_returned_and_the_plain_queries_before_it(conn):
    got = conn.sql("WITH big AS (SELECT 1 AS floor), up AS (UPDATE t SET v = v * 10 "
                   "WHERE id > (SELECT floor FROM big) RETURNING id, v) "
                   "SELECT count(*), sum(up.v), min(b.floor) FROM up, big b").fetchall()
    assert got == [(2, 500, 1)]
    assert rows(conn, "t") == [(1, 10), (2, 200), (3, 300)]


def test_each_write_runs_once_in_order_and_a_later_one_reads_an_earlier_one(conn):
    conn.sql("WITH a AS (INSERT INTO t VALUES (4, 40) RETURNING id), "
             "b AS (DELETE FROM t WHERE id = 1), "  # read by nobody: it runs all the same
             "c AS (INSERT INTO archive SELECT id, 0 FROM a RETURNING id) "
             "SELECT 1")
    assert rows(conn, "t") == [(2, 20), (3, 30), (4, 40)] and rows(conn, "archive") == [(4, 0)]


def test_a_failing_part_writes_nothing(conn):
    with pytest.raises(IntegrityError):
        conn.sql("WITH moved AS (DELETE FROM t WHERE id = 3 RETURNING *) "
                 "INSERT INTO t SELECT 1, v FROM moved")  # id 1 is taken
    assert rows(conn, "t") == [(1, 10), (2, 20), (3, 30)]  # the delete was not committed


def test_inside_a_transaction_it_is_the_transaction_s(conn):
    conn.sql("BEGIN")
    conn.sql("WITH moved AS (DELETE FROM t RETURNING *) INSERT INTO archive SELECT * FROM moved")
    assert rows(conn, "t") == [] and len(rows(conn, "archive")) == 3
    conn.sql("ROLLBACK")
    assert len(rows(conn, "t")) == 3 and rows(conn, "archive") == []


def test_what_postgresql_refuses_is_refused_with_its_place(conn):
    with pytest.raises(SqlError, match="must be in the statement's own WITH") as nested:
        conn.sql("SELECT * FROM (\n  WITH d AS (DELETE FROM t RETURNING *) SELECT * FROM d) x")
    assert nested.value.line == 2
    with pytest.raises(SqlError, match="writes without RETURNING"):
        conn.sql("WITH d AS (DELETE FROM t WHERE id = 1) SELECT * FROM d")
    with pytest.raises(SqlError, match="parameters are not all given"):
        conn.sql("WITH d AS (DELETE FROM t WHERE id = ? RETURNING *) SELECT ? FROM d", [1])
    assert len(rows(conn, "t")) == 3  # nothing ran


def test_each_part_needs_its_own_privilege(tmp_path):
    with indb.connect(tmp_path / "db") as owner:
        owner.sql("CREATE TABLE t (id INTEGER)")
        owner.sql("CREATE TABLE archive (id INTEGER)")
        owner.sql("INSERT INTO t VALUES (1)")
        owner.sql("CREATE USER ann")
        owner.sql("GRANT SELECT, INSERT ON TABLE archive TO ann")
        owner.sql("GRANT SELECT ON TABLE t TO ann")
        with owner._engine.as_user("ann"):
            with pytest.raises(PrivilegeError, match="DELETE"):
                owner.sql("WITH d AS (DELETE FROM t RETURNING *) INSERT INTO archive SELECT * FROM d")
        assert rows(owner, "t") == [(1,)] and rows(owner, "archive") == []


def test_through_the_pg_port(tmp_path):
    with indb.connect(tmp_path / "db") as conn:
        conn.sql("CREATE TABLE t (id INTEGER, v INTEGER)")
        conn.sql("CREATE TABLE archive (id INTEGER, v INTEGER)")
        conn.sql("INSERT INTO t VALUES (1, 10), (2, 20)")
    server = Served(tmp_path / "db")
    try:
        with psycopg.connect(host="127.0.0.1", port=server.pg_port, user="admin", dbname="indb") as pg:
            cursor = pg.execute("WITH moved AS (DELETE FROM t WHERE id = %s RETURNING *) "
                                "INSERT INTO archive SELECT * FROM moved", [2])  # (as $1)
            assert cursor.statusmessage == "INSERT 0 1"
            pg.commit()
            assert pg.execute("SELECT * FROM archive").fetchall() == [(2, 20)]
            assert pg.execute("SELECT * FROM t").fetchall() == [(1, 10)]
    finally:
        server.stop()


def test_a_statement_whose_with_writes_is_neither_prepared_nor_explained(conn):
    for word in ("PREPARE q AS", "EXPLAIN"):
        with pytest.raises(SqlError, match=f"{word.split()[0]} of a statement whose WITH writes"):
            conn.sql(f"{word} WITH d AS (DELETE FROM t RETURNING *) SELECT * FROM d")
    assert len(rows(conn, "t")) == 3


def test_parameters_go_to_the_parts_that_take_them_in_the_order_written(conn):
    # the WITH's ? comes first in the text and last in sqlglot's tree
    assert conn.sql("WITH d AS (DELETE FROM t WHERE id >= ? RETURNING *) "
                    "INSERT INTO archive SELECT * FROM d WHERE v < ?", [2, 25]).rowcount == 1
    assert rows(conn, "archive") == [(2, 20)] and rows(conn, "t") == [(1, 10)]
    assert conn.sql("WITH u AS (UPDATE t SET v = $2 WHERE id = $1 RETURNING *) SELECT v + $2 FROM u",
                    [1, 5]).fetchall() == [(10,)]


def test_a_write_s_plain_with_takes_its_parameters_in_the_order_written(conn):
    conn.sql("WITH n AS (SELECT ? AS v) UPDATE t SET v = (SELECT v FROM n) WHERE id = ?", [7, 1])
    assert rows(conn, "t")[0] == (1, 7)


def test_a_write_s_own_table_is_the_table_though_a_with_query_has_its_name(conn):
    # archive, the WITH query, is read from; archive, the INSERT's table, is written
    conn.sql("WITH archive AS (DELETE FROM t WHERE id = 3 RETURNING *) "
             "INSERT INTO archive SELECT id, v * 2 FROM archive")
    assert rows(conn, "archive") == [(3, 60)] and len(rows(conn, "t")) == 2
