"""Plans for DuckDB's session variables: ``SET VARIABLE name = expression`` (a constant, or a
scalar subquery, evaluated once) and ``RESET VARIABLE name``; ``getvariable('name')`` reads one
(``indb.engine.variables``)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlglot import exp

from indb.parser import error_at


@dataclass(frozen=True)
class SetVariable:
    name: str
    value: exp.Expr  # the expression, evaluated when the statement runs


@dataclass(frozen=True)
class ResetVariable:
    name: str


def is_variable(tree: exp.Expr) -> bool:
    """Whether a SET sets a variable (DuckDB's ``SET VARIABLE``)."""
    return any(isinstance(i, exp.SetItem) and str(i.args.get("kind") or "").upper() == "VARIABLE"
               for i in tree.expressions)


def plan_set(tree: exp.Set) -> SetVariable:
    item = tree.expressions[0] if len(tree.expressions) == 1 else None
    assigned = item.this if item is not None else None
    if not isinstance(assigned, exp.EQ) or not isinstance(assigned.this, exp.Column) \
            or assigned.this.table:
        raise error_at(tree, "SET VARIABLE takes one name = value: SET VARIABLE limit = 10")
    return SetVariable(assigned.this.name.lower(), assigned.expression)


def plan_reset(words: list[str], node: exp.Expr) -> ResetVariable:
    """``RESET VARIABLE name`` (``words``: what follows RESET)."""
    if len(words) != 2:
        raise error_at(node, "RESET VARIABLE takes a variable's name: RESET VARIABLE limit")
    return ResetVariable(words[1].lower())
