"""Which shard instance runs where, and when: the executor's scheduling policy, a pure state
machine (in the manner of dask/distributed's ``worker_state_machine``).

``Schedule`` is told what happened (``start``, ``finished``) and answers with instructions
(``Submit`` an instance, ``Stop`` the run); the executor carries them out on Dask. The rules:

- each shard runs on the worker ``worker_placement.place`` gives it (rendezvous hashing over the
  workers' names, bounded loads): the same worker while the cluster keeps its members, so a GPU
  worker finds the shards and models it kept resident from the last run, and few shards move
  when a worker joins or leaves;
- its turn on that worker, its place among the worker's shards in shard order, picks the
  worker's instance slot (``HostPool``), so a shard also returns to the same instance process;
- at most ``max_per_worker`` instances run on a worker at once, and no more than it has instance
  slots when ``slots`` says how many; the next of its shards starts when one of them finishes:
  the one that runs in the slot that came free, if any is waiting (a task sent for a busy slot
  would wait for it while the free slot idled);
- the first instance that does not complete stops the run: the others are told to stop and
  shards not started yet are never submitted;
- an instance lost with its worker (the worker died: Dask's ``KilledWorker``) is retried on a
  survivor of the same kind (GPU or not), the survivors taking the lost shards by the same rule
  (``place`` over the survivors), at most ``max_retries`` times a shard; the dead worker's
  shards that had not started move too (they were never tried, so they use no retry), and the
  run never sends it anything again. A shard that cannot be retried (retries used up, or no
  survivor of its kind) fails the run as any other failure does.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from indb.errors import OperationalError
from indb.registry.runs import RunStatus
from indb.sharding.worker_placement import place


@dataclass(frozen=True)
class Submit:
    """Start the instance of ``shard`` on ``worker``, in its instance slot ``turn``."""

    shard: int
    worker: str
    turn: int
    attempt: int = 0  # retries before this one: 0 the first try, n after n lost workers


@dataclass(frozen=True)
class Stop:
    """Tell the run's other instances to stop: the instance of ``shard`` ended ``status``;
    ``reason``: why a lost instance was not retried ("" for others)."""

    shard: int
    status: RunStatus
    reason: str = ""


Instruction = Submit | Stop


class Schedule:
    """The policy's state for one run: queued shards per worker, running and finished ones."""

    def __init__(self, shards: Sequence[int], workers: Sequence[str],
                 max_per_worker: int | None = None, slots: Mapping[str, int] | None = None,
                 max_retries: int = 0, kinds: Mapping[str, str] | None = None) -> None:
        if not workers:
            raise OperationalError("the Dask cluster has no workers; start some, or connect "
                                   "without scheduler= to use a local cluster")
        self.owner = place(shards, workers)
        self.queues: dict[str, list[int]] = {}
        for shard in sorted(shards):
            self.queues.setdefault(self.owner[shard], []).append(shard)
        # a shard's turn: its place among its worker's shards (the slot it returns to)
        self.turn = {shard: turn for queue in self.queues.values()
                     for turn, shard in enumerate(queue)}
        self._at = {(self.owner[shard], self.turn[shard]): shard for shard in shards}
        self.limit = max_per_worker or len(shards) or 1
        self.slots = dict(slots or {})
        self.running: dict[str, set[int]] = {worker: set() for worker in self.queues}
        self.finished: dict[int, RunStatus] = {}
        self.stopping = False
        self.max_retries = max_retries
        self.kinds = dict(kinds or {})  # worker -> its kind ("gpu", "cpu"): retries stay in kind
        self.retries: dict[int, list[str]] = {}  # shard -> the workers it was lost with, in order
        self.lost_workers: set[str] = set()

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

    def lost(self, shard: int, alive: Sequence[str]) -> list[Instruction]:
        """The instance of ``shard`` was lost with its worker, which died; ``alive``: the
        cluster's workers now, in placement order. A retry on a survivor while retries remain,
        else a ``Stop`` saying why not (nothing when the run is stopping already)."""
        dead = self.owner[shard]
        self.running[dead].discard(shard)
        self.lost_workers.add(dead)
        survivors = [worker for worker in alive if worker not in self.lost_workers
                     and self.kinds.get(worker) == self.kinds.get(dead)]
        if survivors:  # its shards that never started there move, without using a retry
            stranded, self.queues[dead] = self.queues[dead], []
            for waiting in stranded:
                self._move(waiting, survivors)
        tries = self.retries.get(shard, [])
        if self.stopping:  # the run is stopping anyway: the lost instance just ended
            self.finished[shard] = RunStatus.ERROR
            return []
        if not survivors or len(tries) >= self.max_retries:
            self.finished[shard] = RunStatus.ERROR
            self.stopping = True
            kind = f"{self.kinds[dead]} " if self.kinds.get(dead) else ""
            reason = f"no other {kind}worker remains" if not survivors else \
                f"its retries are used up (max_retries = {self.max_retries})"
            return [Stop(shard, RunStatus.ERROR, reason)]
        self.retries[shard] = [*tries, dead]
        self._move(shard, survivors)
        return [instruction for worker in survivors for instruction in self._fill(worker)]

    def _move(self, shard: int, survivors: Sequence[str]) -> None:
        """Give a shard of a lost worker to its survivor by the placement rule (rendezvous
        hashing: the survivor it weighs most with, where the next run without the dead worker
        is likely to put it too), in the turn after the survivor's last (so its own shards keep
        their slots)."""
        if not survivors:
            return
        worker = place([shard], survivors)[shard]
        self.owner[shard] = worker
        self.turn[shard] = 1 + max((turn for (owner, turn) in self._at if owner == worker),
                                   default=-1)
        self._at[(worker, self.turn[shard])] = shard
        self.queues.setdefault(worker, []).append(shard)
        self.running.setdefault(worker, set())

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
            submits.append(Submit(shard, worker, self.turn[shard], len(self.retries.get(shard, ()))))
        return submits
