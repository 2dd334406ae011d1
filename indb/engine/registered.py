"""Python data a session names for its statements, as DuckDB's ``register`` does:
``conn.register("people", df)``, then ``SELECT * FROM people`` (a pandas or polars DataFrame, a
pyarrow Table or RecordBatchReader), until ``conn.unregister("people")`` or the session's end.

The Python API also reads a caller's variables as DuckDB's replacement scans do: ``SELECT *
FROM df`` with ``df`` a DataFrame (or Arrow table) among the locals or globals of the code that
called ``conn.sql``/``execute``, when no table or view is called ``df``. Its connection method
sets ``LOOKUP`` for the call; the data is the statement's (``Temporaries.scanned``), read as
registered data is.

A registered name is the session's alone and comes before a table of the same name, as a
temporary table does. It is read, never written, and reading it needs no privilege: the rows are
the caller's own. Each statement that reads one is given its rows in DuckDB under a name of
indb's (``PREFIX``) while it runs (``engine.sources``), as a kdb+ host's answer is; a function's
input, which its instances read from tables, cannot read one.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import TYPE_CHECKING

import pyarrow as pa
from sqlglot import exp

from indb.catalog.names import FRAME_PREFIX as PREFIX
from indb.catalog.names import DEFAULT_SCHEMA, qualified
from indb.engine.schemas import search_path
from indb.errors import OptionError, SqlError
from indb.parser import error_at, render
from indb.planner.access import defined_by_cte
from indb.planner.tables import write_target

if TYPE_CHECKING:
    from indb.engine.core import Engine

_WRITES = (exp.Insert, exp.Update, exp.Delete, exp.Merge, exp.Copy, exp.TruncateTable)
# the caller's variables a statement may read by name (DuckDB's replacement scans), while the
# Python API runs it (``replacing``); None elsewhere (the servers' sessions)
LOOKUP: ContextVar[Callable[[str], object] | None] = ContextVar("indb_replacements", default=None)


def register(engine: Engine, name: str, data: object) -> None:
    """Name ``data`` for the session's statements (again: the name then means the new data)."""
    if not isinstance(name, str) or not name or "." in name:
        raise OptionError(f"a registered name is a name without a schema, not {name!r}")
    _frames(engine)[name.lower()] = _arrow(data)


def unregister(engine: Engine, name: str) -> None:
    """Forget a registered name (one that is not registered: nothing to do, as DuckDB's)."""
    _frames(engine).pop(name.lower(), None)


@contextmanager
def replacing(lookup: Callable[[str], object]) -> Iterator[None]:
    """Statements run inside read Python data by the names ``lookup`` finds (a caller's
    variables; None where it has none of the name), as DuckDB's replacement scans."""
    token = LOOKUP.set(lookup)
    try:
        yield
    finally:
        LOOKUP.reset(token)


def placed(engine: Engine, tree: exp.Expr) -> exp.Expr:
    """The statement reading each registered name it names (without a schema, and not a CTE's)
    under indb's name of its rows, and each name that is no table or view but a variable of its
    caller's (``LOOKUP``) likewise; a write to a registered name refused."""
    temporaries, lookup = engine.temporaries, LOOKUP.get()
    if temporaries is None:
        return tree
    frames, temporaries.scanned = temporaries.frames, {}
    if not frames and lookup is None:
        return tree
    writes = isinstance(tree, _WRITES) and not (isinstance(tree, exp.Copy) and not tree.args.get("kind"))
    target = write_target(tree) if writes else None  # (COPY t TO 'file' reads t)
    for table in list(tree.find_all(exp.Table)):
        name = table.name.lower()
        if table.args.get("db") is not None or not isinstance(table.this, exp.Identifier) \
                or defined_by_cte(table):
            continue
        if name not in frames:
            found = _variable(engine, tree, table, target, lookup) if lookup is not None else None
            if found is None:
                continue
            temporaries.scanned[name] = found
        if table is target or isinstance(tree, exp.TruncateTable):
            raise error_at(table, f"{name} is registered Python data, which is read, not "
                                  f"written: conn.load('{name}', data) makes a table of it")
        alias = table.args.get("alias") or exp.TableAlias(this=exp.to_identifier(name))
        rows = exp.Table(this=exp.to_identifier(PREFIX + name, quoted=True), alias=alias)
        # DESCRIBE and SUMMARIZE of one: of its rows, as a query (a table's are the catalog's)
        table.replace(exp.select("*").from_(rows) if isinstance(table.parent, exp.Describe
                                                                | exp.Summarize) else rows)
    return tree


