"""``indb.connect("http://...")``: the DB-API connection of a served database, with the local
one's surface (the dbapi20 suite again, results, load, runs with progress, errors, the CLI)."""

from __future__ import annotations

import unittest

import dbapi20
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner

import indb
from indb.cli.main import cli
from serving import Served, execute_gated, served_gated


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    server = served_gated(tmp_path_factory.mktemp("remote") / "db",
                          "CREATE TABLE nums (i BIGINT, s VARCHAR, SHARD KEY (i)) WITH (SHARDS = 2)",
                          "INSERT INTO nums SELECT range, 's' || range FROM range(100)")
    yield server
    server.stop()


@pytest.fixture
def remote(served):
    with indb.connect(served.url) as conn:
        yield conn


class TestRemoteDBAPI20(dbapi20.DatabaseAPI20Test):
    """Stuart Bishop's suite against a served database (tables dropped by the suite itself)."""

    driver = indb
    connect_args: tuple = ()
    server: Served | None = None

    @classmethod
    def setUpClass(cls) -> None:
        import tempfile
        from pathlib import Path
        cls.directory = tempfile.mkdtemp(prefix="indb-remote-dbapi20-")
        cls.server = Served(Path(cls.directory) / "db")
        cls.connect_args = (cls.server.url,)

    @classmethod
    def tearDownClass(cls) -> None:
        assert cls.server is not None
        cls.server.stop()
        import shutil
        shutil.rmtree(cls.directory, ignore_errors=True)

    @unittest.skip("optional: nextset needs stored procedures, which indb does not have")
    def test_nextset(self) -> None: ...

    @unittest.skip("optional: setoutputsize is driver-defined; indb's is a no-op (PEP 249 allows it)")
    def test_setoutputsize(self) -> None: ...


def test_results_have_the_local_surface(remote, served):
    result = remote.sql("SELECT i, s FROM nums WHERE i < ? ORDER BY i", [3])
    assert result.columns == ["i", "s"]
    assert result.arrow().to_pylist() == [{"i": 0, "s": "s0"}, {"i": 1, "s": "s1"}, {"i": 2, "s": "s2"}]
    assert list(result.df()["s"]) == ["s0", "s1", "s2"]
    assert result.fetchall() == [(0, "s0"), (1, "s1"), (2, "s2")]
    cur = remote.cursor()
    cur.execute("SELECT i, s FROM nums ORDER BY i")
    assert cur.description[0][1] == indb.NUMBER and cur.description[1][1] == indb.STRING
    assert cur.fetchone() == (0, "s0") and len(cur.fetchmany(10)) == 10 and len(cur.fetchall()) == 89
    with indb.connect(served.service.pool.path) as local:  # the same rows as the local connection's
        assert local.sql("SELECT * FROM nums ORDER BY i").arrow() == \
            remote.sql("SELECT * FROM nums ORDER BY i").arrow()


def test_writes_count_their_rows(remote):
    remote.execute("CREATE OR REPLACE TABLE w (k BIGINT, d DATE)")
    cur = remote.cursor()
    cur.executemany("INSERT INTO w VALUES (?, ?)", [(k, indb.Date(2024, 1, 1 + k)) for k in range(5)])
    assert cur.rowcount == 5 and cur.description is None
    assert remote.sql("SELECT max(d) FROM w").fetchone() == (indb.Date(2024, 1, 5),)
    assert remote.execute("DELETE FROM w WHERE k < ?", [2]).rowcount == 2


def test_errors_are_the_local_classes(remote):
    with pytest.raises(indb.SqlError) as caught:
        remote.sql("SELECT 1,\n  nope FROM nums")
    assert (caught.value.line, caught.value.col) == (2, 3)
    with pytest.raises(indb.CatalogError, match="does not exist"):
        remote.sql("DROP TABLE never_made")
    with pytest.raises(indb.ProgrammingError, match="parameters"):
        remote.execute("SELECT ?", 5)
    with pytest.raises(indb.NotSupportedError, match="a transaction cannot span requests"):
        remote.begin()
    remote.rollback()  # (nothing open: nothing to do)
    assert remote.sql("SELECT 1").fetchone() == (1,)


def test_load_uploads_arrow_frames_and_files(remote, tmp_path):
    table = pa.table({"id": pa.array(range(1000), pa.int64()), "v": [float(i) for i in range(1000)]})
    assert remote.load("loaded", table, shard_key="id", shards=4) == 1000
    assert remote.load("loaded", pd.DataFrame({"id": [1000, 1001], "v": [0.5, 1.5]})) == 2
    pq.write_table(table.slice(0, 10), tmp_path / "part.parquet")
    assert remote.load("loaded", str(tmp_path / "part.parquet")) == 10
    assert remote.sql("SELECT count(*), sum(id)::BIGINT FROM loaded").fetchone() == (1012, 499500 + 2001 + 45)
    assert remote.sql("SHOW TABLES").arrow()  # still served
    with pytest.raises(indb.NotSupportedError):
        remote.load("loaded", 42)


