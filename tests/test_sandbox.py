"""The sandbox around UDF instances (indb.sharding.sandbox): each guarantee of docs/security.md,
probed by a registered function that tries what the sandbox forbids, and the functions it must
not break. Every probe here succeeds without the sandbox (``test_the_probes_succeed_unconfined``
shows it for the catalog), so each assertion fails if instances run unconfined."""

from __future__ import annotations

import os
import socket
import sqlite3
from pathlib import Path

import pytest
from sqlglot import exp

import indb
from indb.sharding import sandbox


PROBE = """
import os, signal, socket, sqlite3
def probe(ctx, t):
    action, target = ctx.params["action"], ctx.params["target"]
    try:
        if action == "read":
            open(target, "rb").read(1)
        elif action == "list":
            os.listdir(target)
        elif action == "create":
            open(target, "xb").close()
        elif action == "append":
            open(target, "ab").write(b"# changed by a probe")
        elif action == "sqlite":
            db = sqlite3.connect(target)
            db.execute("CREATE TABLE probe_table (x INTEGER)")
            db.commit()
        elif action == "connect":
            socket.create_connection(("127.0.0.1", int(target)), timeout=5).close()
        elif action == "signal":
            os.kill(int(target), 0)
        outcome = "done"
    except Exception as error:
        outcome = type(error).__name__
    return {"outcome": [outcome]}
"""


@pytest.fixture(scope="module")
def db(tmp_path_factory: pytest.TempPathFactory) -> tuple[indb.Connection, Path]:
    """A database with the probe, its input table ``inp`` and another table, ``secret``."""
    path = tmp_path_factory.mktemp("sandbox") / "db"
    connection = indb.connect(path, workers=1, threads_per_worker=1)
    connection.sql("CREATE TABLE inp (x INTEGER)")
    connection.sql("INSERT INTO inp VALUES (1)")
    connection.sql("CREATE TABLE secret (s VARCHAR)")
    connection.sql("INSERT INTO secret VALUES ('the other table')")
    connection.sql(f"CREATE FUNCTION probe LANGUAGE PYTHON MODE = 'nondistributed' AS $${PROBE}$$")
    yield connection, path
    connection.close()


def probe(conn: indb.Connection, action: str, target: object) -> str:
    """What the probe's attempt came to: "done", or the exception that stopped it."""
    action_sql, target_sql = (exp.Literal.string(str(v)).sql("duckdb") for v in (action, target))
    rows = conn.sql("SELECT outcome FROM TABLE(probe(INPUT_TABLE_NAMES => INPUT_TABLE(inp), "
                    f"PARAMS => KV_PAIRS(action = {action_sql}, target = {target_sql})))").fetchall()
    return rows[0][0]


def data_file(path: Path, table: str) -> Path:
    return next((path / "warehouse" / "main" / table).rglob("*.parquet"))


def test_this_machine_can_confine_instances():
    """Where it cannot (no Landlock ABI 4), every probe below fails too: the tests do not skip."""
    assert sandbox.unavailable() is None


def test_the_catalog_cannot_be_read(db):
    conn, path = db
    assert probe(conn, "read", path / "catalog.db") == "PermissionError"


def test_the_catalog_cannot_be_written(db):
    conn, path = db
    assert probe(conn, "sqlite", path / "catalog.db") == "OperationalError"  # sqlite: cannot open
    tables = sqlite3.connect(path / "catalog.db").execute(
        "SELECT name FROM sqlite_master WHERE name = 'probe_table'").fetchall()
    assert tables == []


def test_another_tables_files_cannot_be_read_but_the_inputs_can(db):
    conn, path = db
    assert probe(conn, "read", data_file(path, "secret")) == "PermissionError"
    assert probe(conn, "list", path / "warehouse" / "main" / "secret") == "PermissionError"
    assert probe(conn, "read", data_file(path, "inp")) == "done"


