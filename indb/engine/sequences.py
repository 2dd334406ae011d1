"""Handlers of sequence statements, and PostgreSQL's functions of sequences inside DuckDB.

``nextval``, ``currval``, ``setval`` and ``lastval`` reach two kinds of sequence by name: one made
with CREATE SEQUENCE (``catalog.sequences``), and an identity column's (``SERIAL``, ``GENERATED
... AS IDENTITY``), named ``<table>_<column>_seq`` as PostgreSQL names it (``pg_get_serial_sequence``
says so), whose numbers are the table's counter of the column. ``currval`` and ``lastval`` are of
the session: the values its thread last took (a PostgreSQL client's session has a thread of its
own on the server).
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

import duckdb
import numpy as np
import pyarrow as pa
from duckdb.func import FunctionNullHandling, PythonUDFType
from sqlglot import exp

from indb.catalog import sequences as catalog
from indb.catalog.names import DEFAULT_SCHEMA, qualified, split_name
from indb.catalog.sequences import (SequenceInfo, default_sequence, identity_sequence,
                                    sequence_name)
from indb.catalog.tables import TableInfo
from indb.catalog.types import Column, Identity
from indb.errors import CatalogError, DataError, SqlError, not_found
from indb.planner import access as rules
from indb.planner import sequences as plans
from indb.result import Result

if TYPE_CHECKING:
    from indb.engine.core import Engine

# a session's last values: {(database, name): value, and (database, None): the last of all},
# by the thread its statements run on (DuckDB calls the functions on threads of its own)
_taken: weakref.WeakKeyDictionary[threading.Thread, dict[tuple[str, str | None], int]] = \
    weakref.WeakKeyDictionary()


@dataclass(frozen=True)
class _IdentitySequence:
    """An identity column's numbering, reached by its sequence's name."""

    table: str
    column: Column

    @property
    def identity(self) -> Identity:
        assert self.column.identity is not None
        return self.column.identity

    @property
    def counter(self) -> str:  # the table's counter of the column (Database.allocate_rowids)
        return f"{self.table}/{self.identity.sequence}"


def found(engine: Engine, name: str) -> SequenceInfo | _IdentitySequence:
    """The sequence of a catalog name: one made with CREATE SEQUENCE, else an identity column's
    (``t_c_seq``); CatalogError if there is none."""
    info = catalog.find(engine.db.engine, name)
    if info is not None:
        return info
    schema, last = split_name(name)
    for table in engine.db.metadata_locations():
        table_schema, table_name = split_name(table)
        if table_schema != schema or not last.startswith(f"{table_name}_"):
            continue
        for column in engine.db.load(table)[1].columns:
            if column.identity is not None and identity_sequence(table, column.name) == name:
                return _IdentitySequence(table, column)
    raise CatalogError(f"sequence {name} does not exist; SHOW SEQUENCES lists them (an identity "
                       "column's is <table>_<column>_seq)")


def next_values(engine: Engine, name: str, count: int,
                session: threading.Thread | None = None) -> np.ndarray:
    """Take a sequence's next ``count`` numbers (the ``currval`` of ``session``, the thread
    of the statement's session, this one's by default, is the last)."""
    target = found(engine, name)
    if isinstance(target, SequenceInfo):
        values = catalog.next_values(engine.db.engine, name, count)
    else:
        first = engine.db.allocate_rowids(target.counter, count)
        identity = target.identity
        values = identity.start + (first + np.arange(count, dtype=np.int64)) * identity.increment
    if count:
        taken = _taken.setdefault(session or threading.current_thread(), {})
        taken[(str(engine.db.path), name)] = taken[(str(engine.db.path), None)] = int(values[-1])
    return values


def set_value(engine: Engine, name: str, value: int, is_called: bool) -> int:
    """``setval``: the next number is ``value + increment`` (``is_called``), or ``value``."""
    target = found(engine, name)
    if isinstance(target, SequenceInfo):
        catalog.set_value(engine.db.engine, name, value, is_called)
        return value
    identity = target.identity
    taken, off = divmod(value - identity.start, identity.increment)
    if off or taken < -1 or (taken == -1 and not is_called):
        raise DataError(f"setval: {value} is not a number of identity sequence {name} (it numbers "
                        f"from {identity.start} by {identity.increment})")
    engine.db.set_counter(target.counter, taken + 1 if is_called else taken)
    return value


def current_value(engine: Engine, name: str, session: threading.Thread) -> int:
    found(engine, name)  # one that does not exist says so first
    value = _taken.get(session, {}).get((str(engine.db.path), name))
    if value is None:
        raise DataError(f"currval of sequence {name} is not yet defined in this session: call "
                        f"nextval('{name}') first")
    return value


def last_value(engine: Engine, session: threading.Thread) -> int:
    value = _taken.get(session, {}).get((str(engine.db.path), None))
    if value is None:
        raise DataError("lastval is not yet defined in this session: call nextval first")
    return value


# -- the functions inside DuckDB -----------------------------------------------------------------

def with_sequences(engine: Engine, plan: plans.WithSequences, params: object) -> Result:
    """Register the sequence functions for the plan's SQL, run the plan, then remove them."""
    duck = engine.session.duck
    _register(engine, duck)
    try:
        return engine.run(plan.plan, params)  # type: ignore[arg-type]
    finally:
        for name in plans.FUNCTIONS.values():
            duck.remove_function(name)


