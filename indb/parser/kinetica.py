"""Kinetica's table SQL that DuckDB's grammar lacks: ``SELECT TOP n``, ``SHOW SCHEMAS`` and
column properties in a VARCHAR's parameters.

``CREATE SCHEMA``, ``DROP SCHEMA [CASCADE]``, ``CREATE OR REPLACE TABLE`` and ``PRIMARY KEY``
are DuckDB's own trees; the dialect (``indb.parser.dialect``) hooks these functions in.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from sqlglot import exp
from sqlglot.parsers.duckdb import DuckDBParser
from sqlglot.tokens import TokenType

if TYPE_CHECKING:
    from sqlglot.generators.duckdb import DuckDBGenerator


class ShowSchemas(exp.Expression):
    """``SHOW SCHEMAS``."""

    arg_types: ClassVar[dict[str, bool]] = {}


def parse_top(parser: DuckDBParser, this: exp.Expr | None) -> exp.Expr | None:
    """``TOP n`` or ``TOP (n)`` right after SELECT, as the query's LIMIT (DuckDB renders it so).
    TOP followed by anything else is a column called top, as in ``SELECT top FROM t``."""
    current, following = parser._curr, parser._next
    if not (current and current.token_type == TokenType.VAR and current.text.upper() == "TOP"
            and following and following.token_type in (TokenType.NUMBER, TokenType.L_PAREN)):
        return None
    if following.token_type == TokenType.L_PAREN:  # TOP (n), not a function called top
        after = parser._tokens[parser._index + 2] if parser._index + 2 < len(parser._tokens) else None
        if after is None or after.token_type != TokenType.NUMBER:
            return None
    start = parser._index
    parser._advance()
    limit = DuckDBParser._parse_limit(parser, this, top=True, skip_limit_token=True)
    if not parser._curr or parser._curr.token_type == TokenType.FROM:  # top(3) FROM: a call
        parser._retreat(start)
        return None
    return limit


def text_type(dtype: exp.DataType) -> exp.DataType:
    """VARCHAR's parameters as DuckDB reads them (a length means nothing to it, so it goes),
    except Kinetica's column properties (``VARCHAR(64, DICT, SHARD_KEY)``), which stay for the
    planner to read."""
    properties = [p for p in dtype.expressions or []
                  if isinstance(p, exp.DataTypeParam) and isinstance(p.this, exp.Var)]
    dtype.set("expressions", properties or None)
    return dtype


def parse_show(parser: DuckDBParser) -> ShowSchemas | None:
    """``SHOW SCHEMAS`` after SHOW; None (nothing consumed) for any other SHOW."""
    if not parser._match_text_seq("SCHEMAS"):
        return None
    return parser.expression(ShowSchemas())


def show_schemas_sql(generator: DuckDBGenerator, tree: ShowSchemas) -> str:
    return "SHOW SCHEMAS"
