"""``indb serve``'s PostgreSQL port (``indb.server.pgwire``): TLS (an SSLRequest answered 'S' and
TLS with the server's certificate, or 'N' without one), cancel requests (psycopg's, psql's
Ctrl-C) and errors after rows were sent, as PostgreSQL does them."""

from __future__ import annotations

import datetime
import decimal
import os
import re
import shutil
import signal
import socket
import struct
import subprocess
import threading
import time

import psycopg
import pytest
from psycopg import generators, waiting

import indb
from indb.server.pgwire import CANCEL_REQUEST
from serving import Served, execute_gated, served_gated



def certificate_authority(directory, name):
    """A CA of the test's own: its certificate and key."""
    cert, key = directory / f"{name}.pem", directory / f"{name}.key"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                    "-subj", f"/CN={name}", "-keyout", str(key), "-out", str(cert)],
                   check=True, capture_output=True)
    return cert, key


def signed_certificate(directory, ca):
    """A certificate for localhost and 127.0.0.1 signed by ``ca``, and its key."""
    cert, key, request = directory / "server.pem", directory / "server.key", directory / "server.csr"
    extensions = directory / "san.cnf"
    extensions.write_text("subjectAltName=DNS:localhost,IP:127.0.0.1\n")
    subprocess.run(["openssl", "req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=localhost",
                    "-keyout", str(key), "-out", str(request)], check=True, capture_output=True)
    subprocess.run(["openssl", "x509", "-req", "-in", str(request), "-CA", str(ca[0]), "-CAkey",
                    str(ca[1]), "-CAcreateserial", "-days", "1", "-out", str(cert), "-extfile",
                    str(extensions)], check=True, capture_output=True)
    return cert, key


@pytest.fixture(scope="module")
def tls(tmp_path_factory):
    """A served database with TLS from a certificate of the test's CA; ann's token; the CA."""
    if shutil.which("openssl") is None:
        pytest.skip("openssl is not installed")
    directory = tmp_path_factory.mktemp("pgtls")
    ca = certificate_authority(directory, "test-ca")
    cert, key = signed_certificate(directory, ca)
    with indb.connect(directory / "db") as conn:
        conn.sql("CREATE TABLE t AS SELECT 42 AS answer")
        conn.sql("CREATE USER ann")
        conn.sql("GRANT SELECT ON TABLE t TO ann")
        token = conn.sql("CREATE TOKEN FOR ann").arrow()["token"][0].as_py()
    server = Served(directory / "db", tls_ca=str(ca[0]), tls_cert=str(cert), tls_key=str(key))
    server.token, server.ca, server.directory = token, ca[0], directory
    yield server
    server.stop()


def dsn(server, host="127.0.0.1", **options):
    return " ".join([f"host={host} port={server.pg_port} dbname=indb user=ann",
                     *(f"{k}={v}" for k, v in options.items())])


def test_sslmode_require_runs_tls(tls):
    with psycopg.connect(dsn(tls, sslmode="require"), password=tls.token, autocommit=True) as conn:
        assert conn.pgconn.ssl_in_use
        assert conn.execute("SELECT answer FROM t").fetchall() == [(42,)]


def test_verify_full_checks_the_certificate_against_the_ca(tls):
    with psycopg.connect(dsn(tls, host="localhost", sslmode="verify-full", sslrootcert=tls.ca),
                         password=tls.token, autocommit=True) as conn:
        assert conn.pgconn.ssl_in_use
        assert conn.execute("SELECT answer FROM t").fetchall() == [(42,)]
    other_ca, _ = certificate_authority(tls.directory, "other-ca")
    with pytest.raises(psycopg.OperationalError, match="certificate verify failed"):
        psycopg.connect(dsn(tls, host="localhost", sslmode="verify-full", sslrootcert=other_ca),
                        password=tls.token)
    # the server goes on serving after a client refused its certificate
    with psycopg.connect(dsn(tls, sslmode="require"), password=tls.token) as conn:
        assert conn.execute("SELECT 1").fetchall() == [(1,)]


@pytest.mark.skipif(shutil.which("psql") is None, reason="psql is not installed")
def test_psql_with_sslmode_require(tls):
    run = subprocess.run(["psql", f"{dsn(tls, sslmode='require')}", "-X", "-A", "-t", "-c",
                          "SELECT answer FROM t"], capture_output=True, text=True, timeout=60,
                         env={**os.environ, "PGPASSWORD": tls.token})
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == "42"


def test_without_tls_an_ssl_request_is_answered_no(tmp_path):
    indb.connect(tmp_path / "db").close()
    server = Served(tmp_path / "db")
    try:
        with pytest.raises(psycopg.OperationalError, match="server does not support SSL"):
            psycopg.connect(dsn(server, sslmode="require"))
        with psycopg.connect(dsn(server, sslmode="prefer")) as conn:  # then in clear, as asked
            assert not conn.pgconn.ssl_in_use
            assert conn.execute("SELECT 7").fetchall() == [(7,)]
    finally:
        server.stop()


# -- cancel requests ---------------------------------------------------------------------------

LONG = "SELECT count(*) FROM range(100000000000) t(x) WHERE x % 7 = 3"  # minutes of DuckDB's time


@pytest.fixture(scope="module")
def plain(tmp_path_factory):
    server = served_gated(tmp_path_factory.mktemp("cancel") / "db",
                          "CREATE TABLE t (x BIGINT, SHARD KEY (x)) WITH (SHARDS = 2)",
                          "INSERT INTO t SELECT range FROM range(10)")
    yield server
    server.stop()


def session_of(server, pid=None):
    """The server's session of the client whose backend pid is ``pid`` (None: the one session
    running a statement), once a statement of it runs (a cancel request then stops it)."""
    deadline = time.monotonic() + 60
    while True:  # (libpq reads the backend's process id as a signed 32-bit integer)
        sessions = [ctx.session for key, ctx in list(server.service.pg.ctxts.items())
                    if pid in (None, key, key - 2**32) and ctx.session.running]
        if sessions:
            return sessions[0]
        assert time.monotonic() < deadline, "no statement started"
        time.sleep(0.01)  # polling the server's state for the statement to start


def in_thread(conn, sql):
    """Run ``sql`` on another thread; returns the thread and what it got (result or error)."""
    got = {}

    def run():
        try:
            got["rows"] = conn.execute(sql).fetchall()
        except psycopg.Error as error:
            got["error"] = error
    thread = threading.Thread(target=run)
    thread.start()
    return thread, got


def test_a_cancel_request_stops_the_query_and_the_session_goes_on(plain):
    with psycopg.connect(dsn(plain), autocommit=True) as conn:
        thread, got = in_thread(conn, LONG)
        session_of(plain, conn.info.backend_pid)
        conn.cancel_safe()  # (cancel() blocks the process's other threads, the server's here)
        thread.join(60)
        assert isinstance(got.get("error"), psycopg.errors.QueryCanceled), got
        assert "canceling statement due to user request" in str(got["error"])
        assert conn.execute("SELECT count(*) FROM t").fetchall() == [(10,)]


