"""``indb serve``: the HTTP API (JSON and Arrow results, errors, runs with progress), many
clients at once, the PostgreSQL protocol (psycopg, psql), and stopping on SIGTERM."""

from __future__ import annotations

import datetime
import decimal
import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import psycopg
import pyarrow as pa
import pytest

import indb
import indb.errors
from serving import (Served, create_gated, execute_gated, free_port, served_with_analyst,
                     wait_until_up)

ARROW = "application/vnd.apache.arrow.stream"


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    path = tmp_path_factory.mktemp("served") / "db"
    with indb.connect(path) as conn:
        conn.sql("CREATE TABLE nums (i BIGINT, s VARCHAR, d DATE, x DECIMAL(9,2), f DOUBLE, "
                 "SHARD KEY (i)) WITH (SHARDS = 2)")
        conn.sql("INSERT INTO nums SELECT range, 's' || range, DATE '2024-01-01' + range::INTEGER, "
                 "range / 4, range * 0.5 FROM range(1000)")
        create_gated(conn)
    server = Served(path)
    yield server
    server.stop()


@pytest.fixture
def http(served):
    with httpx.Client(base_url=served.url, timeout=60) as client:
        yield client


def post(http, sql, params=None, **headers):
    return http.post("/v1/sql", json={"sql": sql, "params": params}, headers=headers)


def test_health_and_the_openapi_document(http):
    assert http.get("/v1/health").json() == {"status": "ok", "version": indb.__version__}
    paths = http.get("/openapi.json").json()["paths"]
    assert {"/v1/sql", "/v1/load", "/v1/runs/{run_id}", "/v1/runs/{run_id}/progress",
            "/v1/runs/{run_id}/kill", "/v1/health"} <= set(paths)


def test_json_results_with_their_types(http):
    response = post(http, "SELECT i, s, d, x, f FROM nums WHERE i BETWEEN ? AND ? ORDER BY i", [5, 6])
    assert response.status_code == 200 and response.headers["content-type"] == "application/json"
    body = response.json()
    assert [(c["name"], c["type"]) for c in body["columns"]] == [
        ("i", "BIGINT"), ("s", "VARCHAR"), ("d", "DATE"), ("x", "DECIMAL(9,2)"), ("f", "DOUBLE")]
    assert body["rows"] == [[5, "s5", "2024-01-06", "1.25", 2.5], [6, "s6", "2024-01-07", "1.50", 3.0]]
    assert body["rowcount"] == -1 and "error" not in body
    # 128-bit integers as exact text (a UHUGEINT past 2**127 too), a BIT as its text, dates
    # past Python's years as DuckDB's client gives them
    odd = post(http, "SELECT sum(i), '340282366920938463463374607431768211455'::UHUGEINT, "
                     "'101'::BIT, DATE 'infinity', DATE '3000-01-02 (BC)' FROM nums").json()
    assert odd["rows"] == [[str(sum(range(1000))), str(2**128 - 1), "101",  # nums: 0 to 999
                            "9999-12-31", "3000-01-02 (BC)"]]


def test_typed_parameters_in_json(http):
    params = [{"$date": "2024-01-03"}, {"$decimal": "0.50"}]
    body = post(http, "SELECT i FROM nums WHERE d = ? AND x = ?", params).json()
    assert body["rows"] == [[2]]
    refused = post(http, "SELECT ?", [{"$when": "now"}])
    assert refused.status_code == 400 and refused.json()["error"]["class"] == "ProgrammingError"


def test_arrow_results_chosen_by_accept_are_the_local_rows(http, served):
    response = post(http, "SELECT * FROM nums ORDER BY i", Accept=ARROW)
    assert response.headers["content-type"] == ARROW
    reader = pa.ipc.open_stream(response.content)
    table = reader.read_all()
    assert table.num_rows == 1000 and table.column_names == ["i", "s", "d", "x", "f"]
    assert json.loads(reader.schema.metadata[b"indb.types"]) == ["BIGINT", "VARCHAR", "DATE",
                                                                  "DECIMAL(9,2)", "DOUBLE"]
    assert table["x"].to_pylist()[:3] == [decimal.Decimal("0.00"), decimal.Decimal("0.25"),
                                          decimal.Decimal("0.50")]
    assert table["d"][999].as_py() == datetime.date(2024, 1, 1) + datetime.timedelta(days=999)


