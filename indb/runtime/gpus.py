"""GPUs: which ones this machine has (``nvidia-smi -L``, no GPU framework imported), getting
columns onto one, and taking turns at one.

Columns reach a GPU through one pinned host buffer per process, reused from column to column and
run to run: pinning fresh memory each time is several times slower than the copy itself.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import subprocess
import tempfile
import threading
import time
import warnings
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

from indb.storage.read_threads import MACHINE_SLOTS_VARIABLE


def visible_gpus() -> int:
    """How many CUDA GPUs the workers may use: ``CUDA_VISIBLE_DEVICES`` if set, else nvidia-smi."""
    visible = os.environ.get("CUDA_VISIBLE_DEVICES")
    if visible is not None:
        return len([d for d in visible.split(",") if d.strip() and d.strip() != "-1"])
    if shutil.which("nvidia-smi") is None:
        return 0
    try:
        listed = subprocess.run(["nvidia-smi", "-L"], capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return 0
    return sum(1 for line in listed.stdout.splitlines() if line.startswith("GPU "))


def worker_environment(worker: int, gpus: int, slots: int = 1,
                       workers: int = 1) -> dict[str, str]:
    """The environment of worker ``worker`` of the ``workers`` a machine runs: pinned to one GPU
    (round robin) when there are any, which its ``slots`` instance processes share (and share
    its memory budget); and how many instance processes share the machine's cores (each decodes
    its data files with its share of them: ``read_threads``)."""
    shared = {MACHINE_SLOTS_VARIABLE: str(workers * slots)}
    if not gpus:
        return shared
    devices = os.environ.get("CUDA_VISIBLE_DEVICES")
    ids = [d.strip() for d in devices.split(",")] if devices else [str(i) for i in range(gpus)]
    return {"CUDA_VISIBLE_DEVICES": ids[worker % gpus], "INDB_DEVICE": "cuda",
            "INDB_GPU_SLOTS": str(slots), **shared}


def gpu_slots() -> int:
    """How many instance processes share this process's GPU (``INDB_GPU_SLOTS``, set by
    ``worker_environment``; 1 elsewhere, the connection's own process included)."""
    return max(1, int(os.environ.get("INDB_GPU_SLOTS", "1")))


STAGING_BYTES = 64 << 20  # each of the two pinned halves a process stages columns through


class _Staging:
    """This process's pinned staging buffer: two halves, so that copying one piece of a column
    into pinned memory overlaps the transfer of the piece before; a column larger than a half
    streams through it. The halves grow to ``STAGING_BYTES`` at most (pinning is slow: a process
    that only ever sends small inputs keeps small ones). Its own stream keeps the transfers off
    the model's."""

    def __init__(self, device: str) -> None:
        import torch
        self.halves = [torch.empty(0, dtype=torch.uint8) for _ in range(2)]
        self.sent = [torch.cuda.Event(), torch.cuda.Event()]
        self.stream = torch.cuda.Stream(device)

    def send(self, chunks: Sequence[np.ndarray], target: Any) -> None:
        """Copy ``chunks`` (as bytes, in order) into ``target``, a device tensor of bytes; returns
        once the transfers are done (the halves are reused by the next column)."""
        import torch
        offset, piece = 0, 0
        with torch.cuda.stream(self.stream):
            for chunk in chunks:
                flat = np.ascontiguousarray(chunk).reshape(-1).view(np.uint8)
                for start in range(0, len(flat), STAGING_BYTES):
                    part = flat[start:start + STAGING_BYTES]
                    half = piece % 2
                    self.sent[half].synchronize()  # its last piece has crossed
                    if self.halves[half].numel() < len(part):
                        size = min(STAGING_BYTES, max(1 << 20, 1 << (len(part) - 1).bit_length()))
                        self.halves[half] = torch.empty(size, dtype=torch.uint8).pin_memory()
                    self.halves[half].numpy()[:len(part)] = part
                    target[offset:offset + len(part)].copy_(self.halves[half][:len(part)],
                                                            non_blocking=True)
                    self.sent[half].record(self.stream)
                    offset += len(part)
                    piece += 1
        self.stream.synchronize()


