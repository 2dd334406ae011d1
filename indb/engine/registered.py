"""Python data a session names for its statements, as DuckDB's ``register`` does:
``conn.register("people", df)``, then ``SELECT * FROM people`` (a pandas or polars DataFrame, a
pyarrow Table or RecordBatchReader), until ``conn.unregister("people")`` or the session's end.

A registered name is the session's alone and comes before a table of the same name, as a
temporary table does. It is read, never written, and reading it needs no privilege: the rows are
the caller's own. Each statement that reads one is given its rows in DuckDB under a name of
indb's (``PREFIX``) while it runs (``engine.sources``), as a kdb+ host's answer is; a function's
input, which its instances read from tables, cannot read one.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pyarrow as pa
from sqlglot import exp

from indb.catalog.names import FRAME_PREFIX as PREFIX
from indb.errors import OptionError, SqlError
from indb.parser import error_at
from indb.planner.access import defined_by_cte
from indb.planner.tables import write_target

if TYPE_CHECKING:
    from indb.engine.core import Engine

_WRITES = (exp.Insert, exp.Update, exp.Delete, exp.Merge, exp.Copy, exp.TruncateTable)


def register(engine: Engine, name: str, data: object) -> None:
    """Name ``data`` for the session's statements (again: the name then means the new data)."""
    if not isinstance(name, str) or not name or "." in name:
        raise OptionError(f"a registered name is a name without a schema, not {name!r}")
    _frames(engine)[name.lower()] = _arrow(data)


def unregister(engine: Engine, name: str) -> None:
    """Forget a registered name (one that is not registered: nothing to do, as DuckDB's)."""
    _frames(engine).pop(name.lower(), None)


def placed(engine: Engine, tree: exp.Expr) -> exp.Expr:
    """The statement reading each registered name it names (without a schema, and not a CTE's)
    under indb's name of its rows; a write to one refused."""
    frames = engine.temporaries.frames if engine.temporaries is not None else {}
    if not frames:
        return tree
    writes = isinstance(tree, _WRITES) and not (isinstance(tree, exp.Copy) and not tree.args.get("kind"))
    target = write_target(tree) if writes else None  # (COPY t TO 'file' reads t)
    for table in list(tree.find_all(exp.Table)):
        name = table.name.lower()
        if name not in frames or table.args.get("db") is not None \
                or not isinstance(table.this, exp.Identifier) or defined_by_cte(table):
            continue
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
    """The rows of each registered name the statement reads, by indb's name of them."""
    frames = engine.temporaries.frames if engine.temporaries is not None else {}
    if not frames:
        return {}  # (no walk of the tree: most sessions register nothing)
    names = {t.name for t in tree.find_all(exp.Table) if t.name.startswith(PREFIX)}
    return {name: frames[name[len(PREFIX):]] for name in names if name[len(PREFIX):] in frames}


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
