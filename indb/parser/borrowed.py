"""Functions of the engines indb's users come from that DuckDB lacks, read by sqlglot's parsers
of those engines, so a query written for them runs as it means there: Snowflake's ``iff``,
``zeroifnull``, ``nullifzero``, ``div0``; Snowflake's and Kinetica's ``dateadd(unit, n, t)`` and
``timestampadd``; Kinetica's (and MySQL's) ``curdate()``, ``datetime(x)`` and ``time(x)`` (casts),
and ``datediff(end, start)`` (days; Spark's and MySQL's too). Oracle's, Snowflake's and Kinetica's
``decode(x, match, value, ..., default)`` is ``pgforms``'s, beside PostgreSQL's ``decode``.
A name DuckDB has a function of is not taken.
"""

from __future__ import annotations

from collections.abc import Callable

from sqlglot import exp
from sqlglot.parsers.duckdb import DuckDBParser
from sqlglot.parsers.mysql import MySQLParser
from sqlglot.parsers.snowflake import SnowflakeParser


def _cast(to: exp.DType, name: str) -> Callable[[list[exp.Expr]], exp.Expr]:
    """Kinetica's ``datetime(x)`` / ``time(x)``: x as that type (sqlglot read BigQuery's, and
    wrote DuckDB SQL that does not parse, or failed writing it)."""
    return lambda args: exp.cast(args[0], to) if len(args) == 1 \
        else exp.Anonymous(this=name, expressions=args)


def _datediff(args: list[exp.Expr]) -> exp.Expr:
    """``datediff(end, start)``: the days from start to end (Kinetica's, Spark's, MySQL's);
    with a unit first, DuckDB's ``datediff(part, start, end)``."""
    if len(args) != 2:
        return DuckDBParser.FUNCTIONS["DATEDIFF"](args)
    end, start = (exp.cast(a, exp.DType.DATE) for a in args)
    return exp.Anonymous(this="date_diff", expressions=[exp.Literal.string("day"), start, end])


FUNCTIONS: dict[str, Callable[..., exp.Expr]] = {
    **{name: SnowflakeParser.FUNCTIONS[name]
       for name in ("IFF", "ZEROIFNULL", "NULLIFZERO", "DIV0", "DATEADD", "TIMESTAMPADD")},
    "CURDATE": MySQLParser.FUNCTIONS["CURDATE"],
    "DATETIME": _cast(exp.DType.TIMESTAMP, "datetime"), "TIME": _cast(exp.DType.TIME, "time"),
    "DATEDIFF": _datediff, "DATE_DIFF": _datediff,
}
