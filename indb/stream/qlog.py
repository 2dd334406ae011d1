"""The day's kdb+ log: the file q's ``-11!`` replays, named by ``.u.L``, counted by ``.u.i``.

kdb+'s ``r.q`` catches up by asking the tickerplant for ``.u.i`` and ``.u.L`` and replaying
the first ``.u.i`` messages of the file ``.u.L`` names with ``-11!(.u.i; .u.L)``. The
tickerplant's own journal (``indb.stream.journal``: CRC-checked frames of the feeds' messages
and their stamps) is what a restart trusts; this file is written with it for q processes, in
q's own format, and made again from it when the tickerplant starts.

The file is what q writes when a log is made with ``.[L; (); :; ()]`` and appended to with
``h enlist x``: an 8-byte file header (``0xff 0x01`` and six zero bytes), then a general list
(type 0, no attribute, its item count a little-endian int32 that q rewrites after each append)
whose items are the messages, each as the IPC protocol encodes it less the 8-byte message
header. Each journalled update becomes the message ``tick.q`` logs for it, ``(`upd; `t; x)``:
``x`` byte for byte as the feed sent it (``r.q``'s ``upd: insert`` takes what a kdb+
tickerplant would have taken), the time the tickerplant filled in put first where the feed
sent none (as ``tick.q`` does, a timestamp, or a timespan for a ``TIME`` column). Those bytes
are put together from the IPC layout of a general list and its atoms and vectors (type,
attribute, count, values: code.kx.com's "Serialization examples"); a message of another layout
(compressed, big-endian) is first made plain by PyKX. A table sent without its time column is
logged as sent (``tick.q`` does not fill one in either).

Nothing here is synced: the journal is, and a crash makes this file again from it.
"""

from __future__ import annotations

import functools
import os
import struct
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from indb.errors import DirectoryError, InternalError
from indb.stream import kdb, layout
from indb.stream.layout import EPOCH_2000, LIST, PLAIN_CALL, TIMESPAN, TIMESTAMP, VECTOR

FILE_HEADER = b"\xff\x01" + bytes(6)  # what q writes before a list it stores in a file
FIRST = struct.Struct("<bBib")  # a general list's type, attribute and count, and its first's type
ATOM = struct.Struct("<bq")  # a timestamp or timespan atom: its type and value
SYMBOL_ATOM = b"\xf5"  # type -11, then the name and a 0 byte
UPD = SYMBOL_ATOM + b"upd\0"  # what r.q defines: upd:insert
TIMES = range(12, 20)  # timestamp, month, date, datetime, timespan, minute, second, time
COUNT_AT = len(FILE_HEADER) + 2  # where the count is, rewritten after every append
PREFIX = "sym"  # a log's name before its date, and r.q's directory: kdb+tick's default source
READS = 20  # reads of a log that grows while it is read, at most


def update_chunks(messages: Iterable[tuple[int, bytes]], fills: Mapping[str, str]
                  ) -> tuple[bytes, int]:
    """The log's messages of journalled updates (stamps and messages), and how many."""
    chunks = [update_chunk(message, stamp, fills) for stamp, message in messages]
    return b"".join(chunks), len(chunks)


def update_chunk(message: bytes, stamp: int, fills: Mapping[str, str]) -> bytes:
    """The kdb+ log's message for a journalled update: ``(`upd; `t; x)``, with the time
    (``stamp``, ns since 1970) put first in ``x`` where ``fills`` names the kind of ``t``'s time
    column ("timestamp" or "timespan": the tables whose time is filled in) and ``x``'s first
    value is not a time."""
    found = _layout(message)
    if found is None:  # compressed, or big-endian: PyKX makes it plain
        message = kdb.encode(kdb.kx.deserialize(message), kdb.ASYNC)
        found = _layout(message)
        if found is None:
            raise InternalError("a journalled update is not (function; `table; data)")
    name, prefix, x = found
    fill = fills.get(name)
    if fill is None or message[x] != 0 or len(message) < x + FIRST.size:
        return prefix + message[x:]  # no time to fill in; a table or a vector: as sent
    _, attribute, count, first = FIRST.unpack_from(message, x)
    if count == 0 or abs(first) in TIMES:
        return prefix + message[x:]
    kind, value = (TIMESPAN, stamp % kdb.DAY_NS) if fill == "timespan" else \
        (TIMESTAMP, stamp - EPOCH_2000)
    time = ATOM.pack(-kind, value) if first < 0 else \
        _times(kind, value, VECTOR.unpack_from(message, x + LIST.size)[2])  # a row; columns
    return b"".join((prefix, LIST.pack(0, attribute, count + 1), time, message[x + LIST.size:]))


