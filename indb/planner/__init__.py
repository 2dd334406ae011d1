"""From a syntax tree and the catalog to a plan: what a statement will do, decided up front.

The planner is pure: it reads the tree and asks the catalog only whether names exist (and what a
registered function declares), so every rule about what is allowed lives here and is testable
without DuckDB, Iceberg or a cluster. The engine carries plans out. ``tables`` plans table
statements and queries, ``functions`` the function statements, ``models`` the model statements,
``upkeep`` UPDATE, MERGE, views, COPY, EXPLAIN, time travel, VACUUM and OPTIMIZE, ``alter`` ALTER
TABLE.
"""

from __future__ import annotations

from sqlglot import exp

from collections.abc import Callable
from typing import Any

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
from indb.parser.dialect import Explain as ExplainTree
from indb.parser.dialect import Optimize as OptimizeTree
from indb.parser.dialect import ShowSnapshots as ShowSnapshotsTree
from indb.parser.dialect import ShowCreate as ShowCreateTree
from indb.parser.dialect import ShowViews as ShowViewsTree
from indb.parser.dialect import Vacuum as VacuumTree
from indb.planner import alter, environments, functions, models, schemas, settings, tables, upkeep
from indb.planner.schemas import CreateSchema, DropSchema, ShowSchemas
from indb.parser.kinetica import ShowSchemas as ShowSchemasTree
from indb.planner import privileges
from indb.planner import procedures
from indb.parser import procedures as procedure_trees
from indb.planner import monitors
from indb.parser import monitors as monitor_trees
from indb.planner import subscriptions
from indb.parser import subscriptions as subscription_trees
from indb.planner import workers
from indb.parser import workers as worker_trees
from indb.planner import sequences
from indb.planner import macros
from indb.planner import caches
from indb.planner import prepared
from indb.planner import named_types
from indb.planner import transfer
from indb.planner import variables
from indb.parser import transfer as transfer_trees
from indb.parser import named_types as named_type_trees
from indb.parser import prepared as prepared_trees
from indb.parser import sequences as sequence_trees
from indb.parser import macros as macro_trees
from indb.planner import indexes
from indb.planner import transactions
from indb.planner.indexes import CreateIndex, DropIndex, NoIndex, RenameIndex
from indb.planner.environments import (AlterEnvironment, CreateEnvironment, DescribeEnvironment,
                                      DropEnvironment, ShowEnvironment)
from indb.parser import environments as environment_trees
from indb.planner.functions import (CreateFunction, DescribeFunction, DropFunction, ExecuteFunction,
                                    InputSpec, KillFunction, QueryWithFunctions, RunOptions,
                                    ShowFunction, ShowFunctionStatus)
from indb.planner.models import (AlterModelAlias, CreateModel, DescribeModel, DropModel, Prediction,
                                 ShowModels, WithPredictions)
from indb.planner.tables import (STAGE_TABLE, Analyze, CatalogFacts, Comment, CreateTable, Delete,
                                 DescribeTable,
                                 DropTable, Insert, Load, Query, Returning, ShowTables,
                                 Truncate, plan_load)
from indb.planner.alter import AlterMissing, AlterTable, RenameRelation
from indb.planner.upkeep import (CreateView, DropView, Explain, Merge, Optimize, ShowCreate,
                                 ShowSnapshots, ShowViews, SnapshotRef, Update, Upsert, Vacuum,
                                 WithSnapshots)
from indb.parser import error_at, render

