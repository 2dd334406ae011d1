"""Subscriptions running in a tickerplant: a function on a table's ticks, in adaptive micro-batches.

The tickerplant hands every table's newly accepted rows (journalled, in its real-time table) to
``Subscriptions.offer`` on its event loop; each running subscription queues them and returns at
once. Its own thread takes batches from the queue as inference servers' dynamic batching does:
while a batch runs, rows accumulate; the next batch takes everything that arrived, at most
``max_batch`` rows, and once a row is waiting it waits at most ``max_wait`` ms for more (0: it
starts at once with what is there). A batch is the rows of the subscription's symbols, run
through the pre-processing query (DuckDB, over the batch; with window state, over the last
``history`` rows of each key and the batch, keeping the batch's rows:
``indb.planner.subscriptions``), then through the function, loaded once with its models and kept
resident (on the GPU where there is one); the query and the window state live in the function's
process too (``indb.stream.window``), off the tickerplant's GIL. Its rows go to the output
table's real-time table, on the event loop, and from there to that table's own subscribers
(``.u.sub``) and to a remote kdb+ tickerplant with ``PUBLISH TO``. The output table is created
from the first output, as EXECUTE FUNCTION creates its output tables.

The function runs in a resident process of its own, sandboxed where the machine can
(``indb.stream.resident``): a crash or hostile code there cannot take the tickerplant down. A batch
that fails (the query, the function, what it returns, the remote end) is counted and logged with
its error, shown by SHOW SUBSCRIPTIONS, and its rows are dropped; the tickerplant and the
subscription go on. The definitions are read from the catalog when the tickerplant starts and
every ``REFRESH_SECONDS`` after, so a subscription created, replaced or dropped from any process
starts or stops within that time; the figures go the other way at the same pace. So does its
function: one replaced (CREATE OR REPLACE FUNCTION) has its subscriptions' processes started
again with the new code and the window state they had (as after a crash), one dropped stops
them (``failed to start``, naming it), and one created again starts them.
"""

from __future__ import annotations

import collections
import logging
import threading
import time
from collections.abc import Callable, Mapping
import asyncio
from concurrent.futures import Executor
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from sqlglot import exp

from indb.catalog.names import split_name
from indb.catalog.types import inferred_sql_type
from indb.engine import subscriptions as statements
from indb.errors import IndbError, not_found
from indb.parser import render
from indb.planner import subscriptions as plans
from indb.registry.functions import FunctionInfo
from indb.registry.subscriptions import SubscriptionInfo, SubscriptionStore
from indb.runtime.gpus import visible_gpus
from indb.stream import outputs
from indb.stream.resident import Resident

if TYPE_CHECKING:
    from indb.stream.tickerplant import Tickerplant
    from indb.stream.window import Mirror

REFRESH_SECONDS = 1.0   # how often definitions are read from, and figures written to, the catalog
LATENCIES = 10_000      # the latest updates' latencies kept for the percentiles
BATCH_SIZES = 1_000     # the latest batches' sizes kept for the mean and maximum

Post = Callable[[Callable[[], None]], object]  # runs a function on the tickerplant's event loop

log = logging.getLogger("indb.stream")


