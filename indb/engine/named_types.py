"""Named types (``CREATE TYPE mood AS ENUM ('sad', 'ok', 'happy')``), kept in the catalog and put
in place of their names in each statement before it is checked and planned, as macros are: a
column ``m mood`` is made an ``ENUM('sad', 'ok', 'happy')`` column, ``'ok'::mood`` a cast to it.
So a table keeps the type its columns had when it was made, whatever becomes of the name."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pyarrow as pa
from sqlglot import exp

from indb import planner
from indb.catalog import named_types as catalog
from indb.catalog.types import arrow_type_of, canonical_sql_type, enum_values
from indb.errors import CatalogError, SqlError
from indb.parser import render
from indb.planner import named_types as plans
from indb.result import Result

if TYPE_CHECKING:
    from indb.engine.core import Engine


def create(engine: Engine, plan: plans.CreateType, params: object) -> Result:
    definition = plan.definition if plan.query is None else _enum_of(engine, plan.query)
    catalog.create_type(engine.db.engine, plan.name, definition, plan.replace)
    return Result(message=f"created type {plan.name} AS {definition}")


def _enum_of(engine: Engine, query: str) -> str:
    """The ENUM of the distinct values a query's one column returns, as text, in the order it
    returns them; NULLs left out (DuckDB's ``CREATE TYPE ... AS ENUM (SELECT ...)``)."""
    column = engine.session.query(query).column(0)
    values = list(dict.fromkeys(str(v) for v in column.to_pylist() if v is not None))
    enum = exp.DataType(this=exp.DataType.Type.ENUM,
                        expressions=[exp.Literal.string(v) for v in values])
    return canonical_sql_type(render(enum))


def drop(engine: Engine, plan: plans.DropType, params: object) -> Result:
    if catalog.drop_type(engine.db.engine, plan.name):
        return Result(message=f"dropped type {plan.name}")
    if plan.if_exists:
        return Result(message=f"type {plan.name} does not exist")
    raise CatalogError(f"type {plan.name} does not exist")


def rename(engine: Engine, plan: plans.RenameType, params: object) -> Result:
    """RENAME TO: the catalog's name alone (columns hold the definition, not the name)."""
    if not catalog.rename_type(engine.db.engine, plan.name, plan.new):
        raise CatalogError(f"type {plan.name} does not exist")
    return Result(message=f"renamed type {plan.name} to {plan.new}")


def expanded(engine: Engine, tree: exp.Expr) -> exp.Expr:
    """The statement with each named type's definition in place of its name (a name that is no
    type's is left, for the planner or DuckDB to refuse)."""
    named = [node for node in tree.find_all(exp.DataType) if node.this == exp.DType.USERDEFINED]
    if not named:
        return tree  # (no catalog read: most statements)
    definitions = catalog.named_types(engine.db.engine)
    for node in named:
        definition = definitions.get(str(node.args.get("kind") or "").rpartition(".")[2].lower())
        if definition is not None:
            node.replace(exp.DataType.build(definition, dialect="duckdb"))
    return tree


def add_value(engine: Engine, plan: plans.AddValue, params: object) -> Result:
    """ADD VALUE to an ENUM: the type redefined, and each column of the ENUM it was widened to
    the new one (every file of its table rewritten, in a snapshot a table)."""
    old = catalog.named_types(engine.db.engine).get(plan.name)
    if old is None:
        raise CatalogError(f"type {plan.name} does not exist")
    if not pa.types.is_dictionary(arrow_type_of(old)):
        raise SqlError(f"type {plan.name} is {old}, not an ENUM: ADD VALUE adds to an ENUM")
    values = enum_values(old).to_pylist()
    if plan.value in values:
        if plan.if_not_exists:
            return Result(message=f"type {plan.name} has {plan.value!r} already")
        raise CatalogError(f"type {plan.name} has {plan.value!r} already (ADD VALUE IF NOT "
                           "EXISTS adds it only where it has not)")
    neighbour = plan.before or plan.after
    if neighbour is not None and neighbour not in values:
        raise SqlError(f"{neighbour!r} is not a value of type {plan.name}: it has "
                       f"{', '.join(map(repr, values))}")
    at = values.index(neighbour) + (plan.after is not None) if neighbour is not None else len(values)
    values.insert(at, plan.value)
    new = exp.DataType(this=exp.DType.ENUM, expressions=[exp.Literal.string(v) for v in values])
    widened = []
    for table in engine.db.metadata_locations():
        for column in engine.db.load(table)[1].columns:
            if column.sql_type == old:
                change = exp.Alter(this=exp.to_table(table), kind="TABLE", actions=[
                    exp.AlterColumn(this=exp.to_identifier(column.name), dtype=new.copy())])
                engine.run(planner.plan(change, engine.facts))
                widened.append(f"{table}.{column.name}")
    catalog.create_type(engine.db.engine, plan.name, canonical_sql_type(render(new)), replace=True)
    return Result(message=f"added {plan.value!r} to type {plan.name}" + (
        f"; widened {', '.join(widened)}" if widened else ""))