def test_a_large_result_is_streamed_in_batches(http):
    sql = "SELECT range AS i FROM range(3000000)"
    with http.stream("POST", "/v1/sql", json={"sql": sql}, headers={"Accept": ARROW}) as response:
        chunks = list(response.iter_raw())
    assert len(chunks) > 3  # sent batch by batch as DuckDB reads them, not as one body
    table = pa.ipc.open_stream(b"".join(chunks)).read_all()
    assert table.num_rows == 3000000 and table["i"][2999999].as_py() == 2999999


@pytest.mark.parametrize(("sql", "status", "kind", "line", "col"), [
    ("SELECT *\nFROM missing_table", 400, "SqlError", 2, 6),
    ("SELEC 1", 400, "SqlError", 1, 7),
    ("SELECT 1;\n  SELECT nope FROM nums", 400, "SqlError", 2, 10),
    ("DROP TABLE never_made", 400, "CatalogError", None, None),
    ("ROLLBACK TO s", 400, "SqlError", None, None),  # (no transaction: no savepoint)
])
def test_errors_name_their_class_with_line_and_column(http, sql, status, kind, line, col):
    response = post(http, sql)
    error = response.json()["error"]
    assert (response.status_code, error["class"]) == (status, kind), error
    assert (error.get("line"), error.get("col")) == (line, col)
    assert error["message"]


def test_an_error_while_rows_stream_ends_the_document_with_it(http):
    sql = ("SELECT CAST(CASE WHEN r < 250000 THEN '1' ELSE 'boom' END AS INTEGER) "
           "FROM (SELECT range AS r FROM range(300000))")
    response = post(http, sql)
    body = response.json()
    assert response.status_code == 200  # sent as the rows were read: the error comes in the body
    assert body["error"]["class"] == "SqlError" and "boom" in body["error"]["message"]
    response = post(http, sql, Accept=ARROW)
    reader = pa.ipc.open_stream(response.content)
    *_, (last, meta) = iter(lambda: _next_batch(reader), None)
    assert last.num_rows == 0 and b"boom" in meta[b"indb.error"]


def _next_batch(reader):
    try:
        return reader.read_next_batch_with_custom_metadata()
    except StopIteration:
        return None


def _arrow_stream() -> bytes:
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, pa.schema([("i", pa.int64())])) as writer:
        for start in (0, 3):
            writer.write_batch(pa.record_batch([pa.array(range(start, start + 3))], names=["i"]))
    return sink.getvalue().to_pybytes()


def test_bad_requests_never_kill_the_server(http):
    answers = [
        http.post("/v1/sql", content=b"{not json", headers={"Content-Type": "application/json"}),
        http.post("/v1/sql", json={"sql": 42}),
        http.post("/v1/sql", json={"params": [1]}),
        http.post("/v1/sql", json={"sql": "SELECT 1", "params": "x"}),
        http.post("/v1/sql", json={"sql": "(" * 5000 + "1" + ")" * 5000}),
        http.post("/v1/sql", json={"sql": "SELECT 1"}, headers={"Authorization": "Basic abc"}),
        http.post("/v1/load", params={"table": "t"}, content=b"not arrow"),
        http.post("/v1/load", params={"table": "t", "shards": "eight"}, content=b"x"),
        # pyarrow's OSError, not ArrowInvalid, for these (schemathesis found the first)
        http.post("/v1/load", params={"table": "t"}, content=b"\xff\xff\xff\xff\xf0\xff\xff\xff"),
        http.post("/v1/load", params={"table": "t"}, content=_arrow_stream()[:-40] + b"\x01" * 40),
        http.get("/v1/runs/nosuchrun"),
        http.get("/v1/runs/nosuchrun/progress"),
        http.get("/nowhere"),
    ]
    assert all(400 <= a.status_code < 500 for a in answers), [(a.status_code, a.text) for a in answers]
    assert all("error" in a.json() for a in answers)  # indb's error form, FastAPI's refusals too
    assert http.get("/v1/sql").json()["error"]["class"] == "ProgrammingError"  # 405
    assert "not an Arrow IPC stream" in answers[-5].json()["error"]["message"]
    assert "does not exist" in post(http, "SELECT * FROM t").json()["error"]["message"]  # no load
    assert post(http, "SELECT count(*) FROM nums").json()["rows"] == [[1000]]


