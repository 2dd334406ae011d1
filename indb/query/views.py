"""The database's views (``indb.catalog.views``) as DuckDB views of a query session.

They are made after the tables' views, in the order they were defined, and made again whenever
a view or a table changed (a view DuckDB could not make then, because a table it reads was
missing, may work now). A view DuckDB cannot make still exists, and reading it says why; a
table of the same name (created after the view) hides it.
"""

from __future__ import annotations

from collections.abc import Collection

import duckdb
from sqlglot import exp

from indb.catalog.database import Database
from indb.catalog.views import View, views
from indb.catalog.names import sql_table
from indb.parser import parse, render
from indb.query.scan import table_view


class SessionViews:
    """The views one DuckDB database holds, kept in step with the catalog's."""

    def __init__(self) -> None:
        self._made: tuple[View, ...] = ()

    @property
    def names(self) -> frozenset[str]:
        """The views' names, as last made."""
        return frozenset(v.name for v in self._made)

    def refresh(self, duck: duckdb.DuckDBPyConnection, db: Database, tables: Collection[str],
                tables_changed: bool) -> None:
        """Make the catalog's views in ``duck``; ``tables`` are the tables' views' names (a table
        hides a view of the same name), ``tables_changed`` whether any of them was rebuilt."""
        defined = views(db.engine)
        if defined == self._made and not tables_changed:
            return
        gone = {v.name for v in self._made} - {v.name for v in defined} - set(tables)
        for name in sorted(gone):
            duck.execute(render(exp.Drop(tables=[sql_table(name)], kind="VIEW", exists=True)))
        pending = [v for v in defined if v.name not in tables]
        failed: dict[str, str] = {}
        while pending:  # again while some succeed: a view may read one defined after it
            failed = {}
            for view in pending:
                try:
                    for statement in table_view(view.name, parse(view.sql)[0]):
                        duck.execute(render(statement))
                except duckdb.Error as error:
                    failed[view.name] = str(error).splitlines()[0]
            if len(failed) == len(pending):
                break
            pending = [v for v in pending if v.name in failed]
        for name, reason in failed.items():
            message = f"view {name} cannot be read: {reason}"
            unreadable = exp.select(exp.func("error", exp.Literal.string(message)))
            for statement in table_view(name, unreadable):
                duck.execute(render(statement))
        self._made = defined
