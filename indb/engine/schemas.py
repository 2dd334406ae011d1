"""Handlers of schema statements: CREATE SCHEMA, DROP SCHEMA [CASCADE], SHOW SCHEMAS; and
PostgreSQL's default schema, ``public``, read as indb's, ``main``."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pyarrow as pa
from sqlglot import exp

from indb import planner
from indb.catalog.names import DATABASE, DEFAULT_SCHEMA, POSTGRES_SCHEMA
from indb.result import Result

if TYPE_CHECKING:
    from indb.engine.core import Engine


def create_schema(engine: Engine, plan: planner.CreateSchema, params: object) -> Result:
    if plan.if_not_exists and engine.db.schema_exists(plan.name):
        return Result(message=f"schema {plan.name} already exists")
    engine.db.create_schema(plan.name)
    return Result(message=f"created schema {plan.name}")


def drop_schema(engine: Engine, plan: planner.DropSchema, params: object) -> Result:
    if plan.if_exists and not engine.db.schema_exists(plan.name):
        return Result(message=f"schema {plan.name} does not exist")
    dropped = engine.db.drop_schema(plan.name, plan.cascade)
    return Result(message=f"dropped schema {plan.name}"
                  + (f" and its {len(dropped)} table(s)" if dropped else ""))


def show_schemas(engine: Engine, plan: planner.ShowSchemas, params: object) -> Result:
    names = engine.db.schemas()
    tables = engine.db.metadata_locations()
    counts = {name: 0 for name in names}
    for table in tables:
        schema = engine.db.identifier(table)[0]
        counts[schema] = counts.get(schema, 0) + 1
    return Result(pa.table({"name": pa.array(names, pa.string()),
                            "tables": pa.array([counts[n] for n in names], pa.int64())}))


def main_for_public(engine: Engine, tree: exp.Expr) -> exp.Expr:
    """The statement with ``public.t`` read as ``main.t``: public is PostgreSQL's default schema
    as main is indb's, and what PostgreSQL writes (pg_dump, ORMs given a schema) names it. A
    database that has a schema public of its own (made before it was reserved) keeps it. A
    three-part name in this database (``indb.public.t``) is its two last parts."""
    for node in tree.find_all(exp.Table, exp.Column):  # indb.main.t: this database's main.t
        catalog = node.args.get("catalog")
        if isinstance(catalog, exp.Identifier) and catalog.name.lower() == DATABASE \
                and node.args.get("db") is not None:
            node.set("catalog", None)
    if isinstance(tree, exp.Create | exp.Drop) and str(tree.args.get("kind")).upper() == "SCHEMA":
        return tree  # the schema itself: CREATE SCHEMA public is refused, DROP SCHEMA public none
    found = [db for node in tree.find_all(exp.Table, exp.Column)
             if isinstance(db := node.args.get("db"), exp.Identifier) and not node.args.get("catalog")
             and (db.name if db.quoted else db.name.lower()) == POSTGRES_SCHEMA]
    if found and not engine.db.schema_exists(POSTGRES_SCHEMA):
        for db in found:
            db.replace(exp.to_identifier(DEFAULT_SCHEMA))
    return tree
