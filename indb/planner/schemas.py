"""Plans for schemas: CREATE SCHEMA, DROP SCHEMA [CASCADE], SHOW SCHEMAS.

A schema is an Iceberg namespace; its tables are named ``s.t`` everywhere a table name goes.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlglot import exp

from indb.catalog.names import DEFAULT_SCHEMA, POSTGRES_SCHEMA, checked_schema_name
from indb.errors import CatalogError, SchemaError
from indb.parser import error_at
from indb.parser.kinetica import ShowSchemas as ShowSchemasTree
from indb.planner.tables import CatalogFacts


@dataclass(frozen=True)
class CreateSchema:
    name: str
    if_not_exists: bool


@dataclass(frozen=True)
class DropSchema:
    name: str
    if_exists: bool
    cascade: bool  # drop its tables too; without it, a schema holding tables is refused


@dataclass(frozen=True)
class ShowSchemas:
    pass


def plan_create_schema(tree: exp.Create, catalog: CatalogFacts) -> CreateSchema:
    name = _schema_name(tree.this)
    try:
        checked_schema_name(name)
    except SchemaError as error:
        raise error_at(tree.this, str(error)) from None
    if name == POSTGRES_SCHEMA and not catalog.schema_exists(name):
        if tree.args.get("exists"):  # it exists: it is main
            return CreateSchema(DEFAULT_SCHEMA, True)
        raise error_at(tree.this, "public is PostgreSQL's name of the default schema, main: "
                                  "public.t is main's table t; choose another name")
    if catalog.schema_exists(name) and not tree.args.get("exists"):
        raise CatalogError(f"schema {name} already exists; use CREATE SCHEMA IF NOT EXISTS")
    return CreateSchema(name, bool(tree.args.get("exists")))


def plan_drop_schema(tree: exp.Drop, catalog: CatalogFacts) -> DropSchema:
    schemas = tree.args.get("tables") or [tree.this]
    if len(schemas) > 1:
        raise error_at(tree, "DROP SCHEMA takes one schema at a time")
    name = _schema_name(schemas[0])
    if name == DEFAULT_SCHEMA:
        raise error_at(schemas[0], f"schema {DEFAULT_SCHEMA} holds the tables named without a "
                                   "schema; it cannot be dropped")
    if not tree.args.get("exists") and not catalog.schema_exists(name):
        raise CatalogError(f"schema {name} does not exist; SHOW SCHEMAS lists them")
    return DropSchema(name, bool(tree.args.get("exists")), bool(tree.args.get("cascade")))


def plan_show_schemas(tree: ShowSchemasTree, catalog: CatalogFacts) -> ShowSchemas:
    return ShowSchemas()


def _schema_name(node: exp.Expr) -> str:
    """DuckDB's parser puts a schema's name where a table's database goes."""
    if not isinstance(node, exp.Table) or node.name or not node.db or node.args.get("catalog"):
        raise error_at(node, "expected a schema name, as in CREATE SCHEMA s")
    return node.db.lower()
