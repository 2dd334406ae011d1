"""Schemas end to end: CREATE/DROP/SHOW SCHEMAS and schema-qualified table names everywhere a
table name goes (an Iceberg namespace per schema, a DuckDB schema of views per schema)."""

import pyarrow as pa
import pytest

import indb
from indb.errors import CatalogError, SqlError


def test_a_schema_holds_tables_named_s_t(fresh):
    fresh.sql("CREATE SCHEMA lab")
    fresh.sql("CREATE TABLE lab.people (id BIGINT, name VARCHAR, SHARD KEY (id))")
    fresh.sql("CREATE TABLE people (id BIGINT)")  # main's table of the same name is another one
    fresh.sql("INSERT INTO lab.people VALUES (1, 'ann'), (2, 'bob')")
    fresh.sql("INSERT INTO main.people VALUES (7)")
    assert fresh.sql("SELECT name FROM lab.people ORDER BY id").fetchall() == [("ann",), ("bob",)]
    assert fresh.sql("SELECT * FROM people").fetchall() == [(7,)]
    assert fresh.sql("SELECT count(*) FROM lab.people JOIN main.people USING (id)").fetchone() == (0,)
    assert [r[0] for r in fresh.sql("SHOW TABLES").fetchall()] == ["lab.people", "people"]
    assert fresh.sql("SHOW SCHEMAS").fetchall() == [("main", 1), ("lab", 1)]
    described = {r[0]: r[2] for r in fresh.sql("DESCRIBE lab.people").fetchall()}
    assert described["id"] == "shard key"
    identifier = fresh._engine.db.load("lab.people")[0].name()
    assert tuple(identifier) == ("lab", "people")  # an Iceberg namespace per schema
    assert (fresh.path / "warehouse" / "lab" / "people").is_dir()


def test_every_statement_takes_a_qualified_name(fresh):
    fresh.sql("CREATE SCHEMA s")
    fresh.sql("CREATE TABLE s.t (k BIGINT, v DOUBLE, SHARD KEY (k)) WITH (SHARDS = 2)")
    fresh.sql("INSERT INTO s.t SELECT range, range * 1.0 FROM range(10)")
    fresh.sql("UPDATE s.t SET v = -1 WHERE k = 3")
    fresh.sql("DELETE FROM s.t WHERE k > 7")
    fresh.sql("ALTER TABLE s.t ADD COLUMN note VARCHAR")
    fresh.sql("CREATE TABLE s.copy AS SELECT * FROM s.t WHERE k < 5")
    fresh.load("s.loaded", pa.table({"x": [1, 2, 3]}))
    fresh.load("s.t", pa.table({"k": [100], "v": [0.5], "note": ["loaded"]}))
    assert fresh.sql("SELECT count(*), min(v) FROM s.t").fetchone() == (9, -1.0)
    assert fresh.sql("SELECT count(*) FROM s.copy").fetchone() == (5,)
    assert fresh.sql("SELECT sum(x) FROM s.loaded").fetchone() == (6,)
    assert fresh.table("s.t").shards == 2 and fresh.table("s.t").info.shard_key == ("k",)
    version = fresh.sql("SHOW SNAPSHOTS s.t").fetchall()[0][0]
    assert fresh.sql(f"SELECT count(*) FROM s.t AT (VERSION => {version})").fetchone() == (10,)
    fresh.sql("VACUUM s.t")
    fresh.sql("OPTIMIZE s.t")
    fresh.sql("DROP TABLE s.copy")
    assert [r[0] for r in fresh.sql("SHOW TABLES").fetchall()] == ["s.loaded", "s.t"]
    with pytest.raises(SqlError, match="copy does not exist"):
        fresh.sql("SELECT * FROM s.copy")  # its DuckDB view went with it


