"""Temporary tables and views (``CREATE TEMP TABLE``, ``CREATE TEMP VIEW``): a session's own,
gone when it ends.

A session (an embedded connection, a PostgreSQL client's connection to the server) has a schema
of its own, ``pg_temp_<random>``, made at its first temporary table. ``CREATE TEMP TABLE t``
makes ``pg_temp_....t``, and while the session lasts a table named ``t`` without a schema is
that one, before any other ``t`` (PostgreSQL looks in ``pg_temp`` first). Everything else is a
table's: the planner, the writes, constraints, the catalog listings. Any user may make them (as
PostgreSQL grants TEMP to everyone), and owns them. ``ON COMMIT DROP`` and ``ON COMMIT DELETE
ROWS`` are carried out where a transaction ends (the PostgreSQL port's COMMIT and ROLLBACK;
each statement of an embedded connection commits alone). When the session ends its schema is
dropped with its tables. A process killed first leaves them: the schema records the process
that made it (host, boot, process namespace, process id and start), and the next session on that
host to make a temporary table drops the schemas of processes that have gone.

Temporary views (``CREATE [OR REPLACE] TEMP VIEW v AS ...``, Spark's and DuckDB's way of naming a
step of a script) are kept by the session alone, never in the catalog: their query (the
temporary tables it reads named as they were then, the temporary views it reads as they are at
each read) is put in place of ``v`` in each statement that reads it, so its reads are the
session user's own and are checked as such."""

from __future__ import annotations

import logging
import os
import secrets
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import pyarrow as pa
from sqlglot import exp

from indb.catalog import users
from indb.catalog.macros import Macro
from indb.catalog.names import split_name
from indb.errors import CatalogError
from indb.parser import dialect, error_at, parse, render
from indb.planner.prepared import Prepare
from indb.planner.settings import DEFAULT_PATH
from indb.planner.tables import TEMPORARY_PROPERTIES, is_temporary

if TYPE_CHECKING:
    from indb.engine.core import Engine

PREFIX = "pg_temp_"  # a session's schema: PostgreSQL's name for its sessions' own
SESSION = "indb.session"  # its property naming the process that made it (process_identity)
ALIASES = ("pg_temp", "temp")  # the session's temporary schema in PostgreSQL's and DuckDB's SQL
INPUTS = ("INPUT_TABLE", "INPUT_TABLES")  # a function run's tables, named as columns or strings
log = logging.getLogger(__name__)


@dataclass
class Temporaries:
    """One session's own names: its temporary tables' schema, and what each table does at a
    commit (``preserve``, ``delete`` its rows, ``drop`` it), by name; its temporary views'
    queries, macros, prepared statements, registered data (``engine.registered``) and variables,
    by name;
    and its search path (``engine.schemas.searched``)."""

    schema: str = field(default_factory=lambda: PREFIX + secrets.token_hex(6))
    tables: dict[str, str] = field(default_factory=dict)
    views: dict[str, str] = field(default_factory=dict)
    macros: dict[str, Macro] = field(default_factory=dict)  # CREATE TEMP MACRO's, by name
    made: bool = False  # whether the schema was made (it stays when its last table is dropped)
    # the schemas a name without one is looked up in, in order (USE s, SET search_path)
    search_path: tuple[str, ...] = DEFAULT_PATH
    prepared: dict[str, Prepare] = field(default_factory=dict)  # PREPARE's, by name
    frames: dict[str, pa.Table] = field(default_factory=dict)  # conn.register's, by name
    # the caller's variables the statement being run reads (DuckDB's replacement scans)
    scanned: dict[str, pa.Table] = field(default_factory=dict)
    # SET VARIABLE's, by name: each value as text, and its type
    variables: dict[str, tuple[str | None, str]] = field(default_factory=dict)

    @property
    def held(self) -> bool:
        """Whether the session has temporary tables or views (statements' names to rewrite)."""
        return bool(self.tables or self.views)

    @property
    def own(self) -> bool:
        """Whether the session has names of its own a statement may use (temporary tables,
        views or macros, variables, a search path): what a run on another connection must be
        told."""
        return self.held or bool(self.macros or self.variables) or self.search_path != DEFAULT_PATH

    def qualified(self, name: str) -> str:
        return f"{self.schema}.{name}"


