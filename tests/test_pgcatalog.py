"""The PostgreSQL catalog of ``indb serve``'s pg port (``indb.server.pgcatalog``): psql's ``\\dt``,
``\\d t``, ``\\dn``, SQLAlchemy's inspector and information_schema queries, answered for each
user from the tables and views it may read only."""

from __future__ import annotations

import os
import shutil
import subprocess

import psycopg
import pytest
import sqlalchemy as sa

import indb
from serving import Served

pytestmark = pytest.mark.skipif(shutil.which("psql") is None, reason="psql is not installed")


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    """open_t and secret_t in main, deep in schema s2, a view open_v over open_t; ann an analyst
    who may read open_t only, root an admin; their tokens."""
    path = tmp_path_factory.mktemp("pgcatalog") / "db"
    with indb.connect(path) as conn:
        conn.sql("CREATE TABLE open_t AS SELECT 1 AS x, 'a' AS label")
        conn.sql("CREATE TABLE secret_t AS SELECT 2 AS hidden_y")
        conn.sql("CREATE SCHEMA s2")
        conn.sql("CREATE TABLE s2.deep AS SELECT 3.5::DOUBLE AS z")
        conn.sql("CREATE VIEW open_v AS SELECT x FROM open_t")
        tokens = {}
        for user, role in (("ann", "analyst"), ("root", "admin")):
            conn.sql(f"CREATE USER {user}")
            conn.sql(f"GRANT {role} TO {user}")
            tokens[user] = conn.sql(f"CREATE TOKEN FOR {user}").arrow()["token"][0].as_py()
        conn.sql("GRANT SELECT ON TABLE open_t TO ann")
    server = Served(path)
    server.tokens = tokens
    yield server
    server.stop()


def psql(served, user, command, rows_only=True):
    """psql's output of ``command``: its rows unaligned (else as psql prints them, footers too)."""
    run = subprocess.run(["psql", "-h", "127.0.0.1", "-p", str(served.pg_port), "-U", user,
                          "-d", "indb", "-X", *(["-A", "-t"] if rows_only else []), "-c", command],
                         capture_output=True,
                         text=True, timeout=60,
                         env={**os.environ, "PGPASSWORD": served.tokens[user]})
    return run


def test_psql_lists_what_each_user_may_read(served):
    admin = psql(served, "root", r"\dt")
    assert admin.returncode == 0, admin.stderr
    assert {line.split("|")[1] for line in admin.stdout.splitlines()} == {"open_t", "secret_t"}
    assert "|deep|" in psql(served, "root", r"\dt s2.*").stdout
    analyst = psql(served, "ann", r"\dt")
    assert analyst.returncode == 0, analyst.stderr
    assert [line.split("|")[:3] for line in analyst.stdout.splitlines()] == [["main", "open_t", "table"]]
    assert psql(served, "ann", r"\dt s2.*").stdout.strip() == ""
    assert psql(served, "ann", r"\dv").stdout.strip() == ""  # open_v reads open_t, but is not granted
    assert "open_v" in psql(served, "root", r"\dv").stdout
    functions = psql(served, "root", r"\df")  # the catalog's own macros are not the database's
    assert functions.returncode == 0 and functions.stdout.strip() == "", functions.stdout


def test_psql_describes_a_table_it_may_read_and_no_other(served):
    described = psql(served, "ann", r"\d open_t")
    assert described.returncode == 0, described.stderr
    columns = [line.split("|")[:2] for line in described.stdout.splitlines() if "|" in line]
    assert columns == [["x", "integer"], ["label", "character varying"]]
    hidden = psql(served, "ann", r"\d secret_t")
    assert "Did not find any relation named" in hidden.stderr
    assert "hidden_y" not in hidden.stdout + hidden.stderr
    assert "hidden_y" in psql(served, "root", r"\d secret_t").stdout
    schemas = psql(served, "root", r"\dn")
    assert {line.split("|")[0] for line in schemas.stdout.splitlines()} == {"main", "s2"}
    assert {line.split("|")[0] for line in psql(served, "ann", r"\dn").stdout.splitlines()} == {"main"}


def engine(served, user):
    return sa.create_engine(f"postgresql+psycopg://{user}:{served.tokens[user]}@127.0.0.1:"
                            f"{served.pg_port}/indb")


def test_dbt_lists_a_schema_s_relations(served):
    """dbt's list_relations (pg_tables, pg_views and pg_matviews): the user's tables and views,
    not DuckDB's own views."""
    dsn = f"host=127.0.0.1 port={served.pg_port} dbname=indb user=root"
    with psycopg.connect(dsn, password=served.tokens["root"], autocommit=True) as conn:
        rows = conn.execute(
            "select 'indb' as database, tablename as name, schemaname as schema, 'table' as type "
            "from pg_tables where schemaname ilike 'main' union all select 'indb' as database, "
            "viewname as name, schemaname as schema, 'view' as type from pg_views where "
            "schemaname ilike 'main' union all select 'indb' as database, matviewname as name, "
            "schemaname as schema, 'materialized_view' as type from pg_matviews where "
            "schemaname ilike 'main'").fetchall()
    assert sorted((name, kind) for _, name, _, kind in rows) == [
        ("open_t", "table"), ("open_v", "view"), ("secret_t", "table")]