@functools.lru_cache(maxsize=16)  # the updates read together share their stamp and, often, a size
def _times(kind: int, value: int, rows: int) -> bytes:
    """A time vector of ``rows`` times ``value``."""
    return VECTOR.pack(kind, 0, rows) + np.full(rows, value, "<i8").tobytes()


# what the function and table of a journalled update are in its bytes -> the table, and what
# the log's message of it starts with: a few tables, each sent in a form or two
_PREFIXES: dict[bytes, tuple[str, bytes]] = {}


def _layout(message: bytes) -> tuple[str, bytes, int] | None:
    """The table of a plain ``(function; t; x)`` message (little-endian, not compressed; the
    function and the table symbols or strings), the log's message's bytes before ``x``, and
    where ``x`` starts; else None."""
    start = kdb.HEADER.size + LIST.size
    if message[0] != 1 or message[2] != 0 or len(message) < start:
        return None
    kind, _, count = LIST.unpack_from(message, kdb.HEADER.size)  # (an attribute is no matter:
    if kind != 0 or count != 3:  # the log's message is made without one)
        return None
    ends = layout.names_end(message, start)  # `.u.upd or ".u.upd" (PyKX's feeds send a string)
    if ends is None:
        return None
    table, end = ends
    key = message[start:end]
    known = _PREFIXES.get(key)
    if known is None:
        text = kdb.text(layout.name(message, table, end))
        known = _PREFIXES[key] = (text, PLAIN_CALL + UPD + SYMBOL_ATOM + text.encode() + b"\0")
    return known[0], known[1], end


class QLog:
    """A kdb+ log file, made empty when opened (the tickerplant writes it again from the
    journal) and appended to; ``count`` is its number of messages (``.u.i``)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        self._fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        self.count = 0
        self._write(FILE_HEADER + LIST.pack(0, 0, 0))

    def append(self, chunks: bytes, count: int) -> None:
        """Add ``count`` messages made by ``update_chunk`` (their bytes one after the other),
        then their count."""
        if not count:
            return
        self._write(chunks)
        self.count += count
        os.pwrite(self._fd, struct.pack("<i", self.count), COUNT_AT)

    def _write(self, data: bytes) -> None:
        view = memoryview(data)
        while view:
            view = view[os.write(self._fd, view):]

    def close(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1


def read(path: Path | str) -> list[Any]:
    """A kdb+ log's messages, decoded by PyKX (numpy values, tables as pandas); ``path`` may be
    ``.u.L`` as a q client gets it, a file symbol (``:/db/tick/sym2026.12.03``)."""
    path = Path(str(path).removeprefix(":"))
    for _ in range(READS):
        data = path.read_bytes()
        if not data.startswith(FILE_HEADER) or len(data) < COUNT_AT + 4 or \
                data[len(FILE_HEADER)] != 0:
            raise DirectoryError(f"{path} is not a kdb+ log (a list q stored in a file)")
        body = data[len(FILE_HEADER):]
        try:
            return list(kdb.decode(kdb.framed(body, kdb.ASYNC)))
        except kdb.MessageError:
            # read while the tickerplant appended: a message's bytes are written before the
            # count that takes them in, and the decoder takes no bytes past the last item
            if path.stat().st_size == len(data):
                raise DirectoryError(f"{path} is not a whole kdb+ log: it does not decode "
                                     f"as the {LIST.unpack_from(data, len(FILE_HEADER))[2]} "
                                     "messages its header counts") from None
    raise DirectoryError(f"{path} kept growing while it was read ({READS} times); read it again")


def replay(path: Path | str, upto: int | None = None) -> Iterator[Any]:
    """The first ``upto`` messages of a kdb+ log, ``(function, table, rows)``: what ``-11!(upto;
    path)`` evaluates, for a Python subscriber catching up to the ``.u.i`` it was given."""
    yield from read(path)[:upto]
