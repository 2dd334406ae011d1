"""Runs that fail: each case leaves the output tables exactly as before and a status saying why.

The blocking UDFs here synchronise with the test through named pipes (FIFOs): opening one blocks
until the other side opens it, so the test knows the instance is running without sleeping.
"""

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

import indb
from indb.engine.tables import table_facts
from indb.errors import RunError, SqlError

BLOCKER = """
import os
def blocker(ctx, t):
    if ctx.shard == 0:
        with open(ctx.params["ready"], "w") as ready:     # the test is waiting to read this
            ready.write(f"{os.getpid()} {os.getppid()}")
        with open(ctx.params["go"]) as go:               # blocks: nobody ever writes to it
            go.read()
    return t
"""


@pytest.fixture(scope="module")
def db(tmp_path_factory):
    """A database of its own, on a cluster of its own: these tests kill workers."""
    connection = indb.connect(tmp_path_factory.mktemp("failures") / "db", workers=2, threads_per_worker=2)
    connection.sql("CREATE TABLE src (id BIGINT, x DOUBLE, SHARD KEY (id)) WITH (SHARDS = 2)")
    connection.sql("INSERT INTO src SELECT range, range FROM range(100)")
    connection.sql("CREATE TABLE dst (id BIGINT, x DOUBLE, SHARD KEY (id)) WITH (SHARDS = 2)")
    connection.sql("INSERT INTO dst VALUES (-1, -1)")
    connection.sql(f"CREATE FUNCTION blocker LANGUAGE PYTHON AS $${BLOCKER}$$")
    yield connection
    connection.close()


@pytest.fixture
def pipes(pipe_dir):
    ready, go = pipe_dir / "ready", pipe_dir / "go"
    os.mkfifo(ready)
    os.mkfifo(go)
    return ready, go


def snapshot(conn, table: str) -> int | None:
    return table_facts(conn._engine, table)["snapshot_id"]


def start_blocker(conn, pipes, options: str = "nowait = 'true'") -> tuple[str, int, int]:
    """Start the blocker on shard 0; returns (run id, host pid, worker pid) once it is running."""
    ready, go = pipes
    run_id = conn.sql(f"EXECUTE FUNCTION blocker(INPUT_TABLE_NAMES => INPUT_TABLE(src), "
                      f"OUTPUT_TABLE_NAMES => OUTPUT_TABLES('dst'), "
                      f"PARAMS => KV_PAIRS(ready = '{ready}', go = '{go}'), "
                      f"OPTIONS => KV_PAIRS({options}))").fetchone()[0]
    host, worker = map(int, ready.read_text().split())
    return run_id, host, worker


def shard_status(conn, run_id: str) -> dict[int, tuple]:
    rows = conn.sql(f"SHOW FUNCTION STATUS VERBOSE FOR '{run_id}'").df()
    return {r.shard: (r.status, r.message, r.traceback) for r in rows.itertuples()}


def wait_until_gone(pid: int, seconds: float = 30) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if not Path(f"/proc/{pid}").exists():
            return True
        time.sleep(0.05)
    return False


def test_an_exception_in_one_shard_fails_the_run_and_writes_nothing(db):
    db.sql("CREATE OR REPLACE FUNCTION flaky LANGUAGE PYTHON AS $$\n"
           "def flaky(ctx, t):\n    if ctx.shard == 1:\n        raise ValueError('bad row in shard 1')\n    return t, t\n$$")
    before = snapshot(db, "dst")
    with pytest.raises(RunError, match="shard 1: ValueError: bad row in shard 1") as caught:
        db.sql("EXECUTE FUNCTION flaky(INPUT_TABLE_NAMES => INPUT_TABLE(src), OUTPUT_TABLE_NAMES => OUTPUT_TABLES('dst', 'fresh'))")
    assert snapshot(db, "dst") == before and not db._engine.db.exists("fresh")
    status = shard_status(db, caught.value.run_id)
    assert status[1][0] == "error" and "ValueError: bad row in shard 1" in status[1][2]
    assert 'line 4, in flaky' in status[1][2]  # the traceback points into the registered code
    run = db.sql(f"SHOW FUNCTION STATUS FOR '{caught.value.run_id}'").df()
    assert run["status"][0] == "error"


