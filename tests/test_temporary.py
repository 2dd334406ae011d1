"""Temporary tables: a session's own, before any table of the same name, gone with the session;
on an embedded connection, and on the PostgreSQL port's sessions (COPY into one, ON COMMIT
DROP and DELETE ROWS at COMMIT, DISCARD TEMP); the HTTP API, which has no session, refuses them."""

from __future__ import annotations

import shutil
import signal
import subprocess
import sys
import time

import httpx
import pyarrow as pa
import psycopg
import pytest

import indb
from indb.errors import PrivilegeError, SqlError
from serving import Served


def test_a_temporary_table_is_the_session_s_own_and_goes_with_it(tmp_path):
    with indb.connect(tmp_path / "db") as conn:
        conn.sql("CREATE TABLE t AS SELECT 1 AS a")
    first, other = indb.connect(tmp_path / "db"), indb.connect(tmp_path / "db")
    first.sql("CREATE TEMP TABLE t (a INTEGER, b VARCHAR)")  # before main.t, in this session
    first.sql("INSERT INTO t VALUES (2, 'x')")
    first.load("t", pa.table({"a": pa.array([3], pa.int32()), "b": ["y"]}))  # the API's too
    assert first.sql("SELECT a, b FROM t ORDER BY a").fetchall() == [(2, "x"), (3, "y")]
    assert first.sql("SELECT a FROM main.t").fetchall() == [(1,)]
    for name in ("pg_temp.t", "temp.t", "temp.main.t"):  # PostgreSQL's and DuckDB's names of it
        assert first.sql(f"SELECT count(*) FROM {name}").fetchall() == [(2,)]
    assert first.sql("WITH t AS (SELECT 9 AS a) SELECT a FROM t").fetchall() == [(9,)]
    assert other.sql("SELECT a FROM t").fetchall() == [(1,)]  # the other session's t is main's
    schema = first.engine.temporaries.schema
    assert schema.startswith("pg_temp_") and schema in first.sql("SHOW SCHEMAS").df()["name"].tolist()
    first.sql("CREATE TEMPORARY TABLE keyed (k INTEGER PRIMARY KEY) ON COMMIT PRESERVE ROWS")
    first.sql("INSERT INTO keyed VALUES (1)")
    with pytest.raises(indb.IntegrityError):  # a table as any other: its key holds
        first.sql("INSERT INTO keyed VALUES (1)")
    first.sql("CREATE TABLE made AS SELECT 5 AS a")
    first.sql("CREATE TEMP TABLE made AS SELECT a + 1 AS a FROM made")  # of main's made
    first.sql("CREATE OR REPLACE TABLE made AS SELECT a * 10 AS a FROM made")  # main's, of the temp
    assert other.sql("SELECT a FROM made").fetchall() == [(60,)]
    first.sql("DROP TABLE t")
    assert first.sql("SELECT a FROM t").fetchall() == [(1,)]  # main's again
    first.close()
    assert schema not in other.sql("SHOW SCHEMAS").df()["name"].tolist()  # dropped, tables too
    assert sorted(r[0] for r in other.sql("SHOW TABLES").fetchall()) == ["made", "t"]
    other.close()


DOUBLE_IT = """CREATE FUNCTION double_it LANGUAGE PYTHON HANDLER 'double_it' AS $$
from indb import udf

@udf.function(frame="numpy")
def double_it(ctx, t):
    return {"x": t["x"] * 2}
$$"""


