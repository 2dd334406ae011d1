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


def weight(shard: int, worker: str) -> int:
    """The pair's weight: 64 bits of BLAKE2b over the worker's name and the shard number."""
    digest = hashlib.blake2b(f"{worker}\0{shard}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big")


def place(shards: Sequence[int], workers: Sequence[str]) -> dict[int, str]:
    """Each shard's worker (see the module's docstring); ``workers`` must not be empty."""
    room = -(-len(shards) // len(workers))  # ceil: no worker takes more than its share
    load = dict.fromkeys(workers, 0)
    owner: dict[int, str] = {}
    # ties (never seen with 64 bits) are broken by shard, then name: still a pure function
    for _, shard, worker in sorted(((weight(shard, worker), shard, worker)
                                    for shard in shards for worker in workers), reverse=True):
        if shard not in owner and load[worker] < room:
            owner[shard] = worker
            load[worker] += 1
    return owner
