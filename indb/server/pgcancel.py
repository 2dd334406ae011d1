"""A PostgreSQL session's cancel requests (psql's Ctrl-C, a driver's ``cancel()``, a statement
timeout): what stops the step of the statement running now, and the error that statement then
answers (57014)."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from indb import errors

INTERRUPT_AGAIN_S = 0.05  # how often a canceled query is interrupted again until it stops


@dataclass
class Stopping:
    """What a cancel request does to the step of a statement running now: ``stop`` (made
    ``again`` every INTERRUPT_AGAIN_S until the step has ``ended``)."""

    stop: Callable[[], Any]
    again: bool
    ended: threading.Event = field(default_factory=threading.Event)


class Cancelable:
    """A session a cancel request (another connection's, ``cancel``) may stop the running step
    of."""

    def __init__(self) -> None:
        super().__init__()
        self._guard = threading.Lock()
        self._stopping: Stopping | None = None
        self._canceled = False

    def begin_statement(self) -> None:
        """A new statement: a cancel request that came between statements stops none."""
        with self._guard:
            self._canceled = False

    def cancel(self) -> None:
        """A cancel request for this session: its statement running now is stopped (a query
        interrupted, a function run killed) and answers 57014; none running, nothing happens,
        as in PostgreSQL. Called on the cancel request's own connection's thread, which stays
        until the statement has stopped: DuckDB forgets an interrupt that comes before its
        query begins (between two steps of a statement), so an interrupt is made again every
        ``INTERRUPT_AGAIN_S`` while the statement runs."""
        with self._guard:
            stopping = self._stopping
            self._canceled = self._canceled or stopping is not None
        if stopping is None:
            return
        stopping.stop()
        while stopping.again and not stopping.ended.wait(INTERRUPT_AGAIN_S):
            stopping.stop()

    @property
    def running(self) -> bool:
        """Whether a statement a cancel request would stop runs now."""
        return self._stopping is not None

    @contextlib.contextmanager
    def stoppable(self, stop: Callable[[], Any], again: bool = False) -> Iterator[None]:
        """While inside, a cancel request calls ``stop`` (``again``: until the inside ends); an
        error raised meanwhile (the interrupt's) becomes the cancel's own when one came."""
        self.check_canceled()  # canceled in an earlier step of the statement
        stopping = Stopping(stop, again)
        with self._guard:
            self._stopping = stopping
        try:
            yield
        except errors.IndbError as error:
            self.check_canceled(error)
            raise
        finally:
            stopping.ended.set()
            with self._guard:
                self._stopping = None

    def check_canceled(self, cause: BaseException | None = None) -> None:
        """Raise the cancel's error if a cancel request came for the statement running now."""
        if self._canceled:
            detail = f" ({cause})" if isinstance(cause, errors.RunError) else ""
            raise errors.QueryCanceledError(f"canceling statement due to user request{detail}")