def test_dbt_makes_a_view_in_a_schema_of_its_own(served):
    """dbt-postgres's view materialization in a custom schema: create the view under a
    temporary name by a three-part name, rename it (as a table), list it by its schema, drop a
    backup that is not there."""
    dsn = f"host=127.0.0.1 port={served.pg_port} dbname=indb user=root"
    with psycopg.connect(dsn, password=served.tokens["root"], autocommit=True) as conn:
        conn.execute('create view "indb"."s2"."deep_v__dbt_tmp" as (select z * 2 as twice '
                     'from "indb"."s2"."deep")')
        conn.execute('drop view if exists "indb"."s2"."deep_v__dbt_backup" cascade')
        conn.execute('alter table "indb"."s2"."deep_v__dbt_tmp" rename to "deep_v"')
        try:
            listed = conn.execute("select viewname from pg_views where schemaname ilike 's2'"
                                  ).fetchall()
            rows = conn.execute('select twice from "s2"."deep_v"').fetchall()
            main = conn.execute("select viewname from pg_views where schemaname = 'main'"
                                ).fetchall()
        finally:
            conn.execute('drop view if exists "indb"."s2"."deep_v" cascade')
    assert listed == [("deep_v",)] and rows == [(7.0,)]
    assert ("deep_v",) not in main


def test_information_schema_columns_names_types_as_postgresql_does(served):
    """data_type and udt_name as PostgreSQL 15 gives them (dbt's get_columns_in_relation reads
    them, by a three-part name)."""
    dsn = f"host=127.0.0.1 port={served.pg_port} dbname=indb user=root"
    with psycopg.connect(dsn, password=served.tokens["root"], autocommit=True) as conn:
        conn.execute("CREATE TABLE typed_t (a INT, b VARCHAR, c DECIMAL(10, 2), d TIMESTAMP, "
                     "e TIMESTAMPTZ, f INT[], g BLOB, h DOUBLE, i REAL, j BOOL, k DATE, n SMALLINT)")
        try:
            rows = conn.execute(
                'SELECT column_name, data_type, udt_name FROM "indb".INFORMATION_SCHEMA.columns '
                "WHERE table_name = 'typed_t' ORDER BY ordinal_position").fetchall()
        finally:
            conn.execute("DROP TABLE typed_t")
    assert rows == [("a", "integer", "int4"), ("b", "character varying", "varchar"),
                    ("c", "numeric", "numeric"), ("d", "timestamp without time zone", "timestamp"),
                    ("e", "timestamp with time zone", "timestamptz"), ("f", "ARRAY", "_int4"),
                    ("g", "bytea", "bytea"), ("h", "double precision", "float8"),
                    ("i", "real", "float4"), ("j", "boolean", "bool"), ("k", "date", "date"),
                    ("n", "smallint", "int2")]


def test_sqlalchemy_inspector(served):
    admin = sa.inspect(engine(served, "root"))
    assert sorted(admin.get_table_names()) == ["open_t", "secret_t"]
    assert admin.get_table_names(schema="s2") == ["deep"]
    assert set(admin.get_schema_names()) == {"main", "s2"}
    assert admin.get_view_names() == ["open_v"]
    assert [c["name"] for c in admin.get_columns("secret_t")] == ["hidden_y"]
    analyst = sa.inspect(engine(served, "ann"))
    assert analyst.get_table_names() == ["open_t"]
    assert analyst.get_schema_names() == ["main"]
    columns = analyst.get_columns("open_t")
    assert [(c["name"], type(c["type"])) for c in columns] == [("x", sa.INTEGER), ("label", sa.VARCHAR)]
    assert analyst.has_table("open_t") and not analyst.has_table("secret_t")
    assert admin.has_table("secret_t")
    with pytest.raises(sa.exc.NoSuchTableError):
        analyst.get_columns("secret_t")
    assert analyst.get_pk_constraint("open_t")["constrained_columns"] == []
    assert analyst.get_indexes("open_t") == [] and analyst.get_foreign_keys("open_t") == []


def test_a_view_s_definition_is_its_query(served):
    """pg_get_viewdef and pg_views.definition give the view's query, as PostgreSQL's (not the
    shadow's stand-in): SQLAlchemy's get_view_definition and psql's \\d+ read them."""
    assert sa.inspect(engine(served, "root")).get_view_definition("open_v") == \
        "SELECT x FROM open_t;"
    described = psql(served, "root", r"\d+ open_v", rows_only=False)
    assert described.returncode == 0, described.stderr
    assert "View definition:" in described.stdout and "SELECT x FROM open_t;" in described.stdout
    listed = psql(served, "root", "SELECT definition, pg_get_viewdef('open_v'::regclass, true) "
                                  "FROM pg_views WHERE viewname = 'open_v'")
    assert listed.stdout.strip() == "SELECT x FROM open_t;|SELECT x FROM open_t;", listed.stderr
    table = psql(served, "root", "SELECT pg_get_viewdef('open_t'::regclass)")
    assert table.returncode == 0 and table.stdout.strip() == ""  # not a view: NULL
    shown = psql(served, "root", r"\sv open_v")  # 'open_v'::pg_catalog.regclass, array_remove
    assert shown.returncode == 0, shown.stderr
    assert shown.stdout.splitlines() == ["CREATE OR REPLACE VIEW main.open_v AS",
                                         "SELECT x FROM open_t"]