def test_many_clients_at_once(served):
    def client(k):
        with httpx.Client(base_url=served.url, timeout=60) as c:
            return [post(c, "SELECT count(*), sum(i)::BIGINT FROM nums WHERE i % 16 = ?", [k]).json()["rows"]
                    for _ in range(5)]

    with ThreadPoolExecutor(16) as pool:
        answers = list(pool.map(client, range(16)))
    for k, rows in enumerate(answers):
        expected = [[len(range(k, 1000, 16)), sum(range(k, 1000, 16))]]
        assert rows == [expected] * 5


def status_of(http, run_id, wait=False):
    body = http.get(f"/v1/runs/{run_id}", params={"wait": str(wait).lower()}).json()
    return dict(zip(body["columns"], body["rows"][0]))["status"]


def test_a_slow_run_does_not_block_queries_and_reports_progress(http, tmp_path):
    gate = tmp_path / "gate"
    response = post(http, execute_gated("nums", "gated_out", gate), Prefer="respond-async")
    assert response.status_code == 202, response.text
    run_id = response.json()["run_id"]
    # while the run waits at its gate, other statements are served
    for _ in range(3):
        assert post(http, "SELECT count(*) FROM nums").json()["rows"] == [[1000]]
    assert status_of(http, run_id) == "running"
    gate.touch()
    with http.stream("GET", f"/v1/runs/{run_id}/progress") as stream:
        events = [json.loads(line) for line in stream.iter_lines() if line]
    assert events[-1]["event"] == "end", events[-1]
    result = dict(zip(events[-1]["result"]["columns"], events[-1]["result"]["rows"][0]))
    assert (result["run_id"], result["status"], result["rows_in"]) == (run_id, "completed", 1000)
    assert all(e["run_id"] == run_id and e["instances"] == 2 for e in events[:-1])
    assert post(http, "SELECT sum(rows)::BIGINT FROM gated_out").json()["rows"] == [[1000]]


def test_a_client_leaving_mid_run_leaves_the_run_whole(served, http, tmp_path):
    gate = tmp_path / "gate"
    before = set(served.service.state.runs.in_flight())
    with pytest.raises(httpx.ReadTimeout):  # the client gives up waiting, and goes
        httpx.post(f"{served.url}/v1/sql", json={"sql": execute_gated("nums", "left_out", gate)},
                   timeout=httpx.Timeout(60, read=1.0))
    (run_id,) = set(served.service.state.runs.in_flight()) - before
    assert post(http, "SELECT * FROM left_out").status_code == 400  # no output before it ends
    gate.touch()
    assert status_of(http, run_id, wait=True) == "completed"
    assert post(http, "SELECT sum(rows)::BIGINT FROM left_out").json()["rows"] == [[1000]]
    # and one leaving a large result half read
    with http.stream("POST", "/v1/sql", json={"sql": "SELECT range FROM range(5000000)"},
                     headers={"Accept": ARROW}) as response:
        next(response.iter_raw())
    assert http.get("/v1/health").json()["status"] == "ok"