def test_queries_and_function_runs_of_the_session_read_it_by_its_name(tmp_path):
    with indb.connect(tmp_path / "db", cluster="threads", workers=1) as conn:
        conn.sql(DOUBLE_IT)
        conn.sql("CREATE TEMP TABLE a AS SELECT range::BIGINT AS x FROM range(3)")
        conn.sql("SELECT x + 10 AS x INTO TEMP b FROM a")  # PostgreSQL's CREATE TEMP TABLE AS
        conn.sql("ALTER TABLE b RENAME TO c")  # in its schema still, known by its new name
        conn.sql("SELECT * INTO b FROM c")  # a table of main's, of the temporary one
        conn.sql("EXECUTE FUNCTION double_it(INPUT_TABLE_NAMES => INPUT_TABLE(b), "
                 "OUTPUT_TABLE_NAMES => OUTPUT_TABLES('doubled'))")
        assert conn.sql("SELECT x FROM doubled ORDER BY x").fetchall() == [(20,), (22,), (24,)]
        assert conn.sql("SELECT count(*) FROM main.b").fetchall() == [(3,)]
        rows = conn.sql("SELECT x FROM TABLE(double_it(INPUT_TABLE_NAMES => INPUT_TABLE('a')))")
        assert sorted(rows.fetchall()) == [(0,), (2,), (4,)]
        conn.sql("EXECUTE FUNCTION double_it(INPUT_TABLE_NAMES => 'a', "  # Kinetica's form
                 "OUTPUT_TABLE_NAMES => OUTPUT_TABLES('twice'))")
        assert conn.sql("SELECT x FROM twice ORDER BY x").fetchall() == [(0,), (2,), (4,)]


def test_kinetica_s_temp_table_of_a_schema_is_a_table_of_that_schema(tmp_path):
    with indb.connect(tmp_path / "db") as conn:
        conn.sql("CREATE SCHEMA example")
        conn.sql("CREATE TEMP TABLE example.scratch AS SELECT 1 AS x")  # memory-only there
    with indb.connect(tmp_path / "db") as conn:  # another session sees it, as Kinetica's would
        assert conn.sql("SELECT x FROM example.scratch").fetchall() == [(1,)]


def test_any_user_may_make_one_and_only_in_its_own_schema(tmp_path):
    with indb.connect(tmp_path / "db") as conn:
        conn.sql("CREATE TABLE prices AS SELECT 10 AS px")
        conn.sql("CREATE TABLE salaries AS SELECT 99 AS pay")
        conn.sql("CREATE USER ann")
        conn.sql("GRANT analyst TO ann")
        conn.sql("GRANT SELECT ON prices TO ann")
    with indb.connect(tmp_path / "db", user="ann") as ann:
        ann.sql("CREATE TEMP TABLE mine AS SELECT px * 2 AS px FROM prices")
        assert ann.sql("SELECT px FROM mine").fetchall() == [(20,)]
        with pytest.raises(PrivilegeError, match="developer"):
            ann.sql("CREATE TABLE shared (x INTEGER)")
        with pytest.raises(PrivilegeError, match="developer"):  # Kinetica's: a table of main
            ann.sql("CREATE TEMP TABLE main.x (x INTEGER)")
        ann.sql("CREATE TEMP VIEW doubled AS SELECT px * 2 AS px FROM prices")  # a view too
        assert ann.sql("SELECT px FROM doubled").fetchall() == [(20,)]
        with pytest.raises(PrivilegeError, match="salaries"):  # its reads are hers
            ann.sql("CREATE TEMP VIEW pay AS SELECT pay FROM salaries")
        with pytest.raises(SqlError, match="temporary sequences are not supported"):
            ann.sql("CREATE TEMP SEQUENCE s")


