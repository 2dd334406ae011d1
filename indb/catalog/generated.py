"""Generated columns: ``b INTEGER GENERATED ALWAYS AS (a * 2) [VIRTUAL | STORED]`` (DuckDB's and
PostgreSQL's), or DuckDB's ``b AS (a * 2)``.

indb computes a generated column as its row is written (INSERT, UPDATE, MERGE, COPY, a load, a
function's outputs) and stores it, whichever of VIRTUAL and STORED the statement said: readers
(queries, function inputs, other engines reading the Iceberg table) see a column like any other.
DuckDB evaluates the expression over the row's other columns, each in its SQL type; a generated
column may name another, whose expression stands in its place.
"""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Callable

import duckdb
import numpy as np
import pyarrow as pa
import sqlglot
from sqlglot import exp

from indb.catalog.tables import TableInfo
from indb.catalog.types import Column
from indb.errors import DataError, SchemaError
from indb.parser import render

_POSITION = "__indb_generated_position"  # a row's place, which the computed values come back in


def expression(column: Column) -> exp.Expr:
    """A generated column's expression as written (the catalog keeps it as DuckDB SQL)."""
    assert column.generated is not None
    return sqlglot.parse_one(column.generated, read="duckdb")


def constraint(column: Column) -> exp.ColumnConstraint:
    """``GENERATED ALWAYS AS (expr)``, as DuckDB writes the column (its DDL, SHOW CREATE TABLE)."""
    return exp.ColumnConstraint(kind=exp.GeneratedAsIdentityColumnConstraint(
        this=True, expression=expression(column)))


def sql_type(column: Column) -> exp.DataType:
    return exp.DataType.build(column.sql_type, dialect="duckdb")


def expanded(info: TableInfo, column: Column,
             value: Callable[[Column], exp.Expr] | None = None,
             seen: tuple[str, ...] = ()) -> exp.Expr:
    """A generated column's expression over the row's written columns: each plain column it
    names as ``value`` gives it (by default the column, cast to its type), a generated one
    replaced by its own expression."""
    def replaced(node: exp.Expr) -> exp.Expr:
        named = info.named(node.name) if isinstance(node, exp.Column) and not node.table else None
        if named is None:
            return node
        if named.generated is None:
            return value(named) if value is not None else \
                exp.cast(exp.column(named.name, quoted=True), sql_type(named))
        if named.name in seen:
            raise SchemaError(f"generated column {named.name} of {info.name} is computed from "
                              f"itself (through {', '.join(seen)})")
        return exp.paren(exp.cast(expanded(info, named, value, (*seen, named.name)),
                                  sql_type(named)))
    return expression(column).transform(replaced)


def computed(rows: pa.Table, info: TableInfo, duck: duckdb.DuckDBPyConnection) -> pa.Table:
    """``rows`` with the table's generated columns computed by DuckDB (in ``duck``) and added;
    DataError for rows that give a generated column a value, or one DuckDB cannot compute."""
    generated = info.generated_columns
    if not generated:
        return rows
    present = frozenset(n.lower() for n in rows.column_names)
    given = next((c for c in generated if c.name.lower() in present), None)
    if given is not None:
        raise DataError(f"column {given.name} of table {info.name} is a generated column "
                        f"(GENERATED ALWAYS AS ({given.generated})): a write gives it no value; "
                        "leave it out, and it is computed")
    name = f"__indb_generated_{uuid.uuid4().hex}"
    duck.register(name, rows.append_column(_POSITION, pa.array(np.arange(rows.num_rows))))
    try:
        def value(column: Column) -> exp.Expr:  # a column the rows lack is NULL
            return exp.cast(exp.column(column.name, quoted=True) if column.name.lower() in present
                            else exp.null(), sql_type(column))
        query = exp.select(*[exp.alias_(exp.cast(expanded(info, c, value), sql_type(c)),
                                        c.name, quoted=True) for c in generated]) \
            .from_(name).order_by(exp.column(_POSITION, quoted=True))
        values = duck.sql(render(query)).to_arrow_table()
    except duckdb.Error as error:
        raise DataError(f"the generated columns of table {info.name} cannot be computed: "
                        f"{str(error).splitlines()[0]}") from None
    finally:
        duck.unregister(name)
    for column in generated:
        rows = rows.append_column(column.name, values[column.name])
    return rows


def dependents(info: TableInfo, name: str) -> tuple[Column, ...]:
    """The generated columns whose expressions name column ``name`` (in any case)."""
    return tuple(c for c in info.generated_columns if c.name.lower() != name.lower() and any(
        n.name.lower() == name.lower() for n in expression(c).find_all(exp.Column)))


def renamed(column: Column, old: str, new: str) -> Column:
    """A generated column after column ``old`` of its table is renamed ``new`` (its expression
    names the new name, as PostgreSQL's and DuckDB's do); another column as it is."""
    if column.generated is None:
        return column
    tree = expression(column).transform(
        lambda n: exp.column(new) if isinstance(n, exp.Column) and not n.table
        and n.name.lower() == old.lower() else n)
    return dataclasses.replace(column, generated=render(tree))
