"""Subscriptions running in a tickerplant: a function on a table's ticks, in adaptive micro-batches.

The tickerplant hands every table's newly accepted rows (journalled, in its real-time table) to
``Subscriptions.offer`` on its event loop; each running subscription queues them and, when its
function's process is idle, hands it the next batch there and then, as inference servers'
dynamic batching does: while a batch runs, rows accumulate; the next batch, sent when the
results come back (read on the loop too), takes everything that arrived, at most
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
(``indb.stream.resident``): a crash or hostile code there cannot take the tickerplant down; or,
where an admin asks for it (``ISOLATION = 'none'``), on the tickerplant's event loop
(``indb.stream.inline``), with none of those guards and none of the hops between processes. A batch
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

import asyncio
import collections
import logging
import threading
import time
from collections.abc import Callable, Mapping
from concurrent.futures import Executor, Future, ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from sqlglot import exp

from indb.catalog.names import split_name
from indb.catalog.types import inferred_sql_type
from indb.engine import subscriptions as statements
from indb.errors import FunctionError, IndbError, not_found
from indb.parser import render
from indb.planner import subscriptions as plans
from indb.registry.functions import FunctionInfo
from indb.registry.subscriptions import SubscriptionInfo, SubscriptionStore
from indb.runtime.gpus import visible_gpus
from indb.stream import outputs
from indb.stream.inline import Inline
from indb.stream.resident import Heard, ModelAsked, Ready, Resident

if TYPE_CHECKING:
    from indb.stream.tickerplant import Tickerplant
    from indb.stream.window import Mirror

REFRESH_SECONDS = 1.0   # how often definitions are read from, and figures written to, the catalog
LATENCIES = 10_000      # the latest updates' latencies kept for the percentiles
BATCH_SIZES = 1_000     # the latest batches' sizes kept for the mean and maximum
# how long a new process may take to load the function (imports, models loaded at import; the
# subscription's TIMEOUT where that is longer) before it is ended and the next batch starts another
LOADING_SECONDS = 60.0

log = logging.getLogger("indb.stream")
Queued = tuple[list[int], pa.Table | None, int]  # a queued update: arrivals, rows, how many


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
    """One subscription at work, driven from the tickerplant's event loop: its queue of rows,
    its function's process (a batch written to it and its results read on the loop: no thread
    between them, whose hand-offs cost a wake-up and a pass of Python's lock each), its
    figures. Only what blocks runs off the loop, on ``executor``: starting the process, a
    model's facts and an output table from the catalog, and publishing to a remote kdb+."""

    def __init__(self, plant: Tickerplant, info: SubscriptionInfo, loop: asyncio.AbstractEventLoop,
                 executor: Executor, functions: Mapping[str, FunctionInfo],
                 take: Callable[[str], None]) -> None:
        """``functions``: the catalog's, by name, read once for all subscriptions; ``take``
        gives a table's subscriptions the rows of their updates not taken yet
        (``Subscriptions.take``)."""
        self.plant, self.info, self.loop, self.executor = plant, info, loop, executor
        self.take = take
        self.plan = plans.restored(info.definition)
        # the function it runs (None: dropped); replaced: changed since its process started
        self.function = functions.get(self.plan.function)
        self.replaced = False
        self.figures = Figures()
        # updates: their arrival times (ns), their rows (None: not taken from the real-time
        # table yet; such updates are the queue's last), how many
        self.queue: collections.deque[Queued] = collections.deque()
        self.untaken = 0  # updates at the queue's end whose rows are not taken yet
        self.queued = 0  # rows in the queue
        # starting (its process, off the loop), loading (its process loads the function), idle,
        # busy (a batch in its process), failed (to start), stopped
        self.state = "starting"
        self.arrivals: list[int] = []  # the batch in the process: its updates' arrival times
        # a batch's timeout, the wait for more rows, or the limit on a process's loading
        self.timer: asyncio.TimerHandle | None = None
        self.syms = pa.array(self.plan.syms, pa.string()) if self.plan.syms else None
        self.resident: Resident | Inline | None = None  # where its function runs
        self.publisher: Any = None  # indb.stream.remote.Publisher, made at the first output
        self.publishing: ThreadPoolExecutor | None = None  # its calls, in order
        self.existing: set[str] = set()  # output tables seen in the catalog (a look-up is ms)
        self.mirror: Mirror | None = None  # the window state of a process that ended

    def _off_loop(self, work: Callable[[], Any], then: Callable[[Future[Any]], None]) -> None:
        """``work`` on the executor's thread, then ``then`` of its future on the loop."""
        self.executor.submit(work).add_done_callback(
            lambda done: self.loop.call_soon_threadsafe(then, done))

    # -- from the catalog's refresh (any thread) ---------------------------------------------

    def begin(self, mirror: Mirror | None = None) -> None:
        """Start its process (``mirror``: the window state to go on from)."""
        self._off_loop(lambda: self._start(mirror), self._started)

    def stop(self) -> None:
        self.loop.call_soon_threadsafe(self.close)

    def replace(self, function: FunctionInfo | None) -> bool:
        """Its function was replaced (or dropped: None): its process starts again before the
        next batch, at once if none runs; False where it failed to start (start it afresh)."""
        if self.state == "failed":
            return False
        self.loop.call_soon_threadsafe(self._replace, function)
        return True

    # -- on the loop --------------------------------------------------------------------------

    @property
    def alive(self) -> bool:
        """Whether it takes rows (not failed to start, not stopped)."""
        return self.state not in ("failed", "stopped")

    def arrived(self, arrived: int, count: int) -> None:
        """An update of ``count`` rows arrived (``Subscriptions.offer`` gives its rows)."""
        if not self.alive:
            return
        self.queue.append(([arrived], None, count))
        self.untaken += 1
        self.queued += count

    def given(self, rows: pa.Table) -> None:
        """The rows of the updates whose rows were not taken yet, as one entry."""
        if not self.untaken:
            return  # it started after they arrived, or it takes none
        untaken = [self.queue.pop() for _ in range(self.untaken)][::-1]  # in arrival order
        arrivals = [arrived for times, _, _ in untaken for arrived in times]
        self.queued -= sum(count for _, _, count in untaken)
        self.untaken = 0
        self.queue.append((arrivals, rows, rows.num_rows))
        self.queued += rows.num_rows

    def close(self) -> None:
        """Stop: its process ended, nothing more taken (on the loop, or once it stopped)."""
        self.state = "stopped"
        self._forget()
        self._cancel_timer()
        if self.resident is not None:
            self.resident.close()
        if self.publishing is not None:
            publisher, self.publisher = self.publisher, None
            if publisher is not None:
                self.publishing.submit(publisher.close)
            self.publishing.shutdown(wait=False)

    def _replace(self, function: FunctionInfo | None) -> None:
        self.function, self.replaced = function, True
        if self.state == "idle":
            self._restart()

    def _start(self, mirror: Mirror | None) -> Resident | Inline:
        """Off the loop: the definer may still run it; its function's process started, the
        function loaded there once with the models it loads (with ``ISOLATION = 'none'``,
        loaded here, in the tickerplant's)."""
        engine = self.plant.engine
        statements.check_definer(engine, self.plan, self.info.definer)
        function = self.function
        if function is None:
            raise not_found("function", self.plan.function)
        plan = self.plan
        query = None if plan.query is None else {
            "name": plan.name, "table": plan.table, "query": plan.query,
            "windowed": plan.windowed, "keys": list(plan.keys), "history": plan.history}
        code_dir = str(engine.functions.code_dir(function))
        device = "cuda" if visible_gpus() else "cpu"
        resident: Resident | Inline
        if plan.isolation == "none":
            resident = Inline(self.info.name, function, code_dir, dict(plan.params), plan.outputs,
                              device, engine.models.get, lambda model: statements.admin_owns(
                                  engine, "model", model), query)
        else:
            resident = Resident(self.info.name, function, code_dir, str(engine.db.path),
                                dict(plan.params), plan.outputs, device, engine.models.get, query)
        if mirror is not None:
            resident.mirror = mirror
        try:
            resident.start()
        except BaseException:
            resident.close()
            raise
        return resident

    def _started(self, done: Future[Resident | Inline]) -> None:
        """Its process is up (or failed to start: recorded, the tickerplant goes on; tried
        again if the function changed meanwhile)."""
        try:
            resident = done.result()
        except Exception as error:  # noqa: BLE001 (recorded; the tickerplant goes on)
            if self.state == "stopped":
                return
            if self.replaced:
                self.replaced = False
                self.begin()
                return
            log.error("subscription %s cannot start: %s", self.info.name, error)
            self.figures.failed(error)
            self.state = "failed"
            self._forget()
            with self.figures.lock:
                self.figures.state = "failed to start"
            return
        if self.state == "stopped":
            resident.close()
            return
        self.resident = resident
        resident.attach(self.loop, self._heard, self._lost)
        self.state = "loading"  # until it says it is ready: its import is not a batch's time
        self.timer = self.loop.call_later(self._loading_limit, self._stuck)

    def _ready(self) -> None:
        """Its process has loaded the function: batches go to it from now on."""
        self._cancel_timer()
        self.state = "idle"
        with self.figures.lock:
            self.figures.state = "running"
        self.send_next()

    def _stuck(self) -> None:
        """Its process did not load the function in time: ended; the next batch starts
        another."""
        self.timer = None
        self._not_loaded(f"did not load the function within {self._loading_limit:g} s")

    @property
    def _loading_limit(self) -> float:
        """Seconds a new process may take to load the function (TIMEOUT, if longer)."""
        return max(LOADING_SECONDS, self.plan.timeout)

    def _restart(self) -> None:
        """A new process (the function replaced, or the last one ended), seeded with the
        window state the old one had."""
        mirror = self.mirror
        if self.resident is not None:
            mirror = self.resident.mirror
            self.resident.close()
            self.resident = None
        self.replaced = False
        self.state = "starting"
        self.begin(mirror)

    def send_next(self) -> None:
        """The next batch to the process, if it is idle: what has arrived, at most
        ``max_batch`` rows, once its first row has waited ``max_wait`` ms for more."""
        while self.state == "idle" and self.queue:
            if self.replaced or self.resident is None:
                self._restart()
                return
            wait = self.plan.max_wait / 1000
            if wait and self.queued < self.plan.max_batch:
                left = self.queue[0][0][0] / 1e9 + wait - time.time()
                if left > 0:
                    if self.timer is None:
                        self.timer = self.loop.call_later(left, self._waited)
                    return
            self._cancel_timer()  # a wait for more rows that they made needless
            if self.untaken:
                self.take(self.plan.table)  # once a batch, not once an update (a seal each)
            taken = self._take()
            rows = self._rows(taken)
            if not rows.num_rows:
                continue
            try:
                self.resident.send(rows)
            except IndbError as error:  # a batch too big for the process
                self._failed(error, rows.num_rows)
                continue
            self.state, self.arrivals = "busy", [a for times, _ in taken for a in times]
            self.timer = self.loop.call_later(self.plan.timeout, self._timed_out, rows.num_rows)

    def _waited(self) -> None:
        self.timer = None
        self.send_next()

    def _take(self) -> list[tuple[list[int], pa.Table]]:
        limit, taken, count = self.plan.max_batch, [], 0
        while self.queue and count < limit:
            arrivals, rows, _ = self.queue[0]
            assert rows is not None  # given (``take``) before
            if count + rows.num_rows > limit:  # split: the rest stays first in the queue
                cut = limit - count
                self.queue[0] = (arrivals, rows.slice(cut), rows.num_rows - cut)
                rows = rows.slice(0, cut)
            else:
                self.queue.popleft()
            taken.append((arrivals, rows))
            count += rows.num_rows
        self.queued -= count
        with self.figures.lock:
            self.figures.lag = self.queued
        return taken

    def _rows(self, taken: list[tuple[list[int], pa.Table]]) -> pa.Table:
        """A batch's rows of the subscription's symbols, in one chunk: each update is a chunk
        of its own (often one row), and every later step (the window state above all, which
        would keep them) pays per chunk."""
        rows = pa.concat_tables([r for _, r in taken]).combine_chunks()
        if self.syms is not None and "sym" in rows.column_names:
            rows = rows.filter(pc.is_in(rows["sym"], self.syms))
        with self.figures.lock:
            self.figures.batches += 1
            self.figures.rows_in += rows.num_rows
            self.figures.sizes.append(rows.num_rows)
        return rows

    def _heard(self, said: Heard) -> None:
        """What the function's process said: a batch's results, its error (the function's, or
        the query's), that it is ready, or a model it asks about."""
        if self.state not in ("loading", "busy") or self.resident is None:
            return  # from a process being ended
        resident = self.resident
        if isinstance(said, IndbError):
            if self.state == "busy":
                self._failed(said, None)
            return
        if isinstance(said, Ready):
            if self.state == "loading":
                self._ready()
            return
        if self.state != "busy":
            return  # a process that speaks before it is ready: not listened to
        if isinstance(said, ModelAsked):
            assert isinstance(resident, Resident)  # (an inline function looks models up itself)
            self._off_loop(lambda: resident.model_facts(said),
                           lambda done: self._answer(resident, done))
            return
        with self.figures.lock:
            self.figures.query_path = said.query
            self.figures.fallbacks += said.fell_back
        produced = [(name, table) for name, table in zip(self.plan.outputs, said.outputs, strict=True)
                    if table is not None and table.num_rows]
        missing = [(name, table.schema) for name, table in produced if name not in self.existing]
        if missing:  # looked up (and made) off the loop, once a table
            self._off_loop(lambda: self._ensure_tables(missing), lambda done: self._made(done, produced))
            return
        self._deliver(produced)

    def _answer(self, resident: Resident, done: Future[bytes]) -> None:
        if resident is self.resident:  # not a process ended meanwhile
            resident.answer(done.result())

    def _made(self, done: Future[Any], produced: list[tuple[str, pa.Table]]) -> None:
        try:
            done.result()
        except Exception as error:  # noqa: BLE001 (outputs that have no table)
            self._failed(error, None)
            return
        self._deliver(produced)

    def _ensure_tables(self, missing: list[tuple[str, pa.Schema]]) -> None:
        """Off the loop: the output tables, each created from its first output (as the
        subscription's definer) when missing."""
        for name, schema in missing:
            self._ensure_table(name, schema)

    def _ensure_table(self, name: str, schema: pa.Schema) -> None:
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

    def _deliver(self, produced: list[tuple[str, pa.Table]]) -> None:
        """The outputs into their real-time tables (journalled first), published; then the
        next batch."""
        self._done()
        try:
            outputs.commit(self.plant, outputs.prepared(self.plant, produced))
        except Exception as error:  # noqa: BLE001 (outputs that do not fit their table)
            log.warning("subscription %s: outputs not delivered: %s", self.info.name, error)
            self.figures.failed(error)
        else:
            done = time.time_ns()
            with self.figures.lock:
                self.figures.rows_out += sum(table.num_rows for _, table in produced)
                self.figures.latencies.extend((done - arrived) / 1e6 for arrived in self.arrivals)
            if self.plan.publish is not None and produced:
                if self.publishing is None:
                    self.publishing = ThreadPoolExecutor(
                        1, thread_name_prefix=f"indb-publish-{self.info.name}")
                self.publishing.submit(self._publish, produced)
        self.send_next()

    def _publish(self, produced: list[tuple[str, pa.Table]]) -> None:
        """On its own thread, in order: the outputs to the remote kdb+ tickerplant."""
        try:
            if self.publisher is None:  # connected at the first output, again after a failure
                from indb.stream.remote import Publisher
                assert self.plan.publish is not None
                self.publisher = Publisher(self.plan.publish)
            for name, table in produced:
                self.publisher.upd(name, table)
        except Exception as error:  # noqa: BLE001 (recorded; the next batch tries again)
            log.warning("subscription %s: outputs not published to %s: %s", self.info.name,
                        self.plan.publish, error)
            self.figures.failed(error)

    def _done(self) -> None:
        """The batch in the process is over: idle again."""
        self._cancel_timer()
        if self.state == "busy":
            self.state = "idle"

    def _failed(self, error: BaseException, count: int | None) -> None:
        """A batch that failed: recorded and logged, its rows dropped; the next one goes on."""
        log.warning("subscription %s: a batch%s failed: %s", self.info.name,
                    "" if count is None else f" of {count} rows", error)
        self.figures.failed(error)
        self._done()
        self.send_next()

    def _timed_out(self, count: int) -> None:
        self.timer = None
        how = self._end_process()
        self._failed(FunctionError(
            f"the function took more than {self.plan.timeout:g} s on a batch ({how}); its "
            "process was stopped and the next batch starts a new one (WITH (TIMEOUT = seconds) "
            "allows more)"), count)

    def _lost(self) -> None:
        """The process's socket closed: it ended (a crash, ``os._exit`` in the function)."""
        if self.state in ("stopped", "starting"):
            return
        if self.state == "loading":
            self._not_loaded("ended while it loaded the function")
            return
        how = self._end_process()
        error = FunctionError(f"the function's process ended ({how}); the next batch starts a "
                              "new one")
        if self.state == "busy":
            self._failed(error, None)
        else:
            log.warning("subscription %s: %s", self.info.name, error)

    def _not_loaded(self, what: str) -> None:
        """Its process failed before it was ready: recorded; it is idle without a process, so
        the next batch starts one."""
        self._cancel_timer()
        how = self._end_process()
        error = FunctionError(f"the function's process {what} ({how}); the next batch starts a "
                              "new one")
        log.warning("subscription %s: %s", self.info.name, error)
        self.figures.failed(error)
        self.state = "idle"

    def _end_process(self) -> str:
        """Its process ended (the window state kept for the next); how it ended."""
        assert self.resident is not None
        resident, self.resident = self.resident, None
        how = resident.ended()
        self.mirror = resident.mirror
        return how

    def _forget(self) -> None:
        """Its queued rows dropped: it takes no more."""
        self.queue.clear()
        self.untaken = self.queued = 0

    def _cancel_timer(self) -> None:
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None


