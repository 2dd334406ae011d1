"""Another kdb+ process over IPC: a tickerplant to publish rows to (``Publisher``), a host to
query (``rows``, what SQL's ``kdb('kdb://host:port', 'q query')`` reads). Its address is a URL,
``kdb://[user:password@]host:port``; without credentials in it, ``INDB_KDB_USER`` and
``INDB_KDB_PASSWORD`` give them. Credentials go into the handshake and nowhere else: errors and
logs name ``host:port`` only.

PyKX encodes and decodes every message (``kx.serialize``/``kx.deserialize``, unlicensed). The
socket and kdb+'s handshake (``user:password``, a capability byte, a NUL; one byte back, or the
connection closed for bad credentials) are this module's: PyKX's own client waits for the
handshake in C holding Python's lock, which would stall every thread of the process (the
tickerplant's loop among them) while a remote host is slow to answer, and it drops an async
message without an error when the socket stays full past its timeout.
"""

from __future__ import annotations

import logging
import os
import select
import socket
import threading
import time
import urllib.parse
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa

from indb.errors import OptionError, RunError
from indb.stream import kdb

SCHEME = "kdb"
USER_ENV, PASSWORD_ENV = "INDB_KDB_USER", "INDB_KDB_PASSWORD"
TIMEOUT = 10.0  # seconds to connect, or to send a message, before the host is given up on
QUERY_TIMEOUT = 300.0  # seconds a query's answer may take
ATTEMPTS = 3  # connections tried for one update before it is refused
BACKOFF = 0.1  # seconds before the second attempt; doubled before each later one
UNREACHABLE = "unreachable"  # a KdbHostError's status when trying again may help

log = logging.getLogger("indb.stream")


class KdbHostError(RunError):
    """A kdb+ host that cannot be reached, refuses the credentials, or answers with an error."""

    def __init__(self, message: str, run_id: str = "", status: str = "failed") -> None:
        super().__init__(message, run_id, status)

    def __str__(self) -> str:
        return self.message


@dataclass(frozen=True)
class Address:
    """Where a kdb+ host listens, and the credentials it is given (never shown)."""

    host: str
    port: int
    user: str = ""
    password: str = field(default="", repr=False)

    @property
    def where(self) -> str:
        return f"{self.host}:{self.port}"

    def __str__(self) -> str:
        return f"{SCHEME}://{self.where}"


def address(url: str) -> Address:
    """A ``kdb://[user:password@]host:port`` URL; the environment's credentials without any."""
    try:
        parts = urllib.parse.urlsplit(url)
        port = parts.port
    except (ValueError, TypeError, AttributeError):
        parts, port = None, None
    if parts is None or parts.scheme != SCHEME or not parts.hostname or port is None or \
            parts.path not in ("", "/") or parts.query or parts.fragment:
        shown = url.rpartition("@")[2] if isinstance(url, str) else repr(url)  # not the password
        raise OptionError(f"not a kdb+ host URL: {shown!r}; write kdb://host:port, or "
                          f"kdb://user:password@host:port (or set {USER_ENV} and {PASSWORD_ENV})")
    if parts.username is None:
        user, password = os.environ.get(USER_ENV, ""), os.environ.get(PASSWORD_ENV, "")
    else:
        user = urllib.parse.unquote(parts.username)
        password = urllib.parse.unquote(parts.password or "")
    return Address(parts.hostname, port, user, password)


