"""indb: an in-database UDF engine for GPU analytics over sharded Iceberg tables."""

from indb.connection import (
           Connection,
           Cursor,
           apilevel,
           connect,
           paramstyle,
           threadsafety,
)
from indb.errors import CatalogError, ConflictError, DatabaseError, IndbError, RunError, SqlError
from indb.result import Result

__version__ = "0.1.0"

__all__ = ["CatalogError", "ConflictError", "Connection", "Cursor", "DatabaseError", "IndbError",
           "Result", "RunError", "SqlError", "apilevel", "connect", "paramstyle", "threadsafety"]
