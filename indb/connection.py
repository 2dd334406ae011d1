"""``indb.connect``: a DB-API 2.0 shaped connection to a database directory."""

from __future__ import annotations

import shutil
import sys
import tempfile
import uuid
import weakref
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import pyarrow as pa
from sqlglot import exp

from indb import planner
from indb.catalog.location import Location
from indb.catalog.tables import TableInfo
from indb.engine import Engine, registered, temporary
from indb.errors import (DatabaseError, DataError, IndbError, IndbWarning, IntegrityError,
                         InterfaceError, InternalError, NotSupportedError, OperationalError,
                         ProgrammingError)
from indb.parser import render
from indb.relation import Relation, Source, reading, unnamed
from indb.runtime.predictors import Predictor
from indb.result import PREVIEW_ROWS, Result
from indb.sharding.executor import Progress


MEMORY = ":memory:"  # DuckDB's name of a database held for one connection


class Table:
    """A handle on one table: its description and its shards; the relational API's steps and
    outputs (``filter``, ``df()``, ``show()``...) are those of a relation of its rows, as
    DuckDB's ``conn.table(name)`` gives one."""

    def __init__(self, engine: Engine, name: str,
                 relation: Callable[..., Relation] | None = None) -> None:
        self._engine = engine
        self.name = name.lower()
        self.info: TableInfo = engine.db.load(self.name)[1]
        self._relation = relation

    def __getattr__(self, attribute: str) -> Any:
        """A relation's attribute (``filter``, ``df``...), of a relation of the table's rows."""
        relation = self.__dict__.get("_relation")
        if attribute.startswith("_") or relation is None:
            raise AttributeError(attribute)
        return getattr(relation(exp.select(exp.Star()).from_(exp.to_table(self.name)),
                                alias=self.name), attribute)

    @property
    def shards(self) -> int:
        return self.info.shards

    def shard(self, k: int) -> pa.Table:
        """Shard ``k``'s rows (all rows for a replicated table), at the current snapshot."""
        return self._engine.shard(self.name, k)

    def arrow(self) -> pa.Table:
        """Every row of the table, shard by shard."""
        return pa.concat_tables([self.shard(k) for k in range(1 if self.info.replicated else self.shards)])


def _no_variables(name: str) -> object:
    return None


def caller_variables() -> Callable[[str], object]:
    """The variables of the nearest caller outside indb, its locals then its globals, by name:
    what a statement may read as DuckDB's replacement scans read them (``SELECT * FROM df``)."""
    frame = sys._getframe(1)
    while frame is not None and frame.f_globals.get("__name__", "").split(".")[0] == "indb":
        frame = frame.f_back  # type: ignore[assignment]
    if frame is None:
        return _no_variables
    local, module = frame.f_locals, frame.f_globals

    def lookup(name: str) -> object:
        return local[name] if name in local else module.get(name)
    return lookup