def test_a_cancel_request_over_tls_stops_the_query(tls):
    with psycopg.connect(dsn(tls, sslmode="require"), password=tls.token, autocommit=True) as conn:
        thread, got = in_thread(conn, LONG)
        session_of(tls, conn.info.backend_pid)
        conn.cancel_safe()  # libpq 17+: the cancel connection negotiates TLS as the session did
        thread.join(60)
        assert isinstance(got.get("error"), psycopg.errors.QueryCanceled), got
        assert conn.execute("SELECT answer FROM t").fetchall() == [(42,)]


def test_a_cancel_request_kills_a_function_run(plain, tmp_path):
    with psycopg.connect(dsn(plain), autocommit=True) as conn:
        thread, got = in_thread(conn, execute_gated("t", "t_gated", tmp_path / "never"))
        session_of(plain, conn.info.backend_pid)
        conn.cancel_safe()
        thread.join(120)
        assert isinstance(got.get("error"), psycopg.errors.QueryCanceled), got
        run_id = re.search(r"run (\w+) killed", str(got["error"])).group(1)
        status = conn.execute(f"SHOW FUNCTION STATUS FOR '{run_id}'").fetchall()
        assert "killed" in str(status)
        with pytest.raises(psycopg.Error, match="t_gated does not exist"):  # nothing was written
            conn.execute("SELECT * FROM t_gated")


def test_a_cancel_request_with_a_wrong_key_stops_nothing(plain):
    with psycopg.connect(dsn(plain), autocommit=True) as conn:
        thread, got = in_thread(conn, LONG)
        session = session_of(plain, conn.info.backend_pid)
        pid = conn.info.backend_pid % 2**32
        secret = plain.service.pg.ctxts[pid].secret_key
        with socket.create_connection(("127.0.0.1", plain.pg_port)) as sock:
            sock.sendall(struct.pack("!iiII", 16, CANCEL_REQUEST, pid, (secret + 1) % 2**32))
            assert sock.recv(1) == b""  # the server closed it: the request was carried out
        assert session.running and thread.is_alive()  # the statement goes on
        conn.cancel_safe()
        thread.join(60)
        assert isinstance(got.get("error"), psycopg.errors.QueryCanceled), got


