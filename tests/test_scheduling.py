"""The scheduling policy, on its own: no Dask, no processes, only instructions."""

from collections import Counter

import pytest

from indb.errors import OperationalError
from indb.registry.runs import RunStatus
from indb.runtime.gpus import worker_environment
from indb.sharding.cluster import placement_key
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


def test_the_next_shard_in_a_slot_is_the_one_whose_turn_is_a_slot_count_later():
    schedule = Schedule(range(10), ["w0", "w1"])  # w0: shards 0 2 4 6 8 in turns 0..4
    assert schedule.next_in_slot(0, 2) == 4 and schedule.next_in_slot(2, 2) == 6
    assert schedule.next_in_slot(1, 2) == 5  # on w1: shard 1 (turn 0), shard 5 (turn 2)
    assert schedule.next_in_slot(6, 2) is None and schedule.next_in_slot(8, 1) is None
    assert schedule.next_in_slot(3, 1) == 5


def test_with_slots_a_worker_gets_one_instance_a_slot_and_the_freed_slot_gets_its_next_shard():
    schedule = Schedule(range(12), ["w0", "w1"], slots={"w0": 3, "w1": 3})
    # w0's shards 0 2 4 | 6 8 10 in turns 0..5: slots 0 1 2 | 0 1 2
    assert schedule.start() == [Submit(0, "w0", 0), Submit(2, "w0", 1), Submit(4, "w0", 2),
                                Submit(1, "w1", 0), Submit(3, "w1", 1), Submit(5, "w1", 2)]
    assert schedule.done(4, OK) == [Submit(10, "w0", 5)]  # slot 2 came free: its next shard
    assert schedule.done(0, OK) == [Submit(6, "w0", 3)]
    # slot 2 has no more shards: the next one waits in the worker for its slot (1) to come free
    assert schedule.done(10, OK) == [Submit(8, "w0", 4)]
    assert schedule.done(2, OK) == [] and schedule.unstarted == [7, 9, 11]


def test_slots_never_raise_the_limit_a_run_asked_for():
    schedule = Schedule(range(4), ["w0"], max_per_worker=1, slots={"w0": 4})
    assert schedule.start() == [Submit(0, "w0", 0)]


@pytest.mark.parametrize("gpus", [1, 2, 4])
def test_shards_spread_evenly_and_stably_over_n_gpu_workers_each_on_its_own_gpu(gpus, monkeypatch):
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "4,5,6,7")  # the machine's GPUs the workers share
    # a local cluster names its workers 0..n-1 (cluster.main); they register in any order
    names = sorted((str(i) for i in reversed(range(gpus))), key=placement_key)
    slots = 2
    runs = [Schedule(range(16), names, slots={name: slots for name in names}) for _ in range(2)]
    placed = [{shard: (run.owner[shard], run.turn[shard] % slots) for shard in range(16)}
              for run in runs]
    assert placed[0] == placed[1]  # each shard in the same worker and slot every run: its
    # frames and models stay resident in the one process that loaded them
    per_worker = Counter(worker for worker, _ in placed[0].values())
    assert sorted(per_worker) == names and set(per_worker.values()) == {16 // gpus}
    devices = {name: worker_environment(int(name), gpus)["CUDA_VISIBLE_DEVICES"] for name in names}
    assert sorted(devices.values()) == ["4", "5", "6", "7"][:gpus]  # one GPU each, all used
