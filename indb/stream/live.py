"""A real-time table: the rows the tickerplant accepted and has not flushed yet, in Arrow.

One-row updates are gathered as rows of Python values and become a record batch when
someone reads (a query, a flush, a publication) or a batch arrives; the batches are immutable,
so a reader's snapshot is a list of them, taken under the table's lock and read outside it.
"""

from __future__ import annotations

import threading
from typing import Any

import numpy as np
import pyarrow as pa

from indb.catalog.tables import TableInfo
from indb.errors import InternalError
from indb.stream.kdb import Slot, column_array, is_temporal_column, slot


class LiveTable:
    """The in-memory rows of one table, and the journal position they reach."""

    def __init__(self, info: TableInfo) -> None:
        self.info = info
        self.schema = info.arrow_schema
        self.slots: tuple[Slot, ...] = tuple(slot(c) for c in info.columns)
        self.lock = threading.Lock()
        self._batches: list[pa.RecordBatch] = []
        self._pending: list[tuple[Any, ...]] = []  # one-row updates' values
        # where every column's carrier is its type, pending rows become Arrow in one conversion
        # (a struct array of the rows: a third of the CPU of one array a column, for the one-row
        # batch a tick's publication seals), else one array a column, cast
        self._rows_type = pa.struct([f.with_type(s.carrier) for f, s in zip(
            self.schema, self.slots, strict=True)]) if all(
            f.type == s.carrier for f, s in zip(self.schema, self.slots, strict=True)) else None
        self._vectors: list[list[np.ndarray]] = []  # column updates' checked vectors
        self._unpublished: list[pa.RecordBatch] = []
        first = info.columns[0]
        self.timed = is_temporal_column(first)  # its time is filled in when a feed omits it
        self.time_of_day = pa.types.is_time(first.arrow_type)  # a TIME: the stamp's time of day
        # the kdb+ type of the time filled in (a timespan for a TIME), None where none is
        self.time_kind = ("timespan" if self.time_of_day else "timestamp") if self.timed else None
        self.watched = False  # someone subscribed: keep what arrived for ``unpublished``
        self.upto = 0  # journal messages whose rows are here or flushed: the next one's index

    def append_row(self, values: list[Any], upto: int) -> None:
        """One row of carrier values (``Slot.convert``'s), from journal message ``upto - 1``."""
        with self.lock:
            if len(values) != len(self.slots):
                raise InternalError(f"a row of {len(values)} values for {self.info.name}'s "
                                    f"{len(self.slots)} columns")
            if self._vectors:
                self._seal()
            self._pending.append(tuple(values))
            self.upto = upto

    def append_columns(self, vectors: list[np.ndarray], upto: int) -> None:
        """Checked vectors (``kdb.checked_vector``), one a column; made Arrow together."""
        with self.lock:
            if self._pending:
                self._seal()
            self._vectors.append(vectors)
            self.upto = upto

    def append_batch(self, batch: pa.RecordBatch, upto: int) -> None:
        with self.lock:
            self._seal()
            self._batches.append(batch)
            if self.watched:
                self._unpublished.append(batch)
            self.upto = upto

    def _seal(self) -> None:
        """The gathered rows as one batch (under the lock)."""
        if self._pending:
            batch = self._rows_batch(self._pending)
            self._pending = []
        elif self._vectors:
            batch = pa.RecordBatch.from_arrays(
                [column_array([v[i] for v in self._vectors], s.column)
                 for i, s in enumerate(self.slots)], schema=self.schema)
            self._vectors = []
        else:
            return
        self._batches.append(batch)
        if self.watched:
            self._unpublished.append(batch)

    def _rows_batch(self, rows: list[tuple[Any, ...]]) -> pa.RecordBatch:
        if self._rows_type is not None:
            return pa.RecordBatch.from_struct_array(pa.array(rows, type=self._rows_type))
        return pa.RecordBatch.from_arrays(
            [s.array(values) for s, values in zip(self.slots, zip(*rows), strict=True)],
            schema=self.schema)

    def rows(self) -> pa.Table:
        """Every row in memory now."""
        return pa.Table.from_batches(self.snapshot()[0], schema=self.schema)

    def snapshot(self) -> tuple[list[pa.RecordBatch], int]:
        """The batches in memory and the journal position they reach."""
        with self.lock:
            self._seal()
            return list(self._batches), self.upto

    def unpublished(self) -> list[pa.RecordBatch]:
        """The rows that arrived since the last call (what subscribers have not been sent)."""
        with self.lock:
            self._seal()
            batches, self._unpublished = self._unpublished, []
            return batches

    def drop(self, batches: list[pa.RecordBatch]) -> None:
        """Forget batches a flush committed (the first ones; later ones stay)."""
        with self.lock:
            if len(self._batches) < len(batches) or any(
                    a is not b for a, b in zip(self._batches, batches, strict=False)):
                raise InternalError(f"flushed rows of {self.info.name} are no longer the first in memory")
            del self._batches[:len(batches)]

    @property
    def row_count(self) -> int:
        with self.lock:
            return sum(b.num_rows for b in self._batches) + len(self._pending) + sum(
                len(v[0]) for v in self._vectors)
