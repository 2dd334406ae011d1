"""Sequences: CREATE/ALTER/DROP SEQUENCE, nextval/currval/setval/lastval (of an identity
column's sequence too), DEFAULT nextval('s'), ADD GENERATED AS IDENTITY, their privileges, and
what PostgreSQL clients see of them through the pg port."""

from __future__ import annotations

import threading

import psycopg
import pyarrow as pa
import pytest

import indb
from indb.errors import CatalogError, DataError, PrivilegeError, SqlError
from serving import Served


@pytest.fixture
def conn(tmp_path):
    with indb.connect(tmp_path / "db") as connection:
        yield connection


def one(conn, sql):
    return conn.sql(sql).fetchall()


def test_a_sequence_numbers_as_postgresql_does(conn):
    conn.sql("CREATE SEQUENCE s START 100")
    assert one(conn, "SELECT nextval('s'), nextval('s')") == [(100, 101)]
    assert one(conn, "SELECT nextval('s') FROM range(3)") == [(102,), (103,), (104,)]
    assert one(conn, "SELECT currval('s'), lastval()") == [(104, 104)]
    assert one(conn, "SELECT setval('s', 5)") == [(5,)]
    assert one(conn, "SELECT nextval('public.s'::regclass)") == [(6,)]  # pg_dump's form
    conn.sql("SELECT pg_catalog.setval('s', 5, false)")
    assert one(conn, "SELECT nextval('S')") == [(5,)]  # unquoted: folded to lower case
    # read as a table, PostgreSQL's one row of its state (what pgAdmin shows)
    assert one(conn, "SELECT last_value, log_cnt, is_called FROM public.s") == [(5, 0, True)]
    assert one(conn, "WITH s AS (SELECT 1 AS x) SELECT * FROM s") == [(1,)]  # the CTE's
    conn.sql("ALTER SEQUENCE s RESTART WITH 50 INCREMENT BY 10")
    conn.sql("ALTER SEQUENCE s AS integer")  # its maximum becomes integer's
    assert one(conn, "SELECT nextval('s'), nextval('s')") == [(50, 60)]
    shown = conn.sql("SHOW SEQUENCES").arrow().to_pylist()
    assert shown == [{"name": "s", "type": "INTEGER", "start": 100, "increment": 10, "minimum": 1,
                      "maximum": 2**31 - 1, "cycle": False, "owned_by": None, "last_value": 60}]


def test_bounds_cycle_and_descending(conn):
    conn.sql("CREATE SEQUENCE down INCREMENT -1 MINVALUE -3 MAXVALUE -1 CYCLE")
    assert [v for v, in one(conn, "SELECT nextval('down') FROM range(5)")] == [-1, -2, -3, -1, -2]
    conn.sql("CREATE SEQUENCE small AS smallint MAXVALUE 2")
    with pytest.raises(DataError, match="reached maximum value of sequence small"):
        conn.sql("SELECT nextval('small') FROM range(3)")
    assert one(conn, "SELECT nextval('small')") == [(1,)]  # the failed statement took none
    with pytest.raises(DataError, match="out of bounds"):
        conn.sql("SELECT setval('small', 3)")
    with pytest.raises(SqlError, match="AS smallint, integer, bigint"):
        conn.sql("CREATE SEQUENCE bad AS varchar")
    with pytest.raises(SqlError, match="START value"):
        conn.sql("CREATE SEQUENCE bad START 0")


def test_currval_is_the_sessions(conn, tmp_path):
    conn.sql("CREATE SEQUENCE s")
    with pytest.raises(DataError, match="not yet defined in this session"):
        conn.sql("SELECT currval('s')")
    conn.sql("SELECT nextval('s')")
    other: list[object] = []

    def elsewhere() -> None:  # another thread is another session: its own currval
        with indb.connect(tmp_path / "db") as second:
            try:
                second.sql("SELECT currval('s')")
            except DataError as error:
                other.append(error)
            other.append(second.sql("SELECT nextval('s')").fetchall())
    thread = threading.Thread(target=elsewhere)
    thread.start()
    thread.join()
    assert isinstance(other[0], DataError) and other[1] == [(2,)]
    assert one(conn, "SELECT currval('s')") == [(1,)]


