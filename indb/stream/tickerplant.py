"""The tickerplant: kdb+'s ``.u.upd``/``.u.sub``/``.u.end`` over indb's tables.

Updates are checked against the table (``prepare``, nothing written yet), then a batch of them
is journalled, added to the real-time tables and published (``commit``), in that order: a row
is never seen by a subscriber or a query before it is in the journal. Real-time tables are
flushed into their Iceberg tables on a schedule and at end of day (``flush``); the commit
records the journal position the rows reach in the table's properties (``FLUSHED``), so a
restart replays each table's journal from where its flushed rows end, never twice.

Everything here runs on the server's event loop thread except ``query`` and ``flush``, which
other threads call: they touch the real-time tables only through their locks.
"""

from __future__ import annotations

import datetime
import logging
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from sqlglot import exp

from indb.catalog.users import OWNER
from indb.engine.tables import write_rows
from indb.errors import CatalogError, DataError, IndbError, SqlError
from indb.parser import parse
from indb.parser import qshapes
from indb.parser.qstatements import PREFIX as Q_PREFIX
from indb.query import live as live_rows
from indb.stream import decoding, kdb, qlog, qtables
from indb.stream.journal import Journal, journal_messages
from indb.stream.live import LiveTable

if TYPE_CHECKING:
    from indb.engine.core import Engine

FLUSHED = "indb.tick.flushed"  # table property: "<journal file>:<messages whose rows it holds>"
SUBSCRIBER_LIMIT = 64 << 20  # bytes queued for one subscriber before it is cut off
FLUSH_SECONDS = 300.0  # real-time rows are flushed into their tables this often

log = logging.getLogger("indb.stream")


@dataclass
class Subscriber:
    """A connection that subscribed: how to send it a message and how much it has not read."""

    name: str
    send: Callable[[bytes], None]
    queued: Callable[[], int]
    close: Callable[[], None]
    tables: dict[str, frozenset[str]] = field(default_factory=dict)  # table -> syms (empty: all)
    # whether it may still read a table (False: it lost SELECT and was unsubscribed from it)
    may_read: Callable[[str], bool] = lambda table: True


@dataclass(frozen=True)
class Update:
    """A checked update, ready to be journalled: rows of one table from one message, or from
    one-row messages read together and checked as one (``prepare_many``)."""

    table: LiveTable
    stamp: int
    messages: tuple[bytes, ...]  # the messages the rows came from, journalled one a frame
    row: list[Any] | None = None  # one row's carrier values
    columns: list[np.ndarray] | None = None  # checked vectors, one a column
    batch: pa.RecordBatch | None = None
    frames: bytes = b""  # or their journal frames, made where they were decoded (``decoding``)
    framed: int = 0  # the messages those frames hold
    logged: bytes = b""  # and those messages as the kdb+ log holds them (``qlog.update_chunks``)
    # the ``(`upd; t; rows)`` message of ``batch`` for subscribers of every sym, encoded
    # beforehand off the event loop (a subscription's outputs: ``indb.stream.outputs``)
    published: bytes | None = None

    @property
    def count(self) -> int:
        """The journal messages the update's rows came from."""
        return len(self.messages) + self.framed

    @property
    def rows(self) -> int:
        """How many rows it adds."""
        if self.row is not None:
            return 1
        if self.columns is not None:
            return len(self.columns[0]) if self.columns else 0
        return self.batch.num_rows if self.batch is not None else 0


def today(clock: Callable[[], int]) -> datetime.date:
    return datetime.datetime.fromtimestamp(clock() / 1e9, datetime.UTC).date()


