"""Which shard instance runs where, and when: the executor's scheduling policy, a pure state
machine (in the manner of dask/distributed's ``worker_state_machine``).

``Schedule`` is told what happened (``start``, ``finished``) and answers with instructions
(``Submit`` an instance, ``Stop`` the run); the executor carries them out on Dask. The rules:

- shard *k* runs on worker *k mod n* (workers in name order), always: a GPU worker finds the
  shards and models it kept resident from the last run;
- its turn on that worker, *k div n*, picks the worker's instance slot (``HostPool``), so a shard
  also returns to the same instance process;
- at most ``max_per_worker`` instances run on a worker at once, and no more than it has instance
  slots when ``slots`` says how many; the next of its shards starts when one of them finishes:
  the one that runs in the slot that came free, if any is waiting (a task sent for a busy slot
  would wait for it while the free slot idled);
- the first instance that does not complete stops the run: the others are told to stop and
  shards not started yet are never submitted.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from indb.errors import OperationalError
from indb.registry.runs import RunStatus


@dataclass(frozen=True)
class Submit:
    """Start the instance of ``shard`` on ``worker``, in its instance slot ``turn``."""

    shard: int
    worker: str
    turn: int


@dataclass(frozen=True)
class Stop:
    """Tell the run's other instances to stop: the instance of ``shard`` ended ``status``."""

    shard: int
    status: RunStatus


Instruction = Submit | Stop


class Schedule:
    """The policy's state for one run: queued shards per worker, running and finished ones."""

    def __init__(self, shards: Sequence[int], workers: Sequence[str],
                 max_per_worker: int | None = None, slots: Mapping[str, int] | None = None) -> None:
        if not workers:
            raise OperationalError("the Dask cluster has no workers; start some, or connect "
                                   "without scheduler= to use a local cluster")
        self.owner = {shard: workers[shard % len(workers)] for shard in shards}
        self.turn = {shard: shard // len(workers) for shard in shards}
        self._at = {(self.owner[shard], self.turn[shard]): shard for shard in shards}
        self.queues: dict[str, list[int]] = {}
        for shard in sorted(shards):
            self.queues.setdefault(self.owner[shard], []).append(shard)
        self.limit = max_per_worker or len(shards) or 1
        self.slots = dict(slots or {})
        self.running: dict[str, set[int]] = {worker: set() for worker in self.queues}
        self.finished: dict[int, RunStatus] = {}
        self.stopping = False

    def start(self) -> list[Instruction]:
        """The first instances: up to the limit on each worker."""
        return [instruction for worker in self.queues for instruction in self._fill(worker)]

    def done(self, shard: int, status: RunStatus) -> list[Instruction]:
        """An instance ended with ``status``; what to do next."""
        worker = self.owner[shard]
        self.running[worker].discard(shard)
        self.finished[shard] = status
        instructions: list[Instruction] = []
        if status != RunStatus.COMPLETED and not self.stopping:
            self.stopping = True
            instructions.append(Stop(shard, status))
        return instructions + self._fill(worker, shard)

    def next_in_slot(self, shard: int, slots: int) -> int | None:
        """The shard that runs after ``shard`` in the same instance slot of its worker (whose
        turn is ``slots`` later), if there is one."""
        return self._at.get((self.owner[shard], self.turn[shard] + slots))

    @property
    def unstarted(self) -> list[int]:
        """Shards that were never submitted (the run stopped before their turn)."""
        return [shard for queue in self.queues.values() for shard in queue]

    @property
    def over(self) -> bool:
        """Nothing runs any more, and nothing more will start."""
        return not any(self.running.values()) and (self.stopping or not self.unstarted)

    def _fill(self, worker: str, freed: int | None = None) -> list[Instruction]:
        """Submit what the worker has room for; ``freed``: the shard that just ended there."""
        queue, running = self.queues[worker], self.running[worker]
        limit = min(self.limit, self.slots.get(worker, self.limit))
        submits: list[Instruction] = []
        while queue and not self.stopping and len(running) < limit:
            follower = self.next_in_slot(freed, self.slots[worker]) \
                if freed is not None and worker in self.slots else None
            shard = follower if follower in queue else queue[0]
            queue.remove(shard)
            freed = None
            running.add(shard)
            submits.append(Submit(shard, worker, self.turn[shard]))
        return submits
