"""Functions of the engines indb's users come from that DuckDB lacks, read by sqlglot's parsers
of those engines, so a query written for them runs as it means there: Snowflake's ``iff``,
``zeroifnull``, ``nullifzero``, ``div0``; Snowflake's and Kinetica's ``dateadd(unit, n, t)`` and
``timestampadd``; Kinetica's (and MySQL's) ``curdate()``. Oracle's, Snowflake's and Kinetica's
``decode(x, match, value, ..., default)`` is ``pgforms``'s, beside PostgreSQL's ``decode``.
A name DuckDB has a function of is not taken.
"""

from __future__ import annotations

from collections.abc import Callable

from sqlglot import exp
from sqlglot.parsers.mysql import MySQLParser
from sqlglot.parsers.snowflake import SnowflakeParser

FUNCTIONS: dict[str, Callable[..., exp.Expr]] = {
    **{name: SnowflakeParser.FUNCTIONS[name]
       for name in ("IFF", "ZEROIFNULL", "NULLIFZERO", "DIV0", "DATEADD", "TIMESTAMPADD")},
    "CURDATE": MySQLParser.FUNCTIONS["CURDATE"],
}