def test_a_temporary_view_names_a_query_for_the_session_alone(tmp_path):
    with indb.connect(tmp_path / "db", cluster="threads", workers=1) as conn:
        conn.sql(DOUBLE_IT)
        conn.sql("CREATE TABLE t AS SELECT range::BIGINT AS x FROM range(5)")
    first, other = indb.connect(tmp_path / "db"), indb.connect(tmp_path / "db")
    first.sql("CREATE OR REPLACE TEMPORARY VIEW big AS SELECT x FROM t WHERE x > 1")  # Spark's
    first.sql("CREATE TEMP TABLE stage AS SELECT x * 10 AS y FROM big")
    first.sql("CREATE TEMP VIEW joined AS SELECT s.y, b.x FROM stage s JOIN big b ON s.y = b.x * 10")
    assert first.sql("SELECT count(*) FROM joined").fetchall() == [(3,)]
    assert first.sql("SELECT v.x FROM big AS v(x) WHERE v.x < 3").fetchall() == [(2,)]
    assert [r[:2] for r in first.sql("DESCRIBE joined").fetchall()] == [("y", "BIGINT"),
                                                                        ("x", "BIGINT")]
    assert first.sql("SUMMARIZE big").fetchall()[0][0] == "x"
    first.sql("CREATE OR REPLACE TEMP VIEW big AS SELECT x FROM t WHERE x > 3")
    assert first.sql("SELECT count(*) FROM joined").fetchall() == [(1,)]  # reads big as it is now
    rows = first.sql("SELECT x FROM TABLE(double_it(INPUT_TABLE_NAMES => INPUT_TABLE("
                     "SELECT x FROM big)))").fetchall()
    assert rows == [(8,)]
    with pytest.raises(SqlError, match="x is a temporary view, which cannot be written|big is a"):
        first.sql("INSERT INTO big VALUES (7)")
    with pytest.raises(indb.CatalogError, match="would read itself"):
        first.sql("CREATE OR REPLACE TEMP VIEW big AS SELECT x FROM joined")
    with pytest.raises(SqlError, match="nope"):  # checked when made, and nothing kept
        first.sql("CREATE TEMP VIEW broken AS SELECT nope FROM t")
    with pytest.raises(SqlError, match="broken"):
        first.sql("SELECT * FROM broken")
    with pytest.raises(indb.CatalogError, match="joined reads big"):
        first.sql("DROP VIEW big")
    with pytest.raises(SqlError, match="big"):  # no other session's, and in no catalog
        other.sql("SELECT * FROM big")
    assert [(r[0], r[2]) for r in first.sql("SHOW VIEWS").fetchall()] == [
        ("big", True), ("joined", True)]  # the session's, listed after the catalog's
    first.sql("DROP VIEW joined")
    first.sql("DROP VIEW big")
    with pytest.raises(SqlError, match="big"):
        first.sql("SELECT * FROM big")
    first.sql("CREATE TEMP VIEW gone AS SELECT 1 AS x")
    first.close()
    with indb.connect(tmp_path / "db") as again, pytest.raises(SqlError, match="gone"):
        again.sql("SELECT * FROM gone")
    other.close()


KILLED = """import os, signal, sys
import indb
conn = indb.connect(sys.argv[1])
conn.sql("CREATE TEMP TABLE left_behind AS SELECT 1 AS a")
print(conn.engine.temporaries.schema, flush=True)
os.kill(os.getpid(), signal.SIGKILL)  # no close: its schema stays
"""


def test_a_killed_process_s_schema_goes_with_the_next_session_s_first_temporary_table(tmp_path):
    with indb.connect(tmp_path / "db") as conn:
        conn.sql("CREATE TABLE t AS SELECT 1 AS a")
    killed = subprocess.run([sys.executable, "-c", KILLED, str(tmp_path / "db")],
                            capture_output=True, text=True, timeout=120)
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    dead = killed.stdout.strip()
    live = indb.connect(tmp_path / "db")
    assert dead in live.sql("SHOW SCHEMAS").df()["name"].tolist()  # connecting sweeps nothing
    live.sql("CREATE TEMP TABLE mine AS SELECT 2 AS b")  # its schema made: the dead one's swept
    with indb.connect(tmp_path / "db") as conn:
        conn.sql("CREATE TEMP TABLE ours AS SELECT 3 AS c")  # live's, this process's, is kept
        schemas = conn.sql("SHOW SCHEMAS").df()["name"].tolist()
        assert dead not in schemas and live.engine.temporaries.schema in schemas
        assert "left_behind" not in " ".join(r[0] for r in conn.sql("SHOW TABLES").fetchall())
    assert live.sql("SELECT b FROM mine").fetchall() == [(2,)]
    live.close()


