"""The Dask cluster functions run on: started lazily, reused, shard k always on the same worker.

A local cluster of worker processes is started by a helper process (``main`` below, run with
``python -c``), not by the user's process: Dask starts workers with multiprocessing's
spawn method, which re-imports the parent's ``__main__``, and a user script without an
``if __name__ == "__main__":`` guard would then run again in every worker. The helper exits when
its parent does (its stdin closes), taking the cluster with it. It runs in a session of its own,
so the Ctrl-C a terminal (or Jupyter's interrupt) sends to the user's process group never reaches
the scheduler and workers: the user's process decides what a Ctrl-C stops.

Everything the local cluster listens on (scheduler, workers, nannies, dashboard) is bound to
loopback: Dask's protocol runs code on workers for whoever connects, and it is authenticated only
with TLS (Dask's ``Security``), which a cluster reachable from other hosts would need.
"""

from __future__ import annotations

import argparse
import atexit
import logging
import os
import subprocess
import sys
import threading
from typing import Any

import dask
from distributed import Client, LocalCluster, Nanny, Scheduler, SpecCluster
from distributed.core import Status
from distributed.security import Security

from indb.catalog.location import Tls
from indb.errors import OperationalError
from indb.runtime.gpus import worker_environment
from indb.sharding.arrivals import TOPIC, Arrivals

# A worker that dies mid-task errs the task at once (KilledWorker): the run, not Dask, decides
# where its instance runs again (``scheduling.Schedule.lost``); a task pinned to a worker that
# left errs after no-workers-timeout (NoValidWorkerError) instead of waiting for it forever.
# Local workers do not sample their threads' stacks every 10 ms for the dashboard's profile
# (an idle worker process's CPU 35-38 -> 20-23 ms a second on the developers' VM; its tasks,
# the instances' supervisors, wait on their host processes: the profile has nothing to show).
DASK_CONFIG = {"distributed.scheduler.allowed-failures": 0,
               "distributed.scheduler.no-workers-timeout": "10s",
               "distributed.admin.system-monitor.gil.enabled": False,
               "distributed.worker.profile.enabled": False}
LOOPBACK = "127.0.0.1"  # the local cluster takes connections from this machine only
CLOSE_TIMEOUT = 10  # seconds to wait for a client to close (a dead scheduler never answers)
WORKERS_TIMEOUT = 60  # seconds a local cluster's workers get to register before a run gives up


def security(tls: Tls | None) -> Security | None:
    """Dask's security object for a cluster's TLS files: mutual TLS, every member (scheduler,
    worker, client) showing a certificate the cluster's CA signed; None: Dask's defaults."""
    if tls is None:
        return None
    return Security(tls_ca_file=tls.ca, tls_client_cert=tls.cert, tls_client_key=tls.key,
                    tls_scheduler_cert=tls.cert, tls_scheduler_key=tls.key,
                    tls_worker_cert=tls.cert, tls_worker_key=tls.key, require_encryption=True)


def placement_key(name: str) -> tuple[int, str]:
    """The order workers are listed (and ranked in a DDP run) in: by name, shorter first
    (worker 10 after worker 9)."""
    return len(name), name


def named(info: dict[str, dict[str, Any]]) -> list[tuple[str, str]]:
    """(name, address) of each worker of ``Cluster.worker_info``, in name order."""
    return sorted(((str(w["name"]), address) for address, w in info.items()),
                  key=lambda pair: placement_key(pair[0]))


def default_workers() -> int:
    return max(1, min(os.cpu_count() or 1, 8))


