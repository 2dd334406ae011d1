"""The server's scheduler thread: it runs procedures when they are due, on a clock the test sets,
once per due time across a restart of the server, and stops with the server."""

import threading

import indb
from indb.errors import InterfaceError
from indb.server.scheduler import Scheduler
from indb.server.serve import Service
from serving import free_port, wait_until_up

START = 1798761600.0  # 2027-01-01 00:00:00 UTC
HOUR = 3600.0
WAIT = 60.0  # seconds a tick may take, at most, on a loaded machine


class Clock:
    """The time as the test says it is."""

    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


class Server:
    """A Service in a thread whose scheduler reads ``clock``."""

    def __init__(self, path, clock: Clock) -> None:
        self.service = Service(path, port=free_port(), pg_port=None, cluster="threads",
                               workers=1, log_level="warning")
        self.service.scheduler = Scheduler(self.service.pool, clock=clock, poll=HOUR)
        self.clock = clock
        self.thread = threading.Thread(target=self.service.run, daemon=True)
        self.thread.start()
        self.url = f"http://127.0.0.1:{self.service.http.config.port}"
        wait_until_up(self.url)

    def at(self, now: float) -> None:
        """Set the clock and wait for a look at the catalog that began after it was set (a
        look in progress may have read the old time)."""
        self.clock.now = now
        assert self.service.scheduler.wait_ticks(self.service.scheduler.wake(), WAIT)

    def rows(self) -> int:
        with indb.connect(self.url, token=None) as remote:
            return remote.sql("SELECT count(*) FROM log").fetchone()[0]

    def stop(self) -> None:
        self.service.stop()
        self.thread.join(WAIT)
        assert not self.thread.is_alive()
        assert not self.service.scheduler._thread.is_alive()  # stopped with the server


def test_the_server_runs_due_procedures_once_across_a_restart(tmp_path):
    with indb.connect(tmp_path / "db") as conn:
        conn.sql("CREATE TABLE log (n INTEGER)")
        conn.sql("CREATE PROCEDURE tick BEGIN INSERT INTO log VALUES (1); END "
                 "EXECUTE FOR EVERY 1 HOUR STARTING AT '2027-01-01 00:00:00'")
    server = Server(tmp_path / "db", Clock(START - 60))
    try:
        server.at(START - 1)
        assert server.rows() == 0  # not due yet
        server.at(START + 1)
        assert server.rows() == 1
        server.at(START + 2)
        assert server.rows() == 1  # the same due time: not again
    finally:
        server.stop()
    server = Server(tmp_path / "db", Clock(START + 3))  # restarted within the same hour
    try:
        server.at(START + 4)
        assert server.rows() == 1
        server.at(START + 4.5 * HOUR)  # four due times passed while it was down: one run
        assert server.rows() == 2
    finally:
        server.stop()
    with indb.connect(tmp_path / "db") as conn:
        runs = conn.sql("SHOW FUNCTION STATUS").arrow().to_pylist()
    assert [(r["FUNCTION_NAME"], r["OVERALL_STATUS"], r["tag"], r["user"]) for r in runs] == [
        ("tick", "complete", "due 2027-01-01 04:00:00 UTC", "owner"),
        ("tick", "complete", "due 2027-01-01 00:00:00 UTC", "owner")]


class ClosedPool:
    """A pool that is shutting down: every connection asked for is refused."""

    def connection(self, user):
        raise InterfaceError("the server is shutting down; it takes no new statements")


def test_a_look_that_fails_is_logged_and_the_scheduler_goes_on(caplog):
    scheduler = Scheduler(ClosedPool(), clock=Clock(START), poll=HOUR)
    scheduler.start()
    try:
        assert scheduler.wait_ticks(1, WAIT)  # the first look failed...
        assert scheduler.wait_ticks(scheduler.wake(), WAIT)  # ... and it looks again
    finally:
        scheduler.stop(WAIT)
    assert not scheduler._thread.is_alive()
    assert "could not run the procedures due" in caplog.text and "shutting down" in caplog.text
