"""Where runs execute: the worker count a database keeps, threads mode, an existing scheduler;
the local cluster's lifecycle: loopback only, replaced when it dies, deaf to the user's Ctrl-C,
shut down without noise."""

import os
import signal
import subprocess
import sys
import textwrap
import threading
from urllib.parse import urlparse

import psutil
import pytest
from distributed import LocalCluster

import indb
from indb.sharding.cluster import Cluster, close_cluster

SETUP = """
import os, sys
import indb
conn = indb.connect(sys.argv[1], workers=1)
conn.sql("CREATE TABLE t (id BIGINT, SHARD KEY (id)) WITH (SHARDS = 2)")
conn.sql("INSERT INTO t SELECT range FROM range(20)")
conn.sql("CREATE FUNCTION pid LANGUAGE PYTHON AS $$\\nimport os\\ndef pid(ctx, t):\\n    return {'pid': [os.getpid()]}\\n$$")
RUN = "EXECUTE FUNCTION pid(INPUT_TABLE_NAMES => INPUT_TABLE(t))"
helper = lambda: conn._engine.runner.cluster()._helper.pid
"""


def ended(pid: int, timeout: float = 60) -> bool:
    """Whether process ``pid`` ends within ``timeout`` seconds. A process whose parent exited
    first is a zombie until init reaps it, which a loaded machine delays: that counts as ended."""
    try:
        process = psutil.Process(pid)
        process.wait(timeout)
    except (psutil.NoSuchProcess, psutil.ZombieProcess):
        return True
    except psutil.TimeoutExpired:
        return process.status() == psutil.STATUS_ZOMBIE
    return True


def run_identity(conn) -> set[int]:
    conn.sql("CREATE TABLE t (id BIGINT, SHARD KEY (id)) WITH (SHARDS = 2)")
    conn.sql("INSERT INTO t SELECT range FROM range(20)")
    conn.sql("CREATE FUNCTION pid LANGUAGE PYTHON AS $$\nimport os\n"
             "def pid(ctx, t):\n    return {'pid': [os.getpid()]}\n$$")
    return run_pids(conn)


def run_pids(conn) -> set[int]:
    """The instance processes' pids, from a run of ``pid`` over ``t``."""
    conn.sql("DROP TABLE IF EXISTS pids")
    conn.sql("EXECUTE FUNCTION pid(INPUT_TABLE_NAMES => INPUT_TABLE(t), OUTPUT_TABLE_NAMES => OUTPUT_TABLES('pids'))")
    return {r[0] for r in conn.sql("SELECT pid FROM pids").fetchall()}


def family(pid: int) -> list[psutil.Process]:
    process = psutil.Process(pid)
    return [process, *process.children(recursive=True)]


def test_threads_mode_still_runs_code_in_other_processes(tmp_path):
    with indb.connect(tmp_path / "db", workers=1, threads_per_worker=2, cluster="threads") as conn:
        pids = run_identity(conn)
    assert pids and os.getpid() not in pids


def test_an_existing_scheduler(tmp_path):
    with LocalCluster(n_workers=1, threads_per_worker=2, processes=False, dashboard_address=":0") as cluster:
        with indb.connect(tmp_path / "db", scheduler=cluster.scheduler_address) as conn:
            assert run_identity(conn)
            workers = conn._engine.runner.cluster().workers()
            assert [address for _, address in workers] == list(cluster.scheduler_info["workers"])
        close_cluster(scheduler=cluster.scheduler_address)  # our client, before the scheduler goes


def test_a_database_remembers_its_worker_count(tmp_path):
    indb.connect(tmp_path / "db", workers=3).close()
    with indb.connect(tmp_path / "db") as conn:
        assert conn._engine.runner.cluster_options["workers"] == 3
    with indb.connect(tmp_path / "db", workers=1) as conn:  # a connection may say otherwise
        assert conn._engine.runner.cluster_options["workers"] == 1


def test_unknown_cluster_kind(tmp_path):
    with pytest.raises(indb.OptionError, match="cluster is 'processes' or 'threads'"):
        indb.connect(tmp_path / "db", cluster="kubernetes")


def test_the_local_cluster_listens_on_loopback_only():
    """Dask runs code for whoever connects: the scheduler, workers, nannies and dashboard of
    the local cluster take connections from this machine only."""
    cluster = Cluster(workers=2, threads_per_worker=1)
    try:
        assert urlparse(cluster.address).hostname == "127.0.0.1"
        assert [urlparse(address).hostname for _, address in cluster.workers()] == ["127.0.0.1"] * 2
        listening = [c.laddr.ip for p in family(cluster._helper.pid)
                     for c in p.net_connections("inet") if c.status == psutil.CONN_LISTEN]
        assert len(listening) >= 3 and set(listening) == {"127.0.0.1"}  # scheduler and workers
    finally:
        cluster.close()


