"""Table functions whose rows come from outside the database: ``kdb('kdb://host:port', 'q
query')`` reads what a kdb+ host answers (docs/streaming.md). After the statement's privilege
check, each call is fetched once and its rows registered in the statement's DuckDB under a name
of their own (``QuerySession.sources``), which the statement then reads where the call was. A
function's input reads them from a replicated table of indb's own instead (its instances read
tables' files, on workers), written before the run and dropped after it.

A call makes the server connect to another host, with the credentials of its environment when
the URL has none, so it needs the admin role. The fetchers are clients of other hosts
(``indb.hosts``; ``indb.hosts.kdb`` speaks kdb+ IPC and loads PyKX only when a statement reads
a kdb+ host).
"""

from __future__ import annotations

import itertools
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

import pyarrow as pa
from sqlglot import exp

from indb import planner
from indb.catalog.tables import TableInfo
from indb.catalog.types import Column, sql_type_of
from indb.catalog.users import OWNER
from indb.engine import duckdb_catalog, modifying, privileges, registered
from indb.engine.tables import write_rows
from indb.errors import OptionError
from indb.hosts import kdb
from indb.parser import error_at
from indb.parser.prepared import Prepare
from indb.planner import access as rules

if TYPE_CHECKING:
    from indb.engine.core import Engine

# table function -> what takes its string arguments and returns its rows
FETCHERS: dict[str, Callable[..., pa.Table]] = {"kdb": kdb.rows}
USAGE = {"kdb": "kdb('kdb://host:port', 'select from trade')"}
PREFIX = "__indb_source_"  # DuckDB names of the fetched rows
STORED_PREFIX = "kdb_rows_"  # tables of the fetched rows a function reads (indb's own names
# cannot be tables: the catalog keeps _indb for hidden columns and staging)
_numbers = itertools.count()


def calls(tree: exp.Expr) -> list[exp.Anonymous]:
    """The statement's calls of these table functions."""
    return [n for n in tree.find_all(exp.Anonymous) if n.name.lower() in FETCHERS]


@contextmanager
def fetched(engine: Engine, tree: exp.Expr) -> Iterator[exp.Expr]:
    """The statement reading the fetched rows of each call, there while it runs: in DuckDB, or
    in a table of their own where a function's input reads them (its instances read tables);
    and the rows of the session's registered data it reads (``engine.registered``), and the facts
    of indb's tables where it reads DuckDB's catalog (``engine.duckdb_catalog``), in DuckDB."""
    found = calls(tree)
    frames = registered.read(engine, tree)
    frames.update(modifying.read(tree))  # the RETURNING rows of WITH queries that wrote
    if frames:
        _check_frames(tree)
    tree, facts = duckdb_catalog.read(engine, tree)  # information_schema.tables...
    frames.update(facts)
    if not found and not frames:  # most statements: nothing to hand DuckDB
        yield tree
        return
    if not found:
        with engine.session.sources(frames):
            yield tree
        return
    _check(engine, found[0])
    if _is_view(tree):
        raise error_at(found[0], f"a view cannot read {found[0].name.lower()}(...): every "
                                 "statement reading it would fetch it again; CREATE TABLE t AS "
                                 "SELECT ... copies the rows once")
    if isinstance(tree, Prepare):
        raise error_at(found[0], f"a prepared statement cannot read {found[0].name.lower()}(...), "
                                 "which is fetched as a statement runs: run it as it is")
    tables: dict[str, pa.Table] = dict(frames)
    stored: list[str] = []
    try:
        def replace(node: exp.Expr) -> exp.Expr:
            call = node.this if isinstance(node, exp.Table) else node
            if not (isinstance(call, exp.Anonymous) and call.name.lower() in FETCHERS):
                return node
            if _in_input(call):
                stored.append(_stored(engine, _rows(call)))
                name = stored[-1]
            elif isinstance(node, exp.Table):
                name = f"{PREFIX}{next(_numbers)}"
                tables[name] = _rows(call)
            else:
                raise error_at(call, f"{call.name.lower()}(...) goes where a table goes: SELECT "
                                     f"... FROM {USAGE[call.name.lower()]}, or a function's "
                                     "INPUT_TABLE(...)")
            alias = node.args.get("alias") or exp.TableAlias(this=exp.to_identifier(call.name.lower()))
            return exp.Table(this=exp.to_identifier(name, quoted=True), alias=alias)
        reading = tree.transform(replace)
        if stored and _nowait(engine, reading):
            raise OptionError("a function whose input reads kdb(...) cannot run with nowait: the "
                              "rows it fetched are kept only while the statement runs")
        with engine.session.sources(tables):
            yield reading
    finally:
        for name in stored:
            engine.db.drop_table(name)


def _check_frames(tree: exp.Expr) -> None:
    """Registered data is read by the statement of its session, not by a view, which outlives
    the statement, or a function's input, which its instances read from tables."""
    for table in tree.find_all(exp.Table):
        if not table.name.startswith(registered.PREFIX):
            continue
        name = table.name[len(registered.PREFIX):]
        if _is_view(tree):
            raise error_at(table, f"a view cannot read {name}, the session's registered data: "
                                  "CREATE TABLE t AS SELECT ... copies its rows")
        if _in_input(table):
            raise error_at(table, f"a function's input reads tables, and {name} is the "
                                  f"session's registered data: conn.load('{name}', data) makes "
                                  "a table of it")


def _is_view(tree: exp.Expr) -> bool:
    """Whether the statement makes a view (which reads what it reads again at each read)."""
    return isinstance(tree, exp.Create) and str(tree.args.get("kind", "")).upper() == "VIEW"


def _in_input(call: exp.Expr) -> bool:
    """Whether a call is (in) a function's input: INPUT_TABLE(kdb(...)), INPUT_TABLE(SELECT ...
    FROM kdb(...))."""
    return any(isinstance(n, exp.Anonymous) and n.name.upper() in ("INPUT_TABLE", "INPUT_TABLES")
               or isinstance(n, exp.Kwarg) and n.this.name.upper() == "INPUT_TABLE_NAMES"
               for n in _ancestors(call))


def _ancestors(node: exp.Expr) -> Iterator[exp.Expr]:
    while node.parent is not None:
        node = node.parent
        yield node


def _stored(engine: Engine, rows: pa.Table) -> str:
    """A replicated table of the rows (a function instance reads the whole of it), dropped
    after the statement."""
    name = f"{STORED_PREFIX}{uuid.uuid4().hex[:16]}"
    columns = tuple(Column(f.name, sql_type_of(f.type)) for f in rows.schema)
    write_rows(engine, name, [rows], create=TableInfo(name, columns, (), 1, replicated=True))
    return name


def _nowait(engine: Engine, tree: exp.Expr) -> bool:
    plan = planner.plan(tree, engine.facts)
    return isinstance(plan, planner.ExecuteFunction) and plan.options.nowait


def _check(engine: Engine, call: exp.Anonymous) -> None:
    user = engine.user
    if user == OWNER:
        return
    need = rules.Need("ROLE", "role", rules.ADMIN, call,
                      f"{call.name.lower()}(...), which connects to another host,")
    rules.check_needs([need], privileges.access(engine, user, [need]))


def _rows(call: exp.Anonymous) -> pa.Table:
    name = call.name.lower()
    arguments = call.expressions
    if len(arguments) != 2 or not all(isinstance(a, exp.Literal) and a.is_string for a in arguments):
        raise error_at(call, f"{name}(...) takes two strings: {USAGE[name]}")
    return FETCHERS[name](*(a.name for a in arguments))