@pytest.mark.skipif(shutil.which("psql") is None, reason="psql is not installed")
def test_psql_ctrl_c_cancels_the_query(plain):
    psql = subprocess.Popen(["psql", dsn(plain), "-X", "-c", LONG], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        session_of(plain)
        psql.send_signal(signal.SIGINT)  # Ctrl-C: psql sends a cancel request
        _, err = psql.communicate(timeout=60)
    finally:
        psql.kill()
    assert psql.returncode != 0
    assert "canceling statement due to user request" in err


def test_an_error_after_rows_were_sent_ends_the_statement_not_the_session(plain):
    # DuckDB sends its first batches before it reaches the row that fails
    failing = ("SELECT CASE WHEN x < 250000 THEN x ELSE error('row ' || x || ' is refused') END "
               "AS y FROM range(300000) t(x)")
    with psycopg.connect(dsn(plain), autocommit=True) as conn:
        with pytest.raises(psycopg.Error, match="row 250000 is refused"):
            conn.execute(failing).fetchall()
        assert conn.execute("SELECT 5").fetchall() == [(5,)]
        with conn.cursor() as cur:  # the extended protocol too (a parameter)
            with pytest.raises(psycopg.Error, match="is refused"):
                cur.execute(failing.replace("250000", "%s"), [250000]).fetchall()
        assert conn.execute("SELECT %s::INTEGER", [6]).fetchall() == [(6,)]


def libpq(conn, send, *args):
    """Send one of libpq's requests and wait for its results without holding Python's lock
    (libpq's blocking calls hold it, and the server runs in this process)."""
    send(*args)
    return waiting.wait(generators.execute(conn.pgconn), conn.pgconn.socket)[-1]


def test_describing_a_prepared_statement_runs_no_write_and_answers_no_data(plain):
    ok = psycopg.pq.ExecStatus.COMMAND_OK
    with psycopg.connect(dsn(plain), autocommit=True) as conn:
        pgconn = conn.pgconn  # libpq's own calls: Parse, then Describe of the statement (asyncpg's way)
        assert libpq(conn, pgconn.send_prepare, b"add", b"INSERT INTO t VALUES (1000)").status == ok
        described = libpq(conn, pgconn.send_describe_prepared, b"add")
        assert (described.status, described.nfields) == (ok, 0)
        libpq(conn, pgconn.send_prepare, b"read", b"SELECT x, x * 2 AS twice FROM t WHERE x < 3")
        described = libpq(conn, pgconn.send_describe_prepared, b"read")
        assert [described.fname(i) for i in range(described.nfields)] == [b"x", b"twice"]
        libpq(conn, pgconn.send_prepare, b"runs", b"SHOW FUNCTION STATUS")  # indb's own reads too
        described = libpq(conn, pgconn.send_describe_prepared, b"runs")
        assert b"RUN_ID" in [described.fname(i) for i in range(described.nfields)]
        assert conn.execute("SELECT count(*) FROM t WHERE x = 1000").fetchall() == [(0,)]
        assert libpq(conn, pgconn.send_query_prepared, b"add", []).status == ok  # run once
        assert conn.execute("SELECT count(*) FROM t WHERE x = 1000").fetchall() == [(1,)]
        conn.execute("DELETE FROM t WHERE x = 1000")


def test_described_parameters_have_the_types_of_what_they_meet(plain):
    """libpq's PQdescribePrepared of a statement whose parameters the client left untyped."""
    ok = psycopg.pq.ExecStatus.COMMAND_OK
    with psycopg.connect(dsn(plain), autocommit=True) as conn:
        pgconn = conn.pgconn
        libpq(conn, pgconn.send_prepare, b"typed", b"SELECT x FROM t WHERE x > $1 LIMIT $2")
        described = libpq(conn, pgconn.send_describe_prepared, b"typed")
        assert described.status == ok
        assert [described.param_type(i) for i in range(described.nparams)] == [20, 20]  # int8


def test_asyncpg_queries_and_writes_with_parameters(plain):
    """asyncpg prepares every query, asks for its parameters' types and sends its values in
    binary by them; its fetchval executes one row of a portal, whose leftover rows must not
    answer the next statement bound to the same portal (a write after it would not run)."""
    import asyncio

    import asyncpg

    async def session():
        conn = await asyncpg.connect(host="127.0.0.1", port=plain.pg_port, user="admin",
                                     database="indb", ssl=False)
        try:
            first = await conn.fetch("SELECT x FROM t ORDER BY x")
            assert await conn.fetchval("SELECT count(*) FROM t") == 10  # an Execute of one row
            assert await conn.fetch("SELECT x FROM t ORDER BY x") == first  # its portal bound anew
            await conn.execute("INSERT INTO t VALUES ($1)", 2000)
            rows = await conn.fetch("SELECT x FROM t WHERE x >= $1 OR x = $2 ORDER BY x", 9, 2000)
            typed = await conn.fetchval("SELECT $1::DOUBLE * 2", 1.25)
            await conn.execute("DELETE FROM t WHERE x = $1", 2000)
            with pytest.raises(asyncpg.DataError, match="expected str"):
                await conn.fetchval("SELECT $1", 5)  # untyped: text, as PostgreSQL says
            return [r["x"] for r in rows], typed, await conn.fetchval("SELECT count(*) FROM t")
        finally:
            await conn.close()

    assert asyncio.run(session()) == ([9, 2000], 2.5, 10)


TYPED = ("CREATE TABLE typed (id BIGINT, amount DECIMAL(10, 2), ts TIMESTAMP, zoned TIMESTAMPTZ, "
         "day DATE, ok BOOLEAN, f DOUBLE, v VARCHAR, b BLOB, SHARD KEY (id)) WITH (SHARDS = 2)")
TYPED_ROW = ("INSERT INTO typed VALUES (1, 12.5, TIMESTAMP '2026-01-02 03:04:05.123456', "
             "TIMESTAMPTZ '2026-01-02 03:04:05+00', DATE '2026-01-02', true, 1.5, 'héllo', "
             "'\\x61\\x62'::BLOB), (2, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL)")


def typed_values():
    import datetime
    import decimal
    return (1, decimal.Decimal("12.50"), datetime.datetime(2026, 1, 2, 3, 4, 5, 123456),
            datetime.datetime(2026, 1, 2, 3, 4, 5, tzinfo=datetime.timezone.utc),
            datetime.date(2026, 1, 2), True, 1.5, "héllo", b"ab")


@pytest.fixture(scope="module")
def typed(plain):
    with psycopg.connect(dsn(plain), autocommit=True) as conn:
        conn.execute(TYPED)
        conn.execute(TYPED_ROW)
    yield plain
    with psycopg.connect(dsn(plain), autocommit=True) as conn:
        conn.execute("DROP TABLE typed")


def test_values_python_cannot_hold_are_sent_as_postgresql_writes_them(plain):
    """'infinity' and dates BC in PostgreSQL's text (the server failed on them), a UHUGEINT
    past 2**127 whole (it came negative), a BIT as its digits in a varbit column (it came as
    bytea)."""
    from psycopg.types.string import TextLoader
    with psycopg.connect(dsn(plain), autocommit=True) as conn:
        for name in ("date", "timestamp", "varbit"):  # the server's text, as psql prints it
            conn.adapters.register_loader(name, TextLoader)
        cursor = conn.execute(
            "SELECT DATE 'infinity', DATE '-infinity', TIMESTAMP 'infinity', "
            "DATE '3000-01-02 (BC)', TIMESTAMP '0044-03-15 (BC) 10:00', "
            "'340282366920938463463374607431768211455'::UHUGEINT, '101'::BIT")
        assert cursor.fetchone() == ("infinity", "-infinity", "infinity", "3000-01-02 BC",
                                     "0044-03-15 10:00:00 BC", decimal.Decimal(2**128 - 1), "101")
        assert cursor.description[6].type_code == 1562  # varbit
        # a list of structs is JSON, as a struct is (it was an array of texts psycopg could not
        # write: the session's error)
        assert conn.execute("SELECT [{'a': 1}, {'a': 2}], {'a': [1]}").fetchone() == (
            [{"a": 1}, {"a": 2}], {"a": [1]})


def test_binary_results_and_parameters_through_psycopg(typed):
    """psycopg asks for binary rows with ``binary=True`` and sends ``%b`` parameters in binary:
    numeric, timestamps with and without a time zone, dates, bytes (buenavista's own binary
    timestamps ended the connection, and it had no binary numeric)."""
    values = typed_values()
    with psycopg.connect(dsn(typed), autocommit=True) as conn:
        rows = conn.cursor(binary=True).execute(
            "SELECT * FROM typed WHERE amount = %b OR id = %b ORDER BY id", [values[1], 2]).fetchall()
        assert rows[0] == values  # a timestamptz an aware datetime, as PostgreSQL sends it
        assert rows[0][3].utcoffset() == datetime.timedelta(0)  # in the session's zone, UTC
        assert rows[1] == (2,) + (None,) * 8
        found = conn.cursor(binary=True).execute(
            "SELECT id FROM typed WHERE ts = %b AND day = %b AND b = %b AND f = %b",
            [values[2], values[4], values[8], values[6]]).fetchall()
        assert found == [(1,)]


def test_asyncpg_reads_and_filters_every_common_type(typed):
    import asyncio

    import asyncpg
    values = typed_values()

    async def session():
        conn = await asyncpg.connect(host="127.0.0.1", port=typed.pg_port, user="admin",
                                     database="indb", ssl=False)
        try:
            rows = await conn.fetch("SELECT * FROM typed ORDER BY id")
            found = await conn.fetch(
                "SELECT id FROM typed WHERE amount = $1 AND ts = $2 AND zoned = $3 AND day = $4 "
                "AND ok = $5 AND f = $6 AND v = $7 AND b = $8", *values[1:])
            return [tuple(r) for r in rows], [r["id"] for r in found]
        finally:
            await conn.close()

    rows, found = asyncio.run(session())
    assert rows[0] == values  # a timestamptz as an aware datetime
    assert rows[1] == (2,) + (None,) * 8 and found == [1]


@pytest.mark.parametrize("expression, value", [
    ("[1, 2]", [1, 2]),                          # int4[]
    ("['a b', 'c\"d', NULL]", ["a b", 'c"d', None]),  # text[], quoted as PostgreSQL quotes
    ("[[1], [2, 3]]", [[1], [2, 3]]),            # nested lists: as json
    ("[1.5, 2.5]::FLOAT[2]", "[1.5, 2.5]"),      # fixed-size lists too
    ("{'k': 1}", {"k": 1}),                      # a struct: as json (ending in }: not JSON-RPC)
    ("to_seconds(90061)", __import__("datetime").timedelta(days=1, seconds=3661)),
    ("INTERVAL 2 MONTH", __import__("datetime").timedelta(days=60)),  # a month is 30 days
])
def test_lists_json_and_intervals_in_text_and_in_binary(plain, expression, value):
    """Columns buenavista wrote wrongly in text (lists of numbers, intervals) or not at all in
    binary, read by psycopg both ways; the session goes on after each."""
    with psycopg.connect(dsn(plain), autocommit=True) as conn:
        for binary in (False, True):
            assert conn.cursor(binary=binary).execute(f"SELECT {expression}").fetchone() == (value,)
        assert conn.execute("SELECT 1").fetchone() == (1,)


def test_an_interval_keeps_its_months_in_text_and_in_binary(plain):
    """An interval is sent as PostgreSQL sends it, its months, days and time apart (a month was
    sent as 30 days: '1 mon' and '30 days' differ, added to January 31st)."""
    with psycopg.connect(dsn(plain), autocommit=True) as conn:
        query = b"SELECT INTERVAL '1 year 2 months 3 days 04:05:06.5', INTERVAL '-1 day 02:00:00'"
        text = libpq(conn, conn.pgconn.send_query_params, query, None)
        assert [text.get_value(0, i) for i in range(2)] == [b"1 year 2 mons 3 days 04:05:06.5",
                                                             b"-1 days +02:00:00"]
        binary = libpq(conn, conn.pgconn.send_query_params, query, None, None, None, 1)
        assert struct.unpack("!qii", binary.get_value(0, 0)) == (14_706_500_000, 3, 14)


def test_deallocate_drops_prepared_statements(plain):
    """psycopg sends ``DEALLOCATE ALL`` after a statement that changes a table (SQLAlchemy's
    ORM ran into it); PostgreSQL's DEALLOCATE [PREPARE] name | ALL."""
    ok, fatal = psycopg.pq.ExecStatus.COMMAND_OK, psycopg.pq.ExecStatus.FATAL_ERROR
    with psycopg.connect(dsn(plain), autocommit=True) as conn:
        pgconn = conn.pgconn
        for name in (b"one", b"two", b"Three"):
            assert libpq(conn, pgconn.send_prepare, name, b"SELECT 1").status == ok
        assert libpq(conn, pgconn.send_query_prepared, b"one", None).get_value(0, 0) == b"1"
        result = libpq(conn, pgconn.send_query, b"DEALLOCATE one")
        assert (result.status, result.command_status) == (ok, b"DEALLOCATE")
        assert libpq(conn, pgconn.send_query_prepared, b"one", None).status == fatal
        assert libpq(conn, pgconn.send_query_prepared, b"two", None).get_value(0, 0) == b"1"
        gone = libpq(conn, pgconn.send_query, b"DEALLOCATE one")
        assert gone.status == fatal and b"does not exist" in gone.error_message
        assert libpq(conn, pgconn.send_query, b'DEALLOCATE PREPARE "Three"').status == ok
        result = libpq(conn, pgconn.send_query, b"DEALLOCATE ALL")
        assert (result.status, result.command_status) == (ok, b"DEALLOCATE ALL")
        assert libpq(conn, pgconn.send_query_prepared, b"two", None).status == fatal
        assert conn.execute("SELECT 2").fetchone() == (2,)


def test_server_side_cursors_of_psycopg_sqlalchemy_and_pandas(plain):
    """psycopg's named cursors declare a cursor with the query's parameters, describe it as a
    portal and FETCH FORWARD n from it; SQLAlchemy's stream_results and pandas' chunksize go
    through them."""
    import pandas as pd
    import sqlalchemy as sa
    with psycopg.connect(dsn(plain)) as conn:
        with conn.cursor(name="wide") as cursor:
            cursor.execute("SELECT x, x * 10 AS tens FROM t WHERE x >= %s ORDER BY x", [2])
            assert [d.name for d in cursor.description] == ["x", "tens"]
            assert cursor.fetchmany(3) == [(2, 20), (3, 30), (4, 40)]
            assert cursor.fetchone() == (5, 50)
            assert cursor.fetchall() == [(6, 60), (7, 70), (8, 80), (9, 90)]
        with conn.cursor(name="binary", binary=True) as cursor:
            cursor.execute("SELECT x FROM t ORDER BY x")
            assert [row[0] for row in cursor] == list(range(10))
    engine = sa.create_engine(f"postgresql+psycopg://ann@127.0.0.1:{plain.pg_port}/indb")
    try:
        with engine.connect() as conn:
            streamed = conn.execution_options(stream_results=True, max_row_buffer=3).execute(
                sa.text("SELECT x FROM t ORDER BY x"))
            assert [row[0] for row in streamed] == list(range(10))
            chunks = pd.read_sql(sa.text("SELECT x FROM t ORDER BY x"),
                                 conn.execution_options(stream_results=True), chunksize=4)
            assert [list(chunk["x"]) for chunk in chunks] == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]]
    finally:
        engine.dispose()


