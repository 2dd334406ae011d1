"""Clients of the pg port written by others, in their own languages: node-postgres (JavaScript)
and pgjdbc (Java, as DBeaver and other JDBC tools use it), each running a small program of its
client's calls against a served database and printing what it got, which is checked here; and
pgbench, PostgreSQL's own benchmark, whose setup and TPC-B-like transactions are a script of
PostgreSQL's SQL (DROP TABLE of several, WITH (fillfactor), COPY ... FREEZE, VACUUM ANALYZE,
ADD PRIMARY KEY, TRUNCATE, END, untyped parameters); and psql restoring what pg_dump wrote.
They are skipped where the client is not installed (``make test`` installs node-postgres, ``.ci/run`` a JDK with Debian's pgjdbc and
PostgreSQL's server, whose package has pgbench)."""

from __future__ import annotations

import datetime
import glob
import json
import os
import shutil
import subprocess
from decimal import Decimal
from pathlib import Path

import psycopg
import pytest

import indb
from serving import Served

ROOT = Path(__file__).resolve().parents[1]
NODE_MODULES = ROOT / ".venv" / "node" / "node_modules"
PGJDBC = Path("/usr/share/java/postgresql.jar")

NODE_PROGRAM = r"""
const { Client } = require('pg');
(async () => {
  const client = new Client({ host: '127.0.0.1', port: Number(process.argv[2]), user: 'admin',
                              database: 'indb' });
  await client.connect();
  const got = {};
  got.rows = (await client.query('SELECT * FROM t ORDER BY id')).rows;
  got.fields = (await client.query('SELECT * FROM t')).fields.map(f => f.dataTypeID);
  got.param = (await client.query('SELECT name FROM t WHERE id = $1 AND ok = $2', [1, true])).rows;
  got.any = (await client.query('SELECT count(*) AS n FROM t WHERE id = ANY($1)', [[1, 2, 7]])).rows;
  got.insert = (await client.query('INSERT INTO t (id, name) VALUES ($1, $2)', [3, 'c'])).rowCount;
  got.delete = (await client.query('DELETE FROM t WHERE id = $1', [3])).rowCount;
  await client.end();
  console.log(JSON.stringify(got));
})().catch(error => { console.log(JSON.stringify({ error: error.message })); process.exit(1); });
"""

