"""Plans for SQL procedures (``indb.parser.procedures``), and the arithmetic of their schedules.

A schedule is ``every`` seconds from its first due time (``STARTING AT``, or when the procedure
was created: Kinetica runs it at once then), up to a stop time (``STOP AFTER`` a time, or a
duration counted from the first due time). The due times are ``first + k * every``. The
scheduler claims one due time at a time in the catalog; ``due`` says which one a run at ``now``
claims: the latest that has passed. So after downtime, the due times that passed while the
server was down are caught up by ONE run (a procedure that refreshes a table need not run
seven times in a row for a week of missed nights), and a due time is never claimed twice.

Everything here is pure: times are seconds since the epoch, UTC, passed in.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlglot import exp

from indb.parser import error_at, render_indb
from indb.parser import procedures as trees
from indb.parser.durations import Duration
from indb.planner.durations import moment, seconds
from indb.planner.tables import CatalogFacts, new_name

# statements a body may not hold: a procedure's runs must not make or drop procedures. It may
# execute others (refused at CREATE if it names itself, and when it runs if another leads back).
NOT_IN_BODY = (trees.CreateProcedure, trees.DropProcedure)


@dataclass(frozen=True)
class CreateProcedure:
    name: str
    replace: bool
    statements: tuple[str, ...]   # the body's statements, as typed
    every: float | None           # seconds between runs; None: run on demand only
    start: float | None           # STARTING AT; None: when created
    stop_at: float | None         # STOP AFTER a time
    stop_after: float | None      # STOP AFTER a duration, in seconds from the first due time
    ddl: str


@dataclass(frozen=True)
class ExecuteProcedure:
    name: str
    due: float | None = None      # the scheduler's: the due time it claimed; None: on demand
    version: str | None = None    # ... and the procedure's version it claimed it of


@dataclass(frozen=True)
class ShowProcedure:
    name: str | None              # None: every procedure


@dataclass(frozen=True)
class DropProcedure:
    name: str
    if_exists: bool


def plan_create(tree: trees.CreateProcedure, catalog: CatalogFacts,
                supported: Callable[[exp.Expr], Any]) -> CreateProcedure:
    """``supported`` refuses (SqlError) a statement indb does not run; the body's statements are
    checked with it now, and planned when they run (a table they read may not exist yet)."""
    name = new_name(tree.this, "procedure")
    if not tree.expressions:
        raise error_at(tree.this, f"procedure {name} has no statements: CREATE PROCEDURE {name} "
                                  "BEGIN stmt; stmt; END")
    for statement in tree.expressions:
        if isinstance(statement, NOT_IN_BODY):
            raise error_at(statement, "a procedure's body cannot create or drop procedures")
        if isinstance(statement, trees.ExecuteProcedure) and statement.this.name.lower() == name:
            raise error_at(statement, f"procedure {name} executes itself: it would never end; "
                                      "execute other procedures in its body")
        supported(statement)
    every = start = stop_at = stop_after = None
    if tree.args.get("every") is not None:
        every = seconds(tree.args["every"], "EXECUTE FOR EVERY")
        start = moment(tree.args["starting"], "STARTING AT") if tree.args.get("starting") else None
        stop = tree.args.get("stop")
        if isinstance(stop, Duration):
            stop_after = seconds(stop, "STOP AFTER")
        elif stop is not None:
            stop_at = moment(stop, "STOP AFTER")
            if start is not None and stop_at < start:
                raise error_at(stop, "STOP AFTER is before STARTING AT: the procedure would "
                                     "never run")
    return CreateProcedure(name, bool(tree.args.get("replace")),
                           tuple(t.name for t in tree.args["texts"]), every, start, stop_at,
                           stop_after, render_indb(tree))


def plan_execute(tree: trees.ExecuteProcedure, catalog: CatalogFacts) -> ExecuteProcedure:
    return ExecuteProcedure(tree.this.name.lower())


def plan_show(tree: trees.ShowProcedure, catalog: CatalogFacts) -> ShowProcedure:
    return ShowProcedure(None if isinstance(tree.this, exp.Star) else tree.this.name.lower())


def plan_drop(tree: trees.DropProcedure, catalog: CatalogFacts) -> DropProcedure:
    return DropProcedure(tree.this.name.lower(), bool(tree.args.get("exists")))


# -- schedules --------------------------------------------------------------------------------

def stop_time(first: float, stop_at: float | None, stop_after: float | None) -> float | None:
    """When runs end (the last due time is at or before it); None: never."""
    return stop_at if stop_at is not None else None if stop_after is None else first + stop_after


def due(first: float, every: float, stop: float | None, last: float | None,
        now: float) -> float | None:
    """The due time a run at ``now`` claims: the latest one at or before ``now`` (and ``stop``),
    if it is after ``last``, the due time claimed before; else None (nothing to run)."""
    limit = now if stop is None else min(now, stop)
    if limit < first:
        return None
    k = math.floor((limit - first) / every)
    if first + (k + 1) * every <= limit:  # floor of a quotient that rounded down
        k += 1
    moment = first + k * every
    return None if last is not None and moment <= last else moment


def next_due(first: float, every: float, stop: float | None, last: float | None) -> float | None:
    """The first due time after ``last`` (``first`` if none was claimed); None once past
    ``stop``: the schedule has ended."""
    k = 0 if last is None else max(0, math.floor((last - first) / every) + 1)
    while first + k * every <= (last if last is not None else -math.inf):
        k += 1
    moment = first + k * every
    return None if stop is not None and moment > stop else moment
