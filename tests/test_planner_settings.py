"""A connection's own settings (``SET threads = 4``, ``RESET``, DuckDB's ``PRAGMA name = value``):
planned from the statement, carried out on the connection's queries' DuckDB, refused where
there is no session to keep them (the HTTP API)."""

from __future__ import annotations

import httpx
import pytest

import indb
from indb.errors import SqlError
from indb.parser import parse
from indb import planner
from indb.planner import settings
from serving import Served


def plan(sql: str) -> settings.SetSessionSettings:
    tree = parse(sql)[0]
    planned = planner.plan(tree, None)  # (no catalog: a setting reads none)
    assert isinstance(planned, settings.SetSessionSettings)
    return planned


@pytest.mark.parametrize("sql, expected", [
    ("SET threads = 4", (("threads", 4),)),
    ("SET threads TO 4", (("threads", 4),)),
    ("SET GLOBAL worker_threads = 2", (("threads", 2),)),  # DuckDB's other name of it
    ("SET SESSION memory_limit = '2GB'", (("memory_limit", "2GB"),)),
    ("SET preserve_insertion_order = false", (("preserve_insertion_order", False),)),
    ("PRAGMA threads = 3", (("threads", 3),)),
    ("RESET threads", (("threads", None),)),
])
def test_set_reset_and_pragma_plan_duckdb_s_names_and_values(sql, expected):
    assert plan(sql).settings == expected


def test_reset_all_resets_every_setting_a_connection_may_set():
    names = [name for name, value in plan("RESET ALL").settings if value is None]
    assert sorted(names) == sorted(set(settings.SESSION_SETTINGS.values()))


class _Schemas:
    """A catalog of schemas main and lab, for USE and SET schema, which check the schema."""

    def schema_exists(self, name: str) -> bool:
        return name in ("main", "lab")


@pytest.mark.parametrize("sql, path", [
    ("USE lab", ("lab",)),
    ("USE SCHEMA lab", ("lab",)),
    ("USE DATABASE lab", ("lab",)),  # Spark's databases are schemas
    ("USE indb.lab", ("lab",)),
    ("USE indb", ("main",)),  # DuckDB's USE of a database: its default schema
    ("SET schema = 'lab'", ("lab",)),
    ("SET SCHEMA 'lab'", ("lab",)),  # PostgreSQL's
    ("SET search_path = 'lab, main'", ("lab", "main")),
    ("SET search_path TO lab, public", ("lab", "main")),
    ("SET SESSION search_path TO \"$user\", \"Lab\"", ("$user", "Lab")),
    ("SET search_path = nowhere", ("nowhere",)),  # PostgreSQL's path may name none yet
    ("SET search_path TO DEFAULT", ("main",)),
    ("RESET search_path", ("main",)),
    ("RESET ALL", ("main",)),
])
def test_use_and_set_search_path_plan_the_session_s_schemas(sql, path):
    planned = planner.plan(parse(sql)[0], _Schemas())
    assert isinstance(planned, settings.SetSessionSettings) and planned.search_path == path


@pytest.mark.parametrize("sql, message", [
    ("USE nope", "no schema nope"),
    ("SET schema = 'nope'", "no schema nope"),
    ("USE other.lab", "other is not a database here"),
    ("SET search_path = 'a;b'", "is not a schema's name"),
    ("SET search_path TO a b", "search path is schema names"),
    ("SET TIME ZONE 'UTC'", "is not supported"),  # a command's SET: the path's alone
])
def test_a_search_path_that_cannot_be_is_refused(sql, message):
    with pytest.raises(SqlError, match=message):
        planner.plan(parse(sql)[0], _Schemas())


@pytest.mark.parametrize("sql, message", [
    ("SET enable_progress_bar = true", "no setting enable_progress_bar"),
    ("SET spark.sql.shuffle.partitions = 200", "no setting spark.sql.shuffle.partitions"),
    ("SET enable_external_access = true", "no setting enable_external_access"),  # the sandbox's
    ("SET threads = 1 + 1", "a setting's value is a number"),
    ("RESET", "RESET takes a setting's name"),
])
def test_what_a_connection_may_not_set_is_refused_naming_what_it_may(sql, message):
    with pytest.raises(SqlError, match=message):
        plan(sql)


def test_an_embedded_connection_s_queries_run_with_its_settings(tmp_path):
    with indb.connect(tmp_path / "db") as conn, indb.connect(tmp_path / "db") as other:
        default = other.sql("SELECT current_setting('threads')").fetchone()
        conn.sql("SET threads = 1")
        conn.sql("SET memory_limit = '512MB'")
        assert conn.sql("SELECT current_setting('threads')").fetchone() == (1,)
        assert conn.sql("SELECT current_setting('memory_limit')").fetchone()[0].startswith("488")
        assert other.sql("SELECT current_setting('threads')").fetchone() == default  # its own
        with pytest.raises(SqlError, match="at least 1 thread"):  # DuckDB checks the value
            conn.sql("SET threads = 0")
        conn.sql("RESET threads")
        assert conn.sql("SELECT current_setting('threads')").fetchone() == default
        conn.sql("CREATE USER ann")
    with indb.connect(tmp_path / "db", user="ann") as ann:  # anyone's own to set
        ann.sql("SET threads = 1")
        assert ann.sql("SELECT current_setting('threads')").fetchone() == (1,)


