"""Names of what lives in no schema (functions, models, procedures, monitors, subscriptions), as
the statements that create, run, show and drop them read one."""

from __future__ import annotations

from sqlglot import exp
from sqlglot.parser import Parser
from sqlglot.tokens import TokenType


def unqualified(p: Parser, after: str, kinds: str) -> exp.Expr:
    """The name after ``after`` (an Identifier); ``kinds`` ("monitors and models") says in the
    error for a qualified name what has no schema."""
    name = p._parse_id_var(any_token=False)
    if not isinstance(name, exp.Identifier):
        p.raise_error(f"expected a name after {after}")
    if p._match(TokenType.DOT):
        p.raise_error(f"{kinds} have no schema: name one without it after {after}")
    return name  # type: ignore[return-value]
