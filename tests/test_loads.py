"""Loads and CREATE TABLE AS: bad sources refused with what is wrong, nothing written, the
connection fine afterwards; a new table appears with its rows in one step or not at all."""

import pandas as pd
import pyarrow as pa
import pytest

import indb
from indb.catalog.database import Database
from indb.storage import files


def tables(conn):
    return [r[0] for r in conn.sql("SHOW TABLES").fetchall()]


def warehouse_files(conn, name):
    return list((conn.path / "warehouse" / "main" / name).rglob("*.parquet"))


def written(path, data):
    path.write_bytes(data)
    return path


@pytest.mark.parametrize("make, error, message", [
    (lambda d: written(d / "x.csv", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x01\x02"),
     indb.DataError, "cannot load .*x.csv"),
    (lambda d: written(d / "x.parquet", b"not parquet at all"), indb.DataError, "cannot load .*x.parquet"),
    (lambda d: (d / "x.parquet").mkdir() or d / "x.parquet", indb.OptionError, "is a directory"),
    (lambda d: written(d / "x.csv", b""), indb.DataError, "file is empty"),
    (lambda d: d / "missing.csv", indb.OptionError, "no such file"),
    (lambda d: written(d / "x.json", b"{}"), indb.OptionError, ".parquet and .csv"),
    (lambda d: pd.DataFrame({"a": [1, "x"]}), indb.DataError, "give each column one type"),
    (lambda d: pa.RecordBatchReader.from_batches(
        pa.schema([("a", pa.int64())]),
        iter([pa.record_batch({"a": [1]}), pa.record_batch({"a": ["x"]})])),
     indb.DataError, "changed midway"),
    (lambda d: [1, 2, 3], indb.OptionError, "cannot load a list"),
])
def test_bad_sources_are_refused_and_leave_nothing(fresh, tmp_path, make, error, message):
    with pytest.raises(error, match=message):
        fresh.load("t", make(tmp_path))
    assert tables(fresh) == [] and warehouse_files(fresh, "t") == []
    assert fresh.sql("SELECT 42").fetchall() == [(42,)]  # no open result left behind


@pytest.mark.parametrize("options, message", [
    ({"shards": -1}, "shards must be"), ({"shards": 0}, "shards must be"),
    ({"shards": 5000}, "shards must be"), ({"shards": True}, "shards must be"),
    ({"replicated": True, "shard_key": "a"}, "not both"),
])
def test_bad_placement_options_are_refused(fresh, options, message):
    with pytest.raises(indb.OptionError, match=message):
        fresh.load("t", pa.table({"a": [1]}), **options)
    assert tables(fresh) == []


def test_a_csv_with_only_a_header_makes_an_empty_table_of_its_columns(fresh, tmp_path):
    (tmp_path / "h.csv").write_text("a,b\n")
    assert fresh.load("t", tmp_path / "h.csv") == 0
    assert [r[0] for r in fresh.sql("DESCRIBE t").fetchall()][:2] == ["a", "b"]


def test_a_new_table_appears_with_its_rows_in_one_commit(fresh, monkeypatch):
    made = []
    original = Database.create_table

    def create_table(self, info, add=(), **options):
        made.append((info.name, len(add)))
        return original(self, info, add, **options)

    monkeypatch.setattr(Database, "create_table", create_table)
    fresh.sql("CREATE TABLE c AS SELECT range AS id FROM range(10000)")
    fresh.load("l", pa.table({"id": list(range(10))}), shards=2)
    # created together with its files: never visible empty, not even for a moment (a write of
    # fewer than 1,024 rows to a table without a shard key is one file: placement.RUN_ROWS)
    assert made == [("c", 8), ("l", 1)]
    assert fresh.table("c").arrow().num_rows == 10000 and len(fresh.table("c").info.columns) == 1


def test_a_create_table_as_that_fails_while_writing_leaves_no_table_and_no_files(fresh, monkeypatch):
    calls = []
    original = files.write_data_files

    def failing(*args, **kwargs):
        calls.append(1)
        if len(calls) == 2:
            raise KeyboardInterrupt  # as if killed between two chunks
        return original(*args, **kwargs)

    monkeypatch.setattr(files, "write_data_files", failing)
    from indb.engine import tables as engine_tables
    monkeypatch.setattr(engine_tables, "LOAD_CHUNK_ROWS", 10)
    five_batches = pa.Table.from_batches([pa.record_batch({"id": list(range(10))})] * 5)
    with pytest.raises(KeyboardInterrupt):
        fresh.load("t", five_batches)
    assert tables(fresh) == [] and warehouse_files(fresh, "t") == []
    monkeypatch.setattr(files, "write_data_files", original)
    fresh.load("t", pa.table({"id": list(range(50))}))  # the name is free, the database fine
    assert fresh.sql("SELECT count(*) FROM t").fetchone() == (50,)