__all__ = ["STAGE_TABLE", "AlterModelAlias", "Analyze", "CatalogFacts", "Comment", "CreateFunction",
           "CreateModel",
           "CreateTable", "Delete", "DescribeFunction", "DescribeModel", "DescribeTable",
           "DropFunction", "DropModel", "DropTable", "ExecuteFunction", "InputSpec", "Insert",
           "KillFunction", "Load", "NoIndex", "CreateIndex", "DropIndex", "RenameIndex", "Plan",
           "Prediction", "Query",
           "QueryWithFunctions",
           "Returning",
           "RunOptions", "ShowFunction", "ShowFunctionStatus", "ShowModels", "ShowTables",
           "Truncate", "WithPredictions", "plan", "plan_load",
           # upkeep
           "AlterTable", "AlterMissing", "RenameRelation", "CreateView", "DropView", "Explain",
           "Merge", "Optimize", "ShowSnapshots",
           "ShowViews", "ShowCreate", "SnapshotRef", "Update", "Upsert", "Vacuum", "WithSnapshots",
           # schemas
           "CreateSchema", "DropSchema", "ShowSchemas",
           # function environments
           "AlterEnvironment", "CreateEnvironment", "DescribeEnvironment", "DropEnvironment",
           "ShowEnvironment"]

Plan = (CreateTable | Insert | Delete | Truncate | DropTable | ShowTables | DescribeTable | Query
        | Load | NoIndex | CreateIndex | DropIndex | RenameIndex | Analyze | Comment
        | CreateFunction | DropFunction | ShowFunction | DescribeFunction | ExecuteFunction
        | QueryWithFunctions | ShowFunctionStatus | KillFunction | CreateModel | ShowModels
        | DescribeModel | DropModel | AlterModelAlias | WithPredictions
        | Update | Merge | Upsert | AlterTable | RenameRelation | AlterMissing | CreateView | DropView
        | ShowViews | Explain | WithSnapshots
        | Vacuum | Optimize | ShowSnapshots | CreateSchema | DropSchema | ShowSchemas
        | CreateEnvironment | AlterEnvironment | DropEnvironment | DescribeEnvironment | ShowEnvironment
        | privileges.CreatePrincipal | privileges.AlterUser | privileges.DropPrincipal
        | privileges.GrantRoles | privileges.GrantPrivileges | privileges.CreateToken
        | privileges.ShowTokens | privileges.RevokeToken | privileges.ShowGrants
        | privileges.ShowPrincipals | privileges.SetOwner | settings.SetDatabaseSetting
        | settings.SetSessionSettings | settings.ShowSearchPath | ShowCreate
        | procedures.CreateProcedure | procedures.ExecuteProcedure | procedures.ShowProcedure
        | procedures.DropProcedure | monitors.CreateMonitor | monitors.ExecuteMonitor
        | monitors.ShowMonitors | monitors.DropMonitor | subscriptions.CreateSubscription
        | subscriptions.ShowSubscriptions | subscriptions.DropSubscription | workers.ShowWorkers
        | sequences.CreateSequence | sequences.DropSequence | sequences.AlterSequence
        | sequences.ShowSequences | sequences.WithSequences | macros.CreateMacro
        | macros.DropMacro | macros.ShowMacros | caches.NothingToDo | prepared.Prepare
        | prepared.Deallocate | named_types.CreateType | named_types.DropType
        | named_types.AddValue | named_types.RenameType | transfer.ExportDatabase | transfer.ImportDatabase
        | variables.SetVariable
        | variables.ResetVariable | transactions.Begin | transactions.Commit
        | transactions.Rollback | transactions.Savepoint | transactions.Release
        | transactions.SetConstraints)

Planner = Callable[[Any, CatalogFacts], Plan]


def plan(tree: exp.Expr, catalog: CatalogFacts) -> Plan:
    """The plan for one parsed statement; raises SqlError or CatalogError for what is not allowed."""
    if isinstance(tree, prepared_trees.Prepare):  # its statement is planned again at each EXECUTE
        planned = plan(tree.expression, catalog)  # (one that cannot run is refused now)
        return prepared.plan_prepare(tree, planned.sql if isinstance(planned, Query) else None)
    _planner_of(tree)  # an unsupported statement is refused before anything else is looked at
    try:
        tree, predictions = models.bind_predictions(tree, catalog)
        tree, snapshots = upkeep.bind_snapshots(tree, catalog)
        tree, numbered = sequences.bind(tree)
        planned = _plan_statement(tree, catalog)
    except RecursionError:
        raise error_at(tree, "the statement nests too deeply to plan; write it with fewer "
                             "levels") from None
    planned = sequences.WithSequences(planned) if numbered else planned
    planned = WithPredictions(planned, predictions) if predictions else planned
    return WithSnapshots(planned, snapshots) if snapshots else planned


