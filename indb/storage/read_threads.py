"""How many threads an instance process decodes its data files with: the size of pyarrow's CPU
pool, which decodes a Parquet file's row groups in parallel (``files.read_stored``).

Dask's nannies start their workers with ``OMP_NUM_THREADS=1`` (its
``distributed.nanny.pre-spawn-environ``), which pyarrow reads as the size of that pool, and the
instance processes inherit it: each decoded its shards on one thread, however many cores the
machine had (on the H200's 16-core host one shard's read alone took as long as four together,
docs/benchmarks.md). An instance process now sizes the pool to its share of the cores: the cores
it may run on over the instance processes of the workers on its machine, which the cluster
tells it (``MACHINE_SLOTS_VARIABLE``, set by ``gpus.worker_environment``); ``INDB_READ_THREADS``
sets it outright.
"""

from __future__ import annotations

import os

import pyarrow as pa

from indb.errors import OptionError

# the instance processes of all the workers a machine runs (workers x their slots)
MACHINE_SLOTS_VARIABLE = "INDB_MACHINE_SLOTS"


def available_cores() -> int:
    """The cores this process may run on (its CPU affinity, where the platform has one)."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def machine_slots() -> int:
    """How many instance processes share this machine's cores (1 where no cluster said)."""
    return _positive(MACHINE_SLOTS_VARIABLE, "instance processes on this machine", 1)


def core_share() -> int:
    """This process's share of the machine's cores: the cores it may run on over the instance
    processes that share them (at least one)."""
    return max(1, available_cores() // machine_slots())


def read_threads() -> int:
    """``INDB_READ_THREADS``, else this process's share of the cores."""
    configured = _positive("INDB_READ_THREADS", "threads an instance process decodes its "
                           "data files with", 0)
    return configured or core_share()


def use_read_threads() -> int:
    """Size this process's pyarrow CPU pool to ``read_threads()``; returns that size."""
    threads = read_threads()
    pa.set_cpu_count(threads)
    return threads


def _positive(variable: str, meaning: str, unset: int) -> int:
    """A positive whole number from the environment variable ``variable`` (``unset`` if it is
    not set or empty), or an error that says what it should be."""
    text = os.environ.get(variable, "").strip()
    if not text:
        return unset
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise OptionError(f"{variable}={text!r} is not a positive whole number; set it to the "
                          f"{meaning} (or unset it for the default)")
    return value
