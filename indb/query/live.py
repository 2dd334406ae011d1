"""Real-time tables: rows held in memory (by a tickerplant, ``indb.stream``) that queries see as
part of their table, next to the rows of its Iceberg snapshot.

A layer above registers a source of rows per table of a database directory; the query session
reads every source and the catalog's snapshots inside ``consistent()``, and whoever moves rows
from memory into the table (a flush: its Iceberg commit, then dropping those rows from memory)
does it inside ``exclusive()``, the same lock. A query therefore sees each row once: in memory
before the flush's commit, in the snapshot after it, never in both and never in neither.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pyarrow as pa

RowSource = Callable[[], pa.Table]  # the table's rows in memory now, in the table's SQL types

_lock = threading.RLock()
_sources: dict[tuple[Path, str], RowSource] = {}


def register(directory: Path, table: str, source: RowSource) -> None:
    """Make ``source``'s rows part of ``table`` of the database at ``directory`` for every query
    session of this process."""
    with _lock:
        _sources[(directory.resolve(), table)] = source


def unregister(directory: Path, table: str) -> None:
    with _lock:
        _sources.pop((directory.resolve(), table), None)


def is_live(directory: Path, table: str) -> bool:
    """Whether a tickerplant of this process serves ``table`` of the database at ``directory``."""
    with _lock:
        return (directory.resolve(), table) in _sources


@contextmanager
def consistent(directory: Path) -> Iterator[dict[str, pa.Table]]:
    """The in-memory rows of the database's real-time tables, read at one moment that no flush
    straddles: the catalog read inside the block agrees with them."""
    directory = directory.resolve()
    with _lock:
        yield {table: source() for (where, table), source in list(_sources.items())
               if where == directory}


@contextmanager
def exclusive() -> Iterator[None]:
    """Held while rows move from memory into their table (commit and drop as one step)."""
    with _lock:
        yield


def view_name(table: str) -> str:
    """The DuckDB name a real-time table's in-memory rows are registered under."""
    return "__indb_live_" + table.replace(".", "__")
