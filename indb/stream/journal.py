"""The tickerplant's journal: every accepted update, appended before it is published or
acknowledged, replayed on restart.

A journal file starts with ``MAGIC``; then one frame a message: its length and CRC-32 (of the
stamp and the message), the nanosecond stamp the tickerplant gave it (the time it fills in when
the feed sends none), and the kdb+ IPC message exactly as the feed sent it, so a frame decodes
with ``kx.deserialize`` to ``(`.u.upd; `t; x)``. Opening a journal reads it to its last whole
frame: a torn or corrupt tail (a write cut by a crash) is cut off there, and reported.

Durability (``fsync``): ``0`` syncs the file before the updates it holds are published or
answered (every message; updates read together share one sync); ``N`` (milliseconds) writes
them to the operating system first, which a killed process cannot lose, and syncs at most
N ms later, so a machine that loses power can lose the last N ms of acknowledged updates.
"""

from __future__ import annotations

import logging
import os
import struct
import threading
import time
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from indb.errors import DirectoryError

MAGIC = b"INDBTICK\x01\0\0\0"
FRAME = struct.Struct("<IIq")  # message length, CRC-32 of stamp + message, stamp (ns since 1970)
MAX_FRAME = 1 << 30

log = logging.getLogger("indb.stream")


@dataclass(frozen=True)
class Entry:
    index: int
    stamp: int
    message: bytes


def read(path: Path) -> tuple[list[Entry], int]:
    """The whole frames of a journal and the offset where they end (less than the file's size
    when its tail is torn or corrupt)."""
    data = path.read_bytes()
    if not data.startswith(MAGIC):
        if data and not MAGIC.startswith(data[:len(MAGIC)]):
            raise DirectoryError(f"{path} is not an indb tickerplant journal (it does not start "
                                 "with its mark); move it away or name another journal directory")
        return [], 0
    entries: list[Entry] = []
    end = len(MAGIC)
    for end, stamp, message in _frames(data, end):
        entries.append(Entry(len(entries), stamp, message))
    return entries, end


def _frames(data: bytes | bytearray, offset: int) -> Iterator[tuple[int, int, bytes]]:
    """The whole, intact frames of ``data`` from ``offset``: where each ends, its stamp and its
    message; up to the first torn or corrupt one."""
    while offset + FRAME.size <= len(data):
        length, crc, stamp = FRAME.unpack_from(data, offset)
        start = offset + FRAME.size
        if length > MAX_FRAME or start + length > len(data):
            return
        message = bytes(data[start:start + length])
        if zlib.crc32(message, zlib.crc32(data[offset + 8:start])) != crc:
            return
        offset = start + length
        yield offset, stamp, message


def frame(stamp: int, message: bytes) -> bytes:
    stamp_bytes = struct.pack("<q", stamp)
    return struct.pack("<II", len(message), zlib.crc32(message, zlib.crc32(stamp_bytes))) \
        + stamp_bytes + message


class Journal:
    """An open journal file, appended to; ``count`` is the number of messages in it (``.u.i``)."""

    def __init__(self, path: Path, fsync_ms: int = 0) -> None:
        self.path = path
        self.fsync_ms = fsync_ms
        path.parent.mkdir(parents=True, exist_ok=True)
        self.entries: list[Entry] = []
        self.truncated = 0  # bytes of a torn or corrupt tail cut off when it was opened
        size = path.stat().st_size if path.exists() else 0
        if size:
            self.entries, end = read(path)
            self.truncated = size - end
            if self.truncated:
                log.warning("journal %s: a torn or corrupt tail of %d bytes after message %d was "
                            "cut off", path, self.truncated, len(self.entries))
        self._fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o644)
        if not size or self.truncated == size:
            os.ftruncate(self._fd, 0)
            os.write(self._fd, MAGIC)
            os.fsync(self._fd)
        elif self.truncated:
            os.ftruncate(self._fd, size - self.truncated)
            os.fsync(self._fd)
        os.lseek(self._fd, 0, os.SEEK_END)
        self.count = len(self.entries)
        self._buffer = bytearray()
        self._dirty = False
        self._synced = time.monotonic()
        self._lock = threading.Lock()  # a sync (from the syncing thread) against close

    def release_entries(self) -> list[Entry]:
        """The messages read at open (for replay), handed over once."""
        entries, self.entries = self.entries, []
        return entries

    def append(self, stamp: int, message: bytes) -> int:
        """Add a message to what ``commit`` writes; returns its index."""
        self._buffer += frame(stamp, message)
        self.count += 1
        return self.count - 1

    def append_frames(self, frames: bytes, count: int) -> None:
        """Add ``count`` messages' frames, made beforehand (``frame``), to what ``commit`` writes."""
        self._buffer += frames
        self.count += count

    def commit(self) -> None:
        """Write what was appended, and sync it if the policy says every message."""
        if not self._buffer:
            return
        view = memoryview(self._buffer)
        while view:
            written = os.write(self._fd, view)
            view = view[written:]
        self._buffer = bytearray()
        if self.fsync_ms == 0:
            os.fsync(self._fd)
        else:
            self._dirty = True

    def sync_due(self) -> None:
        """Sync if the last sync is ``fsync_ms`` old and something was written since."""
        if self._dirty and (time.monotonic() - self._synced) * 1000 >= self.fsync_ms:
            self.sync()

    def sync(self) -> None:
        """Sync what was written (from any thread: writes may go on meanwhile)."""
        with self._lock:
            if self._dirty and self._fd >= 0:
                self._dirty = False  # first: a write during the sync marks it for the next
                os.fsync(self._fd)
            self._synced = time.monotonic()

    def close(self) -> None:
        if self._fd >= 0:
            self.commit()
            self.sync()
            with self._lock:
                os.close(self._fd)
                self._fd = -1


def journal_messages(frames: bytes | bytearray) -> Iterator[tuple[int, bytes]]:
    """The stamps and messages of frames made by ``frame``, one after the other."""
    return ((stamp, message) for _, stamp, message in _frames(frames, 0))