def test_a_dead_local_cluster_is_replaced_by_a_fresh_one(tmp_path):
    with indb.connect(tmp_path / "db", workers=1) as conn:
        before = run_identity(conn)
        dead = conn._engine.runner.cluster()
        processes = family(dead._helper.pid)
        processes[0].kill()  # the helper, and the scheduler in it
        psutil.wait_procs(processes, timeout=60)  # its workers follow it
        assert not dead.alive
        after = run_pids(conn)  # on a fresh cluster, instead of failing for good
        assert after and not after & before
        assert conn._engine.runner.cluster() is not dead


def test_a_threads_cluster_keeps_its_workers_and_is_replaced_if_it_loses_one(tmp_path):
    """Thread workers are never restarted: the scheduler does not drop one that missed its
    heartbeats (the process stalled, a CI machine once for 435 s), and a cluster that lost one
    anyway is replaced, as a dead local cluster is."""
    with indb.connect(tmp_path / "db", workers=2, cluster="threads") as conn:
        before = run_identity(conn)
        dead = conn._engine.runner.cluster()
        assert dead._local.scheduler.worker_ttl is None
        [(_, address), _] = dead.workers()
        dead.client.retire_workers([address], close_workers=True)
        assert not dead.alive
        assert run_pids(conn) and before  # on a fresh cluster, instead of failing for good
        fresh = conn._engine.runner.cluster()
        assert fresh is not dead and len(fresh.workers()) == 2


def test_ctrl_c_in_the_users_process_group_leaves_the_cluster_alone(tmp_path):
    """A terminal's Ctrl-C (or Jupyter's interrupt) goes to the whole process group: it
    interrupts the user's code, never the cluster; and the process exits without tracebacks or
    leaked semaphores from the cluster's shutdown."""
    script = SETUP + textwrap.dedent("""
        conn.sql(RUN)
        try:  # the Ctrl-C arrives once the line below is out, here or in readline
            print(helper(), flush=True)
            sys.stdin.readline()
        except KeyboardInterrupt:
            print("interrupted", flush=True)
        conn.sql(RUN)
        print(helper(), flush=True)
        """)
    proc = subprocess.Popen([sys.executable, "-c", script, str(tmp_path / "db")], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)
    helper = int(proc.stdout.readline())
    os.killpg(proc.pid, signal.SIGINT)
    out, err = proc.communicate(timeout=240)  # EOF once every process that shares stderr ended
    assert proc.returncode == 0, err
    assert out.split() == ["interrupted", str(helper)]  # the same cluster ran the second run
    assert "Traceback" not in err and "leaked" not in err, err
    assert ended(helper)


def test_a_notebook_shuts_its_cluster_down_quietly(tmp_path):
    """Jupyter stops a kernel by signalling its process group; the cluster helper, in its own
    session, closes the cluster in order when the kernel exits."""
    runner = textwrap.dedent("""
        import sys, nbformat
        from nbclient import NotebookClient
        notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(sys.argv[2])])
        NotebookClient(notebook, timeout=300, kernel_name="python3").execute()
        print(notebook.cells[0].outputs[-1]["text"], flush=True)
        """)
    cell = SETUP.replace("sys.argv[1]", repr(str(tmp_path / "db"))) + "conn.sql(RUN)\nprint(helper())"
    done = subprocess.run([sys.executable, "-c", runner, "", cell], capture_output=True, text=True,
                          timeout=300)  # returns when every process writing to stderr ended
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr and "leaked" not in done.stderr, done.stderr
    assert ended(int(done.stdout.split()[-1]))


def test_a_run_asks_an_up_cluster_for_its_workers_while_it_is_prepared(conn, monkeypatch):
    from indb.sharding import cluster as clusters
    options = conn._engine.runner.cluster_options
    assert clusters.started_cluster(**{**options, "workers": 97}) is None  # never started: none
    conn.sql("CREATE TABLE IF NOT EXISTS asked (id BIGINT)")
    conn.sql("CREATE OR REPLACE FUNCTION nothing LANGUAGE PYTHON AS $$\ndef nothing(ctx, t):\n    return None\n$$")
    conn.sql("EXECUTE FUNCTION nothing(INPUT_TABLE_NAMES => INPUT_TABLE(asked))")  # the cluster is up
    assert clusters.started_cluster(**options) is conn._engine.runner.cluster()
    threads = []
    worker_info = clusters.Cluster.worker_info
    monkeypatch.setattr(clusters.Cluster, "worker_info",
                        lambda self: threads.append(threading.current_thread().name) or worker_info(self))
    conn.sql("EXECUTE FUNCTION nothing(INPUT_TABLE_NAMES => INPUT_TABLE(asked))")
    assert len(threads) == 1 and threads[0].startswith("indb-workers-asked")