class Figures:
    """What SHOW SUBSCRIPTIONS shows of a running subscription (``engine.subscriptions.FIGURES``)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.state = "starting"
        self.lag = self.batches = self.rows_in = self.rows_out = self.errors = 0
        self.fallbacks = 0  # batches the incremental query left to DuckDB
        self.query_path: str | None = None
        self.last_error: str | None = None
        self.latencies: collections.deque[float] = collections.deque(maxlen=LATENCIES)  # ms
        self.sizes: collections.deque[int] = collections.deque(maxlen=BATCH_SIZES)

    def failed(self, error: BaseException) -> None:
        with self.lock:
            self.errors += 1
            self.last_error = f"{type(error).__name__}: {error}"

    def as_dict(self) -> dict[str, Any]:
        with self.lock:
            latencies = np.fromiter(self.latencies, np.float64)
            sizes = list(self.sizes)
            return {"state": self.state, "lag_rows": self.lag, "batches": self.batches,
                    "rows_in": self.rows_in, "rows_out": self.rows_out,
                    "batch_rows_mean": float(np.mean(sizes)) if sizes else None,
                    "batch_rows_max": max(sizes) if sizes else None,
                    "latency_p50_ms": float(np.percentile(latencies, 50)) if len(latencies) else None,
                    "latency_p99_ms": float(np.percentile(latencies, 99)) if len(latencies) else None,
                    "query_path": self.query_path, "query_fallbacks": self.fallbacks,
                    "errors": self.errors, "last_error": self.last_error, "reported": time.time()}


class Running:
    """One subscription at work: its queue, its thread, its function and its window state."""

    def __init__(self, plant: Tickerplant, info: SubscriptionInfo, post: Post,
                 functions: Mapping[str, FunctionInfo]) -> None:
        """``functions``: the catalog's, by name, read once for all subscriptions."""
        self.plant, self.info, self.post = plant, info, post
        self.plan = plans.restored(info.definition)
        # the function it runs (None: dropped); replaced: changed since its process started
        self.function = functions.get(self.plan.function)
        self.replaced = False
        self.ended = False  # its thread gave up (it failed to start): replace() cannot reach it
        self.figures = Figures()
        self.condition = threading.Condition()
        self.queue: collections.deque[tuple[int, pa.Table]] = collections.deque()  # (arrived ns, rows)
        self.queued = 0  # rows in the queue
        self.stopped = False
        self.syms = pa.array(self.plan.syms, pa.string()) if self.plan.syms else None
        self.resident: Resident | None = None
        self.publisher: Any = None  # indb.stream.remote.Publisher, made at the first output
        self.existing: set[str] = set()  # output tables seen in the catalog (a look-up is ms)
        self.thread = threading.Thread(target=self._work, name=f"indb-subscription-{info.name}",
                                       daemon=True)

    # -- on the event loop -------------------------------------------------------------------

    def offer(self, rows: pa.Table, arrived: int) -> None:
        with self.condition:
            self.queue.append((arrived, rows))
            self.queued += rows.num_rows
            self.condition.notify()

    def stop(self) -> None:
        with self.condition:
            self.stopped = True
            self.condition.notify()

    def replace(self, function: FunctionInfo | None) -> bool:
        """Its function was replaced (or dropped: None): the thread starts its process again
        before the next batch, at once if none is waiting; False when the thread has ended."""
        with self.condition:
            if self.ended:
                return False
            self.function, self.replaced = function, True
            self.condition.notify()
            return True

    # -- on its thread -----------------------------------------------------------------------

    def _work(self) -> None:
        if not self._started(None):
            return
        while True:
            taken = self._take()
            if taken is None:
                break
            if self._replaced():  # as a crash restart: a new process, seeded with the windows
                assert self.resident is not None
                self.resident.close()
                mirror, self.resident = self.resident.mirror, None
                if not self._started(mirror):
                    self._close()
                    return
            if not taken:
                continue
            try:
                self._batch(taken)
            except Exception as error:  # noqa: BLE001 (a failing batch is recorded, never fatal)
                log.warning("subscription %s: a batch of %d rows failed: %s", self.info.name,
                            sum(r.num_rows for _, r in taken), error)
                self.figures.failed(error)
        self._close()

    def _started(self, mirror: Mirror | None) -> bool:
        """Whether its process started (``mirror``: the window state to go on from); a failure
        is recorded (the tickerplant goes on), and tried again if the function changed meanwhile."""
        while True:
            try:
                self._start(mirror)
                break
            except Exception as error:  # noqa: BLE001 (recorded; the tickerplant goes on)
                if self._replaced(or_end=True):
                    continue
                log.error("subscription %s cannot start: %s", self.info.name, error)
                self.figures.failed(error)
                with self.figures.lock:
                    self.figures.state = "failed to start"
                return False
        with self.figures.lock:
            self.figures.state = "running"
        return True

    def _replaced(self, *, or_end: bool = False) -> bool:
        """Whether its function changed since the last asking; if not and ``or_end``, the
        thread ends (one atomic step: a replacement is never lost in between)."""
        with self.condition:
            replaced, self.replaced = self.replaced, False
            if or_end and not replaced:
                self.ended = True
            return replaced

    def _start(self, mirror: Mirror | None) -> None:
        """The definer may still run it; its function's process started, the function loaded
        there once with the models it loads."""
        engine = self.plant.engine
        statements.check_definer(engine, self.plan, self.info.definer)
        function = self.function
        if function is None:
            raise not_found("function", self.plan.function)
        plan = self.plan
        query = None if plan.query is None else {
            "name": plan.name, "table": plan.table, "query": plan.query,
            "windowed": plan.windowed, "keys": list(plan.keys), "history": plan.history}
        self.resident = Resident(self.info.name, function, str(engine.functions.code_dir(function)),
                                 str(engine.db.path), dict(plan.params), plan.outputs,
                                 "cuda" if visible_gpus() else "cpu", engine.models.get, query)
        if mirror is not None:
            self.resident.mirror = mirror
        self.resident.start()

    def _take(self) -> list[tuple[int, pa.Table]] | None:
        """The next batch: what has arrived, at most ``max_batch`` rows, after waiting up to
        ``max_wait`` ms from its first row's arrival for more; None once stopped."""
        limit, wait = self.plan.max_batch, self.plan.max_wait / 1000
        with self.condition:
            while not self.queue and not self.stopped and not self.replaced:
                self.condition.wait()
            if self.stopped:
                return None
            if not self.queue:  # woken by a replaced function
                return []
            if wait:
                due = self.queue[0][0] / 1e9 + wait
                while self.queued < limit and not self.stopped:
                    left = due - time.time()
                    if left <= 0:
                        break
                    self.condition.wait(left)
            taken, count = [], 0
            while self.queue and count < limit:
                arrived, rows = self.queue[0]
                if count + rows.num_rows > limit:  # split: the rest stays first in the queue
                    cut = limit - count
                    self.queue[0] = (arrived, rows.slice(cut))
                    rows = rows.slice(0, cut)
                else:
                    self.queue.popleft()
                taken.append((arrived, rows))
                count += rows.num_rows
            self.queued -= count
            with self.figures.lock:
                self.figures.lag = self.queued
            return taken

    def _batch(self, taken: list[tuple[int, pa.Table]]) -> None:
        # one chunk: each update is a chunk of its own (often one row), and every later step
        # (the window state above all, which would keep them) pays per chunk
        rows = pa.concat_tables([r for _, r in taken]).combine_chunks()
        if self.syms is not None and "sym" in rows.column_names:
            rows = rows.filter(pc.is_in(rows["sym"], self.syms))
        with self.figures.lock:
            self.figures.batches += 1
            self.figures.rows_in += rows.num_rows
            self.figures.sizes.append(rows.num_rows)
        if not rows.num_rows:
            return
        assert self.resident is not None
        results = self.resident.call(rows, self.plan.timeout)
        with self.figures.lock:
            self.figures.query_path = results.query
            self.figures.fallbacks += results.fell_back
        produced = [(name, table) for name, table in zip(self.plan.outputs, results.outputs,
                                                         strict=True)
                    if table is not None and table.num_rows]
        for name, table in produced:
            self._ensure_table(name, table.schema)
        # encoded here, off the event loop; journalled, applied and sent there (its transports
        # and journal are the loop's alone, so the hand-off is the loop's call_soon_threadsafe)
        ready = outputs.prepared(self.plant, produced)
        arrivals = [arrived for arrived, _ in taken]
        self.post(lambda: self._deliver(ready, arrivals))
        if self.plan.publish is not None and produced:
            if self.publisher is None:  # connected at the first output, again after a failure
                from indb.stream.remote import Publisher
                self.publisher = Publisher(self.plan.publish)
            for name, table in produced:
                self.publisher.upd(name, table)

    def _ensure_table(self, name: str, schema: pa.Schema) -> None:
        """The output table, created from the first output (as its definer) when missing."""
        engine = self.plant.engine
        if name in self.existing or engine.db.exists(name):
            self.existing.add(name)
            return
        schema_name, table = split_name(name)
        columns = [exp.ColumnDef(this=exp.to_identifier(f.name, quoted=True),
                                 kind=exp.DataType.build(inferred_sql_type(f.type), dialect="duckdb"))
                   for f in schema]
        create = exp.Create(this=exp.Schema(this=exp.table_(table, db=schema_name, quoted=True),
                                            expressions=columns), kind="TABLE", exists=True)
        with engine.as_user(self.info.definer):
            engine.execute(render(create))
        self.existing.add(name)

    def _deliver(self, produced: list[outputs.Output], arrivals: list[int]) -> None:
        """On the event loop: the outputs into their real-time tables, published."""
        try:
            outputs.commit(self.plant, produced)  # journalled, then in memory and published
        except Exception as error:  # noqa: BLE001 (outputs that do not fit their table)
            log.warning("subscription %s: outputs not delivered: %s", self.info.name, error)
            self.figures.failed(error)
            return
        done = time.time_ns()
        with self.figures.lock:
            self.figures.rows_out += sum(output.rows.num_rows for output in produced)
            self.figures.latencies.extend((done - arrived) / 1e6 for arrived in arrivals)

    def _close(self) -> None:
        for part in (self.publisher, self.resident):
            if part is not None:
                part.close()