_staging: dict[str, _Staging] = {}  # by device: this process's staging buffer there
_staging_lock = threading.Lock()  # PREDICT calls in from DuckDB's threads; shards read ahead


def to_device(column: np.ndarray | Sequence[np.ndarray], device: str) -> Any:
    """A numpy column (or its chunks, stacked in order) as a torch tensor on ``device``; text
    stays numpy.

    On the CPU a single array becomes a tensor sharing its (Arrow, read-only) memory: do not write
    to it in place. On a GPU the column is allocated there whole and its bytes stream through the
    process's pinned staging buffer (``_Staging``), each byte copied once on the host.
    """
    import torch
    chunks = [column] if isinstance(column, np.ndarray) else list(column)
    first = chunks[0]
    if first.dtype == object or first.dtype.kind in "USM":
        return first if len(chunks) == 1 else np.concatenate(chunks)
    if device == "cpu":
        array = np.ascontiguousarray(first) if len(chunks) == 1 else np.concatenate(chunks)
        with warnings.catch_warnings():  # torch warns that Arrow's memory is read-only; it is meant
            warnings.simplefilter("ignore", UserWarning)
            return torch.from_numpy(array)
    shape = (sum(len(c) for c in chunks), *first.shape[1:])
    nbytes = sum(c.nbytes for c in chunks)
    dtype = torch.from_numpy(np.empty(0, dtype=first.dtype)).dtype
    target = torch.empty(nbytes, dtype=torch.uint8, device=device)
    with _staging_lock:
        staging = _staging.get(device)
        if staging is None:
            staging = _staging[device] = _Staging(device)
        staging.send(chunks, target)
    return target.view(dtype).view(shape)


HOLD_S = 1.0  # the longest one process keeps its turn across an instance's model calls
LINGER_S = 0.005  # how long a kept turn waits for the instance's next model call


def hold_seconds() -> float:
    """``INDB_GPU_TURN_HOLD_S``, else ``HOLD_S``; 0 gives the turn back after every call."""
    return max(0.0, float(os.environ.get("INDB_GPU_TURN_HOLD_S", HOLD_S)))


