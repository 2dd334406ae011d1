"""DuckDB over the tables: one in-memory DuckDB a connection, one view a table.

Each table is a temporary view over the Parquet files of its current Iceberg snapshot, so user
SQL names tables as it would in DuckDB and every query reads one consistent snapshot a table.
Views are rebuilt only for tables whose Iceberg metadata changed since the last statement.
"""

from __future__ import annotations

import duckdb
import pyarrow as pa
from duckdb import sqltypes
from sqlglot import exp

from indb.catalog.database import Database
from indb.catalog.tables import TableInfo, file_column_name
from indb.catalog.types import Column, bytes_to_fixed_list
from indb.errors import SqlError
from indb.parser import render
from indb.storage.files import data_files, local_path


class QuerySession:
    """A DuckDB connection whose views show each table at its current snapshot."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self.duck = duckdb.connect()
        self._locations: dict[str, str] = {}
        self._array_functions: set[str] = set()

    def refresh(self) -> None:
        """Point every table's view at the table's current snapshot."""
        current = self.db.metadata_locations()
        for name in set(self._locations) - set(current):
            self.query(render(exp.Drop(tables=[exp.to_table(name, quoted=True)], kind="VIEW", exists=True)))
            del self._locations[name]
        for name, location in current.items():
            if self._locations.get(name) != location:
                table, info = self.db.load(name)
                paths = [local_path(f.file_path) for f in data_files(table)]
                view = exp.Create(this=exp.to_table(name, quoted=True), kind="VIEW", replace=True,
                                  expression=self.scan(info, paths),
                                  properties=exp.Properties(expressions=[exp.TemporaryProperty()]))
                self.query(render(view))
                self._locations[name] = location

    def scan(self, info: TableInfo, paths: list[str], extra: tuple[str, ...] = ()) -> exp.Select:
        """A SELECT of the table's columns in their SQL types over the given data files.

        ``extra`` names DuckDB's virtual columns to keep as well (``filename``, ``file_row_number``).
        """
        if not paths:  # DuckDB cannot read an empty file list: an empty relation of the right types
            columns = [exp.alias_(exp.cast(exp.null(), exp.DataType.build(c.sql_type, dialect="duckdb")),
                                  c.name, quoted=True) for c in info.columns]
            return exp.select(*columns).where(exp.false())
        options = [exp.EQ(this=exp.var(name), expression=exp.true()) for name in extra]
        source = exp.func("read_parquet", exp.Array(expressions=[exp.Literal.string(p) for p in paths]),
                          *options)
        projection = [exp.alias_(self._converted(c), c.name, quoted=True) for c in info.columns]
        projection += [exp.column(name) for name in extra]
        return exp.select(*projection).from_(exp.Table(this=source))

    def _converted(self, column: Column) -> exp.Expression:
        """The expression turning a stored column back into its SQL type."""
        stored = exp.column(file_column_name(column.name), quoted=True)
        if column.is_fixed_array:
            return exp.func(self._array_function(column), stored)
        if column.storage_type != column.arrow_type:
            return exp.cast(stored, exp.DataType.build(column.sql_type, dialect="duckdb"))
        return stored

    def _array_function(self, column: Column) -> str:
        """A DuckDB function from ``fixed(n*width)`` bytes to ``T[n]``, registered on first use."""
        list_type = column.arrow_type
        name = f"indb_array_{list_type.value_type}_{list_type.list_size}"
        if name not in self._array_functions:
            self.duck.create_function(name, lambda blob: bytes_to_fixed_list(blob, list_type),
                                      [sqltypes.BLOB], self.duck.type(column.sql_type),
                                      type="arrow", null_handling="special")
            self._array_functions.add(name)
        return name

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
