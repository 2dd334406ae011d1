"""DuckDB over the tables: one in-memory DuckDB a connection, one view a table.

Each table is a temporary view over the Parquet files of its current Iceberg snapshot, so user
SQL names tables as it would in DuckDB and every query reads one consistent snapshot a table.
Views are rebuilt only for tables whose Iceberg metadata changed since the last statement.
"""

from __future__ import annotations

import duckdb
import pyarrow as pa
from sqlglot import exp

from indb.catalog.database import Database
from indb.errors import SqlError
from indb.parser import render, table_ref
from indb.query.scan import Scans
from indb.storage.files import data_files, local_path


class QuerySession:
    """A DuckDB connection whose views show each table at its current snapshot."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self.duck = duckdb.connect()
        self._locations: dict[str, str] = {}
        self.broken: dict[str, str] = {}  # tables whose view could not be built, and why
        self.scans = Scans(self.duck)

    def refresh(self) -> None:
        """Point every table's view at the table's current snapshot. A table that cannot be
        read (its files or metadata damaged) is left out and noted in ``broken``: the others
        stay usable, and the broken one can still be dropped."""
        current = self.db.metadata_locations()
        for name in set(self._locations) - set(current):
            self.query(render(exp.Drop(tables=[table_ref(name)], kind="VIEW", exists=True)))
            del self._locations[name]
        for name in set(self.broken) - set(current):
            del self.broken[name]
        for name, location in current.items():
            if self._locations.get(name) != location and self.broken.get(name) != location:
                try:
                    table, info = self.db.load(name)
                    paths = [local_path(f.file_path) for f in data_files(table)]
                    view = exp.Create(this=table_ref(name), kind="VIEW", replace=True,
                                      expression=self.scans.scan(info, paths),
                                      properties=exp.Properties(expressions=[exp.TemporaryProperty()]))
                    self.query(render(view))
                except Exception:  # noqa: BLE001 (whatever broke it, the other tables go on)
                    self.broken[name] = location
                    continue
                self._locations[name] = location

    def query(self, sql: str, params: object = None) -> pa.Table:
        """Run SQL in DuckDB and return its rows; DuckDB's errors become SqlError."""
        return self.typed_query(sql, params)[0]

    def typed_query(self, sql: str, params: object = None) -> tuple[pa.Table, list[str]]:
        """Run SQL in DuckDB; its rows and the SQL type DuckDB gives each column."""
        try:
            relation = self.duck.sql(sql, params=params)
            if relation is None:  # a statement without a result (CREATE, DROP)
                return pa.table({}), []
            return relation.to_arrow_table(), [str(t) for t in relation.types]
        except duckdb.Error as error:
            raise SqlError(str(error)) from None

    def close(self) -> None:
        self.duck.close()
