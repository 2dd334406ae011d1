"""Another kdb+ process as a sink: a tickerplant to publish rows to (``Publisher``), as a feed
publishes. Its address, connection and errors are those of ``indb.hosts.kdb`` (the client that
SQL's ``kdb('kdb://host:port', 'q query')`` reads with): ``kdb://[user:password@]host:port``,
credentials from ``INDB_KDB_USER`` and ``INDB_KDB_PASSWORD`` without any in it.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

import pyarrow as pa

from indb.hosts.kdb import QUERY_TIMEOUT, TIMEOUT, UNREACHABLE, KdbHostError, Link, address, reason
from indb.stream import kdb

ATTEMPTS = 3  # connections tried for one update before it is refused
BACKOFF = 0.1  # seconds before the second attempt; doubled before each later one

log = logging.getLogger("indb.stream")


class Publisher:
    """A kdb+ tickerplant (kdb+'s ``tick.q``, or indb's) that rows are published to with async
    ``.u.upd[table; x]``, as a feed publishes; thread-safe.

    It connects at once (a host that cannot be reached is an error here). An update finding the
    connection lost connects again, up to ``attempts`` times with a growing pause, and sends it
    then; after that it raises KdbHostError and the update is not sent. Async updates have no
    answer: a remote refusal (an unknown table, a wrong schema) is in the tickerplant's log,
    not here; ``sync()`` waits for what was sent to be handled. Calls block (a send waits while
    the tickerplant is slow to read, up to ``timeout``; reconnecting pauses): make them from a
    thread of their own, not from an event loop.
    """

    def __init__(self, url: str, *, timeout: float = TIMEOUT, attempts: int = ATTEMPTS) -> None:
        self.address = address(url)
        self.timeout, self.attempts = timeout, max(1, attempts)
        self._lock = threading.Lock()
        self._link: Link | None = Link(self.address, timeout)
        log.info("publishing to the kdb+ host %s", self.address.where)

    def __repr__(self) -> str:
        return f"Publisher({str(self.address)!r})"

    def upd(self, table: str, rows: pa.Table) -> None:
        """Send ``rows`` to ``table`` as ``.u.upd[`table; x]``, x a kdb+ table."""
        message = kdb.update_messages((".u.upd",), table, rows)[0]
        with self._lock:
            self._deliver(lambda link: link.send(message))

    def sync(self, timeout: float = QUERY_TIMEOUT) -> int:
        """Ask the tickerplant for ``.u.i`` sync: it answers once it has handled every update
        this publisher sent before (kdb+ handles a connection's messages in order); its count
        of messages in today's journal. Waits ``timeout`` seconds at most for the answer."""
        request = kdb.kx.CharVector(".u.i")
        with self._lock:
            answer: list[Any] = []
            self._deliver(lambda link: answer.append(link.request(request, timeout)))
        return int(answer[0].py())

    def _deliver(self, send: Any) -> None:
        failure = ""
        for attempt in range(self.attempts):
            if attempt:
                time.sleep(BACKOFF * 2 ** (attempt - 1))
            try:
                if self._link is None or self._link.hung_up():
                    self._drop()
                    self._link = Link(self.address, self.timeout)
                    log.info("reconnected to the kdb+ host %s", self.address.where)
                send(self._link)
                return
            except OSError as error:
                failure = reason(error)
                self._drop()
            except KdbHostError as error:
                if error.status != UNREACHABLE:  # refused credentials, an error answered
                    raise
                failure = error.message
        raise KdbHostError(f"lost the kdb+ host {self.address.where} and could not reach it "
                           f"again in {self.attempts} attempts ({failure}); the update was not "
                           "sent: check that the tickerplant is running there")

    def _drop(self) -> None:
        if self._link is not None:
            self._link.close()
            self._link = None

    def close(self) -> None:
        with self._lock:
            self._drop()

    def __enter__(self) -> Publisher:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