def test_a_failed_run_answers_its_error(http):
    body = post(http, "EXECUTE FUNCTION nosuch(INPUT_TABLE_NAMES => INPUT_TABLE(nums))")
    assert body.status_code == 400 and body.json()["error"]["class"] == "CatalogError"


def test_psycopg_queries_with_parameters_and_types(served):
    dsn = f"host=127.0.0.1 port={served.pg_port} dbname=indb user=me"
    with psycopg.connect(dsn) as conn:  # not autocommit: its BEGIN/COMMIT are accepted
        cur = conn.execute("SELECT i, s, d, x, f, i %% 2 = 0 AS even, NULL AS n FROM nums "
                           "WHERE i = %s OR s = %s ORDER BY i", [3, "s4"])
        assert cur.fetchall() == [(3, "s3", datetime.date(2024, 1, 4), decimal.Decimal("0.75"), 1.5, False, None),
                                  (4, "s4", datetime.date(2024, 1, 5), decimal.Decimal("1.00"), 2.0, True, None)]
        assert [c.name for c in cur.description] == ["i", "s", "d", "x", "f", "even", "n"]
        conn.execute("CREATE TABLE pg_made (k BIGINT, t TIMESTAMP)")
        cur = conn.execute("INSERT INTO pg_made VALUES (%s, %s), (%s, %s)",
                           [1, datetime.datetime(2024, 5, 6, 7, 8, 9), 2, None])
        assert cur.rowcount == 2
        conn.commit()
        assert conn.execute("SELECT k, t FROM pg_made ORDER BY k").fetchall() == [
            (1, datetime.datetime(2024, 5, 6, 7, 8, 9)), (2, None)]
        with pytest.raises(psycopg.errors.UndefinedColumn) as caught:  # PostgreSQL's class
            conn.execute("SELECT 1,\n  nope FROM nums")
        assert caught.value.diag.sqlstate == "42703" and caught.value.diag.statement_position == "13"
        conn.rollback()
        assert conn.execute("SELECT count(*) FROM nums").fetchone() == (1000,)  # still usable


def test_postgresql_s_array_literals_are_read_in_every_statement(served):
    with psycopg.connect(f"host=127.0.0.1 port={served.pg_port} dbname=indb", autocommit=True) as conn:
        assert conn.execute("""SELECT '{1,2}'::int[], CAST('{"a,b",NULL}' AS text[]), """
                            "'{{1,2},{3,4}}'::bigint[][], '[5, 6]'::int[]").fetchone() == (
            [1, 2], ["a,b", None], [[1, 2], [3, 4]], [5, 6])  # DuckDB's own form still read
        conn.execute("CREATE TABLE pg_arrays (k BIGINT, xs BIGINT[])")
        conn.execute("INSERT INTO pg_arrays VALUES (1, '{7,8}'::bigint[])")
        assert conn.execute("SELECT count(*) FROM pg_arrays WHERE xs = '{7,8}'::bigint[] "
                            "AND k = ANY('{1,3}'::int[])").fetchone() == (1,)
        with pytest.raises(psycopg.errors.DataException, match="malformed array literal"):
            conn.execute("SELECT '{1,2'::int[]")
        # ... and as a plain string where a list column's value goes (pg_dump's INSERTs write
        # them so): an array there, as in PostgreSQL; a string column's '{...}' stays a string
        conn.execute("CREATE TABLE pg_strings (k BIGINT, xs BIGINT[], tags VARCHAR[], s VARCHAR)")
        conn.execute("""INSERT INTO pg_strings VALUES (1, '{1,2}', '{"a b",NULL}', '{x}')""")
        conn.execute("INSERT INTO pg_strings (s, xs, k) VALUES ('{y}', '{3}', 2)")
        conn.execute("UPDATE pg_strings SET xs = '{7,8}' WHERE k = 2")
        assert conn.execute("SELECT k, xs, tags, s FROM pg_strings ORDER BY k").fetchall() == [
            (1, [1, 2], ["a b", None], "{x}"), (2, [7, 8], None, "{y}")]
        assert conn.execute("SELECT k FROM pg_strings WHERE xs = '{7,8}' AND s = '{y}'"
                            ).fetchall() == [(2,)]


