"""Outcomes carried with the word of their task's end: routed to the run that waits for them,
used by a run on real worker processes, and a task without one fetched from its future."""

import pickle
import queue
import subprocess
import sys
import textwrap

import pytest
from distributed import Client, LocalCluster

from indb.registry.runs import RunStatus
from indb.sharding import arrivals, executor
from indb.sharding.arrivals import Arrivals, Finished, arrived
from indb.sharding.jobs import Outcome


def event(message):
    return 1.0, message  # (the scheduler's time, the message), as Client.subscribe_topic hands it


def test_an_outcome_goes_to_the_run_that_expects_its_task_once():
    routes, inbox = Arrivals(), queue.SimpleQueue()
    routes.expect("indb-r-0", inbox)
    routes.expect("indb-r-1", inbox)
    outcome = Outcome(0, RunStatus.COMPLETED, "done", rows_in=5)
    routes.deliver(event(pickle.dumps(Finished("indb-r-0", outcome))))
    routes.deliver(event(pickle.dumps(Finished("indb-r-0", outcome))))  # again: nobody waits
    routes.deliver(event(pickle.dumps(Finished("indb-other-0", outcome))))  # another head's
    routes.deliver(event(pickle.dumps({"some": "event"})))  # not announce's
    routes.deliver(event({"not": "bytes"}))
    routes.forget(["indb-r-1"])
    routes.deliver(event(pickle.dumps(Finished("indb-r-1", outcome))))  # its run has ended
    came = arrived(inbox, timeout=0)
    assert [(a.key, a.outcome.rows_in) for a in came] == [("indb-r-0", 5)]
    assert arrived(inbox, timeout=0) == []


def test_arrived_takes_everything_waiting_after_the_first():
    inbox = queue.SimpleQueue()
    for n in range(3):
        inbox.put(n)
    assert arrived(inbox, timeout=0) == [0, 1, 2]


def test_announce_outside_a_worker_returns_the_outcome_and_publishes_nothing():
    outcome = Outcome(3, RunStatus.ERROR, "failed")
    assert arrivals.announce(outcome) is outcome


def test_a_runs_outcomes_come_with_their_events_and_none_is_fetched(conn, table_name, monkeypatch):
    fetched = []  # each call's tasks (an empty call is a round trip to Dask's loop all the same)
    real = executor._outcomes_of
    monkeypatch.setattr(executor, "_outcomes_of",
                        lambda client, finished: fetched.append(finished) or real(client, finished))
    conn.sql(f"CREATE TABLE {table_name} (id BIGINT, SHARD KEY (id)) WITH (SHARDS = 4)")
    conn.sql(f"INSERT INTO {table_name} SELECT range FROM range(40)")
    conn.sql("CREATE OR REPLACE FUNCTION twice LANGUAGE PYTHON AS $$\nimport pyarrow.compute as pc\n"
             "def twice(ctx, t):\n    return {'id': t['id'], 'y': pc.multiply(t['id'], 2)}\n$$")
    conn.sql(f"EXECUTE FUNCTION twice(INPUT_TABLE_NAMES => INPUT_TABLE({table_name}), "
             f"OUTPUT_TABLE_NAMES => OUTPUT_TABLES('{table_name}_out'))")
    assert conn.sql(f"SELECT count(*), sum(y) FROM {table_name}_out").fetchone() == (40, 2 * sum(range(40)))
    assert fetched == []  # all four outcomes came with their events, and nothing was asked for


@pytest.fixture(scope="module")
def client():
    with LocalCluster(n_workers=1, threads_per_worker=2, processes=False,
                      dashboard_address="127.0.0.1:0") as cluster, Client(cluster) as dask:
        yield dask


def test_a_task_that_ends_without_an_event_is_fetched_and_counted_once(client):
    job_a, job_b = object(), object()
    plain = client.submit(lambda: Outcome(1, RunStatus.COMPLETED, "fetched"), key="indb-t-1")
    carried = client.submit(lambda: Outcome(2, RunStatus.COMPLETED, "fetched"), key="indb-t-2")
    plain.result(), carried.result()  # both ended; only the second sent its outcome
    pending = {"indb-t-1": (plain, job_a), "indb-t-2": (carried, job_b)}
    inbox = queue.SimpleQueue()
    inbox.put(Finished("indb-t-2", Outcome(2, RunStatus.COMPLETED, "carried")))
    ended = executor._ended(client, inbox, pending)
    assert [(job, outcome.message, lost) for job, outcome, lost in ended] == [
        (job_b, "carried", False), (job_a, "fetched", False)]
    assert pending == {}
    inbox.put(Finished("indb-t-1", Outcome(1, RunStatus.COMPLETED, "late")))
    assert executor._ended(client, inbox, pending) == []  # a late arrival: already counted


def test_an_outcome_pickle_cannot_take_is_left_for_the_head_to_fetch(monkeypatch):
    published = []

    class Worker:
        def get_current_task(self):
            return "indb-r-3"

        def log_event(self, topic, message):
            published.append((topic, message))
    monkeypatch.setattr(arrivals, "get_worker", Worker)
    outcome = Outcome(3, RunStatus.COMPLETED, "done")
    assert arrivals.announce(outcome) is outcome
    assert [(topic, pickle.loads(m).key) for topic, m in published] == [(arrivals.TOPIC, "indb-r-3")]
    outcome.results["local"] = lambda: None  # pickle refuses a lambda (Dask's cloudpickle does not)
    assert arrivals.announce(outcome) is outcome and len(published) == 1


def test_a_process_that_exits_right_after_its_runs_leaves_no_traceback(tmp_path):
    """A run ends on its last outcome's event, a moment before the task's future ends; nothing
    of the run may still be waiting for that future when the process exits at once (a done
    callback then fired on Dask's callback pool, shut down at exit: a traceback in CI)."""
    script = textwrap.dedent("""
        import sys
        import indb
        conn = indb.connect(sys.argv[1], workers=1)
        conn.sql("CREATE TABLE t (id BIGINT, SHARD KEY (id)) WITH (SHARDS = 4)")
        conn.sql("INSERT INTO t SELECT range FROM range(40)")
        conn.sql("CREATE FUNCTION same LANGUAGE PYTHON AS $$\\ndef same(ctx, t):\\n    return t\\n$$")
        for _ in range(3):
            conn.sql("EXECUTE FUNCTION same(INPUT_TABLE_NAMES => INPUT_TABLE(t))")
        print("ran", flush=True)
        """)
    done = subprocess.run([sys.executable, "-c", script, str(tmp_path / "db")],
                          capture_output=True, text=True, timeout=240)
    assert done.returncode == 0 and done.stdout.split() == ["ran"], done.stderr
    assert "Traceback" not in done.stderr and "cannot schedule" not in done.stderr, done.stderr
