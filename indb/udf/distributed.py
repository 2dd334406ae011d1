"""Data-parallel training across a run's shards: the instance side of ``OPTIONS =>
KV_PAIRS(distributed = 'ddp')``.

Every shard's instance of such a run starts at once and joins one ``torch.distributed`` process
group before the UDF is called: rank = shard, world size = shards, rendezvous through the TCPStore
the head opened on loopback for the run (``indb.sharding.distributed``). The backend is NCCL on a
GPU worker and gloo on the CPU. The UDF sees the group as ``ctx.distributed``.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

# Set in every instance process of a DDP run. NVLink multicast (NVLS) stays off: the machines
# indb is measured on forbid it. Collectives and the rendezvous go over loopback: every rank is
# on the head's machine, and naming the interface spares gloo a lookup of the host's name.
NCCL_VARIABLES = {"NCCL_NVLS_ENABLE": "0"}
LOOPBACK_VARIABLES = {"GLOO_SOCKET_IFNAME": "lo", "NCCL_SOCKET_IFNAME": "lo"}


@dataclass(frozen=True)
class Rendezvous:
    """Where a DDP run's ranks meet: the head's TCPStore, and how long they wait for each other."""

    host: str
    port: int
    timeout: float  # seconds: to join the group, and for any one collective


class Distributed:
    """``ctx.distributed``: this instance's place in the run's process group."""

    def __init__(self, rank: int, world_size: int, backend: str, device: str) -> None:
        self.rank = rank              # this shard's rank: its shard number
        self.world_size = world_size  # the run's shards
        self.backend = backend        # "nccl" on GPUs, "gloo" on the CPU
        self.device = device

    @property
    def is_main(self) -> bool:
        """Rank 0: the one instance that saves the model (the others hold the same weights)."""
        return self.rank == 0

    def wrap(self, model: Any, **options: Any) -> Any:
        """``model`` on this instance's device in ``DistributedDataParallel``: its gradients are
        averaged over the ranks at every ``backward``; ``.module`` is the model itself."""
        from torch.nn.parallel import DistributedDataParallel
        model = model.to(self.device)
        device_ids = [0] if self.device == "cuda" else None  # a GPU worker sees one GPU
        return DistributedDataParallel(model, device_ids=device_ids, **options)

    def barrier(self) -> None:
        import torch.distributed as dist
        dist.barrier()

    def __repr__(self) -> str:
        return f"<Distributed rank {self.rank}/{self.world_size} {self.backend}>"


def backend(device: str) -> str:
    return "nccl" if device == "cuda" else "gloo"


@contextmanager
def process_group(rendezvous: Rendezvous | None, rank: int, world_size: int,
                  device: str) -> Iterator[Distributed | None]:
    """Join the run's process group for the UDF's call, and leave it after (the instance process
    serves other runs). None (and nothing joined) for a run without ``distributed``."""
    if rendezvous is None:
        yield None
        return
    import torch.distributed as dist
    os.environ.update(NCCL_VARIABLES)
    for name, value in LOOPBACK_VARIABLES.items():
        os.environ.setdefault(name, value)  # what the worker's environment says wins
    timeout = timedelta(seconds=rendezvous.timeout)
    store = dist.TCPStore(rendezvous.host, rendezvous.port, is_master=False, timeout=timeout)
    dist.init_process_group(backend(device), store=store, rank=rank, world_size=world_size,
                            timeout=timeout)
    try:
        yield Distributed(rank, world_size, backend(device), device)
    finally:
        dist.destroy_process_group()