def test_only_this_host_s_and_this_namespace_s_ended_processes_are_gone():
    from indb.engine.temporary import process_gone, process_identity
    host, boot, namespace, pid, start = process_identity().split(" ")
    assert not process_gone(process_identity())  # this process
    assert process_gone(f"{host} {boot} {namespace} {pid} {int(start) + 1}")  # its number, reused
    assert process_gone(f"{host} another-boot {namespace} {pid} {start}")  # before a reboot
    assert not process_gone(f"another-host {boot} {namespace} {pid} {start}")  # not seen from here
    assert not process_gone(f"{host} {boot} pid:[1] {pid} {start}")  # another container's


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    path = tmp_path_factory.mktemp("temporary") / "db"
    with indb.connect(path) as conn:
        conn.sql("CREATE TABLE target (id INTEGER, name VARCHAR)")
        conn.sql(DOUBLE_IT)
    server = Served(path)
    yield server
    server.stop()


def pg(served, autocommit=True):
    return psycopg.connect(f"host=127.0.0.1 port={served.pg_port} dbname=indb",
                           autocommit=autocommit)


def temporary_schemas(served):
    with served.service.pool.connection() as conn:
        return [n for (n, _) in conn.sql("SHOW SCHEMAS").fetchall() if n.startswith("pg_temp_")]


def schemas_go(served):
    """The temporary schemas are dropped: the server ends a session when the client has gone,
    which it learns after the client's close returns, so this asks until then."""
    deadline = time.monotonic() + 60
    while temporary_schemas(served):
        assert time.monotonic() < deadline, f"{temporary_schemas(served)} left"
        time.sleep(0.05)  # polling the server's catalog: there is nothing to wait on


def test_a_postgresql_session_stages_rows_in_a_temporary_table(served):
    with pg(served) as conn, pg(served) as other:
        conn.execute("CREATE TEMP TABLE stage (id INTEGER, name VARCHAR)")
        with conn.cursor().copy("COPY stage (id, name) FROM STDIN") as copy:
            copy.write_row((1, "a"))
            copy.write_row((2, "b"))
        assert conn.execute("INSERT INTO target SELECT * FROM stage").rowcount == 2
        # dbt's incremental models read a temporary table's columns by its name alone
        assert conn.execute("SELECT column_name FROM information_schema.columns WHERE "
                            "table_name = 'stage' ORDER BY ordinal_position").fetchall() == [
            ("id",), ("name",)]
        with pytest.raises(psycopg.Error, match="stage"):
            other.execute("SELECT * FROM stage")
        conn.execute("CREATE TEMP VIEW named AS SELECT name FROM stage WHERE id = 2")
        assert conn.execute("SELECT name FROM named").fetchall() == [("b",)]
        with pytest.raises(psycopg.Error, match="named"):
            other.execute("SELECT * FROM named")
        conn.execute("EXECUTE FUNCTION double_it(INPUT_TABLE_NAMES => INPUT_TABLE(SELECT id AS x "
                     "FROM stage), OUTPUT_TABLE_NAMES => OUTPUT_TABLES('doubled'))")
        assert conn.execute("SELECT x FROM doubled ORDER BY x").fetchall() == [(2,), (4,)]
        conn.execute("DISCARD TEMP")
        with pytest.raises(psycopg.Error, match="stage"):
            conn.execute("SELECT * FROM stage")
        with pytest.raises(psycopg.Error, match="named"):
            conn.execute("SELECT * FROM named")
        conn.execute("CREATE TEMP TABLE last (x INTEGER)")
        conn.execute("DROP TABLE last")  # its schema stays until the session ends
        assert len(temporary_schemas(served)) == 1
    with pg(served) as conn:
        assert conn.execute("SELECT count(*) FROM target").fetchone() == (2,)
    schemas_go(served)