class Tickerplant:
    """One database's tickerplant (``journal`` holds its journals: ``<date>.journal``)."""

    def __init__(self, engine: Engine, *, journal: str | Path | None = None, fsync_ms: int = 0,
                 flush_seconds: float | None = FLUSH_SECONDS,
                 subscriber_limit: int = SUBSCRIBER_LIMIT,
                 clock: Callable[[], int] = time.time_ns, kdb_log: bool = True) -> None:
        self.engine = engine
        self.directory = engine.db.path
        self.journal_dir = Path(journal) if journal else self.directory / "tick"
        self.fsync_ms = fsync_ms
        self.flush_seconds = flush_seconds
        self.subscriber_limit = subscriber_limit
        self.clock = clock
        self.tables: dict[str, LiveTable] = {}
        self.subscribers: list[Subscriber] = []
        self._flush_lock = threading.Lock()
        self.rejected = 0  # updates refused (async ones have no one to tell)
        # subscriptions (indb.stream.subscriptions): the tables whose new rows go to on_rows
        self.listened: set[str] = set()
        # (table, its new rows, how many): the rows are None where nobody else reads them, and
        # stay in the real-time table until ``taken`` (sealed into Arrow once, not once a read)
        self.on_rows: Callable[[str, pa.Table | None, int], None] | None = None
        existing = sorted(self.journal_dir.glob("*.journal")) if self.journal_dir.is_dir() else []
        path = existing[-1] if existing else self._journal_path(today(clock))
        self.date = datetime.date.fromisoformat(path.stem.replace(".", "-"))
        self.journal = Journal(path, fsync_ms)
        self.qlog = self._open_qlog() if kdb_log else None
        self.replayed = self._replay()

    def _journal_path(self, date: datetime.date) -> Path:
        return self.journal_dir / f"{date:%Y.%m.%d}.journal"

    def _open_qlog(self) -> qlog.QLog:
        """The day's kdb+ log, named as kdb+tick names it (``sym2026.12.03``), beside the
        directory kdb+'s r.q moves into once it has replayed it (``sym``, its day's
        partitions' root), which is made here so that r.q finds it."""
        (self.journal_dir / qlog.PREFIX).mkdir(parents=True, exist_ok=True)
        return qlog.QLog(self.journal_dir / f"{qlog.PREFIX}{self.date:%Y.%m.%d}")

    # -- tables ------------------------------------------------------------------------------

    def table(self, name: str) -> LiveTable:
        """The real-time table of an indb table (made on first use, and shown to queries)."""
        found = self.tables.get(name)
        if found is None:
            _, info = self.engine.db.load(name)
            if info.generated_columns:  # a feed sends every column, as to kdb+'s tickerplant
                raise DataError(f"table {name} has generated columns ("
                                + ", ".join(c.name for c in info.generated_columns)
                                + "): the tickerplant takes tables whose every column a feed "
                                "sends; compute them in a view over the table")
            if info.foreign_keys:  # a row is published as it arrives, before any check could run
                raise DataError(f"table {name} has foreign keys ("
                                + ", ".join(k.name for k in info.foreign_keys)
                                + "): the tickerplant publishes a row as it arrives, so it takes "
                                "tables without them; join to the referenced table to check")
            found = self.tables[name] = LiveTable(info)
            live_rows.register(self.directory, name, found.rows)
        return found

    def _replay(self) -> int:
        """Rebuild the real-time tables from the journal, each from where its flushed rows end,
        and the day's kdb+ log from all of it."""
        marks: dict[str, int] = {}
        count = 0
        entries = self.journal.release_entries()
        for entry in entries:
            try:
                name, x = _update_arguments(kdb.decode(entry.message))
                if name not in marks:
                    marks[name] = self._flushed_upto(name)
                    self.table(name)  # its kind of time, for the kdb+ log
                if entry.index < marks[name]:
                    continue
                update = self.prepare(name, x, entry.message, entry.stamp)
            except (IndbError, kdb.MessageError) as error:  # it was accepted once: the table changed
                log.warning("journal %s: message %d cannot be replayed: %s", self.journal.path,
                            entry.index, error)
                continue
            self._apply(update, entry.index + 1)
            count += 1
        for table in self.tables.values():
            table.upto = self.journal.count
        fills = self.fills()
        if self.qlog is not None and fills is not None:
            self.qlog.append(*qlog.update_chunks(((e.stamp, e.message) for e in entries), fills))
        return count

    def _flushed_upto(self, name: str) -> int:
        table, _ = self.engine.db.load(name)
        mark = table.properties.get(FLUSHED, "")
        journal, _, upto = mark.rpartition(":")
        return int(upto) if journal == self.journal.path.name else 0

    # -- updates -----------------------------------------------------------------------------

    def prepare(self, name: str, x: Any, message: bytes, stamp: int) -> Update:
        """Check an update's data against its table; nothing is written."""
        try:
            table = self.table(name)
        except CatalogError:
            raise DataError(f"there is no table {name}: create it first (CREATE TABLE {name} "
                            "(time TIMESTAMP, sym VARCHAR, ...))") from None
        columns = table.info.columns
        form = kdb.shape(x)
        if form == "table":
            return Update(table, stamp, (message,),
                          batch=self._table_rows(table, kdb.table_rows(x), stamp))
        fill = table.timed and not (len(x) and kdb.is_temporal(x[0]))
        given = len(columns) - fill
        if form == "row":
            if len(x) != given:
                raise DataError(_count_error(table, len(x), fill, "values"))
            if fill:
                row = [stamp % kdb.DAY_NS if table.time_of_day else stamp]
                row += [s.convert(v) for s, v in zip(table.slots[1:], x, strict=True)]
            else:
                row = [s.convert(v) for s, v in zip(table.slots, x, strict=True)]
            return Update(table, stamp, (message,), row=row)
        if len(x) != given:
            raise DataError(_count_error(table, len(x), fill, "columns"))
        if len({len(v) for v in x}) > 1:
            raise DataError(f"the columns sent for {name} have different lengths: "
                            + ", ".join(str(len(v)) for v in x))
        vectors = [kdb.checked_vector(v, c) for v, c in zip(x, columns[fill:], strict=True)]
        if fill:
            vectors.insert(0, kdb.timestamps(stamp, len(x[0]), columns[0]))
        return Update(table, stamp, (message,), columns=vectors)

    def prepare_many(self, calls: Sequence[tuple[str, Any, bytes]], stamp: int
                     ) -> tuple[list[Update], dict[int, Exception]]:
        """Check updates ``(table, data, message)`` read together, all stamped ``stamp``:
        consecutive updates of a table of the same form (one row, or columns, of as many
        values) are checked a column at a time and become one update; those that do not check
        that way, and any other, are checked one at a time (``prepare``), so that an error is
        its own message's. The updates in order, and the errors by the index of their call."""
        updates: list[Update] = []
        errors: dict[int, Exception] = {}
        start = 0
        while start < len(calls):
            end = start + 1
            form = decoding.form(calls[start][1])
            while end < len(calls) and form is not None and calls[end][0] == calls[start][0] \
                    and decoding.form(calls[end][1]) == form:
                end += 1
            together = self._together(calls[start:end], stamp, form) \
                if end - start > 1 and form is not None else None
            if together is not None:
                updates.append(together)
            else:
                for index in range(start, end):
                    name, x, message = calls[index]
                    try:
                        updates.append(self.prepare(name, x, message, stamp))
                    except Exception as error:  # noqa: BLE001 (it is that message's answer)
                        errors[index] = error
            start = end
        return updates, errors

    def _together(self, calls: Sequence[tuple[str, Any, bytes]], stamp: int,
                  form: tuple[str, int]) -> Update | None:
        """Updates of one table and one form as one update of columns, or None where they do
        not all check that way (``decoding.gathered``, then ``gathered``)."""
        values = decoding.gathered([x for _, x, _ in calls], form[0])
        if values is None:
            return None
        return self.gathered(calls[0][0], values[0], values[1], stamp,
                             messages=tuple(m for _, _, m in calls))

    def gathered(self, name: str, vectors: list[np.ndarray], timed: bool, stamp: int, *,
                 messages: tuple[bytes, ...] = (), frames: bytes = b"", framed: int = 0,
                 logged: bytes = b"", fills: Mapping[str, str] | None = None) -> Update | None:
        """Updates' values gathered a column at a time (``decoding.gathered``; ``timed``: they
        begin with their own time) checked against the table as one update of columns, or None
        where they do not all check that way (each is then checked alone, for its own error).
        ``frames`` and ``logged``: their journal frames and kdb+ log messages made beforehand,
        ``logged`` with the time kinds ``fills`` (made again here where the table's differs)."""
        try:
            table = self.table(name)
        except CatalogError:
            return None
        columns = table.info.columns
        fill = table.timed and not timed
        if not vectors or len(vectors) != len(columns) - fill:
            return None
        checked = kdb.checked_vectors(vectors, columns[fill:])
        if checked is None:
            return None
        if fill:
            checked.insert(0, kdb.timestamps(stamp, len(checked[0]), columns[0]))
        kind = table.time_kind
        if self.qlog is not None and framed and not timed and (fills or {}).get(name) != kind:
            # a table new since they were read
            logged, _ = qlog.update_chunks(journal_messages(frames), {name: kind} if kind else {})
        return Update(table, stamp, messages, columns=checked, frames=frames, framed=framed,
                      logged=logged)

    def _table_rows(self, table: LiveTable, rows: pa.Table, stamp: int) -> pa.RecordBatch:
        columns = table.info.columns
        by_name = {n.lower(): n for n in rows.column_names}
        extra = set(by_name) - {c.name.lower() for c in columns}
        if extra:
            raise DataError(f"table {table.info.name} has no column {sorted(extra)[0]}; its "
                            "columns are " + ", ".join(c.name for c in columns))
        arrays = []
        for index, column in enumerate(columns):
            source = by_name.get(column.name.lower())
            if source is None and index == 0 and kdb.is_temporal_column(column):
                arrays.append(kdb.column_array([kdb.timestamps(stamp, rows.num_rows, column)], column))
            elif source is None:
                raise DataError(f"the table sent for {table.info.name} has no column {column.name}")
            else:
                arrays.append(kdb.arrow_column(rows[source], column, str(rows[source].type)))
        return pa.RecordBatch.from_arrays(arrays, schema=table.schema)

    def commit(self, updates: list[Update]) -> None:
        """Journal checked updates (synced as the policy says), then add their rows to the
        real-time tables, then publish them."""
        if not updates:
            return
        upto = self.journal.count
        logged: list[bytes] = []
        fills = self.fills()
        for update in updates:  # the kdb+ log's messages first: a failure journals nothing
            if fills is not None:
                logged += [qlog.update_chunk(m, update.stamp, fills) for m in update.messages]
            if update.framed:
                logged.append(update.logged)
        for update in updates:
            for message in update.messages:
                self.journal.append(update.stamp, message)
            if update.framed:
                self.journal.append_frames(update.frames, update.framed)
        self.journal.commit()
        if self.qlog is not None:  # .u.i: both files' count
            self._log(b"".join(logged), self.journal.count - upto)
        for update in updates:
            upto += update.count
            self._apply(update, upto)
        counts: dict[str, int] = {}
        for update in updates:
            counts[update.table.info.name] = counts.get(update.table.info.name, 0) + update.rows
        self.publish(counts, {u.table.info.name: u for u in updates if u.published is not None})

    @staticmethod
    def _apply(update: Update, upto: int) -> None:
        if update.row is not None:
            update.table.append_row(update.row, upto)
        elif update.columns is not None:
            update.table.append_columns(update.columns, upto)
        elif update.batch is not None:
            update.table.append_batch(update.batch, upto)

    # -- subscribers -------------------------------------------------------------------------

    def subscribe(self, subscriber: Subscriber, name: str, syms: list[str]) -> Any:
        """``.u.sub[t; syms]``: ``(t; empty table)``, or one such pair a table for `` ` ``."""
        if not name:
            return kdb.kx.toq([self.subscribe(subscriber, t, syms) for t in self._table_names()])
        try:
            table = self.table(name)
        except CatalogError:
            raise DataError(f"there is no table {name} to subscribe to") from None
        if not table.watched:
            table.unpublished()  # rows from before anyone subscribed are nobody's to be sent
            table.watched = True
        elif name in self.listened and self.on_rows is not None:
            self.on_rows(name, self.taken(name), 0)  # the subscriptions' rows, not its
        if subscriber not in self.subscribers:
            self.subscribers.append(subscriber)
        subscriber.tables[name] = frozenset(syms)
        return kdb.kx.toq([kdb.symbol(name), kdb.table(table.schema.empty_table())])

    def _table_names(self) -> list[str]:
        return sorted(self.engine.db.metadata_locations())

    def unsubscribe(self, subscriber: Subscriber) -> None:
        if subscriber in self.subscribers:
            self.subscribers.remove(subscriber)

    def publish(self, counts: Mapping[str, int], encoded: dict[str, Update] | None = None) -> None:
        """Send the rows that arrived in these tables (how many) to their subscribers, as
        ``(`upd; t; x)`` filtered by each one's syms; a subscriber with too much unread is cut
        off. ``encoded``: updates whose message for every sym was made already
        (``Update.published``), used where their rows are all that arrived. Subscriptions
        (``on_rows``) are told of them, and given them where kdb+ subscribers read them too;
        else they take them when they need them (``taken``)."""
        for name, count in counts.items():
            table = self.tables[name]
            readers = [s for s in self.subscribers if name in s.tables and s.may_read(name)]
            listened = name in self.listened and self.on_rows is not None
            if not readers and not listened:
                table.watched = False
                continue
            if not readers and self.on_rows is not None:
                self.on_rows(name, None, count)
                continue
            batches = table.unpublished()
            if not batches:
                continue
            rows = pa.Table.from_batches(batches, schema=table.schema)
            if listened and self.on_rows is not None:
                self.on_rows(name, rows, count)
            messages: dict[frozenset[str], bytes | None] = {}
            made = (encoded or {}).get(name)
            if made is not None and len(batches) == 1 and batches[0] is made.batch:
                messages[frozenset()] = made.published
            for subscriber in readers:
                syms = subscriber.tables[name]
                if syms not in messages:
                    messages[syms] = _upd_message(name, _selected(rows, syms))
                message = messages[syms]
                if message is not None:
                    self._send(subscriber, message)

    def day_ended(self) -> bool:
        """Whether the clock is past the journal's day."""
        return today(self.clock) > self.date

    def end_of_day(self) -> None:
        """Flush every real-time table, tell subscribers ``.u.end[date]``, start the next
        day's journal (kdb+'s ``.u.endofday``)."""
        ended = self.date
        self.journal.commit()
        self.flush()
        message = kdb.encode(kdb.call(".u.end", kdb.kx.DateAtom(ended)), kdb.ASYNC)
        for subscriber in list(self.subscribers):
            self._send(subscriber, message)
        self.journal.close()
        if self.qlog is not None:
            self.qlog.close()
        self.date = max(today(self.clock), ended + datetime.timedelta(days=1))
        self.journal = Journal(self._journal_path(self.date), self.fsync_ms)
        if self.qlog is not None:
            self.qlog = self._open_qlog()
        for table in self.tables.values():
            table.upto = 0
        log.info("end of day %s: journal rolled to %s", ended, self.journal.path)

    def taken(self, name: str) -> pa.Table:
        """A table's rows that arrived since they were last published or taken (on the loop)."""
        table = self.tables[name]
        return pa.Table.from_batches(table.unpublished(), schema=table.schema)

    def _send(self, subscriber: Subscriber, message: bytes) -> None:
        subscriber.send(message)
        if subscriber.queued() > self.subscriber_limit:
            log.warning("subscriber %s has %d bytes unread (over %d): disconnected",
                        subscriber.name, subscriber.queued(), self.subscriber_limit)
            self.unsubscribe(subscriber)
            subscriber.close()

    # -- flush and queries (from other threads) ----------------------------------------------

    def flush(self) -> int:
        """Write every real-time table's rows into its Iceberg table (one commit a table, with
        the journal position they reach) and drop them from memory in the same step."""
        total = 0
        with self._flush_lock:
            journal = self.journal.path.name
            for name, table in list(self.tables.items()):
                batches, upto = table.snapshot()
                rows = pa.Table.from_batches(batches, schema=table.schema)
                if not rows.num_rows:
                    continue
                total += write_rows(self.engine, name, [rows],
                                    properties={FLUSHED: f"{journal}:{upto}"},
                                    around_commit=_dropping(table, batches))
        return total

    def _log(self, chunks: bytes, count: int) -> None:
        """Append to the kdb+ log; should that fail (a full disk), go on without one: the
        updates are journalled, and a restart makes the log again from the journal."""
        assert self.qlog is not None
        try:
            self.qlog.append(chunks, count)
        except OSError as error:
            log.error("the kdb+ log %s could not be written (%s): the tickerplant goes on "
                      "without one until it restarts, and .u.L names the journal", self.qlog.path,
                      error)
            self.qlog.close()
            self.qlog = None

    def fills(self) -> dict[str, str] | None:
        """The tables whose time the tickerplant fills in, and its kdb+ type, for the kdb+
        log's messages (None: it keeps none)."""
        if self.qlog is None:
            return None
        return {name: table.time_kind for name, table in list(self.tables.items())
                if table.time_kind is not None}

    @property
    def log_path(self) -> Path:
        """``.u.L``: the day's kdb+ log, or its journal where it keeps no kdb+ log."""
        return self.journal.path if self.qlog is None else self.qlog.path

    def query(self, text: str, user: str = OWNER, params: list[Any] | None = None) -> Any:
        """A sync query (SQL, or q-sql when indb has the translator) as a kdb+ table; kdb+'s
        ``s)`` before SQL (``"s) "`` alone: PyKX loading kdb+'s SQL interface) is read past.
        ``params``: the values of SQL's ``$1``..."""
        question = qtables.read(text)  # tables[], cols t, meta t, count t
        if question is not None:
            return qtables.answer(self.engine, question, user)
        if text.lstrip().startswith(SQL_PREFIX):
            text = text.lstrip()[len(SQL_PREFIX):]
            if not text.strip():
                return kdb.kx.toq(None)
        statement, select = _sql(text)
        with self.engine.as_user(user):
            try:
                result = self.engine.execute(statement, params or None)
            except SqlError as error:
                # ``select max price from t`` parses as SQL too (max AS price), and fails there:
                # a select that SQL cannot run is tried as the q-sql a kdb+ client meant
                if not select:
                    raise
                try:
                    result = self.engine.execute(statement := Q_PREFIX + text.strip())
                except IndbError:
                    raise error from None
        if not result.returns_rows:
            return kdb.kx.toq([kdb.symbol(result.message or "ok")])
        q_text = statement.strip()
        if q_text.startswith(Q_PREFIX):  # q's answer: a keyed table, a list, a dictionary...
            return kdb.answer(result.arrow(), qshapes.shape(q_text[len(Q_PREFIX):].rstrip(";")))
        return kdb.table(result.arrow())

    def variable(self, name: str) -> Any:
        """The tickerplant's kdb+ globals a client may read: ``.u.i`` (messages in the day's
        kdb+ log), ``.u.L`` (its path), ``.u.d`` (its date), ``.u.t`` (the tables)."""
        values: dict[str, Callable[[], Any]] = {
            ".u.i": lambda: kdb.kx.LongAtom(self.journal.count),  # the kdb+ log's too
            ".u.L": lambda: kdb.symbol(f":{self.log_path}"),  # a file symbol, as tick.q's
            ".u.d": lambda: kdb.kx.DateAtom(self.date),
            ".u.t": lambda: kdb.kx.SymbolVector(self._table_names()),
        }
        return values[name]()

    def close(self) -> None:
        self.journal.close()
        if self.qlog is not None:
            self.qlog.close()
        for name in self.tables:
            live_rows.unregister(self.directory, name)


