"""DuckDB scans of a table's data files, in the table's SQL types.

Used by the head's query session (every file of a snapshot) and by UDF instances (one shard's
files), so both read stored columns back the same way.
"""

from __future__ import annotations

import duckdb
from duckdb import sqltypes
from duckdb.func import FunctionNullHandling, PythonUDFType
from sqlglot import exp

from indb.catalog.names import sql_table
from indb.catalog.tables import TableInfo, file_column_name
from indb.catalog.types import Column, bytes_to_fixed_list, sql_type_of


def table_view(name: str, query: exp.Expr) -> list[exp.Create]:
    """The statements making the DuckDB view of a table (its schema first, if not main)."""
    view = sql_table(name)
    make_schema = [exp.Create(this=exp.Table(db=view.args["db"]), kind="SCHEMA", exists=True)] \
        if view.args.get("db") else []
    return make_schema + [exp.Create(this=view, kind="VIEW", replace=True, expression=query)]


class Scans:
    """Builds scan expressions for one DuckDB connection (and registers what they call)."""

    def __init__(self, duck: duckdb.DuckDBPyConnection) -> None:
        self.duck = duck
        self._array_functions: set[str] = set()

    def scan(self, info: TableInfo, paths: list[str], extra: tuple[str, ...] = ()) -> exp.Select:
        """A SELECT of the table's columns in their SQL types over the given data files.

        ``extra`` names DuckDB's virtual columns to keep as well (``filename``, ``file_row_number``).
        """
        if not paths:  # DuckDB cannot read an empty file list: an empty relation of the right types
            columns = [exp.alias_(_collated(exp.cast(exp.null(), exp.DataType.build(
                c.sql_type, dialect="duckdb")), c), c.name, quoted=True) for c in info.columns]
            return exp.select(*columns).where(exp.false())
        options = [exp.EQ(this=exp.var(name), expression=exp.true()) for name in extra]
        source = exp.func("read_parquet", exp.Array(expressions=[exp.Literal.string(p) for p in paths]),
                          *options)
        projection = [exp.alias_(_collated(self._converted(c), c), c.name, quoted=True)
                      for c in info.columns]
        projection += [exp.column(name) for name in extra]
        return exp.select(*projection).from_(exp.Table(this=source))

    def _converted(self, column: Column) -> exp.Expr:
        """The expression turning a stored column back into its SQL type."""
        stored = exp.column(file_column_name(column.name), quoted=True)
        if column.is_fixed_array:
            return exp.func(self._array_function(column), stored)
        if column.is_nanoseconds:  # DuckDB has no BIGINT -> TIMESTAMP_NS cast
            return exp.func("make_timestamp_ns", stored)
        if column.is_interval:  # its parts (catalog.types.INTERVAL_PARTS) added up again
            def part(name: str) -> exp.Expr:
                return exp.Dot(this=stored.copy(), expression=exp.to_identifier(name))
            micros = exp.IntDiv(this=part("nanoseconds"), expression=exp.Literal.number(1000))
            return exp.func("to_months", part("months")) + exp.func("to_days", part("days")) \
                + exp.func("to_microseconds", micros)
        if column.sql_type == "BIT":
            return _bit_string(stored)
        if column.storage_type != column.arrow_type or \
                sql_type_of(column.storage_type) != column.sql_type:  # (UUID, JSON: text stored)
            return exp.cast(stored, exp.DataType.build(column.sql_type, dialect="duckdb"))
        return stored

    def _array_function(self, column: Column) -> str:
        """A DuckDB function from ``fixed(n*width)`` bytes to ``T[n]``, registered on first use."""
        list_type = column.arrow_type
        name = f"indb_array_{list_type.value_type}_{list_type.list_size}"
        if name not in self._array_functions:
            self.duck.create_function(name, lambda blob: bytes_to_fixed_list(blob, list_type),
                                      [sqltypes.BLOB], self.duck.type(column.sql_type),
                                      type=PythonUDFType.ARROW,
                                      null_handling=FunctionNullHandling.SPECIAL)
            self._array_functions.add(name)
        return name


def _bit_string(stored: exp.Expr) -> exp.Expr:
    """A BIT column back from its stored bytes, DuckDB's own (as Arrow carries a BIT): a first
    byte counting the padding bits that lead the rest. DuckDB's cast of bytes to BIT reads every
    bit of every byte, so its first eight bits count how many of the next to skip."""
    bits = exp.cast(exp.cast(stored, "BIT"), "VARCHAR")
    padding = exp.cast(exp.DPipe(this=exp.Literal.string("0b"), expression=exp.func(
        "substr", bits, exp.Literal.number(1), exp.Literal.number(8))), "INTEGER")
    return exp.cast(exp.func("substr", bits.copy(), exp.Literal.number(9) + padding), "BIT")


def _collated(value: exp.Expr, column: Column) -> exp.Expr:
    """A column's values with its collation (``COLLATE nocase``): DuckDB compares, sorts,
    groups and keeps them unique by it, in every query of the table's view."""
    if column.collation is None:
        return value
    return exp.Collate(this=value, expression=exp.var(column.collation))
