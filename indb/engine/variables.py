"""DuckDB's session variables: ``SET VARIABLE name = expression`` evaluates the expression once
(a constant, or a scalar subquery, whose reads are checked as the statement's) and keeps its
value, as text with its type, with the session's names (``Temporaries.variables``);
``getvariable('name')`` in a statement is put in place by the value, cast to that type (NULL
for a name never set), before the statement is checked; ``RESET VARIABLE name`` forgets one."""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlglot import exp

from indb import planner
from indb.errors import SqlError
from indb.planner import variables as plans
from indb.result import Result

if TYPE_CHECKING:
    from indb.engine.core import Engine


def set_variable(engine: Engine, plan: plans.SetVariable, params: object) -> Result:
    session = _variables(engine)
    value = exp.select(exp.cast(plan.value.copy(), exp.DataType.build("VARCHAR")).as_("text"),
                       exp.func("typeof", plan.value.copy()).as_("type"))
    row = engine.run(planner.plan(value, engine.facts), params).fetchone()
    assert row is not None  # (a SELECT of no FROM: one row)
    session[plan.name] = (row[0], row[1])
    return Result(message="SET VARIABLE")


def reset_variable(engine: Engine, plan: plans.ResetVariable, params: object) -> Result:
    _variables(engine).pop(plan.name, None)
    return Result(message="RESET VARIABLE")


def expanded(engine: Engine, tree: exp.Expr) -> exp.Expr:
    """The statement with each ``getvariable('name')`` its variable's value."""
    calls = [c for c in tree.find_all(exp.Anonymous) if c.name.lower() == "getvariable"]
    if not calls:
        return tree
    session = engine.temporaries.variables if engine.temporaries is not None else {}
    for call in calls:
        named = call.expressions[0] if len(call.expressions) == 1 else None
        if not (isinstance(named, exp.Literal) and named.is_string):
            raise SqlError("getvariable takes a variable's name in quotes: getvariable('limit')")
        text, kind = session.get(named.name.lower(), (None, "NULL"))
        value = exp.null() if text is None else exp.cast(
            exp.Literal.string(text), exp.DataType.build(kind, dialect="duckdb"))
        if call is tree:
            return value
        call.replace(value)
    return tree


def _variables(engine: Engine) -> dict[str, tuple[str | None, str]]:
    if engine.temporaries is None:
        raise SqlError("a variable lives as long as its session, and the HTTP API has none "
                       "(each request stands alone)")
    return engine.temporaries.variables
