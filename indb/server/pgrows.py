"""Results as the pg port sends them (``server.pgwire``): a statement's rows, streamed from
DuckDB in batches while a cancel request can stop them, or its command tag; a cursor's rows
(``DECLARE``), taken as FETCHes ask; the rows one FETCH took. Values are made plain for
buenavista's and psycopg's writers (``plain``)."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import Any, Protocol

import pyarrow as pa
from buenavista import core, postgres
from buenavista.backends.duckdb import to_bvtype

from indb.result import Result, of_type, python_values
from indb.server import pgcopy, pgparams, pgvalues

BATCH_ROWS = 10_000  # rows read from DuckDB at a time as a result streams
# int2[], int4[], int8[]: a catalog's arrays of integers, which are arrays of oids
_INTEGER_ARRAYS = frozenset(pgparams.ARRAYS[oid] for oid in (21, 23, 20))
# ... but pg_index's vectors (pgparams.VECTOR_COLUMNS) are not


def buenavista_oid(kind: core.BVType) -> int:
    """The PostgreSQL type OID buenavista gives a column of its type."""
    return postgres.BVTYPE_TO_PGTYPE.get(kind, postgres.PG_UNKNOWN)[0]


class Session(Protocol):
    """What the rows need of their session: to stop their query on a cancel request."""

    def stoppable(self, stop: Callable[[], Any], again: bool = False) -> AbstractContextManager[None]: ...

    def check_canceled(self, cause: BaseException | None = None) -> None: ...


# result columns whose PostgreSQL type is their DuckDB type's, not their Arrow type's: JSON
# (buenavista's is text; clients decode it: psycopg a dict), BIT (Arrow's is bytes; sent as
# text, '101')
_OF_DUCKDB_TYPE = {"JSON": pgparams.JSON, "BIT": pgparams.VARBIT}


class Rows(core.QueryResult):
    """A statement's result as buenavista sends it: rows for a query, a command tag otherwise."""

    def __init__(self, session: Session, result: Result | None, tag: str,
                 catalog: bool = False, names: list[str] | None = None) -> None:
        """``session``: the one whose cancel request stops the rows' query while they stream;
        ``catalog``: the rows answer a query of PostgreSQL's catalog, whose arrays of integers
        are arrays of oids (asyncpg reads ``oid[]`` without looking it up); ``names``: the
        columns' names as sent (``pgnames``), else the result's."""
        super().__init__()
        self._result, self._tag, self._session = result, tag, session
        self._catalog = catalog
        self._types = [] if result is None else [bvtype(t) for t in result.schema.types]
        self._names = names if names is not None else [] if result is None else result.columns
        self._rows: Iterator[list] | None = None

    def has_results(self) -> bool:
        return self._result is not None

    def column_count(self) -> int:
        return len(self._types)

    def column(self, index: int) -> tuple[str, core.BVType]:
        return self._names[index], self._types[index]

    def oid(self, index: int) -> int:
        """A column's PostgreSQL type: buenavista's, but a list's is the array of its items'
        type (``bigint[]``, ``float8[]``...), which buenavista gives as ``int4[]`` or json."""
        assert self._result is not None
        kind = self._result.schema.types[index]
        array = pgparams.oid_of(kind) if pa.types.is_list(kind) or pa.types.is_large_list(kind) \
            else pgparams.TEXT
        if self._catalog and array in _INTEGER_ARRAYS:
            return pgparams.VECTOR_COLUMNS.get(self._result.columns[index], pgparams.OID_ARRAY)
        if array != pgparams.TEXT:
            return array
        if pa.types.is_timestamp(kind) and kind.tz is not None:  # buenavista has no timestamptz
            return pgparams.TIMESTAMPTZ
        duckdb_type = None if self._result.types is None else str(self._result.types[index])
        if duckdb_type in _OF_DUCKDB_TYPE:
            return _OF_DUCKDB_TYPE[duckdb_type]
        return buenavista_oid(self._types[index])

    def typmod(self, index: int) -> int:
        """A column's type modifier: a decimal's precision and scale as PostgreSQL's
        ``numeric(p, s)`` has them (ODBC's and JDBC's column sizes come from it); -1 else."""
        assert self._result is not None
        kind = self._result.schema.types[index]
        return ((kind.precision << 16) | kind.scale) + 4 if pa.types.is_decimal(kind) else -1

    def rows(self) -> Iterator[list]:
        """Its rows not sent yet: the same stream each time, so that an Execute with a row
        limit (JDBC's fetch size, asyncpg's cursors) leaves the rest to the portal's next one."""
        if self._rows is None:
            self._rows = self._stream()
        return self._rows

    def _stream(self) -> Iterator[list]:
        if self._result is None:
            return
        result, session = self._result, self._session
        try:
            batches = iter(result.fetch_record_batch(BATCH_ROWS))
            while True:  # a cancel request interrupts the reading of a batch (not a pause
                with session.stoppable(result.interrupt, again=True):  # between Executes)
                    batch = next(batches, None)
                if batch is None:
                    return
                yield from self.rows_of(batch)
        finally:
            result.close()

    def rows_of(self, batch: pa.RecordBatch) -> Iterator[list]:
        """A batch of its rows, each a list of values."""
        types = (self._result and self._result.types) or [None] * batch.num_columns
        columns = [of_type(plain(column), kind)
                   for column, kind in zip(batch.columns, types, strict=True)]
        return (list(row) for row in zip(*columns, strict=True))

    def batches(self) -> Iterator[pa.RecordBatch]:
        """Its rows' batches, read as they are asked for (a cursor's)."""
        assert self._result is not None
        return iter(self._result.fetch_record_batch(BATCH_ROWS))

    def interrupt(self) -> None:
        if self._result is not None:
            self._result.interrupt()

    def status(self) -> str:
        return self._tag

    def close(self) -> None:
        """Its rows are not wanted (a statement described): the query's connection closes."""
        if self._result is not None:
            self._result.close()