def test_a_descending_order_puts_nulls_first_as_postgresql_does(plain):
    """PostgreSQL's default: NULLS FIRST for DESC, NULLS LAST for ASC (DuckDB's: last for both);
    through parameters too (the extended protocol)."""
    with psycopg.connect(dsn(plain), autocommit=True) as conn:
        conn.execute("CREATE TABLE ranked (n INT, s INT)")
        conn.execute("INSERT INTO ranked VALUES (1, 10), (2, NULL), (3, 30)")
        assert conn.execute("SELECT s FROM ranked ORDER BY s DESC").fetchall() == [
            (None,), (30,), (10,)]
        assert conn.execute("SELECT s FROM ranked ORDER BY s").fetchall() == [(10,), (30,), (None,)]
        assert conn.execute("SELECT s FROM ranked WHERE n > %s ORDER BY s DESC NULLS LAST",
                            [0]).fetchall() == [(30,), (10,), (None,)]
        assert conn.execute("SELECT n, rank() OVER (ORDER BY s DESC) FROM ranked ORDER BY n"
                            ).fetchall() == [(1, 3), (2, 1), (3, 2)]


def test_upserts_of_psycopg_and_sqlalchemy_count_their_rows(plain):
    """INSERT ... ON CONFLICT as psycopg sends it (parameters in VALUES), its command tag
    counting inserted and updated rows as PostgreSQL's ``INSERT 0 n``, and as SQLAlchemy's
    PostgreSQL dialect writes ``on_conflict_do_update`` with ``returning``."""
    import sqlalchemy as sa
    from sqlalchemy.dialects.postgresql import insert
    with psycopg.connect(dsn(plain), autocommit=True) as conn:
        conn.execute("CREATE TABLE kv (k VARCHAR PRIMARY KEY, v BIGINT)")
        cursor = conn.execute("INSERT INTO kv VALUES (%s, %s), (%s, %s) ON CONFLICT (k) DO UPDATE "
                              "SET v = excluded.v", ["a", 1, "b", 2])
        assert cursor.rowcount == 2
        cursor = conn.execute("INSERT INTO kv VALUES (%s, %s) ON CONFLICT DO NOTHING", ["a", 9])
        assert cursor.rowcount == 0
    engine = sa.create_engine(f"postgresql+psycopg://admin@127.0.0.1:{plain.pg_port}/indb")
    try:
        kv = sa.Table("kv", sa.MetaData(), sa.Column("k", sa.String, primary_key=True),
                      sa.Column("v", sa.BigInteger))
        statement = insert(kv).values([{"k": "b", "v": 20}, {"k": "c", "v": 3}])
        with engine.begin() as conn:
            done = conn.execute(statement.on_conflict_do_update(
                index_elements=["k"], set_={"v": statement.excluded.v}).returning(kv.c.k, kv.c.v))
            assert sorted(done.all()) == [("b", 20), ("c", 3)]  # the rows updated and inserted
            assert conn.execute(sa.select(kv).order_by(kv.c.k)).all() == [
                ("a", 1), ("b", 20), ("c", 3)]
            # a constant in set_ goes as a parameter of DO UPDATE
            again = insert(kv).values([{"k": "a", "v": 0}])
            conn.execute(again.on_conflict_do_update(index_elements=["k"], set_={"v": 99}))
            assert conn.execute(sa.select(kv.c.v).where(kv.c.k == "a")).scalar() == 99
    finally:
        engine.dispose()
        with psycopg.connect(dsn(plain), autocommit=True) as conn:
            conn.execute("DROP TABLE kv")


