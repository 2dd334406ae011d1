"""Fractional differencing of price series, on the GPU with a Numba CUDA kernel.

Fixed-width fractional differencing (López de Prado, *Advances in Financial Machine Learning*,
ch. 5): x̃_t = Σ_{k=0}^{K-1} w_k · x_{t-k}, with w_0 = 1 and w_k = -w_{k-1} · (d - k + 1) / k.
It makes a price series stationary while keeping much of its memory. Each symbol's series is one
shard's rows; on a GPU worker one CUDA thread computes one output day, elsewhere numpy does.

Input rows: (sym, date, close) of whole symbols (shard by sym). Output: (sym, date, fracdiff, on_gpu).
Parameters: d (default 0.4), width (K, default 20).
"""

import numpy as np

from indb import udf


def weights(d: float, width: int) -> np.ndarray:
    w = np.empty(width)
    w[0] = 1.0
    for k in range(1, width):
        w[k] = -w[k - 1] * (d - k + 1) / k
    return w


def fracdiff_cpu(series: np.ndarray, w: np.ndarray) -> np.ndarray:
    """The reference: NaN for the first K-1 days, then the weighted window."""
    out = np.full(len(series), np.nan)
    for t in range(len(w) - 1, len(series)):
        out[t] = np.dot(w, series[t - len(w) + 1:t + 1][::-1])
    return out


def fracdiff_gpu(series: np.ndarray, w: np.ndarray) -> np.ndarray:
    if not hasattr(np, "row_stack"):  # numba-cuda (0.2x) still calls it; NumPy 2.5 removed it
        np.row_stack = np.vstack
    from numba import cuda

    @cuda.jit
    def kernel(x, w, out):
        t = cuda.grid(1)
        if t >= x.shape[0]:
            return
        if t < w.shape[0] - 1:
            out[t] = np.nan
            return
        total = 0.0
        for k in range(w.shape[0]):
            total += w[k] * x[t - k]
        out[t] = total

    x, w_device = cuda.to_device(series), cuda.to_device(w)
    out = cuda.device_array_like(x)
    threads = 256
    kernel[(len(series) + threads - 1) // threads, threads](x, w_device, out)
    return out.copy_to_host()


@udf.function(frame="numpy", params=["d", "width"])
def fracdiff(ctx, prices):
    w = weights(float(ctx.params.get("d", "0.4")), int(ctx.params.get("width", "20")))
    on_gpu = ctx.device == "cuda"
    syms, dates, closes = prices["sym"], prices["date"], np.log(prices["close"].astype(np.float64))
    order = np.lexsort((dates, syms))
    syms, dates, closes = syms[order], dates[order], closes[order]
    result = np.empty(len(closes))
    for sym in np.unique(syms):
        rows = syms == sym
        result[rows] = (fracdiff_gpu if on_gpu else fracdiff_cpu)(closes[rows], w)
    return {"sym": syms, "date": dates, "fracdiff": result, "on_gpu": np.full(len(result), on_gpu)}