def test_a_table_dropped_and_made_again_is_read_by_a_new_host(db):
    """Landlock holds a directory, not its path: a host confined to the first table's directory
    cannot read the second one's, made at the same path (it must not be reused)."""
    conn, path = db
    for value in (1, 2):
        conn.sql("DROP TABLE IF EXISTS again")
        conn.sql("CREATE TABLE again (x INTEGER)")
        conn.sql(f"INSERT INTO again VALUES ({value})")
        rows = conn.sql("SELECT outcome FROM TABLE(probe(INPUT_TABLE_NAMES => INPUT_TABLE(again), "
                        "PARAMS => KV_PAIRS(action = 'list', target = '.')))").fetchall()
        assert rows == [("done",)]


@pytest.mark.parametrize("where", ["database", "tmp", "code"])
def test_nothing_is_written_outside_the_staging_directory(db, where):
    conn, path = db
    target = {"database": path / "probe-was-here",
              "tmp": Path("/tmp") / f"indb-probe-{os.getpid()}",
              "code": next((path / "code").rglob("*.py"))}[where]
    before = target.read_bytes() if target.exists() else None
    assert probe(conn, "append" if where == "code" else "create", target) == "PermissionError"
    assert (target.read_bytes() if target.exists() else None) == before


@pytest.mark.parametrize("secret", ["/proc/1/environ", "home"])
def test_host_secrets_cannot_be_read(db, secret):
    conn, _ = db
    if secret == "home":
        assert probe(conn, "list", Path.home()) == "PermissionError"
    else:
        assert probe(conn, "read", secret) == "PermissionError"


def test_no_tcp_connection_reaches_the_cluster_or_anything_else(db):
    conn, _ = db
    with socket.create_server(("127.0.0.1", 0)) as server:  # as Dask's scheduler listens
        assert probe(conn, "connect", server.getsockname()[1]) == "PermissionError"


def test_processes_outside_the_sandbox_get_no_signals(db):
    conn, _ = db
    assert probe(conn, "signal", os.getpid()) == "PermissionError"


def test_handlers_read_inputs_write_outputs_and_save_and_load_models(db):
    conn, _ = db
    conn.sql("""CREATE FUNCTION works LANGUAGE PYTHON MODE = 'nondistributed' AS $$
import tempfile, torch
def works(ctx, t):
    with tempfile.NamedTemporaryFile(dir=None) as f, open(ctx.scratch / "s.txt", "w") as g:
        f.write(b"temporary files and scratch space are the instance's own")
        g.write("scratch")
    if ctx.params["step"] == "save":
        ctx.models.save("tiny", torch.nn.Linear(1, 2), example=torch.ones(2, 1))
        return {"x": t["x"].to_pylist()}
    return {"x": [int(ctx.models.load("tiny").predict([[1.0]])[0]) + 10]}
$$""")
    conn.sql("EXECUTE FUNCTION works(INPUT_TABLE_NAMES => INPUT_TABLE(inp), "
             "OUTPUT_TABLE_NAMES => OUTPUT_TABLES('made'), PARAMS => KV_PAIRS(step = 'save'))")
    conn.sql("EXECUTE FUNCTION works(INPUT_TABLE_NAMES => INPUT_TABLE(inp), "
             "OUTPUT_TABLE_NAMES => OUTPUT_TABLES('made'), PARAMS => KV_PAIRS(step = 'load'))")
    assert sorted(conn.sql("SELECT x FROM made").fetchall())[0] == (1,)  # created, then appended
    assert conn.sql("SELECT count(*) FROM made WHERE x >= 10").fetchone() == (1,)
    assert [r[0] for r in conn.sql("SHOW MODELS").fetchall()].count("tiny") == 1