def _register(engine: Engine, duck: duckdb.DuckDBPyConnection) -> None:
    session = threading.current_thread()  # the statement's; DuckDB calls from threads of its own

    def nextval(names: pa.Array) -> pa.Array:
        texts = names.to_pylist()
        out = np.zeros(len(texts), dtype=np.int64)
        for text in dict.fromkeys(t for t in texts if t is not None):  # in order of first use
            positions = [i for i, t in enumerate(texts) if t == text]
            out[positions] = next_values(engine, sequence_name(text), len(positions), session)
        return pa.array(out, mask=np.array([t is None for t in texts]))

    def currval(names: pa.Array) -> pa.Array:
        return pa.array([None if t is None else current_value(engine, sequence_name(t), session)
                         for t in names.to_pylist()], pa.int64())

    def setval(names: pa.Array, values: pa.Array, called: pa.Array) -> pa.Array:
        return pa.array([None if t is None or v is None else
                         set_value(engine, sequence_name(t), v, c is not False)
                         for t, v, c in zip(names.to_pylist(), values.to_pylist(),
                                            called.to_pylist(), strict=True)], pa.int64())

    functions: dict[str, tuple[Callable[..., pa.Array], list[Any]]] = {
        "nextval": (nextval, ["VARCHAR"]), "currval": (currval, ["VARCHAR"]),
        "setval": (setval, ["VARCHAR", "BIGINT", "BOOLEAN"])}
    for name, (function, arguments) in functions.items():
        duck.create_function(plans.FUNCTIONS[name], function, arguments, "BIGINT",
                             type=PythonUDFType.ARROW, null_handling=FunctionNullHandling.SPECIAL,
                             side_effects=True)
    duck.create_function(plans.FUNCTIONS["lastval"], lambda: last_value(engine, session), [], "BIGINT",
                         side_effects=True)  # of no column: a value a row


# -- a sequence read as a table ------------------------------------------------------------------