class Link:
    """One IPC connection to a kdb+ host, past its handshake."""

    def __init__(self, where: Address, timeout: float = TIMEOUT) -> None:
        self.where = where
        try:
            self.sock = socket.create_connection((where.host, where.port), timeout=timeout)
        except OSError as error:
            raise KdbHostError(f"cannot connect to the kdb+ host {where.where}: {_reason(error)}; "
                               "check that it listens there and that this machine may reach "
                               "it", status=UNREACHABLE) from None
        try:
            credentials = f"{where.user}:{where.password}".encode()
            self.sock.sendall(credentials + bytes([kdb.CAPABILITY, 0]))
            answer = self.sock.recv(1)
        except OSError as error:
            self.close()
            raise KdbHostError(f"the kdb+ host {where.where} did not finish the handshake: "
                               f"{_reason(error)}", status=UNREACHABLE) from None
        if not answer:  # kdb+'s 'access: it closes the connection
            self.close()
            raise KdbHostError(f"the kdb+ host {where.where} refused the credentials ('access); "
                               "give them as kdb://user:password@host:port or in "
                               f"{USER_ENV} and {PASSWORD_ENV} (for indb, the password is an "
                               "API token: CREATE TOKEN FOR user)")

    def send(self, message: bytes) -> None:
        self.sock.sendall(message)

    def request(self, obj: Any, timeout: float = QUERY_TIMEOUT) -> Any:
        """Send ``obj`` sync; the answer, decoded by PyKX (a kdb+ error raises KdbHostError),
        waited for up to ``timeout`` seconds."""
        self.send(kdb.encode(obj, kdb.SYNC))
        sending = self.sock.gettimeout()
        self.sock.settimeout(timeout)
        try:
            return self._answer()
        finally:
            self.sock.settimeout(sending)

    def _answer(self) -> Any:
        while True:
            head = self._read(kdb.HEADER.size)
            body = self._read(kdb.header(head).length - kdb.HEADER.size)
            if head[1] == kdb.RESPONSE:  # async messages before it (none from a tickerplant) pass
                break
        try:
            return kdb.kx.deserialize(head + body)
        except kdb.kx.QError as error:
            raise KdbHostError(f"the kdb+ host {self.where.where} answered with an error: "
                               f"{error}", status="error") from None

    def _read(self, count: int) -> bytes:
        data = bytearray()
        while len(data) < count:
            chunk = self.sock.recv(count - len(data))
            if not chunk:
                raise ConnectionResetError("the kdb+ host closed the connection")
            data += chunk
        return bytes(data)

    def hung_up(self) -> bool:
        """Whether the host has closed the connection (a readable socket with nothing to read:
        a publisher is sent nothing, so anything readable is the end)."""
        try:
            readable, _, _ = select.select([self.sock], [], [], 0)
            return bool(readable) and not self.sock.recv(1, socket.MSG_PEEK)
        except OSError:
            return True

    def close(self) -> None:
        self.sock.close()


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
        message = kdb.encode(kdb.call(".u.upd", kdb.symbol(table), kdb.table(rows)), kdb.ASYNC)
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
                failure = _reason(error)
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


def _reason(error: OSError) -> str:
    return error.strerror or str(error) or type(error).__name__


def rows(url: str, query: str, timeout: float = QUERY_TIMEOUT) -> pa.Table:
    """What a kdb+ host answers to ``query`` (a q expression, sent sync as a string, as q's
    ``h"select from trade"`` sends it; indb's tickerplant takes SQL or q-sql), as Arrow. The
    answer must be a table (a keyed table's keys become its first columns)."""
    where = address(url)
    link = Link(where, min(timeout, TIMEOUT))
    try:
        answer = link.request(kdb.kx.CharVector(query), timeout)
    except OSError as error:
        raise KdbHostError(f"the kdb+ host {where.where} did not answer the query: "
                           f"{_reason(error)}") from None
    finally:
        link.close()
    if isinstance(answer, kdb.kx.KeyedTable):
        return pa.Table.from_pandas(answer.pd().reset_index(), preserve_index=False)
    if isinstance(answer, kdb.kx.Table):
        return answer.pa()
    raise KdbHostError(f"the kdb+ host {where.where} answered the query with a "
                       f"{type(answer).__name__}, not a table; kdb(...) reads tables: write a "
                       "query that returns one (select ... from t)", status="error")
