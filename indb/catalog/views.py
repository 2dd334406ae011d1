"""Views: named queries kept in the catalog file (``indb_views``), for every connection.

A view is its name and its query as DuckDB SQL; each connection's DuckDB makes it a view over
the tables' views before a statement runs. Iceberg has a view format too, but pyiceberg's
SqlCatalog does not implement it, and a DuckDB query would mean nothing to another engine
anyway. ``version`` grows with every CREATE [OR REPLACE], so views are made in the order they
were defined: a view can use those defined before it.
"""

from __future__ import annotations

import weakref
from dataclasses import dataclass

import sqlalchemy as sa
import sqlglot
from sqlglot import exp

from indb.catalog.database import create_tables, define
from indb.catalog.names import DEFAULT_SCHEMA, qualified, split_name
from indb.errors import CatalogError

_metadata = sa.MetaData()
_views = sa.Table("indb_views", _metadata,
                  sa.Column("name", sa.String, primary_key=True),
                  sa.Column("sql", sa.Text, nullable=False),
                  sa.Column("version", sa.Integer, nullable=False))
_ready: weakref.WeakSet[sa.Engine] = weakref.WeakSet()  # engines whose file has indb_views


@dataclass(frozen=True)
class View:
    name: str
    sql: str
    version: int


def views(engine: sa.Engine) -> tuple[View, ...]:
    """Every view, in the order they were defined (read before every statement)."""
    ensure_tables(engine)
    with engine.connect() as conn:
        rows = conn.execute(sa.select(_views.c.name, _views.c.sql, _views.c.version)
                            .order_by(_views.c.version, _views.c.name)).all()
    return tuple(View(*row) for row in rows)


def create_view(engine: sa.Engine, name: str, sql: str, replace: bool) -> None:
    """Define a view (again, with ``replace``); CatalogError if it exists and not ``replace``."""
    ensure_tables(engine)
    with engine.begin() as conn:
        version = conn.execute(sa.select(sa.func.coalesce(sa.func.max(_views.c.version), 0))).scalar_one() + 1
        define(conn, _views, name, {"sql": sql, "version": version}, replace, "VIEW")


def drop_view(engine: sa.Engine, name: str) -> bool:
    """Forget a view; False if there was none of that name."""
    ensure_tables(engine)
    with engine.begin() as conn:
        return bool(conn.execute(_views.delete().where(_views.c.name == name)).rowcount)


def rename(conn: sa.Connection, old: str, new: str) -> bool:
    """In the caller's transaction (``ensure_tables`` first, outside it): view ``old`` named
    ``new`` (True if ``old`` is a view), and every view's query that reads relation ``old``
    reading ``new``, as PostgreSQL's views follow a renamed table or view."""
    renamed = bool(conn.execute(_views.update().where(_views.c.name == old).values(name=new)).rowcount)
    for name, sql in conn.execute(sa.select(_views.c.name, _views.c.sql)).all():
        try:
            reading = _reading(sql, old, new)
        except sqlglot.errors.ParseError:  # a query sqlglot cannot read back: left as it is,
            if split_name(old)[1] not in sql.lower():  # unless it may name the relation
                continue
            raise CatalogError(f"view {name} may read {old}, in a query indb cannot rewrite; "
                               "drop the view, rename, and create it again") from None
        if reading != sql:
            conn.execute(_views.update().where(_views.c.name == name).values(sql=reading))
    return renamed


def _reading(sql: str, old: str, new: str) -> str:
    """A view's query reading relation ``new`` where it read ``old`` (the same if it did not)."""
    tree = sqlglot.parse_one(sql, read="duckdb")
    defined = {cte.alias_or_name.lower() for cte in tree.find_all(exp.CTE)}
    found = [t for t in tree.find_all(exp.Table) if isinstance(t.this, exp.Identifier)
             and not t.args.get("catalog") and not (not t.db and t.name.lower() in defined)
             and qualified((t.db or DEFAULT_SCHEMA).lower(), t.name.lower()) == old]
    for table in found:
        table.set("this", exp.to_identifier(split_name(new)[1], quoted=table.this.quoted))
    return tree.sql(dialect="duckdb") if found else sql


def ensure_tables(engine: sa.Engine) -> None:
    """Create ``indb_views`` in a database made before views existed (once a process)."""
    if engine not in _ready:
        create_tables(engine, _metadata)
        _ready.add(engine)
