"""PEP 249's type objects. A description's type code is the column's DuckDB type, so they are
DuckDB's own, which know the types of each kind; imported only when first asked for."""

from __future__ import annotations

import duckdb

STRING = duckdb.STRING
BINARY = duckdb.BINARY
NUMBER = duckdb.NUMBER
DATETIME = duckdb.DATETIME
ROWID = duckdb.DBAPITypeObject(())  # DuckDB leaves it None; indb has no row ids: it matches none