def test_psycopg_sessions_at_once(served):
    def session(k):
        with psycopg.connect(f"host=127.0.0.1 port={served.pg_port} dbname=indb", autocommit=True) as conn:
            return [conn.execute("SELECT count(*) FROM nums WHERE i %% 8 = %s", [k]).fetchone()[0]
                    for _ in range(5)]

    with ThreadPoolExecutor(8) as pool:
        assert list(pool.map(session, range(8))) == [[125] * 5] * 8


def test_sqlalchemys_postgresql_dialect_connects(served):
    import sqlalchemy as sa
    engine = sa.create_engine(f"postgresql+psycopg://me@127.0.0.1:{served.pg_port}/indb")
    try:
        with engine.connect() as conn:  # it asks version(), SHOW ..., then the query
            assert conn.execute(sa.text("SELECT count(*) FROM nums WHERE i < :n"), {"n": 10}).scalar() == 10
            conn.commit()
    finally:
        engine.dispose()


def test_a_run_through_the_postgresql_protocol(served, tmp_path):
    gate = tmp_path / "gate"
    gate.touch()
    with psycopg.connect(f"host=127.0.0.1 port={served.pg_port} dbname=indb", autocommit=True) as conn:
        notices = []
        conn.add_notice_handler(lambda diag: notices.append(diag.message_primary))
        cur = conn.execute(execute_gated("nums", "pg_run_out", gate))
        assert notices and notices[-1].endswith("2 of 2 instances finished"), notices
        row = dict(zip([c.name for c in cur.description], cur.fetchone()))
        assert row["status"] == "completed" and row["rows_in"] == 1000
        assert conn.execute("SELECT sum(rows)::BIGINT FROM pg_run_out").fetchone() == (1000,)


@pytest.mark.skipif(shutil.which("psql") is None, reason="psql is not installed")
def test_psql_runs_queries(served):
    run = subprocess.run(["psql", "-h", "127.0.0.1", "-p", str(served.pg_port), "-U", "me", "-d", "indb",
                          "-A", "-t", "-c", "SELECT count(*), max(s) FROM nums"],
                         capture_output=True, text=True, timeout=60, env={**os.environ, "PGCONNECT_TIMEOUT": "10"})
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == "1000|s999"
    failed = subprocess.run(["psql", "-h", "127.0.0.1", "-p", str(served.pg_port), "-d", "indb",
                             "-c", "SELECT nope FROM nums"], capture_output=True, text=True, timeout=60)
    assert failed.returncode != 0 and "nope" in failed.stderr


def test_without_users_loopback_serves_the_owner_and_elsewhere_needs_a_token(tmp_path):
    from indb.catalog.database import Database
    from indb.server.serve import authenticator
    indb.connect(tmp_path / "db").close()
    db = Database(tmp_path / "db")
    try:
        assert authenticator(db, "127.0.0.1")(None) == "owner"
        with pytest.raises(indb.errors.AuthenticationError, match="needs an API token"):
            authenticator(db, "0.0.0.0")(None)
        with pytest.raises(indb.errors.AuthenticationError, match="not an indb token"):
            authenticator(db, "127.0.0.1")("made-up")
    finally:
        db.close()


@pytest.fixture(scope="module")
def secured(tmp_path_factory):
    """A served database with a user: ann, an analyst who may read open_t only."""
    server, token = served_with_analyst(tmp_path_factory.mktemp("secured") / "db")
    yield server, token
    server.stop()


