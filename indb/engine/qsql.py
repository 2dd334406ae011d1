"""q-sql in statements: translated before the privilege check and the planner see them, with
the columns of tables and views read from the statement's DuckDB (``update`` needs them)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

import duckdb
from sqlglot import exp

from indb.engine import schemas
from indb.errors import IndbError
from indb.parser import qstatements, render
from indb.parser.qjoins import TableColumns

if TYPE_CHECKING:
    from indb.engine.core import Engine


def expanded(engine: Engine, tree: exp.Expr) -> exp.Expr:
    """The statement with its q-sql (``q)...`` or ``q('...')``) translated; others unchanged."""
    if not qstatements.written_in_q(tree):
        return tree

    def columns(name: str) -> Mapping[str, str] | None:  # names and types (q compares by type)
        # and a stored table's primary key, read if a join asks (a kdb+ keyed table's keys)
        name = name if "." in name else schemas.looked_up(engine, name)  # along the search path
        schema, _, table = name.rpartition(".")
        source = exp.Table(this=exp.to_identifier(table, quoted=True),
                           db=exp.to_identifier(schema, quoted=True) if schema else None)
        try:  # an unknown table: the privilege check or DuckDB names it after translation
            relation = engine.session.duck.sql(render(exp.select(exp.Star()).from_(source).limit(0)))
            types = dict(zip(relation.columns, map(str, relation.types)))
        except duckdb.Error:
            return None
        return TableColumns(types, lambda: _primary_key(engine, name))
    return qstatements.expand(tree, columns)


def _primary_key(engine: Engine, name: str) -> tuple[str, ...]:
    try:
        return engine.db.load(name)[1].primary_key
    except IndbError:  # a view, or a name DuckDB reads that is not a stored table: no keys
        return ()