def test_returning_rows_through_psycopg_and_asyncpg(plain):
    """INSERT, UPDATE and DELETE ... RETURNING send their rows and their own command tag;
    asyncpg prepares them first, so a Describe of the statement names the rows' columns
    without running it."""
    import asyncio

    import asyncpg
    with psycopg.connect(dsn(plain), autocommit=True) as conn:
        conn.execute("CREATE TABLE ret (id BIGINT PRIMARY KEY, v VARCHAR)")
        cursor = conn.execute("INSERT INTO ret VALUES (%s, %s), (%s, %s) RETURNING id, upper(v) AS u",
                              [1, "a", 2, "b"])
        assert cursor.fetchall() == [(1, "A"), (2, "B")]
        assert (cursor.statusmessage, cursor.rowcount) == ("INSERT 0 2", 2)
        cursor = conn.execute("UPDATE ret SET v = v || '!' WHERE id = 2 RETURNING v")
        assert cursor.fetchall() == [("b!",)] and cursor.statusmessage == "UPDATE 1"
        cursor = conn.execute("MERGE INTO ret USING (SELECT 2 AS id) s ON ret.id = s.id WHEN "
                              "MATCHED THEN UPDATE SET v = 'm' RETURNING merge_action(), ret.v")
        assert cursor.fetchall() == [("UPDATE", "m")] and cursor.statusmessage == "MERGE 1"

    async def session():
        conn = await asyncpg.connect(host="127.0.0.1", port=plain.pg_port, user="admin",
                                     database="indb", ssl=False)
        try:
            statement = await conn.prepare("DELETE FROM ret WHERE id = $1 RETURNING id, v")
            assert [a.name for a in statement.get_attributes()] == ["id", "v"]
            assert await conn.fetchval("SELECT count(*) FROM ret") == 2  # described, not run
            return [tuple(r) for r in await statement.fetch(1)]
        finally:
            await conn.close()

    try:
        assert asyncio.run(session()) == [(1, "a")]
    finally:
        with psycopg.connect(dsn(plain), autocommit=True) as conn:
            assert conn.execute("SELECT id FROM ret").fetchall() == [(2,)]
            conn.execute("DROP TABLE ret")


def test_sqlalchemy_s_orm_creates_a_serial_table_and_gets_its_ids_back(plain):
    """SQLAlchemy's ORM as a PostgreSQL application uses it: ``create_all`` writes ``id SERIAL``
    for an integer primary key (and an index, which indb accepts and keeps none of), and each
    insert asks for the id with ``RETURNING``."""
    import sqlalchemy as sa
    from sqlalchemy import orm

    class Base(orm.DeclarativeBase):
        pass

    class Account(Base):
        __tablename__ = "accounts_orm"
        id = orm.mapped_column(sa.Integer, primary_key=True)
        owner = orm.mapped_column(sa.String(40), index=True)  # CREATE INDEX: a no-op
        credit = orm.mapped_column(sa.Integer, server_default=sa.text("100"))

    engine = sa.create_engine(f"postgresql+psycopg://admin@127.0.0.1:{plain.pg_port}/indb")
    try:
        Base.metadata.create_all(engine)
        with orm.Session(engine) as session:
            ann, bob = Account(owner="ann"), Account(owner="bob")
            session.add_all([ann, bob])
            session.commit()
            assert (ann.id, bob.id) == (1, 2)
            assert session.scalars(sa.select(Account.credit).order_by(Account.id)).all() == [
                100, 100]
    finally:
        Base.metadata.drop_all(engine)
        engine.dispose()


def test_declare_fetch_move_close_as_postgresql_s(plain):
    ok, rows, fatal = (psycopg.pq.ExecStatus.COMMAND_OK, psycopg.pq.ExecStatus.TUPLES_OK,
                       psycopg.pq.ExecStatus.FATAL_ERROR)
    with psycopg.connect(dsn(plain), autocommit=True) as conn:
        pgconn = conn.pgconn

        def run(sql):
            return libpq(conn, pgconn.send_query, sql)
        declared = run(b"DECLARE c CURSOR WITH HOLD FOR SELECT x FROM t ORDER BY x")
        assert (declared.status, declared.command_status) == (ok, b"DECLARE CURSOR")
        fetched = run(b"FETCH 3 FROM c")
        assert (fetched.status, fetched.command_status, fetched.ntuples) == (rows, b"FETCH 3", 3)
        assert [fetched.get_value(i, 0) for i in range(3)] == [b"0", b"1", b"2"]
        assert run(b"MOVE 4 IN c").command_status == b"MOVE 4"
        rest = run(b"FETCH ALL c")
        assert [rest.get_value(i, 0) for i in range(rest.ntuples)] == [b"7", b"8", b"9"]
        assert run(b"FETCH NEXT FROM c").ntuples == 0  # at its end: no rows, no error
        assert run(b"DECLARE c CURSOR FOR SELECT 1").status == fatal  # the name is taken
        assert run(b"DECLARE d CURSOR WITHOUT HOLD FOR SELECT x FROM t").status == ok
        assert run(b"COMMIT").status == ok  # a transaction's end closes d, not c (WITH HOLD)
        assert b"does not exist" in run(b"FETCH 1 FROM d").error_message
        assert run(b"CLOSE c").command_status == b"CLOSE CURSOR"
        assert run(b"FETCH 1 FROM c").status == fatal
        assert run(b"DECLARE e CURSOR FOR INSERT INTO t VALUES (99)").status == fatal
        assert conn.execute("SELECT count(*) FROM t WHERE x = 99").fetchone() == (0,)
        assert run(b"FETCH PRIOR FROM e").status == fatal
        assert conn.execute("SELECT 2").fetchone() == (2,)