def test_functions_read_and_write_schema_tables(fresh):
    fresh.sql("CREATE SCHEMA kin")
    fresh.sql("CREATE TABLE kin.src (id BIGINT, x DOUBLE, SHARD KEY (id)) WITH (SHARDS = 2)")
    fresh.sql("INSERT INTO kin.src SELECT range, range FROM range(100)")
    fresh.sql("CREATE FUNCTION double_x LANGUAGE PYTHON WITH OPTIONS (max_concurrency_per_node = '0') AS $$\n"
              "def double_x(ctx, t):\n"
              "    import pyarrow.compute as pc\n"
              "    return t.set_column(1, 'x', pc.multiply(t['x'], 2))\n$$")
    fresh.sql("EXECUTE FUNCTION double_x(INPUT_TABLE_NAMES => (SELECT id, x FROM kin.src WHERE id < 10), "
              "OUTPUT_TABLE_NAMES => OUTPUT_TABLES('kin.out'))")
    assert fresh.sql("SELECT count(*), sum(x) FROM kin.out").fetchone() == (10, 90.0)
    fresh.sql("EXECUTE FUNCTION double_x(INPUT_TABLE_NAMES => kin.src, "
              "OUTPUT_TABLE_NAMES => OUTPUT_TABLES('kin.out'))")  # appends to it
    assert fresh.sql("SELECT count(*), sum(x) FROM kin.out").fetchone() == (110, 9990.0)


def test_drop_schema_refuses_a_schema_with_tables_unless_cascade(fresh):
    fresh.sql("CREATE SCHEMA s")
    fresh.sql("CREATE TABLE s.a (x INTEGER)")
    fresh.sql("INSERT INTO s.a VALUES (1)")
    fresh.sql("CREATE TABLE s.b (x INTEGER)")
    with pytest.raises(CatalogError, match=r"schema s holds 2 table\(s\) \(s.a, s.b\).*CASCADE"):
        fresh.sql("DROP SCHEMA s")
    assert fresh.sql("SELECT * FROM s.a").fetchall() == [(1,)]  # nothing was dropped
    fresh.sql("DROP SCHEMA s CASCADE")
    assert fresh.sql("SHOW SCHEMAS").fetchall() == [("main", 0)]
    assert fresh.sql("SHOW TABLES").fetchall() == []
    assert not (fresh.path / "warehouse" / "s").exists()
    with pytest.raises(SqlError, match="schema s does not exist; CREATE SCHEMA s first"):
        fresh.sql("CREATE TABLE s.a (x INTEGER)")
    fresh.sql("DROP SCHEMA IF EXISTS s")
    fresh.sql("CREATE SCHEMA s")  # the name is free again, and the schema empty
    assert fresh.sql("SHOW SCHEMAS").fetchall() == [("main", 0), ("s", 0)]
    fresh.sql("DROP SCHEMA s")  # empty: no CASCADE needed


def test_public_is_postgresql_s_name_of_main(fresh, tmp_path):
    fresh.sql("CREATE TABLE public.orders (id INT, tags VARCHAR[])")  # as pg_dump writes it
    fresh.sql("INSERT INTO public.orders VALUES (1, ['a'])")
    fresh.load("public.orders", pa.table({"id": pa.array([2], pa.int32()),
                                          "tags": pa.array([["b"]], pa.list_(pa.string()))}))
    assert fresh.sql('SELECT o.id, public.orders.tags FROM "public".orders AS o JOIN '
                     "public.orders USING (id) ORDER BY 1").fetchall() == [(1, ["a"]), (2, ["b"])]
    assert [r[0] for r in fresh.sql("SHOW TABLES").fetchall()] == ["orders"]  # main's
    with pytest.raises(SqlError, match="public is PostgreSQL's name of the default schema"):
        fresh.sql("CREATE SCHEMA public")
    assert "already exists" in fresh.sql("CREATE SCHEMA IF NOT EXISTS public").message


def test_three_part_names_in_this_database_as_dbt_writes_them(fresh):
    """dbt's table materialization: a temporary relation renamed over the model, every name
    database.schema.table (the pg port's database is indb)."""
    fresh.sql('CREATE TABLE "indb"."public"."model__dbt_tmp" AS (SELECT 1 AS a)')
    fresh.sql('ALTER TABLE "indb"."public"."model__dbt_tmp" RENAME TO "model"')
    fresh.sql("INSERT INTO indb.main.model VALUES (2)")
    assert fresh.sql("SELECT indb.main.model.a FROM indb.public.model ORDER BY 1").fetchall() == [
        (1,), (2,)]
    assert "does not exist" in fresh.sql(
        'DROP TABLE IF EXISTS "indb"."public"."model__dbt_backup" CASCADE').message
    with pytest.raises(SqlError, match="does not exist"):  # another database is none of indb's
        fresh.sql("SELECT * FROM other.main.model")


