"""Turns at a GPU (``gpus.Turns``): the lock between the processes that share one. Runs on the CPU:
the lock is a file lock and the GPU's finishing is a callback."""

import fcntl
import multiprocessing
import os
import signal

import pytest

from indb.runtime.gpus import Turns, gpu_slots, gpu_turn, worker_environment


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


def test_a_turn_holds_the_lock_until_the_gpu_has_finished(tmp_path):
    path = tmp_path / "gpu.lock"
    seen = []
    turns = Turns(path, lambda: seen.append(("finish", held_elsewhere(path))))
    with turns():
        seen.append(("call", held_elsewhere(path)))
    assert seen == [("call", True), ("finish", True)]
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
