"""Prepared statements in SQL, as DuckDB and PostgreSQL write them:

- ``PREPARE q [(type, ...)] AS statement``: the statement's parameters are ``?`` (numbered
  here in the order they are written, as ``$1, $2...``), ``$1``, or DuckDB's ``$name``; the
  types, PostgreSQL's, are those of ``$1, $2...``;
- ``EXECUTE q [(value, ...)]``, or DuckDB's ``EXECUTE q(name := value)`` for ``$name``;
- ``DEALLOCATE [PREPARE] q | ALL``.

What a prepared statement means is the engine's (``indb.engine.prepared``).
"""

from __future__ import annotations

from typing import Any

from sqlglot import exp
from sqlglot.generator import Generator
from sqlglot.parser import Parser
from sqlglot.tokens import TokenType

from indb.parser.names import unqualified

WORDS = ("PREPARE", "DEALLOCATE")  # the statements that start with a plain word
ORDER = "token"  # a ``?`` placeholder's meta: its token's place in the text
NOUN = "prepared statements"


class Prepare(exp.Expression):
    """``this`` the name, ``expressions`` the declared types, ``expression`` the statement;
    ``written``, the statement as written, where ``expression`` is as indb runs it (its names
    resolved, checked: ``Engine._checked``)."""

    arg_types = {"this": True, "expressions": False, "expression": True, "written": False}


class Execute(exp.Expression):
    """``this`` the name, ``expressions`` the values (a ``PropertyEQ`` for a named one)."""

    arg_types = {"this": True, "expressions": False}


class Deallocate(exp.Expression):
    """``this`` the name; None for ALL."""

    arg_types = {"this": False}


def placeholder(p: Parser) -> exp.Placeholder:
    """A ``?``, with its place in the text (the tree's order need not be the text's)."""
    node = p.expression(exp.Placeholder())
    node.meta[ORDER] = p._index
    return node


def parse_statement(p: Parser) -> exp.Expr | None:
    """PREPARE or DEALLOCATE, when the statement starts with one."""
    word = p._curr.text.upper() if p._curr and p._curr.token_type == TokenType.VAR else ""
    if word not in WORDS:
        return None
    p._advance()
    if word == "DEALLOCATE":
        p._match_text_seq("PREPARE")
        if p._match(TokenType.ALL):
            return p.expression(Deallocate())
        return p.expression(Deallocate(this=unqualified(p, "DEALLOCATE", NOUN)))
    return _parse_prepare(p)


def _parse_prepare(p: Parser) -> Prepare:
    name = unqualified(p, "PREPARE", NOUN)
    types = p._parse_wrapped_csv(p._parse_types) if p._match(TokenType.L_PAREN, advance=False) \
        else []
    if not p._match(TokenType.ALIAS):
        p.raise_error("expected AS: PREPARE name [(type, ...)] AS statement")
    start = p._index
    statement = p._parse_statement()
    if statement is None:
        p.raise_error("PREPARE needs a statement after AS")
    elif isinstance(statement, Prepare | Execute | Deallocate):
        p.raise_error(f"a prepared statement cannot be {statement.key.upper()}", p._tokens[start])
    else:
        _numbered(p, statement)
    return p.expression(Prepare(this=name, expressions=types, expression=statement))


def _numbered(p: Parser, statement: exp.Expr) -> None:
    """Each ``?`` made ``$n``, in the order they are written (DuckDB numbers them so); mixed
    with ``$1`` or ``$name``, refused, as DuckDB does."""
    marks = [n for n in statement.find_all(exp.Placeholder) if not n.this]
    if not marks:
        return
    if any(n.this for n in statement.find_all(exp.Placeholder)):
        p.raise_error("a prepared statement's parameters are all ? or all $1, $2 (or $name), "
                      "not both")
    for number, mark in enumerate(sorted(marks, key=lambda n: n.meta.get(ORDER, 0)), 1):
        mark.replace(exp.Placeholder(this=str(number)))


def parse_execute(p: Parser) -> Execute:
    """EXECUTE q [(value, ...)] (after EXECUTE)."""
    name = unqualified(p, "EXECUTE", NOUN)
    values = p._parse_wrapped_csv(lambda: _parse_value(p), optional=True) \
        if p._match(TokenType.L_PAREN, advance=False) else []
    return p.expression(Execute(this=name, expressions=values))


def _parse_value(p: Parser) -> exp.Expr | None:
    """A value, or ``name := value`` (``name => value``) for a ``$name`` parameter."""
    if p._curr and p._next and p._next.token_type in (TokenType.COLON_EQ, TokenType.FARROW):
        name = p._parse_id_var(any_token=True)
        p._advance()
        return exp.PropertyEQ(this=name, expression=p._parse_assignment())
    return p._parse_assignment()


def _prepare_sql(self: Generator, e: Prepare) -> str:
    types = f" ({self.expressions(e, flat=True)})" if e.expressions else ""
    return f"PREPARE {self.sql(e, 'this')}{types} AS {self.sql(e, 'expression')}"


def _execute_sql(self: Generator, e: Execute) -> str:
    values = f"({self.expressions(e, flat=True)})" if e.expressions else ""
    return f"EXECUTE {self.sql(e, 'this')}{values}"


TRANSFORMS: dict[type[exp.Expr], Any] = {
    Prepare: _prepare_sql,
    Execute: _execute_sql,
    Deallocate: lambda self, e: f"DEALLOCATE {self.sql(e, 'this') or 'ALL'}",
}
