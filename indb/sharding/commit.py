"""The head's commit of a run in ONE catalog transaction: every output table's new snapshot (or
the new table), the model versions the run saved and the run's record become visible together,
or none of them does.

pyiceberg's ``SqlCatalog`` commits each table in a SQLAlchemy ``Session`` of its own. Here the
database is seen through one ``Connection`` whose transaction is begun first: the catalog's
Sessions are bound to it, and SQLAlchemy makes a Session that joins a connection's transaction
leave it to its owner (their ``commit()`` does not end it), while indb's records (runs, models)
write through the same connection. So a head killed before the transaction commits leaves
nothing partial: the catalog database rolls it back (SQLite from its journal when it is next
opened, PostgreSQL when the connection drops), and the files written for it (data files,
Iceberg metadata, moved model artifacts) are unreferenced leftovers, which later runs ignore
and VACUUM deletes. The run's record is written first, which takes SQLite's write lock at once:
no other writer can commit between what the transaction reads and what it writes.

``INDB_COMMIT_PAUSE`` (tests only) names a FIFO: with everything written but not committed, the
head writes ``paused`` into it and waits for a line back, so a test can kill it at that point.
"""

from __future__ import annotations

import copy
import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, cast

import sqlalchemy as sa

from indb.catalog.database import Database
from indb.registry.models import ModelStore
from indb.registry.runs import RunLog

PAUSE_VARIABLE = "INDB_COMMIT_PAUSE"


class _Joined:
    """An engine whose every connection is one open ``Connection``, in its transaction (for
    indb's records, which write through ``engine.begin()`` and read through ``connect()``)."""

    def __init__(self, connection: sa.Connection) -> None:
        self.connection = connection
        self.dialect = connection.dialect

    @contextmanager
    def begin(self) -> Iterator[sa.Connection]:
        yield self.connection

    @contextmanager
    def connect(self) -> Iterator[sa.Connection]:
        yield self.connection


@contextmanager
def together(db: Database, runs: RunLog, models: ModelStore) -> Iterator[tuple[Database, RunLog,
                                                                                ModelStore]]:
    """The database, run log and model store as one transaction sees them; it commits when
    the block ends, and is rolled back if the block raises."""
    with db.engine.begin() as connection:
        joined = cast(Any, _Joined(connection))
        catalog = copy.copy(db.catalog)
        catalog.engine = cast(Any, connection)  # Session(bind) takes either: they join it
        view = copy.copy(db)
        view.catalog, view.engine = catalog, joined
        log = copy.copy(runs)
        log.engine = joined
        store = copy.copy(models)
        store.db = view
        yield view, log, store
        pause()


def pause() -> None:
    """The test hook (``INDB_COMMIT_PAUSE``): say ``paused`` and wait for a line back."""
    fifo = os.environ.get(PAUSE_VARIABLE)
    if not fifo:
        return
    with open(fifo, "w") as said:
        said.write("paused\n")
    with open(fifo) as answer:
        answer.readline()
