"""A subscription's pre-processing query a batch: DuckDB against the incremental path.

Run: ``python benchmarks/bench_window.py [--batches N] [--sizes 1,10,100,300] [--symbols 100]
[--json out.json]``. The tick-latency benchmark's feature query (``bench_tick_latency.FEATURES``:
four rolling aggregates over 20 ticks a symbol) runs over batches of ticks of ``--symbols``
symbols in two ``indb.stream.window.Window``s of one process, each with its window state: one
in DuckDB (the fallback, as every query ran before), one evaluated incrementally
(``indb.stream.rolling``). Both are warmed with the same ticks (every symbol's window full),
then each batch goes to both, in turns (which goes first alternates), and the CPU time of
``rows`` plus ``keep`` (the query and the state brought up to date) is taken with
``time.thread_time_ns``. The two paths' rows are compared as they go (the largest difference
is reported). Issue 15's target is a tick's p99 under 1 ms end to end; this is the query's part.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import sqlglot
from common import machine, report

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_tick_latency import FEATURES  # noqa: E402

from indb.planner import subscriptions as plans  # noqa: E402
from indb.stream.window import Window  # noqa: E402


class Ticks:
    """Ticks of ``symbols`` symbols in time order, as a feed sends them."""

    def __init__(self, symbols: int, seed: int = 0) -> None:
        self.rng, self.symbols, self.time = np.random.default_rng(seed), symbols, 0
        self.names = np.array([f"S{i:03d}" for i in range(symbols)])

    def batch(self, rows: int) -> pa.Table:
        times = self.time + np.arange(1, rows + 1) * 1_000
        self.time = int(times[-1])
        return pa.table({"time": pa.array(times, pa.timestamp("ns")),
                         "sym": self.names[self.rng.integers(0, self.symbols, rows)],
                         "px": 100 + self.rng.standard_normal(rows).cumsum() * 0.01,
                         "size": self.rng.integers(1, 1_000, rows)})


def windows() -> dict[str, Window]:
    query, windowed, keys, history = plans._query(sqlglot.parse_one(FEATURES, dialect="duckdb"),
                                                  "ticks", None)
    setup = {"name": "features", "table": "ticks", "query": query, "windowed": windowed,
             "keys": keys, "history": history}
    made = {"duckdb": Window({**setup, "incremental": False}), "incremental": Window(setup)}
    assert [w.path for w in made.values()] == ["duckdb", "incremental"]
    return made


def largest_difference(a: pa.Table, b: pa.Table) -> float:
    a, b = a.sort_by("time"), b.sort_by("time")
    assert a.schema == b.schema and a.num_rows == b.num_rows
    return max(float(np.nanmax(np.abs(a[c].to_numpy() - b[c].to_numpy()), initial=0.0))
               for c in ("ret_z", "vol_z"))


def measure(rows: int, batches: int, symbols: int) -> dict[str, float]:
    """CPU µs a batch of ``rows`` rows on each path (mean, p50, p99) and their ratio."""
    ticks, paths = Ticks(symbols, rows), windows()
    for _ in range(max(1, 40 * symbols // 100)):  # every symbol's window full, on both paths
        warm = ticks.batch(100)
        for window in paths.values():
            window.rows(warm)
            window.keep()
    spent: dict[str, list[int]] = {name: [] for name in paths}
    difference = 0.0
    for number in range(batches):
        batch = ticks.batch(rows)
        outs = {}
        for name in (list(paths) if number % 2 else list(paths)[::-1]):
            started = time.thread_time_ns()
            outs[name] = paths[name].rows(batch)
            paths[name].keep()
            spent[name].append(time.thread_time_ns() - started)
        difference = max(difference, largest_difference(outs["duckdb"], outs["incremental"]))
    assert paths["incremental"].path == "incremental"
    figures: dict[str, float] = {}
    for name, times in spent.items():
        micro = np.array(times) / 1e3
        figures.update({f"rows_{rows}_{name}_cpu_us_mean": round(float(micro.mean()), 1),
                        f"rows_{rows}_{name}_cpu_us_p50": round(float(np.percentile(micro, 50)), 1),
                        f"rows_{rows}_{name}_cpu_us_p99": round(float(np.percentile(micro, 99)), 1)})
    figures[f"rows_{rows}_ratio_mean"] = round(figures[f"rows_{rows}_duckdb_cpu_us_mean"]
                                               / figures[f"rows_{rows}_incremental_cpu_us_mean"], 1)
    figures[f"rows_{rows}_fallbacks"] = paths["incremental"].fallbacks
    figures[f"rows_{rows}_largest_difference"] = difference
    for window in paths.values():
        window.close()
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--batches", type=int, default=300, help="measured batches a size")
    parser.add_argument("--sizes", default="1,10,100,300", help="rows a batch, comma-separated")
    parser.add_argument("--symbols", type=int, default=100)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    figures: dict[str, object] = {"machine": machine(),
                                  "load_average_at_start": round(os.getloadavg()[0], 1)}
    for rows in (int(s) for s in args.sizes.split(",")):
        figures.update(measure(rows, args.batches, args.symbols))
    figures["load_average_at_end"] = round(os.getloadavg()[0], 1)
    report(figures, args.json)


if __name__ == "__main__":
    main()