def test_a_serial_column_as_pg_dump_writes_it(conn):
    conn.sql("CREATE TABLE t (id integer NOT NULL, name text)")
    conn.sql("CREATE SEQUENCE public.t_id_seq AS integer START WITH 1 INCREMENT BY 1 "
             "NO MINVALUE NO MAXVALUE CACHE 1")
    conn.sql("ALTER SEQUENCE public.t_id_seq OWNED BY public.t.id")
    conn.sql("ALTER TABLE ONLY public.t ALTER COLUMN id SET DEFAULT "
             "nextval('public.t_id_seq'::regclass)")
    conn.sql("INSERT INTO t (id, name) VALUES (1, 'a'), (2, 'b')")
    conn.sql("SELECT pg_catalog.setval('public.t_id_seq', 2, true)")
    conn.sql("INSERT INTO t (name) VALUES ('c'), ('d')")
    conn.sql("INSERT INTO t VALUES (DEFAULT, 'e')")
    assert one(conn, "SELECT id, name FROM t ORDER BY id") == [
        (1, "a"), (2, "b"), (3, "c"), (4, "d"), (5, "e")]
    assert one(conn, "SELECT currval('t_id_seq')") == [(5,)]  # the INSERT's default took it
    with pytest.raises(SqlError, match="DEFAULT of column id of table t uses it"):
        conn.sql("DROP SEQUENCE t_id_seq")
    conn.sql("ALTER TABLE t RENAME COLUMN id TO key")  # the sequence follows its column
    assert conn.sql("SHOW SEQUENCES").arrow()["owned_by"].to_pylist() == ["t.key"]
    conn.sql("DROP TABLE t")  # and goes with its table
    assert conn.sql("SHOW SEQUENCES").arrow().num_rows == 0


def test_a_default_names_a_sequence_that_exists(conn):
    with pytest.raises(CatalogError, match="sequence nope does not exist"):
        conn.sql("CREATE TABLE t (id BIGINT DEFAULT nextval('nope'))")
    with pytest.raises(SqlError, match="nextval\\('s'\\) alone"):
        conn.sql("CREATE TABLE t (id BIGINT DEFAULT nextval('nope') + 1)")
    conn.sql("CREATE SEQUENCE s START 7")
    conn.sql("CREATE TABLE t (id BIGINT DEFAULT nextval('s'), v INT)")
    conn.sql("INSERT INTO t (v) SELECT range FROM range(3)")
    assert one(conn, "SELECT id, v FROM t ORDER BY v") == [(7, 0), (8, 1), (9, 2)]
    with pytest.raises(SqlError, match="DEFAULT of column id"):  # (DuckDB refuses it too)
        conn.sql("CREATE OR REPLACE SEQUENCE s START 1")
    conn.sql("CREATE OR REPLACE SEQUENCE other START 3")  # DuckDB's: made, then made again
    conn.sql("CREATE OR REPLACE SEQUENCE other START 40 INCREMENT BY 2")
    assert one(conn, "SELECT nextval('other'), nextval('other')") == [(40, 42)]


def test_an_identity_added_and_its_sequence_set(conn):
    conn.sql("CREATE TABLE t (id bigint NOT NULL, v integer)")
    conn.sql("ALTER TABLE public.t ALTER COLUMN id ADD GENERATED ALWAYS AS IDENTITY (SEQUENCE "
             "NAME public.t_id_seq START WITH 10 INCREMENT BY 5 NO MINVALUE NO MAXVALUE CACHE 1)")
    with pytest.raises(SqlError, match="GENERATED ALWAYS"):
        conn.load("t", pa.table({"id": [10], "v": pa.array([1], pa.int32())}))
    rows = pa.table({"id": [10, 15], "v": pa.array([1, 2], pa.int32())})
    conn.load("t", rows, overriding="SYSTEM")  # as PostgreSQL's COPY takes them
    conn.sql("SELECT setval('t_id_seq', 15)")
    conn.sql("INSERT INTO t (v) VALUES (3)")
    assert one(conn, "SELECT id, v FROM t ORDER BY id") == [(10, 1), (15, 2), (20, 3)]
    assert one(conn, "SELECT nextval('t_id_seq'), currval('t_id_seq')") == [(25, 25)]
    with pytest.raises(DataError, match="not a number of identity sequence"):
        conn.sql("SELECT setval('t_id_seq', 12)")
    with pytest.raises(SqlError, match="GENERATED ALWAYS"):
        conn.sql("INSERT INTO t VALUES (99, 4)")
    conn.sql("ALTER TABLE t ALTER COLUMN id DROP IDENTITY")
    conn.sql("INSERT INTO t VALUES (99, 4)")
    with pytest.raises(CatalogError, match="sequence t_id_seq does not exist"):
        conn.sql("SELECT nextval('t_id_seq')")
    with pytest.raises(SqlError, match="must be NOT NULL"):
        conn.sql("ALTER TABLE t ALTER COLUMN v ADD GENERATED BY DEFAULT AS IDENTITY")


