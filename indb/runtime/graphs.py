"""CUDA graphs for a torch model: captured once per batch size, then replayed.

A CUDA graph records every kernel of one forward pass, with fixed input and output buffers;
replaying it is one launch instead of one (plus Python) per layer, which is most of the time a
small model takes on a few rows: the serving path's single rows, PREDICT's 2,048-row vectors.
Batches are padded up to the next captured size (powers of two up to ``MAX_ROWS``); bigger ones
run in chunks of ``MAX_ROWS``. Rows must not depend on each other (true in inference: no batch
statistics), since padding rows go through the model with them.
"""

from __future__ import annotations

from typing import Any

import numpy as np

MAX_ROWS = 8192
WARMUP_CALLS = 3  # eager calls on a side stream before a capture, as torch's documentation asks


class CudaGraphs:
    """``module`` on a CUDA device, replayed from graphs; ``row_shape`` is one row's shape."""

    def __init__(self, module: Any, row_shape: tuple[int, ...], dtype: Any, device: str) -> None:
        import torch

        self._torch, self._module = torch, module
        self._row_shape, self._dtype, self._device = row_shape, dtype, device
        self._graphs: dict[int, tuple[Any, Any, Any]] = {}  # rows -> (graph, input, output)
        # one memory pool for all the sizes: a replay's intermediates are dead once it returns
        # (outputs are copied out at once, graphs never run at the same time), so the graphs can
        # reuse each other's; apart, each size kept its own, several GB for a CNN at 8,192 rows
        self._pool = torch.cuda.graph_pool_handle()
        self._host: dict[int, tuple[Any, Any]] = {}          # rows -> pinned (input, output)
        self._side = torch.cuda.Stream()  # captures warm up here, as torch's documentation asks

    def __call__(self, x: Any) -> Any:
        """The model's output for a device tensor (a new tensor: graph buffers are reused)."""
        torch = self._torch
        parts = []
        for start in range(0, len(x), MAX_ROWS):
            chunk = x[start:start + MAX_ROWS]
            graph, static_in, static_out = self._graph(bucket(len(chunk)))
            static_in[:len(chunk)].copy_(chunk)
            graph.replay()
            parts.append(static_out[:len(chunk)].clone())
        return torch.cat(parts) if len(parts) != 1 else parts[0]

    def numpy(self, rows: np.ndarray) -> np.ndarray:
        """The serving path for a few rows given as numpy: into pinned memory, one copy to the
        device, one replay, one copy back, one wait."""
        torch = self._torch
        size = bucket(len(rows))
        graph, static_in, static_out = self._graph(size)
        if size not in self._host:  # bf16 has no numpy type: float32 on the host, cast on the device
            host_dtype = torch.float32 if self._dtype == torch.bfloat16 else self._dtype
            self._host[size] = (torch.empty(static_in.shape, dtype=host_dtype).pin_memory(),
                                torch.empty(static_out.shape, dtype=torch.float32).pin_memory())
        host_in, host_out = self._host[size]
        host_in[:len(rows)].numpy()[:] = rows.reshape(len(rows), *self._row_shape)
        static_in[:len(rows)].copy_(host_in[:len(rows)], non_blocking=True)
        graph.replay()
        host_out[:len(rows)].copy_(static_out[:len(rows)], non_blocking=True)
        torch.cuda.current_stream().synchronize()
        return host_out[:len(rows)].numpy().copy()

    def replay(self, rows: int) -> None:
        """Replay the graph of ``rows`` rows on whatever its input holds, and wait: the model
        step alone, for measuring it."""
        self._graph(bucket(rows))[0].replay()
        self._torch.cuda.current_stream().synchronize()

    def _graph(self, rows: int) -> tuple[Any, Any, Any]:
        """The graph for ``rows`` rows, captured on first use."""
        if rows not in self._graphs:
            torch = self._torch
            static_in = torch.zeros((rows, *self._row_shape), dtype=self._dtype, device=self._device)
            with torch.inference_mode():
                self._side.wait_stream(torch.cuda.current_stream())
                with torch.cuda.stream(self._side):
                    for _ in range(WARMUP_CALLS):
                        self._module(static_in)
                torch.cuda.current_stream().wait_stream(self._side)
                graph = torch.cuda.CUDAGraph()
                with torch.cuda.graph(graph, pool=self._pool, capture_error_mode="thread_local"):
                    static_out = self._module(static_in)
            self._graphs[rows] = graph, static_in, static_out
            # the warm-up's intermediates stay cached for the side stream, where nothing else
            # allocates: a GB or two a capture at 8,192 rows, which other processes sharing
            # the GPU need (captures are few, so the emptying is rare)
            torch.cuda.empty_cache()
        return self._graphs[rows]


def bucket(rows: int) -> int:
    """The batch size a batch of ``rows`` is padded to on a GPU: the next power of two."""
    return 1 << max(0, rows - 1).bit_length()