def test_schemas_are_seen_by_other_connections(tmp_path):
    with indb.connect(tmp_path / "db") as one, indb.connect(tmp_path / "db") as two:
        one.sql("CREATE SCHEMA s")
        one.sql("CREATE TABLE s.t (x INTEGER)")
        one.sql("INSERT INTO s.t VALUES (5)")
        assert two.sql("SELECT * FROM s.t").fetchall() == [(5,)]
        one.sql("DROP SCHEMA s CASCADE")
        with pytest.raises(SqlError, match="does not exist"):
            two.sql("SELECT * FROM s.t")


def test_a_hostile_schema_name_gets_the_table_names_message(fresh):
    with pytest.raises(SqlError, match="not a valid schema name: use letters, digits and _"):
        fresh.sql('CREATE SCHEMA "a;b"')
    with pytest.raises(SqlError, match="not a valid table name: use letters, digits, _, spaces"):
        fresh.sql('CREATE TABLE "a;b" (x INTEGER)')


def test_users_below_admin_reach_no_schema_table_through_a_main_tables_grant(tmp_path):
    """Grants name tables of main; s.t must never be checked as main's t (issue 13's forms)."""
    from indb.errors import PrivilegeError
    conn = indb.connect(tmp_path / "db", cluster="threads", workers=1, default_shards=2)
    try:
        for sql in ["CREATE SCHEMA s", "CREATE TABLE s.t (id BIGINT)", "INSERT INTO s.t VALUES (1)",
                    "CREATE TABLE t (id BIGINT)", "CREATE USER dev", "GRANT developer TO dev",
                    "GRANT SELECT, INSERT, DELETE ON TABLE t TO dev",
                    "CREATE FUNCTION ident LANGUAGE PYTHON AS $$\ndef ident(ctx, t):\n    return t\n$$",
                    "GRANT EXECUTE ON FUNCTION ident TO dev"]:
            conn.sql(sql)
        with conn._engine.as_user("dev"):
            assert conn.sql("SELECT count(*) FROM t").fetchone() == (0,)  # main's t is granted
            assert conn.sql("SHOW SCHEMAS").fetchall() == [("main", 1), ("s", 1)]  # as SHOW TABLES
            for sql in ["SELECT * FROM s.t", "INSERT INTO s.t VALUES (2)", "DELETE FROM s.t",
                        "DROP TABLE s.t", "VACUUM s.t", "SHOW SNAPSHOTS s.t",
                        "EXECUTE FUNCTION ident(INPUT_TABLE_NAMES => s.t, "
                        "OUTPUT_TABLE_NAMES => OUTPUT_TABLES('t'))",
                        "EXECUTE FUNCTION ident(INPUT_TABLE_NAMES => 's.t', "
                        "OUTPUT_TABLE_NAMES => OUTPUT_TABLES('t'))",
                        "EXECUTE FUNCTION ident(INPUT_TABLE_NAMES => t, "
                        "OUTPUT_TABLE_NAMES => OUTPUT_TABLES('s.t'))",
                        "CREATE SCHEMA mine", "DROP SCHEMA s CASCADE"]:
                with pytest.raises(PrivilegeError):
                    conn.sql(sql)
        assert conn.sql("SELECT * FROM s.t").fetchall() == [(1,)]
    finally:
        conn.close()


def test_schemas_move_with_relocation_and_backup(tmp_path):
    """Two tables of one name in two schemas (and a replaced table, whose files lie beside the
    old table's directory) are each relocated and backed up as themselves."""
    import shutil

    from indb.catalog.backup import backup
    with indb.connect(tmp_path / "a") as conn:
        conn.sql("CREATE SCHEMA s")
        conn.sql("CREATE TABLE t (x INTEGER)")
        conn.sql("INSERT INTO t VALUES (1)")
        conn.sql("CREATE TABLE s.t (x INTEGER)")
        conn.sql("INSERT INTO s.t VALUES (2), (3)")
        conn.sql("CREATE OR REPLACE TABLE s.t AS SELECT x * 10 AS x FROM s.t")
    shutil.copytree(tmp_path / "a", tmp_path / "b")
    with indb.connect(tmp_path / "b", relocate=True) as copy:
        assert copy.sql("SELECT * FROM t").fetchall() == [(1,)]
        assert copy.sql("SELECT * FROM s.t ORDER BY x").fetchall() == [(20,), (30,)]
        assert copy._engine.db.load("s.t")[0].location().startswith((tmp_path / "b").as_uri())
    backup(tmp_path / "b", tmp_path / "bak")
    with indb.connect(tmp_path / "bak") as restored:
        assert restored.sql("SELECT * FROM t").fetchall() == [(1,)]
        assert restored.sql("SELECT sum(x) FROM s.t").fetchone() == (50,)
        assert restored.sql("SHOW SCHEMAS").fetchall() == [("main", 1), ("s", 1)]


