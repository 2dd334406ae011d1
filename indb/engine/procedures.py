"""Handlers of the SQL procedure statements, and the runs of procedures that are due.

A procedure's body runs statement after statement with its definer's rights (the user who
created it: ``Engine.as_user``), each checked and planned when it runs, and stops at the first
that fails; what the statements before it did stays done (as in Kinetica). Every execution is
recorded in the run log as a function run is (``SHOW FUNCTION STATUS``: the procedure's name,
``tag`` saying whether it ran on demand or for which due time, its status and, on failure, which
statement failed and why). ``run_due`` is what a server's scheduler calls.
"""

from __future__ import annotations

import contextvars
import logging
import time
import uuid
from typing import TYPE_CHECKING

import pyarrow as pa

from indb.catalog import users
from indb.engine import privileges, temporary
from indb.errors import CatalogError, PrivilegeError, RunError, not_found
from indb.parser import parse
from indb.parser.procedures import ExecuteProcedure
from indb.planner import procedures as plans
from indb.registry.procedures import ProcedureInfo, ProcedureStore, when
from indb.registry.runs import RunStatus
from indb.result import Result

if TYPE_CHECKING:
    from indb.engine.core import Engine

MODE = "procedure"  # the run log's mode of a procedure's executions

log = logging.getLogger("indb.procedures")
# the procedures whose bodies this thread is inside, outermost first: a body may execute another
# procedure, but not one of these (it would never end)
_RUNNING: contextvars.ContextVar[tuple[str, ...]] = contextvars.ContextVar("procedures", default=())


def create_procedure(engine: Engine, plan: plans.CreateProcedure, params: object) -> Result:
    now = time.time()
    first = stop = None
    if plan.every is not None:
        first = plan.start if plan.start is not None else now  # Kinetica: at once, by default
        stop = plans.stop_time(first, plan.stop_at, plan.stop_after)
    info = ProcedureStore(engine.db).create(ProcedureInfo(
        plan.name, "", plan.statements, plan.ddl, engine.user, now, plan.every, first, stop),
        replace=plan.replace)
    # its owner is its definer: who may replace or drop it is whose rights it runs with
    users.set_owner(engine.db.engine, "procedure", plan.name, engine.user)
    return Result(message=f"created procedure {plan.name} ({_schedule(info)})")


def execute_procedure(engine: Engine, plan: plans.ExecuteProcedure, params: object) -> Result:
    store = ProcedureStore(engine.db)
    if plan.due is None:
        return _run(engine, store.get(plan.name), None)
    info = store.find(plan.name)
    if info is None or info.version != plan.version:  # dropped or replaced since it was claimed
        return Result(message=f"procedure {plan.name} changed before its run; nothing ran")
    return _run(engine, info, plan.due)


def show_procedure(engine: Engine, plan: plans.ShowProcedure, params: object) -> Result:
    """Kinetica's DDL, then the definer and schedule; users below admin see the procedures
    they may execute."""
    store = ProcedureStore(engine.db)
    infos = [store.get(plan.name)] if plan.name else store.all()
    access = privileges.access(engine, engine.user, [])
    shown = [i for i in infos if access.may(engine.user, "EXECUTE", "procedure", i.name)]
    if plan.name and not shown:
        raise PrivilegeError(f"{engine.user} may not see procedure {plan.name}: it has no EXECUTE "
                             f"privilege on it")
    rows = {"name": [i.name for i in shown], "ddl": [i.ddl for i in shown],
            "definer": [i.definer for i in shown], "schedule": [_schedule(i) for i in shown],
            "last_due": [when(i.last_due) for i in shown],
            "next_due": [when(_next_due(i)) for i in shown]}
    return Result(pa.table(rows, schema=pa.schema([(k, pa.string()) for k in rows])))


def drop_procedure(engine: Engine, plan: plans.DropProcedure, params: object) -> Result:
    if not ProcedureStore(engine.db).drop(plan.name):
        if plan.if_exists:
            return Result(message=f"procedure {plan.name} does not exist")
        raise not_found("procedure", plan.name)
    users.forget_object(engine.db.engine, "procedure", plan.name)
    return Result(message=f"dropped procedure {plan.name}")