def test_sqlalchemy_with_its_defaults_writes_and_reads_through_the_orm(served):
    """SQLAlchemy's psycopg dialect looks hstore up as it connects (psycopg's TypeInfo.fetch:
    ``FROM pg_type ... to_regtype(...)``); that failed every engine made with the defaults."""
    from sqlalchemy.orm import DeclarativeBase, Session, mapped_column

    class Base(DeclarativeBase):
        pass

    class Trade(Base):
        __tablename__ = "orm_trades"
        id = mapped_column(sa.BigInteger, primary_key=True, autoincrement=False)
        sym = mapped_column(sa.String, nullable=True)

    made = sa.create_engine(f"postgresql+psycopg://root:{served.tokens['root']}@127.0.0.1:"
                            f"{served.pg_port}/indb")
    try:
        with made.begin() as conn:
            conn.execute(sa.text("CREATE TABLE orm_trades (id BIGINT, sym VARCHAR)"))
        with Session(made) as session:
            session.add_all([Trade(id=1, sym="AAPL"), Trade(id=2, sym=None)])
            session.commit()
            found = session.scalars(sa.select(Trade).where(Trade.id == 1)).one()
            assert (found.id, found.sym) == (1, "AAPL")
            assert session.scalar(sa.select(sa.func.count()).select_from(Trade)) == 2
    finally:
        with made.begin() as conn:
            conn.execute(sa.text("DROP TABLE IF EXISTS orm_trades"))
        made.dispose()


def test_sqlalchemy_s_comments_are_kept_and_reflected(served):
    """SQLAlchemy writes a table's and its columns' comments with COMMENT ON after CREATE TABLE,
    and reads them back from pg_description (``classoid = 'pg_catalog.pg_class'::regclass``)."""
    made = engine(served, "root")
    metadata = sa.MetaData()
    sa.Table("noted", metadata, sa.Column("id", sa.BigInteger, comment="the key"),
             sa.Column("name", sa.String), comment="things we sell")
    try:
        metadata.create_all(made)
        inspector = sa.inspect(made)
        assert inspector.get_table_comment("noted") == {"text": "things we sell"}
        assert [(c["name"], c["comment"]) for c in inspector.get_columns("noted")] == [
            ("id", "the key"), ("name", None)]
        with made.begin() as conn:
            conn.execute(sa.text("COMMENT ON COLUMN noted.id IS NULL"))
            assert conn.execute(sa.text("SELECT obj_description('noted'::regclass, 'pg_class'), "
                                        "col_description('noted'::regclass, 1)")).one() == (
                "things we sell", None)
    finally:
        metadata.drop_all(made)
        made.dispose()


def test_catalog_relations_named_without_their_schema_and_name_lookups(served):
    """PostgreSQL looks in pg_catalog first: ``FROM pg_type`` is its; ``to_regtype`` and
    ``to_regclass`` give an oid by name, or NULL (and a table ann may not read has none)."""
    dsn = f"host=127.0.0.1 port={served.pg_port} dbname=indb user=ann"
    with psycopg.connect(dsn, password=served.tokens["ann"], autocommit=True) as conn:
        int4 = psycopg.types.TypeInfo.fetch(conn, "int4")
        assert (int4.name, int4.oid) == ("int4", 23)
        assert psycopg.types.TypeInfo.fetch(conn, "hstore") is None
        assert conn.execute("SELECT typname FROM pg_type WHERE oid = to_regtype('integer')"
                            ).fetchone() == ("int4",)
        assert conn.execute("WITH pg_type AS (SELECT 'mine' AS typname) SELECT typname FROM pg_type"
                            ).fetchone() == ("mine",)  # a CTE's name is the CTE's
        oids = conn.execute("SELECT to_regclass('open_t'), to_regclass('main.open_t'), "
                            "to_regclass('secret_t'), to_regtype('no_such_type')").fetchone()
        assert oids[0] is not None and oids[1] == oids[0] and oids[2:] == (None, None)
        named = conn.execute("SELECT typname FROM pg_type WHERE oid = ANY(%s::oid[]) ORDER BY oid",
                             [[20, 23]]).fetchall()  # asyncpg's lookups cast so
        assert named == [("int8",), ("int4",)]
        assert conn.execute("SELECT current_setting('server_version_num'), "
                            "set_config('application_name', 'x', false)").fetchone() == ("150000", "x")
        assert conn.execute("SELECT count(*) FROM pg_range").fetchone() == (0,)
        assert conn.execute("SELECT current_catalog").fetchone() == ("indb",)  # (JDBC asks)
        assert conn.execute("SELECT setting FROM pg_catalog.pg_settings WHERE name = "
                            "'max_index_keys'").fetchone() == ("32",)
        keys = conn.execute("SELECT (information_schema._pg_expandarray(con.conkey)).n "
                            "FROM pg_catalog.pg_constraint con").fetchall()
        assert keys == []  # JDBC's getPrimaryKeys: indb's tables have none
        # what tools ask as they connect (DBeaver): the session's own user and process id
        who = conn.execute("SELECT current_user, session_user, pg_backend_pid(), "
                           "pg_is_in_recovery()").fetchone()
        assert who == ("ann", "ann", conn.info.backend_pid, False)
        keywords = conn.execute("SELECT count(*) FROM pg_catalog.pg_get_keywords() WHERE word "
                                "<> ALL ('{select,from}'::text[]) AND catcode = 'R'").fetchone()
        everything = conn.execute("SELECT count(*) FROM pg_catalog.pg_get_keywords() "
                                  "WHERE catcode = 'R'").fetchone()
        assert keywords[0] == everything[0] - 2 > 10


