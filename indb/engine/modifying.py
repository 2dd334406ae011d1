"""PostgreSQL's data-modifying statements in WITH: ``WITH moved AS (DELETE FROM t WHERE ...
RETURNING *) INSERT INTO archive SELECT * FROM moved`` moves rows in one statement.

Each WITH query that writes (INSERT, UPDATE, DELETE, MERGE) runs first, in the order written, as
a statement of its own (with the plain WITH queries before it, which it may read), once, whether
the rest reads it or not; its RETURNING rows are kept in memory, and the statement after the
WITH reads them where it names the query (under a name of indb's, as registered data is read:
``engine.sources``). Every part is checked against the user's privileges as it runs, and is
given its own of the statement's parameters (``?`` numbered as written, then again in each
part). The whole is one transaction: the session's open one, or one of its own, committed when
the last part has run; if a part fails, nothing is written.

Unlike PostgreSQL, where every part sees the tables as they were before the statement, a part
here sees the writes of the parts before it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import TYPE_CHECKING

import pyarrow as pa
from sqlglot import exp

from indb.catalog.names import FRAME_PREFIX
from indb.engine import transactions
from indb.errors import SqlError
from indb.parser import error_at
from indb.parser.dialect import Explain
from indb.parser.prepared import Prepare
from indb.planner.tables import write_target
from indb.planner.upkeep import numbered_parameters, own_parameters
from indb.result import Result

if TYPE_CHECKING:
    from indb.engine.core import Engine

WRITES = (exp.Insert, exp.Update, exp.Delete, exp.Merge)
PREFIX = FRAME_PREFIX + "with_"  # a name of the rows a WITH query's RETURNING gave
# the rows of the WITH queries that wrote, by their names, while the statement after them runs
WRITTEN: ContextVar[dict[str, pa.Table]] = ContextVar("indb_written", default={})


def writes(tree: exp.Expr) -> bool:
    """Whether the statement's WITH has a query that writes; one that writes in a WITH that is
    not the statement's own (in a subquery) is refused, as PostgreSQL refuses it."""
    top = tree.args.get("with_")
    if isinstance(tree, Prepare | Explain) and any(isinstance(c.this, WRITES) for w in tree.find_all(exp.With)
                                                   for c in w.expressions):
        raise error_at(tree, f"{'PREPARE' if isinstance(tree, Prepare) else 'EXPLAIN'} of a statement "
                             "whose WITH writes is not supported (its parts run one by one): run the "
                             "statement as it is")
    for with_ in tree.find_all(exp.With):
        for cte in with_.expressions:
            if isinstance(cte.this, WRITES) and with_ is not top:
                raise error_at(cte, "a WITH query that writes (INSERT, UPDATE, DELETE, MERGE) must "
                                    "be in the statement's own WITH, at the top, not in a subquery")
    return top is not None and any(isinstance(cte.this, WRITES) for cte in top.expressions)


def run(engine: Engine, tree: exp.Expr, params: object,
        statement: Callable[[exp.Expr, object], Result]) -> Result:
    """The statement's WITH queries that write, in order, then the statement reading their
    RETURNING rows, each run by ``statement`` (the engine's): one transaction."""
    if params and not isinstance(params, list | tuple):
        raise SqlError("a statement whose WITH writes takes positional parameters (? or $1), "
                       "not named ones")
    tree = numbered_parameters(tree)  # ? as $n, in the order written: the parts run apart
    plain: list[exp.CTE] = []
    written: dict[str, pa.Table | None] = {}  # by the WITH query's name (None: no RETURNING)
    with transactions.atomic(engine):
        for cte in tree.args["with_"].expressions:
            if not isinstance(cte.this, WRITES):
                plain.append(cte)
                continue
            part = cte.this.copy()
            if plain:
                part.set("with_", exp.With(expressions=[c.copy() for c in plain]))
            with _reads(_reading(part, written), written) as reading:
                result = statement(reading, _given(reading, params))
            written[cte.alias_or_name.lower()] = result.arrow() if result.returns_rows else None
        rest = tree.copy()
        with_ = rest.args["with_"]
        with_.set("expressions", [c for c in with_.expressions if not isinstance(c.this, WRITES)])
        if not with_.expressions:
            rest.set("with_", None)
        with _reads(_reading(rest, written), written) as reading:
            return statement(reading, _given(reading, params))


def _given(part: exp.Expr, params: object) -> list | None:
    """The values of the part's own parameters (numbered again from 1 in it), of the
    statement's ``params``."""
    own = own_parameters(part)
    if own is None:
        raise error_at(part, "a statement whose WITH writes takes positional parameters (? or "
                             "$1), not named ones")
    if not own:
        return None
    if not isinstance(params, list | tuple) or max(own) > len(params):
        raise error_at(part, "the statement's parameters are not all given: one value for each "
                             "? or $n, in order")
    return [params[n - 1] for n in own]


def _reading(tree: exp.Expr, written: dict[str, pa.Table | None]) -> exp.Expr:
    """``tree`` reading each WITH query that wrote, where it names one, from its rows' name (a
    write's own table is the table of that name, as in PostgreSQL)."""
    target = write_target(tree) if isinstance(tree, WRITES) else None
    for table in list(tree.find_all(exp.Table)):
        name = table.name.lower()
        if table.args.get("db") is not None or name not in written or table is target \
                or not isinstance(table.this, exp.Identifier):
            continue
        if written[name] is None:
            raise error_at(table, f"the WITH query {name} writes without RETURNING: it has no rows "
                                  "to read (add RETURNING *)")
        alias = table.args.get("alias") or exp.TableAlias(this=exp.to_identifier(name))
        table.replace(exp.Table(this=exp.to_identifier(_rows_name(name), quoted=True), alias=alias))
    return tree


def _rows_name(name: str) -> str:
    return f"{PREFIX}{name}"


@contextmanager
def _reads(tree: exp.Expr, written: dict[str, pa.Table | None]) -> Iterator[exp.Expr]:
    """The rows there for the statement to read while it runs (``read``)."""
    rows = {_rows_name(name): table for name, table in written.items() if table is not None}
    token = WRITTEN.set(rows)
    try:
        yield tree
    finally:
        WRITTEN.reset(token)


def read(tree: exp.Expr) -> dict[str, pa.Table]:
    """The rows of the WITH queries that wrote that the statement reads, by their names."""
    rows = WRITTEN.get()
    if not rows:
        return {}
    return {t.name: rows[t.name] for t in tree.find_all(exp.Table) if t.name in rows}
