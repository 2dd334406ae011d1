"""The engine's one table from plan types to the functions that carry them out.

``Engine.run`` looks a plan's handler up here and nowhere else; a plan type without an entry is
a bug that ``tests/test_engine_handlers.py`` catches (every planner output has a handler).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from indb import planner
from indb.engine import environments, functions, models, queries, schemas, tables, upkeep
from indb.engine import (macros, monitors, named_types, prepared, privileges, procedures, transfer,
                         variables)
from indb.planner import macros as macro_plans
from indb.planner import prepared as prepared_plans
from indb.planner import named_types as named_type_plans
from indb.planner import transfer as transfer_plans
from indb.planner import variables as variable_plans
from indb.planner import privileges as identity
from indb.planner import monitors as monitor_plans
from indb.engine import subscriptions
from indb.planner import subscriptions as subscription_plans
from indb.engine import alter, indexes, sequences, workers
from indb.planner import workers as worker_plans
from indb.planner import procedures as procedure_plans
from indb.planner import sequences as sequence_plans
from indb.planner import caches, settings
from indb.engine import transactions
from indb.planner import transactions as transaction_plans
from indb.result import Result

if TYPE_CHECKING:
    from indb.engine.core import Engine

Handler = Callable[["Engine", Any, object], Result]  # (engine, plan, statement parameters)

HANDLERS: dict[type, Handler] = {
    # tables
    planner.CreateTable: tables.create_table,
    planner.Insert: tables.insert,
    planner.Delete: tables.delete,
    planner.Truncate: tables.truncate,
    planner.DropTable: tables.drop_table,
    planner.ShowTables: tables.show_tables,
    planner.DescribeTable: tables.describe_table,
    planner.Load: tables.load,
    planner.CreateSchema: schemas.create_schema,
    planner.DropSchema: schemas.drop_schema,
    planner.ShowSchemas: schemas.show_schemas,
    # queries
    planner.Query: queries.query,
    planner.QueryWithFunctions: functions.query_with_functions,
    planner.WithPredictions: models.with_predictions,
    # functions
    planner.CreateFunction: functions.create_function,
    planner.DropFunction: functions.drop_function,
    planner.ShowFunction: functions.show_function,
    planner.DescribeFunction: functions.describe_function,
    planner.ExecuteFunction: functions.execute_function,
    planner.ShowFunctionStatus: functions.show_function_status,
    planner.KillFunction: functions.kill_function,
    # function environments
    planner.CreateEnvironment: environments.create_environment,
    planner.AlterEnvironment: environments.alter_environment,
    planner.DropEnvironment: environments.drop_environment,
    planner.DescribeEnvironment: environments.describe_environment,
    planner.ShowEnvironment: environments.show_environment,
    # models
    planner.CreateModel: models.create_model,
    planner.ShowModels: models.show_models,
    planner.DescribeModel: models.describe_model,
    planner.DropModel: models.drop_model,
    planner.AlterModelAlias: models.alter_model_alias,
    # table upkeep
    planner.Update: upkeep.change_rows,
    planner.Merge: upkeep.change_rows,
    planner.Upsert: upkeep.upsert,
    planner.NoIndex: indexes.no_index,
    planner.CreateIndex: indexes.create_index,
    planner.DropIndex: indexes.drop_index,
    planner.RenameIndex: indexes.rename_index,
    planner.Analyze: tables.analyze,
    planner.Comment: tables.comment,
    planner.AlterTable: alter.alter_table,
    planner.RenameRelation: alter.rename_relation,
    planner.AlterMissing: alter.alter_missing,
    planner.CreateView: upkeep.create_view,
    planner.DropView: upkeep.drop_view,
    planner.ShowViews: upkeep.show_views,
    planner.ShowCreate: upkeep.show_create,
    planner.Explain: upkeep.explain,
    planner.WithSnapshots: upkeep.with_snapshots,
    planner.Vacuum: upkeep.vacuum,
    planner.Optimize: upkeep.optimize,
    planner.ShowSnapshots: upkeep.show_snapshots,
    # users, roles, grants and tokens
    identity.CreatePrincipal: privileges.create_principal,
    identity.AlterUser: privileges.alter_user,
    identity.DropPrincipal: privileges.drop_principal,
    identity.GrantRoles: privileges.grant_roles,
    identity.GrantPrivileges: privileges.grant_privileges,
    identity.CreateToken: privileges.create_token,
    identity.ShowTokens: privileges.show_tokens,
    identity.RevokeToken: privileges.revoke_token,
    identity.ShowGrants: privileges.show_grants,
    identity.ShowPrincipals: privileges.show_principals,
    identity.SetOwner: privileges.set_owner,
    settings.SetDatabaseSetting: privileges.set_database_setting,
    settings.SetSessionSettings: queries.set_session_settings,
    settings.ShowSearchPath: queries.show_search_path,
    macro_plans.CreateMacro: macros.create,
    caches.NothingToDo: queries.nothing_to_do,
    macro_plans.DropMacro: macros.drop,
    macro_plans.ShowMacros: macros.show,
    prepared_plans.Prepare: prepared.prepare,
    prepared_plans.Deallocate: prepared.deallocate,
    named_type_plans.CreateType: named_types.create,
    named_type_plans.DropType: named_types.drop,
    named_type_plans.AddValue: named_types.add_value,
    named_type_plans.RenameType: named_types.rename,
    transfer_plans.ExportDatabase: transfer.export_database,
    transfer_plans.ImportDatabase: transfer.import_database,
    variable_plans.SetVariable: variables.set_variable,
    variable_plans.ResetVariable: variables.reset_variable,
    # transactions
    transaction_plans.Begin: transactions.begin,
    transaction_plans.Commit: transactions.commit,
    transaction_plans.Rollback: transactions.rollback,
    transaction_plans.Savepoint: transactions.savepoint,
    transaction_plans.SetConstraints: transactions.set_constraints,
    transaction_plans.Release: transactions.release,
    # procedures
    procedure_plans.CreateProcedure: procedures.create_procedure,
    procedure_plans.ExecuteProcedure: procedures.execute_procedure,
    procedure_plans.ShowProcedure: procedures.show_procedure,
    procedure_plans.DropProcedure: procedures.drop_procedure,
    # model monitors
    monitor_plans.CreateMonitor: monitors.create_monitor,
    monitor_plans.ExecuteMonitor: monitors.execute_monitor,
    monitor_plans.ShowMonitors: monitors.show_monitors,
    monitor_plans.DropMonitor: monitors.drop_monitor,
    # subscriptions (the tickerplant runs them: indb.stream.subscriptions)
    subscription_plans.CreateSubscription: subscriptions.create_subscription,
    subscription_plans.ShowSubscriptions: subscriptions.show_subscriptions,
    subscription_plans.DropSubscription: subscriptions.drop_subscription,
    # the cluster (indb cluster status's data)
    worker_plans.ShowWorkers: workers.show_workers,
    # sequences
    sequence_plans.CreateSequence: sequences.create_sequence,
    sequence_plans.DropSequence: sequences.drop_sequence,
    sequence_plans.AlterSequence: sequences.alter_sequence,
    sequence_plans.ShowSequences: sequences.show_sequences,
    sequence_plans.WithSequences: sequences.with_sequences,
}
