"""Updates read together, decoded by PyKX and gathered a column at a time, before the event
loop checks and journals them: on the loop itself, or in decoder processes (``indb tick
--decoders N``) while the loop journals, applies and answers what came before.

``gather`` takes whole kdb+ IPC messages (what the loop framed: each one's 8-byte header gives
its length) and returns them in order as segments: runs of updates of one table and one form
(``Gathered``: their values as vectors, not checked yet, and their journal frames), and, by
their byte range, every other message, which the loop handles one at a time as before. Nothing
here knows the tables: the loop checks a run against its table and, should it not check, takes
its messages one at a time, so that a refusal is its own message's.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import os
import threading
import time
import multiprocessing
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from indb.stream import kdb, qlog
from indb.stream.journal import frame

log = logging.getLogger("indb.stream")

# a read of at least this many bytes goes to the decoder processes, in pieces of about
# CHUNK_BYTES (whole messages) so that several processes share one connection's read
POOL_BYTES = 16 << 10
CHUNK_BYTES = 1 << 20


@dataclass(frozen=True)
class Gathered:
    """Consecutive updates of one table and one form, read together."""

    table: str
    vectors: list[kdb.Vector]  # one a value (of a row) or a column, not checked yet
    timed: bool  # each begins with its own time (else the tickerplant fills it in)
    frames: bytes  # their journal frames, with the stamp of the read they came in
    logged: bytes  # and their kdb+ log messages (``qlog.update_chunks``)
    count: int  # how many messages
    syncs: tuple[int, ...]  # which of them (0, 1, ...) were sync messages
    start: int  # their bytes in what was gathered (to take them one at a time instead)
    end: int


# a message the loop handles alone: its byte range, and its decoded value where it was decoded
# in the loop's own process (None from a decoder process, or where it did not decode)
Lone = tuple[int, int, Any]
Segment = Gathered | Lone


def is_update(obj: Any) -> bool:
    """Whether a decoded message is an update call ``(`.u.upd; t; x)``."""
    return isinstance(obj, np.ndarray) and obj.dtype == object and len(obj) == 3 and \
        kdb.is_name(obj[0]) and kdb.text(obj[0]) in kdb.UPDATES


def form(x: Any) -> tuple[str, int] | None:
    """An update's data's form, ``("row" or "columns", values or columns)``; None for a table
    or what is neither."""
    try:
        shape = kdb.shape(x)
    except kdb.MessageError:
        return None
    return None if shape == "table" else (shape, len(x))


def gathered(xs: Sequence[Any], shape: str) -> tuple[list[np.ndarray], bool] | None:
    """Updates' data of one form (``shape``: "row" or "columns") as vectors, one a value or a
    column, and whether they begin with their own time; None where they cannot be gathered
    (``kdb.gather_rows``, ``kdb.join_columns``) or only some begin with a time."""
    timed = {len(x) > 0 and kdb.is_temporal(x[0]) for x in xs}
    if len(timed) > 1:
        return None
    vectors = kdb.gather_rows(xs) if shape == "row" else kdb.join_columns(xs)
    return None if vectors is None else (vectors, timed.pop())


def gather(data: bytes, stamp: int, fills: Mapping[str, str] | None, remote: bool = False
           ) -> list[Segment]:
    """Whole messages (``data``), in order, as runs of updates gathered (``Gathered``) and lone
    messages; the runs' journal frames are stamped ``stamp``, their kdb+ log messages made
    with the time kinds ``fills`` (``Tickerplant.fills``; None: none made). ``remote``: for
    another process (the loop's): lone messages without their decoded values (they would cost
    more to send than to decode again), and symbols as Arrow strings (which cost less to send
    than ``str``s)."""
    segments: list[Segment] = []
    run: list[tuple[int, int, Any, bool]] = []  # an update's bytes, data, and whether sync
    key: tuple[str, tuple[str, int]] | None = None
    offset = 0
    while offset < len(data):
        head = kdb.header(data, offset)
        end = offset + head.length
        message = data[offset:end]
        this = None
        try:
            obj = kdb.decode(message)
        except kdb.MessageError:  # the loop decodes it again, and answers the error
            obj = None
        if is_update(obj):
            shape = form(obj[2])
            this = None if shape is None else (kdb.text(obj[1]), shape)
        if this is None or this != key:
            _close(segments, run, key, data, stamp, fills, remote)
            run, key = [], this
        if this is None:
            segments.append((offset, end, None if remote else obj))
        else:
            run.append((offset, end, obj[2], head.message_type == kdb.SYNC))
        offset = end
    _close(segments, run, key, data, stamp, fills, remote)
    return segments


def _close(segments: list[Segment], run: list[tuple[int, int, Any, bool]],
           key: tuple[str, tuple[str, int]] | None, data: bytes, stamp: int,
           fills: Mapping[str, str] | None, remote: bool) -> None:
    """A run of updates of one table and form as one ``Gathered``, or its messages one by one
    where there is only one or its values do not gather."""
    if not run or key is None:
        return
    values = gathered([x for _, _, x, _ in run], key[1][0]) if len(run) > 1 else None
    if values is None:
        segments.extend((start, end, None) for start, end, _, _ in run)
        return
    frames = b"".join(frame(stamp, data[start:end]) for start, end, _, _ in run)
    logged = b"" if fills is None else \
        qlog.update_chunks(((stamp, data[start:end]) for start, end, _, _ in run), fills)[0]
    syncs = tuple(i for i, (_, _, _, sync) in enumerate(run) if sync)
    vectors = [kdb.strings(v) for v in values[0]] if remote else values[0]
    segments.append(Gathered(key[0], vectors, values[1], frames, logged, len(run), syncs,
                             run[0][0], run[-1][1]))


def ends(buffer: bytes | bytearray, start: int = 0) -> list[int]:
    """Where each whole message in ``buffer`` (from ``start``) ends, by their headers (raises
    ``kdb.MessageError`` at a header no kdb+ peer sends: the stream cannot be followed)."""
    found = []
    size = len(buffer)
    while size - start >= kdb.HEADER.size:
        end = start + kdb.header(buffer, start).length
        if size < end:
            break
        found.append(end)
        start = end
    return found


def pieces(ends: list[int], size: int) -> list[tuple[int, int]]:
    """Byte ranges of whole messages (their ``ends``) of about ``size`` bytes each."""
    cuts, start = [], 0
    for end in ends:
        if end - start >= size:
            cuts.append((start, end))
            start = end
    if start < ends[-1]:
        cuts.append((start, ends[-1]))
    return cuts


@dataclass
class Piece:
    """Messages read together, handed to ``gather``: its segments, once it has them."""

    data: bytes
    stamp: int
    fills: Mapping[str, str] | None  # the tables' time kinds when it was read (``gather``)
    segments: list[Segment] | None = None
    future: asyncio.Future[list[Segment]] | None = None

    def ready(self) -> bool:
        """Whether its segments are in (gathered here where its decoder process failed)."""
        if self.segments is None and self.future is not None and self.future.done():
            try:
                self.segments = self.future.result()
            except Exception:  # noqa: BLE001 (a decoder process died: its piece is still whole)
                log.exception("a decoder process failed; its piece is decoded on the loop")
                self.segments = gather(self.data, self.stamp, self.fills)
        return self.segments is not None


class Decoders:
    """Decoder processes: each gathers the pieces it is given (``gather``), PyKX loaded once."""

    def __init__(self, count: int) -> None:
        self.count = count
        self.pool = concurrent.futures.ProcessPoolExecutor(
            count, mp_context=multiprocessing.get_context("forkserver"), initializer=_watch,
            initargs=(os.getpid(),))
        for started in [self.pool.submit(_ready) for _ in range(count)]:
            started.result()

    def submit(self, piece: Piece, loop: asyncio.AbstractEventLoop) -> None:
        piece.future = asyncio.wrap_future(self.pool.submit(gather, piece.data, piece.stamp,
                                                            piece.fills, True), loop=loop)

    def close(self) -> None:
        self.pool.shutdown(wait=True, cancel_futures=True)


def _watch(parent: int) -> None:
    """In a decoder process: exit once the tickerplant is gone (killed, nobody is left to shut
    the pool down, and a worker waiting for work would wait for ever)."""
    def watching() -> None:
        while _alive(parent):
            time.sleep(1.0)
        os._exit(0)
    threading.Thread(target=watching, name="indb-decoder-watch", daemon=True).start()


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
        state = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0]
    except ProcessLookupError:
        return False
    except OSError:  # no /proc: it exists
        return True
    return state != "Z"  # killed, not yet reaped by its parent


def _ready() -> bool:
    """What a decoder process runs first: PyKX is loaded (with this module) before any piece."""
    return True