class Cluster:
    """A Dask client and the workers it runs shard instances on."""

    def __init__(self, *, workers: int = 1, threads_per_worker: int = 2, processes: bool = True,
                 scheduler: str | None = None, gpus: int = 0, tls: Tls | None = None) -> None:
        self._helper: subprocess.Popen | None = None
        self._local: LocalCluster | None = None
        if scheduler:
            self.client = Client(scheduler, security=security(tls))
        elif processes:
            self._helper = subprocess.Popen(
                [sys.executable, "-c", "from indb.sharding.cluster import main; main()",
                 "--workers", str(workers), "--threads", str(threads_per_worker), "--gpus", str(gpus)],
                stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, start_new_session=True)
            try:
                assert self._helper.stdout is not None  # stdout=PIPE
                address = self._helper.stdout.readline().strip()
                if not address:
                    raise RuntimeError("the local Dask cluster did not start; see the messages above")
                self.client = Client(address)
            except BaseException:  # interrupted while it started: no cluster is left behind
                self._helper.kill()
                self._helper.wait()
                raise
        else:  # workers as threads of this process: only for the engine's own fast tests
            # No heartbeat deadline: a worker in this process cannot die on its own, and one
            # late because the whole process stalled (a CI machine paused for 435 s once) was
            # removed for good, as a worker without a nanny is, leaving the cluster none
            with dask.config.set({**DASK_CONFIG, "distributed.scheduler.worker-ttl": None}):
                self._local = LocalCluster(n_workers=workers, threads_per_worker=threads_per_worker,
                                           processes=False,  # in-process transport: no port
                                           dashboard_address=f"{LOOPBACK}:0",  # any free port: no clash with 8787
                                           worker_dashboard_address=f"{LOOPBACK}:0",
                                           silence_logs=logging.ERROR)
            self.client = Client(self._local)
        self.address: str = self.client.scheduler_info()["address"]
        # instances' outcomes, carried with the word of their end (arrivals.py)
        self.arrivals = Arrivals()
        self.client.subscribe_topic(TOPIC, self.arrivals.deliver)

    @property
    def alive(self) -> bool:
        """Whether the cluster can still run work: a local helper that exited, a client that
        lost its scheduler, or an in-process cluster that lost a worker, is a dead cluster."""
        helper_alive = self._helper is None or self._helper.poll() is None
        return helper_alive and self.client.status == "running" and self._threads_alive()

    def _threads_alive(self) -> bool:
        """Whether an in-process cluster still has all its workers (a thread worker that
        stopped is never restarted); True for any other cluster."""
        return self._local is None or all(worker.status == Status.running
                                          for worker in self._local.workers.values())

    def workers(self) -> list[tuple[str, str]]:
        """(name, address) of each worker, in name order (``worker_placement`` places shards
        by their names)."""
        return named(self.worker_info())

    def worker_info(self) -> dict[str, dict[str, Any]]:
        """What the scheduler knows of each worker (threads, resources, name), by address: one
        round trip to it (``named`` gives ``workers()`` of it)."""
        if not self.alive:  # asking a dead scheduler waits for the client to give up on it
            raise OperationalError(f"the Dask scheduler at {self.address} is gone; "
                                   "run the statement again (a local cluster is started afresh)")
        info = self.client.scheduler_info(n_workers=-1)["workers"]
        if not info and (self._helper is not None or self._local is not None):
            # a local cluster's workers still registering (seen under load, with runs started at
            # once on a cluster just started; once in the threads of a test's own cluster)
            try:
                self.client.wait_for_workers(1, timeout=WORKERS_TIMEOUT)
            except TimeoutError:
                pass  # the run says the cluster has no workers
            info = self.client.scheduler_info(n_workers=-1)["workers"]
        return dict(info)

    def close(self) -> None:
        self.client.close(timeout=CLOSE_TIMEOUT)
        if self._local is not None:
            self._local.close()
        if self._helper is not None and self._helper.stdin is not None:
            self._helper.stdin.close()
            self._helper.wait()


_clusters: dict[tuple, Cluster] = {}
_lock = threading.Lock()


def _key(options: dict[str, Any]) -> tuple:
    """The key of ``_clusters`` for a set of options, whatever their order."""
    return tuple(sorted(options.items()))


def shared_cluster(**options: Any) -> Cluster:
    """One cluster per distinct set of options in this process, closed when the process exits;
    one whose scheduler died is replaced by a fresh one."""
    key = _key(options)
    with _lock:
        cluster = _clusters.get(key)
        if cluster is not None and not cluster.alive:
            _close_quietly(_clusters.pop(key))
            cluster = None
        if cluster is None:
            cluster = _clusters[key] = Cluster(**options)
    return cluster


def started_cluster(**options: Any) -> Cluster | None:
    """The cluster ``shared_cluster(**options)`` gives, if it is up already; None (and nothing
    started) if not."""
    with _lock:
        cluster = _clusters.get(_key(options))
    return cluster if cluster is not None and cluster.alive else None


def close_cluster(**options: Any) -> None:
    """Close the cluster ``shared_cluster(**options)`` gave, if any (e.g. before its scheduler stops)."""
    with _lock:
        cluster = _clusters.pop(_key(options), None)
    if cluster is not None:
        cluster.close()


@atexit.register
def close_all() -> None:
    """Close every cluster of this process and wait for local ones to stop (at exit, and by the
    CLI, which leaves with ``os._exit``)."""
    with _lock:
        clusters = list(_clusters.values())
        _clusters.clear()
    for cluster in clusters:
        _close_quietly(cluster)


def _close_quietly(cluster: Cluster) -> None:
    # the client of a dead scheduler logs the reconnection that closing it cancels, traceback
    # and all; that is noise to whoever sees their statement run on a fresh cluster
    log = logging.getLogger("distributed.client")
    level = log.level
    log.setLevel(logging.CRITICAL)
    try:
        cluster.close()
    except Exception:  # noqa: BLE001 (a cluster that is already gone is what closing wants)
        pass
    finally:
        log.setLevel(level)


def main() -> None:
    parser = argparse.ArgumentParser(description="run a local Dask cluster for indb until stdin closes")
    parser.add_argument("--workers", type=int, default=default_workers())
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--gpus", type=int, default=0, help="pin worker i to GPU i mod GPUS")
    args = parser.parse_args()
    with dask.config.set(DASK_CONFIG):
        # one Nanny-managed worker process each, as LocalCluster starts them, but each with its own
        # environment: a GPU worker sees only its GPU (as dask-cuda's LocalCUDACluster does it)
        workers = {i: {"cls": Nanny, "options": {
            "nthreads": args.threads,
            "env": worker_environment(i, args.gpus, args.threads, args.workers),
            "host": LOOPBACK, "silence_logs": logging.CRITICAL}} for i in range(args.workers)}
        cluster = SpecCluster(workers=workers, scheduler={"cls": Scheduler, "options": {
            # any free port for the dashboard: no clash with 8787
            "host": LOOPBACK, "dashboard_address": f"{LOOPBACK}:0"}}, silence_logs=logging.CRITICAL)
        try:
            print(cluster.scheduler_address, flush=True)
            sys.stdin.read()  # returns when the parent process closes the pipe or exits
        finally:
            cluster.close()

