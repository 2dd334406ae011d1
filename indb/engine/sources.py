"""Table functions whose rows come from outside the database: ``kdb('kdb://host:port', 'q
query')`` reads what a kdb+ host answers (docs/streaming.md). After the statement's privilege
check, each call is fetched once and its rows registered in the statement's DuckDB under a name
of their own (``QuerySession.sources``), which the statement then reads where the call was.

A call makes the server connect to another host, with the credentials of its environment when
the URL has none, so it needs the admin role. The fetchers live in the layers above
(``indb.stream.remote`` speaks kdb+ IPC through PyKX); the table names them as
``module:function``, imported the first time a statement calls one, so PyKX loads only for the
statements that read a kdb+ host.
"""

from __future__ import annotations

import importlib
import itertools
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

import pyarrow as pa
from sqlglot import exp

from indb.catalog.users import OWNER
from indb.engine import privileges
from indb.parser import error_at
from indb.planner import access as rules

if TYPE_CHECKING:
    from indb.engine.core import Engine

# table function -> "module:function" that takes its string arguments and returns its rows
FETCHERS: dict[str, str] = {"kdb": "indb.stream.remote:rows"}
USAGE = {"kdb": "kdb('kdb://host:port', 'select from trade')"}
PREFIX = "__indb_source_"  # DuckDB names of the fetched rows
_numbers = itertools.count()


def calls(tree: exp.Expr) -> list[exp.Anonymous]:
    """The statement's calls of these table functions."""
    return [n for n in tree.find_all(exp.Anonymous) if n.name.lower() in FETCHERS]


@contextmanager
def fetched(engine: Engine, tree: exp.Expr) -> Iterator[exp.Expr]:
    """The statement reading the fetched rows of each call, there while it runs."""
    found = calls(tree)
    if not found:
        yield tree
        return
    _check(engine, found[0])
    tables: dict[str, pa.Table] = {}

    def replace(node: exp.Expr) -> exp.Expr:
        if isinstance(node, exp.Table) and isinstance(node.this, exp.Anonymous) \
                and node.this.name.lower() in FETCHERS:
            call = node.this
            name = f"{PREFIX}{next(_numbers)}"
            tables[name] = _rows(call)
            alias = node.args.get("alias") or exp.TableAlias(this=exp.to_identifier(call.name.lower()))
            return exp.Table(this=exp.to_identifier(name, quoted=True), alias=alias)
        if isinstance(node, exp.Anonymous) and node.name.lower() in FETCHERS:
            raise error_at(node, f"{node.name.lower()}(...) goes where a table goes: SELECT ... "
                                 f"FROM {USAGE[node.name.lower()]}; a function's input reads "
                                 "one through a table: CREATE TABLE t AS SELECT * FROM "
                                 f"{node.name.lower()}(...), then INPUT_TABLE(t)")
        return node
    reading = tree.transform(replace)
    with engine.session.sources(tables):
        yield reading


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
    module, _, function = FETCHERS[name].partition(":")
    fetch: Callable[..., pa.Table] = getattr(importlib.import_module(module), function)
    return fetch(*(a.name for a in arguments))
