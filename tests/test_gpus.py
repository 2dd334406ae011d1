"""Turns at a GPU (``gpus.Turns``): the lock between the processes that share one. Runs on the CPU:
the lock is a file lock and the wait for the GPU (``settle``) is a callback."""

import fcntl
import multiprocessing
import os
import signal
import threading
import time

import pytest

from indb.runtime import gpus
from indb.runtime.gpus import (HOLD_S, ReadTurns, Turns, gpu_reads, gpu_slots, gpu_turn,
                               hold_seconds, keep_turns, last_batch, read_turn, worker_environment)
from indb.storage.read_threads import MACHINE_SLOTS_VARIABLE, read_threads


def held_elsewhere(path) -> bool:
    """Whether another open file (as another process would have) cannot take the lock now."""
    fd = os.open(path, os.O_RDWR | os.O_CREAT)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)
    return False


def test_a_turn_holds_the_lock_until_the_gpu_has_settled(tmp_path):
    path = tmp_path / "gpu.lock"
    seen = []
    turns = Turns(path, lambda: seen.append(("settle", held_elsewhere(path))))
    with turns():
        seen.append(("call", held_elsewhere(path)))
    assert seen == [("call", True), ("settle", True)]
    assert not held_elsewhere(path)


def test_a_failed_call_gives_the_turn_back_without_waiting(tmp_path):
    path = tmp_path / "gpu.lock"
    finished = []
    turns = Turns(path, lambda: finished.append(True))
    with pytest.raises(ValueError), turns():
        raise ValueError("the model failed")
    assert finished == [] and not held_elsewhere(path)
    with turns():  # and the next call gets a turn
        pass
    assert finished == [True]


def _hold_turn(path, ready) -> None:
    with Turns(path, lambda: None)():
        ready.send(True)
        signal.pause()  # until killed, holding the turn


def test_a_killed_process_gives_its_turn_back(tmp_path):
    path = tmp_path / "gpu.lock"
    ours, theirs = multiprocessing.get_context("spawn").Pipe()
    holder = multiprocessing.get_context("spawn").Process(target=_hold_turn, args=(path, theirs))
    holder.start()
    assert ours.recv() and held_elsewhere(path)
    os.kill(holder.pid, signal.SIGKILL)
    holder.join()
    with Turns(path, lambda: None)():  # would block for ever if the dead process kept the lock
        assert held_elsewhere(path)


def test_only_instance_processes_sharing_a_gpu_take_turns_across_processes(monkeypatch):
    pytest.importorskip("torch")
    monkeypatch.delenv("INDB_GPU_SLOTS", raising=False)
    monkeypatch.setattr("indb.runtime.gpus._turns", {})
    assert gpu_turn("cuda")._lock_path is None  # the head's serving path waits for no batch job


def test_a_gpu_workers_processes_read_back_how_many_share_its_gpu(monkeypatch):
    environment = worker_environment(1, gpus=2, slots=4)
    monkeypatch.setenv("INDB_GPU_SLOTS", environment["INDB_GPU_SLOTS"])
    assert gpu_slots() == 4
    monkeypatch.delenv("INDB_GPU_SLOTS")
    assert gpu_slots() == 1  # the connection's own process


@pytest.mark.parametrize("gpus", [0, 2])
def test_every_worker_says_how_many_instance_processes_share_the_machine(monkeypatch, gpus):
    monkeypatch.delenv("INDB_READ_THREADS", raising=False)
    monkeypatch.setattr("indb.storage.read_threads.available_cores", lambda: 16)
    for worker in range(2):  # two workers of four slots: each process decodes with 16 / 8 cores
        environment = worker_environment(worker, gpus=gpus, slots=4, workers=2)
        monkeypatch.setenv(MACHINE_SLOTS_VARIABLE, environment[MACHINE_SLOTS_VARIABLE])
        assert read_threads() == 2


