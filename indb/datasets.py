"""Data sets made offline: synthetic market ticks (used by the demo, tests and benchmarks)."""

from __future__ import annotations

import numpy as np
import pyarrow as pa


def synthetic_ticks(rows: int, symbols: int = 500, seed: int = 0,
                    start: str = "2026-01-05T09:30:00") -> pa.Table:
    """Narrow tick rows (sym, ts, px, size): random walks per symbol, one tick a millisecond."""
    rng = np.random.default_rng(seed)
    names = np.array([f"S{i:04d}" for i in range(symbols)])
    sym = rng.integers(0, symbols, rows)
    base = 20.0 + 180.0 * rng.random(symbols)
    # A per-symbol random walk, accumulated in row order within each symbol.
    steps = rng.normal(0.0, 0.0005, rows)
    order = np.argsort(sym, kind="stable")
    walk = np.empty(rows)
    walk[order] = np.cumsum(steps[order])
    starts = np.searchsorted(sym[order], np.arange(symbols))
    offsets = np.concatenate([[0.0], np.cumsum(steps[order])])[starts]
    walk -= offsets[sym]
    ts = np.datetime64(start, "us") + np.arange(rows, dtype=np.int64) * np.timedelta64(1000, "us")
    return pa.table({
        "sym": pa.array(names[sym]),
        "ts": pa.array(ts),
        "px": pa.array(np.round(base[sym] * np.exp(walk), 4)),
        "size": pa.array(rng.integers(1, 100, rows, dtype=np.int32) * 100),
    })
