"""Data files on their own: writing per shard, staging, deleting only a table's own, committing."""

import numpy as np
import pyarrow as pa
import pytest

from indb.catalog.database import Database
from indb.catalog.tables import TableInfo
from indb.catalog.types import Column
from indb.errors import ConflictError, InternalError, OptionError
from indb.storage import files
from indb.storage.placement import consecutive_rowids


@pytest.fixture
def db(tmp_path):
    database = Database(tmp_path / "db")
    yield database
    database.close()


def make(db, name="t", shards=4):
    info = TableInfo(name, (Column("k", "BIGINT"), Column("v", "DOUBLE")), ("k",), shards)
    table = db.create_table(info)
    rows = pa.table({"k": np.arange(100), "v": np.arange(100) * 0.5})
    stored = files.to_stored(rows, info, consecutive_rowids(lambda n: 0))
    return table, info, stored


def parquet_files(db, name):
    return sorted((db.path / "warehouse" / "main" / name).rglob("*.parquet"))


def test_one_invisible_file_a_shard_until_committed(db):
    table, info, stored = make(db)
    written = files.write_data_files(table.io, table.metadata, info, stored)
    assert sorted(files.shard_of(f) for f in written) == [0, 1, 2, 3]
    assert len(parquet_files(db, "t")) == 4
    assert files.data_files(db.load("t")[0]) == []  # written, not visible
    files.commit(db, "t", add=written)
    table = db.load("t")[0]
    assert sum(f.record_count for f in files.data_files(table)) == 100
    assert sum(files.read_shard(table, info, k).num_rows for k in range(4)) == 100


def test_staged_files_are_deleted_when_the_block_fails(db):
    table, info, stored = make(db)
    with pytest.raises(RuntimeError, match="boom"):
        with files.staged(table.io, table.location()) as staged:
            staged += files.write_data_files(table.io, table.metadata, info, stored)
            assert len(parquet_files(db, "t")) == 4
            raise RuntimeError("boom")
    assert parquet_files(db, "t") == []


def test_staged_files_not_kept_are_deleted_even_without_a_failure(db):
    table, info, stored = make(db)
    with files.staged(table.io, table.location()) as staged:
        staged += files.write_data_files(table.io, table.metadata, info, stored)
    assert parquet_files(db, "t") == []
    with files.staged(table.io, table.location()) as staged:
        staged += files.write_data_files(table.io, table.metadata, info, stored)
        files.commit(db, "t", add=staged)
        staged.keep()
    assert len(parquet_files(db, "t")) == 4


def test_discard_refuses_files_of_another_table(db):
    table, info, stored = make(db)
    other, other_info, other_stored = make(db, "u")
    theirs = files.write_data_files(other.io, other.metadata, other_info, other_stored)
    with pytest.raises(InternalError, match="not a file of the table"):
        files.discard(table.io, theirs, table.location())
    assert len(parquet_files(db, "u")) == 4  # untouched
    with pytest.raises(InternalError):  # a path that climbs out of the location
        escaped = type(theirs[0]).from_args(file_path=f"{table.location()}/../u/x.parquet")
        files.discard(table.io, [escaped], table.location())


def test_a_rewrite_of_files_someone_else_removed_is_a_conflict(db):
    table, info, stored = make(db)
    files.commit(db, "t", add=files.write_data_files(table.io, table.metadata, info, stored))
    current = files.data_files(db.load("t")[0])
    files.commit(db, "t", add=[], remove=current)  # another writer deleted them
    with pytest.raises(ConflictError, match="rewritten by a concurrent writer"):
        files.commit(db, "t", add=[], remove=current)


def test_a_shard_out_of_range_is_an_option_error(db):
    table, info, _ = make(db, shards=2)
    with pytest.raises(OptionError, match="shards 0..1, not 2"):
        files.read_shard(table, info, 2)