# -- the search path: USE s, SET schema, SET search_path ---------------------------------------

def test_use_makes_a_schema_the_one_names_without_a_schema_mean(tmp_path):
    with indb.connect(tmp_path / "db", cluster="threads", workers=1, default_shards=2) as conn, \
            indb.connect(tmp_path / "db") as other:
        conn.sql("CREATE SCHEMA lab")
        conn.sql("CREATE TABLE t (x INTEGER)")
        conn.sql("INSERT INTO t VALUES (1)")
        conn.sql("USE lab")
        assert conn.sql("SELECT current_schema(), current_schemas(false)").fetchone() == (
            "lab", ["lab"])
        conn.sql("CREATE TABLE t (x INTEGER)")  # made in lab, beside main's t
        conn.sql("INSERT INTO t VALUES (2), (3)")
        conn.sql("UPDATE t SET x = x * 10 WHERE x = 3")
        conn.sql("CREATE TABLE u AS SELECT x + 1 AS y FROM t")
        assert conn.sql("SELECT x FROM t ORDER BY x").fetchall() == [(2,), (30,)]
        assert conn.sql("SELECT t.x FROM t JOIN u ON t.x + 1 = u.y ORDER BY 1").fetchall() == [
            (2,), (30,)]  # t's columns named by the table's name, as before
        assert conn.sql("SELECT * FROM main.t").fetchall() == [(1,)]
        assert [r[0] for r in conn.sql("SHOW TABLES").fetchall()] == ["lab.t", "lab.u", "t"]
        assert [r[1] for r in conn.sql("PRAGMA table_info('u')").fetchall()] == ["y"]
        with pytest.raises(SqlError, match="does not exist"):
            conn.sql("SELECT * FROM u2")
        assert other.sql("SELECT * FROM t").fetchall() == [(1,)]  # the session's own path
        assert conn.sql("q)select from t where x > 5").fetchall() == [(30,)]  # q-sql's tables too
        conn.sql("USE indb.main")  # DuckDB's form, the database named
        assert conn.sql("SELECT * FROM t").fetchall() == [(1,)]
        with pytest.raises(SqlError, match="no schema nope"):
            conn.sql("USE nope")
        conn.sql("SET schema = 'lab'")  # DuckDB's SET
        assert conn.sql("SELECT count(*) FROM t").fetchone() == (2,)
        conn.sql("RESET schema")
        assert conn.sql("SELECT count(*) FROM t").fetchone() == (1,)


def test_a_search_path_of_several_schemas_looks_in_each_in_order(fresh):
    fresh.sql("CREATE SCHEMA a")
    fresh.sql("CREATE SCHEMA b")
    fresh.sql("CREATE TABLE a.only_a AS SELECT 'a' AS s")
    fresh.sql("CREATE TABLE b.both AS SELECT 'b' AS s")
    fresh.sql("CREATE TABLE a.both AS SELECT 'a' AS s")
    fresh.sql("CREATE TABLE main_only AS SELECT 'main' AS s")
    fresh.sql("SET search_path TO \"$user\", b, a, public")  # PostgreSQL's form, $user none here
    assert fresh.sql("SELECT s FROM both").fetchall() == [("b",)]  # b before a
    assert fresh.sql("SELECT s FROM only_a").fetchall() == [("a",)]
    assert fresh.sql("SELECT s FROM main_only").fetchall() == [("main",)]  # public is main
    fresh.sql("CREATE TABLE made (x INTEGER)")
    assert [r[0] for r in fresh.sql("SHOW TABLES").fetchall() if r[0].endswith("made")] == ["b.made"]
    fresh.sql("SET search_path = 'a'")  # main is left out: its tables are not found
    with pytest.raises(SqlError, match="does not exist"):
        fresh.sql("SELECT * FROM main_only")
    assert fresh.sql("SELECT s FROM both").fetchall() == [("a",)]
    fresh.sql("CREATE VIEW v AS SELECT s FROM both")  # views are in no schema: found on any path
    assert fresh.sql("SELECT * FROM v").fetchall() == [("a",)]
    fresh.sql("RESET ALL")
    assert fresh.sql("SELECT * FROM v").fetchall() == [("a",)]  # it reads a.both, as defined
    with pytest.raises(SqlError, match="does not exist"):
        fresh.sql("SELECT * FROM both")
    with pytest.raises(SqlError, match="search_path stands alone"):
        fresh.sql("SET threads = 2, search_path = 'a'")
    with pytest.raises(SqlError, match="is not a schema's name"):
        fresh.sql("SET search_path = 'a;b'")