class Subscriptions:
    """The subscriptions a tickerplant runs, kept in step with the catalog."""

    def __init__(self, plant: Tickerplant, post: Post) -> None:
        self.plant, self.post = plant, post
        self.store = SubscriptionStore(plant.engine.db)
        self.running: dict[str, Running] = {}
        self.lock = threading.Lock()
        self.closed = False

    def offer(self, table: str, rows: pa.Table) -> None:
        """On the event loop: a table's new rows, to the subscriptions on it."""
        arrived = time.time_ns()
        for running in list(self.running.values()):
            if running.plan.table == table:
                running.offer(rows, arrived)

    def refresh(self) -> None:
        """Off the event loop: start what the catalog has and is not running (or changed),
        stop what it no longer has, start again those whose function changed, and write the
        figures."""
        with self.lock:
            if self.closed:
                return
            wanted = {info.name: info for info in self.store.all()}
            functions = {f.name: f for f in self.plant.engine.functions.all()}
            for name, running in list(self.running.items()):
                if wanted.get(name) is None or wanted[name].created != running.info.created:
                    self._stop(name)
                    continue
                function = functions.get(running.plan.function)
                if function != running.function:
                    log.info("subscription %s restarted: function %s was %s", name,
                             running.plan.function, "dropped" if function is None else "replaced")
                    if not running.replace(function):  # it had failed to start: afresh
                        self._stop(name)
            for name, info in wanted.items():
                if name not in self.running:
                    self._start(info, functions)
            for name, running in self.running.items():
                with running.figures.lock:
                    running.figures.lag = running.queued
                self.store.report(name, running.info.created, running.figures.as_dict())

    def _start(self, info: SubscriptionInfo, functions: Mapping[str, FunctionInfo]) -> None:
        running = Running(self.plant, info, self.post, functions)
        self.running[info.name] = running
        table = running.plan.table

        def listen() -> None:  # on the loop: rows from now on are the subscription's
            live = self.plant.table(table)
            if not live.watched:
                live.unpublished()
                live.watched = True
            self.plant.listened.add(table)
        self.post(listen)
        running.thread.start()
        log.info("subscription %s started: %s on %s", info.name, running.plan.function, table)

    def _stop(self, name: str) -> None:
        running = self.running.pop(name)
        running.stop()
        tables = {r.plan.table for r in self.running.values()}
        if running.plan.table not in tables:
            self.post(lambda: self.plant.listened.discard(running.plan.table))
        log.info("subscription %s stopped", name)

    def close(self) -> None:
        """Stop every subscription (their threads end after their current batch)."""
        with self.lock:
            self.closed = True
            for name, running in list(self.running.items()):
                self._stop(name)
                try:
                    self.store.report(name, running.info.created,
                                      {**running.figures.as_dict(), "state": statements.STOPPED})
                except Exception as error:  # noqa: BLE001 (SHOW ages the last report out anyway)
                    log.warning("subscription %s: last figures not written: %s", name, error)


def start(plant: Tickerplant, loop: asyncio.AbstractEventLoop, executor: Executor) -> Subscriptions:
    """On the tickerplant's event loop, before it serves: its database's subscriptions, started
    now (so they see every update from the first), then kept in step with the catalog every
    ``REFRESH_SECONDS`` on ``executor``'s threads; the tickerplant hands them its tables' new
    rows from now on."""
    subscriptions = Subscriptions(plant, loop.call_soon_threadsafe)
    plant.on_rows = subscriptions.offer
    _refreshed(subscriptions)

    def refresh() -> None:
        loop.call_later(REFRESH_SECONDS, refresh)
        loop.run_in_executor(executor, _refreshed, subscriptions)
    loop.call_later(REFRESH_SECONDS, refresh)
    return subscriptions


def _refreshed(subscriptions: Subscriptions) -> None:
    try:
        subscriptions.refresh()
    except (IndbError, OSError, Exception) as error:  # noqa: BLE001 (the next refresh tries again)
        log.warning("subscriptions not refreshed: %s", error)
