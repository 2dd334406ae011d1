"""Pieces of SQL the Python API's relations are built from (``rel.filter("x > 1")``,
``rel.project("a, b * 2 AS c")``, ``rel.order("a DESC")``), read into trees by indb's parser, so
a relation is a tree like any statement's: ``Expressions`` reads a comma-separated list of
expressions (a projection's, a GROUP BY's), ``Orderings`` an ORDER BY's list."""

from __future__ import annotations

from typing import Any

from sqlglot import exp


class Expressions(exp.Expression):
    arg_types = {"expressions": True}


class Orderings(exp.Expression):
    arg_types = {"expressions": True}


# (the dialect's EXPRESSION_PARSERS: what parse_into reads each into)
PARSERS: dict[type[exp.Expr], Any] = {
    Expressions: lambda self: self.expression(Expressions(
        expressions=self._parse_csv(self._parse_expression))),
    Orderings: lambda self: self.expression(Orderings(
        expressions=self._parse_csv(self._parse_ordered))),
}