class Subscriptions:
    """The subscriptions a tickerplant runs, kept in step with the catalog."""

    def __init__(self, plant: Tickerplant, loop: asyncio.AbstractEventLoop, executor: Executor) -> None:
        self.plant, self.loop, self.executor = plant, loop, executor
        self.store = SubscriptionStore(plant.engine.db)
        self.running: dict[str, Running] = {}
        self.lock = threading.Lock()
        self.closed = False

    def offer(self, table: str, rows: pa.Table | None, count: int) -> None:
        """On the event loop: ``count`` new rows of a table, to the subscriptions on it:
        ``rows`` are every row not taken yet (None: still in the real-time table, ``take``)."""
        arrived = time.time_ns()
        on = [running for running in self.running.values() if running.plan.table == table]
        for running in on:
            if count:
                running.arrived(arrived, count)
        if rows is not None:
            self._give(table, rows)
        elif not any(running.alive for running in on):  # nobody will take them: not kept
            self.plant.taken(table)
        for running in on:
            running.send_next()

    def take(self, table: str) -> None:
        """On the event loop: the rows not taken yet from a table, to its subscriptions."""
        self._give(table, self.plant.taken(table))

    def _give(self, table: str, rows: pa.Table) -> None:
        for running in self.running.values():
            if running.plan.table == table:
                running.given(rows)

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
        running = Running(self.plant, info, self.loop, self.executor, functions, self.take)
        self.running[info.name] = running
        table = running.plan.table

        def listen() -> None:  # on the loop: rows from now on are the subscription's
            live = self.plant.table(table)
            if not live.watched:
                live.unpublished()
                live.watched = True
            self.plant.listened.add(table)
        self.loop.call_soon_threadsafe(listen)
        running.begin()
        log.info("subscription %s started: %s on %s", info.name, running.plan.function, table)

    def _stop(self, name: str) -> None:
        running = self.running.pop(name)
        running.stop()
        tables = {r.plan.table for r in self.running.values()}
        if running.plan.table not in tables:
            self.loop.call_soon_threadsafe(self.plant.listened.discard, running.plan.table)
        log.info("subscription %s stopped", name)

    def close(self) -> None:
        """Stop every subscription and end their processes (on the loop's thread, once it has
        stopped)."""
        with self.lock:
            self.closed = True
            for name, running in list(self.running.items()):
                self.running.pop(name)
                running.close()
                try:
                    self.store.report(name, running.info.created,
                                      {**running.figures.as_dict(), "state": statements.STOPPED})
                except Exception as error:  # noqa: BLE001 (SHOW ages the last report out anyway)
                    log.warning("subscription %s: last figures not written: %s", name, error)


def start(plant: Tickerplant, loop: asyncio.AbstractEventLoop, executor: Executor) -> Subscriptions:
    """On the tickerplant's event loop, before it serves: its database's subscriptions, started
    now (so they see every update from the first), then kept in step with the catalog every
    ``REFRESH_SECONDS`` on ``executor``'s threads, which also start their processes; the
    tickerplant hands them its tables' new rows from now on."""
    subscriptions = Subscriptions(plant, loop, executor)
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