def test_with_users_every_request_needs_a_token(secured):
    server, token = secured
    sql = {"sql": "SELECT x FROM open_t"}
    refused = httpx.post(f"{server.url}/v1/sql", json=sql)
    assert refused.status_code == 401 and refused.headers["WWW-Authenticate"] == "Bearer"
    assert refused.json()["error"]["class"] == "AuthenticationError"
    wrong = httpx.post(f"{server.url}/v1/sql", json=sql,
                       headers={"Authorization": f"Bearer {token[:-3]}abc"})
    assert wrong.status_code == 401 and "invalid token" in wrong.json()["error"]["message"]
    assert httpx.get(f"{server.url}/v1/health").status_code == 200  # no token needed there


def test_a_token_runs_statements_as_its_user(secured):
    server, token = secured
    with indb.connect(server.url, token=token) as conn:
        assert conn.sql("SELECT x FROM open_t").fetchall() == [(1,)]
        with pytest.raises(indb.errors.PrivilegeError):
            conn.sql("SELECT y FROM secret_t")
        with pytest.raises(indb.errors.PrivilegeError):
            conn.sql("SELECT * FROM open_t JOIN secret_t ON true")
    denied = httpx.post(f"{server.url}/v1/sql", json={"sql": "SELECT y FROM secret_t"},
                        headers={"Authorization": f"Bearer {token}"})
    assert denied.status_code == 403
    with pytest.raises(indb.errors.AuthenticationError):
        indb.connect(server.url).sql("SELECT 1")


def test_an_expired_or_revoked_token_is_refused_at_once(secured):
    from indb.catalog import users
    server, token = secured

    def as_(bearer, sql):
        return httpx.post(f"{server.url}/v1/sql", json={"sql": sql},
                          headers={"Authorization": f"Bearer {bearer}"})

    made = as_(token, "CREATE TOKEN FOR ann EXPIRES IN 1 DAYS").json()
    assert [c["name"] for c in made["columns"]] == ["id", "user", "token", "expires"], made
    brief_id, _, brief, _ = made["rows"][0]
    assert as_(brief, "SELECT x FROM open_t").status_code == 200
    with server.service.db.engine.begin() as conn:  # the day has passed
        conn.execute(users._tokens.update().where(users._tokens.c.id == brief_id)
                     .values(expires=time.time() - 1))
    expired = as_(brief, "SELECT x FROM open_t")
    assert expired.status_code == 401 and "expired" in expired.json()["error"]["message"]

    other = as_(token, "CREATE TOKEN FOR ann").json()["rows"][0]
    assert as_(other[2], "SELECT x FROM open_t").status_code == 200
    assert as_(token, f"REVOKE TOKEN '{other[0]}'").status_code == 200
    revoked = as_(other[2], "SELECT x FROM open_t")  # the very next request
    assert revoked.status_code == 401 and "revoked" in revoked.json()["error"]["message"]


@pytest.mark.parametrize("sql", [
    "SELECT y FROM secret_t",
    "SELECT * FROM open_t JOIN secret_t ON true",
    "SELECT x FROM open_t WHERE x IN (SELECT y FROM secret_t)",
    "WITH s AS (SELECT y FROM secret_t) SELECT * FROM s",
])
def test_an_analyst_reads_no_ungranted_table_over_http(secured, sql):
    server, token = secured
    denied = httpx.post(f"{server.url}/v1/sql", json={"sql": sql},
                        headers={"Authorization": f"Bearer {token}"})
    assert denied.status_code == 403, denied.text
    assert denied.json()["error"]["class"] == "PrivilegeError" and "secret_t" in denied.text


@pytest.mark.parametrize("sql", [
    "SELECT * FROM read_csv('/etc/passwd')",
    "SELECT * FROM read_text(?)",
    "COPY open_t TO '/tmp/indb-stolen.csv'",
    "SELECT * FROM query_table(?)",
])
def test_an_analyst_reads_no_host_file_nor_table_by_name_over_http(secured, sql):
    server, token = secured
    params = ["/etc/passwd" if "read_text" in sql else "secret_t"] if "?" in sql else None
    denied = httpx.post(f"{server.url}/v1/sql", json={"sql": sql, "params": params},
                        headers={"Authorization": f"Bearer {token}"})
    assert denied.status_code == 403, denied.text
    assert denied.json()["error"]["class"] == "PrivilegeError"


