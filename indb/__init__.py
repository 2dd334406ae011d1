"""indb: an in-database UDF engine for GPU analytics over sharded Iceberg tables.

The module is a DB-API 2.0 (PEP 249) driver: ``indb.connect(path)`` opens a database. Importing
it is cheap: the engine (DuckDB, Iceberg, Dask) loads on the first ``connect``, so UDF code that
imports ``indb.udf`` and the planner's tests pay nothing for it.
"""

from __future__ import annotations

import datetime
import time
import threading
from typing import TYPE_CHECKING, Any

from indb.errors import (CatalogError, CheckViolation, ConflictError, DatabaseError, DataError,
                         DirectoryError, ForeignKeyViolation, FunctionError, IndbError,
                         IndbWarning, IntegrityError, InterfaceError, InternalError, ModelError,
                         NotSupportedError,
                         OperationalError, OptionError, ProgrammingError, RunError, SchemaError,
                         SqlError, StorageError, TransactionAborted, UniqueViolation)

if TYPE_CHECKING:
    from pathlib import Path

    from indb.connection import Connection, Cursor
    from indb.result import Result

__version__ = "0.1.0"

apilevel = "2.0"
threadsafety = 2  # threads may share the module and connections, not cursors
paramstyle = "qmark"

Error = IndbError
Warning = IndbWarning  # noqa: A001 (the name PEP 249 gives it)

# PEP 249's constructors: parameters of these types bind as DATE, TIME, TIMESTAMP and BLOB
Date = datetime.date
Time = datetime.time
Timestamp = datetime.datetime
Binary = bytes


def DateFromTicks(ticks: float) -> datetime.date:  # noqa: N802 (PEP 249's names)
    return Date(*time.localtime(ticks)[:3])


def TimeFromTicks(ticks: float) -> datetime.time:  # noqa: N802
    return Time(*time.localtime(ticks)[3:6])


def TimestampFromTicks(ticks: float) -> datetime.datetime:  # noqa: N802
    return Timestamp(*time.localtime(ticks)[:6])


def connect(path: str | Path | None = None, **options: Any) -> Connection:
    """Open (or create) the database in directory ``path`` (``":memory:"`` or none: a new one
    of this connection's alone, in a temporary directory removed when it closes, as DuckDB's
    in-memory database); or, for an ``http://`` or
    ``https://`` URL, connect to the database ``indb serve`` serves there (options: ``token``,
    ``timeout`` in seconds, ``verify``: False or a CA bundle for TLS; see docs/server.md).
    A database described by URLs (docs/cluster.md): ``path`` an ``indb.toml``, or ``catalog=``
    (a PostgreSQL or SQLite URL) and ``warehouse=`` (a path or an ``s3://`` URL), with
    ``properties=`` (pyiceberg FileIO properties) and ``tls=`` (an ``indb.catalog.location.Tls``).

    Options: ``default_shards`` (when creating: shard count of tables that do not say, 8);
    ``workers`` (Dask worker processes of the local cluster started on the first function run;
    default: the CPU count, at most 8), ``threads_per_worker`` (instances one worker runs at once,
    2), ``scheduler`` (the address of an existing Dask scheduler to use instead), ``cluster``
    (``"processes"``, or ``"threads"`` for workers inside this process: only for fast tests),
    ``gpus`` (GPUs the local cluster uses; default: those visible), ``user`` (run every statement
    as this user, with its privileges; default: the database's owner, an admin; docs/security.md).
    """
    if isinstance(path, str) and path.startswith(("http://", "https://")):
        from indb.remote import RemoteConnection
        return RemoteConnection(path, **options)
    from indb.connection import MEMORY, Connection
    described = "catalog" in options or "warehouse" in options
    if path in (None, MEMORY) and not described:
        return Connection(MEMORY, **options)
    if path is None or described:
        from indb.catalog.location import locate
        if path is not None or "catalog" not in options or "warehouse" not in options:
            raise OptionError("indb.connect takes a directory, an indb.toml, or catalog= and "
                              "warehouse= (URLs), one of them")
        urls = {k: options.pop(k) for k in ("catalog", "warehouse", "properties", "tls")
                if k in options}
        return Connection(locate(scheduler=options.get("scheduler"), **urls), **options)
    return Connection(path, **options)


_LAZY = {"Connection": "indb.connection", "Cursor": "indb.connection", "Result": "indb.result",
         "Relation": "indb.relation",
         **dict.fromkeys(("STRING", "BINARY", "NUMBER", "DATETIME", "ROWID"), "indb.dbapi")}
# the module's functions of its default connection, as DuckDB's (``duckdb.sql(...)``; not its
# ``query``, which is indb's subpackage indb.query here: ``indb.sql`` is the same)
DEFAULT_CONNECTION_METHODS = ("sql", "from_query", "execute", "executemany", "table",
                              "read_csv", "read_parquet", "read_json", "from_df", "from_arrow",
                              "register", "unregister", "load", "cursor")
_default: dict[str, Any] = {}
_default_lock = threading.Lock()


def default_connection() -> Any:
    """The module's own connection to an in-memory database (``connect()``), made when first
    used: what ``indb.sql(...)``, ``indb.read_csv(...)``... run on, as DuckDB's module does."""
    with _default_lock:
        if "connection" not in _default:
            _default["connection"] = connect()
        return _default["connection"]


def __getattr__(name: str) -> Any:
    """``indb.Connection``, ``indb.Cursor``, ``indb.Result`` and the type objects, imported when
    first asked for; ``indb.sql`` and the other ``DEFAULT_CONNECTION_METHODS``, the default
    connection's."""
    if name in DEFAULT_CONNECTION_METHODS:
        return getattr(default_connection(), name)
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'indb' has no attribute {name!r}")
    import importlib
    return getattr(importlib.import_module(module), name)


__all__ = ["BINARY", "DATETIME", "NUMBER", "ROWID", "STRING", "Binary", "CatalogError", "CheckViolation",
           "ConflictError", "Connection", "Cursor", "DataError", "DatabaseError", "Date",
           "DateFromTicks", "DirectoryError", "Error", "ForeignKeyViolation", "FunctionError",
           "IndbError", "IndbWarning", "IntegrityError", "InterfaceError", "InternalError",
           "ModelError", "NotSupportedError", "OperationalError", "OptionError",
           "ProgrammingError", "Relation", "Result", "RunError", "SchemaError", "SqlError",
           "StorageError", "Time", "TimeFromTicks", "Timestamp", "TimestampFromTicks",
           "TransactionAborted", "UniqueViolation", "Warning", "apilevel", "connect",
           "default_connection", "paramstyle", "threadsafety"]