def test_an_identity_s_bounds_are_its_type_s_and_its_sequence_reads_as_a_table(conn):
    """pg_dump writes an INTEGER identity's bound (``MAXVALUE 2147483647``) and reads its
    sequence's state as a table (``SELECT last_value, is_called FROM t_id_seq``)."""
    conn.sql("CREATE TABLE t (id integer NOT NULL, v integer)")
    for bound in ("MAXVALUE 2147483648", "MINVALUE 0"):
        with pytest.raises(SqlError, match="bounds of its type"):
            conn.sql(f"ALTER TABLE t ALTER COLUMN id ADD GENERATED BY DEFAULT AS IDENTITY ({bound})")
    with pytest.raises(SqlError, match="no CYCLE"):
        conn.sql("ALTER TABLE t ALTER COLUMN id ADD GENERATED BY DEFAULT AS IDENTITY (CYCLE)")
    conn.sql("ALTER TABLE t ALTER COLUMN id ADD GENERATED BY DEFAULT AS IDENTITY (SEQUENCE NAME "
             "t_id_seq START WITH 10 INCREMENT BY 5 NO MINVALUE MAXVALUE 2147483647 CACHE 1)")
    assert one(conn, "SELECT last_value, log_cnt, is_called FROM t_id_seq") == [(10, 0, False)]
    conn.sql("INSERT INTO t (v) VALUES (1), (2)")
    assert one(conn, "SELECT last_value, is_called FROM public.t_id_seq") == [(15, True)]
    conn.sql("CREATE TABLE down (id smallint NOT NULL)")
    conn.sql("ALTER TABLE down ALTER COLUMN id ADD GENERATED ALWAYS AS IDENTITY (INCREMENT BY -1 "
             "MINVALUE -32768 MAXVALUE -1 START WITH -1)")
    conn.sql("INSERT INTO down DEFAULT VALUES")
    assert one(conn, "SELECT id FROM down") == [(-1,)]


def test_drop_sequence_and_its_errors(conn):
    conn.sql("CREATE SEQUENCE a")
    conn.sql("CREATE SEQUENCE IF NOT EXISTS a")
    with pytest.raises(CatalogError, match="already exists"):
        conn.sql("CREATE SEQUENCE a")
    with pytest.raises(CatalogError, match="sequence b does not exist"):
        conn.sql("DROP SEQUENCE a, b")
    assert conn.sql("SHOW SEQUENCES").arrow().num_rows == 1  # nothing dropped
    with pytest.raises(CatalogError, match="a is a sequence"):
        conn.sql("CREATE TABLE a (x INT)")
    conn.sql("DROP SEQUENCE IF EXISTS a, b")
    with pytest.raises(CatalogError, match="sequence a does not exist"):
        conn.sql("SELECT nextval('a')")
    with pytest.raises(SqlError, match="takes a sequence"):
        conn.sql("SELECT nextval()")
    with pytest.raises(SqlError, match="a view does not call nextval"):
        conn.sql("CREATE VIEW v AS SELECT nextval('a') AS n")
    with pytest.raises(SqlError, match="run on the workers"):
        conn.sql("EXECUTE FUNCTION f(INPUT_TABLE_NAMES => INPUT_TABLES((SELECT nextval('a'))))")


