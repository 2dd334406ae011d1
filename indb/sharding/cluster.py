"""The Dask cluster functions run on: started lazily, reused, shard k always on the same worker.

A local cluster of worker processes is started by a helper process (``main`` below, run with
``python -c``), not by the user's process: Dask starts workers with multiprocessing's
spawn method, which re-imports the parent's ``__main__``, and a user script without an
``if __name__ == "__main__":`` guard would then run again in every worker. The helper exits when
its parent does (its stdin closes), taking the cluster with it.
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

from indb.runtime.gpus import worker_environment

# A worker that dies mid-task must fail the run at once, not retry the instance elsewhere.
DASK_CONFIG = {"distributed.scheduler.allowed-failures": 0,
               "distributed.admin.system-monitor.gil.enabled": False}


def default_workers() -> int:
    return max(1, min(os.cpu_count() or 1, 8))


class Cluster:
    """A Dask client and the workers it runs shard instances on."""

    def __init__(self, *, workers: int = 1, threads_per_worker: int = 2, processes: bool = True,
                 scheduler: str | None = None, gpus: int = 0) -> None:
        self._helper: subprocess.Popen | None = None
        self._local: LocalCluster | None = None
        if scheduler:
            self.client = Client(scheduler)
        elif processes:
            self._helper = subprocess.Popen(
                [sys.executable, "-c", "from indb.sharding.cluster import main; main()",
                 "--workers", str(workers), "--threads", str(threads_per_worker), "--gpus", str(gpus)],
                stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
            assert self._helper.stdout is not None  # stdout=PIPE
            address = self._helper.stdout.readline().strip()
            if not address:
                raise RuntimeError("the local Dask cluster did not start; see the messages above")
            self.client = Client(address)
        else:  # workers as threads of this process: only for the engine's own fast tests
            with dask.config.set(DASK_CONFIG):
                self._local = LocalCluster(n_workers=workers, threads_per_worker=threads_per_worker,
                                           processes=False, dashboard_address=":0",  # any free port: no clash with 8787
                                           silence_logs=logging.ERROR)
            self.client = Client(self._local)

    def workers(self) -> list[tuple[str, str]]:
        """(name, address) of each worker, in name order: shard k goes to entry k mod n."""
        info = self.client.scheduler_info(n_workers=-1)["workers"]
        return sorted(((str(w["name"]), address) for address, w in info.items()),
                      key=lambda pair: (len(pair[0]), pair[0]))

    def close(self) -> None:
        self.client.close()
        if self._local is not None:
            self._local.close()
        if self._helper is not None and self._helper.stdin is not None:
            self._helper.stdin.close()
            self._helper.wait()


_clusters: dict[tuple, Cluster] = {}
_lock = threading.Lock()


def shared_cluster(**options: Any) -> Cluster:
    """One cluster per distinct set of options in this process, closed when the process exits."""
    key = tuple(sorted(options.items()))
    with _lock:
        cluster = _clusters.get(key)
        if cluster is None:
            cluster = _clusters[key] = Cluster(**options)
    return cluster


def close_cluster(**options: Any) -> None:
    """Close the cluster ``shared_cluster(**options)`` gave, if any (e.g. before its scheduler stops)."""
    with _lock:
        cluster = _clusters.pop(tuple(sorted(options.items())), None)
    if cluster is not None:
        cluster.close()


@atexit.register
def _close_all() -> None:
    for cluster in _clusters.values():
        try:
            cluster.close()
        except Exception:  # the interpreter is going away; a cluster already gone is fine
            pass
    _clusters.clear()


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
            "nthreads": args.threads, "env": worker_environment(i, args.gpus, args.threads),
            "silence_logs": logging.CRITICAL}} for i in range(args.workers)}
        cluster = SpecCluster(workers=workers, scheduler={"cls": Scheduler, "options": {
            # any free port for the dashboard: no clash with 8787
            "dashboard_address": ":0"}}, silence_logs=logging.CRITICAL)
        print(cluster.scheduler_address, flush=True)
        sys.stdin.read()  # returns when the parent process closes the pipe or exits
        cluster.close()

