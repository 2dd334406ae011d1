"""q-sql in statements: translated before the privilege check and the planner see them, with
the columns of tables and views read from the statement's DuckDB (``update`` needs them)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

import duckdb
from sqlglot import exp

from indb.parser import qsql, render

if TYPE_CHECKING:
    from indb.engine.core import Engine


def expanded(engine: Engine, tree: exp.Expr) -> exp.Expr:
    """The statement with its q-sql (``q)...`` or ``q('...')``) translated; others unchanged."""
    if not qsql.written_in_q(tree):
        return tree

    def columns(name: str) -> Mapping[str, str] | None:  # names and types (q compares by type)
        schema, _, table = name.rpartition(".")
        source = exp.Table(this=exp.to_identifier(table, quoted=True),
                           db=exp.to_identifier(schema, quoted=True) if schema else None)
        try:  # an unknown table: the privilege check or DuckDB names it after translation
            relation = engine.session.duck.sql(render(exp.select(exp.Star()).from_(source).limit(0)))
            return dict(zip(relation.columns, map(str, relation.types)))
        except duckdb.Error:
            return None
    return qsql.expand(tree, columns)