@pytest.mark.parametrize("value", ["1; DROP TABLE open_t; --", "1' OR '1'='1", "x') UNION "
                                   "SELECT y FROM secret_t --", "$1", "?"])
def test_parameters_are_values_never_sql(secured, value):
    server, token = secured

    def sql(statement, params):
        return httpx.post(f"{server.url}/v1/sql", json={"sql": statement, "params": params},
                          headers={"Authorization": f"Bearer {token}"})

    assert sql("SELECT ? AS v", [value]).json()["rows"] == [[value]]
    assert sql("SELECT x FROM open_t WHERE CAST(x AS VARCHAR) = ?", [value]).json()["rows"] == []
    assert sql("SELECT $v AS v", {"v": value}).json()["rows"] == [[value]]
    assert sql("SELECT x FROM open_t", None).json()["rows"] == [[1]]  # nothing was dropped


def test_a_postgresql_client_signs_in_with_the_token_as_password(secured):
    server, token = secured
    dsn = f"host=127.0.0.1 port={server.pg_port} dbname=indb user=ann"
    with psycopg.connect(dsn, password=token, autocommit=True) as conn:
        assert conn.execute("SELECT x FROM open_t").fetchall() == [(1,)]
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("SELECT y FROM secret_t")
    with pytest.raises(psycopg.OperationalError, match="invalid token"):
        psycopg.connect(dsn, password="indb_00_wrong")


def test_a_postgresql_client_signs_in_with_its_user_s_password(secured):
    server, token = secured
    dsn = f"host=127.0.0.1 port={server.pg_port} dbname=indb"
    with psycopg.connect(f"{dsn} user=ann", password=token, autocommit=True) as conn:
        conn.execute("ALTER USER ann PASSWORD 'correct horse'")  # a user may set its own
    with psycopg.connect(f"{dsn} user=ann", password="correct horse", autocommit=True) as conn:
        assert conn.execute("SELECT current_user").fetchone() == ("ann",)
        assert conn.execute("SELECT x FROM open_t").fetchall() == [(1,)]
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("SELECT y FROM secret_t")
    for user, password in (("ann", "wrong horse"), ("nobody", "correct horse"),
                           ("owner", "correct horse")):  # the owner has no password
        with pytest.raises(psycopg.OperationalError, match="wrong user name or password"):
            psycopg.connect(f"{dsn} user={user}", password=password)
    with psycopg.connect(f"{dsn} user=anyone", password=token) as conn:  # a token names its user
        assert conn.execute("SELECT current_user").fetchone() == ("ann",)


