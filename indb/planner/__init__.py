"""From a syntax tree and the catalog to a plan: what a statement will do, decided up front.

The planner is pure: it reads the tree and asks the catalog only whether names exist (and what a
registered function declares), so every rule about what is allowed lives here and is testable
without DuckDB, Iceberg or a cluster. The engine carries plans out. ``tables`` plans table
statements and queries, ``functions`` the function statements.
"""

from __future__ import annotations

from sqlglot import exp

from indb.errors import SqlError
from indb.parser import CreateFunction as CreateFunctionTree
from indb.parser import ExecuteFunction as ExecuteFunctionTree
from indb.parser import KillFunction as KillFunctionTree
from indb.parser import ShowFunction as ShowFunctionTree
from indb.parser import ShowFunctionStatus as ShowFunctionStatusTree
from indb.parser import AlterModelAlias as AlterModelAliasTree
from indb.parser import CreateModel as CreateModelTree
from indb.parser import DescribeModel as DescribeModelTree
from indb.parser import DropModel as DropModelTree
from indb.parser import ShowModels as ShowModelsTree
from indb.planner import functions, models, tables
from indb.planner.functions import (CreateFunction, DescribeFunction, DropFunction, ExecuteFunction,
                                    InputSpec, KillFunction, QueryWithFunctions, ShowFunction,
                                    ShowFunctionStatus)
from indb.planner.models import (AlterModelAlias, CreateModel, DescribeModel, DropModel, Prediction,
                                 ShowModels, WithPredictions)
from indb.planner.tables import (STAGE_TABLE, CatalogFacts, CreateTable, Delete, DescribeTable,
                                 DropTable, Insert, Query, ShowTables, position)

__all__ = ["STAGE_TABLE", "CatalogFacts", "CreateFunction", "CreateTable", "Delete",
           "DescribeFunction", "DescribeTable", "DropFunction", "DropTable", "ExecuteFunction",
           "Insert", "InputSpec", "KillFunction", "Plan", "Query", "QueryWithFunctions",
           "ShowFunction", "ShowFunctionStatus", "ShowTables", "plan", "AlterModelAlias",
           "CreateModel", "DescribeModel", "DropModel", "Prediction", "ShowModels", "WithPredictions"]

Plan = (CreateTable | Insert | Delete | DropTable | ShowTables | DescribeTable | Query
        | CreateFunction | DropFunction | ShowFunction | DescribeFunction | ExecuteFunction
        | QueryWithFunctions | ShowFunctionStatus | KillFunction | CreateModel | ShowModels
        | DescribeModel | DropModel | AlterModelAlias | WithPredictions)


def plan(tree: exp.Expression, catalog: CatalogFacts, sql: str | None = None) -> Plan:
    """The plan for one parsed statement; raises SqlError or CatalogError for what is not allowed."""
    planner = _PLANNERS.get(type(tree))
    if planner is None:
        kind = tree.key.upper()
        if isinstance(tree, exp.Command):  # sqlglot's fallback: the keyword and the raw rest
            kind = " ".join(f"{tree.this} {tree.expression or ''}".split()[:2]).upper()
        raise SqlError(f"{kind} statements are not supported; indb runs queries, CREATE/DROP "
                       "TABLE, INSERT, DELETE, SHOW TABLES, DESCRIBE and the FUNCTION statements",
                       *position(tree), sql)
    tree, predictions = models.bind_predictions(tree, catalog, sql)
    planned = planner(tree, catalog, sql)
    return WithPredictions(planned, predictions) if predictions else planned


def _by_kind(on_table, on_function):
    """A planner for DROP/DESCRIBE, which name a table or (``kind`` FUNCTION) a function."""
    def choose(tree: exp.Expression, catalog: CatalogFacts, sql: str | None) -> Plan:
        is_function = str(tree.args.get("kind") or "").upper() == "FUNCTION"
        return (on_function if is_function else on_table)(tree, catalog, sql)
    return choose


def _query(tree: exp.Expression, catalog: CatalogFacts, sql: str | None) -> Query | QueryWithFunctions:
    return functions.plan_table_functions(tree, catalog, sql) or tables.plan_query(tree, catalog, sql)


_PLANNERS = {
    exp.Create: tables.plan_create,
    exp.Insert: tables.plan_insert,
    exp.Delete: tables.plan_delete,
    exp.Drop: _by_kind(tables.plan_drop, functions.plan_drop_function),
    exp.Show: tables.plan_show,
    exp.Describe: _by_kind(tables.plan_describe, functions.plan_describe_function),
    exp.Select: _query,
    exp.Union: _query,
    exp.Intersect: _query,
    exp.Except: _query,
    exp.Values: tables.plan_query,
    exp.Subquery: _query,
    CreateFunctionTree: functions.plan_create_function,
    ExecuteFunctionTree: functions.plan_execute,
    ShowFunctionTree: functions.plan_show_function,
    ShowFunctionStatusTree: functions.plan_show_status,
    KillFunctionTree: functions.plan_kill,
    CreateModelTree: models.plan_create_model,
    ShowModelsTree: models.plan_show_models,
    DescribeModelTree: models.plan_describe_model,
    DropModelTree: models.plan_drop_model,
    AlterModelAliasTree: models.plan_alter_alias,
}