def test_what_pg_dump_asks_of_the_catalog(served):
    """Each catalog row's tableoid (its table's oid, under its own name), every catalog table
    of PostgreSQL's named without its schema (empty where indb has none of its objects),
    acldefault, quote_literal, pg_options_to_table, array types' names, pg_depend's rows, no
    pg_class row outside the schemas pg_namespace lists (pg_dump stops on one), LOCK TABLE and
    a catalog query prepared with PREPARE and run with EXECUTE (pg_dump's whole run is
    tests/test_pgdump.py)."""
    dsn = f"host=127.0.0.1 port={served.pg_port} dbname=indb user=root"
    with psycopg.connect(dsn, password=served.tokens["root"], autocommit=True) as conn:
        found = conn.execute("SELECT c.tableoid, c.oid, n.tableoid FROM pg_class c JOIN "
                             "pg_namespace n ON n.oid = c.relnamespace WHERE c.relname = 'open_t'")
        assert [d.name for d in found.description] == ["tableoid", "oid", "tableoid"]
        (classes, oid, namespaces), = found.fetchall()
        assert (classes, namespaces) == (1259, 2615)
        for table in ("pg_language", "pg_operator", "pg_ts_dict", "pg_init_privs", "pg_cast",
                      "pg_subscription", "pg_largeobject_metadata"):
            assert conn.execute(f"SELECT tableoid, oid FROM {table}").fetchall() == []
        assert conn.execute("SELECT nspname, nspowner, acldefault('n', nspowner) FROM pg_namespace "
                            "ORDER BY nspname").fetchall() == [("main", 10, None),
                                                               ("pg_catalog", 10, None),
                                                               ("s2", 10, None)]
        assert conn.execute("SELECT quote_literal('it''s'), array_to_string(ARRAY(SELECT "
                            "option_name || ':' || option_value FROM pg_options_to_table("
                            "ARRAY['b=x=y', 'a=1']) ORDER BY 1), ',') FROM pg_namespace "
                            "WHERE nspname = 'main'").fetchone() == ("'it''s'", "a:1,b:x=y")
        assert conn.execute("SELECT format_type(1015, NULL), format_type(1016, -1), "
                            "format_type(114, NULL), format_type(199, NULL)").fetchone() == \
            ("character varying[]", "bigint[]", "json", "json[]")
        assert conn.execute(
            "SELECT c.relname, r.relname, d.deptype FROM pg_depend d JOIN pg_class c ON "
            "c.oid = d.objid JOIN pg_class r ON r.oid = d.refobjid WHERE d.classid = "
            "'pg_class'::regclass").fetchall() == [("open_v", "open_t", "n")]
        assert conn.execute("SELECT count(*) FROM pg_class WHERE relnamespace NOT IN "
                            "(SELECT oid FROM pg_namespace)").fetchone() == (0,)
        conn.execute("PREPARE named_as(pg_catalog.oid) AS SELECT relname FROM pg_catalog.pg_class "
                     "WHERE oid = $1")
        assert conn.execute(f"EXECUTE named_as('{oid}')").fetchall() == [("open_t",)]
        conn.execute("DEALLOCATE named_as")
        with pytest.raises(psycopg.Error, match="named_as"):
            conn.execute(f"EXECUTE named_as('{oid}')")
        with conn.transaction():
            assert conn.execute("LOCK TABLE main.open_t, s2.deep IN ACCESS SHARE MODE"
                                ).statusmessage == "LOCK TABLE"
        with pytest.raises(psycopg.errors.UndefinedTable, match="nope"):
            conn.execute("LOCK TABLE nope")
    with psycopg.connect(f"host=127.0.0.1 port={served.pg_port} dbname=indb user=ann",
                         password=served.tokens["ann"], autocommit=True) as conn:
        with pytest.raises(psycopg.Error, match="secret_t"):  # (a table ann may not read)
            conn.execute("LOCK TABLE secret_t")


def test_information_schema_shows_an_analyst_its_tables_only(served):
    dsn = f"host=127.0.0.1 port={served.pg_port} dbname=indb user=ann"
    with psycopg.connect(dsn, password=served.tokens["ann"], autocommit=True) as conn:
        tables = conn.execute("SELECT table_schema, table_name, table_type FROM "
                              "information_schema.tables WHERE table_schema NOT IN "
                              "('pg_catalog', 'information_schema') ORDER BY 1, 2").fetchall()
        assert tables == [("main", "open_t", "BASE TABLE")]
        columns = conn.execute("SELECT table_name, column_name FROM information_schema.columns "
                               "WHERE table_schema = %s ORDER BY ordinal_position", ["main"]).fetchall()
        assert columns == [("open_t", "x"), ("open_t", "label")]
        names = conn.execute("SELECT relname FROM pg_catalog.pg_class WHERE relkind IN ('r', 'v')"
                             ).fetchall()
        assert ("secret_t",) not in names and ("open_t",) in names
        with pytest.raises(psycopg.errors.FeatureNotSupported, match="query them apart"):
            conn.execute("SELECT * FROM information_schema.tables, secret_t")
        with pytest.raises(psycopg.errors.InsufficientPrivilege):  # not through the catalog
            conn.execute("SELECT * FROM secret_t")


def test_the_server_answers_as_postgresql(served):
    dsn = f"host=127.0.0.1 port={served.pg_port} dbname=indb user=ann"
    with psycopg.connect(dsn, password=served.tokens["ann"], autocommit=True) as conn:
        cursor = conn.execute("SELECT version(), current_database(), current_schema()")
        assert [d.name for d in cursor.description] == ["version", "current_database",
                                                        "current_schema"]
        version, database, schema = cursor.fetchone()
        assert version.startswith("PostgreSQL 15.0 (indb ") and (database, schema) == ("indb", "main")
        assert conn.execute("SHOW search_path").fetchone() == ("main",)
        assert conn.execute("SELECT 1 + 1").fetchone() == (2,)  # no catalog: the database's


def test_the_catalog_reads_no_files(served):
    dsn = f"host=127.0.0.1 port={served.pg_port} dbname=indb user=root"
    with psycopg.connect(dsn, password=served.tokens["root"], autocommit=True) as conn:
        with pytest.raises(psycopg.Error, match="disabled by configuration"):
            conn.execute("SELECT * FROM information_schema.tables, read_text('/etc/hostname')")