def run_due(engine: Engine, now: float) -> float | None:
    """Run each scheduled procedure that has a due time at or before ``now`` not yet claimed,
    once, after claiming that due time in the catalog (a claim another process made first is
    left to it). A failed run is recorded and logged, and the others still run. Returns the
    next due time of any procedure (None: nothing is scheduled)."""
    store = ProcedureStore(engine.db)
    for info in store.scheduled():
        assert info.every is not None and info.first_due is not None
        moment = plans.due(info.first_due, info.every, info.stop, info.last_due, now)
        if moment is None or not store.claim(info.name, info.version, info.last_due, moment):
            continue
        try:
            with temporary.session(engine):  # a run is a session: its temporary tables go with it
                engine.run(plans.ExecuteProcedure(info.name, moment, info.version))
        except Exception as error:  # recorded in its run; the scheduler goes on
            log.warning("procedure %s, due %s, failed: %s", info.name, when(moment), error)
    times = [t for t in map(_next_due, store.scheduled()) if t is not None]
    return min(times, default=None)


def _run(engine: Engine, info: ProcedureInfo, due: float | None) -> Result:
    """Run the body as its definer, recording the execution; the last statement's rows, if it
    returns any (as Kinetica returns them), else the run's status row."""
    running = _RUNNING.get()
    if info.name in running:
        chain = " -> ".join((*running[running.index(info.name):], info.name))
        raise CatalogError(f"procedure {info.name} executes itself through another ({chain}): it "
                           "would never end; replace one of them without that EXECUTE PROCEDURE")
    inside = _RUNNING.set((*running, info.name))
    try:
        return _run_body(engine, info, due)
    finally:
        _RUNNING.reset(inside)


def _run_body(engine: Engine, info: ProcedureInfo, due: float | None) -> Result:
    run_id = uuid.uuid4().hex[:12]  # as a function run's
    engine.runs.start(run_id, info.name, MODE, [], outputs=[], statement=info.ddl,
                      tag="on demand" if due is None else f"due {when(due)}",
                      user=engine.user if due is None else info.definer)
    count = len(info.statements)
    result, number = Result(), 0
    try:
        with engine.as_user(info.definer):
            for number, text in enumerate(info.statements, 1):
                reason = engine.runs.kill_reason(run_id)  # KILL FUNCTION: before the next one
                if reason:
                    raise RunError(f"procedure {info.name} was stopped before statement {number} "
                                   f"of {count} ({reason}); the statements before it stay done",
                                   run_id, str(RunStatus.KILLED))
                result.close()
                result = engine.execute(text)
    except BaseException as error:
        stopped = isinstance(error, KeyboardInterrupt) or (
            isinstance(error, RunError) and engine.runs.kill_reason(run_id) is not None)
        engine.runs.finish(run_id, RunStatus.KILLED if stopped else RunStatus.ERROR,
                           f"statement {number} of {count} failed: {type(error).__name__}: {_message(error)}"
                           if not stopped else _message(error) or "stopped (Ctrl-C)")
        raise
    message = f"procedure {info.name} completed: {count} statement{'s' * (count != 1)} (run {run_id})"
    engine.runs.finish(run_id, RunStatus.COMPLETED, message)
    # the last statement's rows; another procedure's run row is that run's outcome, not this one's
    if result.returns_rows and not isinstance(parse(info.statements[-1])[0], ExecuteProcedure):
        return result
    result.close()
    return Result(pa.table({"run_id": [run_id], "status": [str(RunStatus.COMPLETED)],
                            "statements": pa.array([count], pa.int64())}), message)


def _message(error: BaseException) -> str:
    return error.message if isinstance(error, RunError) else str(error)


def _next_due(info: ProcedureInfo) -> float | None:
    if info.every is None or info.first_due is None:
        return None
    return plans.next_due(info.first_due, info.every, info.stop, info.last_due)


def _schedule(info: ProcedureInfo) -> str:
    if info.every is None:
        return "on demand"
    text = f"every {info.every:g} s from {when(info.first_due)}"
    return text + (f" until {when(info.stop)}" if info.stop is not None else "")