def test_output_that_does_not_fit_the_table_is_refused(db):
    before = snapshot(db, "dst")
    db.sql("CREATE OR REPLACE FUNCTION wrong LANGUAGE PYTHON AS $$\n"
           "def wrong(ctx, t):\n    return {'id': t['id'], 'colour': ['red'] * t.num_rows}\n$$")
    with pytest.raises(RunError, match="does not fit table dst: table dst has no column colour"):
        db.sql("EXECUTE FUNCTION wrong(INPUT_TABLE_NAMES => INPUT_TABLE(src), OUTPUT_TABLE_NAMES => OUTPUT_TABLES('dst'))")
    db.sql("CREATE OR REPLACE FUNCTION wrong LANGUAGE PYTHON AS $$\n"
           "def wrong(ctx, t):\n    return {'id': ['a'] * t.num_rows}\n$$")
    with pytest.raises(RunError, match="column id expects BIGINT"):
        db.sql("EXECUTE FUNCTION wrong(INPUT_TABLE_NAMES => INPUT_TABLE(src), OUTPUT_TABLE_NAMES => OUTPUT_TABLES('dst'))")
    assert snapshot(db, "dst") == before


def test_wrong_parameter_names(db):
    db.sql("CREATE OR REPLACE FUNCTION needs LANGUAGE PYTHON AS $$\n"
           "def needs(ctx, t):\n    return {'n': [int(ctx.params['limit'])]}\n$$")
    with pytest.raises(SqlError, match="unknown argument PARAMETERS") as caught:
        db.sql("EXECUTE FUNCTION needs(INPUT_TABLE_NAMES => INPUT_TABLE(src),\n  PARAMETERS => KV_PAIRS(limit = '1'))")
    assert (caught.value.line, caught.value.col) == (2, 3)
    with pytest.raises(RunError, match="no parameter 'limit' in this run \\(given: lim\\)"):
        db.sql("EXECUTE FUNCTION needs(INPUT_TABLE_NAMES => INPUT_TABLE(src), PARAMS => KV_PAIRS(lim = '1'), "
               "OUTPUT_TABLE_NAMES => OUTPUT_TABLES('never'))")
    assert not db._engine.db.exists("never")


def test_kill_from_another_connection(db, pipes):
    before = snapshot(db, "dst")
    run_id, host, _ = start_blocker(db, pipes)
    with indb.connect(db.path) as other:
        assert other.sql(f"KILL FUNCTION '{run_id}'").fetchone() == (run_id, "killing")
    final = db.wait(run_id).df()
    assert final["status"][0] == "killed" and "KILL FUNCTION" in final["message"][0]
    assert shard_status(db, run_id)[0][0] == "killed"
    assert wait_until_gone(host)
    assert snapshot(db, "dst") == before
    assert db.sql(f"KILL FUNCTION '{run_id}'").fetchone() == (run_id, "killed")  # already over


def test_timeout(db, pipes):
    before = snapshot(db, "dst")
    ready, go = pipes
    with pytest.raises(RunError, match="timed out") as caught:
        db.sql(f"EXECUTE FUNCTION blocker(INPUT_TABLE_NAMES => INPUT_TABLE(src), OUTPUT_TABLE_NAMES => "
               f"OUTPUT_TABLES('dst'), PARAMS => KV_PAIRS(ready = '{ready}', go = '{go}'), "
               f"OPTIONS => KV_PAIRS(timeout = '1'))")
    assert caught.value.status == "timed out"
    assert shard_status(db, caught.value.run_id)[0][0] == "timed out"
    assert snapshot(db, "dst") == before


def test_instance_process_killed_with_sigkill(db, pipes):
    before = snapshot(db, "dst")
    run_id, host, _ = start_blocker(db, pipes)
    os.kill(host, signal.SIGKILL)
    final = db.wait(run_id).df()
    assert final["status"][0] == "error" and "killed by SIGKILL" in final["message"][0]
    assert snapshot(db, "dst") == before


def test_worker_process_killed_with_sigkill_and_no_retries(db, pipes):
    before = snapshot(db, "dst")
    run_id, host, worker = start_blocker(db, pipes, "nowait = 'true', max_retries = '0'")
    os.kill(worker, signal.SIGKILL)
    final = db.wait(run_id).df()
    assert final["status"][0] == "error", final["message"][0]
    assert "worker running shard 0 died (KilledWorker)" in final["message"][0]
    assert "not retried: its retries are used up (max_retries = 0)" in final["message"][0]
    assert wait_until_gone(host)  # the instance process went with its worker
    assert snapshot(db, "dst") == before
    # the nanny restarts the worker: the next run works
    db.sql("CREATE OR REPLACE FUNCTION ident LANGUAGE PYTHON AS $$\ndef ident(ctx, t):\n    return t\n$$")
    assert db.sql("EXECUTE FUNCTION ident(INPUT_TABLE_NAMES => INPUT_TABLE(src))").fetchone()[1] == "completed"


