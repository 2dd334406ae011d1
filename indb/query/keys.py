"""Primary keys: a table's files after a write are checked for a key value held twice, before
the commit (INSERT, loads, UPDATE, MERGE and function runs' appended rows all call this)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import duckdb
from pyiceberg.manifest import DataFile
from sqlglot import exp

from indb.catalog import filesystems
from indb.catalog.tables import TableInfo
from indb.errors import DataError
from indb.parser import render
from indb.query.scan import Scans
from indb.storage.files import local_path


def check_unique(info: TableInfo, kept: Sequence[DataFile], added: Sequence[DataFile],
                 io_properties: Mapping[str, str] | None = None) -> None:
    """DataError naming a primary key value that a table's files after a write (those it keeps
    and those it adds) hold twice. The key includes the shard key, so a duplicate lies within
    one shard, and one the write added rows to: only those shards' files are read, and of them
    only the key's columns (DuckDB reads those columns of the Parquet files alone). A DuckDB
    connection of its own, so run heads (which have no query session) check the same way."""
    if not info.primary_key or not added:
        return
    shards = {f.partition for f in added}
    paths = [local_path(f.file_path) for f in [*kept, *added] if f.partition in shards]
    key = [exp.column(k, quoted=True) for k in info.primary_key]
    duck = duckdb.connect()
    try:
        if paths:  # files in an object store are read through the warehouse's properties
            filesystems.register(duck, paths[0], io_properties or {})
        twice = (exp.select(*key).from_(Scans(duck).scan(info, paths).subquery("t"))
                 .group_by(*key).having(exp.GT(this=exp.Count(this=exp.Star()),
                                               expression=exp.Literal.number(1))).limit(1))
        found = duck.sql(render(twice)).to_arrow_table().to_pylist()
    finally:
        duck.close()
    if found:
        value = ", ".join(f"{k} = {v!r}" for k, v in found[0].items())
        raise DataError(f"duplicate primary key in {info.name}: more than one row has {value}; "
                        "nothing was written (a primary key is unique)")
