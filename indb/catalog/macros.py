"""Macros: DuckDB's ``CREATE MACRO`` kept in the catalog file (``indb_macros``), for every
connection.

A macro is its name, its parameters' names, their defaults (kept as the query ``SELECT <default>
AS <parameter>, ...``), and its body as DuckDB SQL: an expression (kept as the query ``SELECT
<expression>``, which reads back as one) or, for a table macro, a query. The
engine puts the body in place of each call before a statement is checked and planned
(``indb.engine.macros``), so DuckDB never holds them and their reads are the caller's.
"""

from __future__ import annotations

import weakref
from dataclasses import dataclass

import sqlalchemy as sa

from indb.catalog.database import create_tables, define

_metadata = sa.MetaData()
_macros = sa.Table("indb_macros", _metadata,
                   sa.Column("name", sa.String, primary_key=True),
                   sa.Column("parameters", sa.Text, nullable=False),  # names, comma-separated
                   sa.Column("defaults", sa.Text, nullable=False),  # SELECT 5 AS b, or ''
                   sa.Column("body", sa.Text, nullable=False),
                   sa.Column("is_table", sa.Boolean, nullable=False))
_ready: weakref.WeakSet[sa.Engine] = weakref.WeakSet()  # engines whose file has indb_macros


@dataclass(frozen=True)
class Macro:
    name: str
    parameters: tuple[str, ...]
    body: str  # SELECT <expression>, or a table macro's query
    is_table: bool
    defaults: str = ""  # SELECT <default> AS <parameter>, ... of those that have one ('': none)


def macros(engine: sa.Engine) -> dict[str, Macro]:
    """Every macro, by name."""
    ensure_tables(engine)
    with engine.connect() as conn:
        rows = conn.execute(sa.select(_macros)).all()
    return {row.name: Macro(row.name, tuple(p for p in row.parameters.split(",") if p),
                            row.body, row.is_table, row.defaults) for row in rows}


def create_macro(engine: sa.Engine, macro: Macro, replace: bool) -> None:
    """Define a macro (again, with ``replace``); CatalogError if it exists and not ``replace``."""
    ensure_tables(engine)
    values = {"parameters": ",".join(macro.parameters), "body": macro.body,
              "is_table": macro.is_table, "defaults": macro.defaults}
    with engine.begin() as conn:
        define(conn, _macros, macro.name, values, replace, "MACRO")


def drop_macro(engine: sa.Engine, name: str) -> bool:
    """Forget a macro; False if there was none of that name."""
    ensure_tables(engine)
    with engine.begin() as conn:
        return bool(conn.execute(_macros.delete().where(_macros.c.name == name)).rowcount)


def ensure_tables(engine: sa.Engine) -> None:
    """Create ``indb_macros`` in a database made before macros existed (once a process)."""
    if engine not in _ready:
        create_tables(engine, _metadata)
        _ready.add(engine)
