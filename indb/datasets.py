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


# -- images -----------------------------------------------------------------------------------

def digits(test_fraction: float = 0.25, seed: int = 0) -> pa.Table:
    """The 1,797 real 8x8 handwritten digits scikit-learn ships: (id, pixels FLOAT[64] of 0..16,
    label, split) with a fixed random ``split`` of 'train' and 'test' rows."""
    from sklearn.datasets import load_digits

    data = load_digits()
    return _images(data.data.astype(np.float32), data.target, test_fraction, seed)


def mnist_idx(images_path: str, labels_path: str, test_fraction: float = 1 / 7, seed: int = 0) -> pa.Table:
    """The standard MNIST IDX files (28x28, pixels 0..255), in the same shape as ``digits``."""
    images, labels = _read_idx(images_path), _read_idx(labels_path)
    if images.ndim != 3 or labels.ndim != 1 or len(images) != len(labels):
        raise ValueError(f"{images_path} and {labels_path} are not an IDX image file and its labels")
    return _images(images.reshape(len(images), -1).astype(np.float32), labels, test_fraction, seed)


def _images(pixels: np.ndarray, labels: np.ndarray, test_fraction: float, seed: int) -> pa.Table:
    rng = np.random.default_rng(seed)
    split = np.where(rng.random(len(labels)) < test_fraction, "test", "train")
    width = pixels.shape[1]
    return pa.table({
        "id": pa.array(np.arange(len(labels), dtype=np.int64)),
        "pixels": pa.FixedSizeListArray.from_arrays(pa.array(pixels.ravel()), width),
        "label": pa.array(labels.astype(np.int32)),
        "split": pa.array(split),
    })


def _read_idx(path: str) -> np.ndarray:
    """An IDX file (big-endian magic: 0, 0, dtype code, dimensions; then sizes; then data)."""
    import gzip
    opener = gzip.open if str(path).endswith(".gz") else open
    with opener(path, "rb") as f:
        raw = f.read()
    if raw[:2] != b"\0\0" or raw[2] != 0x08:
        raise ValueError(f"{path} is not an IDX file of unsigned bytes")
    dims = raw[3]
    shape = tuple(int.from_bytes(raw[4 + 4 * i: 8 + 4 * i], "big") for i in range(dims))
    return np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * dims).reshape(shape)


# -- daily prices -----------------------------------------------------------------------------

def market_history() -> pa.Table:
    """Real daily closes and volumes of the S&P 500 and NASDAQ composite, 1999-2018, as the
    ``arch`` package ships them: (sym, date, close, volume)."""
    from arch.data import nasdaq, sp500

    parts = []
    for sym, frame in (("SP500", sp500.load()), ("NASDAQ", nasdaq.load())):
        parts.append(pa.table({
            "sym": pa.array([sym] * len(frame)),
            "date": pa.array(frame.index.date, pa.date32()),
            "close": pa.array(frame["Adj Close"].to_numpy(dtype=np.float64)),
            "volume": pa.array(frame["Volume"].to_numpy(dtype=np.float64)),
        }))
    return pa.concat_tables(parts)


def synthetic_market(symbols: int = 20, days: int = 750, anomalies_per_symbol: int = 4,
                     seed: int = 0) -> tuple[pa.Table, pa.Table]:
    """Daily (sym, date, close, volume) random walks with injected anomalies whose positions are
    known: on those days the price jumps by 6 to 10 daily standard deviations (and stays there)
    and the volume is 4 to 8 times normal. Returns the prices and the (sym, date) of anomalies."""
    rng = np.random.default_rng(seed)
    start = np.datetime64("2020-01-01")
    dates = start + np.arange(days)
    rows, truth = [], []
    for s in range(symbols):
        sigma = rng.uniform(0.008, 0.02)
        returns = rng.normal(0.0, sigma, days)
        log_volume = np.log(rng.uniform(5e5, 5e6)) + rng.normal(0.0, 0.15, days)
        chosen = rng.choice(np.arange(30, days), anomalies_per_symbol, replace=False)
        returns[chosen] = rng.choice([-1.0, 1.0], len(chosen)) * rng.uniform(6, 10, len(chosen)) * sigma
        log_volume[chosen] += np.log(rng.uniform(4, 8, len(chosen)))
        sym = f"SYN{s:02d}"
        rows.append(pa.table({"sym": pa.array([sym] * days), "date": pa.array(dates, pa.date32()),
                              "close": pa.array(100 * np.exp(np.cumsum(returns))),
                              "volume": pa.array(np.round(np.exp(log_volume)))}))
        truth.append(pa.table({"sym": pa.array([sym] * len(chosen)),
                               "date": pa.array(dates[np.sort(chosen)], pa.date32())}))
    return pa.concat_tables(rows), pa.concat_tables(truth)