def read(engine: Engine, tree: exp.Expr) -> dict[str, pa.Table]:
    """The rows of each registered name (or variable read) the statement reads, by indb's name
    of them."""
    temporaries = engine.temporaries
    frames = {**temporaries.frames, **temporaries.scanned} if temporaries is not None else {}
    if not frames:
        return {}  # (no walk of the tree: most sessions register nothing)
    names = {t.name for t in tree.find_all(exp.Table) if t.name.startswith(PREFIX)}
    return {name: frames[name[len(PREFIX):]] for name in names if name[len(PREFIX):] in frames}


def _variable(engine: Engine, tree: exp.Expr, table: exp.Table, target: exp.Expr | None,
              lookup: Callable[[str], object]) -> pa.Table | None:
    """The rows of the caller's variable a table's name reads, if it is one DuckDB's replacement
    scans read (a pandas or polars DataFrame, a pyarrow Table or RecordBatchReader), and the
    name is read (not written, not made) and no table or view's."""
    value = lookup(table.name)
    if value is None or table is target or not _readable(value) \
            or (isinstance(tree, exp.Create) and not _in(table, tree.expression)) \
            or isinstance(tree, _NAMING):
        return None
    if _relation(engine, table.name.lower()):
        return None  # a table or view of the name comes first, as DuckDB's catalog does
    return _arrow(value)


_NAMING = (exp.Drop, exp.Alter, exp.TruncateTable, exp.Comment, exp.Analyze)  # name tables only


def _readable(value: object) -> bool:
    kind = type(value)
    return isinstance(value, pa.Table | pa.RecordBatchReader) or (
        kind.__name__ == "DataFrame" and kind.__module__.split(".")[0] in ("pandas", "polars"))


def _in(node: exp.Expr, part: exp.Expr | None) -> bool:
    return part is not None and any(n is node for n in part.walk())


def _relation(engine: Engine, name: str) -> bool:
    """Whether ``name`` is a table or view along the search path, or one of DuckDB's own
    (``pg_class``, ``duckdb_settings``' views)."""
    relations = engine.session.relations()
    if any(qualified(schema, name) in relations for schema in search_path(engine) or (DEFAULT_SCHEMA,)):
        return True
    own = exp.select("1").from_(exp.Table(this=exp.Anonymous(this="duckdb_views"))).where(
        exp.func("lower", exp.column("view_name")).eq(exp.Placeholder()))
    return engine.session.query(render(own), [name]).num_rows > 0


def _frames(engine: Engine) -> dict[str, pa.Table]:
    if engine.temporaries is None:
        raise SqlError("registered data lives as long as its session, and this connection has "
                       "none")
    return engine.temporaries.frames


def _arrow(data: object) -> pa.Table:
    """``data`` as an Arrow table: a pyarrow Table or RecordBatchReader, a pandas DataFrame, or
    anything with ``to_arrow()`` (a polars DataFrame)."""
    if isinstance(data, pa.Table):
        return data
    if isinstance(data, pa.RecordBatchReader):
        return data.read_all()
    if type(data).__module__.startswith("pandas"):
        return pa.Table.from_pandas(data, preserve_index=False)
    to_arrow = getattr(data, "to_arrow", None)
    if callable(to_arrow):
        table = to_arrow()
        if isinstance(table, pa.Table):
            return table
    raise OptionError(f"cannot register a {type(data).__name__}: pass a pandas or polars "
                      "DataFrame, or a pyarrow Table or RecordBatchReader")
