"""SQL text to sqlglot syntax trees, in indb's dialect; syntax errors carry line and column."""

from __future__ import annotations

from sqlglot import exp
from sqlglot.errors import ParseError, TokenError

from indb.errors import SqlError
from indb.parser.dialect import Indb, ReplicatedProperty, ShardKey

__all__ = ["Indb", "ReplicatedProperty", "ShardKey", "parse", "render"]


def parse(sql: str) -> list[exp.Expression]:
    """Every statement in ``sql``, in order; empty statements are skipped."""
    try:
        statements = Indb().parse(sql)
    except ParseError as error:
        first = error.errors[0] if error.errors else {}
        raise SqlError(f"syntax error: {first.get('description', error)}.",
                       first.get("line"), first.get("col"), sql) from None
    except TokenError as error:
        raise SqlError(f"syntax error: {error}", None, None, sql) from None
    return [s for s in statements if s is not None]


def render(tree: exp.Expression) -> str:
    """A syntax tree as SQL DuckDB runs."""
    return tree.sql(dialect="duckdb")
