"""The database's own settings in SQL: ``ALTER DATABASE SET name = 'value'`` and
``ALTER DATABASE RESET name`` (the settings and their values are the planner's to check).

The parse function takes the dialect's parser and returns None (having consumed nothing) when
the statement is not theirs, so the dialect chains it before DuckDB's own parsers.
"""

from __future__ import annotations

from typing import Any

from sqlglot import exp
from sqlglot.generator import Generator
from sqlglot.parser import Parser
from sqlglot.tokens import TokenType


class AlterDatabase(exp.Expression):
    """``ALTER DATABASE SET name = 'value'`` (``value`` absent: ``ALTER DATABASE RESET name``)."""

    arg_types = {"this": True, "value": False}


def parse_alter(p: Parser) -> exp.Expr | None:
    """ALTER DATABASE SET name = 'value' | RESET name (after ALTER)."""
    if not p._match_text_seq("DATABASE"):
        return None
    if p._match_text_seq("RESET"):
        return p.expression(AlterDatabase(this=_setting(p)))
    if not p._match(TokenType.SET):
        p.raise_error("expected SET or RESET after ALTER DATABASE: ALTER DATABASE SET "
                      "file_paths_allowed = '/srv/udfs'")
    name = _setting(p)
    value = p._parse_string() if p._match(TokenType.EQ) else None
    if value is None:
        p.raise_error(f"expected = 'value' after ALTER DATABASE SET {name.name}")
    return p.expression(AlterDatabase(this=name, value=value))


def _setting(p: Parser) -> exp.Identifier:
    name = p._parse_id_var(any_token=False)
    if not isinstance(name, exp.Identifier):
        p.raise_error("expected a setting's name, as in ALTER DATABASE SET file_paths_allowed = ...")
    assert isinstance(name, exp.Identifier)
    return name


def _alter_database_sql(g: Generator, e: AlterDatabase) -> str:
    if e.args.get("value") is None:
        return f"ALTER DATABASE RESET {g.sql(e, 'this')}"
    return f"ALTER DATABASE SET {g.sql(e, 'this')} = {g.sql(e, 'value')}"


TRANSFORMS: dict[type[exp.Expr], Any] = {AlterDatabase: _alter_database_sql}
