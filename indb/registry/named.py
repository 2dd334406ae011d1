"""The records of a kind of definition SQL creates, replaces, shows and drops by name (monitors,
subscriptions, procedures): one row a name in the kind's table, and the tables whose rows of a
name go with it (a monitor's windows done, a subscription's figures). Each kind's store is this
with its table, how a row reads, and what is its own. Kinds kept as their CREATE's plan
(monitors, subscriptions) share the row itself: ``Definition``, ``definitions_table`` and
``Definitions``."""

from __future__ import annotations

import json
import weakref
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

import sqlalchemy as sa

from indb.catalog.database import Database, create_tables
from indb.errors import CatalogError, not_found

Info = TypeVar("Info")
# engine -> the metadata whose tables its file has (made once a process)
_ready: weakref.WeakKeyDictionary[sa.Engine, set[int]] = weakref.WeakKeyDictionary()


class Named(Generic[Info]):
    """One kind's definitions in one database: ``table`` keyed by ``name``, rows read by
    ``read``; ``dependents``' rows of a name go when it is replaced or dropped."""

    def __init__(self, db: Database, kind: str, table: sa.Table,
                 read: Callable[[sa.RowMapping], Info], dependents: Sequence[sa.Table] = ()) -> None:
        self.engine = db.engine
        self.kind, self.table, self.read, self.dependents = kind, table, read, tuple(dependents)
        made = _ready.setdefault(self.engine, set())
        if id(table.metadata) not in made:
            create_tables(self.engine, table.metadata)
            made.add(id(table.metadata))

    def record(self, values: dict[str, Any], *, replace: bool) -> None:
        """Record a definition's row; replacing one forgets what its dependents held."""
        name = values["name"]
        with self.engine.begin() as conn:
            exists = conn.execute(sa.select(self.table.c.name)
                                  .where(self.table.c.name == name)).first()
            if exists and not replace:
                kind = self.kind.upper()
                raise CatalogError(f"{self.kind} {name} already exists; use CREATE OR REPLACE "
                                   f"{kind}, or DROP {kind} {name} first")
            self._delete(conn, name)
            conn.execute(self.table.insert().values(**values))

    def find(self, name: str) -> Info | None:
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(self.table)
                               .where(self.table.c.name == name)).mappings().first()
        return self.read(row) if row else None

    def get(self, name: str) -> Info:
        found = self.find(name)
        if found is None:
            raise not_found(self.kind, name)
        return found

    def to_drop(self, name: str, if_exists: bool) -> Info | None:
        """The definition DROP [IF EXISTS] names: None where there is none and IF EXISTS allows
        it, else what ``get`` answers."""
        found = self.find(name)
        if found is None and not if_exists:
            raise not_found(self.kind, name)
        return found

    def all(self) -> list[Info]:
        with self.engine.connect() as conn:
            rows = conn.execute(sa.select(self.table).order_by(self.table.c.name)).mappings().all()
        return [self.read(r) for r in rows]

    def drop(self, name: str) -> bool:
        """Forget a definition and its dependents' rows; whether there was one."""
        with self.engine.begin() as conn:
            return self._delete(conn, name)

    def _delete(self, conn: sa.Connection, name: str) -> bool:
        for table in self.dependents:
            conn.execute(table.delete().where(table.c.name == name))
        return bool(conn.execute(self.table.delete().where(self.table.c.name == name)).rowcount)


@dataclass(frozen=True)
class Definition:
    """A definition kept as its CREATE's plan: a monitor's or a subscription's row."""
    name: str
    definition: dict[str, Any]      # the fields of the CREATE's plan (planner.monitors, ...)
    ddl: str
    definer: str                    # whose rights its runs have
    created: float


Kept = TypeVar("Kept", bound=Definition)


def definitions_table(name: str, metadata: sa.MetaData) -> sa.Table:
    """The table of one kind's ``Definition`` rows."""
    return sa.Table(
        name, metadata,
        sa.Column("name", sa.String, primary_key=True),
        sa.Column("definition", sa.Text, nullable=False),    # the CREATE's plan, as JSON
        sa.Column("ddl", sa.Text, nullable=False),
        sa.Column("definer", sa.String, nullable=False),
        sa.Column("created", sa.Float, nullable=False),
    )


class Definitions(Named[Kept]):
    """A kind whose rows are ``Definition``s (of the subclass ``info``)."""

    def __init__(self, db: Database, kind: str, table: sa.Table, info: type[Kept],
                 dependents: Sequence[sa.Table] = ()) -> None:
        super().__init__(db, kind, table,
                         lambda row: info(**{**row, "definition": json.loads(row["definition"])}),
                         dependents)

    def create(self, info: Kept, *, replace: bool) -> None:
        """Record a definition; replacing one forgets what its dependents held."""
        self.record({**info.__dict__, "definition": json.dumps(info.definition)}, replace=replace)