class Cursor:
    """DB-API 2.0 cursor: ``execute``/``executemany``, then ``fetchone``/``fetchmany``/``fetchall``,
    iteration, or the result's Arrow, pandas, polars and numpy forms (DuckDB's names).

    Cursors of one connection are independent: each holds its own result, streamed from a DuckDB
    connection of its own. A cursor belongs to one thread at a time (PEP 249 threadsafety 2);
    give each thread its own.
    """

    arraysize = 1  # rows fetchmany() returns by default
    lastrowid = None  # indb has no row ids to report (PEP 249's optional extension)

    def __init__(self, connection: Connection) -> None:
        self.connection = connection
        self._result: Result | None = None
        self._closed = False

    def execute(self, operation: str, parameters: Any = None) -> Cursor:
        """Run SQL (``?`` parameters: a list or tuple); returns the cursor (DuckDB's style)."""
        engine = self._engine()
        self._discard()
        with registered.replacing(self.connection.variables()):
            self._result = engine.execute(operation, parameters)
        return self

    def executemany(self, operation: str, seq_of_parameters: Any) -> Cursor:
        """Run one statement for each parameter set; an INSERT writes all of them in one
        snapshot. ``rowcount`` is the total."""
        engine = self._engine()
        self._discard()
        with registered.replacing(self.connection.variables()):
            self._result = engine.executemany(operation, seq_of_parameters)
        return self

    def callproc(self, procname: str, parameters: Sequence[Any] = ()) -> Sequence[Any]:
        """Call a SQL function with ``parameters``; its value is the result (one row). indb has
        no stored procedures, so nothing is written back: ``parameters`` is returned as given."""
        if not procname.isidentifier():
            raise ProgrammingError(f"callproc takes a function name, not {procname!r}")
        call = exp.select(exp.Anonymous(this=procname,
                                        expressions=[exp.Placeholder() for _ in parameters]))
        self.execute(render(call), list(parameters))
        return parameters

    @property
    def description(self) -> list[tuple] | None:
        """Seven items a column (name, type_code, then five Nones); None before a statement and
        after one that returned no rows. ``type_code == indb.NUMBER`` (or STRING...) tells its kind."""
        self._check_open()
        return None if self._result is None else self._result.description

    @property
    def rowcount(self) -> int:
        """Rows the last statement wrote (the total for executemany); -1 for queries."""
        return -1 if self._result is None else self._result.rowcount

    def fetchone(self) -> tuple | None:
        return self._rows().fetchone()

    def fetchmany(self, size: int | None = None) -> list[tuple]:
        return self._rows().fetchmany(self.arraysize if size is None else size)

    def fetchall(self) -> list[tuple]:
        return self._rows().fetchall()

    def __iter__(self) -> Iterator[tuple]:
        return iter(self._rows())

    def __next__(self) -> tuple:
        row = self.fetchone()
        if row is None:
            raise StopIteration
        return row

    def arrow(self) -> pa.Table:
        return self._rows().arrow()

    def fetch_arrow_table(self) -> pa.Table:
        return self._rows().fetch_arrow_table()

    def fetch_record_batch(self, rows_per_batch: int = 1_000_000) -> pa.RecordBatchReader:
        return self._rows().fetch_record_batch(rows_per_batch)

    def df(self) -> Any:
        return self._rows().df()

    def fetchdf(self) -> Any:
        return self._rows().fetchdf()

    def pl(self) -> Any:
        return self._rows().pl()

    def fetchnumpy(self) -> dict[str, Any]:
        return self._rows().fetchnumpy()

    def show(self, max_rows: int = PREVIEW_ROWS) -> None:
        self._rows().show(max_rows)

    def _rows(self) -> Result:
        """The last statement's result, which must have rows (PEP 249: fetching otherwise is an error)."""
        self._check_open()
        if self._result is None:
            raise InterfaceError("no statement has been executed on this cursor; call execute() first")
        if not self._result.returns_rows:
            raise InterfaceError("the last statement returned no rows to fetch "
                                 f"({self._result.message or 'it ran'}); only queries do")
        return self._result

    def setinputsizes(self, sizes: Any) -> None:
        """Does nothing: DuckDB sizes parameters itself (PEP 249 allows it)."""

    def setoutputsize(self, size: Any, column: Any = None) -> None:
        """Does nothing: results stream in Arrow batches whatever their values' sizes."""

    def close(self) -> None:
        """Close the cursor and its result; using it afterwards is an error."""
        self._check_open()
        self._discard()
        self._closed = True

    def _discard(self) -> None:
        if self._result is not None:
            self._result.close()  # a half-read stream gives its DuckDB connection back
            self._result = None

    def _check_open(self) -> None:
        if self._closed:
            raise InterfaceError("the cursor is closed; ask the connection for a new one")
        self.connection._check_open()

    def _engine(self) -> Engine:
        self._check_open()
        return self.connection._engine

    def __enter__(self) -> Cursor:
        return self

    def __exit__(self, *exc: object) -> None:
        if not self._closed:
            self.close()