def test_a_grant_on_a_table_of_another_schema_shows_it_at_the_next_query(served):
    assert psql(served, "ann", r"\dt s2.*").stdout.strip() == ""
    with indb.connect(served.service.pool.path) as conn:
        conn.sql("GRANT SELECT ON TABLE s2.deep TO ann")
    assert [line.split("|")[:2] for line in psql(served, "ann", r"\dt s2.*").stdout.splitlines()] \
        == [["s2", "deep"]]
    assert "z|double precision" in psql(served, "ann", r"\d s2.deep").stdout


@pytest.fixture()
def described(served):
    """refl_items: an identity (ALWAYS, from 10 by 5), a NOT NULL column with a DEFAULT, a
    DEFAULT, a SERIAL, and a primary key of two columns in the order (k2, id)."""
    dsn = f"host=127.0.0.1 port={served.pg_port} dbname=indb user=root"
    with psycopg.connect(dsn, password=served.tokens["root"], autocommit=True) as conn:
        conn.execute("CREATE TABLE refl_items (id BIGINT GENERATED ALWAYS AS IDENTITY (START WITH "
                     "10 INCREMENT BY 5), k2 VARCHAR NOT NULL DEFAULT 'none', qty INTEGER DEFAULT 0, "
                     "n SERIAL, PRIMARY KEY (k2, id))")
        try:
            yield conn
        finally:
            conn.execute("DROP TABLE refl_items")


def test_sqlalchemy_reflects_defaults_identities_and_primary_keys(served, described):
    """What SQLAlchemy's reflection (and Alembic's comparison) reads: NOT NULL, DEFAULT, the
    identity's options (json_build_object's json, over pg_sequence), the primary key by its
    index; ``Table(autoload_with=...)`` (which asks ``current_setting`` with a parameter)."""
    inspector = sa.inspect(engine(served, "root"))
    columns = {c["name"]: c for c in inspector.get_columns("refl_items")}
    assert columns["id"]["identity"] == {"always": True, "start": 10, "increment": 5,
                                         "minvalue": 1, "maxvalue": 2**63 - 1, "cache": 1,
                                         "cycle": False}
    assert columns["id"]["autoincrement"] and not columns["id"]["nullable"]
    assert columns["id"]["default"] is None  # an identity has no DEFAULT in PostgreSQL's catalog
    assert (columns["k2"]["default"], columns["k2"]["nullable"]) == ("'none'", False)
    assert (columns["qty"]["default"], columns["qty"]["nullable"]) == ("0", True)
    assert columns["n"]["identity"]["always"] is False and columns["n"]["identity"]["maxvalue"] == 2**31 - 1
    key = inspector.get_pk_constraint("refl_items")
    assert (key["name"], key["constrained_columns"]) == ("refl_items_pkey", ["k2", "id"])
    assert inspector.get_indexes("refl_items") == []  # the key's index is not listed apart
    table = sa.Table("refl_items", sa.MetaData(), autoload_with=engine(served, "root"))
    assert [c.name for c in table.primary_key] == ["k2", "id"]
    assert isinstance(table.c.id.server_default, sa.Identity) and table.c.id.server_default.always
    assert str(table.c.qty.server_default.arg) == "0"


def test_the_catalog_describes_identities_as_postgresql_does(served, described):
    rows = described.execute(
        "SELECT column_name, column_default, is_nullable, is_identity, identity_generation, "
        "identity_start, identity_increment FROM information_schema.columns WHERE table_name = "
        "'refl_items' ORDER BY ordinal_position").fetchall()
    assert rows == [("id", None, "NO", "YES", "ALWAYS", "10", "5"),
                    ("k2", "'none'", "NO", "NO", None, None, None),
                    ("qty", "0", "YES", "NO", None, None, None),
                    ("n", None, "NO", "YES", "BY DEFAULT", "1", "1")]
    assert described.execute(  # (as PostgreSQL 15's lists an identity's and a SERIAL's)
        "SELECT sequence_name, data_type, start_value, maximum_value, increment, cycle_option "
        "FROM information_schema.sequences WHERE sequence_name LIKE 'refl_items%' ORDER BY 1"
    ).fetchall() == [("refl_items_id_seq", "bigint", "10", str(2**63 - 1), "5", "NO"),
                     ("refl_items_n_seq", "integer", "1", str(2**31 - 1), "1", "NO")]
    assert described.execute("SELECT pg_get_serial_sequence('refl_items', 'id'), "
                             "pg_get_serial_sequence('refl_items', 'qty')").fetchone() == (
        "main.refl_items_id_seq", None)
    assert described.execute("SELECT attname, attidentity FROM pg_attribute WHERE attrelid = "
                             "'refl_items'::regclass AND attnum > 0 ORDER BY attnum").fetchall() == [
        ("id", "a"), ("k2", ""), ("qty", ""), ("n", "d")]
    assert described.execute("SELECT conname, conkey FROM pg_constraint WHERE conrelid = "
                             "'refl_items'::regclass").fetchall() == [("refl_items_pkey", [2, 1])]
    shown = psql(served, "root", r"\d refl_items")
    assert shown.returncode == 0, shown.stderr
    assert "generated always as identity" in shown.stdout
    assert "generated by default as identity" in shown.stdout
    assert described.execute("SELECT pg_get_indexdef(indexrelid), indisprimary FROM pg_index WHERE "
                             "indrelid = 'refl_items'::regclass").fetchall() == [(
        "CREATE UNIQUE INDEX refl_items_pkey ON main.refl_items USING btree (k2, id)", True)]