JAVA_PROGRAM = r"""
import java.sql.*;
import java.util.*;

public class Probe {
  public static void main(String[] args) throws Exception {
    Connection c = DriverManager.getConnection("jdbc:postgresql://127.0.0.1:" + args[0] + "/indb",
                                               "admin", "");
    List<String> got = new ArrayList<>();
    ResultSet r = c.createStatement().executeQuery(
        "SELECT id, name, px, amount, ts, day, ok FROM t ORDER BY id");
    while (r.next())
      got.add(r.getLong(1) + "|" + r.getString(2) + "|" + r.getDouble(3) + "|" + r.getBigDecimal(4)
              + "|" + r.getTimestamp(5) + "|" + r.getDate(6) + "|" + r.getBoolean(7));
    PreparedStatement p = c.prepareStatement("SELECT name FROM t WHERE id = ? AND day = ?");
    for (int i = 0; i < 6; i++) {  // past the driver's threshold: a named server statement
      p.setLong(1, 1);
      p.setDate(2, java.sql.Date.valueOf("2026-01-02"));
      r = p.executeQuery();
      r.next();
      got.add("prepared " + r.getString(1));
    }
    r = c.createStatement().executeQuery("SELECT xs, tags FROM t WHERE id = 1");
    r.next();
    got.add("arrays " + Arrays.toString((Object[]) r.getArray(1).getArray())
            + Arrays.toString((Object[]) r.getArray(2).getArray()));
    c.setAutoCommit(false);
    Statement s = c.createStatement();
    s.setFetchSize(1);  // a portal read one row an Execute
    r = s.executeQuery("SELECT id FROM t ORDER BY id");
    int n = 0;
    while (r.next()) n++;
    c.commit();
    c.setAutoCommit(true);
    got.add("fetched " + n);
    PreparedStatement batch = c.prepareStatement("INSERT INTO t (id, name) VALUES (?, ?)");
    for (int i = 10; i < 13; i++) { batch.setLong(1, i); batch.setString(2, "n" + i); batch.addBatch(); }
    got.add("batch " + Arrays.toString(batch.executeBatch()));
    c.createStatement().executeUpdate("DELETE FROM t WHERE id >= 10");
    DatabaseMetaData meta = c.getMetaData();
    StringBuilder columns = new StringBuilder("columns");
    r = meta.getColumns(null, null, "t", null);
    while (r.next()) columns.append(" " + r.getString("COLUMN_NAME") + ":" + r.getString("TYPE_NAME"));
    got.add(columns.toString());
    r = meta.getTables(null, null, "%", new String[] {"TABLE"});
    StringBuilder tables = new StringBuilder("tables");
    while (r.next()) tables.append(" " + r.getString("TABLE_NAME"));
    got.add(tables.toString());
    int keys = 0;
    r = meta.getPrimaryKeys(null, null, "t");
    while (r.next()) keys++;
    r = meta.getImportedKeys(null, null, "t");
    while (r.next()) keys++;
    got.add("keys " + keys);
    StringBuilder primary = new StringBuilder("primary key of pk");
    r = meta.getPrimaryKeys(null, null, "pk");
    while (r.next()) primary.append(" " + r.getString("COLUMN_NAME") + ":" + r.getInt("KEY_SEQ")
                                    + ":" + r.getString("PK_NAME"));
    got.add(primary.toString());
    StringBuilder index = new StringBuilder("index of pk");  // DBeaver's table editor asks
    r = meta.getIndexInfo(null, null, "pk", false, false);
    while (r.next()) index.append(" " + r.getString("INDEX_NAME") + ":" + r.getString("COLUMN_NAME")
                                  + ":" + r.getShort("ORDINAL_POSITION") + ":" + r.getBoolean("NON_UNIQUE"));
    got.add(index.toString());
    c.createStatement().execute("COMMENT ON COLUMN pk.v IS 'a value'");
    r = meta.getColumns(null, null, "pk", "v");
    r.next();
    got.add("remarks " + r.getString("REMARKS"));
    c.createStatement().execute("CREATE SEQUENCE probe_seq");
    StringBuilder sequences = new StringBuilder("sequences");
    r = meta.getTables(null, null, "%", new String[] {"SEQUENCE"});
    while (r.next()) sequences.append(" " + r.getString("TABLE_NAME"));
    got.add(sequences.toString());
    c.createStatement().execute("DROP SEQUENCE probe_seq");
    c.close();
    for (String line : got) System.out.println(line);
  }
}
"""


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    path = tmp_path_factory.mktemp("pgclients") / "db"
    with indb.connect(path) as conn:
        conn.sql("CREATE TABLE t (id BIGINT, name VARCHAR, px DOUBLE, amount DECIMAL(10, 2), "
                 "ts TIMESTAMP, day DATE, ok BOOLEAN, xs BIGINT[], tags VARCHAR[])")
        conn.sql("INSERT INTO t VALUES (1, 'a', 1.5, 2.25, TIMESTAMP '2026-01-02 03:04:05.12', "
                 "DATE '2026-01-02', true, [1, 5000000000], ['x', 'y z']), "
                 "(2, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL)")
        conn.sql("CREATE TABLE pk (a BIGINT, v VARCHAR, b VARCHAR, PRIMARY KEY (b, a))")
    server = Served(path)
    yield server
    server.stop()


def test_node_postgres(served, tmp_path):
    if shutil.which("node") is None or not (NODE_MODULES / "pg").is_dir():
        pytest.skip("node-postgres is not installed (make installs it where npm is)")
    program = tmp_path / "probe.js"
    program.write_text(NODE_PROGRAM)
    run = subprocess.run(["node", str(program), str(served.pg_port)], capture_output=True,
                         text=True, timeout=120, env={**os.environ, "NODE_PATH": str(NODE_MODULES)})
    got = json.loads(run.stdout.strip().splitlines()[-1])
    assert run.returncode == 0, got
    first, second = got["rows"]
    assert first == {"id": "1", "name": "a", "px": 1.5, "amount": "2.25",  # node-postgres'
                     "ts": first["ts"], "day": first["day"], "ok": True,  # own forms of int8
                     "xs": ["1", "5000000000"], "tags": ["x", "y z"]}  # and numeric: strings
    assert first["ts"].startswith("2026-01-02") and set(second.values()) == {"2", None}
    assert got["fields"] == [20, 25, 701, 1700, 1114, 1082, 16, 1016, 1009]
    assert got["param"] == [{"name": "a"}] and got["any"] == [{"n": "2"}]
    assert (got["insert"], got["delete"]) == (1, 1)


