"""The scheduling policy, on its own: no Dask, no processes, only instructions."""

from collections import Counter

import pytest

from indb.errors import OperationalError
from indb.registry.runs import RunStatus
from indb.runtime.gpus import worker_environment
from indb.sharding.cluster import placement_key
from indb.sharding import scheduling, worker_placement
from indb.sharding.scheduling import Schedule, Stop, Submit

OK, FAILED = RunStatus.COMPLETED, RunStatus.ERROR


def round_robin(shards, workers):
    """Shard k on worker k mod n: a placement whose instructions are easy to read."""
    return {shard: workers[shard % len(workers)] for shard in shards}


@pytest.fixture(autouse=True)
def _readable_placement(monkeypatch):
    """The policy's tests place shards round robin; where shards go by default (rendezvous
    hashing) is tested in test_worker_placement and below."""
    monkeypatch.setattr(scheduling, "place", round_robin)


def test_by_default_shards_are_placed_by_rendezvous_hashing(monkeypatch):
    monkeypatch.setattr(scheduling, "place", worker_placement.place)
    workers = ["a", "b", "c"]
    schedule = Schedule(range(8), workers)
    assert schedule.owner == worker_placement.place(range(8), workers)
    for worker, queue in schedule.queues.items():  # turns: places among the worker's shards
        assert [schedule.turn[shard] for shard in queue] == list(range(len(queue)))
        assert all(schedule.owner[shard] == worker for shard in queue)


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


LOST = RunStatus.ERROR


def test_a_shard_lost_with_its_worker_is_retried_on_a_survivor_by_the_placement_rule():
    schedule = Schedule(range(4), ["w0", "w1", "w2"], max_retries=1)
    schedule.start()  # w0: 0 3, w1: 1, w2: 2 (round robin here; the rule's own test is below)
    assert schedule.lost(1, ["w0", "w2"]) == [Submit(1, "w2", 1, attempt=1)]  # 1 mod 2: w2
    assert schedule.owner[1] == "w2" and schedule.retries == {1: ["w1"]}
    assert schedule.done(1, OK) == [] and not schedule.stopping
    for shard in (0, 2, 3):
        schedule.done(shard, OK)
    assert schedule.over and schedule.finished == dict.fromkeys(range(4), OK)


def test_the_dead_workers_unstarted_shards_move_too_without_using_a_retry():
    schedule = Schedule(range(6), ["w0", "w1"], max_per_worker=1, max_retries=1)
    assert schedule.start() == [Submit(0, "w0", 0), Submit(1, "w1", 0)]
    # w1 dies running shard 1, with shards 3 and 5 still queued for it: all go to w0, after
    # w0's own shards (turns 3, 4, 5), and w0 runs one at a time as asked
    assert schedule.lost(1, ["w0"]) == []  # w0 is busy with shard 0
    assert schedule.queues["w0"] == [2, 4, 3, 5, 1] and schedule.queues["w1"] == []
    assert (schedule.turn[3], schedule.turn[5], schedule.turn[1]) == (3, 4, 5)
    assert schedule.done(0, OK) == [Submit(2, "w0", 1)]
    assert schedule.retries == {1: ["w1"]}  # 3 and 5 never ran: they were not retried


def test_a_restarted_worker_of_the_same_name_gets_nothing_more_from_the_run():
    schedule = Schedule(range(2), ["w0", "w1"], max_retries=2)
    schedule.start()
    assert schedule.lost(0, ["w0", "w1"]) == [Submit(0, "w1", 1, attempt=1)]  # not w0 again


def test_retries_used_up_stop_the_run_with_the_reason():
    schedule = Schedule(range(3), ["w0", "w1", "w2"], max_retries=1)
    schedule.start()
    assert schedule.lost(0, ["w1", "w2"]) == [Submit(0, "w1", 1, attempt=1)]  # 0 mod 2
    assert schedule.lost(0, ["w2"]) == [Stop(0, LOST, "its retries are used up (max_retries = 1)")]
    assert schedule.retries == {0: ["w0"]} and schedule.finished[0] == LOST
    assert schedule.done(2, RunStatus.KILLED) == []  # the stop was said once
    assert not schedule.over  # shard 1 was on w1 too
    assert schedule.lost(1, ["w2"]) == [] and schedule.over


def test_no_retries_asked_means_a_lost_worker_fails_the_run():
    schedule = Schedule(range(2), ["w0", "w1"])
    schedule.start()
    assert schedule.lost(1, ["w0"]) == [Stop(1, LOST, "its retries are used up (max_retries = 0)")]


def test_without_a_survivor_of_its_kind_the_shard_is_not_retried():
    kinds = {"g0": "GPU", "g1": "GPU", "c0": "CPU"}
    schedule = Schedule(range(2), ["g0", "g1"], max_retries=3, kinds=kinds)
    schedule.start()
    assert schedule.lost(0, ["c0", "g1"]) == [Submit(0, "g1", 1, attempt=1)]
    assert schedule.lost(0, ["c0"]) == [Stop(0, LOST, "no other GPU worker remains")]
    alone = Schedule(range(1), ["w0"], max_retries=1)
    alone.start()
    assert alone.lost(0, []) == [Stop(0, LOST, "no other worker remains")]
    assert alone.over and alone.unstarted == []


def test_a_lost_shard_of_a_stopping_run_just_ends():
    schedule = Schedule(range(2), ["w0", "w1"], max_retries=1)
    schedule.start()
    assert schedule.done(0, FAILED) == [Stop(0, FAILED)]
    assert schedule.lost(1, ["w0"]) == [] and schedule.over and schedule.retries == {}


def test_a_retried_shard_takes_the_slot_of_its_new_turn():
    schedule = Schedule(range(4), ["w0", "w1"], slots={"w0": 2, "w1": 2}, max_retries=1)
    schedule.start()  # w0: 0 2 (turns 0 1), w1: 1 3
    assert schedule.lost(3, ["w0"]) == []  # w0's two slots are busy
    assert schedule.lost(1, ["w0"]) == []
    assert (schedule.turn[3], schedule.turn[1]) == (2, 3)  # slots 0 and 1 of w0
    assert schedule.next_in_slot(0, 2) == 3 and schedule.next_in_slot(2, 2) == 1
    assert schedule.done(2, OK) == [Submit(1, "w0", 3, attempt=1)]  # slot 1's next shard


def test_by_default_a_lost_shard_goes_to_the_survivor_rendezvous_hashing_gives_it(monkeypatch):
    monkeypatch.setattr(scheduling, "place", worker_placement.place)
    workers = ["a", "b", "c", "d"]
    schedule = Schedule(range(8), workers, max_retries=1)
    schedule.start()
    shard = next(k for k, worker in schedule.owner.items() if worker == "b")
    survivors = ["a", "c", "d"]
    (retry,) = schedule.lost(shard, survivors)
    favourite = max(survivors, key=lambda worker: worker_placement.weight(shard, worker))
    assert isinstance(retry, Submit) and (retry.shard, retry.worker) == (shard, favourite)
    assert retry.turn == len([k for k in range(8) if worker_placement.place(range(8), workers)[k]
                              == favourite])  # after the survivor's own shards