def test_indexes_and_unique_constraints_read_back_as_postgresql_lists_them(served):
    """What PostgreSQL 15 answers for this table (checked against one): psql's \\d lists each
    index, SQLAlchemy's inspector the UNIQUE constraints and the indexes (a constraint's with
    ``duplicates_constraint``), and DROP INDEX takes one off the lists."""
    dsn = f"host=127.0.0.1 port={served.pg_port} dbname=indb user=root"
    with psycopg.connect(dsn, password=served.tokens["root"], autocommit=True) as conn:
        # (another table's constraints first: DuckDB numbers constraints across tables)
        conn.execute("CREATE TABLE ux0 (k INT NOT NULL UNIQUE CHECK (k > 0), j INT CHECK (j < 9))")
        conn.execute("CREATE TABLE ux (id INT PRIMARY KEY, email TEXT UNIQUE, a INT, b INT, "
                     "CONSTRAINT ab_u UNIQUE (a, b), CHECK (a >= b))")
        conn.execute("CREATE UNIQUE INDEX ix_ux_b ON ux (b)")
        conn.execute("CREATE INDEX ix_plain ON ux USING btree (a)")
        try:
            shown = psql(served, "root", r"\d ux", rows_only=False)
            assert shown.returncode == 0, shown.stderr
            assert shown.stdout.split("Indexes:\n")[1].strip("\n").splitlines() == [
                '    "ux_pkey" PRIMARY KEY, btree (id)', '    "ab_u" UNIQUE CONSTRAINT, btree (a, b)',
                '    "ix_plain" btree (a)', '    "ix_ux_b" UNIQUE, btree (b)',
                '    "ux_email_key" UNIQUE CONSTRAINT, btree (email)', 'Check constraints:',
                '    "ux_check" CHECK (a >= b)']
            listed = psql(served, "root", r"\di")  # (-A -t: schema|name|type|owner|table)
            assert [line.split("|")[1:3] + line.split("|")[4:] for line in listed.stdout.splitlines()
                    if line.endswith("|ux")] == [[n, "index", "ux"] for n in (
                        "ab_u", "ix_plain", "ix_ux_b", "ux_email_key", "ux_pkey")], listed.stderr
            index = psql(served, "root", r"\d ix_ux_b", rows_only=False)
            assert " b      | integer | yes  | b" in index.stdout, index.stderr
            assert 'unique, btree, for table "main.ux"' in index.stdout
            inspector = sa.inspect(engine(served, "root"))
            assert [(u["name"], u["column_names"]) for u in inspector.get_unique_constraints("ux")] \
                == [("ab_u", ["a", "b"]), ("ux_email_key", ["email"])]
            assert [(i["name"], i["unique"], i["column_names"], i.get("duplicates_constraint"))
                    for i in inspector.get_indexes("ux")] == [
                ("ab_u", True, ["a", "b"], "ab_u"), ("ix_plain", False, ["a"], None),
                ("ix_ux_b", True, ["b"], None), ("ux_email_key", True, ["email"], "ux_email_key")]
            assert conn.execute("SELECT c.relname, k.conname, k.contype FROM pg_constraint k JOIN "
                                "pg_class c ON c.oid = k.conrelid WHERE c.relname LIKE 'ux%' "
                                "ORDER BY 1, 2").fetchall() == [
                ("ux", "ab_u", "u"), ("ux", "ux_check", "c"), ("ux", "ux_email_key", "u"),
                ("ux", "ux_pkey", "p"), ("ux0", "ux0_j_check", "c"), ("ux0", "ux0_k_check", "c"),
                ("ux0", "ux0_k_key", "u")]
            assert conn.execute("SELECT pg_get_indexdef('ix_ux_b'::regclass)").fetchone() == (
                "CREATE UNIQUE INDEX ix_ux_b ON main.ux USING btree (b)",)
            with pytest.raises(psycopg.errors.UniqueViolation, match="ix_ux_b"):
                conn.execute("INSERT INTO ux VALUES (1, 'x', 1, 1), (2, 'y', 2, 1)")
            conn.execute("DROP INDEX ix_ux_b, ix_plain")
            assert [i["name"] for i in sa.inspect(engine(served, "root")).get_indexes("ux")] == [
                "ab_u", "ux_email_key"]
            conn.execute("INSERT INTO ux VALUES (1, 'x', 1, 1), (2, 'y', 2, 1)")
        finally:
            conn.execute("DROP TABLE ux, ux0")


def test_json_is_sent_as_json(served):
    """A JSON column goes out as PostgreSQL's json (psycopg decodes it), as the catalog's
    json_build_object does for SQLAlchemy."""
    dsn = f"host=127.0.0.1 port={served.pg_port} dbname=indb user=root"
    with psycopg.connect(dsn, password=served.tokens["root"], autocommit=True) as conn:
        cursor = conn.execute("""SELECT '{"a": [1, 2]}'::JSON AS j, 'x' AS t""")
        assert [d.type_code for d in cursor.description] == [114, 25]
        assert cursor.fetchone() == ({"a": [1, 2]}, "x")