def as_relations(engine: Engine, tree: exp.Expr) -> tuple[exp.Expr, list[rules.Need]]:
    """The statement with each sequence it reads as a table (``SELECT last_value FROM s``, as
    PostgreSQL has it: in a FROM or a JOIN) read as its one row, ``last_value, log_cnt,
    is_called`` now; and the SELECT on each that it needs. Names of tables, views and the
    statement's CTEs are theirs."""
    read = [t for t in tree.find_all(exp.Table) if isinstance(t.parent, exp.From | exp.Join)
            and isinstance(t.this, exp.Identifier) and not t.args.get("catalog")]
    if not read:  # most statements a server runs (INSERT ... VALUES, SELECT 1): nothing to look up
        return tree, []
    known = set(engine.session.infos) | engine.session.views.names
    named = [(t, name) for t in read if (name := _relation_name(t)) not in known
             and not (not t.db and rules.defined_by_cte(t))]
    if not named:
        return tree, []
    needed = []
    for table, name in named:
        try:
            target = found(engine, name)
        except CatalogError:
            continue  # not a sequence: the privilege check or DuckDB says what it is not
        last_value, is_called = _state(engine, target)
        row = exp.Tuple(expressions=[exp.Literal.number(last_value), exp.Literal.number(0),
                                     exp.convert(is_called)])
        alias = exp.TableAlias(this=exp.to_identifier(table.alias_or_name),
                               columns=[exp.to_identifier(c) for c in SEQUENCE_COLUMNS])
        table.replace(exp.Subquery(this=exp.Values(expressions=[row]), alias=alias))
        needed.append(rules.Need("SELECT", "sequence", name, table))
    return tree, needed


SEQUENCE_COLUMNS = ("last_value", "log_cnt", "is_called")  # a sequence's row, as PostgreSQL's


def _state(engine: Engine, target: SequenceInfo | _IdentitySequence) -> tuple[int, bool]:
    """A sequence's ``last_value`` and ``is_called``; an identity column's from how many
    numbers its table's counter has handed out (pg_dump reads them to write its setval)."""
    if isinstance(target, SequenceInfo):
        return target.last_value, target.is_called
    identity, counted = target.identity, engine.db.counted(target.counter)
    return identity.start + max(counted - 1, 0) * identity.increment, counted > 0


def _relation_name(table: exp.Table) -> str:
    schema = table.db.lower() if table.db else DEFAULT_SCHEMA
    return qualified(schema, table.name.lower())


# -- the statements ------------------------------------------------------------------------------

def create_sequence(engine: Engine, plan: plans.CreateSequence, params: object) -> Result:
    info = plan.info
    if plan.if_not_exists and catalog.find(engine.db.engine, info.name) is not None:
        return Result(message=f"sequence {info.name} already exists")
    if engine.db.exists(info.name):
        raise CatalogError(f"{info.name} is a table; a sequence needs a name of its own")
    if info.owned_by is not None:
        info = replace(info, owned_by=_owner(engine, info.name, info.owned_by))
    if plan.replace:  # (refused, as DROP SEQUENCE is, while a DEFAULT uses the old one)
        drop_sequence(engine, plans.DropSequence((info.name,), if_exists=True), params)
    catalog.create(engine.db.engine, info)
    return Result(message=f"created sequence {info.name}")


def drop_sequence(engine: Engine, plan: plans.DropSequence, params: object) -> Result:
    known = {s.name for s in catalog.every(engine.db.engine)}
    missing = [n for n in plan.names if n not in known]
    if missing and not plan.if_exists:
        raise not_found("sequence", missing[0])
    dropped = [n for n in plan.names if n in known]
    for table in engine.db.metadata_locations():
        for column in engine.db.load(table)[1].columns:
            if default_sequence(column.default) in dropped:
                raise SqlError(f"cannot drop sequence {default_sequence(column.default)}: the "
                               f"DEFAULT of column {column.name} of table {table} uses it; ALTER "
                               f"TABLE {table} ALTER COLUMN {column.name} DROP DEFAULT first")
    catalog.drop(engine.db.engine, dropped)
    return Result(message=f"dropped sequence {', '.join(dropped)}" if dropped
                  else f"sequence {', '.join(plan.names)} does not exist")


def drop_owned(engine: Engine, table: str) -> None:
    """Drop the sequences owned by a column of a dropped table."""
    owned = [s.name for s in catalog.owned_by_table(engine.db.engine, table)]
    if owned:
        catalog.drop(engine.db.engine, owned)