def is_temporary_name(name: str) -> bool:
    """Whether a table's catalog name is in a session's temporary schema."""
    return split_name(name)[0].startswith(PREFIX)


def placed(engine: Engine, tree: exp.Expr) -> exp.Expr:
    """The statement with the session's temporary tables in their schema: ``CREATE TEMP TABLE t``
    made in it (the schema made first), and ``t`` without a schema read as the temporary
    table while there is one (a CTE of that name stays the CTE)."""
    temporaries = engine.temporaries
    if isinstance(tree, exp.Create) and is_temporary(tree):
        kind = str(tree.args.get("kind")).lower()
        if kind in ("macro", "function"):
            return tree  # a temporary macro: the session's, in no schema (engine.macros)
        if kind not in ("table", "view"):
            raise error_at(tree, f"temporary {kind}s are not supported: make a temporary table "
                                 "or view, or a sequence")
        table = tree.find(exp.Table)
        assert table is not None
        own = temporaries is not None and table.db.lower() == temporaries.schema
        if table.args.get("db") is not None and not own and not _aliased(table):
            if kind == "view":
                raise error_at(table, "a temporary view is its session's: name it without a schema")
            return _kinetica_memory_only(tree)
        if temporaries is None:
            raise error_at(tree, f"a temporary {kind} lives as long as its session, and the HTTP "
                                 "API has none (each request stands alone): use a table or view, "
                                 "or a PostgreSQL client")
        if kind == "view":
            table.set("db", None)
            table.set("catalog", None)
            return named(temporaries, tree)
        if not engine.db.schema_exists(temporaries.schema):
            swept(engine)
            engine.db.create_schema(temporaries.schema, {SESSION: process_identity()})
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
    of that name stays the CTE): a table, or a function run's ``INPUT_TABLE(t)``; and each read
    of a temporary view replaced by its query."""
    if temporaries is None or not temporaries.held:
        return tree
    ctes = {cte.alias_or_name.lower() for cte in tree.find_all(exp.CTE)}
    # CREATE TABLE t of a permanent t goes to main, as PostgreSQL's goes past pg_temp; what a
    # CREATE makes and what a DROP drops are names, not reads of a view
    made = tree.find(exp.Table) if isinstance(tree, exp.Create) else None
    dropped = set(map(id, tree.find_all(exp.Table))) if isinstance(
        tree, exp.Drop | dialect.ShowCreate) else set()  # (SHOW CREATE VIEW v: its name too)
    # a temporary view's query keeps the views it reads by name: read as they are when it is
    defined = isinstance(tree, exp.Create) and str(tree.args.get("kind")).upper() == "VIEW"
    written = tree.this.find(exp.Table) if isinstance(tree, exp.Insert | exp.Update | exp.Delete
                                                      | exp.Merge) else None
    for table in list(tree.find_all(exp.Table)):
        if table.name.lower() in ctes or table is made:
            continue  # (a temporary table's is in its schema already)
        if table is written and _view(temporaries, table):
            raise error_at(table, f"{table.name} is a temporary view, which cannot be written: "
                                  "write to the tables it reads")
        if id(table) not in dropped and not defined and _view(temporaries, table):
            read = _read(temporaries, table, ())  # DESCRIBE v and SUMMARIZE v: of its query
            table.replace(read.this if isinstance(table.parent, exp.Describe | exp.Summarize)
                          else read)
        else:
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


def _view(temporaries: Temporaries, table: exp.Table) -> bool:
    """Whether ``table`` names one of the session's temporary views."""
    return isinstance(table.this, exp.Identifier) and table.name.lower() in temporaries.views \
        and (table.args.get("db") is None or _aliased(table))


def _read(temporaries: Temporaries, table: exp.Table, seen: tuple[str, ...]) -> exp.Subquery:
    """A temporary view's query in place of ``table``, with the temporary views it reads in
    theirs (``seen``: the views being read, in which it must not be)."""
    name = table.name.lower()
    if name in seen:
        raise CatalogError(f"temporary view {name} would read itself (through "
                           f"{' -> '.join((*seen, name))}): redefine one of them")
    query = parse(temporaries.views[name])[0]
    ctes = {cte.alias_or_name.lower() for cte in query.find_all(exp.CTE)}
    for inner in list(query.find_all(exp.Table)):
        if inner.name.lower() not in ctes and _view(temporaries, inner):
            inner.replace(_read(temporaries, inner, (*seen, name)))
    return exp.Subquery(this=query, alias=table.args.get("alias")
                        or exp.TableAlias(this=exp.to_identifier(table.name)))


