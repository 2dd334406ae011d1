"""Handlers of function environment statements.

CREATE and ALTER build a new virtual environment (``indb.runtime.venvs.build``) and only then
record it; a build that fails, or a record that lost a race, removes what was built, so the
environment is as it was. DROP is refused while a function names the environment.
"""

from __future__ import annotations

import shutil
from typing import TYPE_CHECKING

import pyarrow as pa
from sqlglot import exp

from indb import planner
from indb.errors import CatalogError
from indb.parser import render_indb
from indb.parser.environments import AlterFunctionEnvironment, CreateFunctionEnvironment
from indb.registry.environments import EnvironmentInfo, freeze_hash
from indb.result import Result
from indb.runtime import venvs

if TYPE_CHECKING:
    from indb.engine.core import Engine


def create_environment(engine: Engine, plan: planner.CreateEnvironment, params: object) -> Result:
    store = engine.environments
    generation, frozen = venvs.build(store.home(plan.name), ())
    try:
        store.create(EnvironmentInfo(plan.name, generation, (), frozen, freeze_hash(frozen)),
                     replace=plan.replace)
    except BaseException:
        shutil.rmtree(store.home(plan.name) / generation, ignore_errors=True)
        raise
    return Result(message=f"created function environment {plan.name}")


def alter_environment(engine: Engine, plan: planner.AlterEnvironment, params: object) -> Result:
    store, old = engine.environments, plan.environment
    generation, frozen = venvs.build(store.home(old.name), plan.requirements)
    new = old.changed_to(generation, plan.requested, frozen)
    try:
        store.swap(old, new)
    except BaseException:
        shutil.rmtree(store.home(old.name) / generation, ignore_errors=True)
        raise
    done = "installed" if plan.action == "INSTALL" else "uninstalled"
    return Result(_describe([new], engine),
                  f"{done} {' '.join(plan.packages)} in function environment {old.name} "
                  f"(now {len(frozen)} packages of its own, hash {new.hash[:12]})")


def drop_environment(engine: Engine, plan: planner.DropEnvironment, params: object) -> Result:
    if plan.if_exists and engine.environments.find(plan.name) is None:
        return Result(message=f"function environment {plan.name} does not exist")
    users = _users(engine, plan.name)
    if users:
        raise CatalogError(f"function environment {plan.name} is used by function "
                           f"{', '.join(users)}; drop those functions, or CREATE OR REPLACE them "
                           "without SET_ENVIRONMENT, first")
    engine.environments.drop(plan.name)
    return Result(message=f"dropped function environment {plan.name}")


def describe_environment(engine: Engine, plan: planner.DescribeEnvironment, params: object) -> Result:
    return Result(_describe(_chosen(engine, plan.name), engine))


def show_environment(engine: Engine, plan: planner.ShowEnvironment, params: object) -> Result:
    infos = _chosen(engine, plan.name)
    if plan.listing:
        return Result(pa.table({
            "ENVIRONMENT_NAME": [i.name for i in infos],
            "PACKAGES": pa.array([len(i.frozen) for i in infos], pa.int64()),
            "HASH": [i.hash for i in infos],
            "FUNCTIONS": [", ".join(_users(engine, i.name)) for i in infos],
            "CHANGED": [i.changed for i in infos]}, schema=_LISTING))
    return Result(pa.table({"DDL": [ddl(i) for i in infos]}, schema=pa.schema([("DDL", pa.string())])))


def ddl(info: EnvironmentInfo) -> str:
    """The statements that make the environment again, with exactly the versions it holds."""
    name = exp.to_identifier(info.name)
    statements = [render_indb(CreateFunctionEnvironment(this=name, replace=False))]
    if info.frozen:
        statements.append(render_indb(AlterFunctionEnvironment(
            this=name, action=exp.var("INSTALL"),
            expressions=[exp.Literal.string(" ".join(info.frozen))])))
    return ";\n".join(statements) + ";"


_LISTING = pa.schema([("ENVIRONMENT_NAME", pa.string()), ("PACKAGES", pa.int64()),
                      ("HASH", pa.string()), ("FUNCTIONS", pa.string()), ("CHANGED", pa.string())])
_DESCRIPTION = pa.schema([(name, pa.string()) for name in (
    "ENVIRONMENT_NAME", "PACKAGES", "REQUESTED", "HASH", "FUNCTIONS", "PYTHON", "CREATED",
    "CHANGED")])


def _describe(infos: list[EnvironmentInfo], engine: Engine) -> pa.Table:
    """Kinetica's two columns (the name; the packages, one ``name==version`` a line), then indb's."""
    store = engine.environments
    return pa.table({
        "ENVIRONMENT_NAME": [i.name for i in infos],
        "PACKAGES": ["\n".join(i.frozen) for i in infos],
        "REQUESTED": ["\n".join(i.requested) for i in infos],
        "HASH": [i.hash for i in infos],
        "FUNCTIONS": [", ".join(_users(engine, i.name)) for i in infos],
        "PYTHON": [str(venvs.interpreter(store.directory(i))) for i in infos],
        "CREATED": [i.created for i in infos],
        "CHANGED": [i.changed for i in infos]}, schema=_DESCRIPTION)


def _chosen(engine: Engine, name: str | None) -> list[EnvironmentInfo]:
    return [engine.environments.get(name)] if name else engine.environments.all()


def _users(engine: Engine, name: str) -> list[str]:
    """The functions whose WITH OPTIONS name the environment."""
    return [f.name for f in engine.functions.all()
            if (f.options.get("set_environment") or "").lower() == name]
