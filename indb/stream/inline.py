"""A subscription's function run in the tickerplant's own process, on its event loop
(``WITH (ISOLATION = 'none')``).

``Inline`` stands where ``indb.stream.resident.Resident`` stands for a subscription
(``indb.stream.subscriptions.Running`` drives either): the same ``Served`` function, window
state and context, but no process, no socket and no Arrow IPC between them and the
tickerplant. A batch runs on the event loop, in a callback of its own, as soon as the loop has
finished what it was doing; its results are heard in the same callback. So a batch costs no
wake-up of another process and no pass of Python's lock between threads, which on a 2-core
machine were most of a small batch's time (docs/benchmarks.md), and the ticks that arrive
while it runs wait in the kernel's socket buffers and make the next batch, as kdb+'s
single-threaded subscribers batch.

What it gives up, for which only an admin may ask for it with an admin's function
(``indb.engine.subscriptions.check_unisolated``): the function has the tickerplant's rights
(the catalog, the journal, every client's connection); a crash in it stops the tickerplant
(the journal keeps what was acknowledged, and a restart rebuilds it); a batch that does not
return holds up every feed and subscriber, since nothing can stop it (TIMEOUT is refused);
and its models are loaded in the tickerplant, so only models an admin owns are loaded there.
"""

from __future__ import annotations

import asyncio
import logging
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pyarrow as pa

from indb.errors import FunctionError, IndbError, PrivilegeError
from indb.registry.functions import FunctionInfo
from indb.registry.models import ModelInfo
from indb.stream.resident import Heard, Ready, Results, Served, mirror_of, remembered, setup_of

log = logging.getLogger("indb.stream")


class Inline:
    """The tickerplant's end of a subscription whose function runs in its own process:
    ``start`` loads the function (off the event loop: imports take seconds), then
    ``attach`` and ``send`` on the loop, one batch at a time."""

    confined = False

    def __init__(self, name: str, function: FunctionInfo, code_dir: str,
                 params: dict[str, str], outputs: tuple[str, ...], device: str,
                 lookup: Callable[[str, int | str | None], ModelInfo],
                 admin_owns: Callable[[str], bool], query: dict[str, Any] | None = None) -> None:
        """As ``Resident``'s; ``admin_owns``: whether an admin owns a model (by name)."""
        self.name, self.function, self.code_dir, self.params = name, function, code_dir, params
        self.outputs, self.device, self.query = outputs, device, query
        self.lookup, self.admin_owns = lookup, admin_owns
        self.mirror = mirror_of(query)
        self.served: Served | None = None
        self.scratch: Path | None = None
        self.loop: asyncio.AbstractEventLoop | None = None
        self.on_heard: Callable[[Heard], None] | None = None

    def start(self) -> None:
        """The function loaded (its module imported), and its window state seeded from the
        mirror; off the event loop."""
        if self.served is not None:
            return
        self.scratch = Path(tempfile.mkdtemp(prefix=f"indb-subscription-{self.name}-"))
        seed = self.mirror.fold() if self.mirror is not None else None
        self.served = Served(setup_of(self, self.scratch), seed, remembered(self._model))
        log.info("subscription %s: its function runs in the tickerplant's process "
                 "(ISOLATION = 'none')", self.name)

    def _model(self, name: str, version: int | str | None) -> ModelInfo:
        """A model version's facts, for a model an admin owns only: any other owner could
        add a version whose loading runs code (a pickle) in the tickerplant."""
        if not self.admin_owns(name):
            raise PrivilegeError(f"model {name} is not an admin's: a function that runs in "
                                 "the tickerplant's process (ISOLATION = 'none') loads only "
                                 "models an admin owns")
        return self.lookup(name, version)

    def attach(self, loop: asyncio.AbstractEventLoop, on_heard: Callable[[Heard], None],
               on_lost: Callable[[], None]) -> None:
        """From now on batches run on ``loop`` and their results go to ``on_heard`` (nothing
        is ever lost: there is no process to end)."""
        self.loop, self.on_heard = loop, on_heard
        loop.call_soon(on_heard, Ready())

    def send(self, rows: pa.Table) -> None:
        """Run a batch, once the loop has finished what it is doing (the tickerplant's
        commit that offered the rows, the other connections' reads)."""
        assert self.loop is not None
        if self.mirror is not None:
            self.mirror.add(rows)
        self.loop.call_soon(self._run, rows)

    def _run(self, rows: pa.Table) -> None:
        served, on_heard = self.served, self.on_heard
        if served is None or on_heard is None:
            return  # closed meanwhile
        heard: Heard
        try:
            heard = served.batch(rows)
        except IndbError as error:  # the query's SqlError, or an error of indb's
            heard = error
        except Exception as error:  # noqa: BLE001 (the function's: recorded, the loop goes on)
            heard = FunctionError(f"{type(error).__name__}: {error}")
        on_heard(heard)
        if isinstance(heard, Results):
            served.keep()  # a failed batch is not kept, as in the function's process

    def ended(self) -> str:
        self.close()
        return "in the tickerplant's process"

    def close(self) -> None:
        served, self.served, self.on_heard = self.served, None, None
        if served is not None:
            served.close()
        if self.scratch is not None:
            shutil.rmtree(self.scratch, ignore_errors=True)
            self.scratch = None
