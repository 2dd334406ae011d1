"""The server's scheduler: runs the SQL procedures that are due (``EXECUTE FOR EVERY ...``).

One thread looks at the catalog when the next due time comes, and at least every ``poll``
seconds (another connection, or another server of the database, may create a procedure), and
hands the time to ``indb.engine.procedures.run_due``, which claims each due time in the catalog
before running it: a due time runs once across servers and restarts, and due times that passed
while no server ran are caught up by one run. Runs use one of the owner's connections of the
pool, the body running with its definer's rights.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from indb.catalog.users import OWNER
from indb.engine import procedures
from indb.server.pool import ConnectionPool

POLL = 5.0  # seconds between looks at the catalog when nothing is due sooner

log = logging.getLogger("indb.server")


class Scheduler:
    """Runs due procedures on a thread of its own, from ``start()`` to ``stop()``; ``clock``
    tells the time (seconds since the epoch)."""

    def __init__(self, pool: ConnectionPool, clock: Callable[[], float] = time.time,
                 poll: float = POLL) -> None:
        self.pool, self.clock, self.poll = pool, clock, poll
        self.started = self.ticks = 0  # looks at the catalog begun, and ended, so far
        self.ticked = threading.Condition()  # notified after each look
        self._wake = threading.Event()
        self._stopping = False
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name="indb-scheduler", daemon=True)
        self._thread.start()

    def stop(self, timeout: float | None = None) -> None:
        """Stop looking; a run in progress gets ``timeout`` seconds to end."""
        self._stopping = True
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def wake(self) -> int:
        """Look at the catalog (and the clock) again now; the number of a look that begins
        after this call, for ``wait_ticks``."""
        with self.ticked:
            number = self.started + 1
        self._wake.set()
        return number

    def wait_ticks(self, count: int, timeout: float) -> bool:
        """Wait until ``count`` looks have ended; whether they have."""
        with self.ticked:
            return self.ticked.wait_for(lambda: self.ticks >= count, timeout)

    def tick(self) -> float | None:
        """Run what is due now; the next due time (None: nothing is scheduled)."""
        with self.pool.connection(OWNER) as conn:
            return procedures.run_due(conn.engine, self.clock())  # plans of the server's own

    def _loop(self) -> None:
        while not self._stopping:
            with self.ticked:
                self.started += 1
            try:
                upcoming = self.tick()
            except Exception:  # the catalog busy, the pool closing: look again later
                log.exception("the scheduler could not run the procedures due")
                upcoming = None
            with self.ticked:
                self.ticks += 1
                self.ticked.notify_all()
            wait = self.poll if upcoming is None else min(self.poll, max(0.0, upcoming - self.clock()))
            self._wake.wait(wait)
            self._wake.clear()
