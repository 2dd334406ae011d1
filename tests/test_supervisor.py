"""Where instances run on a worker: its i-th shard in slot i mod slots, in the host process that
slot keeps between runs."""

import pytest

import indb
from indb.sharding.supervisor import HostPool, instance_device


def test_a_shard_runs_in_its_slots_host_run_after_run(conn, table_name):
    # the session cluster: 2 workers of 2 slots; a worker's i-th shard runs in slot i mod 2
    conn.sql(f"CREATE TABLE {table_name} (id BIGINT, SHARD KEY (id)) WITH (SHARDS = 8)")
    conn.sql(f"INSERT INTO {table_name} SELECT range FROM range(800)")
    conn.sql("CREATE OR REPLACE FUNCTION whereami LANGUAGE PYTHON AS $$\nimport os\n"
             "def whereami(ctx, t):\n    return {'shard': [ctx.shard], 'pid': [os.getpid()]}\n$$")
    placements = []
    for run in range(2):
        out = f"{table_name}_where{run}"
        conn.sql(f"EXECUTE FUNCTION whereami(INPUT_TABLE_NAMES => INPUT_TABLE({table_name}), "
                 f"OUTPUT_TABLE_NAMES => OUTPUT_TABLES('{out}'))")
        placements.append(dict(conn.sql(f"SELECT shard, pid FROM {out}").fetchall()))
    assert placements[0] == placements[1]  # each shard in the same process both times
    pids = placements[0]
    run_id = conn.sql("SHOW FUNCTION STATUS").fetchone()[1]  # the newest run's
    workers = {row["shard"]: row["worker"] for row in
               conn.sql(f"SHOW FUNCTION STATUS VERBOSE FOR '{run_id}'").arrow().to_pylist()}
    slot = {shard: sorted(k for k in workers if workers[k] == workers[shard]).index(shard) % 2
            for shard in range(8)}
    # one process a worker's slot: shards of the same worker and slot share it, no others
    assert len({(workers[k], slot[k]) for k in range(8)}) == len(set(pids.values())) == 4
    assert all((pids[a] == pids[b]) == ((workers[a], slot[a]) == (workers[b], slot[b]))
               for a in range(8) for b in range(8))


def test_a_dead_host_is_replaced_in_its_slot():
    pool = HostPool()
    slot, host = pool.acquire(5)  # outside a Dask worker: one slot
    assert slot == 0
    host.kill()
    pool.release(slot, host)
    slot, again = pool.acquire(5)
    try:
        assert again is not host and again.alive
    finally:
        again.kill()
        pool.release(slot, again)


LEAVES_A_MESS = """
import os, resource, sys
def leaves_a_mess(ctx, t):
    os.environ["INDB_TEST_LEFTOVER"] = "1"
    os.chdir("/")
    resource.setrlimit(resource.RLIMIT_NOFILE, (64, resource.getrlimit(resource.RLIMIT_NOFILE)[1]))
    sys.modules["json"].dumps = lambda *a, **k: "patched"
    return {"pid": [os.getpid()]}
"""

LOOKS_AROUND = """
import json, os, resource
def looks_around(ctx, t):
    return {"pid": [os.getpid()], "leftover": [os.environ.get("INDB_TEST_LEFTOVER", "")],
            "cwd": [os.getcwd()], "nofile": [resource.getrlimit(resource.RLIMIT_NOFILE)[0]],
            "dumps": [json.dumps(1)]}
"""


def test_a_function_never_inherits_what_another_left_in_its_process(conn, table_name):
    conn.sql(f"CREATE TABLE {table_name} (id BIGINT, SHARD KEY (id)) WITH (SHARDS = 1)")
    conn.sql(f"INSERT INTO {table_name} VALUES (1)")
    conn.sql(f"CREATE OR REPLACE FUNCTION leaves_a_mess LANGUAGE PYTHON AS $${LEAVES_A_MESS}$$")
    conn.sql(f"CREATE OR REPLACE FUNCTION looks_around LANGUAGE PYTHON AS $${LOOKS_AROUND}$$")

    def run(function, out):
        conn.sql(f"EXECUTE FUNCTION {function}(INPUT_TABLE_NAMES => INPUT_TABLE({table_name}), "
                 f"OUTPUT_TABLE_NAMES => OUTPUT_TABLES('{out}'))")
        return conn.sql(f"SELECT * FROM {out}").fetchall()

    (mess_pid,), = run("leaves_a_mess", f"{table_name}_a")
    (mess_again,), = run("leaves_a_mess", f"{table_name}_b")
    assert mess_again == mess_pid  # the same function keeps its process (and what it holds)
    ((pid, leftover, cwd, nofile, dumps),) = run("looks_around", f"{table_name}_c")
    assert pid != mess_pid and leftover == "" and cwd != "/" and nofile != 64 and dumps == "1"


