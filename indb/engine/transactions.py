"""Transactions: ``BEGIN`` ... ``COMMIT`` | ``ROLLBACK``, with savepoints, as DuckDB and
PostgreSQL run them, over indb's one-table commits.

Between BEGIN and COMMIT a connection's writes (INSERT, UPDATE, DELETE, MERGE, TRUNCATE, COPY,
loads) are staged (``storage.pending``): the transaction's own statements see them, nobody else
does. COMMIT makes every table's change visible in ONE catalog transaction
(``sharding.commit.together``): all of them or, if a table's commit conflicts with another
writer's, none; ROLLBACK deletes the staged files. A statement that fails aborts the
transaction: the next ones are refused (``TransactionAborted``) until ROLLBACK (or ROLLBACK TO a
savepoint), and COMMIT then rolls back, as PostgreSQL and DuckDB do.

What is not a write of rows (CREATE, ALTER, DROP, GRANT, function runs, VACUUM...) is not
staged: it commits the transaction's writes first, then runs and commits alone, as MySQL's
statements that "cause an implicit commit"; the transaction goes on after it.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from pyiceberg.io import FileIO
from pyiceberg.manifest import DataFile

from indb import planner
from indb.catalog.tables import TableInfo
from indb.errors import SqlError, TransactionAborted
from indb.planner import caches, indexes, prepared, settings, transactions, variables
from indb.query.keys import rechecked
from indb.query.references import check_deferred
from indb.result import Result
from indb.sharding.commit import together
from indb.storage import files
from indb.storage.pending import Pending

if TYPE_CHECKING:
    from indb.engine.core import Engine

# the plans a transaction runs with its writes staged (reads, and writes of rows); the others
# commit it first. Wrappers (WithSnapshots, WithPredictions, WithSequences) go by what they wrap.
STAGED = (planner.Query, planner.Insert, planner.Delete, planner.Truncate, planner.Load,
          planner.Update, planner.Merge, planner.Upsert, planner.DescribeTable, planner.ShowTables,
          planner.Analyze, planner.Explain, planner.ShowCreate, planner.ShowSnapshots,
          planner.ShowViews, planner.ShowFunction, planner.ShowFunctionStatus,
          planner.DescribeFunction, planner.ShowModels, planner.DescribeModel,
          planner.ShowSchemas, planner.ShowEnvironment, planner.DescribeEnvironment,
          settings.SetSessionSettings, settings.ShowSearchPath, variables.SetVariable,
          variables.ResetVariable, prepared.Prepare, prepared.Deallocate, caches.NothingToDo,
          indexes.NoIndex, transactions.Begin, transactions.Commit, transactions.Rollback,
          transactions.Savepoint, transactions.Release, transactions.SetConstraints)
ENDS = (transactions.Commit, transactions.Rollback)  # what an aborted transaction still runs


def staged(plan: object) -> bool:
    """Whether a plan runs inside a transaction, its writes staged."""
    inner = getattr(plan, "plan", None)
    if isinstance(plan, planner.WithSnapshots | planner.WithPredictions
                  | planner.sequences.WithSequences) and inner is not None:
        return staged(inner)
    return isinstance(plan, STAGED)


@contextmanager
def around(engine: Engine, plan: object) -> Iterator[None]:
    """A statement's plan in an open transaction: refused if the transaction failed (but for
    its end); if it is not one the transaction stages, the transaction's writes are committed
    first and the plan runs outside it, committing on its own (a function run, OPTIMIZE), the
    transaction going on after it."""
    pending = engine.db.pending
    if pending is not None and pending.failed is not None and not isinstance(plan, ENDS):
        raise TransactionAborted(f"the transaction failed ({pending.failed}); nothing runs "
                                 "until ROLLBACK (or ROLLBACK TO a savepoint)")
    if pending is None or staged(plan):
        yield
        return
    _commit(engine)
    try:
        yield
    finally:
        engine.db.pending = Pending()  # the transaction goes on, from here


def commit_now(engine: Engine) -> None:
    """Commit the open transaction's writes, and go on with it (before what commits alone
    outside the engine: a server's function run on a connection of its own)."""
    if engine.db.pending is not None:
        _commit(engine)
        engine.db.pending = Pending()


@contextmanager
def failing(engine: Engine) -> Iterator[None]:
    """A statement of an open transaction: if it fails, the transaction is aborted (on a
    server's connection, the server decides: what it tries on its own may fail quietly, what
    fails for its client aborts the client's transaction)."""
    try:
        yield
    except Exception as error:
        if engine.db.pending is not None and not engine.pooled:
            engine.db.pending.fail(error)
        raise


@contextmanager
def atomic(engine: Engine) -> Iterator[None]:
    """The statements run inside as one transaction: the open one, or one of their own,
    committed when they are done (if one fails, rolled back: nothing written)."""
    if engine.db.pending is not None:
        yield  # (a failing statement aborts the open transaction: ``failing``)
        return
    engine.db.pending = Pending()
    try:
        yield
    except BaseException:
        if engine.db.pending is not None:
            discard(engine)
        raise
    if engine.db.pending is not None:
        _commit(engine)


def begin(engine: Engine, plan: transactions.Begin, params: object) -> Result:
    if engine.db.pending is not None:
        return Result(message="a transaction is open already: BEGIN changes nothing")
    engine.db.pending = Pending()
    return Result(message="BEGIN")


