"""A subscription's pre-processing query and its window state, where its function runs.

``Window`` runs in the function's resident process (``indb.stream.resident``), off the
tickerplant's GIL: one DuckDB connection for the subscription's life (one thread: a batch is
small, and threads that wait for each other on a busy machine cost more than the query), the
query over the batch, and, for a query with window functions, the last ``history`` rows of each
key kept between batches (``indb.planner.subscriptions``). Only the history of the batch's own
keys enters the query (of windows partitioned by one column; by several, all of it): a window
reads its own partition, so the other keys' rows change nothing in the batch's rows and would
only cost DuckDB time. The state is brought up to date after the
batch's results have gone back (``keep``), while the tickerplant delivers them.

A query of the forms ``indb.stream.rolling`` recognizes is evaluated there instead, without
DuckDB, its window state in numpy; the window then keeps the rows as the tickerplant does (a
``Mirror`` of its own), for the batches it leaves to DuckDB (rows out of order) and for
``tail``. The DuckDB path above is the fallback, unchanged.

``Mirror`` is the tickerplant's copy of that state, so that a process that dies (a crash, a
timeout) is started again with the window state it had: it keeps the batches it hands over and
folds them into the state only now and then (an append a batch, not a pass over the state), on
a thread of its own: a fold of 20,000 rows takes milliseconds, which on the batch's own thread
held up every tick behind it (the largest latencies of a run at 10,000 ticks/s).
"""

from __future__ import annotations

import logging
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from indb.engine import subscriptions as statements
from indb.planner import subscriptions as plans
from indb.stream import rolling

log = logging.getLogger("indb.stream")

FOLD_ROWS = 20_000  # the mirror folds its batches into its state past this many rows (or 2x it)
# every mirror's folds, one at a time (they are rare); pyarrow and numpy do them without the GIL
FOLDS = ThreadPoolExecutor(1, thread_name_prefix="indb-window-fold")


def marked(rows: pa.Table, new: bool) -> pa.Table:
    """``rows`` with the ``NEW`` column (true: the batch's rows; false: earlier ones)."""
    return rows.append_column(plans.NEW, pa.array(np.full(rows.num_rows, new)))


def kept_tail(rows: pa.Table, keys: tuple[str, ...], history: int) -> pa.Table | None:
    """The last ``history`` rows of each key (all rows' last ``history`` without keys), in
    their order, marked as earlier rows (``NEW`` false)."""
    if not history or not rows.num_rows:
        return None
    count = rows.num_rows
    if keys:
        codes = np.zeros(count, np.int64)
        for key in keys:
            encoded = pc.dictionary_encode(rows[key].combine_chunks())
            width = len(encoded.dictionary) + 1
            codes = codes * width + np.asarray(encoded.indices.fill_null(width - 1))
        order = np.argsort(codes, kind="stable")
        ordered = codes[order]
        # each row's place from the end of its key's run: keep the last ``history``
        ends = np.r_[np.flatnonzero(ordered[1:] != ordered[:-1]), count - 1]
        run_end = ends[np.searchsorted(ends, np.arange(count))]
        keep = np.zeros(count, bool)
        keep[order] = run_end - np.arange(count) < history
        kept = rows.filter(pa.array(keep))
    else:
        kept = rows.slice(max(0, count - history))
    kept = kept.combine_chunks()  # a chunk per batch kept would pile up, batch after batch
    return kept.set_column(kept.schema.get_field_index(plans.NEW), plans.NEW,
                           pa.array(np.zeros(kept.num_rows, bool)))


def of_keys(tail: pa.Table, rows: pa.Table, key: str) -> pa.Array:
    """Which of ``tail``'s rows have a ``key`` that ``rows`` have (a mask; null is a key)."""
    return pc.is_in(tail[key], value_set=pc.unique(rows[key].combine_chunks()))


class Batch:
    """The rows DuckDB's ``BATCH`` reads: registered once, its rows replaced batch after batch
    (registering a table anew each batch cost DuckDB half a millisecond). DuckDB scans it
    through the Arrow PyCapsule interface, asking for a new stream each query."""

    def __init__(self, rows: pa.Table) -> None:
        self.rows = rows

    def __arrow_c_stream__(self, requested_schema: object = None) -> object:
        return self.rows.__arrow_c_stream__(requested_schema)


