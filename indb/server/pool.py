"""The server's connections to its database, and the function runs its clients started.

A statement takes a connection of the pool for its turn (parsing, planning, the write; a query's
rows then stream on a DuckDB connection of their own, outside that turn) and gives it back. A
function run keeps its connection until it ends, so a long run holds one connection and the
others go on serving queries. Runs are carried out on threads of their own: a client that goes
away while one runs leaves it running to its end, which commits all its output or none of it.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlglot import exp

import indb
from indb.catalog.users import OWNER
from indb.connection import Connection
from indb.engine import transactions
from indb.errors import IndbError, InterfaceError
from indb.parser import ExecuteFunction, KillFunction, parse, render_indb
from indb.result import Result
from indb.sharding.executor import RunProgress

POOL_SIZE = 4  # connections: runs that may go on at once while queries are still served
KEPT_RUNS = 1000  # runs that ended kept in memory for their clients (older ones: SHOW FUNCTION STATUS)


class ConnectionPool:
    """Up to ``size`` connections a user to one database, opened as they are first needed:
    a user's statements run on connections opened as that user (``indb.connect(dir,
    user=...)``), so its privileges are checked and, below admin, DuckDB reads no other files."""

    def __init__(self, path: str | Path, size: int = POOL_SIZE, **options: Any) -> None:
        self.path, self.size, self.options = path, size, options
        self._idle: dict[str, queue.LifoQueue[Connection]] = {}
        self._opened: dict[str, int] = {}
        self._all: list[Connection] = []
        self._lock = threading.Lock()
        self._closed = False
        with self.connection():  # the first now: a bad directory is reported at start
            pass

    @contextmanager
    def connection(self, user: str = OWNER) -> Iterator[Connection]:
        """A connection of ``user``'s for one statement's turn (or one run)."""
        idle, conn = self._take(user)
        try:
            yield conn
        finally:
            conn.progress = None
            if conn.engine.db.pending is not None:  # a transaction left open in the turn (an
                transactions.discard(conn.engine)  # HTTP request's): rolled back, not lent on
            idle.put(conn)

    def _take(self, user: str) -> tuple[queue.LifoQueue[Connection], Connection]:
        with self._lock:
            if self._closed:
                raise InterfaceError("the server is shutting down; it takes no new statements")
            idle = self._idle.setdefault(user, queue.LifoQueue())
            try:
                return idle, idle.get_nowait()
            except queue.Empty:
                opening = self._opened.get(user, 0) < self.size
                if opening:
                    self._opened[user] = self._opened.get(user, 0) + 1
        if not opening:
            return idle, idle.get()
        try:
            # (a client's statements read no variable of the server's: replacements off)
            conn = indb.connect(self.path, user=user, replacements=False, **self.options)
            conn.engine.temporaries = None  # a PostgreSQL session lends its own for a turn
            conn.engine.pooled = True
        except BaseException:
            with self._lock:
                self._opened[user] -= 1
            raise
        with self._lock:
            self._all.append(conn)
        return idle, conn

    def close(self) -> None:
        """Close every connection (each waits for the runs it started with nowait)."""
        with self._lock:
            self._closed = True
            opened, self._all = self._all, []
        for conn in opened:
            conn.close()


def is_run(sql: str) -> bool:
    """Whether ``sql`` is one EXECUTE FUNCTION statement (parse errors are the engine's to tell)."""
    try:
        trees = parse(sql)
    except IndbError:
        return False
    return len(trees) == 1 and isinstance(trees[0], ExecuteFunction)


@dataclass
class TrackedRun:
    """A run a client started through the server: its latest progress, then its outcome."""

    user: str = OWNER
    run_id: str | None = None
    progress: RunProgress | None = None
    result: Result | None = None
    error: BaseException | None = None
    changed: threading.Condition = field(default_factory=threading.Condition)
    version: int = 0  # counts changes, so a watcher knows whether it saw the latest

    @property
    def done(self) -> bool:
        return self.result is not None or self.error is not None

    def update(self, **values: Any) -> None:
        with self.changed:
            for name, value in values.items():
                setattr(self, name, value)
            self.version += 1
            self.changed.notify_all()


class Runs:
    """Function runs started for clients, each on a thread of its own, by run id."""

    def __init__(self, pool: ConnectionPool) -> None:
        self.pool = pool
        self._runs: dict[str, TrackedRun] = {}
        self._threads: list[threading.Thread] = []
        self._lock = threading.Lock()

    def start(self, sql: str, params: Any, user: str = OWNER) -> TrackedRun:
        """Start the statement; returns once the run has an id (or has ended: failed to plan,
        or ran with nowait)."""
        run = TrackedRun(user)

        def carry_out() -> None:
            try:
                with self.pool.connection(user) as conn:
                    def heard(progress: RunProgress) -> None:
                        if run.run_id is None:
                            with self._lock:
                                self._forget_ended()
                                self._runs[progress.run_id] = run
                        run.update(run_id=progress.run_id, progress=progress)
                    conn.progress = heard
                    result = conn.sql(sql, params)
                    result.arrow()  # a run's status row, read before the connection goes back
                    run.update(result=result)
            except BaseException as error:  # every outcome is the client's to hear
                run.update(error=error)

        thread = threading.Thread(target=carry_out, name="indb-server-run", daemon=True)
        with self._lock:
            self._threads = [t for t in self._threads if t.is_alive()] + [thread]
        thread.start()
        with run.changed:
            run.changed.wait_for(lambda: run.run_id is not None or run.done)
        return run

    def _forget_ended(self) -> None:
        """Keep the last KEPT_RUNS runs that ended (their records stay in the database)."""
        ended = [run_id for run_id, run in self._runs.items() if run.done]
        for run_id in ended[:max(0, len(ended) - KEPT_RUNS)]:
            del self._runs[run_id]

    def get(self, run_id: str, user: str) -> TrackedRun | None:
        """A run ``user`` started through the server (others' are read from the records, as
        that user may)."""
        with self._lock:
            run = self._runs.get(run_id)
        return run if run is not None and run.user == user else None

    def kill(self, run_id: str, user: str = OWNER) -> Result:
        with self.pool.connection(user) as conn:
            return conn.sql(render_indb(KillFunction(this=exp.Literal.string(run_id))))

    def in_flight(self) -> list[str]:
        with self._lock:
            return [run_id for run_id, run in self._runs.items() if not run.done]

    def join(self, timeout: float | None) -> bool:
        """Wait up to ``timeout`` seconds for every run to end; whether they all have."""
        with self._lock:
            threads = list(self._threads)
        deadline = None if timeout is None else time.monotonic() + timeout
        for thread in threads:
            thread.join(None if deadline is None else max(0.0, deadline - time.monotonic()))
        return not any(t.is_alive() for t in threads)