def column_changed(engine: Engine, table: str, column: str, new: str | None) -> None:
    """A table's column was renamed to ``new`` (its sequences stay its) or dropped (None: its
    sequences go with it), as PostgreSQL's OWNED BY has it."""
    owned = [s for s in catalog.owned_by_table(engine.db.engine, table)
             if s.owned_by is not None and s.owned_by[1] == column]
    for info in owned:
        if new is None:
            catalog.drop(engine.db.engine, [info.name])
        else:
            catalog.replace(engine.db.engine, replace(info, owned_by=(table, new)))


def alter_sequence(engine: Engine, plan: plans.AlterSequence, params: object) -> Result:
    info = catalog.find(engine.db.engine, plan.name)
    if info is None:
        if plan.if_exists:
            return Result(message=f"sequence {plan.name} does not exist")
        found(engine, plan.name)  # an identity's sequence is changed with its column
        raise SqlError(f"{plan.name} is an identity column's sequence: change it with ALTER TABLE "
                       "... ALTER COLUMN")
    changes = dict(plan.changes)
    if "data_type" in changes:  # bounds that were the old type's become the new type's
        old_low, old_high = catalog.TYPE_BOUNDS[info.data_type]
        low, high = catalog.TYPE_BOUNDS[str(changes["data_type"])]
        changes.setdefault("maximum", high if info.maximum == old_high else info.maximum)
        changes.setdefault("minimum", low if info.minimum == old_low else info.minimum)
    changed = replace(info, **changes)  # type: ignore[arg-type]
    if plan.restart is not None:
        changed = replace(changed, last_value=changed.start if plan.restart is True
                          else int(plan.restart), is_called=False)
    if plan.owned_by is not None:
        changed = replace(changed, owned_by=_owner(engine, info.name, plan.owned_by)
                          if plan.owned_by else None)
    try:
        catalog.replace(engine.db.engine, changed)
    except DataError as error:
        raise SqlError(str(error)) from None
    return Result(message=f"altered sequence {info.name}")


def _owner(engine: Engine, name: str, owned_by: tuple[str, str] | tuple[()]) -> tuple[str, str]:
    """OWNED BY's table and column, as the table names it; the table must be of the sequence's
    schema, as PostgreSQL's must."""
    table, column = owned_by  # type: ignore[misc]
    if split_name(table)[0] != split_name(name)[0]:
        raise SqlError(f"sequence {name} must be owned by a table of its own schema, not {table}")
    _, info = engine.db.load(table)
    described = info.column(column)
    if described is None:
        raise SqlError(f"table {table} has no column {column}")
    return table, described.name


def show_sequences(engine: Engine, plan: plans.ShowSequences, params: object) -> Result:
    rows = [{"name": s.name, "type": s.data_type, "start": s.start, "increment": s.increment,
             "minimum": s.minimum, "maximum": s.maximum, "cycle": s.cycle,
             "owned_by": ".".join(s.owned_by) if s.owned_by else None,
             "last_value": s.last_value if s.is_called else None}
            for s in catalog.every(engine.db.engine)]
    return Result(pa.Table.from_pylist(rows, schema=_SHOWN))


_SHOWN = pa.schema([("name", pa.string()), ("type", pa.string()), ("start", pa.int64()),
                    ("increment", pa.int64()), ("minimum", pa.int64()), ("maximum", pa.int64()),
                    ("cycle", pa.bool_()), ("owned_by", pa.string()), ("last_value", pa.int64())])


def check_free(engine: Engine, name: str) -> None:
    """A new table's name must not be a sequence's (PostgreSQL's relations share names)."""
    if catalog.find(engine.db.engine, name) is not None:
        raise CatalogError(f"{name} is a sequence; a table needs a name of its own")


def check_defaults(engine: Engine, info: TableInfo) -> None:
    """A table's DEFAULT nextval('s') must name a sequence that exists."""
    for column in info.columns:
        name = default_sequence(column.default)
        if name is not None:
            found(engine, name)