def test_psql_describes_sequences_and_comments(served):
    with psycopg.connect(f"host=127.0.0.1 port={served.pg_port} dbname=indb user=root",
                         password=served.tokens["root"], autocommit=True) as conn:
        conn.execute("CREATE SEQUENCE noted_seq START 1000")
        conn.execute("CREATE TABLE noted_t (id BIGINT NOT NULL DEFAULT nextval('noted_seq'), "
                     "item TEXT COMMENT 'what')")
        conn.execute("COMMENT ON TABLE noted_t IS 'placed orders'")
    try:
        listed = psql(served, "root", r"\ds")
        assert listed.returncode == 0 and "|noted_seq|sequence|" in listed.stdout, listed.stderr
        sequence = psql(served, "root", r"\d noted_seq")  # quote_ident, pg_sequence
        assert sequence.returncode == 0 and "|1000|1|9223372036854775807|1|no|" in sequence.stdout, \
            sequence.stderr
        table = psql(served, "root", r"\d+ noted_t")
        assert "id|bigint||not null|nextval('noted_seq')|" in table.stdout, table.stderr
        assert "item|character varying|||" in table.stdout and "|what" in table.stdout
        assert "|plain|" in table.stdout and "|extended|" in table.stdout  # id's, item's storage
        assert "|placed orders" in psql(served, "root", r"\dt+ noted_t").stdout
        assert "noted_seq" not in psql(served, "ann", r"\ds").stdout  # ann may not use it
    finally:
        with psycopg.connect(f"host=127.0.0.1 port={served.pg_port} dbname=indb user=root",
                             password=served.tokens["root"], autocommit=True) as conn:
            conn.execute("DROP TABLE noted_t")
            conn.execute("DROP SEQUENCE noted_seq")


def test_named_types_and_generated_columns_read_back_as_postgresql_s(tmp_path):
    """psql's ``\\dT`` lists the database's types (not DuckDB's built-in ones), pg_enum their
    values; SQLAlchemy reflects an ENUM column as its named type and a generated column as
    ``Computed``; information_schema says USER-DEFINED and the type's name."""
    path = tmp_path / "db"
    with indb.connect(path) as conn:
        conn.sql("CREATE TYPE mood AS ENUM ('sad', 'ok', 'happy')")
        conn.sql("CREATE TABLE person (name TEXT, m mood, b INTEGER, c AS (b * 2))")
        conn.sql("CREATE USER root")
        conn.sql("GRANT admin TO root")
        token = conn.sql("CREATE TOKEN FOR root").arrow()["token"][0].as_py()
    server = Served(path)
    server.tokens = {"root": token}
    try:
        listed = psql(server, "root", r"\dT")
        assert listed.returncode == 0, listed.stderr
        assert listed.stdout.splitlines() == ["main|mood|"]
        assert "generated always as" in psql(server, "root", r"\d person").stdout
        inspector = sa.inspect(engine(server, "root"))
        assert inspector.get_enums() == [{"name": "mood", "schema": "main", "visible": True,
                                          "labels": ["sad", "ok", "happy"]}]
        columns = {c["name"]: c for c in inspector.get_columns("person")}
        assert isinstance(columns["m"]["type"], sa.Enum) and columns["m"]["type"].name == "mood"
        assert columns["c"]["computed"]["persisted"] is True and "b * 2" in columns["c"]["computed"]["sqltext"]
        assert "computed" not in columns["b"]
        with psycopg.connect(host="127.0.0.1", port=server.pg_port, dbname="indb", user="root",
                             password=token) as pg:
            assert pg.execute("SELECT column_name, data_type, udt_name FROM information_schema.columns "
                              "WHERE table_name = 'person' AND column_name = 'm'").fetchall() == [
                ("m", "USER-DEFINED", "mood")]
            assert pg.execute("SELECT enumlabel FROM pg_enum ORDER BY enumsortorder").fetchall() == [
                ("sad",), ("ok",), ("happy",)]
    finally:
        server.stop()


@pytest.mark.parametrize("command", [r"\dd", r"\dconfig", r"\dAc", r"\dAf", r"\df+", r"\dX"])
def test_psql_s_other_listings_answer_with_nothing_to_list(served, command):
    """Objects indb has none of (operator classes, rules, triggers, settings changed from their
    defaults, functions' bodies, statistics objects): psql's queries of them are answered, with
    no rows."""
    run = psql(served, "root", command)
    assert run.returncode == 0 and run.stderr == "" and run.stdout == "", run.stderr


def test_psql_lists_the_database_s_macros_and_shows_one(served):
    """\\df lists a macro as a function of main (and none of the catalog's own), \\sf shows the
    CREATE MACRO that makes it, as SHOW MACROS gives it."""
    made = psql(served, "root", "CREATE MACRO plus_one(x) AS x + 1")
    assert made.returncode == 0, made.stderr
    try:
        listed = psql(served, "root", r"\df")
        assert [line.split("|")[:2] for line in listed.stdout.splitlines()] == [["main", "plus_one"]]
        shown = psql(served, "root", r"\sf plus_one")
        assert shown.returncode == 0, shown.stderr
        assert shown.stdout.strip() == "CREATE MACRO plus_one(x) AS x + 1"
    finally:
        psql(served, "root", "DROP MACRO plus_one")
    assert psql(served, "root", r"\df").stdout.strip() == ""


def test_psql_lists_the_database_with_its_sizes(served):
    """\\l+ reads pg_database's tablespace and pg_database_size (no size: indb's files are the
    tables', not a database's)."""
    run = psql(served, "root", r"\l+")
    assert run.returncode == 0 and run.stderr == "", run.stderr
    assert run.stdout.split("|")[0] == "indb" and "|pg_default|" in run.stdout, run.stdout


def test_a_session_s_temporary_views_are_listed_in_its_temporary_schema(served):
    with engine(served, "root").connect() as conn:
        conn.exec_driver_sql("CREATE TEMP VIEW recent AS SELECT x, label || '!' AS shout FROM open_t")
        inspector = sa.inspect(conn)
        assert inspector.get_temp_view_names() == ["recent"]
        assert "recent" not in inspector.get_view_names()
        schema = conn.exec_driver_sql("SELECT nspname FROM pg_namespace "
                                      "WHERE oid = pg_my_temp_schema()").scalar()
        assert schema.startswith("pg_temp")
        assert conn.exec_driver_sql(
            "SELECT table_schema, column_name, data_type FROM information_schema.columns "
            "WHERE table_name = 'recent' ORDER BY ordinal_position").fetchall() == [
            (schema, "x", "integer"), (schema, "shout", "character varying")]