def _until(condition, seconds: float = 10.0) -> bool:
    """Whether ``condition()`` became true within ``seconds`` (polled: the lingering turn is
    given back by a thread of its own)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.001)
    return condition()


def test_a_kept_turn_lasts_from_one_call_to_the_next_and_is_given_back_at_the_end(tmp_path):
    path = tmp_path / "gpu.lock"
    finished = []
    turns = Turns(path, lambda: finished.append(held_elsewhere(path)), keeping=lambda: True,
                  hold=60, linger=60)
    with turns():
        pass
    assert held_elsewhere(path)  # between two calls of one function: no other process's turn
    with turns():
        pass
    assert finished == []  # the calls of a kept turn wait for nothing: the GPU runs them on
    turns.give_back()  # the function returned
    assert finished == [True]  # the GPU waited for once, with the turn still held
    assert not held_elsewhere(path)


def test_a_kept_turn_no_call_uses_is_given_back_after_it_lingers(tmp_path):
    path = tmp_path / "gpu.lock"
    turns = Turns(path, lambda: None, keeping=lambda: True, hold=60, linger=0.01)
    with turns():
        pass
    assert _until(lambda: not held_elsewhere(path))


def test_a_kept_turn_waits_for_where_its_last_call_said_it_ends(tmp_path):
    class FakeTail:  # a mark stands for a CUDA event: where the GPU may be left to the next
        def __init__(self):
            self.mark, self.waited = None, []

        def __call__(self):
            self.waited.append(self.mark or "everything")

        def forget(self):
            self.mark = None
    tail = FakeTail()
    turns = Turns(tmp_path / "gpu.lock", tail, keeping=lambda: True, hold=60, linger=60,
                  begin=tail.forget)
    with turns():
        tail.mark = "the first call's last batch"
    turns.give_back()
    with turns():
        tail.mark = "the second call's last batch"
    with turns():  # a call that marks nothing (CUDA graphs): the earlier mark is no end of it
        pass
    turns.give_back()
    assert tail.waited == ["the first call's last batch", "everything"]


def test_a_turn_whose_wait_for_the_gpu_fails_is_given_back(tmp_path):
    def settle():
        raise RuntimeError("CUDA error: an illegal memory access")
    path = tmp_path / "gpu.lock"
    with pytest.raises(RuntimeError, match="illegal"), Turns(path, settle)():
        pass
    assert not held_elsewhere(path)


def test_only_a_shared_gpu_marks_where_its_turns_end(monkeypatch):
    pytest.importorskip("torch")
    monkeypatch.delenv("INDB_GPU_SLOTS", raising=False)
    monkeypatch.setattr("indb.runtime.gpus._turns", {})
    monkeypatch.setattr("indb.runtime.gpus._tails", {})
    gpu_turn("cuda")  # the connection's own process: no turns across processes
    assert gpus._tails == {}
    last_batch("cuda")  # and so nothing to mark (no CUDA touched: this machine may have none)


def test_a_kept_turn_lingers_from_when_the_gpu_is_done_not_from_when_the_call_returned(tmp_path):
    path = tmp_path / "gpu.lock"
    asked = []  # whether the turn was still held each time the linger ran out

    def busy():  # the call returned with its batches queued: the GPU works on them a while
        asked.append(held_elsewhere(path))
        return len(asked) < 4
    turns = Turns(path, lambda: None, keeping=lambda: True, hold=60, linger=0.01, busy=busy)
    with turns():
        pass
    assert _until(lambda: not held_elsewhere(path))
    assert asked == [True, True, True, True]  # kept while busy, given back once the GPU was done


def test_a_turn_kept_longer_than_its_hold_goes_to_the_other_processes(tmp_path):
    path = tmp_path / "gpu.lock"
    turns = Turns(path, lambda: None, keeping=lambda: True, hold=0, linger=60)
    with turns():
        pass
    assert not held_elsewhere(path)


def test_a_kept_turn_whose_call_fails_is_given_back(tmp_path):
    path = tmp_path / "gpu.lock"
    turns = Turns(path, lambda: None, keeping=lambda: True, hold=60, linger=60)
    with turns():
        pass
    with pytest.raises(ValueError), turns():
        raise ValueError("the model failed")
    assert not held_elsewhere(path)


def test_keep_turns_keeps_this_process_turns_while_open_and_gives_them_back(tmp_path, monkeypatch):
    path = tmp_path / "gpu.lock"
    turns = Turns(path, lambda: None, keeping=lambda: gpus._keeping > 0, hold=60, linger=60)
    monkeypatch.setattr("indb.runtime.gpus._turns", {"cuda": turns})
    with turns():  # outside an instance's function (the serving path): one call, one turn
        pass
    assert not held_elsewhere(path)
    with keep_turns():
        with turns():
            pass
        assert held_elsewhere(path)
    assert not held_elsewhere(path)


def test_the_hold_is_read_from_the_environment(monkeypatch):
    monkeypatch.setenv("INDB_GPU_TURN_HOLD_S", "0")
    assert hold_seconds() == 0
    monkeypatch.delenv("INDB_GPU_TURN_HOLD_S")
    assert hold_seconds() == HOLD_S


def test_read_turns_let_as_many_readers_in_as_there_are_locks_and_the_next_after_one_leaves(tmp_path):
    """Three processes' read turns (each its own open files) over two locks: two read at once,
    the third waits until one of them is done."""
    paths = [tmp_path / "read0.lock", tmp_path / "read1.lock"]
    first, second, third = (ReadTurns(paths) for _ in range(3))
    events, asking, inside = [], threading.Event(), threading.Event()

    def third_reader() -> None:
        asking.set()
        with third():
            events.append("third in")
            inside.set()
    with first(), second():
        assert held_elsewhere(paths[0]) and held_elsewhere(paths[1])
        reader = threading.Thread(target=third_reader)
        reader.start()
        assert asking.wait(10)
        assert not inside.wait(0.2)  # both locks taken: it must not get in meanwhile
        events.append("second out")
    reader.join(10)
    assert events == ["second out", "third in"]
    assert not held_elsewhere(paths[0]) and not held_elsewhere(paths[1])


def test_a_process_reads_one_shard_at_a_time_even_without_locks(tmp_path):
    """Its own read and the next shard's, read ahead on a thread, do not run at once."""
    turns, events = ReadTurns([]), []
    asking, inside = threading.Event(), threading.Event()

    def ahead() -> None:
        asking.set()
        with turns():
            events.append("ahead in")
            inside.set()
    with turns():
        reader = threading.Thread(target=ahead)
        reader.start()
        assert asking.wait(10)
        assert not inside.wait(0.2)
        events.append("own out")
    reader.join(10)
    assert events == ["own out", "ahead in"]


def test_all_the_processes_sharing_a_gpu_read_at_once_unless_told(monkeypatch):
    monkeypatch.setenv("INDB_GPU_SLOTS", "4")
    monkeypatch.delenv("INDB_GPU_READS", raising=False)
    assert gpu_reads() == 4
    monkeypatch.setenv("INDB_GPU_SLOTS", "1")
    assert gpu_reads() == 1
    monkeypatch.setenv("INDB_GPU_READS", "3")
    assert gpu_reads() == 3


def test_a_gpu_whose_processes_may_all_read_at_once_takes_no_read_locks(monkeypatch):
    monkeypatch.setattr("indb.runtime.gpus._reads", {})
    monkeypatch.setenv("INDB_GPU_SLOTS", "4")
    monkeypatch.setenv("INDB_GPU_READS", "4")
    assert read_turn("cuda")._paths == []  # (no GPU looked at: no lock file is named)