def _planner_of(tree: exp.Expr) -> Planner:
    planner = _PLANNERS.get(type(tree))
    if planner is None and isinstance(tree, exp.Command):
        planner = _COMMANDS.get(str(tree.this).upper())
    if planner is None and isinstance(tree, exp.Column | exp.Alias):  # a statement read as
        planner = _WORDS.get(render(tree).split()[0].upper().strip('"'))  # words (CHECKPOINT)
    if planner is None:
        kind = tree.key.upper()
        if isinstance(tree, exp.Command):  # sqlglot's fallback: the keyword and the raw rest
            words = f"{tree.this} {tree.expression or ''}".split()
            kind = " ".join(words[:2] if words[0].upper() in _TWO_WORDS else words[:1]).upper()
        elif isinstance(tree, exp.Column | exp.Alias):  # a statement sqlglot read as words
            kind = render(tree).split()[0].upper()  # (CHECKPOINT, DEALLOCATE p)
        raise error_at(tree, f"{kind} statements are not supported; indb runs queries, CREATE/DROP "
                             "TABLE and VIEW, INSERT, UPDATE, DELETE, MERGE, ALTER TABLE, COPY, "
                             "EXPLAIN, VACUUM, OPTIMIZE, SHOW, DESCRIBE and the FUNCTION and MODEL "
                             "statements")
    return planner


def _plan_statement(tree: exp.Expr, catalog: CatalogFacts) -> Plan:
    """The plan of a statement whose PREDICT calls and old snapshots are bound already."""
    return _planner_of(tree)(tree, catalog)


def _by_kind(on_table: Planner, **others: Planner) -> Planner:
    """A planner for CREATE/DROP/DESCRIBE, which name a table unless their ``kind`` (FUNCTION,
    VIEW) says otherwise."""
    def choose(tree: exp.Expr, catalog: CatalogFacts) -> Plan:
        return others.get(str(tree.args.get("kind") or "").upper(), on_table)(tree, catalog)
    return choose


def _query(tree: exp.Expr, catalog: CatalogFacts) -> Query | QueryWithFunctions:
    return functions.plan_table_functions(tree, catalog) or tables.plan_query(tree, catalog)


_TWO_WORDS = ("CREATE", "DROP", "ALTER", "SHOW")  # what a refused command is named by
# statements sqlglot reads as commands (its keyword, and the rest as text), by the keyword
_COMMANDS: dict[str, Planner] = {"RESET": settings.plan_reset, "SHOW": upkeep.plan_show_command,
                                 "SET": lambda tree, catalog: (
                                     transactions.plan_set_constraints(tree, catalog)
                                     if transactions.is_set_constraints(tree)
                                     else settings.plan_set_command(tree, catalog)),
                                 "SAVEPOINT": transactions.plan_savepoint,
                                 "RELEASE": transactions.plan_release,
                                 "FORCE": caches.plan_checkpoint}