class Turns:
    """Model calls on one GPU, one at a time: between this process's threads, and (given a lock
    file) between the instance processes that share the GPU.

    Processes that share a GPU without turns have their kernels time-sliced by the driver: eight
    of them took 13% longer over the same batches than one process alone (H100, the 28x28 CNN).
    In turns, one process's batches run back to back while the others read or write their files.
    A turn is given back once the GPU is nearly done with its work (``settle``: see ``Tail``),
    not when the work was queued; a failed call gives it back at once. The lock is ``flock``'s,
    which the kernel releases when a holder dies.

    While ``keeping()`` says so (an instance's function is running: ``keep_turns``), a process
    keeps its turn from one model call to its next, for ``hold`` seconds at most, and gives it
    back when no call came for ``linger`` seconds or the function ends. So the instances sharing
    a GPU finish their model calls one after another, not together chunk by chunk, and one
    writes its output while the next computes.
    """

    def __init__(self, lock_path: Path | None, settle: Callable[[], None],
                 keeping: Callable[[], bool] = lambda: False, hold: float = HOLD_S,
                 linger: float = LINGER_S, begin: Callable[[], None] = lambda: None,
                 busy: Callable[[], bool] = lambda: False) -> None:
        self._calls = threading.Condition()  # its lock: one call at a time in this process
        self._lock_path, self._settle, self._keeping = lock_path, settle, keeping
        self._begin = begin  # called as each call starts (``Tail.forget``)
        self._busy = busy  # whether the GPU still works on what the turn queued (``Tail.busy``)
        self._hold, self._linger = hold, linger
        self._fd: int | None = None
        self._held_since: float | None = None  # when this process took the file lock
        self._idle_since = 0.0  # when its last call ended
        self._lingering: threading.Thread | None = None

    @contextmanager
    def __call__(self) -> Iterator[None]:
        with self._calls:
            if self._lock_path is None:
                yield
                return
            if self._fd is None:
                self._fd = os.open(self._lock_path, os.O_RDWR | os.O_CREAT, 0o600)
            if self._held_since is None:
                fcntl.flock(self._fd, fcntl.LOCK_EX)
                self._held_since = time.monotonic()
            self._begin()
            try:
                yield
            except BaseException:
                self._give_back(settle=False)
                raise
            self._idle_since = time.monotonic()
            if self._keeping() and self._idle_since - self._held_since < self._hold:
                self._linger_thread()
                self._calls.notify()
            else:
                self._give_back()

    def give_back(self) -> None:
        """Give a kept turn back now (the function that kept it has ended)."""
        with self._calls:
            self._give_back()

    def _give_back(self, settle: bool = True) -> None:
        # (the calls of a kept turn wait for nothing: the GPU takes one's batches after the
        # other's with no gap; the wait is here, once, before the next process may start)
        if self._held_since is not None:
            assert self._fd is not None  # held means opened
            try:
                if settle:
                    self._settle()
            finally:
                fcntl.flock(self._fd, fcntl.LOCK_UN)
                self._held_since = None

    def _linger_thread(self) -> None:
        if self._lingering is None:
            self._lingering = threading.Thread(target=self._give_back_when_idle, daemon=True,
                                               name="indb-gpu-turn")
            self._lingering.start()

    def _give_back_when_idle(self) -> None:
        """(A thread) gives a kept turn back once no call has come for ``linger`` seconds since
        the GPU finished what the turn queued: a call returns when its work is queued, and a
        function that waits for its results (``scores``) is not idle meanwhile."""
        with self._calls:
            while True:
                if self._held_since is None:
                    self._calls.wait()
                    continue
                left = self._idle_since + self._linger - time.monotonic()
                if left > 0:
                    self._calls.wait(left)
                elif self._busy():
                    self._idle_since = time.monotonic()
                else:
                    self._give_back()


class Tail:
    """When a turn at the GPU ``device`` may pass on: once the GPU has begun the last batch of
    the turn's last model call (``mark`` records the point just before it), else once it has
    finished all the work queued in the turn. So the next process takes the GPU while that
    batch runs, and its first kernels are queued by the time the GPU needs them: handed on
    only when the GPU had finished, the GPU waited for the next process to wake and launch,
    2–3 ms a turn with the per-call waits (H200, the 28x28 CNN)."""

    def __init__(self, device: str) -> None:
        self.device = device
        self._mark: Any = None  # a CUDA event before the last batch, not yet waited for

    def mark(self) -> None:
        import torch
        self._mark = torch.cuda.Event()
        self._mark.record()

    def busy(self) -> bool:
        """Whether the GPU has not yet begun the last batch marked (or, with no mark, finished
        the work queued on this thread's stream)."""
        import torch
        if self._mark is not None:
            return not self._mark.query()
        return not torch.cuda.current_stream(torch.device(self.device)).query()

    def forget(self) -> None:
        """(A call starts in the turn) a mark of an earlier call no longer says where it ends:
        this call may queue its work in another way (CUDA graphs, a tree ensemble)."""
        self._mark = None

    def __call__(self) -> None:
        import torch
        mark, self._mark = self._mark, None
        if mark is not None:
            mark.synchronize()
        else:
            torch.cuda.synchronize(self.device)


_turns: dict[str, Turns] = {}  # by device: this process's turns there
_tails: dict[str, Tail] = {}  # by device: where those turns end, for the devices it shares
_turns_lock = threading.Lock()
_keeping = 0  # keep_turns() scopes open in this process


