"""Named types (``CREATE TYPE mood AS ENUM ('sad', 'ok')``) kept in the catalog file
(``indb_types``), for every connection: each name with its definition, DuckDB's spelling of the
type it names. The engine puts the definition in place of the name in each statement
(``indb.engine.named_types``), so DuckDB never holds them and a column of a named type is a
column of its definition."""

from __future__ import annotations

import weakref

import sqlalchemy as sa

from indb.catalog.database import create_tables, define
from indb.errors import CatalogError

_metadata = sa.MetaData()
_types = sa.Table("indb_types", _metadata,
                  sa.Column("name", sa.String, primary_key=True),
                  sa.Column("definition", sa.Text, nullable=False))
_ready: weakref.WeakSet[sa.Engine] = weakref.WeakSet()  # engines whose file has indb_types


def named_types(engine: sa.Engine) -> dict[str, str]:
    """Every named type's definition, by name."""
    ensure_tables(engine)
    with engine.connect() as conn:
        return {row.name: row.definition for row in conn.execute(sa.select(_types)).all()}


def create_type(engine: sa.Engine, name: str, definition: str, replace: bool) -> None:
    """Name a type (again, with ``replace``); CatalogError if the name is taken and not ``replace``."""
    ensure_tables(engine)
    with engine.begin() as conn:
        define(conn, _types, name, {"definition": definition}, replace, "TYPE")


def drop_type(engine: sa.Engine, name: str) -> bool:
    """Forget a named type; False if there was none of that name."""
    ensure_tables(engine)
    with engine.begin() as conn:
        return bool(conn.execute(_types.delete().where(_types.c.name == name)).rowcount)


def rename_type(engine: sa.Engine, name: str, new: str) -> bool:
    """Give a named type another name; False if there was none of that name, CatalogError if
    the new one is taken."""
    ensure_tables(engine)
    with engine.begin() as conn:
        if conn.execute(sa.select(_types.c.name).where(_types.c.name == new)).first() is not None:
            raise CatalogError(f"type {new} already exists")
        return bool(conn.execute(_types.update().where(_types.c.name == name)
                                 .values(name=new)).rowcount)


def ensure_tables(engine: sa.Engine) -> None:
    """Create ``indb_types`` in a database made before named types existed (once a process)."""
    if engine not in _ready:
        create_tables(engine, _metadata)
        _ready.add(engine)