def _update_arguments(message: Any) -> tuple[str, Any]:
    """``(t; x)`` of a journalled ``(`.u.upd; t; x)`` (decoded)."""
    _, name, x = message
    return kdb.text(name), x


def _count_error(table: LiveTable, sent: int, filled: bool, what: str) -> str:
    columns = table.info.columns
    names = ", ".join(c.name for c in columns)
    expected = f"{len(columns) - 1} (the time column {columns[0].name} filled in) or {len(columns)}" \
        if kdb.is_temporal_column(columns[0]) else str(len(columns))
    return f"table {table.info.name} has {len(columns)} columns ({names}): send {expected} {what}, not {sent}"


def _selected(rows: pa.Table, syms: frozenset[str]) -> pa.Table:
    """The rows whose ``sym`` is one of ``syms`` (all of them for none), as kdb+'s u.q selects."""
    if not syms or "sym" not in rows.column_names:
        return rows
    return rows.filter(pc.is_in(rows["sym"], pa.array(sorted(syms))))


def _upd_message(name: str, rows: pa.Table) -> bytes | None:
    if not rows.num_rows:
        return None
    return kdb.update_messages(("upd",), name, rows)[0]


@contextmanager
def _dropping(table: LiveTable, batches: list[pa.RecordBatch]) -> Iterator[None]:
    """Around a flush's commit: queries wait, and the flushed rows leave memory with it."""
    with live_rows.exclusive():
        yield
        table.drop(batches)


SQL_PREFIX = "s)"  # kdb+'s prefix of a SQL statement in q


def _sql(text: str) -> tuple[str, bool]:
    """A client's query as indb runs it: SQL as it is, anything that does not parse as SQL as a
    q-sql statement (``q)...``, which indb translates; docs/qsql.md); and whether it is SQL's
    one SELECT (which may be q that parses as SQL too: ``Tickerplant.query``)."""
    try:
        trees = parse(text)
    except SqlError:
        return Q_PREFIX + text.strip(), False
    # q's commonest query, `select from t`, parses as SQL too (a SELECT of nothing)
    if any(t.key == "select" and not t.expressions for t in trees):
        return Q_PREFIX + text.strip(), False
    return text, len(trees) == 1 and isinstance(trees[0], exp.Select)
