"""Where runs execute: the worker count a database keeps, threads mode, an existing scheduler."""

import os

import pytest
from distributed import LocalCluster

import indb
from indb.sharding.cluster import close_cluster


def run_identity(conn) -> set[int]:
    conn.sql("CREATE TABLE t (id BIGINT, SHARD KEY (id)) WITH (SHARDS = 2)")
    conn.sql("INSERT INTO t SELECT range FROM range(20)")
    conn.sql("CREATE FUNCTION pid LANGUAGE PYTHON AS $$\nimport os\n"
             "def pid(ctx, t):\n    return {'pid': [os.getpid()]}\n$$")
    conn.sql("EXECUTE FUNCTION pid(INPUT_TABLE_NAMES => INPUT_TABLE(t), OUTPUT_TABLE_NAMES => OUTPUT_TABLES('pids'))")
    return {r[0] for r in conn.sql("SELECT pid FROM pids").fetchall()}


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
