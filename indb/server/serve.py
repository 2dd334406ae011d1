"""``indb serve``: one process that owns the database and serves it over HTTP (uvicorn) and the
PostgreSQL protocol, until SIGTERM or SIGINT; then runs in flight get ``grace`` seconds to
finish, and those still going are killed (a killed run writes nothing) before it exits."""

from __future__ import annotations

import ipaddress
import logging
import math
import signal
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import uvicorn

from indb.catalog import users
from indb.catalog.database import Database
from indb.errors import AuthenticationError, OptionError
from indb.server.app import Authenticate, ServerState, create_app
from indb.server.pgtls import tls_context
from indb.server.pgwire import PgServer
from indb.server.pool import POOL_SIZE, ConnectionPool
from indb.server.scheduler import Scheduler

GRACE = 30.0  # seconds runs in flight get to finish when the server is stopped
KILLED_WAIT = 120.0  # seconds to wait for killed runs to clean up after themselves

log = logging.getLogger("indb.server")


def loopback(host: str) -> bool:
    """Whether ``host`` is reachable only from this machine."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def authenticator(db: Database, host: str) -> Authenticate:
    """The server's check of who asks: a token (CREATE TOKEN FOR user) names its user; without
    one, a server bound to loopback serves the machine's own user as the database's owner (as
    ``indb.connect(dir)`` does) while the database has no users, and refuses otherwise."""
    open_to_owner = loopback(host)

    def authenticate(token: str | None) -> str:
        if token is not None:
            return users.authenticate_token(db, token)
        if open_to_owner and users.owner_only(db.engine):
            return users.OWNER
        raise AuthenticationError("this server needs an API token: send 'Authorization: Bearer "
                                  "<token>' (indb.connect(url, token=...), indb --token, or the "
                                  "password of a PostgreSQL client); an admin makes one with "
                                  "CREATE TOKEN FOR user")
    return authenticate


def password_sign_in(db: Database, authenticate: Authenticate) -> Callable[[str, str], str]:
    """The pg port's check of a client's password message, for the user its startup message
    names: an API token as everywhere (``authenticate``), else that user's password (CREATE USER
    ... PASSWORD), as a PostgreSQL server signs a user in by password."""
    def sign_in(user: str, password: str) -> str:
        if not user or password.startswith(f"{users.TOKEN_PREFIX}_"):
            return authenticate(password or None)
        users.check_password(db, user, password)
        return user
    return sign_in


def _stopped_by(signum: int, frame: object) -> None:
    log.info("stopped by signal %s", signum)


class Service:
    """The HTTP and PostgreSQL servers of one database, started and stopped together."""

    def __init__(self, db: str | Path, *, host: str = "127.0.0.1", port: int = 8765,
                 pg_port: int | None = 5433, tls_cert: str | None = None,
                 tls_key: str | None = None, authenticate: Authenticate | None = None,
                 grace: float = GRACE, pool_size: int = POOL_SIZE, log_level: str = "info",
                 **options: Any) -> None:
        if (tls_cert is None) != (tls_key is None):
            raise OptionError("TLS needs both --tls-cert and --tls-key")
        self.grace = grace
        self.pool = ConnectionPool(db, pool_size, **options)
        self.db = Database(db)  # the users and tokens the default authentication reads
        self.authenticate = authenticate or authenticator(self.db, host)
        self.state = ServerState(self.pool, self.authenticate, self.db)
        self.scheduler = Scheduler(self.pool)  # runs the procedures that are due
        self.pg: PgServer | None = None
        if pg_port is not None:
            self.pg = PgServer((host, pg_port), self.pool, self.state.runs, self.authenticate,
                               password_sign_in(self.db, self.authenticate),
                               tls=tls_context(tls_cert, tls_key) if tls_cert and tls_key else None)
        app = create_app(self.state, on_shutdown=self._stop)
        config = uvicorn.Config(app, host=host, port=port, ssl_certfile=tls_cert,
                                ssl_keyfile=tls_key, timeout_graceful_shutdown=max(1, math.ceil(grace)),
                                log_level=log_level, lifespan="on")
        self.http = uvicorn.Server(config)
        self._stopped = threading.Event()

    @property
    def pg_port(self) -> int | None:
        return None if self.pg is None else self.pg.server_address[1]

    def run(self) -> None:
        """Serve until a signal (or ``stop()``); returns once everything is closed."""
        if self.pg is not None:
            self.pg.start()
        self.scheduler.start()
        # uvicorn raises the signal that stopped it again once it has shut down; handled here it
        # returns, so the caller closes the cluster and exits normally instead of dying of it
        previous = {}
        if threading.current_thread() is threading.main_thread():
            previous = {sig: signal.signal(sig, _stopped_by) for sig in (signal.SIGINT, signal.SIGTERM)}
        try:
            self.http.run()
        finally:
            self._stop()
            for sig, handler in previous.items():
                signal.signal(sig, handler)

    def stop(self) -> None:
        """Ask the server to stop, as SIGTERM does (from another thread)."""
        self.http.should_exit = True

    def _stop(self) -> None:
        """Stop taking statements, let runs in flight finish (``grace`` seconds), kill the rest,
        close the database. Runs once, whichever way the server stops."""
        if self._stopped.is_set():
            return
        self._stopped.set()
        self.state.stopping.set()
        self.scheduler.stop(self.grace)
        if self.pg is not None:
            self.pg.stop()
        runs = self.state.runs
        if not runs.join(self.grace):
            for run_id in runs.in_flight():
                log.warning("stopping: killing run %s, which did not finish in %s s", run_id, self.grace)
                runs.kill(run_id)
            runs.join(KILLED_WAIT)
        self.pool.close()
        self.db.close()


__all__ = ["GRACE", "Service", "authenticator", "loopback"]
