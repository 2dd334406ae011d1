"""Foreign keys, checked on both sides of a write before its commit, as DuckDB checks them:

- a table's new rows (INSERT, loads, COPY, UPDATE, MERGE, function runs' appended rows) each
  reference a row of the referenced table, where none of the key's columns is NULL (MATCH
  SIMPLE);
- a write that removes or changes a table's rows (DELETE, TRUNCATE, UPDATE, MERGE, an
  overwrite) leaves no row of a referencing table without its referenced row.

Either check reads the key's columns alone of the two tables' files (DuckDB reads those columns
of the Parquet files), one query, which stops at the first row found.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from pyiceberg.manifest import DataFile
from sqlglot import exp

from indb.catalog import references as index
from indb.catalog.database import Database
from indb.catalog.tables import ForeignKey, TableInfo
from indb.errors import CatalogError, ForeignKeyViolation
from indb.query.keys import first_row, shown
from indb.query.scan import Scans
from indb.storage.files import data_files, local_path


def check_references(db: Database, info: TableInfo, kept: Sequence[DataFile],
                     added: Sequence[DataFile], keys: Sequence[ForeignKey] | None = None) -> None:
    """ForeignKeyViolation naming the first key value among the rows of ``added`` that no row
    of the referenced table holds. A key that references its own table looks among the
    table's files after the write (``kept`` and ``added``)."""
    if not added:
        return
    for key in info.foreign_keys if keys is None else keys:
        if _deferred(db, key):
            continue  # checked at COMMIT (check_deferred)
        parent, parent_files = (info, [*kept, *added]) if key.table == info.name \
            else _loaded(db, key.table)
        found = _orphan(db, key, info, added, parent, parent_files)
        if found:
            raise ForeignKeyViolation(
                f"a row for {info.name} violates foreign key {key.name}: key ({shown(found)}) "
                f"is not in {key.table} ({', '.join(key.referenced)}); nothing was written")


def check_referenced(db: Database, info: TableInfo, kept: Sequence[DataFile],
                     added: Sequence[DataFile]) -> None:
    """ForeignKeyViolation naming the first key value that a referencing table's row holds and
    ``info``'s table, whose files after a write are ``kept`` and ``added``, no longer does (the
    write removed or changed that row)."""
    for child in index.referencing(db.engine, info.name):
        if child == info.name:
            referencing, child_files = info, [*kept, *added]
        else:
            try:
                table, referencing = db.load(child)
            except CatalogError:  # dropped since its row was written (catalog.references)
                continue
            child_files = data_files(table)
        for key in referencing.foreign_keys:
            if key.table != info.name or not child_files or _deferred(db, key):
                continue
            found = _orphan(db, key, referencing, child_files, info, [*kept, *added])
            if found:
                found = dict(zip(key.referenced, found.values(), strict=True))
                raise ForeignKeyViolation(
                    f"key ({shown(found)}) of {info.name} is still referenced by foreign key "
                    f"{key.name} of {child}; nothing was written (change or delete the rows of "
                    f"{child} that reference it first)")


def check_deferred(db: Database, keys: Callable[[ForeignKey], bool], outcome: str) -> None:
    """The transaction's deferred foreign keys that ``keys`` picks, each checked over every row
    of its table as the transaction leaves it, where the transaction wrote the table or the
    table it references (at COMMIT, or at SET CONSTRAINTS ... IMMEDIATE); ForeignKeyViolation
    naming the first row without its referenced row, and ``outcome``."""
    pending = db.pending
    assert pending is not None
    if not pending.postponed:
        return
    written = set(pending.tables)
    children = written | {child for name in written for child in index.referencing(db.engine, name)}
    for child in sorted(children):
        try:
            table, info = db.load(child)
        except CatalogError:  # (dropped since)
            continue
        rows = data_files(table)
        for key in info.foreign_keys:
            if not rows or not keys(key) or (child not in written and key.table not in written):
                continue
            parent, parent_files = (info, data_files(table)) if key.table == child else \
                _loaded(db, key.table)
            found = _orphan(db, key, info, rows, parent, parent_files)
            if found:
                raise ForeignKeyViolation(
                    f"a row of {child} violates foreign key {key.name}: key ({shown(found)}) is "
                    f"not in {key.table} ({', '.join(key.referenced)}), checked where the "
                    f"transaction deferred the key to; {outcome}")


def _loaded(db: Database, name: str) -> tuple[TableInfo, list[DataFile]]:
    table, info = db.load(name)
    return info, data_files(table)


def _deferred(db: Database, key: ForeignKey) -> bool:
    """Whether the key is checked at the open transaction's COMMIT, not now (noted, so that the
    COMMIT of a transaction that deferred nothing looks at no key)."""
    if db.pending is None or not db.pending.deferred(key.name, key.timing):
        return False
    db.pending.postponed = True
    return True


def _orphan(db: Database, key: ForeignKey, child: TableInfo, child_files: Sequence[DataFile],
            parent: TableInfo, parent_files: Sequence[DataFile]) -> dict[str, object] | None:
    """The first value of ``key`` among the rows of ``child_files`` (none of its columns NULL)
    that no row of ``parent_files`` holds in the referenced columns; None if every one does."""
    children = [local_path(f.file_path) for f in child_files]
    parents = [local_path(f.file_path) for f in parent_files]
    columns = [exp.column(c, "c", quoted=True) for c in key.columns]
    matched = exp.and_(*[exp.column(r, "p", quoted=True).eq(c.copy())
                         for c, r in zip(columns, key.referenced, strict=True)])

    def query(scans: Scans) -> exp.Select:
        missing = exp.Not(this=exp.Exists(this=exp.select("1").from_(
            scans.scan(parent, parents).subquery("p")).where(matched)))
        return exp.select(*columns).from_(scans.scan(child, children).subquery("c")).where(
            exp.and_(*[c.copy().is_(exp.null()).not_() for c in columns], missing))
    found = first_row([*children, *parents], db.io_properties, query)
    return found[0] if found else None
