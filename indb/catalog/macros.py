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
# a macro's other definitions (DuckDB's overloads: m(a) AS ..., (a, b) AS ...), in order
_overloads = sa.Table("indb_macro_overloads", _metadata,
                      sa.Column("name", sa.String, primary_key=True),
                      sa.Column("position", sa.Integer, primary_key=True),
                      sa.Column("parameters", sa.Text, nullable=False),
                      sa.Column("defaults", sa.Text, nullable=False),
                      sa.Column("body", sa.Text, nullable=False),
                      sa.Column("is_table", sa.Boolean, nullable=False))
_ready: weakref.WeakSet[sa.Engine] = weakref.WeakSet()  # engines whose file has indb_macros


@dataclass(frozen=True)
class Macro:
    """A macro's (first) definition, and its ``overloads``: the others, each of a number of
    parameters of its own, as DuckDB's macros may have."""

    name: str
    parameters: tuple[str, ...]
    body: str  # SELECT <expression>, or a table macro's query
    is_table: bool
    defaults: str = ""  # SELECT <default> AS <parameter>, ... of those that have one ('': none)
    overloads: tuple[Macro, ...] = ()


def macros(engine: sa.Engine) -> dict[str, Macro]:
    """Every macro, by name."""
    ensure_tables(engine)
    with engine.connect() as conn:
        rows = conn.execute(sa.select(_macros)).all()
        others = conn.execute(sa.select(_overloads).order_by(_overloads.c.position)).all()
    overloads: dict[str, list[Macro]] = {}
    for row in others:
        overloads.setdefault(row.name, []).append(_macro(row))
    return {row.name: _macro(row, tuple(overloads.get(row.name, ()))) for row in rows}


def _macro(row: sa.Row, overloads: tuple[Macro, ...] = ()) -> Macro:
    return Macro(row.name, tuple(p for p in row.parameters.split(",") if p), row.body,
                 row.is_table, row.defaults, overloads)


def _values(macro: Macro) -> dict[str, object]:
    return {"parameters": ",".join(macro.parameters), "body": macro.body,
            "is_table": macro.is_table, "defaults": macro.defaults}


def create_macro(engine: sa.Engine, macro: Macro, replace: bool) -> None:
    """Define a macro (again, with ``replace``); CatalogError if it exists and not ``replace``."""
    ensure_tables(engine)
    with engine.begin() as conn:
        define(conn, _macros, macro.name, _values(macro), replace, "MACRO")
        conn.execute(_overloads.delete().where(_overloads.c.name == macro.name))
        for position, other in enumerate(macro.overloads, start=1):
            conn.execute(_overloads.insert().values(name=macro.name, position=position,
                                                    **_values(other)))


def drop_macro(engine: sa.Engine, name: str) -> bool:
    """Forget a macro; False if there was none of that name."""
    ensure_tables(engine)
    with engine.begin() as conn:
        conn.execute(_overloads.delete().where(_overloads.c.name == name))
        return bool(conn.execute(_macros.delete().where(_macros.c.name == name)).rowcount)


def ensure_tables(engine: sa.Engine) -> None:
    """Create ``indb_macros`` (and ``indb_macro_overloads``) in a database made before them
    (once a process)."""
    if engine not in _ready:
        create_tables(engine, _metadata)
        _ready.add(engine)
