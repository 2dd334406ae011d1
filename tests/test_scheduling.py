"""The scheduling policy, on its own: no Dask, no processes, only instructions."""

import pytest

from indb.errors import OperationalError
from indb.registry.runs import RunStatus
from indb.sharding.scheduling import Schedule, Stop, Submit

OK, FAILED = RunStatus.COMPLETED, RunStatus.ERROR


def test_shard_k_goes_to_worker_k_mod_n_in_its_turn():
    schedule = Schedule(range(6), ["w0", "w1"])
    assert schedule.start() == [Submit(0, "w0", 0), Submit(2, "w0", 1), Submit(4, "w0", 2),
                                Submit(1, "w1", 0), Submit(3, "w1", 1), Submit(5, "w1", 2)]


def test_the_same_shards_go_to_the_same_places_every_run():
    first = Schedule(range(8), ["a", "b", "c"]).start()
    again = Schedule(range(8), ["a", "b", "c"]).start()
    assert first == again


def test_at_most_the_limit_runs_on_a_worker_and_the_next_starts_when_one_ends():
    schedule = Schedule(range(5), ["w0", "w1"], max_per_worker=1)
    assert schedule.start() == [Submit(0, "w0", 0), Submit(1, "w1", 0)]
    assert schedule.done(1, OK) == [Submit(3, "w1", 1)]  # w1's next shard, on w1
    assert schedule.done(0, OK) == [Submit(2, "w0", 1)]
    assert schedule.done(2, OK) == [Submit(4, "w0", 2)]
    assert not schedule.over
    assert schedule.done(3, OK) == [] and schedule.done(4, OK) == []
    assert schedule.over and schedule.finished == dict.fromkeys(range(5), OK)


def test_the_first_failure_stops_the_run_once_and_nothing_more_starts():
    schedule = Schedule(range(4), ["w0"], max_per_worker=2)
    assert [s.shard for s in schedule.start()] == [0, 1]
    assert schedule.done(0, FAILED) == [Stop(0, FAILED)]  # no Submit of shard 2
    assert schedule.done(1, RunStatus.KILLED) == []        # the stop is said once
    assert schedule.over and schedule.unstarted == [2, 3]


def test_a_kill_stops_the_run_too():
    schedule = Schedule(range(2), ["w0"], max_per_worker=1)
    schedule.start()
    assert schedule.done(0, RunStatus.KILLED) == [Stop(0, RunStatus.KILLED)]
    assert schedule.over


def test_a_nondistributed_run_is_one_instance():
    schedule = Schedule([0], ["w0", "w1", "w2"])
    assert schedule.start() == [Submit(0, "w0", 0)]
    assert schedule.done(0, OK) == [] and schedule.over


def test_no_workers_is_an_operational_error():
    with pytest.raises(OperationalError, match="no workers"):
        Schedule(range(2), [])