def test_pgjdbc(served, tmp_path):
    if shutil.which("javac") is None or not PGJDBC.exists():
        pytest.skip("no JDK or no pgjdbc (Debian's libpostgresql-jdbc-java)")
    (tmp_path / "Probe.java").write_text(JAVA_PROGRAM)
    subprocess.run(["javac", "-cp", str(PGJDBC), "Probe.java"], cwd=tmp_path, check=True,
                   capture_output=True, timeout=120)
    run = subprocess.run(["java", "-cp", f".:{PGJDBC}", "Probe", str(served.pg_port)],
                         cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    lines = run.stdout.splitlines()
    assert lines[:2] == ["1|a|1.5|2.25|2026-01-02 03:04:05.12|2026-01-02|true",
                         "2|null|0.0|null|null|null|false"]
    assert lines[2:8] == ["prepared a"] * 6
    assert lines[8:] == [
        "arrays [1, 5000000000][x, y z]", "fetched 2", "batch [1, 1, 1]",
        "columns id:int8 name:varchar px:float8 amount:numeric ts:timestamp day:date ok:bool "
        "xs:_int8 tags:_varchar",
        "tables pk t", "keys 0", "primary key of pk b:1:pk_pkey a:2:pk_pkey",
        "index of pk pk_pkey:b:1:false pk_pkey:a:2:false", "remarks a value", "sequences probe_seq"]


def test_psqlodbc(served):
    """psqlODBC, PostgreSQL's ODBC driver (Debian's odbc-postgresql), through pyodbc: what
    Excel, Power BI, Tableau and R's odbc read the pg port with. Its catalog functions
    (SQLColumns, SQLPrimaryKeys, SQLStatistics) are its own queries of pg_catalog."""
    pyodbc = pytest.importorskip("pyodbc")  # its import needs unixODBC's library
    if "PostgreSQL Unicode" not in pyodbc.drivers():
        pytest.skip("psqlODBC is not installed (.ci/run installs odbc-postgresql)")
    with pyodbc.connect(f"DRIVER={{PostgreSQL Unicode}};SERVER=127.0.0.1;PORT={served.pg_port};"
                        "DATABASE=indb;UID=admin;PWD=", autocommit=True) as conn:
        cur = conn.cursor()
        cur.execute("SELECT id, name, amount, day FROM t ORDER BY id")
        amount = cur.description[2]
        assert (amount[1], amount[4], amount[5]) == (Decimal, 10, 2)  # numeric(10, 2)'s typmod
        assert [tuple(row) for row in cur.fetchall()] == [
            (1, "a", Decimal("2.25"), datetime.date(2026, 1, 2)), (2, None, None, None)]
        assert cur.execute("SELECT name FROM t WHERE id = ? AND day = ?", 1,
                           datetime.date(2026, 1, 2)).fetchone()[0] == "a"
        columns = {r.column_name: (r.type_name, r.column_size, r.decimal_digits, r.ordinal_position)
                   for r in cur.columns(table="t").fetchall()}
        assert columns["amount"] == ("numeric", 10, 2, 4) and columns["id"][:2] == ("int8", 19)
        assert len(columns) == 9
        assert [(r.column_name, r.key_seq, r.pk_name) for r in cur.primaryKeys("pk").fetchall()] \
            == [("b", 1, "pk_pkey"), ("a", 2, "pk_pkey")]
        assert [(r.index_name, r.ordinal_position, r.column_name, r.non_unique)
                for r in cur.statistics("pk").fetchall()] == [("pk_pkey", 1, "b", 0),
                                                              ("pk_pkey", 2, "a", 0)]
        assert {"t", "pk"} <= {r.table_name for r in cur.tables(tableType="TABLE").fetchall()}
        for sql, state in (("SELECT nope FROM t", "42703"), ("SELECT * FROM nope", "42P01")):
            with pytest.raises(pyodbc.Error) as caught:
                cur.execute(sql)
            assert caught.value.args[0] == state
        conn.autocommit = False
        cur.execute("INSERT INTO t (id, name) VALUES (?, ?)", 30, "rolled back")
        conn.rollback()
        assert cur.execute("SELECT count(*) FROM t WHERE id = 30").fetchone()[0] == 0


def test_psycopg2_and_pandas_to_sql(served):
    """psycopg2 (libpq's, the most deployed Python driver): parameters interpolated by the
    client, dict rows by PostgreSQL's column names, execute_values, a named cursor, COPY both
    ways, an error's pgcode, a rollback; and pandas' to_sql and read_sql over SQLAlchemy with
    it, whose frames of floats make FLOAT(53) columns."""
    import io

    import pandas as pd
    import sqlalchemy as sa
    psycopg2 = pytest.importorskip("psycopg2")
    import psycopg2.extras
    with psycopg2.connect(host="127.0.0.1", port=served.pg_port, user="admin", dbname="indb") as conn:
        cur = conn.cursor()
        cur.execute("SELECT name FROM t WHERE id = %s AND day = %s AND id = ANY(%s)",
                    (1, datetime.date(2026, 1, 2), [1, 2]))
        assert cur.fetchall() == [("a",)]
        rows = conn.cursor(cursor_factory=psycopg2.extras.RealDictCursor)
        rows.execute("SELECT count(*), max(id) FROM t WHERE id IN %s", ((1, 2),))
        assert rows.fetchone() == {"count": 2, "max": 2}
        cur.execute("CREATE TABLE p2 (id BIGINT, name VARCHAR)")
        psycopg2.extras.execute_values(cur, "INSERT INTO p2 (id, name) VALUES %s",
                                       [(1, "x"), (2, "y")])
        cur.copy_expert("COPY p2 (id, name) FROM STDIN WITH CSV", io.StringIO("3,z\n"))
        conn.commit()
        named = conn.cursor(name="walk")
        named.execute("SELECT id FROM p2 ORDER BY id")
        assert named.fetchmany(2) == [(1,), (2,)] and named.fetchall() == [(3,)]
        named.close()
        out = io.StringIO()
        cur.copy_expert("COPY (SELECT id, name FROM p2 ORDER BY id) TO STDOUT WITH CSV HEADER", out)
        assert out.getvalue().splitlines() == ["id,name", "1,x", "2,y", "3,z"]
        cur.execute("DELETE FROM p2")
        conn.rollback()
        cur.execute("SELECT count(*) FROM p2")
        assert cur.fetchone() == (3,)
        with pytest.raises(psycopg2.errors.UndefinedColumn) as caught:
            cur.execute("SELECT nope FROM p2")
        assert caught.value.pgcode == "42703"
        conn.rollback()
        cur.execute("DROP TABLE p2")
    engine = sa.create_engine(f"postgresql+psycopg2://admin@127.0.0.1:{served.pg_port}/indb")
    try:
        frame = pd.DataFrame({"a": [1, 2], "b": ["x", None], "c": [1.5, None]})
        frame.to_sql("frame", engine, index=False, if_exists="replace")
        frame.to_sql("frame", engine, index=False, if_exists="append", method="multi")
        back = pd.read_sql("SELECT * FROM frame ORDER BY a, b", engine)
        assert back["a"].tolist() == [1, 1, 2, 2] and back["b"][0] == "x" and pd.isna(back["b"][2])
        assert back["c"].tolist()[:2] == [1.5, 1.5] and back["c"].dtype == "float64"
        # names as PostgreSQL keeps them quoted: has_table finds "MyFrame" by its spelling, so
        # to_sql appends and replaces as it does on PostgreSQL, and names with spaces
        for name in ("MyFrame", "sales data"):
            for mode in ("replace", "append", "append"):
                frame.to_sql(name, engine, index=False, if_exists=mode)
        assert sa.inspect(engine).has_table("MyFrame") and not sa.inspect(engine).has_table("myframe")
        assert {"MyFrame", "sales data"} <= set(sa.inspect(engine).get_table_names())
        assert pd.read_sql('SELECT count(*) AS n FROM "MyFrame"', engine)["n"][0] == 6
        assert pd.read_sql('SELECT count(*) AS n FROM "sales data"', engine)["n"][0] == 6
    finally:
        with engine.begin() as conn:
            for statement in ('DROP TABLE IF EXISTS frame', 'DROP TABLE IF EXISTS "MyFrame"',
                              'DROP TABLE IF EXISTS "sales data"'):
                conn.execute(sa.text(statement))
        engine.dispose()


def _pgbench() -> str | None:
    found = shutil.which("pgbench") or sorted(glob.glob("/usr/lib/postgresql/*/bin/pgbench"))
    return found if isinstance(found, str) else (found[-1] if found else None)


def test_pgbench_sets_up_and_runs_its_transactions_in_every_query_mode(served):
    pgbench = _pgbench()
    if pgbench is None:
        pytest.skip("pgbench is not installed (Debian's postgresql package has it)")
    where = ["-h", "127.0.0.1", "-p", str(served.pg_port), "-U", "admin", "indb"]

    def run(*options: str) -> str:
        done = subprocess.run([pgbench, *options, *where], capture_output=True, text=True,
                              timeout=300)
        assert done.returncode == 0, done.stderr
        return done.stdout + done.stderr

    assert "done in" in run("-i", "-s", "1")  # drop, create, COPY, VACUUM, primary keys
    for mode in ("simple", "extended", "prepared"):  # untyped parameters in the last two
        assert "number of transactions actually processed: 3/3" in run("-n", "-t", "3", "-M", mode)
    assert "processed: 5/5" in run("-n", "-S", "-t", "5", "-M", "prepared")  # select only
    with psycopg.connect(f"host=127.0.0.1 port={served.pg_port} dbname=indb user=admin") as conn:
        sums = conn.execute(
            "SELECT (SELECT sum(abalance) FROM pgbench_accounts), (SELECT sum(tbalance) FROM "
            "pgbench_tellers), (SELECT sum(bbalance) FROM pgbench_branches), (SELECT sum(delta) "
            "FROM pgbench_history), (SELECT count(*) FROM pgbench_history), (SELECT count(*) "
            "FROM pgbench_accounts)").fetchone()
        key = conn.execute("SELECT conname FROM pg_constraint WHERE contype = 'p' AND "
                           "conname LIKE 'pgbench%' ORDER BY 1").fetchall()
    # each transaction adds its delta to an account, a teller and a branch, and records it
    assert sums[0] == sums[1] == sums[2] == sums[3] and sums[4:] == (9, 100_000)
    assert [k for k, in key] == [f"pgbench_{t}_pkey" for t in ("accounts", "branches", "tellers")]


# what pg_dump --no-owner (PostgreSQL 15) wrote of six tables (a SERIAL column, identity
# columns ALWAYS and BY DEFAULT; a CHECK, UNIQUE constraints and a unique index), a view,
# indexes and a sequence of its own, as it is
PG_DUMP = r"""
SET statement_timeout = 0;
SET lock_timeout = 0;
SET idle_in_transaction_session_timeout = 0;
SET client_encoding = 'UTF8';
SET standard_conforming_strings = on;
SELECT pg_catalog.set_config('search_path', '', false);
SET check_function_bodies = false;
SET xmloption = content;
SET client_min_messages = warning;
SET row_security = off;
SET default_tablespace = '';
SET default_table_access_method = heap;

CREATE TABLE public.orders (
    order_id bigint NOT NULL,
    customer_id integer,
    amount double precision,
    placed date,
    tags text[],
    note text
);

CREATE VIEW public.big_orders AS
 SELECT orders.order_id,
    orders.customer_id,
    orders.amount
   FROM public.orders
  WHERE (orders.amount > (100)::double precision);

CREATE TABLE public.customers (
    id integer NOT NULL,
    name text NOT NULL,
    email character varying(100),
    created timestamp without time zone DEFAULT now(),
    balance numeric(12,2) DEFAULT 0,
    active boolean DEFAULT true
);

CREATE SEQUENCE public.customers_id_seq
    AS integer
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;

ALTER SEQUENCE public.customers_id_seq OWNED BY public.customers.id;

CREATE SEQUENCE public.lone
    START WITH 100
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;

ALTER TABLE public.orders ALTER COLUMN order_id ADD GENERATED ALWAYS AS IDENTITY (
    SEQUENCE NAME public.orders_order_id_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1
);

CREATE TABLE public.s3 (
    id bigint NOT NULL,
    v integer
);

ALTER TABLE public.s3 ALTER COLUMN id ADD GENERATED BY DEFAULT AS IDENTITY (
    SEQUENCE NAME public.s3_id_seq
    START WITH 10
    INCREMENT BY 5
    NO MINVALUE
    NO MAXVALUE
    CACHE 1
);

ALTER TABLE ONLY public.customers ALTER COLUMN id SET DEFAULT nextval('public.customers_id_seq'::regclass);

COPY public.customers (id, name, email, created, balance, active) FROM stdin;
1	ann	ann@x.org	2026-12-05 23:21:53.353389	0.00	t
2	bob	\N	2026-12-05 23:21:53.353389	0.00	t
3	tab\tand "quote"	c@x	2026-12-05 23:21:53.353389	0.00	t
\.

COPY public.orders (order_id, customer_id, amount, placed, tags, note) FROM stdin;
1	1	150.5	2024-01-02	{a,b}	multi\nline
2	2	20	\N	\N	back\\slash
\.

COPY public.s3 (id, v) FROM stdin;
10	1
\.

SELECT pg_catalog.setval('public.customers_id_seq', 3, true);

SELECT pg_catalog.setval('public.lone', 100, true);

SELECT pg_catalog.setval('public.orders_order_id_seq', 2, true);

SELECT pg_catalog.setval('public.s3_id_seq', 10, true);

ALTER TABLE ONLY public.customers
    ADD CONSTRAINT customers_pkey PRIMARY KEY (id);

ALTER TABLE ONLY public.orders
    ADD CONSTRAINT orders_pkey PRIMARY KEY (order_id);

CREATE INDEX orders_customer ON public.orders USING btree (customer_id);

CREATE TABLE public.ux (
    id integer NOT NULL,
    email text,
    a integer,
    b integer,
    CONSTRAINT ux_a_check CHECK ((a > 0))
);

COPY public.ux (id, email, a, b) FROM stdin;
1	x	1	1
\.

ALTER TABLE ONLY public.ux
    ADD CONSTRAINT ab_u UNIQUE (a, b);

ALTER TABLE ONLY public.ux
    ADD CONSTRAINT ux_email_key UNIQUE (email);

ALTER TABLE ONLY public.ux
    ADD CONSTRAINT ux_pkey PRIMARY KEY (id);

CREATE INDEX ix_plain ON public.ux USING btree (a);

CREATE UNIQUE INDEX ix_ux_b ON public.ux USING btree (b);
"""


def test_psql_restores_what_pg_dump_wrote(served, tmp_path):
    if shutil.which("psql") is None:
        pytest.skip("psql is not installed")
    dump = tmp_path / "dump.sql"
    dump.write_text(PG_DUMP)
    done = subprocess.run(["psql", "-h", "127.0.0.1", "-p", str(served.pg_port), "-U", "admin",
                           "-d", "indb", "-v", "ON_ERROR_STOP=1", "-f", str(dump)],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    with psycopg.connect(f"host=127.0.0.1 port={served.pg_port} dbname=indb user=admin") as conn:
        assert conn.execute("SELECT id, name, email, balance, active FROM public.customers "
                            "ORDER BY id").fetchall() == [
            (1, "ann", "ann@x.org", Decimal("0.00"), True), (2, "bob", None, Decimal("0.00"), True),
            (3, 'tab\tand "quote"', "c@x", Decimal("0.00"), True)]
        assert conn.execute("SELECT order_id, tags, note FROM orders ORDER BY 1").fetchall() == [
            (1, ["a", "b"], "multi\nline"), (2, None, "back\\slash")]
        assert conn.execute("SELECT order_id FROM big_orders").fetchall() == [(1,)]
        assert conn.execute("SELECT conname FROM pg_constraint WHERE conname IN "
                            "('customers_pkey', 'orders_pkey') ORDER BY 1").fetchall() == [
            ("customers_pkey",), ("orders_pkey",)]
        # each numbering goes on from where the dump's setval left it
        conn.execute("INSERT INTO customers (name) VALUES ('dan')")
        conn.execute("INSERT INTO orders (customer_id) VALUES (4)")
        conn.execute("INSERT INTO s3 (v) VALUES (2)")
        assert conn.execute("SELECT max(id) FROM customers").fetchone() == (4,)
        assert conn.execute("SELECT max(order_id) FROM orders").fetchone() == (3,)
        assert conn.execute("SELECT id FROM s3 ORDER BY id").fetchall() == [(10,), (15,)]
        assert conn.execute("SELECT nextval('lone')").fetchone() == (101,)
        # and a client's catalog lists the sequences, as PostgreSQL's does
        listed = conn.execute("SELECT c.relname FROM pg_class c WHERE c.relkind = 'S' "
                              "ORDER BY 1").fetchall()
        assert ("customers_id_seq",) in listed and ("lone",) in listed
        # the constraints and indexes hold, under their names
        assert conn.execute("SELECT c.relname FROM pg_index i JOIN pg_class c ON c.oid = "
                            "i.indexrelid WHERE i.indrelid = 'ux'::regclass ORDER BY 1").fetchall() \
            == [("ab_u",), ("ix_plain",), ("ix_ux_b",), ("ux_email_key",), ("ux_pkey",)]
        for row, violated in (("(2, 'y', 0, 2)", psycopg.errors.CheckViolation),
                              ("(2, 'x', 2, 2)", psycopg.errors.UniqueViolation),
                              ("(2, 'y', 2, 1)", psycopg.errors.UniqueViolation)):
            with pytest.raises(violated):
                conn.execute(f"INSERT INTO ux VALUES {row}")
            conn.rollback()
