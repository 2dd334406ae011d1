"""Primary keys and CHECK constraints: a table's files after a write are checked for a key value
held twice, and the files it adds for a row its CHECKs refuse, before the commit (INSERT, loads,
UPDATE, MERGE and function runs' appended rows all call these); a key added to a table (ALTER
TABLE ... ADD PRIMARY KEY) is checked for a NULL in its columns too."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

import duckdb
from pyiceberg.manifest import DataFile
from pyiceberg.table import Table
from sqlglot import exp, parse_one

from indb.catalog import filesystems
from indb.catalog.tables import TableInfo
from indb.errors import CheckViolation, DataError, UniqueViolation
from indb.parser import render
from indb.query.scan import Scans
from indb.storage.files import data_files, local_path


def check_unique(info: TableInfo, kept: Sequence[DataFile], added: Sequence[DataFile],
                 io_properties: Mapping[str, str] | None = None) -> None:
    """DataError naming a primary key value that a table's files after a write (those it keeps
    and those it adds) hold twice. The key includes the shard key, so a duplicate lies within
    one shard, and one the write added rows to: only those shards' files are read (every
    shard's where rows are placed by row id: a key added to a table without a shard key), and
    of them only the key's columns (DuckDB reads those columns of the Parquet files alone)."""
    if not info.primary_key or not added:
        return
    shards = {f.partition for f in added}
    # rows placed by row id may be anywhere, and so may a collated key's equal values ('A' and
    # 'a' of a NOCASE column hash apart)
    anywhere = not info.shard_key or any(c.collation for c in info.columns if c.name in info.primary_key)
    paths = [local_path(f.file_path) for f in [*kept, *added] if f.partition in shards or anywhere]
    key = [exp.column(k, quoted=True) for k in info.primary_key]
    found = _first(info, paths, io_properties, lambda rows: exp.select(*key).from_(rows).group_by(
        *key).having(exp.GT(this=exp.Count(this=exp.Star()), expression=exp.Literal.number(1))))
    if found:
        raise UniqueViolation(f"duplicate primary key in {info.name}: more than one row has "
                              f"{shown(found[0])}; nothing was written (a primary key is unique)")


def check_uniques(info: TableInfo, kept: Sequence[DataFile], added: Sequence[DataFile],
                  io_properties: Mapping[str, str] | None = None,
                  uniques: Sequence[tuple[str, tuple[str, ...]]] | None = None) -> None:
    """DataError naming a value of a UNIQUE constraint's columns that the table's files after a
    write hold twice (rows with a NULL among them are not compared, as in PostgreSQL). A unique
    value may lie in any shard: every file is read, its constraint's columns alone."""
    uniques = info.unique_keys if uniques is None else uniques
    if not uniques or not added:
        return
    paths = [local_path(f.file_path) for f in [*kept, *added]]
    for name, columns in uniques:
        key = [exp.column(c, quoted=True) for c in columns]
        found = _first(info, paths, io_properties, lambda rows: exp.select(*key).from_(rows).where(
            exp.and_(*[exp.Not(this=exp.Is(this=k.copy(), expression=exp.Null())) for k in key])
        ).group_by(*key).having(exp.GT(this=exp.Count(this=exp.Star()),
                                       expression=exp.Literal.number(1))))
        if found:
            raise UniqueViolation(f"duplicate value in {info.name} for unique constraint {name}: more "
                            f"than one row has {shown(found[0])}; nothing was written")


def rechecked(info: TableInfo, added: Sequence[DataFile], removed: Sequence[DataFile] = (),
              io_properties: Mapping[str, str] | None = None) -> Callable[[Table], None] | None:
    """For ``files.commit``'s ``verify``: the key checks of a write that adds ``added`` (and
    removes ``removed``) done again over a newer snapshot of the table; None for a table with
    no keys to check."""
    if not (info.primary_key or info.unique_keys) or not added:
        return None
    gone = {f.file_path for f in removed}

    def verify(table: Table) -> None:
        kept = [f for f in data_files(table) if f.file_path not in gone]
        check_unique(info, kept, added, io_properties)
        check_uniques(info, kept, added, io_properties)
    return verify


def check_constraints(info: TableInfo, added: Sequence[DataFile],
                      io_properties: Mapping[str, str] | None = None,
                      checks: Sequence[tuple[str, str]] | None = None) -> None:
    """DataError naming the first CHECK of the table (or ``checks``) that a row of ``added``
    fails: its condition is false (NULL passes, as in PostgreSQL)."""
    checks = info.checks if checks is None else checks
    if not checks or not added:
        return
    failed = {name: exp.Is(this=exp.Paren(this=parse_one(condition, read="duckdb")),
                           expression=exp.false()) for name, condition in checks}
    found = _first(info, [local_path(f.file_path) for f in added], io_properties,
                   lambda rows: exp.select(*[exp.alias_(test.copy(), name, quoted=True)
                                             for name, test in failed.items()]).from_(rows).where(
                       exp.or_(*[test.copy() for test in failed.values()])))
    if found:
        name = next(name for name, fails in found[0].items() if fails)
        raise CheckViolation(f"a row for {info.name} violates check constraint {name} "
                        f"({dict(checks)[name]}); nothing was written")


def check_not_null(info: TableInfo, data_files: Sequence[DataFile], columns: Sequence[str],
                   purpose: str, io_properties: Mapping[str, str] | None = None) -> None:
    """DataError naming the first of ``columns`` that holds a NULL in ``data_files``, so that it
    cannot be ``purpose`` (in a primary key, NOT NULL)."""
    paths = [local_path(f.file_path) for f in data_files]
    nulls = {name: exp.Is(this=exp.column(name, quoted=True), expression=exp.Null())
             for name in columns}  # one pass over the files: which of the columns is NULL
    found = _first(info, paths, io_properties, lambda rows: exp.select(*[
        exp.alias_(null.copy(), name, quoted=True) for name, null in nulls.items()]).from_(
        rows).where(exp.or_(*[null.copy() for null in nulls.values()])))
    if found:
        name = next(name for name, null in found[0].items() if null)
        raise DataError(f"column {name} of {info.name} holds NULL, so it cannot be {purpose}; "
                        "nothing was changed (UPDATE or DELETE those rows first)")


def _first(info: TableInfo, paths: Sequence[str], io_properties: Mapping[str, str] | None,
           query: Callable[[exp.Subquery], exp.Select]) -> list[dict]:
    """The first row of ``query`` over the table's files ``paths`` (empty: none)."""
    return first_row(paths, io_properties,
                     lambda scans: query(scans.scan(info, list(paths)).subquery("t")))


def first_row(paths: Sequence[str], io_properties: Mapping[str, str] | None,
              query: Callable[[Scans], exp.Select]) -> list[dict]:
    """The first row of ``query`` (made with the scans of its tables' files, ``paths`` among
    them): a DuckDB connection of its own, so run heads (which have no query session) check the
    same way."""
    duck = duckdb.connect()
    try:
        if paths:  # files in an object store are read through the warehouse's properties
            filesystems.register(duck, paths[0], io_properties or {})
        return duck.sql(render(query(Scans(duck)).limit(1))).to_arrow_table().to_pylist()
    finally:
        duck.close()


def shown(row: Mapping[str, object]) -> str:
    """A key's value as an error names it: ``a = 1, b = 'x'``."""
    return ", ".join(f"{name} = {value!r}" for name, value in row.items())
