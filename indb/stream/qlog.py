"""The day's kdb+ log: the file q's ``-11!`` replays, named by ``.u.L``, counted by ``.u.i``.

kdb+'s ``r.q`` catches up by asking the tickerplant for ``.u.i`` and ``.u.L`` and replaying
the first ``.u.i`` messages of the file ``.u.L`` names with ``-11!(.u.i; .u.L)``. The
tickerplant's own journal (``indb.stream.journal``: CRC-checked frames of the feeds' messages
and their stamps) is what a restart trusts; this file is made from it for q processes, in q's
own format, a second behind it, and made again from it when the tickerplant starts.

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

import os
import struct
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from indb.errors import DirectoryError, InternalError
from indb.stream import kdb

FILE_HEADER = b"\xff\x01" + bytes(6)  # what q writes before a list it stores in a file
LIST = struct.Struct("<bBi")  # a general list: type 0, attribute, count
VECTOR = LIST  # a vector: its type, attribute, count (then the values)
SYMBOL_ATOM = b"\xf5"  # type -11, then the name and a 0 byte
UPD = SYMBOL_ATOM + b"upd\0"  # what r.q defines: upd:insert
CHARS = 10  # a string's type
TIMESTAMP, TIMESPAN = 12, 16  # ns since 2000.01.01, and ns
TIMES = range(12, 20)  # timestamp, month, date, datetime, timespan, minute, second, time
EPOCH_2000 = 946_684_800_000_000_000  # 2000.01.01 in ns since 1970
DAY_NS = 86_400_000_000_000
COUNT_AT = len(FILE_HEADER) + 2  # where the count is, rewritten after every append
PREFIX = "sym"  # a log's name before its date, and r.q's directory: kdb+tick's default source
READS = 20  # reads of a log that grows while it is read, at most


def table_name(message: bytes) -> str | None:
    """The table of a journalled update (``(`.u.upd; `t; x)``), where its layout is plain."""
    found = _layout(message)
    return None if found is None else found[0]


def update_chunk(message: bytes, stamp: int, fill: str | None) -> bytes:
    """The kdb+ log's message for a journalled update: ``(`upd; `t; x)``, with the time
    (``stamp``, ns since 1970) put first in ``x`` where ``fill`` names the time column's kind
    ("timestamp" or "timespan") and ``x``'s first value is not a time."""
    found = _layout(message)
    if found is None:  # compressed, or big-endian: PyKX makes it plain
        found = _layout(kdb.encode(kdb.kx.deserialize(message), kdb.ASYNC))
        if found is None:
            raise InternalError("a journalled update is not (function; `table; data)")
    name, x = found
    if fill is not None:
        x = _timed(x, stamp, fill)
    return LIST.pack(0, 0, 3) + UPD + SYMBOL_ATOM + name.encode() + b"\0" + x


def _layout(message: bytes) -> tuple[str, bytes] | None:
    """``t`` and ``x``'s bytes of a plain ``(function; t; x)`` message (little-endian, not
    compressed; the function and the table symbols or strings), else None."""
    if len(message) < kdb.HEADER.size + LIST.size or message[0] != 1 or message[2] != 0:
        return None
    offset = kdb.HEADER.size
    if LIST.unpack_from(message, offset) != (0, 0, 3):
        return None
    offset += LIST.size
    names = []
    for _ in range(2):  # `.u.upd or ".u.upd" (PyKX's feeds send a string), then the table
        start = offset
        if offset >= len(message):
            return None
        if message[offset] == SYMBOL_ATOM[0]:
            offset = message.index(b"\0", offset) + 1
            names.append(message[start + 1:offset - 1])
        elif message[offset] == CHARS:
            offset += VECTOR.size + VECTOR.unpack_from(message, offset)[2]
            names.append(message[start + VECTOR.size:offset])
        else:
            return None
    return names[1].decode(), message[offset:]


def _timed(x: bytes, stamp: int, fill: str) -> bytes:
    """``x`` with the time first, where it is a list whose first item is not a time: an atom
    before atoms (a row), a vector as long as the first before vectors (columns)."""
    if len(x) < LIST.size + 1 or x[0] != 0:
        return x  # a table, or a vector: logged as sent
    _, attribute, count = LIST.unpack_from(x)
    first = struct.unpack_from("<b", x, LIST.size)[0]
    if count == 0 or abs(first) in TIMES:
        return x
    kind, value = (TIMESPAN, stamp % DAY_NS) if fill == "timespan" else (TIMESTAMP, stamp - EPOCH_2000)
    if first < 0:
        time = struct.pack("<bq", -kind, value)
    else:
        rows = VECTOR.unpack_from(x, LIST.size)[2]
        time = VECTOR.pack(kind, 0, rows) + np.full(rows, value, "<i8").tobytes()
    return LIST.pack(0, attribute, count + 1) + time + x[LIST.size:]


class QLog:
    """A kdb+ log file, made empty when opened (the tickerplant writes it again from the
    journal) and appended to; ``count`` is its number of messages (``.u.i``)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        self._fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        self.count = 0
        self._write(FILE_HEADER + LIST.pack(0, 0, 0))

    def append(self, chunks: list[bytes]) -> None:
        """Add messages made by ``chunk``, then their count."""
        if not chunks:
            return
        self._write(b"".join(chunks))
        self.count += len(chunks)
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
            return list(kdb.decode(kdb.HEADER.pack(1, kdb.ASYNC, 0, 0, kdb.HEADER.size + len(body))
                                   + body))
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