@pytest.mark.slow
def test_sigterm_lets_a_run_finish_or_kills_it_cleanly(tmp_path):
    path = tmp_path / "db"
    with indb.connect(path) as conn:
        conn.sql("CREATE TABLE src (i BIGINT) WITH (SHARDS = 2)")
        conn.sql("INSERT INTO src SELECT range FROM range(100)")
        create_gated(conn)
    port = free_port()
    server = subprocess.Popen([sys.executable, "-m", "indb.cli.main", "--workers", "1", "serve",
                               "--db", str(path), "--port", str(port), "--pg-port", "0",
                               "--grace", "1"], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        url = f"http://127.0.0.1:{port}"
        wait_until_up(url, process=server)
        response = httpx.post(f"{url}/v1/sql", json={"sql": execute_gated("src", "never", tmp_path / "gate")},
                              headers={"Prefer": "respond-async"}, timeout=120)
        assert response.status_code == 202, response.text
        run_id = response.json()["run_id"]
        server.send_signal(signal.SIGTERM)
        assert server.wait(timeout=180) == 0, server.stderr.read().decode()[-2000:]
    finally:
        if server.poll() is None:
            server.kill()
    with indb.connect(path) as conn:  # the run was killed after the grace: nothing written
        assert conn.sql(f"SHOW FUNCTION STATUS FOR '{run_id}'").df()["status"][0] == "killed"
        assert "never" not in conn.sql("SHOW TABLES").arrow()["name"].to_pylist()


def test_stop_waits_for_a_run_that_finishes_in_time(tmp_path):
    path = tmp_path / "db"
    with indb.connect(path) as conn:
        conn.sql("CREATE TABLE src (i BIGINT) WITH (SHARDS = 2)")
        conn.sql("INSERT INTO src SELECT range FROM range(10)")
        create_gated(conn)
    server = Served(path, grace=120)
    gate = tmp_path / "gate"
    response = httpx.post(f"{server.url}/v1/sql", json={"sql": execute_gated("src", "done", gate)},
                          headers={"Prefer": "respond-async"}, timeout=60)
    assert response.status_code == 202
    stopper = threading.Thread(target=server.stop)
    stopper.start()
    gate.touch()  # the run may finish during the grace
    stopper.join(timeout=180)
    assert not stopper.is_alive()
    with indb.connect(path) as conn:
        assert conn.sql("SELECT sum(rows) FROM done").fetchone() == (10,)


def test_the_documented_options_and_endpoints_exist(http):
    import re
    from pathlib import Path

    from click.testing import CliRunner

    from indb.cli.main import cli
    text = (Path(__file__).parent.parent / "docs" / "server.md").read_text()
    help_text = "".join(CliRunner().invoke(cli, args + ["--help"]).output
                        for args in ([], ["serve"], ["sql"]))
    options = set(re.findall(r"(?<![\w-])(--[a-z][a-z-]+)", text))
    assert {"--grace", "--connections", "--pg-port", "--url"} <= options
    assert [o for o in options if o not in help_text] == []
    endpoints = set(re.findall(r"`(?:GET|POST) (/v1/[^`?]+)", text))
    assert endpoints and endpoints <= set(http.get("/openapi.json").json()["paths"])


def test_the_server_keeps_only_the_latest_ended_runs(monkeypatch):
    from indb.result import Result
    from indb.server import pool
    monkeypatch.setattr(pool, "KEPT_RUNS", 2)
    runs = pool.Runs(None)
    for k in range(5):
        runs._runs[f"r{k}"] = pool.TrackedRun(run_id=f"r{k}", result=Result() if k != 1 else None)
    runs._forget_ended()
    assert list(runs._runs) == ["r1", "r3", "r4"]  # r1 is still running: never forgotten


def test_clients_waiting_for_runs_never_hold_the_statements_threads(tmp_path, monkeypatch):
    from indb.server import app
    monkeypatch.setattr(app, "THREADS", 2)  # fewer statement threads than runs waited for
    path = tmp_path / "db"
    with indb.connect(path) as conn:
        conn.sql("CREATE TABLE src (i BIGINT) WITH (SHARDS = 1)")
        conn.sql("INSERT INTO src SELECT range FROM range(10)")
        create_gated(conn)
    server = Served(path)
    gate = tmp_path / "gate"
    try:
        def wait_for_run(k):
            return httpx.post(f"{server.url}/v1/sql", timeout=120,
                              json={"sql": execute_gated("src", f"out_{k}", gate)}).status_code

        with ThreadPoolExecutor(3) as pool:
            waiting = [pool.submit(wait_for_run, k) for k in range(3)]
            with httpx.Client(base_url=server.url, timeout=60) as client:
                while len(server.service.state.runs.in_flight()) < 3:  # all three are waited for
                    assert not any(w.done() for w in waiting)
                    threading.Event().wait(0.05)
                assert post(client, "SELECT count(*) FROM src").json()["rows"] == [[10]]
            gate.touch()
            assert [w.result() for w in waiting] == [200, 200, 200]
    finally:
        gate.touch()
        server.stop()
