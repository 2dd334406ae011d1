"""The head side of a DDP run (``OPTIONS => KV_PAIRS(distributed = 'ddp')``): checks that every
shard's instance can run at once, and opens the run's rendezvous, a ``torch.distributed.TCPStore``
on loopback that lives as long as the run. The instances join it (``indb.udf.distributed``).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from datetime import timedelta
from typing import Any

from indb.errors import NotSupportedError, OptionError
from indb.sharding.cluster import LOOPBACK
from indb.sharding.jobs import RunPlan
from indb.sharding.scheduling import Schedule
from indb.udf.distributed import Rendezvous

JOIN_TIMEOUT = 300.0  # seconds the ranks wait for each other (and for one collective) by default


def check_room(run: RunPlan, workers: Sequence[str], slots: Mapping[str, int],
               gpus: bool = False) -> None:
    """Refuse a DDP run whose instances cannot all run at once: a rank left waiting for a slot
    would hold the others at the rendezvous until it timed out. On GPU workers one rank a
    worker: NCCL refuses two ranks on one GPU."""
    if run.function.style == "script":
        raise OptionError(f"{run.function.name} runs as a script (Kinetica's ProcData); "
                          "distributed = 'ddp' needs a handler function, which gets ctx.distributed")
    if not workers:
        return  # the schedule says the cluster has no workers
    for worker, shards in Schedule(run.shards, workers).queues.items():
        count = len(shards)
        room = 1 if gpus else min(slots.get(worker, 1), run.max_per_worker or count)
        if count > room:
            raise OptionError(
                f"distributed = 'ddp' runs all {len(run.shards)} instances at once, but worker "
                f"{worker} gets {count} of them and runs {room} at a time"
                + (" (one rank a GPU: NCCL allows no more); use as many shards as GPU workers"
                   if gpus else "; start more workers or threads per worker (or lift "
                   "max_concurrency_per_node), or use fewer shards"))


def check_local(addresses: Sequence[str]) -> None:
    """The rendezvous is on the head's loopback: every worker must be on this machine."""
    remote = [a for a in addresses if not (a.startswith("inproc://") or f"//{LOOPBACK}:" in a)]
    if remote:
        raise NotSupportedError(
            f"distributed = 'ddp' needs the workers on this machine (the run's rendezvous listens "
            f"on loopback), but {remote[0]} is not; run it on a local cluster")


def rendezvous(run: RunPlan, seconds: float = JOIN_TIMEOUT) -> tuple[RunPlan, Any]:
    """Open the run's TCPStore on a free loopback port; the run with every job told where it is,
    and the store (the run must keep it until its instances are done)."""
    from torch.distributed import TCPStore
    store = TCPStore(LOOPBACK, 0, is_master=True, wait_for_workers=False,
                     timeout=timedelta(seconds=seconds))
    meeting = Rendezvous(LOOPBACK, store.port, seconds)
    jobs = tuple(dataclasses.replace(job, rendezvous=meeting) for job in run.jobs)
    return dataclasses.replace(run, jobs=jobs), store


def prepared(run: RunPlan, workers: Sequence[tuple[str, str]], slots: Mapping[str, int],
             gpus: bool) -> tuple[RunPlan, Any]:
    """A DDP ``run`` checked and given its rendezvous, and the store (to keep while it runs);
    ``gpus``: the workers are GPU workers."""
    check_room(run, [name for name, _ in workers], slots, gpus)
    check_local([address for _, address in workers])
    return rendezvous(run)
