"""Named types (``CREATE TYPE mood AS ENUM ('sad', 'ok', 'happy')``), kept in the catalog and put
in place of their names in each statement before it is checked and planned, as macros are: a
column ``m mood`` is made an ``ENUM('sad', 'ok', 'happy')`` column, ``'ok'::mood`` a cast to it.
So a table keeps the type its columns had when it was made, whatever becomes of the name."""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlglot import exp

from indb.catalog import named_types as catalog
from indb.errors import CatalogError
from indb.planner import named_types as plans
from indb.result import Result

if TYPE_CHECKING:
    from indb.engine.core import Engine


def create(engine: Engine, plan: plans.CreateType, params: object) -> Result:
    catalog.create_type(engine.db.engine, plan.name, plan.definition, plan.replace)
    return Result(message=f"created type {plan.name} AS {plan.definition}")


def drop(engine: Engine, plan: plans.DropType, params: object) -> Result:
    if catalog.drop_type(engine.db.engine, plan.name):
        return Result(message=f"dropped type {plan.name}")
    if plan.if_exists:
        return Result(message=f"type {plan.name} does not exist")
    raise CatalogError(f"type {plan.name} does not exist")


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
