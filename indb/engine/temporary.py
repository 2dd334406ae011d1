"""Temporary tables (``CREATE TEMP TABLE``): a session's own tables, gone when it ends.

A session (an embedded connection, a PostgreSQL client's connection to the server) has a schema
of its own, ``pg_temp_<random>``, made at its first temporary table. ``CREATE TEMP TABLE t``
makes ``pg_temp_....t``, and while the session lasts a table named ``t`` without a schema is
that one, before any other ``t`` (PostgreSQL looks in ``pg_temp`` first). Everything else is a
table's: the planner, the writes, constraints, the catalog listings. Any user may make them (as
PostgreSQL grants TEMP to everyone), and owns them. ``ON COMMIT DROP`` and ``ON COMMIT DELETE
ROWS`` are carried out where a transaction ends (the PostgreSQL port's COMMIT and ROLLBACK;
each statement of an embedded connection commits alone). When the session ends its schema is
dropped with its tables. A process killed first leaves them: ``DROP SCHEMA pg_temp_... CASCADE``
removes them (``SHOW SCHEMAS`` lists them)."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from sqlglot import exp

from indb.catalog import users
from indb.catalog.names import split_name
from indb.parser import dialect, error_at
from indb.planner.tables import TEMPORARY_PROPERTIES, is_temporary

if TYPE_CHECKING:
    from indb.engine.core import Engine

PREFIX = "pg_temp_"  # a session's schema: PostgreSQL's name for its sessions' own
ALIASES = ("pg_temp", "temp")  # the session's temporary schema in PostgreSQL's and DuckDB's SQL
INPUTS = ("INPUT_TABLE", "INPUT_TABLES")  # a function run's tables, named as columns or strings


@dataclass
class Temporaries:
    """One session's temporary tables: their schema, and what each does at a commit
    (``preserve``, ``delete`` its rows, ``drop`` it), by name."""

    schema: str = field(default_factory=lambda: PREFIX + secrets.token_hex(6))
    tables: dict[str, str] = field(default_factory=dict)
    made: bool = False  # whether the schema was made (it stays when its last table is dropped)

    def qualified(self, name: str) -> str:
        return f"{self.schema}.{name}"


def placed(engine: Engine, tree: exp.Expr) -> exp.Expr:
    """The statement with the session's temporary tables in their schema: ``CREATE TEMP TABLE t``
    made in it (the schema made first), and ``t`` without a schema read as the temporary
    table while there is one (a CTE of that name stays the CTE)."""
    temporaries = engine.temporaries
    if isinstance(tree, exp.Create) and is_temporary(tree):
        if str(tree.args.get("kind")).upper() != "TABLE":
            raise error_at(tree, f"temporary {str(tree.args.get('kind')).lower()}s are not "
                                 "supported: make a temporary table, or a view")
        table = tree.find(exp.Table)
        assert table is not None
        own = temporaries is not None and table.db.lower() == temporaries.schema
        if table.args.get("db") is not None and not own and not _aliased(table):
            return _kinetica_memory_only(tree)
        if temporaries is None:
            raise error_at(tree, "a temporary table lives as long as its session, and the HTTP "
                                 "API has none (each request stands alone): use a table, or a "
                                 "PostgreSQL client")
        if not engine.db.schema_exists(temporaries.schema):
            engine.db.create_schema(temporaries.schema)
        temporaries.made = True
        table.set("db", exp.to_identifier(temporaries.schema))
        table.set("catalog", None)
    return named(temporaries, tree)  # CREATE TEMP TABLE b AS SELECT ... FROM a, a temporary


def _kinetica_memory_only(tree: exp.Create) -> exp.Create:
    """Kinetica's ``CREATE TEMP TABLE s.t``, a table of its schema that every session sees and
    a restart would lose: a table of that schema, kept as any other (PostgreSQL would refuse a
    temporary table outside its temporary schema; Kinetica's scripts name schemas)."""
    properties = tree.args["properties"]
    kept = [p for p in properties.expressions if not isinstance(p, TEMPORARY_PROPERTIES)]
    properties.set("expressions", kept)
    if not kept:
        tree.set("properties", None)
    return tree


def named(temporaries: Temporaries | None, tree: exp.Expr) -> exp.Expr:
    """``tree`` with each name of a temporary table without a schema in their schema (a CTE
    of that name stays the CTE): a table, or a function run's ``INPUT_TABLE(t)``."""
    if temporaries is None or not temporaries.tables:
        return tree
    ctes = {cte.alias_or_name.lower() for cte in tree.find_all(exp.CTE)}
    # CREATE TABLE t of a permanent t goes to main, as PostgreSQL's goes past pg_temp
    made = tree.find(exp.Table) if isinstance(tree, exp.Create) and not is_temporary(tree) else None
    for table in tree.find_all(exp.Table):
        if table.name.lower() not in ctes and table is not made:
            resolved(temporaries, table)
    for call in tree.find_all(exp.Anonymous):  # a function run's INPUT_TABLE(t), ('t')
        if call.name.upper() in INPUTS:
            for name in call.expressions:
                _input(temporaries, name)
    for argument in tree.find_all(exp.Kwarg):  # Kinetica's INPUT_TABLE_NAMES => t, 't'
        if argument.this.name.upper() == "INPUT_TABLE_NAMES":
            _input(temporaries, argument.expression)
    return tree


def resolved(temporaries: Temporaries | None, table: exp.Table) -> exp.Table:
    """``table`` in the temporary tables' schema if it names one of them without a schema, or
    names the schema as PostgreSQL (``pg_temp.t``) or DuckDB (``temp.t``, ``temp.main.t``)
    do; a COPY's table too, which is no statement the engine reads."""
    if temporaries is not None and isinstance(table.this, exp.Identifier) and (
            _aliased(table) or table.args.get("db") is None
            and table.name.lower() in temporaries.tables):
        table.set("db", exp.to_identifier(temporaries.schema))
        table.set("catalog", None)
    return table


def name_of(temporaries: Temporaries | None, name: str) -> str:
    """A table's name as the Python API takes it (``Connection.load("stage", rows)``), in the
    temporary tables' schema when it names one of them."""
    schema, table = split_name(name)
    if temporaries is not None and (schema.lower() in ALIASES or "." not in name
                                    and table.lower() in temporaries.tables):
        return temporaries.qualified(table.lower())
    return name


def _aliased(table: exp.Table) -> bool:
    """Whether the table is named in the session's temporary schema by one of its aliases."""
    db, catalog = table.db.lower(), table.catalog.lower()
    return db in ALIASES and not catalog or catalog == "temp" and db == "main"


def noted(engine: Engine, tree: exp.Expr) -> None:
    """After a statement succeeded: the session's temporary tables as the catalog now has them
    (one made, dropped or renamed), with what each does at a commit."""
    temporaries = engine.temporaries
    if temporaries is None or not isinstance(tree, exp.Create | exp.Drop | exp.Alter):
        return
    if not (temporaries.tables or isinstance(tree, exp.Create) and is_temporary(tree)):
        return
    existing = {split_name(name)[1] for name in engine.db.metadata_locations()
                if split_name(name)[0] == temporaries.schema}
    action = _on_commit(tree) if isinstance(tree, exp.Create) else "preserve"
    actions = dict(temporaries.tables)
    renames = [a for a in tree.args.get("actions") or [] if isinstance(a, exp.AlterRename)] \
        if isinstance(tree, exp.Alter) else []
    for rename in renames:  # a table renamed keeps what it does at a commit
        if tree.this.name.lower() in actions:
            actions[rename.this.name.lower()] = actions.pop(tree.this.name.lower())
    temporaries.tables = {name: actions.get(name, action) for name in sorted(existing)}


def committed(engine: Engine) -> None:
    """At a transaction's end: each ``ON COMMIT DROP`` table dropped, each ``ON COMMIT DELETE
    ROWS`` table emptied, as statements run through ``engine`` (which note a drop)."""
    temporaries = engine.temporaries
    if temporaries is None:
        return
    for name, action in list(temporaries.tables.items()):
        table = exp.to_table(temporaries.qualified(name))
        if action == "drop":
            engine.execute(exp.Drop(tables=[table], kind="TABLE", exists=True).sql(dialect="duckdb"))
        elif action == "delete":
            engine.execute(exp.TruncateTable(expressions=[table]).sql(dialect="duckdb"))


def dropped(engine: Engine) -> None:
    """The session's end (or ``DISCARD TEMP``): its schema dropped with its tables, and their
    owners and grants forgotten."""
    temporaries = engine.temporaries
    if temporaries is None or not temporaries.made:
        return
    if engine.db.schema_exists(temporaries.schema):
        for name in engine.db.drop_schema(temporaries.schema, cascade=True):
            users.forget_object(engine.db.engine, "table", name)
    temporaries.tables.clear()
    temporaries.made = False


def _input(temporaries: Temporaries, name: exp.Expr) -> None:
    if isinstance(name, exp.Column) and not name.table and name.name.lower() in temporaries.tables:
        name.set("table", exp.to_identifier(temporaries.schema))
    elif name.is_string and name.name.lower() in temporaries.tables:
        name.replace(exp.Literal.string(temporaries.qualified(name.name.lower())))


def _on_commit(tree: exp.Create) -> str:
    properties = tree.args.get("properties")
    for prop in properties.expressions if properties is not None else []:
        if isinstance(prop, dialect.OnCommitDropProperty):
            return "drop"
        if isinstance(prop, exp.OnCommitProperty):
            return "delete" if prop.args.get("delete") else "preserve"
    return "preserve"


@contextmanager
def session(engine: Engine) -> Iterator[None]:
    """A session of its own for work that has none (a scheduled procedure's run on a pooled
    connection): temporary tables it makes are dropped when it ends."""
    outer, engine.temporaries = engine.temporaries, Temporaries()
    try:
        yield
    finally:
        try:
            dropped(engine)
        finally:
            engine.temporaries = outer
