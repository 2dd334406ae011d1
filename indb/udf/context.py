"""``ctx``, the first argument of every UDF: where it runs, its parameters, and ways to report."""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Callable
from pathlib import Path

from indb.udf.distributed import Distributed
from indb.udf.models import Models

PROGRESS_INTERVAL = 0.2  # seconds between progress reports sent to the run's status


class Params(dict):
    """The run's ``PARAMS => KV_PAIRS(...)``, as strings; a missing name says which ones exist."""

    def __missing__(self, key: str) -> str:
        raise KeyError(f"no parameter {key!r} in this run (given: {', '.join(sorted(self)) or 'none'}); "
                       f"pass it as PARAMS => KV_PAIRS({key} = '...') or use ctx.params.get({key!r}, default)")


class Context:
    """What an instance knows and can do. One per shard instance of a run."""

    def __init__(self, *, run_id: str, function: str, shard: int, shards: int, mode: str,
                 params: dict[str, str], scratch: Path, outputs: tuple[str, ...],
                 models: Models | None = None, device: str = "cpu",
                 on_status: Callable[[str], None] = lambda message: None,
                 on_progress: Callable[[float, float | None], None] = lambda done, total: None,
                 ) -> None:
        self.run_id = run_id
        self.function = function
        self.shard = shard            # this instance's shard number, 0-based
        self.shards = shards          # how many instances the run has
        self.mode = mode              # distributed | nondistributed
        self.params = Params(params)
        self.scratch = scratch        # a private directory, removed when the run ends
        self.outputs = outputs        # the output table names, in order
        self.device = device          # "cuda" on a GPU worker (its one visible GPU), else "cpu"
        self.models = models          # the model registry: ctx.models.save(...) / .load(...)
        # a run with OPTIONS => KV_PAIRS(distributed = 'ddp'): this instance's rank in the run's
        # torch.distributed process group (set while the UDF runs); None otherwise
        self.distributed: Distributed | None = None
        # where status lines and progress go (the host relays them to the run's records)
        self._on_status, self._on_progress = on_status, on_progress
        self._last_progress = 0.0
        self.logger = logging.getLogger(f"indb.udf.{function}.{shard}")
        if not self.logger.handlers:  # stderr is this instance's log file; SHOW FUNCTION STATUS shows its tail
            handler = logging.StreamHandler(sys.stderr)
            handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
            self.logger.addHandler(handler)
            self.logger.setLevel(logging.INFO)
            self.logger.propagate = False

    def status(self, message: str) -> None:
        """Set this instance's status message (the last one shows in SHOW FUNCTION STATUS)."""
        self._on_status(str(message))

    def progress(self, done: float, total: float | None = None) -> None:
        """Report progress; sent at most every 0.2 s, and always when ``done`` reaches ``total``."""
        now = time.monotonic()
        if now - self._last_progress >= PROGRESS_INTERVAL or (total is not None and done >= total):
            self._last_progress = now
            self._on_progress(float(done), None if total is None else float(total))

    def __repr__(self) -> str:
        return f"<Context {self.function} run {self.run_id} shard {self.shard}/{self.shards}>"
