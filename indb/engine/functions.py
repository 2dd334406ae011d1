"""Handlers of function statements.

Registering reads the code (never runs it), copies it into the database and records the
function; executing hands the plan to the ``FunctionRunner``; a query over ``TABLE(f(...))``
runs each call first and lets DuckDB read its rows.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import pyarrow as pa
import pyarrow.parquet as pq

from indb import planner
from indb.catalog import users
from indb.engine import privileges
from indb.errors import FunctionError, PrivilegeError
from indb.registry.code import code_hash, confined, inspect_code, stored_path
from indb.registry.functions import FunctionInfo
from indb.registry.uploads import UPLOAD_SCHEME, uploaded_file
from indb.result import Result
from indb.engine import exposed
from indb.planner.parameters import signature

if TYPE_CHECKING:
    from indb.engine.core import Engine


def create_function(engine: Engine, plan: planner.CreateFunction, params: object) -> Result:
    if plan.body is not None:
        code_files = {plan.entry: plan.body.encode()}
        facts = plan.code
    else:
        code_files = _read_files(engine, plan.file_paths)
        facts = inspect_code(code_files, plan.entry, plan.handler or plan.name,
                             must_have_handler=plan.handler is not None)
    assert facts is not None  # the planner read the inline form's code
    info = FunctionInfo(
        name=plan.name, mode=plan.mode, style=facts.style, entry=plan.entry, handler=facts.handler,
        frame=facts.frame, params=facts.params, returns=plan.returns, run_command=plan.run_command,
        run_command_args=plan.run_command_args, files=tuple(sorted(code_files)),
        options=dict(plan.options), code_hash=code_hash(code_files), ddl=plan.ddl,
        parameters=plan.parameters, comment=plan.comment)
    engine.functions.create(info, code_files, replace=plan.replace)
    return Result(message=f"created function {plan.name} ({facts.style}"
                          f"{' ' + facts.handler if facts.handler else ''}, {plan.mode})")


def drop_function(engine: Engine, plan: planner.DropFunction, params: object) -> Result:
    if plan.if_exists and engine.functions.find(plan.name) is None:
        return Result(message=f"function {plan.name} does not exist")
    engine.functions.drop(plan.name)
    return Result(message=f"dropped function {plan.name}")


def show_function(engine: Engine, plan: planner.ShowFunction, params: object) -> Result:
    """A function's DDL, code included (``*``: every one's): to admins and developers, and to
    others for the functions they may EXECUTE (``privileges.code_readable``)."""
    if plan.listing:
        return exposed.show_functions(engine)
    readable = privileges.code_readable(engine)
    if plan.name:
        infos = [engine.functions.get(plan.name)]
        readable(infos[0].name, True)  # refused as EXECUTE FUNCTION would be
    else:
        infos = [info for info in engine.functions.all() if readable(info.name, False)]
    return Result(pa.table({"name": [i.name for i in infos], "mode": [i.mode for i in infos],
                            "ddl": [i.ddl for i in infos]}, schema=pa.schema(
        [("name", pa.string()), ("mode", pa.string()), ("ddl", pa.string())])))


def describe_function(engine: Engine, plan: planner.DescribeFunction, params: object) -> Result:
    """One row: Kinetica's columns first, then indb's."""
    info = engine.functions.get(plan.name)
    facts = {
        "FUNCTION_NAME": info.name, "MODE": info.mode, "RUN_COMMAND": info.run_command,
        "RUN_COMMAND_ARGS": ", ".join(info.run_command_args) or None,
        "FILE_PATHS": ", ".join(info.files),
        "WITH_OPTIONS": ", ".join(f"{k} = {v}" for k, v in info.options.items()) or None,
        "language": "python",
        "kind": "handler (called as handler(ctx, *inputs))" if info.style == "handler"
        else "script (a Kinetica-style ProcData program, one process per instance)",
        "entry": info.entry, "handler": info.handler, "frame": info.frame if info.style == "handler" else None,
        "params": None if info.params is None else ", ".join(info.params),
        "returns": ", ".join(f"{c.name} {c.sql_type}" for c in info.returns) or None,
        "parameters": None if info.parameters is None
        else signature(info.parameters, comments=True),
        "comment": info.comment or None,
        "code_hash": info.code_hash, "created": info.created,
    }
    return Result(pa.table({k: pa.array([None if v is None else str(v)], pa.string())
                            for k, v in facts.items()}))


def execute_function(engine: Engine, plan: planner.ExecuteFunction, params: object) -> Result:
    if plan.options.nowait:
        run_id = engine.runner.start(plan, user=engine.user)
        return Result(pa.table({"run_id": [run_id], "status": ["running"]}), f"run {run_id} started")
    report = engine.runner.run(plan, progress=engine.progress, user=engine.user)
    totals = report.totals  # what its instances read, per worker, as its record has it
    return Result(pa.table({"run_id": [report.run_id], "status": [str(report.status)],
                            "rows_in": [report.rows_in], "rows_out": [report.rows_out],
                            "bytes_read": pa.array([totals["bytes_read"]], pa.int64()),
                            "workers": [totals["workers"]]}),
                  f"run {report.run_id} {report.status}: {report.message}", report.rows_out)


def query_with_functions(engine: Engine, plan: planner.QueryWithFunctions, params: object) -> Result:
    names = []
    try:
        for i, call in enumerate(plan.calls):
            report = engine.runner.run(call, result=True, progress=engine.progress,
                                       user=engine.user)
            try:
                rows = _result_rows(call.function, report.results)
            finally:
                engine.runner.forget(report.run_id)
            name = f"{planner.functions.TABLE_FUNCTION_PREFIX}{i}"
            engine.session.duck.register(name, rows)
            names.append(name)
        return Result(engine.session.query(plan.sql, params))
    finally:
        for name in names:
            engine.session.duck.unregister(name)


def _result_rows(function: FunctionInfo, paths: list[str]) -> pa.Table:
    tables = [pq.read_table(p) for p in paths]
    if tables:
        return pa.concat_tables(tables, promote_options="permissive")
    if not function.returns:
        raise FunctionError(f"{function.name} returned no rows and declares no RETURNS TABLE (...), "
                            "so its columns are unknown; declare them in CREATE FUNCTION")
    return pa.schema([(c.name, c.arrow_type) for c in function.returns]).empty_table()


def show_function_status(engine: Engine, plan: planner.ShowFunctionStatus, params: object) -> Result:
    """Kinetica's columns first (FUNCTION_NAME, RUN_ID, OVERALL_STATUS; VERBOSE adds each data
    segment's FUNCTION_STATUSES, one row an instance), then indb's. Users below admin see only
    the runs they started."""
    user = None if privileges.is_admin(engine, engine.user) else engine.user
    if not plan.verbose:
        runs = engine.runs.runs(plan.run_id, user=user)
        return Result(_kinetica_columns(runs, runs["status"].to_pylist()))
    instances = engine.runs.instances(plan.run_id, user=user)
    overall = {run_id: engine.runs.run(run_id)["status"]
               for run_id in set(instances["run_id"].to_pylist())}
    rows = instances.to_pylist()
    statuses = [_segment_status(row) for row in rows]
    table = _kinetica_columns(instances, [overall[r["run_id"]] for r in rows])
    return Result(table.add_column(3, "FUNCTION_STATUSES", pa.array(statuses, pa.string())))


# Kinetica's words for a run's overall status
_OVERALL = {"queued": "none", "running": "running", "completed": "complete", "error": "error",
            "killed": "killed", "timed out": "killed"}


def _kinetica_columns(table: pa.Table, statuses: list) -> pa.Table:
    extra = table.drop_columns(["run_id", "function"])
    kinetica = pa.table({"FUNCTION_NAME": table["function"], "RUN_ID": table["run_id"],
                         "OVERALL_STATUS": pa.array([_OVERALL.get(str(s), str(s)) for s in statuses],
                                                    pa.string())})
    for field, column in zip(extra.schema, extra.columns, strict=True):
        kinetica = kinetica.append_column(field, column)
    return kinetica


def _segment_status(row: dict) -> str:
    """One instance's block, as Kinetica's verbose status gives each data segment."""
    lines = [f"data segment {row['shard']} (rank {row['rank']}, TOM {row['tom']}): {row['status']}"]
    lines += [f"worker: {row['worker']} on {row['device']}"] if row["device"] else []
    lines += [f"read: {row['bytes_read']} bytes" + (
        " (served from its worker's cache)" if row["from_cache"] else "")] \
        if row["bytes_read"] is not None else []
    lines += [f"message: {row['message']}"] if row["message"] else []
    lines += [f"results: {row['results']}"] if row["results"] else []
    lines += [f"bin_results: {row['bin_results']}"] if row["bin_results"] else []
    return "\n".join(lines)


def kill_function(engine: Engine, plan: planner.KillFunction, params: object) -> Result:
    """Stop a run: its starter's, or any for an admin."""
    starter = engine.runs.run(plan.run_id)["user"] or users.OWNER
    if starter != engine.user and not privileges.is_admin(engine, engine.user):
        raise PrivilegeError(f"run {plan.run_id} was started by {starter}; only the user who "
                             "started a run, or an admin, may KILL it")
    if engine.runner.kill(plan.run_id):
        return Result(pa.table({"run_id": [plan.run_id], "status": ["killing"]}),
                      f"asked run {plan.run_id} to stop")
    status = engine.runs.run(plan.run_id)["status"]
    return Result(pa.table({"run_id": [plan.run_id], "status": [status]}),
                  f"run {plan.run_id} had already finished ({status})")


def _read_files(engine: Engine, paths: tuple[str, ...]) -> dict[str, bytes]:
    """FILE PATHS' contents by their place in the code directory (``stored_path``), read now:
    later edits change nothing until REPLACE. Below admin, only files inside the directories
    ``file_paths_allowed`` names are read (``registry.code.confined``), and ``upload://`` ones
    from the user's own uploads (``registry.uploads``)."""
    allowed = privileges.readable_directories(engine)
    out = {}
    for path in paths:
        upload = path.startswith(UPLOAD_SCHEME)
        file = uploaded_file(engine.db.path, engine.user, path) if upload else confined(path, allowed)
        if not file.is_file():
            raise FunctionError(f"FILE PATHS names {path}, which is not a file " + (
                f"{engine.user} uploaded (PUT /v1/files/<name> uploads one)" if upload
                else f"(paths are relative to {Path.cwd()})"))
        out[stored_path(path)] = file.read_bytes()
    return out