def _lock_file(device: str, what: str) -> Path:
    """A lock file of the GPU ``device`` (named after its UUID), per user: another user's lock
    file would not open for writing."""
    import torch
    uuid = torch.cuda.get_device_properties(torch.device(device)).uuid
    return Path(tempfile.gettempdir()) / f"indb-gpu{what}-{uuid}-{os.getuid()}.lock"


def gpu_turn(device: str) -> Turns:
    """The turns at ``device`` in this process: shared with the other instance processes on the
    same GPU in a worker that runs several (``INDB_GPU_SLOTS``), this process's own elsewhere (the
    serving path in the head is not made to wait for a batch of another process's rows)."""
    with _turns_lock:
        if device not in _turns:
            lock_path = _lock_file(device, "") if gpu_slots() > 1 else None
            tail = Tail(device)
            if lock_path is not None:
                _tails[device] = tail
            _turns[device] = Turns(lock_path, tail, lambda: _keeping > 0, hold_seconds(),
                                   begin=tail.forget, busy=tail.busy)
        return _turns[device]


def last_batch(device: str) -> None:
    """Say, in a GPU turn, that the batch queued next on ``device`` is the last of this model
    call: a turn given back after it may pass on once the GPU begins it (``Tail``)."""
    tail = _tails.get(device)
    if tail is not None:
        tail.mark()


def gpu_reads() -> int:
    """How many of the instance processes sharing a GPU read shards into frames at once:
    ``INDB_GPU_READS``, else all of them (no turns: on the H200, turns made cold runs slower,
    docs/benchmarks.md)."""
    configured = os.environ.get("INDB_GPU_READS")
    return max(1, int(configured) if configured else gpu_slots())


class ReadTurns:
    """Reads of shards into GPU frames, a few at a time among the processes sharing a GPU (one
    lock file a reader: ``flock``'s, released by the kernel when a holder dies), and one at a
    time in this process (its own read and the next shard's, read ahead).

    The instance processes of a GPU worker start their first shards together, and nothing reaches
    the GPU until a read is done: read all at once, they share the machine's reading speed and
    finish together, late; in turns, the first readers finish early and compute while the
    others read."""

    def __init__(self, lock_paths: Sequence[Path]) -> None:
        self._paths = list(lock_paths)
        self._fds: list[int] = []
        self._lock = threading.Lock()

    @contextmanager
    def __call__(self) -> Iterator[None]:
        with self._lock:
            if not self._paths:
                yield
                return
            if not self._fds:
                self._fds = [os.open(path, os.O_RDWR | os.O_CREAT, 0o600) for path in self._paths]
            fd = self._free()
            try:
                yield
            finally:
                fcntl.flock(fd, fcntl.LOCK_UN)

    def _free(self) -> int:
        """A reader's lock taken: a free one, else (all busy) this process's own, waited for."""
        for fd in self._fds:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return fd
            except BlockingIOError:
                continue
        fd = self._fds[os.getpid() % len(self._fds)]
        fcntl.flock(fd, fcntl.LOCK_EX)
        return fd


_reads: dict[str, ReadTurns] = {}  # by device: this process's read turns there


def read_turn(device: str) -> ReadTurns:
    """The read turns at ``device`` in this process: ``gpu_reads()`` readers at once among the
    instance processes sharing the GPU (none to wait for when as many may read as share it)."""
    with _turns_lock:
        if device not in _reads:
            readers = gpu_reads()
            paths = [_lock_file(device, f"-read{i}") for i in range(readers)] \
                if readers < gpu_slots() else []
            _reads[device] = ReadTurns(paths)
        return _reads[device]


@contextmanager
def keep_turns() -> Iterator[None]:
    """Within, this process's model calls keep their GPU turn from one call to the next (see
    ``Turns``); on leaving, any turn kept is given back. (No GPU is touched: a function that
    makes no model call takes no turn.)"""
    global _keeping
    with _turns_lock:
        _keeping += 1
    try:
        yield
    finally:
        with _turns_lock:
            _keeping -= 1
            kept = list(_turns.values()) if not _keeping else []
        for turns in kept:
            turns.give_back()