def test_execute_function_with_progress(remote, tmp_path):
    gate = tmp_path / "gate"
    seen = []

    def progress(run):
        seen.append(run)
        gate.touch()  # heard the run: let it finish

    remote.progress = progress
    result = remote.sql(execute_gated("nums", "remote_out", gate))
    remote.progress = None
    run_id, status = result.fetchone()[:2]
    assert status == "completed" and result.rowcount == 2
    assert seen and all(p.run_id == run_id and p.instances == 2 for p in seen)
    assert remote.sql("SELECT sum(rows)::BIGINT FROM remote_out").fetchone() == (100,)
    status = remote.wait(run_id).df()
    assert run_id in status.iloc[0].tolist() and status["status"][0] == "completed"


def test_a_failing_run_raises_run_error(remote):
    remote.sql("CREATE OR REPLACE FUNCTION broken LANGUAGE PYTHON AS $$\n"
               "def broken(ctx, t):\n    raise ValueError('no good')\n$$")
    with pytest.raises(indb.RunError) as caught:
        remote.sql("EXECUTE FUNCTION broken(INPUT_TABLE_NAMES => INPUT_TABLE(nums))")
    assert caught.value.status == "error" and "no good" in str(caught.value.message)


def test_a_progress_callback_raising_kills_the_run(remote, tmp_path):
    def stop(run):
        raise KeyboardInterrupt  # what the CLI's Ctrl-C does

    remote.progress = stop
    with pytest.raises(KeyboardInterrupt):
        remote.sql(execute_gated("nums", "killed_out", tmp_path / "never"))
    remote.progress = None
    newest = remote.sql("SHOW FUNCTION STATUS").df().iloc[0]
    run_id = next(v for v in newest.tolist() if isinstance(v, str) and len(v) == 12)
    assert remote.wait(run_id).df()["status"][0] == "killed"  # stopped, not finished
    with pytest.raises(indb.SqlError):
        remote.sql("SELECT * FROM killed_out")


def test_the_cli_takes_url(served):
    runner = CliRunner()
    out = runner.invoke(cli, ["--url", served.url, "sql", "--format", "csv",
                              "SELECT count(*) AS n FROM nums"])
    assert out.exit_code == 0, out.output
    assert out.output.split() == ["n", "100"]
    env = runner.invoke(cli, ["sql", "--format", "csv", "SELECT 7 AS x"], env={"INDB_URL": served.url})
    assert env.exit_code == 0 and env.output.split() == ["x", "7"]


def test_an_unreachable_server_is_an_operational_error():
    from serving import free_port
    with pytest.raises(indb.OperationalError, match="cannot reach"):
        indb.connect(f"http://127.0.0.1:{free_port()}")


def test_a_refused_load_writes_nothing(remote):
    remote.load("strict", pa.table({"id": pa.array([1, 2], pa.int64())}))
    with pytest.raises(indb.IndbError):
        remote.load("strict", pa.table({"other": ["x"]}))
    assert remote.sql("SELECT count(*) FROM strict").fetchone() == (2,)


def test_https_with_the_servers_certificate(tmp_path):
    import shutil
    import subprocess
    if shutil.which("openssl") is None:
        pytest.skip("openssl is not installed")
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                    "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
                    "-keyout", str(key), "-out", str(cert)], check=True, capture_output=True)
    indb.connect(tmp_path / "db").close()
    server = Served(tmp_path / "db", tls_cert=str(cert), tls_key=str(key))
    try:
        assert server.url.startswith("https://")
        with indb.connect(server.url, verify=str(cert)) as conn:
            assert conn.sql("SELECT 41 + 1").fetchone() == (42,)
        with pytest.raises(indb.OperationalError, match="cannot reach"):  # an unknown certificate
            indb.connect(server.url)
    finally:
        server.stop()


def test_relations_of_queries_run_on_the_server_and_this_process_s_data_is_refused(remote):
    import pandas as pd
    nums = remote.sql("SELECT i FROM nums")
    assert nums.filter("i < 3").order("i").fetchall() == [(0,), (1,), (2,)]
    local = pd.DataFrame({"i": [1]})  # noqa: F841 (the server does not read this process's)
    with pytest.raises(indb.SqlError, match="local does not exist"):
        remote.sql("SELECT * FROM local")
    with pytest.raises(indb.NotSupportedError, match="conn.load"):
        remote.from_df(pd.DataFrame({"i": [1]}))
    with pytest.raises(indb.NotSupportedError, match="LANGUAGE PYTHON"):
        remote.create_function("f", lambda x: x)
