"""How much of a client's bytes the pg port takes: PostgreSQL's limits on a message's length.

A message's length comes first, from the client; buenavista read whatever it said, so a header
claiming 2 GB (or a negative length, read unsigned) made the server allocate it at once and wait
for it. As PostgreSQL does, a startup packet may be 10,000 bytes and any other message 1 GB less
a byte; a longer one is a protocol violation (08P01) and ends the connection. A long message is
read a megabyte at a time, so memory grows with the bytes that arrive, not with the length
claimed.
"""

from __future__ import annotations

import io
from indb import errors

MAX_STARTUP = 10_000  # PostgreSQL's MAX_STARTUP_PACKET_LENGTH
MAX_MESSAGE = (1 << 30) - 1  # PostgreSQL's PQ_LARGE_MESSAGE_LIMIT
_CHUNK = 1 << 20


class ProtocolViolation(errors.InterfaceError):
    """Bytes that are not the PostgreSQL protocol (a length out of its bounds)."""


def check_startup_length(length: int) -> None:
    if not 8 <= length <= MAX_STARTUP:
        raise ProtocolViolation(f"invalid length of startup packet ({length} bytes; at most "
                                f"{MAX_STARTUP})")


class Bounded(io.RawIOBase):
    """A client's stream as the handler reads it (``rfile``): reads past ``MAX_MESSAGE`` are
    refused, long ones taken a chunk at a time."""

    def __init__(self, stream: io.BufferedReader) -> None:
        self._stream = stream

    def readable(self) -> bool:
        return True

    def read(self, size: int | None = -1) -> bytes:
        if size is None or size < 0 or size > MAX_MESSAGE:
            raise ProtocolViolation(f"invalid message length ({size} bytes; at most {MAX_MESSAGE})")
        if size <= _CHUNK:
            return self._stream.read(size)
        parts: list[bytes] = []
        while size > 0:
            part = self._stream.read(min(size, _CHUNK))
            if not part:
                break
            parts.append(part)
            size -= len(part)
        return b"".join(parts)

    def peek(self, size: int = 0) -> bytes:
        return self._stream.peek(size)

    def close(self) -> None:
        self._stream.close()
        super().close()
