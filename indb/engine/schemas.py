"""Handlers of schema statements: CREATE SCHEMA, DROP SCHEMA [CASCADE], SHOW SCHEMAS."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pyarrow as pa

from indb import planner
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
