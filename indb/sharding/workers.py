"""Workers of a cluster of several hosts: ``indb worker`` joins a scheduler with this host's
GPUs, and ``indb cluster status`` shows who is there.

A host starts one Nanny-managed worker process per GPU, each seeing only its GPU (as the local
cluster does), or one worker without GPUs. Worker names are the host's name and the GPU's
number (``gpu-host-0``), so a host that restarts comes back under the same names and, while
the cluster has the same members, gets the same shards (``worker_placement``: rendezvous
hashing over the names), finding the models and shards it kept resident. A worker that joins
or leaves moves about 1/n of the shards: the next run places them over the new members.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import socket
import time
from collections.abc import Awaitable, Mapping, Sequence
from dataclasses import dataclass

import dask
from distributed import Client, Nanny, Scheduler
from distributed.comm import parse_address, parse_host_port

from indb.catalog.location import Tls
from indb.errors import OptionError
from indb.runtime.gpus import worker_environment
from indb.sharding.cluster import DASK_CONFIG, placement_key, security
from indb.sharding.worker_placement import place

GPU_RESOURCE = "GPU"  # Dask resource each GPU worker declares (one)
STALE_SECONDS = 10  # a worker not heard from for longer than this is shown as "late"
# a worker silent this long is removed by indb scheduler (Dask's default, 5 minutes, would leave
# a run waiting that long for a host cut off the network); heartbeats come every second or so
WORKER_TTL = "30s"


def worker_names(host: str, gpus: int) -> list[str]:
    """The names a host's workers take: one a GPU, or one for the host without GPUs."""
    return [f"{host}-{i}" for i in range(max(gpus, 1))]


def parse_resources(text: str) -> dict[str, float]:
    """``"GPU=1,MEM=64e9"`` as Dask's resources mapping."""
    resources: dict[str, float] = {}
    for item in filter(None, (part.strip() for part in text.split(","))):
        name, _, value = item.partition("=")
        try:
            resources[name.strip()] = float(value)
        except ValueError:
            raise OptionError(f"resources are NAME=NUMBER separated by commas, as in "
                              f"'GPU=1,fast-disk=1', not {item!r}") from None
    return resources


def _stop_on_signals() -> asyncio.Event:
    """An event that SIGINT and SIGTERM set (instead of ending the process), so that the
    workers or the scheduler close in order."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for number in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(number, stop.set)
    return stop


async def _until(finished: Awaitable[object], stop: asyncio.Event) -> None:
    """Wait until ``finished`` is done or ``stop`` is set, whichever comes first."""
    done: asyncio.Future[object] = asyncio.ensure_future(finished)
    waiting: asyncio.Future[object] = asyncio.ensure_future(stop.wait())
    await asyncio.wait([done, waiting], return_when=asyncio.FIRST_COMPLETED)


async def _serve(scheduler: str, names: Sequence[str], gpus: int, threads: int,
                 resources: Mapping[str, float], tls: Tls | None, host: str | None) -> None:
    stop = _stop_on_signals()
    with dask.config.set(DASK_CONFIG):
        nannies = [Nanny(scheduler, nthreads=threads, name=name, host=host,
                         env=worker_environment(i, gpus, threads, len(names)), security=security(tls),
                         resources={**resources, **({GPU_RESOURCE: 1} if gpus else {})},
                         silence_logs=logging.WARNING)
                   for i, name in enumerate(names)]
        await asyncio.gather(*nannies)
        await _until(asyncio.gather(*(nanny.finished() for nanny in nannies)), stop)
        await asyncio.gather(*(nanny.close() for nanny in nannies), return_exceptions=True)


def run_workers(scheduler: str, *, gpus: int, threads: int, resources: Mapping[str, float],
                tls: Tls | None = None, host: str | None = None, name: str | None = None) -> None:
    """Join ``scheduler`` with this host's workers and serve until SIGTERM or Ctrl-C."""
    if tls is None and scheduler.startswith("tls://"):
        raise OptionError(f"{scheduler} takes TLS connections: give the cluster's certificate "
                          "files ([tls] in indb.toml, or --tls-ca/--tls-cert/--tls-key)")
    names = worker_names(name or socket.gethostname(), gpus)
    asyncio.run(_serve(scheduler, names, gpus, threads, resources, tls, host))


async def _schedule(address: str, tls: Tls | None) -> None:
    stop = _stop_on_signals()
    protocol, where = parse_address(address)
    host, port = parse_host_port(where)
    async with Scheduler(host=host, port=port, protocol=protocol, security=security(tls),
                         dashboard=False) as scheduler:
        await _until(scheduler.finished(), stop)


def run_scheduler(address: str, *, tls: Tls | None = None, worker_ttl: str = WORKER_TTL) -> None:
    """Serve a Dask scheduler at ``address`` (``tcp://host:port`` or ``tls://...``) with indb's
    settings until SIGTERM or Ctrl-C: a task whose worker dies is not retried (a run's instance
    is pinned to its worker; the run fails at once, cleanly, instead of waiting for it), and a
    worker not heard from for ``worker_ttl`` (a host cut off the network) counts as dead."""
    if address.startswith("tls://") and tls is None:
        raise OptionError(f"{address} takes TLS connections: give the cluster's certificate "
                          "files ([tls] in indb.toml)")
    with dask.config.set({**DASK_CONFIG, "distributed.scheduler.worker-ttl": worker_ttl}):
        asyncio.run(_schedule(address, tls))


@dataclass(frozen=True)
class WorkerStatus:
    """One worker as the scheduler sees it."""

    name: str
    address: str
    host: str
    threads: int
    resources: dict[str, float]
    memory: int              # resident bytes of the worker process
    health: str              # "ok", "late" (no heartbeat for STALE_SECONDS), or Dask's status
    shards: tuple[int, ...]  # the shards of an N-shard table it runs (``worker_placement``)


def cluster_status(client: Client, shards: int) -> list[WorkerStatus]:
    """The workers of the cluster ``client`` is connected to, in name order, each with the
    shards of a ``shards``-shard table that run on it."""
    info = client.scheduler_info(n_workers=-1)["workers"]
    ordered = sorted(info.items(), key=lambda item: placement_key(str(item[1]["name"])))
    owners = place(range(shards), [str(worker["name"]) for _, worker in ordered]) if info else {}
    now = time.time()
    rows = []
    for address, worker in ordered:
        seen = now - float(worker.get("last_seen", now))
        status = str(worker.get("status", "running"))
        health = "late" if seen > STALE_SECONDS else ("ok" if status == "running" else status)
        rows.append(WorkerStatus(
            str(worker["name"]), address, str(worker.get("host", "")), int(worker["nthreads"]),
            dict(worker.get("resources") or {}), int(worker.get("metrics", {}).get("memory", 0)),
            health, tuple(k for k in range(shards) if owners[k] == str(worker["name"]))))
    return rows
