"""DuckDB over the tables: one in-memory DuckDB database a connection, one view a table.

Each table is a view over the Parquet files of its current Iceberg snapshot, so user SQL names
tables as it would in DuckDB and every query reads one consistent snapshot a table. Views are
rebuilt only for tables whose Iceberg metadata changed since the last statement. The views live
in the database itself (not a DuckDB connection's temporary schema), so every DuckDB connection
to it sees the same ones: each statement runs on a DuckDB connection of its own
(``statement()``), and each streamed query on another (``stream``), so threads and cursors never
share one, and whatever a statement leaves behind in its connection goes with it.
"""

from __future__ import annotations

import re
import threading
import weakref
from collections.abc import Callable, Generator, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
from duckdb.sqltypes import DuckDBPyType
from sqlglot import exp

from indb.catalog import filesystems
from indb.catalog.database import Database, unreadable
from indb.errors import CatalogError, DataError, IndbError, SqlError, StorageError
from indb.catalog.names import split_name, sql_table
from indb.catalog.tables import TableInfo
from indb.parser import numformat, render
from indb.query import live
from indb.query.scan import Scans, table_view
from indb.query.views import SessionViews
from indb.result import Result
from indb.storage.files import Kept, data_files, local_path

# rows a streamed query reads from DuckDB at a time: at most what fetchone() holds in memory
BATCH_ROWS = 100_000
TYPES_KEPT = 256  # schemas whose DuckDB types a session keeps (types_of), the least used dropped
# DuckDB's words for an exception raised in a Python function (PREDICT's, nextval's)
_RAISED = re.compile(r"Python exception occurred while executing the UDF: (\w+): (.*)", re.S)
_RAISED_KINDS: dict[str, type[IndbError]] = {"DataError": DataError, "CatalogError": CatalogError}
_MISSING = re.compile(r"Table with name (\S+) does not exist")  # DuckDB's words for a missing table


@dataclass(frozen=True)
class ParameterSets:
    """Several sets of parameters for one statement (``executemany``): DuckDB runs the statement
    once a set, prepared once."""

    sets: tuple[Sequence | Mapping, ...]