def test_sequence_privileges(tmp_path):
    path = tmp_path / "db"
    with indb.connect(path) as conn:
        conn.sql("CREATE SEQUENCE s")
        conn.sql("CREATE TABLE t (id BIGINT DEFAULT nextval('s'), v INT)")
        conn.sql("CREATE USER ann")
        conn.sql("GRANT INSERT, SELECT ON TABLE t TO ann")
    with indb.connect(path, user="ann") as ann:
        with pytest.raises(PrivilegeError, match="USAGE"):
            ann.sql("SELECT nextval('s')")
        ann.sql("INSERT INTO t (v) VALUES (1)")  # a DEFAULT numbers with INSERT on the table
        with pytest.raises(PrivilegeError):
            ann.sql("CREATE SEQUENCE mine")  # making one needs developer, as a table does
    with indb.connect(path) as conn:
        conn.sql("GRANT USAGE ON SEQUENCE s TO ann")
    with indb.connect(path, user="ann") as ann:
        assert ann.sql("SELECT nextval('s')").fetchall() == [(2,)]
        with pytest.raises(PrivilegeError, match="SELECT privilege on it"):
            ann.sql("SELECT last_value FROM s")
        with pytest.raises(PrivilegeError, match="UPDATE"):
            ann.sql("SELECT setval('s', 10)")
        with pytest.raises(PrivilegeError):
            ann.sql("DROP SEQUENCE s")


def test_postgresql_clients_see_and_use_sequences(tmp_path):
    path = tmp_path / "db"
    with indb.connect(path) as conn:
        conn.sql("CREATE SEQUENCE orders_seq START 1000")
        conn.sql("CREATE TABLE orders (id BIGINT NOT NULL DEFAULT nextval('orders_seq'), item TEXT)")
    served = Served(path)
    try:
        dsn = f"host=127.0.0.1 port={served.pg_port} dbname=indb user=admin"
        with psycopg.connect(dsn, autocommit=True) as first, \
                psycopg.connect(dsn, autocommit=True) as second:
            # prepared: described without taking a number, then run
            got = [first.execute("SELECT nextval(%s)", ["orders_seq"], prepare=True).fetchone()
                   for _ in range(3)]
            assert got == [(1000,), (1001,), (1002,)]
            assert second.execute("SELECT nextval('orders_seq')").fetchone() == (1003,)
            assert first.execute("SELECT currval('orders_seq')").fetchone() == (1002,)
            first.execute("INSERT INTO orders (item) VALUES ('x')")
            assert first.execute("SELECT id FROM orders").fetchone() == (1004,)
            kinds = first.execute("SELECT relname, relkind FROM pg_catalog.pg_class WHERE relname "
                                  "IN ('orders_seq', 'orders') ORDER BY 1").fetchall()
            assert kinds == [("orders", "r"), ("orders_seq", "S")]
            default = first.execute("SELECT column_default FROM information_schema.columns WHERE "
                                    "table_name = 'orders' AND column_name = 'id'").fetchone()
            assert "orders_seq" in default[0]
            # the command tags PostgreSQL sends (psql prints them, drivers read them)
            tags = [first.execute(sql).statusmessage for sql in (
                "CREATE SEQUENCE other", "ALTER SEQUENCE other RESTART", "DROP SEQUENCE other",
                "COMMENT ON TABLE orders IS 'placed'")]
            assert tags == ["CREATE SEQUENCE", "ALTER SEQUENCE", "DROP SEQUENCE", "COMMENT"]
            assert first.execute("SHOW SEQUENCES").fetchall()[0][0] == "orders_seq"
    finally:
        served.stop()


def test_sessions_at_once_never_get_one_number_twice(tmp_path):
    path = tmp_path / "db"
    with indb.connect(path) as conn:
        conn.sql("CREATE SEQUENCE s")
    taken: list[int] = []
    failures: list[BaseException] = []

    def take() -> None:
        try:
            with indb.connect(path) as session:
                for _ in range(10):
                    taken.extend(v for v, in session.sql("SELECT nextval('s') FROM range(5)").fetchall())
        except BaseException as error:  # noqa: BLE001 (reported below)
            failures.append(error)
    threads = [threading.Thread(target=take) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not failures
    assert sorted(taken) == list(range(1, 201))  # 4 sessions x 10 statements x 5 rows