def commit(engine: Engine, plan: transactions.Commit, params: object) -> Result:
    pending = engine.db.pending
    if pending is None:
        return Result(message="no transaction is open: nothing to commit")
    if pending.failed is not None:
        discard(engine)
        return Result(message=f"ROLLBACK: the transaction had failed ({pending.failed}); "
                              "nothing was committed")
    _commit(engine)
    return Result(message="COMMIT")


def rollback(engine: Engine, plan: transactions.Rollback, params: object) -> Result:
    pending = engine.db.pending
    if plan.savepoint is not None:
        if pending is None or not pending.restore(plan.savepoint):
            raise SqlError(f"ROLLBACK TO {plan.savepoint}: there is no such savepoint"
                           + ("" if pending is not None else " (no transaction is open)"))
        return Result(message="ROLLBACK")
    if pending is None:
        return Result(message="no transaction is open: nothing to roll back")
    discard(engine)
    return Result(message="ROLLBACK")


def savepoint(engine: Engine, plan: transactions.Savepoint, params: object) -> Result:
    if engine.db.pending is None:
        raise SqlError("SAVEPOINT is for a transaction: BEGIN first")
    engine.db.pending.save(plan.name)
    return Result(message="SAVEPOINT")


def release(engine: Engine, plan: transactions.Release, params: object) -> Result:
    if engine.db.pending is None or not engine.db.pending.release(plan.name):
        raise SqlError(f"RELEASE {plan.name}: there is no such savepoint")
    return Result(message="RELEASE")


def set_constraints(engine: Engine, plan: transactions.SetConstraints, params: object) -> Result:
    """The transaction's deferrable keys checked at COMMIT (DEFERRED) or as each statement runs
    (IMMEDIATE); a key made IMMEDIATE is checked now, over what the transaction wrote while it
    was deferred (PostgreSQL's retroactive check)."""
    pending = engine.db.pending
    if pending is None:
        return Result(message="SET CONSTRAINTS is for a transaction: outside one it changes nothing")
    if plan.names is not None:
        _check_names(engine, plan.names)
    was = (pending.deferring, dict(pending.deferring_keys))
    if plan.names is None:
        pending.deferring, pending.deferring_keys = plan.deferred, {}
    else:
        pending.deferring_keys.update(dict.fromkeys(plan.names, plan.deferred))
    if not plan.deferred:
        before = Pending(deferring=was[0], deferring_keys=was[1])
        check_deferred(engine.db, lambda key: before.deferred(key.name, key.timing)
                       and not pending.deferred(key.name, key.timing),
                       "the transaction is aborted: ROLLBACK (or ROLLBACK TO a savepoint)")
    return Result(message="SET CONSTRAINTS")


def _check_names(engine: Engine, names: tuple[str, ...]) -> None:
    """Each name is a deferrable foreign key's, as PostgreSQL requires of SET CONSTRAINTS."""
    keys = {key.name: key for name in engine.db.metadata_locations()
            for key in engine.db.load(name)[1].foreign_keys}
    for name in names:
        if name not in keys:
            raise SqlError(f"SET CONSTRAINTS {name}: there is no such constraint (a foreign key's "
                           "name; DESCRIBE t lists them)")
        if not keys[name].timing:
            raise SqlError(f"SET CONSTRAINTS {name}: the key is not DEFERRABLE, so it is checked "
                           "as each statement runs")


def _commit(engine: Engine) -> None:
    """Every table the transaction wrote, committed in one catalog transaction (none of them
    if one conflicts); the transaction is over either way. Its deferred foreign keys are
    checked first: if one fails, nothing is committed."""
    pending = engine.db.pending
    assert pending is not None
    try:
        check_deferred(engine.db, lambda key: pending.deferred(key.name, key.timing),
                       "nothing was committed (the transaction is rolled back)")
    except BaseException:
        discard(engine)
        raise
    engine.db.pending = None
    changes = {name: s for name, s in pending.tables.items() if s.added or s.removed}
    try:
        with together(engine.db, engine.runs, engine.models) as (db, _, _):
            for name in sorted(changes):  # (in name order: the catalog's row locks, as runs take)
                change = changes[name]
                info = TableInfo.from_properties(name, change.base.properties)
                files.commit(db, name, change.added, change.removed,
                             written_for=change.base.metadata,
                             verify=rechecked(info, change.added, change.removed,
                                              engine.db.io_properties))
    except BaseException:
        _delete(pending, keep=set())
        raise
    _delete(pending, keep={f.file_path for s in changes.values() for f in s.files})


def discard(engine: Engine) -> None:
    """Roll the open transaction back: its staged files deleted, nothing committed."""
    pending, engine.db.pending = engine.db.pending, None
    assert pending is not None
    _delete(pending, keep=set())


def _delete(pending: Pending, keep: set[str]) -> None:
    """The files the transaction wrote that no committed snapshot holds (``keep`` those it
    committed): written and then replaced inside it, or all of them at a rollback."""
    by_table: dict[str, tuple[FileIO, list[DataFile]]] = {}
    for base, data_file in pending.written:
        if data_file.file_path not in keep:
            by_table.setdefault(base.location(), (base.io, []))[1].append(data_file)
    for location, (io, dropped) in by_table.items():
        files.discard(io, dropped, location)
