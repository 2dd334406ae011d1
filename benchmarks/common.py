"""What every benchmark script shares: timing, the machine's description, printing figures."""

from __future__ import annotations

import json
import os
import platform
import time
from collections.abc import Callable
from pathlib import Path

import duckdb
import numpy as np


def best_of(runs: int, fn: Callable[[], object]) -> tuple[float, object]:
    """The fastest of ``runs`` calls (seconds) and the last call's result."""
    times, result = [], None
    for _ in range(runs):
        started = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - started)
    return min(times), result


def percentiles(fn: Callable[[], object], calls: int, warmup: int | None = None) -> tuple[float, float]:
    """p50 and p99 of one call of ``fn`` in microseconds, over ``calls`` calls after ``warmup``
    unmeasured ones (default: ``calls``, at most 200)."""
    for _ in range(min(200, calls) if warmup is None else warmup):
        fn()
    times = np.empty(calls)
    for i in range(calls):
        started = time.perf_counter_ns()
        fn()
        times[i] = time.perf_counter_ns() - started
    return float(np.percentile(times, 50) / 1e3), float(np.percentile(times, 99) / 1e3)


def machine() -> str:
    return (f"{platform.node()} {platform.machine()} {os.cpu_count()} cores, "
            f"Python {platform.python_version()}, duckdb {duckdb.__version__}")


def report(figures: dict[str, object], json_path: Path | None) -> None:
    """Print the figures as an aligned table, and write them as JSON if asked."""
    width = max(map(len, figures))
    for key, value in figures.items():
        print(f"{key:<{width}}  {value:,}" if isinstance(value, int | float) else f"{key:<{width}}  {value}")
    if json_path:
        json_path.write_text(json.dumps(figures, indent=1))