def test_settings_of_how_sql_reads_hold_for_the_connection_s_queries_alone(tmp_path):
    """integer_division and ieee_floating_point_ops are DuckDB settings a statement reads on
    the cursor it runs on: set on the connection's own database, they reach every query of it
    and no other connection's."""
    with indb.connect(tmp_path / "db") as conn, indb.connect(tmp_path / "db") as other:
        conn.sql("SET integer_division = true")
        conn.sql("SET ieee_floating_point_ops = false")
        assert conn.sql("SELECT 5 / 2").fetchone() == (2,)
        with pytest.raises(SqlError, match="logarithm of zero"):
            conn.sql("SELECT ln(0)")
        assert other.sql("SELECT 5 / 2, ln(0)").fetchone() == (2.5, float("-inf"))
        conn.sql("RESET ALL")
        assert conn.sql("SELECT 5 / 2, ln(0)").fetchone() == (2.5, float("-inf"))


@pytest.mark.parametrize("statement, value", [
    ("SET scalar_subquery_error_on_multiple_rows = false", False),
    ("SET max_execution_time = 60000", 60000), ("SET pivot_filter_threshold = 5", 5),
    ("SET pivot_limit = 1000", 1000), ("SET disabled_optimizers = 'join_order'", "join_order"),
    ("SET late_materialization_max_rows = 10", 10), ("SET merge_join_threshold = 500", 500),
    ("SET nested_loop_join_threshold = 3", 3), ("SET prefer_range_joins = true", True),
    ("SET ordered_aggregate_threshold = 1000", 1000), ("SET explain_output = 'all'", "all")])
def test_duckdb_s_query_settings_reach_the_connection_s_queries(tmp_path, statement, value):
    name = statement.split()[1]
    with indb.connect(tmp_path / "db") as conn:
        conn.sql(statement)
        assert conn.sql("SELECT current_setting(?)", [name]).fetchone()[0] == value
        conn.sql("RESET ALL")
        assert conn.sql("SELECT current_setting(?)", [name]).fetchone()[0] != value


def test_default_null_order_and_an_explicit_nulls_last(tmp_path):
    with indb.connect(tmp_path / "db") as conn:
        conn.sql("CREATE TABLE t (i INTEGER)")
        conn.sql("INSERT INTO t VALUES (1), (NULL)")
        conn.sql("SET default_null_order = 'nulls_first'")
        assert conn.sql("SELECT i FROM t ORDER BY i").fetchall() == [(None,), (1,)]
        # NULLS LAST as written (DuckDB's default, which sqlglot had dropped)
        assert conn.sql("SELECT i FROM t ORDER BY i NULLS LAST").fetchall() == [(1,), (None,)]
        conn.sql("RESET default_null_order")
        assert conn.sql("SELECT i FROM t ORDER BY i").fetchall() == [(1,), (None,)]


@pytest.mark.parametrize("reset", ["SET pivot_limit TO DEFAULT", "SET pivot_limit = DEFAULT",
                                   "RESET SESSION pivot_limit", "RESET LOCAL pivot_limit"])
def test_postgresql_s_and_duckdb_s_other_ways_to_reset_a_setting(tmp_path, reset):
    with indb.connect(tmp_path / "db") as conn:
        default = conn.sql("SELECT current_setting('pivot_limit')").fetchone()
        conn.sql("SET pivot_limit = 7")
        conn.sql(reset)
        assert conn.sql("SELECT current_setting('pivot_limit')").fetchone() == default != (7,)


def test_explain_output_picks_duckdb_s_plans_explain_shows(tmp_path):
    with indb.connect(tmp_path / "db") as conn:
        shown = lambda: [key for key, _ in conn.sql("EXPLAIN SELECT 1").fetchall()][2:]  # noqa: E731
        assert shown() == ["physical_plan"]
        conn.sql("SET explain_output = 'all'")
        assert shown() == ["logical_plan", "logical_opt", "physical_plan"]
        conn.sql("PRAGMA explain_output = 'optimized_only'")
        assert shown() == ["logical_opt"]


def test_a_server_s_shared_connections_keep_no_client_s_setting(tmp_path):
    psycopg = pytest.importorskip("psycopg")
    with indb.connect(tmp_path / "db"):
        pass
    server = Served(tmp_path / "db")
    try:
        response = httpx.post(f"{server.url}/v1/sql", json={"sql": "SET threads = 1"})
        assert response.status_code == 400
        assert "connections are shared" in response.json()["error"]["message"]
        with psycopg.connect(f"host=127.0.0.1 port={server.pg_port} dbname=indb",
                             autocommit=True) as pg:
            before = pg.execute("SELECT current_setting('threads')").fetchone()
            pg.execute("SET threads = 1")  # a PostgreSQL client's SET: accepted, ignored
            with pytest.raises(psycopg.Error, match="connections are shared"):
                pg.execute("PRAGMA threads = 1")
            assert pg.execute("SELECT current_setting('threads')").fetchone() == before
    finally:
        server.stop()