def test_sequences_are_made_and_found_along_the_search_path(fresh):
    fresh.sql("CREATE SCHEMA lab")
    fresh.sql("CREATE SEQUENCE counter START 100")  # main's
    fresh.sql("SET search_path TO lab, public")
    fresh.sql("CREATE SEQUENCE ids")
    assert [r[0] for r in fresh.sql("SHOW SEQUENCES").fetchall()] == ["counter", "lab.ids"]
    assert fresh.sql("SELECT nextval('ids'), nextval('lab.ids'), nextval('counter')").fetchone() \
        == (1, 2, 100)
    fresh.sql("CREATE TABLE t (id INTEGER DEFAULT nextval('ids'), v VARCHAR)")
    assert "NEXTVAL('lab.ids')" in fresh.sql("SHOW CREATE TABLE t").fetchone()[0]
    fresh.sql("INSERT INTO t (v) VALUES ('a')")
    assert fresh.sql("SELECT currval('ids'::regclass), last_value FROM ids").fetchone() == (3, 3)
    fresh.sql("CREATE TABLE u (id SERIAL, v VARCHAR)")  # lab.u, numbered by lab.u_id_seq
    assert fresh.sql("SELECT setval('u_id_seq', 41)").fetchone() == (41,)
    fresh.sql("INSERT INTO u (v) VALUES ('x')")
    assert fresh.sql("SELECT id FROM lab.u").fetchall() == [(42,)]
    fresh.sql("ALTER SEQUENCE ids RESTART WITH 10")
    assert fresh.sql("SELECT nextval('lab.ids')").fetchone() == (10,)
    fresh.sql("RESET search_path")
    with pytest.raises(CatalogError, match="sequence ids does not exist"):
        fresh.sql("SELECT nextval('ids')")
    fresh.sql("USE lab")
    fresh.sql("DROP TABLE t")
    fresh.sql("DROP SEQUENCE ids")
    assert [r[0] for r in fresh.sql("SHOW SEQUENCES").fetchall()] == ["counter"]


def test_function_runs_read_and_make_tables_along_the_search_path(tmp_path):
    with indb.connect(tmp_path / "db", cluster="threads", workers=1, default_shards=2) as conn:
        conn.sql("CREATE SCHEMA kin")
        conn.sql("CREATE TABLE src AS SELECT 100 AS x")  # main's, not read
        conn.sql("USE kin")
        conn.sql("CREATE TABLE src AS SELECT range AS x FROM range(4)")
        conn.sql("CREATE FUNCTION ident LANGUAGE PYTHON AS $$\ndef ident(ctx, t):\n    return t\n$$")
        conn.sql("EXECUTE FUNCTION ident(INPUT_TABLE_NAMES => INPUT_TABLE(src), "
                 "OUTPUT_TABLE_NAMES => OUTPUT_TABLES('copied'))")
        conn.sql("EXECUTE FUNCTION ident(INPUT_TABLE_NAMES => INPUT_TABLE(SELECT x FROM src "
                 "WHERE x > 1), OUTPUT_TABLE_NAMES => OUTPUT_TABLES('copied'))")  # appended
        assert conn.sql("SELECT sum(x), count(*) FROM kin.copied").fetchone() == (11, 6)
        assert conn.sql("SELECT count(*) FROM TABLE(ident(INPUT_TABLE_NAMES => INPUT_TABLE(src)))"
                        ).fetchone() == (4,)