class Window:
    """The pre-processing query of a subscription over its batches, with its window state:
    evaluated incrementally (``indb.stream.rolling``) where the query is a form it recognizes,
    else in DuckDB (``path`` says which, ``why`` why not incrementally)."""

    def __init__(self, setup: dict[str, Any], tail: pa.Table | None = None) -> None:
        self.name, self.table, self.query = setup["name"], setup["table"], setup["query"]
        self.windowed, self.history = bool(setup["windowed"]), int(setup["history"])
        self.keys: tuple[str, ...] = tuple(setup["keys"])
        self._tail = tail
        self.batch: Batch | None = None
        self.duck = duckdb.connect(config={"threads": 1})
        self.pending: tuple[pa.Table, pa.Array | None] | None = None  # the last batch, not kept yet
        self.recognized: rolling.Query | None = None
        self.why = ""
        if not setup.get("incremental", True):
            self.why = "not asked for"
        else:
            try:
                self.recognized = rolling.recognize(self.query, self.keys)
            except rolling.Unsupported as error:
                self.why = str(error)
        self.fast: rolling.Rolling | None = None   # made at the first batch (from its types)
        self.mirror = Mirror(self.keys, self.history)  # the rows, for batches DuckDB runs
        self.mirror.tail = tail
        self.prepared: rolling.Pending | None = None  # the last batch, not kept yet
        self.fallbacks = 0  # batches the incremental path left to DuckDB (out of order, ...)
        self.path = "incremental" if self.recognized is not None else "duckdb"
        if self.recognized is None:
            self._told()

    @property
    def described(self) -> str:
        """How the query runs, as SHOW SUBSCRIPTIONS' ``query_path`` shows it."""
        return "incremental" if self.recognized is not None else f"duckdb: {self.why}"

    @property
    def tail(self) -> pa.Table | None:
        """The window state as rows: the last ``history`` rows of each key."""
        return self.mirror.fold() if self.recognized is not None else self._tail

    def rows(self, batch: pa.Table) -> pa.Table:
        """The query's rows for the batch; SqlError naming the subscription when DuckDB refuses."""
        self.keep()  # the batch before, if ``keep`` was not called after it
        if self.recognized is None:
            return self._in_duckdb(batch)
        try:
            if self.fast is None:
                self.fast = rolling.Rolling(self.recognized, self.history, self._schema(batch))
                if self._tail is not None:  # a process started again: the windows go on
                    self.fast.keep(self.fast.prepare(self._tail))
            self.prepared = self.fast.prepare(batch)
            return self.fast.output(self.prepared)
        except rolling.Fallback:  # this batch only
            self.fallbacks += 1
            self._tail = self.mirror.fold()
            out = self._in_duckdb(batch)
            self.pending = None  # kept as the other batches are (``keep``)
            return out
        except rolling.Unsupported as error:  # its types: DuckDB from now on
            self.why = str(error)
            self.recognized, self.fast, self.prepared, self.path = None, None, None, "duckdb"
            self._told()
            self._tail = self.mirror.fold()
            return self._in_duckdb(batch)

    def _told(self) -> None:
        """Say that the query runs in DuckDB: a warning for a windowed one (milliseconds a
        batch, where the incremental path takes a fraction of one), else for the record."""
        if self.why != "not asked for":
            (log.warning if self.windowed else log.info)(
                "subscription %s: its query runs in DuckDB, not incrementally: %s", self.name,
                self.why)

    def _schema(self, batch: pa.Table) -> pa.Schema:
        """The query's columns and types, as DuckDB gives them (over none of the rows)."""
        empty = batch.slice(0, 0)
        return self._in_duckdb(marked(empty, False) if self.windowed else empty, False).schema

    def _in_duckdb(self, batch: pa.Table, state: bool = True) -> pa.Table:
        rows = batch
        if self.windowed and state:
            rows = marked(batch, True)
            mask = None
            if self._tail is not None:
                if len(self.keys) == 1:  # (several keys: the whole state, as simple as it is)
                    mask = of_keys(self._tail, batch, self.keys[0])
                    rows = pa.concat_tables([self._tail.filter(mask), rows])
                else:
                    rows = pa.concat_tables([self._tail, rows])
            self.pending = rows, mask
        if self.batch is None:  # once (at the first rows: DuckDB reads their columns then)
            self.batch = Batch(rows)
            self.duck.register(plans.BATCH, self.batch)
        self.batch.rows = rows
        return statements.run_query(self.duck, self.name, self.table, self.query)

    def keep(self) -> None:
        """The last batch into the window state: its keys' last rows replace theirs."""
        if self.prepared is not None:
            assert self.fast is not None
            prepared, self.prepared = self.prepared, None
            self.fast.keep(prepared)
            if self.windowed:
                self.mirror.add(prepared.rows)
        if self.pending is None:
            return
        rows, mask = self.pending
        self.pending = None
        kept = kept_tail(rows, self.keys, self.history)
        if mask is not None and self._tail is not None:  # the other keys' rows stay as they were
            others = self._tail.filter(pc.invert(mask))
            kept = others if kept is None else pa.concat_tables([others, kept]).combine_chunks()
        self._tail = kept

    def close(self) -> None:
        self.duck.close()


class Mirror:
    """The tickerplant's copy of a windowed subscription's state (see the module's docstring)."""

    def __init__(self, keys: tuple[str, ...], history: int) -> None:
        self.keys, self.history = keys, history
        self.tail: pa.Table | None = None
        self.batches: list[pa.Table] = []
        self.count = 0  # rows in ``batches``
        self._folding: Future[pa.Table | None] | None = None  # earlier batches, on FOLDS' thread

    def add(self, rows: pa.Table) -> None:
        self.batches.append(rows)
        self.count += rows.num_rows
        if self._folding is not None and self._folding.done():
            self.tail, self._folding = self._folding.result(), None
        if self._folding is None and \
                self.count > max(FOLD_ROWS, 2 * (self.tail.num_rows if self.tail is not None else 0)):
            batches, self.batches, self.count = self.batches, [], 0
            self._folding = FOLDS.submit(self._folded, self.tail, batches)

    def fold(self) -> pa.Table | None:
        """The state as the process has it after the batches handed over (``None``: empty)."""
        if self._folding is not None:
            self.tail, self._folding = self._folding.result(), None
        if self.batches:
            self.tail = self._folded(self.tail, self.batches)
            self.batches, self.count = [], 0
        return self.tail

    def _folded(self, tail: pa.Table | None, batches: list[pa.Table]) -> pa.Table | None:
        rows = marked(pa.concat_tables(batches), False)
        return kept_tail(pa.concat_tables([tail, rows]) if tail is not None else rows, self.keys,
                         self.history)