class QuerySession:
    """An in-memory DuckDB database whose views show each table at its current snapshot."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self._database = duckdb.connect()  # holds the views; statements run on its cursors
        self._statement = threading.local()  # .duck: the DuckDB connection of the thread's statement
        self._lock = threading.Lock()  # calls on _database: DuckDB refuses a second one at once
        self._cursors: weakref.WeakSet[duckdb.DuckDBPyConnection] = weakref.WeakSet()  # interrupt()
        # each thread's statement running now: its DuckDB connections (interrupt(thread))
        self._running: dict[int, list[duckdb.DuckDBPyConnection]] = {}
        self._locations: dict[str, str] = {}
        self.infos: dict[str, TableInfo] = {}  # each table's, as its view was last made
        # tables whose view could not be built: their metadata location then, and the error
        self.broken: dict[str, tuple[str, StorageError]] = {}
        self._live: dict[str, pa.Table] = {}  # real-time tables' rows in memory, at the refresh
        self.scans = Scans(self._database)  # the functions it registers live in the database
        filesystems.register(self._database, db.root, db.io_properties)  # an object store's
        # to_char(number, template), as the parser writes it (numformat)
        self._database.create_function(numformat.NAME, numformat.to_char,
                                       ["VARCHAR", "VARCHAR", "VARCHAR"],
                                       "VARCHAR", side_effects=False)
        self.views = SessionViews()  # CREATE VIEW's views, made over the tables' views
        self._types: Kept[pa.Schema, tuple[DuckDBPyType, ...]] = Kept(TYPES_KEPT)  # types_of's
        self._sources = threading.local()  # .tables: Arrow tables the thread's statement reads

    @property
    def duck(self) -> duckdb.DuckDBPyConnection:
        """The DuckDB connection of the calling thread's statement (the database's own outside
        one): what a handler registers there (Arrow tables, temporary tables) only it sees."""
        duck = getattr(self._statement, "duck", None)
        return self._database if duck is None else duck

    @contextmanager
    def statement(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """A DuckDB connection of the statement's own, closed when it ends, with whatever it
        left open (a staging table, a half-read result). A statement run inside another (a plan
        a handler runs) shares the outer one."""
        outer = getattr(self._statement, "duck", None)
        if outer is not None:
            yield outer
            return
        thread = threading.get_ident()
        with self._lock:
            duck = self._database.cursor()
            self._cursors.add(duck)
            self._running[thread] = [duck]
            _register(duck, self._live)
        self._statement.duck = duck
        try:
            yield duck
        finally:
            self._statement.duck = None
            with self._lock:
                self._running.pop(thread, None)
            duck.close()

    @contextmanager
    def sources(self, tables: Mapping[str, pa.Table]) -> Iterator[None]:
        """Arrow tables the calling thread's statement reads by name (a kdb+ host's answer,
        engine/sources.py): in its DuckDB connection and in those of the queries it streams,
        which keep them while they are read."""
        self._sources.tables = dict(tables)
        for name, table in tables.items():
            self.duck.register(name, table)
        try:
            yield
        finally:
            self._sources.tables = {}
            for name in tables:
                self.duck.unregister(name)

    def refresh(self) -> None:
        """Point every table's view at the table's current snapshot. A table that cannot be
        read (its files or metadata damaged) is left out and noted in ``broken``: the others
        stay usable, and the broken one can still be dropped."""
        with self._lock:
            self._refresh()

    def _refresh(self) -> None:
        # a flush moves rows from memory to a snapshot under the same lock: no gap, no duplicate
        with live.consistent(self.db.path) as rows:
            self._live = rows
            _register(self._database, rows)
            statement = getattr(self._statement, "duck", None)
            if statement is not None:  # the statement's own connection reads these rows too
                _register(statement, rows)
            self._refresh_views(rows)

    def _refresh_views(self, rows: dict[str, pa.Table]) -> None:
        pending = self.db.pending  # a transaction's tables: views of its staged files
        current = {name: location + (" +live" if name in rows else "")  # remade when it goes live
                   + (pending.marker(name) if pending is not None else "")
                   for name, location in self.db.metadata_locations().items()}
        before = dict(self._locations)
        for name in set(self._locations) - set(current):
            self._database.execute(render(exp.Drop(tables=[sql_table(name)], kind="VIEW", exists=True)))
            del self._locations[name]
            self.infos.pop(name, None)
        for name in set(self.broken) - set(current):
            del self.broken[name]
        for name, location in current.items():
            if self._locations.get(name) != location and \
                    self.broken.get(name, ("", None))[0] != location:
                try:
                    table, info = self.db.load(name)
                    paths = [local_path(f.file_path) for f in data_files(table)]
                    query: exp.Expr = self.scans.scan(info, paths)
                    if name in rows:  # a real-time table: its rows in memory as well
                        query = exp.union(query, exp.select(exp.Star()).from_(
                            exp.to_identifier(live.view_name(name), quoted=True)), distinct=False)
                    for statement in table_view(name, query):
                        self._database.execute(render(statement))
                except Exception as error:  # noqa: BLE001 (whatever broke it, the others go on)
                    self.broken[name] = (location, error if isinstance(error, StorageError)
                                         else unreadable(name, error))
                    continue
                self._locations[name] = location
                self.infos[name] = info
        self.views.refresh(self._database, self.db, current, self._locations != before)

    def relations(self) -> frozenset[str]:
        """The catalog names (``t``, ``s.t``) of the tables and views, as of the last refresh."""
        return frozenset(self._locations) | frozenset(self.broken) | self.views.names

    def confine(self, directories: Sequence[Path]) -> None:
        """From now on DuckDB reads and writes files only under ``directories``: external
        access is turned off for good (DuckDB refuses to turn it back on while it runs)."""
        allowed = exp.Array(expressions=[exp.Literal.string(f"{d}/") for d in directories])
        with self._lock:
            for name, value in (("allowed_directories", allowed), ("enable_external_access", exp.false())):
                self._database.execute(render(exp.Set(expressions=[exp.SetItem(
                    this=exp.EQ(this=exp.column(name), expression=value))])))

    def set(self, name: str, value: object) -> None:
        """Set one of DuckDB's settings for the queries from now on (None: back to its
        default); DuckDB's refusal of a value is a SqlError."""
        # GLOBAL: the statements run on the database's cursors, and a setting such as
        # integer_division set on one connection holds only there (the database is this
        # session's alone)
        statement: exp.Expr = exp.Command(this="RESET", expression=exp.Literal.string(
            f"GLOBAL {name}")) if value is None else exp.Set(expressions=[exp.SetItem(this=exp.EQ(
                this=exp.column(name), expression=exp.convert(value)), kind="GLOBAL")])
        with self._lock:
            try:
                self._database.execute(render(statement))
            except duckdb.Error as error:
                raise SqlError(str(error).splitlines()[0]) from None

    def query(self, sql: str, params: object = None) -> pa.Table:
        """Run SQL in DuckDB and return its rows; DuckDB's errors become SqlError."""
        return self.typed_query(sql, params)[0]

    def typed_query(self, sql: str, params: object = None) -> tuple[pa.Table, list[str]]:
        """Run SQL in DuckDB; its rows and the SQL type DuckDB gives each column. With
        ``ParameterSets``, DuckDB runs it once a set, and it returns no rows."""
        try:
            if isinstance(params, ParameterSets):
                self.duck.executemany(sql, list(params.sets))
                return pa.table({}), []
            relation = self.duck.sql(sql, params=params)
            if relation is None:  # a statement without a result (CREATE, DROP)
                return pa.table({}), []
            return relation.to_arrow_table(), [str(t) for t in relation.types]
        except duckdb.Error as error:
            raise self._failed(error) from None

    def _failed(self, error: duckdb.Error) -> IndbError:
        """DuckDB's error as indb's: a table left out as broken is said to be so, not missing."""
        missing = _MISSING.search(str(error))
        named = missing.group(1).strip('"') if missing is not None else None
        for name, (_, why) in self.broken.items():
            if named in (name, split_name(name)[1]):
                return why
        raised = _RAISED.search(str(error))  # indb's error inside a function indb registered
        if raised is not None and raised.group(1) in _RAISED_KINDS:
            return _RAISED_KINDS[raised.group(1)](raised.group(2))
        return SqlError(str(error))

    def stream(self, sql: str, params: object = None) -> Result:
        """Run a query on a DuckDB connection of its own; its rows are read from DuckDB as they
        are fetched, BATCH_ROWS at a time, and the connection closes when they run out or the
        result is closed."""
        with self._lock:
            duck = self._database.cursor()
            self._cursors.add(duck)
            self._running.get(threading.get_ident(), []).append(duck)  # the statement's, for now
            _register(duck, self._live)
        for name, table in getattr(self._sources, "tables", {}).items():
            duck.register(name, table)
        try:
            relation = duck.sql(sql, params=params)
            if relation is None:  # a statement without a result
                duck.close()
                return Result()
            types = relation.types
            reader = relation.to_arrow_reader(BATCH_ROWS)
        except duckdb.Error as error:
            duck.close()
            raise self._failed(error) from None
        return Result.streamed(reader.schema, _batches(duck, reader), types,
                               interrupt=lambda: _interrupt(duck))

    def interrupt(self, thread: int | None = None) -> None:
        """Stop what DuckDB is running for any statement or streamed query now, whichever thread
        waits for it (there it raises SqlError): the CLI's Ctrl-C. With ``thread`` (an id of
        ``threading.get_ident``), only the statement that thread runs now, not the rows other
        statements' results stream (a server's connection serves one client's statement at a
        time, while earlier clients still read their rows): a server's cancel request."""
        with self._lock:
            cursors = list(self._cursors) if thread is None else list(self._running.get(thread, ()))
        for duck in cursors:
            _interrupt(duck)

    def types_of(self, schema: pa.Schema) -> list[DuckDBPyType]:
        """The SQL type DuckDB gives each column of an Arrow schema, kept per schema: every
        statement's result asks (engine ``run``), and DuckDB's answer took 0.8 ms inside a
        function statement on the developers' VM."""
        types = self._types.get(schema)
        if types is None:
            types = tuple(self.duck.from_arrow(schema.empty_table()).types)
            self._types.put(schema, types)
        return list(types)

    def create_function(self, name: str, function: Callable[..., Any], *args: Any,
                        **options: Any) -> None:
        """A Python function SQL calls by ``name`` in this session's statements: DuckDB's
        ``create_function`` (its arguments as DuckDB takes them)."""
        with self._lock:
            try:
                self._database.create_function(name, function, *args, **options)
            except duckdb.Error as error:
                raise SqlError(f"function {name}: {str(error).splitlines()[0]}") from None

    def remove_function(self, name: str) -> None:
        with self._lock:
            try:
                self._database.remove_function(name)
            except duckdb.Error as error:
                raise SqlError(f"function {name}: {str(error).splitlines()[0]}") from None

    def close(self) -> None:
        with self._lock:
            self._database.close()


def _register(duck: duckdb.DuckDBPyConnection, rows: dict[str, pa.Table]) -> None:
    """Real-time tables' rows as the Arrow tables their views read (a DuckDB connection's own
    names: each connection reads the rows of the refresh it was made after)."""
    for name, table in rows.items():
        duck.register(live.view_name(name), table)


def _interrupt(duck: duckdb.DuckDBPyConnection) -> None:
    try:
        duck.interrupt()
    except duckdb.Error:  # closed already: nothing of it runs
        pass


def _batches(duck: duckdb.DuckDBPyConnection,
             reader: pa.RecordBatchReader) -> Generator[pa.RecordBatch, None, None]:
    """A streamed query's batches; DuckDB's errors while it runs become SqlError."""
    try:
        while True:
            try:
                yield reader.read_next_batch()
            except StopIteration:
                return
            except (duckdb.Error, OSError) as error:  # pyarrow hands DuckDB's errors on as OSError
                raise SqlError(str(error)) from None
    finally:
        reader.close()
        duck.close()