class Connection:
    """An open database directory. Every statement commits on its own (autocommit).

    Threads may share a connection (PEP 249 threadsafety 2): statements run one at a time, each
    on a DuckDB connection of its own, and query results stream outside that turn. Give each
    thread its own cursor (``conn.execute`` returns a new one each call).
    """

    # PEP 249's optional extension: the exception classes as attributes of the connection
    Warning = IndbWarning
    Error = IndbError
    InterfaceError = InterfaceError
    DatabaseError = DatabaseError
    DataError = DataError
    OperationalError = OperationalError
    IntegrityError = IntegrityError
    InternalError = InternalError
    ProgrammingError = ProgrammingError
    NotSupportedError = NotSupportedError

    def __init__(self, path: str | Path | Location, *, replacements: bool = True,
                 **options: Any) -> None:
        """``replacements``: statements may read the caller's variables by name (DuckDB's
        replacement scans, its ``python_enable_replacements``); the servers' connections may not."""
        self._forget: Callable[[], object] = lambda: None  # an in-memory database's removal
        self._replacements = replacements
        if path == MEMORY:  # DuckDB's: a database of this connection's alone, gone at its close
            directory = tempfile.mkdtemp(prefix="indb-memory-")
            path, self._forget = directory, weakref.finalize(self, shutil.rmtree, directory, True)
        self._engine = Engine(path, **options)
        self.path = self._engine.db.path
        self._cursor: Cursor | None = None
        self._closed = False

    def cursor(self) -> Cursor:
        self._check_open()
        return Cursor(self)

    def variables(self) -> Callable[[str], object]:
        """What a statement run now may read by name: its caller's variables (none without
        ``replacements``)."""
        return caller_variables() if self._replacements else _no_variables

    def execute(self, sql: str, parameters: Any = None) -> Cursor:
        """Run SQL on a new cursor (DuckDB/sqlite3 style) and return it; ``conn.fetchone()``...
        read the last one."""
        # its own cursor returned, not the attribute read again: another thread's execute may
        # have set that meanwhile
        cursor = self._cursor = self.cursor().execute(sql, parameters)
        return cursor

    def executemany(self, sql: str, seq_of_parameters: Any) -> Cursor:
        """``Cursor.executemany`` on a new cursor, returned."""
        cursor = self._cursor = self.cursor().executemany(sql, seq_of_parameters)
        return cursor

    def fetchone(self) -> tuple | None:
        return self._last().fetchone()

    def fetchmany(self, size: int | None = None) -> list[tuple]:
        return self._last().fetchmany(size)

    def fetchall(self) -> list[tuple]:
        return self._last().fetchall()

    # the last statement's rows in DuckDB's other forms (``conn.execute(q); conn.df()``)
    def df(self) -> Any:
        return self._last().df()

    def fetchdf(self) -> Any:
        return self._last().fetchdf()

    def arrow(self) -> pa.Table:
        return self._last().arrow()

    def fetch_arrow_table(self) -> pa.Table:
        return self._last().fetch_arrow_table()

    def pl(self) -> Any:
        return self._last().pl()

    def fetchnumpy(self) -> dict[str, Any]:
        return self._last().fetchnumpy()

    @property
    def description(self) -> list[tuple] | None:
        return self._last().description

    def _last(self) -> Cursor:
        if self._cursor is None:
            raise InterfaceError("no statement has been executed on this connection")
        return self._cursor

    def _check_open(self) -> None:
        if self._closed:
            raise InterfaceError("the connection is closed; open the database again with indb.connect")

    def sql(self, sql: str, parameters: Any = None, *, params: Any = None,
            alias: str = "") -> Result:
        """Run SQL and return its result: ``.fetchall()``, ``.arrow()``, ``.df()``, ``.pl()``...
        (``indb.Result``), its rows read as they are fetched; a query's is a ``Relation``
        (named ``alias``). ``params`` is DuckDB's name of ``parameters``."""
        self._check_open()
        if params is not None and parameters is not None:
            raise ProgrammingError("give the parameters once: parameters or params")
        parameters = params if params is not None else parameters
        variables = self.variables()
        with registered.replacing(variables):
            result = self._engine.execute(sql, parameters)
        if not result.returns_rows or result.returned or not isinstance(sql, str):
            return result
        return Relation.of(result, Source(self._ran, text=sql, params=parameters,
                                          variables=variables, alias=alias or unnamed()))

    query = from_query = sql  # (DuckDB's other names)

    def from_df(self, df: Any) -> Relation:
        """A relation of a pandas or polars DataFrame's rows (DuckDB's ``from_df``)."""
        return self._data(df)

    def from_arrow(self, data: Any) -> Relation:
        """A relation of a pyarrow Table's or RecordBatchReader's rows."""
        return self._data(data)

    def read_csv(self, path: str | list[str], **options: Any) -> Relation:
        """A relation of CSV files' rows, read by DuckDB's ``read_csv`` with ``options``
        (``header=True``, ``sep=";"``...)."""
        return self._relation(reading("read_csv", path, options))

    def read_parquet(self, path: str | list[str], **options: Any) -> Relation:
        return self._relation(reading("read_parquet", path, options))

    def read_json(self, path: str | list[str], **options: Any) -> Relation:
        return self._relation(reading("read_json", path, options))

    def _data(self, data: Any) -> Relation:
        name = f"python_data_{uuid.uuid4().hex[:16]}"  # a name only its relations read
        return self._relation(exp.select(exp.Star()).from_(name), {name: data})

    def _relation(self, query: exp.Query, frames: dict[str, Any] | None = None,
                  alias: str = "") -> Relation:
        """The relation of a query the Python API built (it reads the caller's variables)."""
        result = self._ran(Source(self._ran, tree=query, frames=frames or {},
                                  variables=self.variables(), alias=alias or unnamed()))
        assert isinstance(result, Relation)  # (a query's result has rows)
        return result

    def _ran(self, source: Source) -> Result:
        """A relation's statement run: its result, a Relation where it has rows."""
        self._check_open()
        with registered.replacing(source.lookup):
            result = self._engine.execute(source.sql(), source.params)
        if not result.returns_rows or result.returned:
            return result
        return Relation.of(result, source)

    def interrupt(self) -> None:
        """Stop the query another thread runs on this connection (it raises SqlError there), as
        DuckDB's ``interrupt`` does; a function run is stopped with KILL FUNCTION."""
        self._check_open()
        self._engine.session.interrupt()

    def interrupt_statement(self, thread: int) -> None:
        """Stop only the statement ``thread`` (``threading.get_ident()``'s) runs on this
        connection now, not the rows earlier statements' results still stream (``Result.interrupt``
        stops those): a server's cancel request, on a connection its clients take turns on."""
        self._check_open()
        self._engine.session.interrupt(thread)

    def wait(self, run_id: str) -> Result:
        """Wait for a run this connection started with ``nowait``; returns its status row."""
        self._check_open()
        self._engine.runner.wait(run_id)
        return self._engine.run(planner.ShowFunctionStatus(verbose=False, run_id=run_id))

    @property
    def engine(self) -> Engine:
        """The engine behind this connection, for indb's own layers above it (the server's
        scheduler and PostgreSQL catalog) that carry plans out on it directly; applications use
        ``sql``, cursors and ``load``."""
        self._check_open()
        return self._engine

    @property
    def progress(self) -> Progress | None:
        """Called with a ``RunProgress`` while a function runs: when the cluster starts, then
        about twice a second with each shard instance's status, rows and reported progress."""
        return self._engine.progress

    @progress.setter
    def progress(self, callback: Progress | None) -> None:
        self._engine.progress = callback

    def load(self, table: str, data: Any, *, shard_key: str | list[str] | tuple[str, ...] = (),
             shards: int | None = None, replicated: bool = False,
             progress: Callable[[int], None] | None = None,
             truncate_timestamps: bool = False, overriding: str | None = None) -> int:
        """Bulk-load rows in one snapshot; creates the table from the data's schema if it is new.

        ``data``: a pyarrow Table or RecordBatchReader, a pandas DataFrame, or a .parquet/.csv
        path. ``shard_key``, ``shards`` and ``replicated`` apply only when the table is created.
        Nanosecond timestamps bound for a ``TIMESTAMP`` (microsecond) column are refused if any
        has a sub-microsecond part, unless ``truncate_timestamps`` drops those parts.
        ``overriding`` is INSERT's OVERRIDING: ``"SYSTEM"`` keeps the values given to a
        ``GENERATED ALWAYS`` identity column (as PostgreSQL's COPY does), ``"USER"`` numbers them.
        """
        self._check_open()
        key = (shard_key,) if isinstance(shard_key, str) else tuple(shard_key)
        table = temporary.name_of(self._engine.temporaries, table)  # the session's, if it is one
        plan = planner.plan_load(table, data, self._engine.facts, shard_key=key, shards=shards,
                                 replicated=replicated, progress=progress,
                                 truncate_timestamps=truncate_timestamps, overriding=overriding)
        return self._engine.run(plan).rowcount

    def register(self, name: str, data: Any) -> Connection:
        """Name Python data for this connection's statements, as DuckDB's ``register``: a pandas
        or polars DataFrame, a pyarrow Table or RecordBatchReader, read by ``SELECT ... FROM
        name`` until ``unregister(name)`` or the connection closes. It comes before a table of
        the same name, and is read, never written."""
        self._check_open()
        registered.register(self._engine, name, data)
        return self

    def unregister(self, name: str) -> Connection:
        """Forget a name ``register`` gave (an unknown one: nothing to do)."""
        self._check_open()
        registered.unregister(self._engine, name)
        return self

    def create_function(self, name: str, function: Callable[..., Any], parameters: Any = None,
                        return_type: Any = None, **options: Any) -> Connection:
        """A Python function this connection's SQL calls by ``name``, as DuckDB's
        ``create_function`` makes one (``parameters`` and ``return_type`` DuckDB types or their
        names, inferred from the annotations when not given; ``type="arrow"``,
        ``null_handling``, ``exception_handling``, ``side_effects``: DuckDB's)."""
        self._check_open()
        self._engine.session.create_function(name, function, parameters, return_type, **options)
        return self

    def remove_function(self, name: str) -> Connection:
        self._check_open()
        self._engine.session.remove_function(name)
        return self

    def model(self, name: str, version: int | str | None = None, *,
              precision: str | None = None) -> Predictor:
        """The serving path: a registered model (a version number, an alias, or None for the
        latest) loaded once and kept resident in this process, on its GPU when it has one and
        there replayed from CUDA graphs. ``.predict(rows)`` and ``.scores(rows)`` take numpy rows:
        one row (shape ``(1, n)``) is the low-latency case."""
        self._check_open()
        return self._engine.served_model(name, version, precision)

    def table(self, name: str) -> Table:
        """A table's handle: its shards, and (as DuckDB's ``table``) a relation of its rows."""
        self._check_open()
        return Table(self._engine, name, self._relation)

    def begin(self) -> Connection:
        """Open a transaction (DuckDB's ``begin()``, SQL's ``BEGIN``): the statements' writes are
        seen by this connection alone until ``commit()``, and ``rollback()`` undoes them.
        Without one, every statement commits when it returns."""
        self._check_open()
        self._engine.execute("BEGIN")
        return self

    def commit(self) -> Connection:
        """Commit the open transaction's writes (all of them, or none); without one there is
        nothing to do: every statement was committed when it returned. The connection (as
        DuckDB's returns it)."""
        self._check_open()
        self._engine.execute("COMMIT")
        return self

    def rollback(self) -> Connection:
        """Undo the open transaction's writes; without one there is nothing to undo (every
        statement was committed when it returned). The connection."""
        self._check_open()
        self._engine.execute("ROLLBACK")
        return self

    def close(self) -> None:
        """Close the database (after runs started with ``nowait`` finish); the connection and its
        cursors are unusable afterwards, and closing it again is an error (PEP 249)."""
        self._check_open()
        self._closed = True
        try:
            self._engine.close()
        finally:
            self._forget()

    def __enter__(self) -> Connection:
        return self

    def __exit__(self, *exc: object) -> None:
        if not self._closed:
            self.close()