def test_a_postgresql_session_s_function_run_reads_its_temporary_view(served):
    with pg(served) as conn:  # a view alone, no temporary table: the run has its own connection
        conn.execute("CREATE TABLE counted AS SELECT range::BIGINT AS id FROM range(3)")
        conn.execute("CREATE TEMP VIEW ids AS SELECT id AS x FROM counted WHERE id = 1")
        conn.execute("EXECUTE FUNCTION double_it(INPUT_TABLE_NAMES => INPUT_TABLE(SELECT x FROM "
                     "ids), OUTPUT_TABLE_NAMES => OUTPUT_TABLES('viewed'))")
        assert conn.execute("SELECT x FROM viewed").fetchall() == [(2,)]


def test_on_commit_drop_and_delete_rows_at_the_transaction_s_end(served):
    with pg(served, autocommit=False) as conn:
        conn.execute("CREATE TEMP TABLE gone (x INTEGER) ON COMMIT DROP")
        conn.execute("CREATE LOCAL TEMPORARY TABLE emptied ON COMMIT DELETE ROWS AS SELECT 1 AS x")
        conn.execute("CREATE TEMP TABLE kept AS SELECT 1 AS x")
        conn.execute("CREATE TEMP TABLE named ON COMMIT DELETE ROWS AS SELECT 1 AS x")
        conn.execute("ALTER TABLE named RENAME TO renamed")  # what it does at a commit goes with it
        assert conn.execute("SELECT count(*) FROM emptied").fetchone() == (1,)
        conn.commit()
        assert conn.execute("SELECT count(*) FROM emptied").fetchone() == (0,)
        assert conn.execute("SELECT count(*) FROM renamed").fetchone() == (0,)
        assert conn.execute("SELECT count(*) FROM kept").fetchone() == (1,)
        with pytest.raises(psycopg.Error, match="gone"):
            conn.execute("SELECT * FROM gone")
        conn.rollback()
        assert conn.execute("SELECT DISTINCT table_schema FROM information_schema.tables WHERE "
                            "table_name = 'kept'").fetchone()[0] in temporary_schemas(served)
    schemas_go(served)  # the session has ended: its schema went with it


@pytest.mark.skipif(shutil.which("psql") is None, reason="psql is not installed")
def test_psql_describes_and_lists_the_session_s_temporary_table(served):
    run = subprocess.run(["psql", "-h", "127.0.0.1", "-p", str(served.pg_port), "-d", "indb", "-X",
                          "-c", "CREATE TEMP TABLE stage (id INTEGER, name VARCHAR)",
                          "-c", r"\d stage", "-c", r"\dt"], capture_output=True, text=True,
                         timeout=60)
    assert run.returncode == 0 and not run.stderr, run.stderr
    assert 'Table "pg_temp_' in run.stdout and "character varying" in run.stdout
    assert any(line.split("|")[1].strip() == "stage" for line in run.stdout.splitlines()
               if line.count("|") == 3)  # \dt lists it with the tables of main


def test_sqlalchemy_s_inspector_tells_temporary_tables_from_the_others(served):
    sa = pytest.importorskip("sqlalchemy")
    engine = sa.create_engine(f"postgresql+psycopg://127.0.0.1:{served.pg_port}/indb")
    try:
        with engine.connect() as conn:
            conn.execute(sa.text("CREATE TEMP TABLE scratch (x INTEGER)"))
            inspector = sa.inspect(conn)
            assert inspector.get_temp_table_names() == ["scratch"]
            assert "scratch" not in inspector.get_table_names()
            assert "target" in inspector.get_table_names()
    finally:
        engine.dispose()
    schemas_go(served)


def test_the_http_api_has_no_session_to_keep_one(served):
    for sql in ("CREATE TEMP TABLE x (a INTEGER)", "CREATE TEMP VIEW x AS SELECT 1 AS a"):
        response = httpx.post(f"{served.url}/v1/sql", json={"sql": sql})
        assert response.status_code == 400
        assert "HTTP API has none" in response.json()["error"]["message"]
    with served.service.pool.connection() as conn:  # nothing was made
        with pytest.raises(SqlError, match="x does not exist"):
            conn.sql("SELECT * FROM x")
