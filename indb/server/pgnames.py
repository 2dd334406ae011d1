"""Result columns named as PostgreSQL names them on the pg port: ``count(*)`` is ``count``,
``x::int`` is ``x``, ``'1'::int`` is ``int4``, ``CASE ...`` is ``case``, ``1 + 2`` is
``?column?`` (PostgreSQL's FigureColname), where DuckDB writes the expression
(``count_star()``, ``CAST(x AS INTEGER)``). Clients of PostgreSQL read rows by these names
(psycopg's ``dict_row``, pandas' ``read_sql``, node-postgres' row objects). An aliased column
keeps its alias; a query whose columns do not line up with its select list (``*``,
``COLUMNS(...)``) keeps DuckDB's names."""

from __future__ import annotations

import re
from collections.abc import Sequence

from sqlglot import exp

UNNAMED = "?column?"  # PostgreSQL's name of an expression it cannot name
_PLAIN = re.compile(r'^"?([A-Za-z_][A-Za-z0-9_$]*)"?$')
# PostgreSQL's names of types (pg_type.typname), by sqlglot's: how it names a cast of a literal
_TYPE_NAMES = {exp.DataType.Type.INT: "int4", exp.DataType.Type.BIGINT: "int8",
               exp.DataType.Type.SMALLINT: "int2", exp.DataType.Type.DOUBLE: "float8",
               exp.DataType.Type.FLOAT: "float4", exp.DataType.Type.BOOLEAN: "bool",
               exp.DataType.Type.DECIMAL: "numeric", exp.DataType.Type.TIMESTAMPTZ: "timestamptz",
               exp.DataType.Type.TIMETZ: "timetz", exp.DataType.Type.VARBINARY: "bytea",
               exp.DataType.Type.BLOB: "bytea"}
# expressions PostgreSQL names by what they are, not by a function name written in the text
_KINDS: dict[type[exp.Expr], str] = {exp.Array: "array", exp.Exists: "exists",
                                     exp.Struct: "row", exp.CurrentDate: "current_date",
                                     exp.CurrentTimestamp: "current_timestamp",
                                     exp.CurrentTime: "current_time", exp.CurrentUser: "current_user",
                                     # functions whose name sqlglot keeps no place of
                                     exp.StrPosition: "position", exp.Extract: "extract",
                                     exp.GroupConcat: "string_agg"}


def column_names(tree: exp.Expr, sql: str, names: Sequence[str]) -> list[str]:
    """The result's columns (DuckDB's ``names``) as PostgreSQL names the columns of ``tree``, a
    statement parsed from ``sql``."""
    if isinstance(tree, exp.Values):  # VALUES (1, 2): PostgreSQL's column1, DuckDB's col0
        return [f"column{i}" for i in range(1, len(names) + 1)]
    projections = _projections(tree)
    if projections is None or len(projections) != len(names) or any(
            isinstance(p, exp.Star) or (isinstance(p, exp.Column) and isinstance(p.this, exp.Star))
            for p in projections):
        return list(names)
    return [name if isinstance(p, exp.Alias) else (_named(p, sql)[0] or name)
            for p, name in zip(projections, names, strict=True)]


def _projections(tree: exp.Expr) -> list[exp.Expr] | None:
    while isinstance(tree, exp.SetOperation):  # a UNION's columns are its first query's
        tree = tree.this
    if isinstance(tree, exp.Subquery):
        return _projections(tree.this)
    if isinstance(tree, exp.Select):
        return list(tree.expressions)
    returning = tree.args.get("returning") if isinstance(tree, exp.DML) else None
    return list(returning.expressions) if returning is not None else None


def _named(node: exp.Expr, sql: str) -> tuple[str | None, int]:
    """A select item's name and its strength, as PostgreSQL's FigureColnameInternal gives them:
    2 from a column or a function, 1 from what the expression is (a cast's type, ``case``), 0
    none (``?column?``); the name is None where DuckDB's is the same (a column)."""
    if isinstance(node, exp.Paren):
        return _named(node.this, sql)
    if isinstance(node, exp.Column):
        return None, 2  # DuckDB names it by the column too
    if isinstance(node, exp.Bracket) and isinstance(node.this, exp.Column):
        return node.this.name, 2  # xs[1]: "xs"
    if isinstance(node, exp.Cast | exp.TryCast):
        inner, strength = _named(node.this, sql)
        if strength > 1:
            return inner if inner is not None else node.this.name, strength
        kind = node.to.expressions[0] if node.to.is_type(exp.DataType.Type.ARRAY) \
            and node.to.expressions else node.to
        return _TYPE_NAMES.get(kind.this, kind.this.value.lower()), 1
    if isinstance(node, exp.Subquery):  # a scalar subquery: its one column's name
        projections = _projections(node.this)
        if projections and len(projections) == 1:
            only = projections[0]
            return (only.alias, 2) if isinstance(only, exp.Alias) else _named(only, sql)
        return UNNAMED, 0
    if isinstance(node, exp.Case):  # named as its ELSE where that has a name
        otherwise = node.args.get("default")
        if otherwise is not None:
            name, strength = _named(otherwise, sql)
            if strength > 1:
                return name or otherwise.name, strength
        return "case", 1
    kind = next((name for cls, name in _KINDS.items() if isinstance(node, cls)), None)
    if kind is not None:
        return kind, 2
    if isinstance(node, exp.Func):
        written = _written(node, sql)
        if written is None and isinstance(node, exp.AggFunc):  # max(x): sqlglot keeps no place
            written = node.sql_name().lower()
        return (written, 2) if written is not None else (UNNAMED, 0)
    return UNNAMED, 0


def _written(node: exp.Expr, sql: str) -> str | None:
    """A function's name as the statement wrote it (PostgreSQL's folding to lower case),
    from where the parser found it; None where it has no plain name there (an operator)."""
    start, end = node.meta.get("start"), node.meta.get("end")
    if start is None or end is None:
        return None
    found = _PLAIN.match(sql[start:end + 1])
    if found is None:
        return None
    return found.group(1) if sql[start] == '"' else found.group(1).lower()
