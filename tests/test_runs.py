"""Run records: what SHOW FUNCTION STATUS and KILL FUNCTION read and write."""

import json
import subprocess
import sys

import pytest

from indb.catalog.database import Database
from indb.errors import CatalogError
from indb.registry.runs import RunLog, tail


@pytest.fixture
def log(tmp_path):
    db = Database(tmp_path / "db")
    yield RunLog(db.engine)
    db.close()


def test_a_run_and_its_instances(log):
    log.start("r1", "f", "distributed", range(3), tag="nightly", outputs=["o"], statement="EXECUTE ...")
    log.update_instance("r1", 0, status="completed", rows_in=5, rows_out=5, progress_done=5, progress_total=5)
    assert log.request_kill("r1", "stop please")
    assert log.kill_reason("r1") == "stop please"
    log.finish("r1", "killed", "stop please", 5, 0)
    run = log.runs("r1").to_pylist()[0]
    assert (run["status"], run["tag"], run["completed"], run["instances"]) == ("killed", "nightly", 1, 3)
    shards = log.instances("r1").to_pylist()
    assert [s["status"] for s in shards] == ["completed", "killed", "killed"]  # never-run shards say why
    assert shards[0]["progress"] == "5/5" and shards[1]["message"] == "stop please"
    assert not log.request_kill("r1", "again")  # a finished run cannot be killed


def test_unknown_run_ids(log):
    with pytest.raises(CatalogError, match="run nope does not exist"):
        log.runs("nope")
    with pytest.raises(CatalogError, match="run nope does not exist"):
        log.request_kill("nope", "x")


def test_a_run_whose_head_process_exited_is_marked_as_failed(log, tmp_path):
    child = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    log.start("r2", "f", "distributed", range(1), tag=None, outputs=[], statement="")
    with log.engine.begin() as conn:  # pretend the run was started by that (now gone) process
        conn.exec_driver_sql("UPDATE indb_runs SET head = substr(head, 1, instr(head, ':')) || ? "
                             "WHERE run_id = 'r2'", (child.stdout.strip(),))
    run = log.runs("r2").to_pylist()[0]
    assert run["status"] == "error" and "exited before it finished" in run["message"]


def test_tail_keeps_the_last_lines(tmp_path):
    path = tmp_path / "log"
    path.write_text("".join(f"line {i}\n" for i in range(100)))
    assert tail(path, 3) == "line 97\nline 98\nline 99"
    assert tail(tmp_path / "missing") is None


def test_a_catalog_from_before_the_cache_columns_gets_them(tmp_path):
    db = Database(tmp_path / "db")
    RunLog(db.engine)
    with db.engine.begin() as conn:
        conn.exec_driver_sql("ALTER TABLE indb_run_instances DROP COLUMN cache_hits")
    RunLog(db.engine).start("r", "f", "distributed", range(1), tag=None, outputs=[], statement="")
    assert "cache_hits" in RunLog(db.engine).instances("r").column_names
    db.close()


def test_runs_name_who_started_them_and_filter_by_user(log):
    log.start("ra", "f", "distributed", range(1), tag=None, outputs=[], statement="", user="alice")
    log.start("rb", "f", "distributed", range(1), tag=None, outputs=[], statement="", user="bob")
    log.start("ro", "f", "distributed", range(1), tag=None, outputs=[], statement="")  # the owner
    everyone = {r["run_id"]: r["user"] for r in log.runs().to_pylist()}
    assert everyone == {"ra": "alice", "rb": "bob", "ro": "owner"}
    assert [r["run_id"] for r in log.runs(user="alice").to_pylist()] == ["ra"]
    assert [r["run_id"] for r in log.runs(user="owner").to_pylist()] == ["ro"]
    assert {r["run_id"] for r in log.instances(user="bob").to_pylist()} == {"rb"}
    assert log.instances("ra", user="alice").to_pylist()[0]["user"] == "alice"
    for read in (log.runs, log.instances):
        with pytest.raises(CatalogError, match="run rb does not exist"):
            read("rb", user="alice")


def test_an_older_run_table_gains_the_user_column(tmp_path):
    db = Database(tmp_path / "db")
    with db.engine.begin() as conn:  # indb_runs as databases made before runs named their user
        conn.exec_driver_sql("CREATE TABLE indb_runs (run_id VARCHAR PRIMARY KEY, function VARCHAR "
                             "NOT NULL, mode VARCHAR NOT NULL, status VARCHAR NOT NULL, instances "
                             "INTEGER NOT NULL, started FLOAT NOT NULL)")
        conn.exec_driver_sql("INSERT INTO indb_runs VALUES ('old', 'f', 'distributed', "
                             "'completed', 0, 1.0)")
    log = RunLog(db.engine)
    assert [(r["run_id"], r["user"]) for r in log.runs().to_pylist()] == [("old", "owner")]
    assert log.runs(user="alice").num_rows == 0
    db.close()


def test_a_finished_run_sums_bytes_and_cached_shards_per_worker(log):
    log.start("r2", "f", "distributed", range(4), tag=None, outputs=[], statement="EXECUTE ...")
    for shard, worker, read, cached, hits in [(0, "a", 100, False, 0), (1, "b", 0, True, 1),
                                              (2, "a", 50, False, 0), (3, "b", 30, False, 2)]:
        log.update_instance("r2", shard, status="completed", worker=worker, bytes_read=read,
                            from_cache=cached, cache_hits=hits)
    log.finish("r2", "completed", "done", 4, 4)
    run = log.runs("r2").to_pylist()[0]
    assert run["bytes_read"] == 180
    assert json.loads(run["workers"]) == {
        "a": {"shards": 2, "bytes_read": 150, "cached_shards": 0, "cache_hits": 0},
        "b": {"shards": 2, "bytes_read": 30, "cached_shards": 1, "cache_hits": 3}}
    shards = log.instances("r2").to_pylist()
    assert [(s["bytes_read"], s["from_cache"]) for s in shards] == \
        [(100, False), (0, True), (50, False), (30, False)]


def test_a_run_of_no_shards_is_recorded_with_no_instances(log):
    log.start("r0", "f", "distributed", [], tag=None, outputs=[], statement="EXECUTE ...")
    assert log.runs("r0").to_pylist()[0]["instances"] == 0
    assert log.instances("r0").num_rows == 0
    log.start("r9", "f", "distributed", [4, 7], tag=None, outputs=[], statement="EXECUTE ...")
    assert [(s["shard"], s["status"]) for s in log.instances("r9").to_pylist()] == [
        (4, "queued"), (7, "queued")]  # one statement, a row a shard