def test_a_run_whose_database_was_made_again_at_its_path_fails_cleanly(tmp_path):
    from indb.catalog.database import Database
    from indb.sharding import supervisor
    path = tmp_path / "db"
    first = Database(path)
    old_id = first.id
    first.close()
    import shutil
    shutil.rmtree(path)
    second = Database(path)  # another database at the same path
    try:
        with pytest.raises(indb.OperationalError, match="was replaced"):
            supervisor._Records(str(path), old_id)
        assert supervisor._records(str(path), second.id).db.id == second.id
    finally:
        second.close()


def test_each_instance_record_names_the_device_that_ran_it(conn, table_name):
    conn.sql(f"CREATE TABLE {table_name} (id BIGINT, SHARD KEY (id)) WITH (SHARDS = 2)")
    conn.sql(f"INSERT INTO {table_name} SELECT range FROM range(20)")
    conn.sql("CREATE OR REPLACE FUNCTION passes LANGUAGE PYTHON AS $$\n"
             "def passes(ctx, t):\n    return None\n$$")
    run_id = conn.sql(f"EXECUTE FUNCTION passes(INPUT_TABLE_NAMES => INPUT_TABLE({table_name}))"
                      ).fetchone()[0]
    status = conn.sql(f"SHOW FUNCTION STATUS VERBOSE FOR '{run_id}'").df()
    assert list(status["device"]) == ["cpu", "cpu"]  # the session cluster has no GPU workers
    assert all("on cpu" in block for block in status["FUNCTION_STATUSES"])


@pytest.mark.parametrize(("environment", "device"), [
    ({}, "cpu"), ({"INDB_DEVICE": "cuda", "CUDA_VISIBLE_DEVICES": "3"}, "cuda:3")])
def test_the_device_is_the_gpu_the_workers_environment_pins_it_to(monkeypatch, environment, device):
    monkeypatch.delenv("INDB_DEVICE", raising=False)
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    assert instance_device() == device


def test_a_hosts_first_question_is_answered_while_its_running_record_is_written(tmp_path):
    """The running record's write can wait for other writers of the catalog; the host's first
    question (its model, asked as it starts) is answered meanwhile, and the outcome leaves only
    once the record has landed (the head then writes the instance's last record over it)."""
    import threading
    from multiprocessing import Pipe
    from types import SimpleNamespace

    from indb.registry.runs import RunStatus
    from indb.sharding import supervisor
    from indb.sharding.jobs import Outcome
    from indb.sharding.messages import Done, ModelWanted
    ours, theirs = Pipe()
    answered, written, answers = threading.Event(), [], []

    def update_instance(run_id, shard, **fields):
        written.append((answered.wait(5), fields))  # True: the answer came while this waited

    def the_host():
        theirs.recv()  # the job
        theirs.send(ModelWanted("clf", None))
        answers.append(theirs.recv())
        answered.set()
        theirs.send(Done(Outcome(0, RunStatus.COMPLETED)))

    records = SimpleNamespace(log=SimpleNamespace(update_instance=update_instance,
                                                  kill_reason=lambda run_id: None),
                              answer=lambda question: f"version of {question.name}")
    host = SimpleNamespace(channel=ours, alive=True, kill=lambda: None)
    job = SimpleNamespace(run_id="r1", shard=0, work_dir=str(tmp_path), deadline=None)
    thread = threading.Thread(target=the_host)
    thread.start()
    outcome = supervisor._supervise(job, host, records, {"status": RunStatus.RUNNING, "pid": 7})
    thread.join()
    assert answers == ["version of clf"]
    assert written == [(True, {"status": RunStatus.RUNNING, "pid": 7})]
    assert outcome.status == RunStatus.COMPLETED
