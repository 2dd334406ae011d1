"""Shards and models kept between runs: one LRU per instance process, with a memory budget.

A GPU instance process keeps the device-resident frames it built, keyed by the data files they
came from, the input query and the frame type. Iceberg data files are immutable, so a write to a
table (new files, a new snapshot) changes the key: the stale entry is never hit again and ages
out. Loaded models share the budget, keyed by their artifact (a new version is a new artifact).
Hits and misses are counted per instance and shown by SHOW FUNCTION STATUS VERBOSE.
"""

from __future__ import annotations

import os
from collections import OrderedDict
from collections.abc import Hashable
from typing import Any

from indb.runtime.gpus import gpu_slots

DEFAULT_FRACTION = 0.5  # of the GPU's memory, unless INDB_GPU_CACHE_BYTES says otherwise
CPU_BUDGET = 2 << 30    # bytes of models a CPU instance process keeps, unless INDB_CPU_CACHE_BYTES says


class ResidentCache:
    """Least-recently-used frames, evicted when their bytes pass the budget."""

    def __init__(self, budget: int) -> None:
        self.budget = budget
        self.used = 0
        self._entries: OrderedDict[Hashable, tuple[Any, int, int]] = OrderedDict()

    def get(self, key: Hashable) -> tuple[Any, int] | None:
        """The frame and its row count, or None."""
        entry = self._entries.get(key)
        if entry is None:
            return None
        self._entries.move_to_end(key)
        return entry[0], entry[2]

    def put(self, key: Hashable, frame: Any, rows: int, size: int | None = None) -> None:
        size = frame_bytes(frame) if size is None else size
        if size > self.budget:
            return
        self._entries[key] = (frame, size, rows)
        self.used += size
        while self.used > self.budget:
            _, (_, evicted, _) = self._entries.popitem(last=False)
            self.used -= evicted


def frame_bytes(frame: Any) -> int:
    """Bytes a frame (a dict of tensors or arrays) holds."""
    columns = frame.values() if isinstance(frame, dict) else [frame]
    total = 0
    for column in columns:
        if hasattr(column, "element_size"):
            total += column.element_size() * column.numel()
        elif hasattr(column, "nbytes"):
            total += int(column.nbytes)
    return total


def cache_budget(device: str) -> int:
    """Bytes the process's cache may hold: half the GPU's memory on a GPU, split between the
    processes that share it (``INDB_GPU_SLOTS``), or 2 GiB (of models) on a CPU."""
    configured = os.environ.get("INDB_GPU_CACHE_BYTES" if device != "cpu" else "INDB_CPU_CACHE_BYTES")
    if configured:
        return int(configured)
    if device == "cpu":
        return CPU_BUDGET
    import torch
    return int(torch.cuda.get_device_properties(0).total_memory * DEFAULT_FRACTION / gpu_slots())


_process_cache: dict[str, ResidentCache] = {}


def process_cache(device: str) -> ResidentCache:
    """This process's cache (made on first use)."""
    if device not in _process_cache:
        _process_cache[device] = ResidentCache(cache_budget(device))
    return _process_cache[device]