def test_copy_from_the_client_and_to_it(plain):
    """psycopg's ``cursor.copy``: rows in text (with escapes and NULLs) and CSV (a header,
    quotes) into a table in one snapshot, and out again in each form."""
    with psycopg.connect(dsn(plain), autocommit=True) as conn:
        conn.execute("CREATE TABLE copied (id BIGINT, name VARCHAR, ok BOOLEAN, at TIMESTAMP)")
        try:
            cursor = conn.cursor()
            with cursor.copy("COPY copied (id, name, ok) FROM STDIN") as copy:
                copy.write_row((1, "tab\there", True))
                copy.write_row((2, None, False))
            assert cursor.rowcount == 2
            csv = b'id,name,at\n3,"a,b",2026-01-02 03:04:05.12\n4,,\n5,"",\n'
            with cursor.copy("COPY copied (id, name, at) FROM STDIN WITH (FORMAT csv, HEADER)") as copy:
                copy.write(csv)
            rows = conn.execute("SELECT id, name, ok, at FROM copied ORDER BY id").fetchall()
            assert rows == [(1, "tab\there", True, None), (2, None, False, None),
                            (3, "a,b", None, datetime.datetime(2026, 1, 2, 3, 4, 5, 120000)),
                            (4, None, None, None), (5, "", None, None)]
            with cursor.copy("COPY (SELECT id, name, ok FROM copied WHERE id < 3 ORDER BY id) "
                             "TO STDOUT") as copy:
                assert b"".join(copy) == b"1\ttab\\there\tt\n2\t\\N\tf\n"
            with cursor.copy("COPY (SELECT [1.5, 2.5]::DOUBLE[] AS f, [true] AS b) TO STDOUT") as copy:
                assert b"".join(copy) == b"{1.5,2.5}\t{t}\n"  # lists as query rows write them
            with cursor.copy("COPY copied (id, name) TO STDOUT (FORMAT csv, HEADER)") as copy:
                lines = b"".join(copy).splitlines()
            assert lines[0] == b"id,name" and sorted(lines[1:]) == \
                [b"1,tab\there", b"2,", b'3,"a,b"', b"4,", b'5,""']
            with pytest.raises(psycopg.errors.DataError, match="do not fit"):
                with cursor.copy("COPY copied (id) FROM STDIN") as copy:
                    copy.write(b"6\nseven\n")  # one bad row: none of them is written
            with pytest.raises(RuntimeError):  # psycopg sends CopyFail, then raises it again
                with cursor.copy("COPY copied (id) FROM STDIN") as copy:
                    copy.write(b"8\n")
                    raise RuntimeError("the client gives up")
            assert conn.execute("SELECT count(*) FROM copied").fetchone() == (5,)
            with pytest.raises(psycopg.errors.UndefinedTable):
                cursor.copy("COPY nowhere FROM STDIN").__enter__()
            with cursor.copy("COPY copied (id, name, at) FROM STDIN (FORMAT BINARY)") as copy:
                copy.set_types(["int8", "text", "timestamp"])  # psycopg's binary rows
                copy.write_row((6, "bin", datetime.datetime(2026, 3, 4, 5, 6, 7)))
            assert conn.execute("SELECT name, at FROM copied WHERE id = 6").fetchone() == \
                ("bin", datetime.datetime(2026, 3, 4, 5, 6, 7))
            with cursor.copy("COPY (SELECT id, name, at FROM copied WHERE id IN (2, 6) ORDER BY id) "
                             "TO STDOUT (FORMAT BINARY)") as copy:
                copy.set_types(["int8", "text", "timestamp"])  # and back, binary
                assert list(copy.rows()) == [(2, None, None),
                                             (6, "bin", datetime.datetime(2026, 3, 4, 5, 6, 7))]
            with cursor.copy("COPY (SELECT id FROM copied WHERE id < 0) TO STDOUT (FORMAT BINARY)"
                             ) as copy:
                copy.set_types(["int8"])
                assert list(copy.rows()) == []  # a header and a trailer
        finally:
            conn.execute("DROP TABLE copied")


def test_asyncpg_copies_records_into_a_table(plain):
    """asyncpg's bulk insert, copy_records_to_table: its columns' types looked up, then
    COPY ... FROM STDIN (FORMAT binary)."""
    import asyncio

    import asyncpg

    async def session():
        conn = await asyncpg.connect(host="127.0.0.1", port=plain.pg_port, user="admin",
                                     database="indb", ssl=False)
        try:
            await conn.execute("CREATE TABLE by_asyncpg (id BIGINT, name VARCHAR, px DOUBLE)")
            status = await conn.copy_records_to_table(
                "by_asyncpg", records=[(1, "a", 1.5), (2, None, None)], columns=["id", "name", "px"])
            rows = await conn.fetch("SELECT * FROM by_asyncpg ORDER BY id")
            await conn.execute("DROP TABLE by_asyncpg")
            return status, [tuple(r) for r in rows]
        finally:
            await conn.close()

    assert asyncio.run(session()) == ("COPY 2", [(1, "a", 1.5), (2, None, None)])


