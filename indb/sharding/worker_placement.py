"""Which worker each shard of a run goes to: rendezvous (highest-random-weight) hashing over the
workers' names, with bounded loads.

Every (shard, worker) pair has a weight, a hash of the worker's name and the shard number. The
pairs are taken from the heaviest down, and a shard goes to the first worker it meets that has
room, each worker taking at most ``ceil(shards / workers)`` shards. So:

- the placement is a function of the shard numbers and the workers' names only: while the
  cluster keeps its members (names are stable across restarts: ``host-gpu``), every run puts
  every shard where it was, and the worker finds what it kept resident;
- a worker that joins takes the shards that weigh most with it, about 1/n of them; a worker that
  leaves gives up its own, which go to the workers they weigh most with next; the bound moves a
  few more (measured in ``tests/test_worker_placement.py``), which keeps every run balanced:
  no worker runs more than its share (a DDP run needs exactly that: one rank a GPU).

Plain rendezvous hashing (no bound) would move exactly 1/n, but on a few shards it can put
several on one worker while another idles; *k mod n* is balanced but moves most shards whenever
n changes.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

import numpy as np

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)


def _seed(worker: str) -> np.uint64:
    """64 bits of BLAKE2b over the worker's name."""
    return np.uint64(int.from_bytes(hashlib.blake2b(worker.encode(), digest_size=8).digest(), "big"))


def weights(shards: Sequence[int], workers: Sequence[str]) -> np.ndarray:
    """Each pair's weight, ``[shard, worker]``: SplitMix64's finaliser over the worker's seed and
    the shard number (a hash of both, computed for all pairs at once)."""
    with np.errstate(over="ignore"):  # uint64 arithmetic wraps, as the hash wants
        z = np.asarray(shards, np.uint64)[:, None] * _GOLDEN \
            + np.array([_seed(w) for w in workers], np.uint64)[None, :]
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        return z ^ (z >> np.uint64(31))


def weight(shard: int, worker: str) -> int:
    """One pair's weight (what ``weights`` gives it)."""
    return int(weights([shard], [worker])[0, 0])


def place(shards: Sequence[int], workers: Sequence[str]) -> dict[int, str]:
    """Each shard's worker (see the module's docstring); ``workers`` must not be empty."""
    shards, workers = list(shards), sorted(workers)  # the listing order does not matter
    room = -(-len(shards) // len(workers))  # ceil: no worker takes more than its share
    load = [0] * len(workers)
    owner: dict[int, str] = {}
    table = weights(shards, workers)
    # heaviest first; ties (rare with 64 bits) by shard, then worker (a stable sort of the
    # shard-major table): still a pure function
    order = np.argsort(~table.ravel(), kind="stable")
    for pair in order.tolist():
        row, column = divmod(pair, len(workers))
        if shards[row] not in owner and load[column] < room:
            owner[shards[row]] = workers[column]
            load[column] += 1
            if len(owner) == len(shards):
                break
    return owner
