"""A kdb+ host over IPC, as a client: its URL (``address``), one connection past kdb+'s
handshake (``Link``), and ``rows``, what SQL's ``kdb('kdb://host:port', 'q query')`` reads. The
URL is ``kdb://[user:password@]host:port``; without credentials in it, ``INDB_KDB_USER`` and
``INDB_KDB_PASSWORD`` give them. Credentials go into the handshake and nowhere else: errors and
logs name ``host:port`` only.

PyKX encodes and decodes every message (``kx.serialize``/``kx.deserialize``, unlicensed), loaded
the first time a message is: the engine imports this module, and only statements that read a
kdb+ host need PyKX. The socket and kdb+'s handshake (``user:password``, a capability byte, a
NUL; one byte back, or the connection closed for bad credentials) are this module's: PyKX's own
client waits for the handshake in C holding Python's lock, which would stall every thread of the
process (the tickerplant's loop among them) while a remote host is slow to answer, and it drops
an async message without an error when the socket stays full past its timeout.
"""

from __future__ import annotations

import functools
import importlib
import os
import select
import socket
import struct
import urllib.parse
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa

from indb.errors import OptionError, RunError

SCHEME = "kdb"
USER_ENV, PASSWORD_ENV = "INDB_KDB_USER", "INDB_KDB_PASSWORD"
TIMEOUT = 10.0  # seconds to connect, or to send a message, before the host is given up on
QUERY_TIMEOUT = 300.0  # seconds a query's answer may take
UNREACHABLE = "unreachable"  # a KdbHostError's status when trying again may help

HEADER = struct.Struct("<BBBBI")  # endianness, message type, compressed, reserved, total length
SYNC, RESPONSE = 1, 2  # message types
CAPABILITY = 3  # the IPC capability indb asks for and answers with: no messages over 2 GB, no
# compression


@functools.cache
def pykx() -> Any:
    """PyKX in its unlicensed mode (serialising and IPC need no licence), set before it loads."""
    os.environ.setdefault("PYKX_UNLICENSED", "true")
    os.environ.setdefault("PYKX_SUPPRESS_WARNINGS", "true")
    # indb has imported pyarrow already; PyKX would otherwise try it in a child process first
    os.environ.setdefault("PYKX_LOAD_PYARROW_UNSAFE", "true")
    return importlib.import_module("pykx")


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


def encode(obj: Any, message_type: int) -> bytes:
    """An IPC message of ``obj`` (a PyKX object) with the given message type."""
    return bytes(pykx().serialize(obj, mode=CAPABILITY, wait=message_type).copy())


class Link:
    """One IPC connection to a kdb+ host, past its handshake."""

    def __init__(self, where: Address, timeout: float = TIMEOUT) -> None:
        self.where = where
        try:
            self.sock = socket.create_connection((where.host, where.port), timeout=timeout)
        except OSError as error:
            raise KdbHostError(f"cannot connect to the kdb+ host {where.where}: {reason(error)}; "
                               "check that it listens there and that this machine may reach "
                               "it", status=UNREACHABLE) from None
        # every message goes at once: with Nagle's algorithm a small one (a subscription's
        # .u.upd of a few rows) waits for the ACK of the one before, which the host's kernel
        # may delay by 40 ms
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        try:
            credentials = f"{where.user}:{where.password}".encode()
            self.sock.sendall(credentials + bytes([CAPABILITY, 0]))
            answer = self.sock.recv(1)
        except OSError as error:
            self.close()
            raise KdbHostError(f"the kdb+ host {where.where} did not finish the handshake: "
                               f"{reason(error)}", status=UNREACHABLE) from None
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
        self.send(encode(obj, SYNC))
        sending = self.sock.gettimeout()
        self.sock.settimeout(timeout)
        try:
            return self._answer()
        finally:
            self.sock.settimeout(sending)

    def _answer(self) -> Any:
        while True:
            head = self._read(HEADER.size)
            _, kind, _, _, length = HEADER.unpack(head)
            if length < HEADER.size:
                raise KdbHostError(f"the kdb+ host {self.where.where} sent a message that is not "
                                   f"kdb+ IPC (length {length})", status="error")
            body = self._read(length - HEADER.size)
            if kind == RESPONSE:  # async messages before it (none from a tickerplant) pass
                break
        kx = pykx()
        try:
            return kx.deserialize(head + body)
        except kx.QError as error:
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


def reason(error: OSError) -> str:
    """An OSError in a few words, for messages."""
    return error.strerror or str(error) or type(error).__name__


def rows(url: str, query: str, timeout: float = QUERY_TIMEOUT) -> pa.Table:
    """What a kdb+ host answers to ``query`` (a q expression, sent sync as a string, as q's
    ``h"select from trade"`` sends it; indb's tickerplant takes SQL or q-sql), as Arrow. The
    answer must be a table (a keyed table's keys become its first columns)."""
    where = address(url)
    link = Link(where, min(timeout, TIMEOUT))
    kx = pykx()
    try:
        answer = link.request(kx.CharVector(query), timeout)
    except OSError as error:
        raise KdbHostError(f"the kdb+ host {where.where} did not answer the query: "
                           f"{reason(error)}") from None
    finally:
        link.close()
    if isinstance(answer, kx.KeyedTable):
        return pa.Table.from_pandas(answer.pd().reset_index(), preserve_index=False)
    if isinstance(answer, kx.Table):
        return answer.pa()
    raise KdbHostError(f"the kdb+ host {where.where} answered the query with a "
                       f"{type(answer).__name__}, not a table; kdb(...) reads tables: write a "
                       "query that returns one (select ... from t)", status="error")
