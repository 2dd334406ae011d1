"""An instance's outcome carried to the head with Dask's word that its task ended.

The head used to hear of an instance's end from its task's future (the worker tells the
scheduler, which tells the client), then fetch the task's result: the client asks the scheduler,
which asks the worker, and back (``Client.gather``), 2.6-3.6 ms on the H200 host for the last
instance, which the statement waits for. Now the supervisor's task publishes its ``Outcome`` as
a Dask event (``Worker.log_event`` on ``TOPIC``) just before it returns; the event takes the
same way as the word of the end, ahead of it, and the head's client, subscribed to the topic
(``cluster.Cluster``), hands it to the run waiting for that task (``Arrivals``). No fetch.

The task's future still ends as before, and a task that ends with no event (it raised, its
worker died, a worker of an older indb) is fetched as before (``executor._ended``, which looks
at the run's futures every ``POLL_INTERVAL``); a task's event, when it sends one, comes first.

The event is pickled (Dask's events carry msgpack, whose bytes take any payload), like a task's
result. The scheduler keeps the topic's last events (``distributed.admin.low-level-log-length``,
1,000 by default: a few MB of outcomes).
"""

from __future__ import annotations

import pickle
import queue
import threading
from dataclasses import dataclass
from typing import Any

from distributed import get_worker

from indb.sharding.jobs import Outcome

TOPIC = "indb-outcomes"


@dataclass(frozen=True)
class Finished:
    """The task ``key`` ended with ``outcome``."""

    key: str
    outcome: Outcome


def announce(outcome: Outcome) -> Outcome:
    """Publish the outcome of the Dask task running this (none outside a worker); returns it."""
    try:
        worker = get_worker()
    except ValueError:  # called directly, not as a task (the engine's tests)
        return outcome
    try:
        message = pickle.dumps(Finished(str(worker.get_current_task()), outcome))
    except Exception:  # noqa: BLE001 (only Dask's serializers take it: the head fetches it)
        return outcome
    worker.log_event(TOPIC, message)
    return outcome


class Arrivals:
    """The runs of a client waiting for tasks, by task key: each task's ``Finished`` goes to
    the queue of the run that expects it; events of other tasks (other heads' runs on a shared
    cluster, a run that ended) are dropped."""

    def __init__(self) -> None:
        self._waiting: dict[str, queue.SimpleQueue[Finished]] = {}
        self._lock = threading.Lock()

    def expect(self, key: str, into: queue.SimpleQueue[Finished]) -> None:
        with self._lock:
            self._waiting[key] = into

    def forget(self, keys: list[str]) -> None:
        with self._lock:
            for key in keys:
                self._waiting.pop(key, None)

    def deliver(self, event: tuple[float, Any]) -> None:
        """``Client.subscribe_topic``'s handler (on the client's event loop): (time, message)."""
        _, message = event
        finished = pickle.loads(message) if isinstance(message, bytes) else None
        if not isinstance(finished, Finished):  # not one of announce's
            return
        with self._lock:
            into = self._waiting.pop(finished.key, None)
        if into is not None:
            into.put(finished)


def arrived(into: queue.SimpleQueue[Finished], timeout: float) -> list[Finished]:
    """What arrived: waits up to ``timeout`` seconds for the first, then takes all there are."""
    try:
        first = into.get(timeout=timeout)
    except queue.Empty:
        return []
    found = [first]
    while True:
        try:
            found.append(into.get_nowait())
        except queue.Empty:
            return found