# statements sqlglot reads as a column or an alias, by their first word
_WORDS: dict[str, Planner] = {"CHECKPOINT": caches.plan_checkpoint}
_PLANNERS: dict[type[exp.Expr], Planner] = {
    exp.Create: _by_kind(tables.plan_create, VIEW=upkeep.plan_create_view,
                         SCHEMA=schemas.plan_create_schema, INDEX=indexes.plan_create_index,
                         SEQUENCE=sequences.plan_create, MACRO=macros.plan_create,
                         FUNCTION=macros.plan_create),  # (DuckDB's CREATE FUNCTION m(a) AS ...)
    exp.Insert: upkeep.plan_insert,
    exp.Transaction: transactions.plan_begin,
    exp.Commit: transactions.plan_commit,
    exp.Rollback: transactions.plan_rollback,
    exp.Delete: tables.plan_delete,
    exp.TruncateTable: tables.plan_truncate,
    exp.Analyze: tables.plan_analyze,
    exp.Comment: tables.plan_comment,
    exp.Drop: _by_kind(tables.plan_drop, FUNCTION=functions.plan_drop_function,
                       VIEW=upkeep.plan_drop_view, SCHEMA=schemas.plan_drop_schema,
                       INDEX=indexes.plan_drop_index),
    exp.Show: tables.plan_show,
    exp.Set: settings.plan_set,
    exp.Pragma: settings.plan_pragma,
    exp.Use: settings.plan_use,
    exp.Describe: _by_kind(tables.plan_describe, FUNCTION=functions.plan_describe_function),
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
    exp.Update: upkeep.plan_update,
    exp.Merge: upkeep.plan_merge,
    exp.Alter: alter.plan_alter,
    exp.Copy: upkeep.plan_copy,
    ExplainTree: lambda tree, catalog: upkeep.plan_explain(tree, catalog, _plan_statement),
    VacuumTree: upkeep.plan_vacuum,
    OptimizeTree: upkeep.plan_optimize,
    ShowSnapshotsTree: upkeep.plan_show_snapshots,
    ShowViewsTree: upkeep.plan_show_views,
    ShowCreateTree: upkeep.plan_show_create,
    ShowSchemasTree: schemas.plan_show_schemas,
    **privileges.PLANNERS,
    settings.AlterDatabase: settings.plan_alter_database,
    environment_trees.CreateFunctionEnvironment: environments.plan_create,
    environment_trees.AlterFunctionEnvironment: environments.plan_alter,
    environment_trees.DropFunctionEnvironment: environments.plan_drop,
    environment_trees.DescribeFunctionEnvironment: environments.plan_describe,
    environment_trees.ShowFunctionEnvironment: environments.plan_show,
    procedure_trees.CreateProcedure: lambda tree, catalog: procedures.plan_create(tree, catalog, _planner_of),
    procedure_trees.ExecuteProcedure: procedures.plan_execute,
    procedure_trees.ShowProcedure: procedures.plan_show,
    procedure_trees.DropProcedure: procedures.plan_drop,
    monitor_trees.CreateMonitor: monitors.plan_create,
    monitor_trees.ExecuteMonitor: monitors.plan_execute,
    monitor_trees.ShowMonitors: monitors.plan_show,
    monitor_trees.DropMonitor: monitors.plan_drop,
    subscription_trees.CreateSubscription: subscriptions.plan_create,
    subscription_trees.ShowSubscriptions: subscriptions.plan_show,
    subscription_trees.DropSubscription: subscriptions.plan_drop,
    worker_trees.ShowWorkers: workers.plan_show,
    sequence_trees.DropSequence: sequences.plan_drop,
    sequence_trees.AlterSequence: sequences.plan_alter,
    sequence_trees.ShowSequences: sequences.plan_show,
    macro_trees.DropMacro: macros.plan_drop,
    exp.Cache: caches.plan_cache,
    exp.Uncache: caches.plan_uncache,
    exp.Refresh: caches.plan_refresh,
    macro_trees.ShowMacros: macros.plan_show,
    prepared_trees.Deallocate: prepared.plan_deallocate,
    named_type_trees.CreateType: named_types.plan_create,
    named_type_trees.DropType: named_types.plan_drop,
    named_type_trees.AlterType: named_types.plan_alter,
    transfer_trees.ExportDatabase: transfer.plan_export,
    transfer_trees.ImportDatabase: transfer.plan_import,
}
