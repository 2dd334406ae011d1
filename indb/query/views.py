"""The database's views (``indb.catalog.views``) as DuckDB views of a query session.

They are made after the tables' views, in the order they were defined, and made again whenever
a view or a table changed (a view DuckDB could not make then, because a table it reads was
missing, may work now). A view DuckDB cannot make still exists, and reading it says why.
"""

from __future__ import annotations

from collections.abc import Collection

import duckdb
from sqlglot import exp

from indb.catalog.database import Database
from indb.catalog.views import View, views
from indb.parser import parse, render, table_ref


class SessionViews:
    """The views one DuckDB database holds, kept in step with the catalog's."""

    def __init__(self) -> None:
        self._made: tuple[View, ...] = ()

    def refresh(self, duck: duckdb.DuckDBPyConnection, db: Database, tables: Collection[str],
                tables_changed: bool) -> None:
        """Make the catalog's views in ``duck``; ``tables`` are the tables' views' names (a table
        hides a view of the same name), ``tables_changed`` whether any of them was rebuilt."""
        defined = views(db.engine)
        if defined == self._made and not tables_changed:
            return
        for view in self._made:
            if view.name not in tables:
                duck.execute(render(exp.Drop(tables=[table_ref(view.name)], kind="VIEW", exists=True)))
        for view in defined:
            if view.name in tables:
                continue
            try:
                duck.execute(render(_view(view.name, parse(view.sql)[0])))
            except duckdb.Error as error:
                message = f"view {view.name} cannot be read: {str(error).splitlines()[0]}"
                duck.execute(render(_view(view.name, exp.select(
                    exp.func("error", exp.Literal.string(message))))))
        self._made = defined


def _view(name: str, query: exp.Expr) -> exp.Create:
    return exp.Create(this=table_ref(name), kind="VIEW", replace=True, expression=query)
