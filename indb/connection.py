"""``indb.connect``: a DB-API 2.0 shaped connection to a database directory."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pyarrow as pa

from indb import planner
from indb.catalog.tables import TableInfo
from indb.engine import Engine
from indb.errors import InterfaceError, NotSupportedError
from indb.runtime.predictors import Predictor
from indb.result import Result


class Table:
    """A handle on one table: its description and its shards."""

    def __init__(self, engine: Engine, name: str) -> None:
        self._engine = engine
        self.name = name.lower()
        self.info: TableInfo = engine.db.load(self.name)[1]

    @property
    def shards(self) -> int:
        return self.info.shards

    def shard(self, k: int) -> pa.Table:
        """Shard ``k``'s rows (all rows for a replicated table), at the current snapshot."""
        return self._engine.shard(self.name, k)

    def arrow(self) -> pa.Table:
        """Every row of the table, shard by shard."""
        return pa.concat_tables([self.shard(k) for k in range(1 if self.info.replicated else self.shards)])


class Cursor:
    """DB-API cursor: ``execute`` then ``fetchone``/``fetchmany``/``fetchall``."""

    arraysize = 1

    def __init__(self, connection: Connection) -> None:
        self.connection = connection
        self._result: Result | None = None

    def execute(self, sql: str, parameters: Any = None) -> Cursor:
        self._result = self.connection._engine.execute(sql, parameters)
        return self

    def executemany(self, sql: str, seq_of_parameters: Any) -> Cursor:
        for parameters in seq_of_parameters:
            self.execute(sql, parameters)
        return self

    @property
    def description(self) -> list[tuple] | None:
        if self._result is None or not self._result.columns:
            return None
        return [(f.name, str(f.type), None, None, None, None, f.nullable) for f in self._result.table.schema]

    @property
    def rowcount(self) -> int:
        return self._result.rowcount if self._result else -1

    def fetchone(self) -> tuple | None:
        return self._require().fetchone()

    def fetchmany(self, size: int | None = None) -> list[tuple]:
        return self._require().fetchmany(size or self.arraysize)

    def fetchall(self) -> list[tuple]:
        return self._require().fetchall()

    def arrow(self) -> pa.Table:
        return self._require().arrow()

    def df(self) -> Any:
        return self._require().df()

    def _require(self) -> Result:
        if self._result is None:
            raise InterfaceError("no statement has been executed on this cursor")
        return self._result

    def setinputsizes(self, sizes: Any) -> None:
        pass

    def setoutputsize(self, size: Any, column: Any = None) -> None:
        pass

    def close(self) -> None:
        self._result = None


class Connection:
    """An open database directory. Every statement commits on its own (autocommit)."""

    def __init__(self, path: str | Path, **options: Any) -> None:
        self._engine = Engine(path, **options)
        self.path = self._engine.db.path
        self._cursor: Cursor | None = None

    def cursor(self) -> Cursor:
        return Cursor(self)

    def execute(self, sql: str, parameters: Any = None) -> Cursor:
        """Run SQL on the connection's own cursor (DuckDB/sqlite3 style) and return it."""
        self._cursor = self.cursor().execute(sql, parameters)
        return self._cursor

    def fetchone(self) -> tuple | None:
        return self._last().fetchone()

    def fetchall(self) -> list[tuple]:
        return self._last().fetchall()

    @property
    def description(self) -> list[tuple] | None:
        return self._last().description

    def _last(self) -> Cursor:
        if self._cursor is None:
            raise InterfaceError("no statement has been executed on this connection")
        return self._cursor

    def sql(self, sql: str, parameters: Any = None) -> Result:
        """Run SQL and return its result (``.arrow()``, ``.df()``, ``.fetchall()``)."""
        return self._engine.execute(sql, parameters)

    def wait(self, run_id: str) -> Result:
        """Wait for a run this connection started with ``nowait``; returns its status row."""
        self._engine.runner.wait(run_id)
        return Result(self._engine.runs.runs(run_id))

    @property
    def progress(self) -> Callable[[str, int, int], None] | None:
        """Called as ``progress(run_id, instances_done, instances)`` while a function runs."""
        return self._engine.progress

    @progress.setter
    def progress(self, callback: Callable[[str, int, int], None] | None) -> None:
        self._engine.progress = callback

    def load(self, table: str, data: Any, *, shard_key: str | list[str] | tuple[str, ...] = (),
             shards: int | None = None, replicated: bool = False,
             progress: Callable[[int], None] | None = None) -> int:
        """Bulk-load rows in one snapshot; creates the table from the data's schema if it is new.

        ``data``: a pyarrow Table or RecordBatchReader, a pandas DataFrame, or a .parquet/.csv
        path. ``shard_key``, ``shards`` and ``replicated`` apply only when the table is created.
        """
        key = (shard_key,) if isinstance(shard_key, str) else tuple(shard_key)
        plan = planner.plan_load(table, data, self._engine.facts, shard_key=key, shards=shards,
                                 replicated=replicated, progress=progress)
        return self._engine.run(plan).rowcount

    def model(self, name: str, version: int | str | None = None, *,
              precision: str | None = None) -> Predictor:
        """The serving path: a registered model (a version number, an alias, or None for the
        latest) loaded once and kept resident in this process, on its GPU when it has one and
        there replayed from CUDA graphs. ``.predict(rows)`` and ``.scores(rows)`` take numpy rows:
        one row (shape ``(1, n)``) is the low-latency case."""
        return self._engine.served_model(name, version, precision)

    def table(self, name: str) -> Table:
        return Table(self._engine, name)

    def commit(self) -> None:
        """Nothing to do: every statement is committed when it returns."""

    def rollback(self) -> None:
        raise NotSupportedError("indb has no multi-statement transactions: each statement commits "
                                "alone")

    def close(self) -> None:
        self._engine.close()

    def __enter__(self) -> Connection:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

