"""Prepared statements in SQL (``PREPARE q AS ...``, ``EXECUTE q(...)``, ``DEALLOCATE q``): a
session's own, kept with its temporary names (``Temporaries.prepared``), so the PostgreSQL
port, which lends a session to a pooled connection a turn, keeps them too.

A statement is checked and planned when it is prepared, so one that cannot run, or that the
user may not run, is refused then; what is kept is the statement as written. ``EXECUTE`` puts
the values it gives in place of the parameters (each cast to its declared type, where PREPARE
declared one) and runs the statement as if it had been typed then: its names resolved along the
search path, temporary tables and views and macros as they are then (as PostgreSQL plans a
prepared statement again when the search path changes, and DuckDB binds it again when the
catalog does), the user's privileges checked again."""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlglot import exp

from indb.errors import CatalogError, SqlError
from indb.parser import error_at, parse, render
from indb.parser.prepared import Execute, Prepare
from indb.planner import prepared as plans
from indb.result import Result

if TYPE_CHECKING:
    from indb.engine.core import Engine
    from indb.engine.temporary import Temporaries


def prepare(engine: Engine, plan: plans.Prepare, params: object) -> Result:
    """Keep the statement under its name (a statement of that name before it is replaced, as
    DuckDB does); a query bound by DuckDB first, so that a table or column it does not have is
    reported now, as DuckDB's and PostgreSQL's PREPARE report it."""
    statements = _statements(engine, "PREPARE")
    if plan.query is not None:
        _bound(engine, plan)
    statements[plan.name] = plan
    count = len(plan.parameters)
    return Result(message=f"prepared {plan.name}, of {count} parameter{'s' * (count != 1)}")


def _bound(engine: Engine, plan: plans.Prepare) -> None:
    """Have DuckDB bind the query, its parameters NULL and no row read (``LIMIT 0``): a table
    or column it does not have is DuckDB's Catalog or Binder error, raised; any other error
    may come of a NULL where a value will be, and is left to EXECUTE."""
    assert plan.query is not None
    probe = exp.select("*").from_(exp.Subquery(this=parse(plan.query)[0])).limit(0)
    values = [None] * len(plan.parameters) if plan.numbered else dict.fromkeys(plan.parameters)
    try:
        engine.session.query(render(probe), values or None)
    except SqlError as error:
        if str(error).startswith(("Catalog Error", "Binder Error")):
            raise


def deallocate(engine: Engine, plan: plans.Deallocate, params: object) -> Result:
    statements = _statements(engine, "DEALLOCATE")
    if plan.name is None:
        statements.clear()
        return Result(message="DEALLOCATE ALL")
    if statements.pop(plan.name, None) is None:
        raise CatalogError(f'prepared statement "{plan.name}" does not exist')
    return Result(message="DEALLOCATE")


def checked(tree: Prepare, statement: exp.Expr) -> Prepare:
    """PREPARE with its statement as indb runs it, to plan now (``statement``), and as written,
    to keep."""
    return Prepare(this=tree.this, expressions=tree.expressions, expression=statement,
                   written=tree.expression)


def statement_of(temporaries: Temporaries, tree: exp.Expr) -> exp.Expr:
    """What ``EXECUTE q`` runs, as written; any other statement as it is."""
    if not isinstance(tree, Execute):
        return tree
    found = temporaries.prepared.get(tree.name.lower())
    return found.statement if found is not None else tree


def bound(engine: Engine, tree: exp.Expr) -> exp.Expr:
    """``EXECUTE q(values)`` as the statement ``q`` with its values in place of its parameters;
    any other statement as it is."""
    if not isinstance(tree, Execute):
        return tree
    name = tree.name.lower()
    prepared = _statements(engine, "EXECUTE").get(name)
    if prepared is None:
        raise error_at(tree.this, f'prepared statement "{name}" does not exist: PREPARE {name} '
                                  "AS ... first, on this connection")
    values = _values(prepared, tree)
    statement = prepared.statement.copy()
    for node in list(statement.find_all(exp.Placeholder)):
        node.replace(values[node.name].copy())
    return statement


def _values(prepared: plans.Prepare, tree: Execute) -> dict[str, exp.Expr]:
    """The value of each parameter, by its name (``1``, ``2``... or DuckDB's ``$name``'s)."""
    given = list(tree.expressions)
    named = [v for v in given if isinstance(v, exp.PropertyEQ)]
    if not prepared.numbered:
        if len(named) != len(given):
            raise error_at(tree, f"{prepared.name}'s parameters are named: give each value by "
                                 f"name, EXECUTE {prepared.name}(name := value, ...)")
        values = {v.this.name.lower(): v.expression for v in named}
        wanted = {p.lower(): p for p in prepared.parameters}
        for key, value in values.items():
            if key not in wanted:
                raise error_at(value, f"{prepared.name} has no parameter ${key}; it has "
                                      f"{_listed(prepared)}")
        missing = [p for p in wanted if p not in values]
        if missing:
            raise error_at(tree, f"EXECUTE {prepared.name} gives no value for ${missing[0]}; "
                                 f"it has {_listed(prepared)}")
        return {wanted[key]: value for key, value in values.items()}
    if named:
        raise error_at(named[0], f"{prepared.name}'s parameters are numbered ($1, $2...): give "
                                 "the values in order, EXECUTE q(1, 'a')")
    if len(given) != len(prepared.parameters):
        count = len(prepared.parameters)
        raise error_at(tree, f"prepared statement {prepared.name} takes {count} "
                             f"value{'s' * (count != 1)}, EXECUTE gave {len(given)}")
    return {parameter: exp.cast(value, prepared.types[i]) if i < len(prepared.types) else value
            for i, (parameter, value) in enumerate(zip(prepared.parameters, given))}


def _listed(prepared: plans.Prepare) -> str:
    return ", ".join(f"${p}" for p in prepared.parameters) or "none"


def _statements(engine: Engine, statement: str) -> dict[str, plans.Prepare]:
    """The session's prepared statements (refused where there is no session: the HTTP API)."""
    if engine.temporaries is None:
        raise SqlError(f"{statement}: a prepared statement lives as long as its session, and the "
                       "HTTP API has none (each request stands alone): send the statement with "
                       "its parameters, or use a PostgreSQL client")
    return engine.temporaries.prepared