def test_psql_copies_from_a_file_and_to_its_output(plain, tmp_path):
    if shutil.which("psql") is None:
        pytest.skip("psql is not installed")
    source = tmp_path / "rows.csv"
    source.write_text("id,name\n1,one\n2,\n")
    commands = ["CREATE TABLE from_psql (id BIGINT, name VARCHAR)",
                f"\\copy from_psql FROM '{source}' WITH (FORMAT csv, HEADER)",
                "\\copy (SELECT id, name FROM from_psql ORDER BY id) TO STDOUT",
                "DROP TABLE from_psql"]
    run = subprocess.run(["psql", "-h", "127.0.0.1", "-p", str(plain.pg_port), "-U", "ann",
                          "-d", "indb", "-X", "-v", "ON_ERROR_STOP=1"]
                         + [a for command in commands for a in ("-c", command)],
                         capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stderr
    assert "COPY 2" in run.stdout and "1\tone\n2\t\\N\n" in run.stdout


def test_arrays_as_parameters_of_any_and_all(plain):
    """``x = ANY($1)`` with a list: psycopg sends it typed (int8[], text or binary), node-postgres
    untyped as ``{3,5}`` (here through libpq with no type, its way); each is an array."""
    with psycopg.connect(dsn(plain), autocommit=True) as conn:
        assert conn.execute("SELECT count(*) FROM t WHERE x = ANY(%s)", [[3, 5, 42]]).fetchone() == (2,)
        assert conn.execute("SELECT count(*) FROM t WHERE x <> ALL(%s)", [[3]]).fetchone() == (9,)
        binary = conn.cursor(binary=True)
        assert binary.execute("SELECT count(*) FROM t WHERE x = ANY(%b)", [[1, 2]]).fetchone() == (2,)
        assert conn.execute("SELECT count(*) FROM t WHERE CAST(x AS VARCHAR) = ANY(%s)",
                            [["1", "a b"]]).fetchone() == (1,)
        untyped = libpq(conn, conn.pgconn.send_query_params,
                        b"SELECT count(*) FROM t WHERE x = ANY($1)", [b"{3,5}"], [0])
        assert untyped.get_value(0, 0) == b"2"


def test_an_execute_with_a_row_limit_leaves_the_rest_for_the_next(plain):
    """asyncpg's cursors (and JDBC's fetch size) ask a portal for a few rows at a time: every row
    comes, over as many Executes as it takes (the first Execute's rows alone did)."""
    import asyncio

    import asyncpg

    async def session():
        conn = await asyncpg.connect(host="127.0.0.1", port=plain.pg_port, user="admin",
                                     database="indb", ssl=False)
        try:
            async with conn.transaction():
                streamed = [row["x"] async for row in conn.cursor(
                    "SELECT x FROM t WHERE x >= $1 ORDER BY x", 2, prefetch=3)]
                cursor = await conn.cursor("SELECT x FROM t ORDER BY x")
                first, rest = await cursor.fetch(4), await cursor.fetch(100)
            return streamed, [r["x"] for r in first], [r["x"] for r in rest]
        finally:
            await conn.close()

    streamed, first, rest = asyncio.run(session())
    assert streamed == list(range(2, 10))
    assert (first, rest) == ([0, 1, 2, 3], list(range(4, 10)))


def test_a_list_column_is_the_array_of_its_items_type(plain):
    """buenavista described every list of integers as int4[] (JDBC refused 5000000000 in one)
    and lists of floats as json: each is now its items' array type, in text and in binary."""
    query = ("SELECT [1, 5000000000] AS big, [1.5, 2.5]::DOUBLE[] AS floats, [true, NULL] AS flags, "
             "[DATE '2026-01-02'] AS days, ['a b', NULL] AS words")
    with psycopg.connect(dsn(plain), autocommit=True) as conn:
        for binary in (False, True):
            cursor = conn.cursor(binary=binary)
            row = cursor.execute(query).fetchone()
            assert [d.type_code for d in cursor.description] == [1016, 1022, 1000, 1182, 1009]
            assert row == ([1, 5000000000], [1.5, 2.5], [True, None],
                           [datetime.date(2026, 1, 2)], ["a b", None])


def test_asyncpg_reads_list_columns_and_passes_lists(plain):
    """asyncpg knows oid[] and text[] only: it looks other array types up in pg_catalog (after
    ``current_setting('jit')``) with a recursive query, then decodes them in binary; and it
    passes a Python list for ``x = ANY($1)``."""
    import asyncio

    import asyncpg

    async def session():
        conn = await asyncpg.connect(host="127.0.0.1", port=plain.pg_port, user="admin",
                                     database="indb", ssl=False)
        try:
            row = await conn.fetchrow(
                "SELECT [1, 5000000000] AS big, [1.5, NULL]::DOUBLE[] AS floats, [true] AS flags, "
                "[DATE '2026-01-02'] AS days, [1, 2]::INTEGER[] AS small, ['a'] AS words")
            found = await conn.fetchval("SELECT count(*) FROM t WHERE x = ANY($1)", [3, 5, 42])
            return dict(row), found
        finally:
            await conn.close()

    row, found = asyncio.run(session())
    assert row == {"big": [1, 5000000000], "floats": [1.5, None], "flags": [True],
                   "days": [datetime.date(2026, 1, 2)], "small": [1, 2], "words": ["a"]}
    assert found == 2


def test_asyncpg_s_pool_takes_its_connections_back(plain):
    """asyncpg's pool resets a connection it takes back with ``SELECT pg_advisory_unlock_all();
    CLOSE ALL; UNLISTEN *; RESET ALL;``, which failed every release."""
    import asyncio

    import asyncpg

    async def use():
        pool = await asyncpg.create_pool(host="127.0.0.1", port=plain.pg_port, user="admin",
                                         database="indb", ssl=False, min_size=1, max_size=1)
        try:
            counts = []
            for _ in range(3):  # one connection, taken back and reset between uses
                async with pool.acquire() as conn:
                    counts.append(await conn.fetchval("SELECT count(*) FROM t"))
            return counts
        finally:
            await pool.close()

    assert asyncio.run(use()) == [10, 10, 10]
    with psycopg.connect(dsn(plain), autocommit=True) as conn:
        pgconn, ok = conn.pgconn, psycopg.pq.ExecStatus.COMMAND_OK
        assert libpq(conn, pgconn.send_prepare, b"kept", b"SELECT 1").status == ok
        assert libpq(conn, pgconn.send_query,
                     b"DECLARE c CURSOR WITH HOLD FOR SELECT x FROM t").status == ok
        discarded = libpq(conn, pgconn.send_query, b"DISCARD ALL")
        assert (discarded.status, discarded.command_status) == (ok, b"DISCARD ALL")
        assert libpq(conn, pgconn.send_query_prepared, b"kept", None).status != ok  # gone
        assert b"does not exist" in libpq(conn, pgconn.send_query, b"FETCH 1 FROM c").error_message


def test_text_forms_are_postgresql_s(plain):
    """Booleans, special floats and decimals as PostgreSQL writes them in text (buenavista wrote
    ``true``, ``inf`` and ``1E+2``); pg8000, which parses only PostgreSQL's forms, read every
    ``true`` as false."""
    import pg8000.native
    row = ("SELECT true, false, 'inf'::DOUBLE, '-inf'::DOUBLE, 'nan'::DOUBLE, 1e-5::DOUBLE, "
           "0.1::DOUBLE, 100::DECIMAL(10, 0), 2.25::DECIMAL(10, 2), 18446744073709551615::UBIGINT")
    with psycopg.connect(dsn(plain), autocommit=True) as conn:
        result = libpq(conn, conn.pgconn.send_query, row.encode())
        texts = [result.get_value(0, i) for i in range(result.nfields)]
    assert texts == [b"t", b"f", b"Infinity", b"-Infinity", b"NaN", b"1e-05", b"0.1", b"100",
                     b"2.25", b"18446744073709551615"]
    client = pg8000.native.Connection("admin", host="127.0.0.1", port=plain.pg_port,
                                      database="indb")
    try:
        values = client.run("SELECT true, false, 'inf'::DOUBLE, 2.25::DECIMAL(10, 2), x > 4 "
                            "FROM t WHERE x IN (3, 5) ORDER BY x")
    finally:
        client.close()
    assert values == [[True, False, float("inf"), decimal.Decimal("2.25"), False],
                      [True, False, float("inf"), decimal.Decimal("2.25"), True]]


def test_a_simple_query_ending_in_a_brace_is_sql(plain):
    """buenavista took any simple query ending in "}" for a JSON call of its extensions."""
    with psycopg.connect(dsn(plain), autocommit=True) as conn:
        pgconn = conn.pgconn
        result = libpq(conn, pgconn.send_query, b"SELECT {'k': 1} AS s")
        assert (result.status, result.get_value(0, 0)) == (psycopg.pq.ExecStatus.TUPLES_OK, b'{"k": 1}')
        result = libpq(conn, pgconn.send_query, b"SELECT nothing FROM nowhere")
        assert result.status == psycopg.pq.ExecStatus.FATAL_ERROR
        assert conn.execute("SELECT 1").fetchone() == (1,)


def test_a_client_gone_before_its_error_leaves_no_session_behind(plain):
    """A client that resets its connection in the middle of a message: the server's read fails,
    the error it then sends finds no one (a broken pipe), and the session still closes."""
    def startup() -> bytes:
        body = struct.pack("!i", 196608) + b"user\0admin\0database\0indb\0\0"
        return struct.pack("!i", len(body) + 4) + body
    before = len(plain.service.pg.ctxts)
    for _ in range(10):
        sock = socket.create_connection(("127.0.0.1", plain.pg_port))
        sock.sendall(startup())
        sock.recv(4096)  # authentication ok, parameters, ready for query
        sock.sendall(b"Q" + struct.pack("!i", 100) + b"SELECT")  # the server waits for the rest
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        sock.close()  # a reset: the read fails, and the error is written to a connection gone
    deadline = time.monotonic() + 30
    while len(plain.service.pg.ctxts) > before:
        assert time.monotonic() < deadline, "the sessions of the clients gone stayed open"
        time.sleep(0.01)  # polling the server's sessions as it ends the connections
    with psycopg.connect(dsn(plain), autocommit=True) as conn:
        assert conn.execute("SELECT count(*) FROM t").fetchone() == (10,)


def test_an_untyped_parameter_takes_the_type_of_where_it_stands(plain):
    # psycopg sends a str untyped (PostgreSQL infers it), as pgbench and node-postgres send
    # every value: x + $1 adds an integer, not a string DuckDB cannot add
    with psycopg.connect(dsn(plain), autocommit=True) as conn:
        assert conn.execute("SELECT max(x::INTEGER + %s) FROM t WHERE x < %s",
                            ["1", "5"]).fetchall() == [(5,)]
        # a text that does not read as the type inferred goes to DuckDB as the client's text
        with pytest.raises(psycopg.Error, match="Could not convert|Conversion"):
            conn.execute("SELECT x FROM t WHERE x = %s", ["1.5x"])


def test_copy_leaves_generated_columns_out_of_its_default_list(plain):
    """As PostgreSQL's: COPY t FROM STDIN takes the columns a write gives, COPY t TO STDOUT
    writes them, and a generated column named in COPY's list is refused."""
    with psycopg.connect(dsn(plain), autocommit=True) as conn:
        conn.execute("CREATE TABLE lines (qty INTEGER, price DOUBLE, "
                     "total DOUBLE GENERATED ALWAYS AS (qty * price) STORED)")
        try:
            cursor = conn.cursor()
            with cursor.copy("COPY lines FROM STDIN") as copy:
                copy.write(b"2\t1.5\n3\t2\n")
            assert conn.execute("SELECT total FROM lines ORDER BY qty").fetchall() == [(3.0,), (6.0,)]
            with cursor.copy("COPY lines TO STDOUT") as copy:
                assert sorted(b"".join(copy).splitlines()) == [b"2\t1.5", b"3\t2"]
            with cursor.copy("COPY lines (qty, total) TO STDOUT") as copy:
                assert sorted(b"".join(copy).splitlines()) == [b"2\t3", b"3\t6"]
            with pytest.raises(psycopg.Error, match="total of table lines is a generated column"):
                with cursor.copy("COPY lines (qty, total) FROM STDIN") as copy:
                    copy.write(b"1\t9\n")
            assert conn.execute("SELECT count(*) FROM lines").fetchone() == (2,)
        finally:
            conn.execute("DROP TABLE lines")


def test_unnamed_columns_are_named_as_postgresql_names_them(plain):
    """count(*) is "count" (DuckDB's is "count_star()"), as clients that read rows by name
    expect of PostgreSQL: psycopg's dict rows, asyncpg's records (a prepared statement,
    described before it runs), a DECLAREd cursor."""
    import asyncio

    import asyncpg
    from psycopg.rows import dict_row

    with psycopg.connect(dsn(plain), row_factory=dict_row) as conn:
        assert conn.execute("SELECT count(*), max(x)::int, x < 100, min(x) AS least_x FROM t "
                            "WHERE x < 10 GROUP BY 3").fetchone() == {
            "count": 10, "max": 9, "?column?": True, "least_x": 0}
        with conn.cursor(name="named") as cursor:
            cursor.execute("SELECT sum(x) FROM t WHERE x < 10")
            assert cursor.fetchone() == {"sum": 45}

    async def session():
        conn = await asyncpg.connect(host="127.0.0.1", port=plain.pg_port, user="admin",
                                     database="indb", ssl=False)
        try:
            return await conn.fetchrow("SELECT count(*) FROM t WHERE x > $1 AND x < 10", 4)
        finally:
            await conn.close()

    assert dict(asyncio.run(session())) == {"count": 5}


def test_lengths_past_postgresql_s_bounds_end_the_connection_not_the_server(plain):
    """A header claiming 2 GB (or a negative length) was read as asked: the server allocated
    it and waited. It is a protocol violation (08P01), as in PostgreSQL, and the next client
    is served."""
    startup = struct.pack("!i", 196608) + b"user\x00admin\x00database\x00indb\x00\x00"
    for sent in (struct.pack("!ii", 2**31 - 1, 196608),  # a startup packet's length
                 struct.pack("!i", len(startup) + 4) + startup + b"Q" + struct.pack("!i", -1),
                 struct.pack("!i", len(startup) + 4) + startup + b"Q" + struct.pack("!i", 2**31 - 1)):
        with socket.create_connection(("127.0.0.1", plain.pg_port), timeout=30) as sock:
            sock.sendall(sent)
            answer = b""
            while chunk := sock.recv(65536):  # until the server closes the connection
                answer += chunk
        assert b"C08P01\x00" in answer and b"invalid" in answer
    with psycopg.connect(dsn(plain)) as conn:
        assert conn.execute("SELECT count(*) FROM t WHERE x < 10").fetchone() == (10,)


def test_mutated_messages_are_answered_and_the_server_goes_on(plain):
    """A valid session's bytes (startup, Parse, Bind, Execute, Sync, Query) with a few bytes
    changed at random, as a fuzzer sends them: each connection gets what it gets (an error, a
    closed connection), and the server still serves."""
    import random
    rng = random.Random(15)

    def message(kind: bytes, body: bytes) -> bytes:
        return kind + struct.pack("!i", len(body) + 4) + body

    params = struct.pack("!i", 196608) + b"user\x00admin\x00database\x00indb\x00\x00"
    valid = (struct.pack("!i", len(params) + 4) + params
             + message(b"P", b"s\x00SELECT $1::int + x FROM t\x00\x00\x01\x00\x00\x00\x17")
             + message(b"B", b"\x00s\x00\x00\x01\x00\x00\x00\x01\x00\x00\x00\x012\x00\x00")
             + message(b"E", b"\x00\x00\x00\x00\x00") + message(b"S", b"")
             + message(b"Q", b"SELECT 1\x00"))
    for _ in range(40):
        mutated = bytearray(valid)
        for _ in range(rng.randrange(1, 6)):
            mutated[rng.randrange(len(mutated))] = rng.randrange(256)
        with socket.create_connection(("127.0.0.1", plain.pg_port), timeout=30) as sock:
            sock.sendall(bytes(mutated))
            sock.settimeout(0.2)  # a connection left waiting for more bytes is left
            try:
                while sock.recv(65536):
                    pass
            except (TimeoutError, ConnectionResetError):  # waiting for more bytes, or gone
                pass
    with psycopg.connect(dsn(plain)) as conn:
        assert conn.execute("SELECT count(*) FROM t WHERE x < 10").fetchone() == (10,)
