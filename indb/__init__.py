"""indb: an in-database UDF engine for GPU analytics over sharded Iceberg tables.

The module is a DB-API 2.0 (PEP 249) driver: ``indb.connect(path)`` opens a database. Importing
it is cheap: the engine (DuckDB, Iceberg, Dask) loads on the first ``connect``, so UDF code that
imports ``indb.udf`` and the planner's tests pay nothing for it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from indb.errors import (CatalogError, ConflictError, DatabaseError, DataError, DirectoryError,
                         FunctionError, IndbError, IndbWarning, IntegrityError, InterfaceError,
                         InternalError, ModelError, NotSupportedError, OperationalError,
                         OptionError, ProgrammingError, RunError, SchemaError, SqlError)

if TYPE_CHECKING:
    from pathlib import Path

    from indb.connection import Connection, Cursor
    from indb.result import Result

__version__ = "0.1.0"

apilevel = "2.0"
threadsafety = 1  # threads may share the module, not connections
paramstyle = "qmark"

Error = IndbError
Warning = IndbWarning  # noqa: A001 (the name PEP 249 gives it)


def connect(path: str | Path, **options: Any) -> Connection:
    """Open (or create) the database in directory ``path``.

    Options: ``default_shards`` (when creating: shard count of tables that do not say, 8);
    ``workers`` (Dask worker processes of the local cluster started on the first function run;
    default: the CPU count, at most 8), ``threads_per_worker`` (instances one worker runs at once,
    2), ``scheduler`` (the address of an existing Dask scheduler to use instead), ``cluster``
    (``"processes"``, or ``"threads"`` for workers inside this process: only for fast tests),
    ``gpus`` (GPUs the local cluster uses; default: those visible).
    """
    from indb.connection import Connection
    return Connection(path, **options)


_LAZY = {"Connection": "indb.connection", "Cursor": "indb.connection", "Result": "indb.result"}


def __getattr__(name: str) -> Any:
    """``indb.Connection``, ``indb.Cursor`` and ``indb.Result``, imported when first asked for."""
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'indb' has no attribute {name!r}")
    import importlib
    return getattr(importlib.import_module(module), name)


__all__ = ["CatalogError", "ConflictError", "Connection", "Cursor", "DataError", "DatabaseError",
           "DirectoryError", "Error", "FunctionError", "IndbError", "IndbWarning", "IntegrityError",
           "InterfaceError", "InternalError", "ModelError", "NotSupportedError", "OperationalError",
           "OptionError", "ProgrammingError", "Result", "RunError", "SchemaError", "SqlError",
           "Warning", "apilevel", "connect", "paramstyle", "threadsafety"]
