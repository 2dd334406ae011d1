"""A transaction's writes before its COMMIT (``BEGIN ... COMMIT``): for each table it wrote, the
table as the transaction first read it (its base) and the data files the transaction leaves it
with, shown to the transaction's own statements as an Iceberg table of an uncommitted snapshot.

A write inside a transaction stages its files here instead of committing them
(``files.commit``), and ``Database.load`` gives the staged table to the transaction's reads and
writes, so every statement sees what the ones before it did. Nothing is in the catalog until
COMMIT (``engine.transactions``), which commits every table's net change (files added to the
base, files removed from it) in ONE catalog transaction; ROLLBACK deletes the files staged.
Savepoints keep the staged file lists as they were.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field

from pyiceberg.manifest import DataFile
from pyiceberg.table import Table

from indb.storage.files import data_files


@dataclass
class Staged:
    """One table's change: its ``base``, the ``files`` it has now, and ``table``, the base with
    those files as its current (uncommitted) snapshot (the base itself where they are its own)."""

    base: Table
    files: list[DataFile]
    table: Table
    version: int = 0  # counts the table's writes: the query session's views follow it

    @property
    def added(self) -> list[DataFile]:
        """The files the transaction added to the base (and kept)."""
        there = {f.file_path for f in data_files(self.base)}
        return [f for f in self.files if f.file_path not in there]

    @property
    def removed(self) -> list[DataFile]:
        """The base's files the transaction removed."""
        kept = {f.file_path for f in self.files}
        return [f for f in data_files(self.base) if f.file_path not in kept]


@dataclass
class Pending:
    """A transaction's staged tables, its savepoints and whether a statement of it failed."""

    tables: dict[str, Staged] = field(default_factory=dict)
    savepoints: list[tuple[str, dict[str, list[DataFile]]]] = field(default_factory=list)
    failed: str | None = None  # the error that aborted it: only ROLLBACK (TO) goes on from there
    id: str = field(default_factory=lambda: uuid.uuid4().hex[:12])
    written: list[tuple[Table, DataFile]] = field(default_factory=list)  # every file it staged
    # SET CONSTRAINTS: every deferrable key's mode (None: each key's own), and keys' by name
    deferring: bool | None = None
    deferring_keys: dict[str, bool] = field(default_factory=dict)
    postponed: bool = False  # a write left a deferred key's check to COMMIT

    def fail(self, error: BaseException) -> None:
        """A statement of the transaction failed (the first failure is the one it keeps)."""
        if self.failed is None:
            self.failed = str(error).splitlines()[0] if str(error) else type(error).__name__

    def deferred(self, key: str, timing: str) -> bool:
        """Whether the transaction checks the foreign key ``key`` (of ``timing``: "",
        "IMMEDIATE" or "DEFERRED", ``ForeignKey.timing``) at COMMIT, not as each statement runs."""
        if not timing:
            return False  # NOT DEFERRABLE
        if key in self.deferring_keys:
            return self.deferring_keys[key]
        return self.deferring if self.deferring is not None else timing == "DEFERRED"

    def table(self, name: str) -> Table | None:
        """The table as the transaction leaves it; None where it wrote nothing to it."""
        staged = self.tables.get(name)
        return staged.table if staged is not None else None

    def marker(self, name: str) -> str:
        """What tells the transaction's version of a table from the committed one (and from its
        own earlier ones), for caches keyed by a table's metadata location."""
        staged = self.tables.get(name)
        return f" +pending {self.id}/{staged.version}" if staged is not None else ""

    def stage(self, base: Table, name: str, add: list[DataFile], remove: list[DataFile]) -> int:
        """Apply a write (``add``, ``remove``) to the table's staged files; ``base``: the table
        as committed, where the transaction has not written it yet. Its snapshot id, uncommitted."""
        staged = self.tables.get(name)
        current = staged.files if staged is not None else data_files(base)
        gone = {f.file_path for f in remove}
        files = [f for f in current if f.file_path not in gone] + list(add)
        self.written += [(base if staged is None else staged.base, f) for f in add]
        return self._set(name, staged.base if staged is not None else base, files,
                         staged.version + 1 if staged is not None else 1)

    def _set(self, name: str, base: Table, files: list[DataFile], version: int) -> int:
        staged = Staged(base, files, base, version)
        add, remove = staged.added, staged.removed
        if add or remove:  # a snapshot of the staged files, written (manifests) but not committed
            transaction = base.transaction()
            producer = transaction.update_snapshot().overwrite() if remove else \
                transaction.update_snapshot().fast_append()
            with producer:
                for data_file in remove:
                    producer.delete_data_file(data_file)
                for data_file in add:
                    producer.append_data_file(data_file)
            staged.table = Table(base._identifier, transaction.table_metadata,
                                 base.metadata_location, base.io, base.catalog)
        self.tables[name] = staged
        snapshot = staged.table.current_snapshot()
        return snapshot.snapshot_id if snapshot is not None else 0

    def save(self, name: str) -> None:
        """SAVEPOINT name: the staged files as they are now."""
        self.savepoints.append((name, {t: list(s.files) for t, s in self.tables.items()}))

    def release(self, name: str) -> bool:
        """RELEASE name: forget the savepoint and those after it; False if there is none."""
        found = self._index(name)
        if found is None:
            return False
        del self.savepoints[found:]
        return True

    def restore(self, name: str) -> bool:
        """ROLLBACK TO name: the staged files as they were at the savepoint (which stays), and
        the transaction usable again; False if there is no such savepoint."""
        found = self._index(name)
        if found is None:
            return False
        saved = self.savepoints[found][1]
        del self.savepoints[found + 1:]
        for table in list(self.tables):
            staged = self.tables[table]
            if table in saved:
                self._set(table, staged.base, list(saved[table]), staged.version + 1)
            else:  # written after the savepoint only: as committed again
                self._set(table, staged.base, data_files(staged.base), staged.version + 1)
        self.failed = None
        return True

    def _index(self, name: str) -> int | None:
        """The position of the latest savepoint of that name."""
        names = [n for n, _ in self.savepoints]
        return len(names) - 1 - names[::-1].index(name) if name in names else None