@dataclass
class Cursor:
    """A cursor of the session (``DECLARE``): its query's rows (``rows``, which closes them) and
    their batches not read yet, and whether it outlives its transaction (WITH HOLD)."""

    rows: Rows
    batches: Iterator[pa.RecordBatch]
    hold: bool
    _pending: Iterator[list] = field(default_factory=lambda: iter(()))

    def take(self, count: int | None) -> list[list]:
        """Its next ``count`` rows (None: all that are left)."""
        taken: list[list] = []
        while count is None or len(taken) < count:
            taken += itertools.islice(self._pending, None if count is None else count - len(taken))
            if count is not None and len(taken) == count:
                break
            batch = next(self.batches, None)
            if batch is None:
                break
            self._pending = self.rows.rows_of(batch)
        return taken


class Fetched(core.QueryResult):
    """The rows a FETCH took from a cursor, with the cursor's columns."""

    def __init__(self, cursor: Rows, rows: list[list]) -> None:
        super().__init__()
        self._cursor, self._rows = cursor, rows

    def has_results(self) -> bool:
        return True

    def column_count(self) -> int:
        return self._cursor.column_count()

    def column(self, index: int) -> tuple[str, core.BVType]:
        return self._cursor.column(index)

    def oid(self, index: int) -> int:
        return self._cursor.oid(index)

    def typmod(self, index: int) -> int:
        return self._cursor.typmod(index)

    def rows(self) -> Iterator[list]:
        return iter(self._rows)

    def status(self) -> str:
        return "FETCH"


def bvtype(kind: pa.DataType) -> core.BVType:
    if pa.types.is_uint64(kind):
        return core.BVType.DECIMAL  # past BIGINT's range
    try:
        return to_bvtype(kind)
    except Exception:  # a type buenavista has no PostgreSQL type for: sent as text
        return core.BVType.TEXT


def plain(column: pa.Array) -> list[Any]:
    """A column's values as buenavista and psycopg write them: timestamps with a time zone in
    UTC, as the session's TimeZone (UTC) has them; intervals as ``pgvalues.Interval`` (months,
    days, microseconds: PostgreSQL's parts); the rest as Python's (``result.python_values``:
    maps as dicts); a date or timestamp Python's cannot hold in PostgreSQL's text of it
    (``infinity``, ``3000-01-02 BC``)."""
    if pa.types.is_timestamp(column.type) and column.type.tz not in (None, "UTC"):
        column = column.cast(pa.timestamp(column.type.unit, tz="UTC"))
    if column.type == pa.month_day_nano_interval():
        return [None if v is None else pgvalues.Interval(v.months, v.days, v.nanoseconds // 1000)
                for v in column.to_pylist()]
    return python_values(column, postgresql_text)


def postgresql_text(text: str, kind: pa.DataType) -> str:
    """PostgreSQL's text of a date or timestamp from DuckDB's: ``infinity`` as it is, a date BC
    with ``BC`` at the end (DuckDB's ``0044-03-15 (BC) 10:00:00`` is ``0044-03-15 10:00:00 BC``)."""
    return text.replace(" (BC)", "") + " BC" if "(BC)" in text else text


class CopyingIn(core.QueryResult):
    """A ``COPY ... FROM STDIN`` accepted: the client's rows come next, for ``table``'s
    ``columns`` (SQL types ``types``, Arrow's ``arrow_types``), in ``form``."""

    def __init__(self, table: str, columns: list[str], types: list[str],
                 arrow_types: list[pa.DataType], form: pgcopy.Form) -> None:
        super().__init__()
        self.table, self.columns, self.types, self.form = table, columns, types, form
        self.arrow_types = arrow_types

    def has_results(self) -> bool:
        return False

    def status(self) -> str:
        return "COPY"


class CopyingOut(core.QueryResult):
    """A ``COPY ... TO STDOUT``: ``rows`` go to the client as lines of ``form``."""

    def __init__(self, rows: Rows, form: pgcopy.Form) -> None:
        super().__init__()
        self.rows, self.form = rows, form

    def has_results(self) -> bool:
        return False

    def status(self) -> str:
        return "COPY"