SCRIPT = """
from kinetica_proc import ProcData
proc_data = ProcData()
src, out = proc_data.input_data[0], proc_data.output_data[0]
out.size = src.size
out[0].extend(src[0])
try:
    open(proc_data.request_info["kifs_mount_point"] + "/../catalog.db", "rb")
    proc_data.results["catalog"] = "read"
except PermissionError:
    proc_data.results["catalog"] = "denied"
proc_data.complete()
"""


def test_procdata_scripts_run_confined(db, tmp_path, monkeypatch):
    conn, _ = db
    (tmp_path / "script.py").write_text(SCRIPT)
    monkeypatch.chdir(tmp_path)  # FILE PATHS are read from the current directory
    conn.sql("CREATE FUNCTION script RETURNS TABLE (x INTEGER) MODE = 'nondistributed' "
             "RUN_COMMAND = 'python' "
             "RUN_COMMAND_ARGS = 'script.py' FILE PATHS 'script.py'")
    conn.sql("EXECUTE FUNCTION script(INPUT_TABLE_NAMES => INPUT_TABLE(inp), "
             "OUTPUT_TABLE_NAMES => OUTPUT_TABLES('scripted'))")
    assert conn.sql("SELECT x FROM scripted").fetchall() == [(1,)]
    rows = conn.sql("SHOW FUNCTION STATUS VERBOSE").arrow().to_pylist()
    assert {r["results"] for r in rows if r["FUNCTION_NAME"] == "script"} == {'{"catalog": "denied"}'}


def test_the_probes_succeed_unconfined(tmp_path, monkeypatch):
    """INDB_SANDBOX=off (read by the worker: here threads of this process) runs instances as
    before, so the probe reads the catalog: the assertions above are about the sandbox."""
    monkeypatch.setenv("INDB_SANDBOX", "off")
    with indb.connect(tmp_path / "db", cluster="threads") as conn:
        conn.sql("CREATE TABLE inp (x INTEGER)")
        conn.sql(f"CREATE FUNCTION probe LANGUAGE PYTHON MODE = 'nondistributed' AS $${PROBE}$$")
        assert probe(conn, "read", tmp_path / "db" / "catalog.db") == "done"


def test_on_refuses_to_run_unconfined_and_auto_says_so(tmp_path, monkeypatch):
    monkeypatch.setattr(sandbox, "unavailable", lambda: "no Landlock in this test")
    with indb.connect(tmp_path / "db", cluster="threads") as conn:
        conn.sql("CREATE TABLE inp (x INTEGER)")
        conn.sql(f"CREATE FUNCTION probe LANGUAGE PYTHON MODE = 'nondistributed' AS $${PROBE}$$")
        monkeypatch.setenv("INDB_SANDBOX", "on")
        with pytest.raises(indb.RunError, match="INDB_SANDBOX=on, but instances cannot be confined"):
            probe(conn, "read", tmp_path / "db" / "catalog.db")
        monkeypatch.setenv("INDB_SANDBOX", "auto")
        assert probe(conn, "read", tmp_path / "db" / "catalog.db") == "done"
        rows = conn.sql("SHOW FUNCTION STATUS VERBOSE").arrow().to_pylist()
        assert any("runs unconfined: no Landlock in this test" in (r["stderr_tail"] or "")
                   for r in rows)
        monkeypatch.setenv("INDB_SANDBOX", "maybe")
        with pytest.raises(indb.RunError, match="not a sandbox mode"):
            probe(conn, "read", tmp_path / "db" / "catalog.db")


def test_gpu_workers_instances_are_not_confined_yet(monkeypatch):
    """CUDA does not start inside the sandbox yet (docs/security.md): a GPU worker names that as
    the reason, so ``auto`` runs its instances unconfined with a warning and ``on`` refuses."""
    monkeypatch.setenv("INDB_DEVICE", "cuda")
    assert "CUDA does not start inside the sandbox" in (sandbox._gpu() or "")
    monkeypatch.setenv("INDB_DEVICE", "cpu")
    assert sandbox._gpu() is None