GRAFANA_TABLES = (  # Grafana's PostgreSQL data source lists a database's tables with this query
    "SELECT quote_ident(table_name) AS \"table\" FROM information_schema.tables WHERE "
    "quote_ident(table_schema) NOT IN ('information_schema', 'pg_catalog', '_timescaledb_cache') "
    "AND table_type = 'BASE TABLE' AND quote_ident(table_schema) IN (SELECT CASE WHEN "
    "trim(s[i]) = '\"$user\"' THEN user ELSE trim(s[i]) END FROM generate_series("
    "array_lower(string_to_array(current_setting('search_path'),','),1), "
    "array_upper(string_to_array(current_setting('search_path'),','),1)) AS i, "
    "string_to_array(current_setting('search_path'),',') s)")


def test_grafana_s_listing_of_the_search_path_s_tables(served):
    with psycopg.connect(host="127.0.0.1", port=served.pg_port, dbname="indb", user="root",
                         password=served.tokens["root"]) as pg:
        assert sorted(pg.execute(GRAFANA_TABLES).fetchall()) == [("open_t",), ("secret_t",)]
        # array_lower and array_upper outside the catalog too (DuckDB has neither)
        assert pg.execute("SELECT array_lower([4, 5, 6], 1), array_upper([4, 5, 6], 1), "
                          "array_upper([]::INTEGER[], 1)").fetchone() == (1, 3, None)


def test_every_type_has_an_oid_and_a_namespace(served):
    """Npgsql (.NET: Power BI's driver) loads every pg_type row joined to its namespace and
    reads each oid as a number: none may be NULL."""
    with psycopg.connect(host="127.0.0.1", port=served.pg_port, dbname="indb", user="root",
                         password=served.tokens["root"]) as pg:
        rows = pg.execute("SELECT ns.nspname, t.oid, t.typname FROM pg_type AS t "
                          "LEFT JOIN pg_namespace AS ns ON ns.oid = t.typnamespace").fetchall()
        assert rows and all(oid is not None and nspname == "pg_catalog" for nspname, oid, _ in rows)
        assert {"int4", "text", "_int4"} <= {name for _, _, name in rows}
        # an array type is told by its receive function, array_recv (Npgsql's typtype 'a')
        assert pg.execute("SELECT t.typname, p.proname, e.typname FROM pg_type AS t "
                          "JOIN pg_proc AS p ON p.oid = t.typreceive "
                          "JOIN pg_type AS e ON e.oid = t.typelem WHERE t.typname = '_int4'"
                          ).fetchall() == [("_int4", "array_recv", "int4")]


def _shadow_rows(sql):
    """``sql`` answered by a shadow holding pk (a BIGINT, v VARCHAR, b DECIMAL(10, 2),
    PRIMARY KEY (v, a)), asked in-process."""
    from indb.catalog.tables import TableInfo
    from indb.catalog.types import Column
    from indb.engine.privileges import Relation
    from indb.server import pgcatalog
    columns = (("a", "BIGINT"), ("v", "VARCHAR"), ("b", "DECIMAL(10,2)"))
    info = TableInfo("pk", tuple(Column(n, k) for n, k in columns), primary_key=("v", "a"))
    shadows = pgcatalog.Shadows()
    try:
        return shadows.answer([Relation("main", "pk", False, columns, info)], [],
                              pgcatalog.catalog_query(sql, None), None).fetchall()
    finally:
        shadows.close()


def test_psqlodbc_s_catalog_queries_read_as_postgresql_answers_them():
    # SQLColumns: joins in parentheses (each hung on its first table), attlen and typtypmod
    # never NULL, numeric's modifier PostgreSQL's (precision << 16 | scale) + 4
    assert _shadow_rows(
        "select a.attname, a.attlen, a.atttypmod, t.typtypmod, t.typlen, "
        "format_type(a.atttypid, a.atttypmod) from (((pg_catalog.pg_class c inner join "
        "pg_catalog.pg_namespace n on n.oid = c.relnamespace and c.relname like 'pk') inner join "
        "pg_catalog.pg_attribute a on (not a.attisdropped) and a.attnum > 0 and a.attrelid = "
        "c.oid) inner join pg_catalog.pg_type t on t.oid = a.atttypid) order by attnum") == [
        ("a", 8, -1, -1, 8, "bigint"), ("v", -1, -1, -1, -1, "character varying"),
        ("b", -1, (10 << 16 | 2) + 4, -1, -1, "numeric(10,2)")]
    # SQLPrimaryKeys: an int2vector's subscripts start at 0
    assert _shadow_rows(
        "select ta.attname, ia.attnum, i.indkey[0] from pg_catalog.pg_attribute ta, "
        "pg_catalog.pg_attribute ia, pg_catalog.pg_class tc, pg_catalog.pg_index i where "
        "tc.relname = 'pk' AND tc.oid = i.indrelid AND i.indisprimary = 't' AND ia.attrelid = "
        "i.indexrelid AND ta.attrelid = i.indrelid AND ta.attnum = i.indkey[ia.attnum-1] "
        "order by ia.attnum") == [("v", 1, 2), ("a", 2, 2)]
    # SQLStatistics: an index's pg_class row has PostgreSQL's flags, not NULLs
    assert _shadow_rows("select c.relname, c.relhasrules, c.relhassubclass from "
                        "pg_catalog.pg_class c where c.relkind = 'i'") == [("pk_pkey", False, False)]