def test_a_shard_whose_worker_is_killed_is_retried_on_the_survivor_and_committed_once(db, pipes):
    """SIGKILL to the worker running shard 0: Dask errs its task (KilledWorker), the run sends
    the shard to the other worker, and the output is committed once, whole."""
    ready, go = pipes
    rows = db.sql("SELECT count(*) FROM dst").fetchone()[0]
    run_id, host, worker = start_blocker(db, pipes)
    os.kill(worker, signal.SIGKILL)
    retry_host, retry_worker = map(int, ready.read_text().split())  # the retry is running
    assert retry_worker != worker and wait_until_gone(host)
    with open(go, "w"):  # lets the retry finish
        pass
    final = db.wait(run_id).df()
    assert final["status"][0] == "completed", final["message"][0]
    assert db.sql("SELECT count(*) FROM dst").fetchone()[0] == rows + 100  # once, whole
    verbose = {row["shard"]: row for row in
               db.sql(f"SHOW FUNCTION STATUS VERBOSE FOR '{run_id}'").arrow().to_pylist()}
    assert [verbose[k]["status"] for k in (0, 1)] == ["completed", "completed"]
    lost_with, finished_on = verbose[0]["retried"], verbose[0]["worker"]
    assert {lost_with, finished_on} == {"0", "1"}  # lost with one worker, finished on the other
    assert verbose[1]["retried"] is None


def test_max_retries_is_a_whole_number(db):
    with pytest.raises(SqlError, match="max_retries is a whole number"):
        db.sql("EXECUTE FUNCTION blocker(INPUT_TABLE_NAMES => INPUT_TABLE(src), "
               "OPTIONS => KV_PAIRS(max_retries = '-1'))")


def test_max_concurrency_per_node(db):
    db.sql("CREATE TABLE wide (id BIGINT, SHARD KEY (id)) WITH (SHARDS = 8)")
    db.sql("INSERT INTO wide SELECT range FROM range(400)")
    db.sql("CREATE OR REPLACE FUNCTION stamp LANGUAGE PYTHON AS $$\nimport time\n"
           "def stamp(ctx, t):\n    start = time.time()\n    time.sleep(0.2)\n"
           "    return {'shard': [ctx.shard], 'start': [start], 'end': [time.time()]}\n$$")
    db.sql("EXECUTE FUNCTION stamp(INPUT_TABLE_NAMES => INPUT_TABLE(wide), OUTPUT_TABLE_NAMES => OUTPUT_TABLES('stamps'), "
           "OPTIONS => KV_PAIRS(max_concurrency_per_node = '1'))")
    rows = db.sql("SELECT shard, start, \"end\" FROM stamps ORDER BY start").fetchall()
    run_id = db.sql("SHOW FUNCTION STATUS").fetchone()[1]  # the newest run's
    placed = {r["shard"]: r["worker"] for r in
              db.sql(f"SHOW FUNCTION STATUS VERBOSE FOR '{run_id}'").arrow().to_pylist()}
    assert len(set(placed.values())) == 2
    for worker in set(placed.values()):  # one at a time on each worker
        mine = [r for r in rows if placed[r[0]] == worker]
        assert all(a[2] <= b[1] for a, b in zip(mine, mine[1:]))


def test_a_user_script_without_a_main_guard(tmp_path):
    script = tmp_path / "no_guard.py"
    script.write_text(textwrap.dedent(f"""
        import indb
        conn = indb.connect({str(tmp_path / 'db')!r}, workers=1)
        conn.sql("CREATE TABLE t (id BIGINT, SHARD KEY (id)) WITH (SHARDS = 2)")
        conn.sql("INSERT INTO t SELECT range FROM range(10)")
        conn.sql("CREATE FUNCTION f LANGUAGE PYTHON AS $$\\ndef f(ctx, t):\\n    return t\\n$$")
        print("RESULT", conn.sql("EXECUTE FUNCTION f(INPUT_TABLE_NAMES => INPUT_TABLE(t), "
                                 "OUTPUT_TABLE_NAMES => OUTPUT_TABLES('o'))").fetchone()[1:4])
        conn.close()
    """))
    done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=240,
                          cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.count("RESULT") == 1 and "('completed', 10, 10)" in done.stdout