def test_users_below_admin_are_checked_on_the_table_the_path_finds(tmp_path):
    from indb.errors import PrivilegeError
    with indb.connect(tmp_path / "db") as conn:
        for sql in ["CREATE SCHEMA s", "CREATE TABLE s.t (id BIGINT)", "CREATE TABLE t (id BIGINT)",
                    "CREATE USER ann", "GRANT SELECT ON TABLE t TO ann"]:
            conn.sql(sql)
        with conn._engine.as_user("ann"):
            assert conn.sql("SELECT count(*) FROM t").fetchone() == (0,)
            conn.sql("USE s")  # anyone may: the reads are checked as they come
            with pytest.raises(PrivilegeError, match="s.t"):
                conn.sql("SELECT count(*) FROM t")


def test_a_postgresql_session_keeps_its_search_path(tmp_path):
    import subprocess

    import httpx
    import psycopg

    from serving import Served
    with indb.connect(tmp_path / "db") as conn:
        for sql in ["CREATE SCHEMA lab", "CREATE TABLE t AS SELECT 'main' AS s",
                    "CREATE TABLE lab.t AS SELECT 'lab' AS s",
                    "CREATE FUNCTION ident LANGUAGE PYTHON AS $$\ndef ident(ctx, t):\n    return t\n$$"]:
            conn.sql(sql)
    served = Served(tmp_path / "db")
    dsn = f"host=127.0.0.1 port={served.pg_port} dbname=indb"
    try:
        with psycopg.connect(dsn, autocommit=True) as one, psycopg.connect(dsn, autocommit=True) as two:
            one.execute("SET search_path TO lab, public")
            assert one.execute("SHOW search_path").fetchone() == ("lab, main",)
            assert one.execute("SELECT s FROM t").fetchone() == ("lab",)
            assert one.execute("SELECT current_schema()").fetchone() == ("lab",)
            assert one.execute("SELECT current_schemas(false)").fetchone() == (["lab", "main"],)
            one.execute("CREATE TABLE made (x INTEGER)")
            one.execute("CREATE TEMP MACRO plus(a) AS a + 100")  # a run's own connection is told
            one.execute("EXECUTE FUNCTION ident(INPUT_TABLE_NAMES => INPUT_TABLE(SELECT s, plus(1) "
                        "AS x, '{1,2}'::int[] AS arr FROM t), OUTPUT_TABLE_NAMES => OUTPUT_TABLES('ran'))")
            assert two.execute("SELECT s, x, arr FROM lab.ran").fetchall() == [("lab", 101, [1, 2])]
            assert two.execute("SELECT s FROM t").fetchone() == ("main",)  # its own path: main
            assert two.execute("SELECT count(*) FROM lab.made").fetchone() == (0,)
            one.execute("RESET search_path")
            assert one.execute("SELECT s FROM t").fetchone() == ("main",)
            one.execute("SET SCHEMA 'lab'")
            assert one.execute("SELECT s FROM t").fetchone() == ("lab",)
            one.execute("DISCARD ALL")  # a pooler's reset: main again
            assert one.execute("SELECT s FROM t").fetchone() == ("main",)
        # a client's startup options set it (libpq's options, JDBC's currentSchema)
        with psycopg.connect(dsn, autocommit=True, options="-c search_path=lab,public") as three:
            assert three.execute("SELECT s FROM t").fetchone() == ("lab",)
            assert three.execute("SHOW search_path").fetchone() == ("lab, main",)
        with pytest.raises(psycopg.OperationalError, match="is not a schema's name"):
            psycopg.connect(dsn, options="-c search_path=a;b")
        run = subprocess.run(["psql", "-h", "127.0.0.1", "-p", str(served.pg_port), "-d", "indb",
                              "-X", "-c", "SET search_path TO lab", "-c", r"\dt"],
                             capture_output=True, text=True, timeout=60)
        assert run.returncode == 0 and not run.stderr, run.stderr
        listed = [[cell.strip() for cell in line.split("|")] for line in run.stdout.splitlines()
                  if line.count("|") == 3]
        assert [row[:2] for row in listed[1:]] == [["lab", "made"], ["lab", "ran"], ["lab", "t"]]
        response = httpx.post(f"{served.url}/v1/sql", json={"sql": "USE lab"})
        assert response.status_code == 400 and "HTTP API has none" in response.text
    finally:
        served.stop()
