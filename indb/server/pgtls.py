"""TLS on the pg port: the server's context, and the writer of a connection that started it."""

from __future__ import annotations

import io
import socket
import ssl
from typing import Any


def tls_context(cert: str, key: str) -> ssl.SSLContext:
    """The server side of TLS with this certificate and key (PEM files), as the HTTP port's."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    return context


class SocketWriter(io.RawIOBase):
    """The handler's ``wfile`` over a TLS socket: every write sent whole."""

    def __init__(self, sock: socket.socket) -> None:
        self._sock = sock

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        self._sock.sendall(data)
        return len(data)