def create_view(engine: Engine, name: str, query: exp.Expr, replace: bool) -> None:
    """``CREATE [OR REPLACE] TEMP VIEW name AS query``: its query (the temporary tables and
    views it reads already named as they are now) checked by DuckDB and kept."""
    temporaries = engine.temporaries
    assert temporaries is not None  # (placed refused it without a session)
    name = name.lower()
    if name in temporaries.tables:
        raise CatalogError(f"a temporary table called {name} exists; a view needs a name of its "
                           "own")
    if name in temporaries.views and not replace:
        raise CatalogError(f"temporary view {name} already exists; CREATE OR REPLACE TEMP VIEW "
                           f"{name} redefines it")
    kept, temporaries.views[name] = temporaries.views.get(name), render(query)
    try:  # read as it would be, it reading no view that reads it
        checked = _read(temporaries, exp.to_table(name), ())
        engine.session.query(render(exp.select(exp.Star()).from_(checked).limit(0)))
    except BaseException:
        if kept is None:
            del temporaries.views[name]
        else:
            temporaries.views[name] = kept
        raise


def drop_view(engine: Engine, name: str) -> bool:
    """``DROP VIEW name`` of a temporary view: forgotten (False: it names none)."""
    temporaries, name = engine.temporaries, name.lower()
    if temporaries is None or name not in temporaries.views:
        return False
    readers = [other for other, sql in temporaries.views.items()
               if any(t.name.lower() == name for t in parse(sql)[0].find_all(exp.Table))]
    if readers:
        raise CatalogError(f"temporary view {', '.join(readers)} reads {name}: drop it first")
    del temporaries.views[name]
    return True


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
    if temporaries is None:
        return
    temporaries.views.clear()
    temporaries.macros.clear()
    if not temporaries.made:
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


def swept(engine: Engine) -> list[str]:
    """The temporary schemas of processes of this host that have gone (killed before their
    sessions ended), dropped with their tables; their names."""
    gone = []
    for schema in engine.db.schemas():
        if not schema.startswith(PREFIX):
            continue
        try:
            owner = engine.db.schema_properties(schema).get(SESSION)
            if owner is None or not process_gone(owner):
                continue  # (one made before schemas said whose they were: DROP SCHEMA it)
            for name in engine.db.drop_schema(schema, cascade=True):
                users.forget_object(engine.db.engine, "table", name)
        except CatalogError:
            continue  # another process swept it first
        log.info("dropped the temporary schema %s of a process that has gone (%s)", schema, owner)
        gone.append(schema)
    return gone


def process_identity(pid: int | None = None) -> str:
    """``host boot namespace pid start``: this process (or ``pid``) as no other process, on
    this host, in another container of it, or after a reboot, can be (where Linux says: the
    boot's id, the process id namespace, the start time in clock ticks)."""
    pid = os.getpid() if pid is None else pid
    return f"{socket.gethostname()} {_boot_id()} {_namespace()} {pid} {_started(pid)}"


def process_gone(identity: str) -> bool:
    """Whether the process ``identity`` names has ended: only what this host can tell (a
    process of another host is taken to be alive)."""
    host, boot, namespace, pid, start = (identity.split(" ") + [""] * 5)[:5]
    if host != socket.gethostname() or not pid.isdigit():
        return False
    if boot != _boot_id():
        return True  # the host has started again since
    if namespace != _namespace():
        return False  # another container's, sharing the host's name: not this one's to see
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        pass  # it exists, as another user's
    return start != _started(int(pid))  # a new process with the old one's number


def _boot_id() -> str:
    try:
        return Path("/proc/sys/kernel/random/boot_id").read_text().strip()
    except OSError:
        return "-"


def _namespace() -> str:
    try:
        return os.readlink("/proc/self/ns/pid")
    except OSError:
        return "-"


def _started(pid: int) -> str:
    try:  # /proc/PID/stat's 22nd field; the 2nd, the command, may hold spaces: counted after it
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[19]
    except (OSError, IndexError):
        return "-"


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
