"""Data files on their own: writing per shard as Iceberg readers expect them, staging, deleting
only a table's own, committing under concurrent writers, shards of NULL keys."""

import threading
import uuid
from decimal import Decimal

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest
from pyiceberg.catalog.sql import SqlCatalog
from pyiceberg.expressions import IsNull
from pyiceberg.io.pyarrow import pyarrow_to_schema, write_file
from pyiceberg.schema import sanitize_column_names
from pyiceberg.table import Transaction, WriteTask
from pyiceberg.transforms import BucketTransform
from pyiceberg.types import LongType

from indb.catalog.database import Database
from indb.catalog.location import locate
from indb.catalog.tables import TableInfo
from indb.catalog.types import Column
from indb.errors import ConflictError, InternalError, OptionError, UniqueViolation
from indb.query.keys import rechecked
from indb.storage import files, read_threads
from indb.storage.placement import NULL_KEY_SHARD, rowids_in_runs


@pytest.fixture
def db(tmp_path):
    database = Database(tmp_path / "db")
    yield database
    database.close()


def make(db, name="t", shards=4):
    info = TableInfo(name, (Column("k", "BIGINT"), Column("v", "DOUBLE")), ("k",), shards)
    table = db.create_table(info)
    rows = pa.table({"k": np.arange(100), "v": np.arange(100) * 0.5})
    stored = files.to_stored(rows, info, rowids_in_runs(lambda n: 0, 8))
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


def test_files_are_listed_in_the_order_of_their_places(db):
    table, info, stored = make(db)
    first = files.write_data_files(table.io, table.metadata, info, stored)
    # files of one write numbered in the order of their first rows, the shards' order aside
    firsts = [int(files.read_stored([f.file_path], info, table.io)["k"][0].as_py()) for f in first]
    assert firsts == sorted(firsts) and len(firsts) == 4
    later = files.write_data_files(table.io, table.metadata, info, stored.slice(0, 1))
    files.commit(db, "t", add=later + first)
    listed = files.data_files(db.load("t")[0])
    assert [f.file_path for f in listed] == [f.file_path for f in first + later]
    places = [files.place_of(f.file_path) for f in listed]
    assert None not in places and places == sorted(places) and len(set(places)) == 5
    # a rewrite of a file takes its place; a file indb did not name has none
    again = files.write_data_files(table.io, table.metadata, info, stored.slice(0, 1),
                                   place=places[2])
    assert files.place_of(again[0].file_path) == places[2]
    assert places[1] < again[0].file_path.rsplit("/", 1)[-1] < places[3]
    assert files.place_of("s3://b/t/data/00000-0-0a1b2c3d.parquet") is None


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


def test_files_written_before_a_schema_change_or_a_recreate_are_refused(db):
    from pyiceberg.types import StringType
    table, info, stored = make(db)
    before = table.metadata
    written = files.write_data_files(table.io, before, info, stored)
    with table.update_schema() as update:  # an ALTER TABLE ADD COLUMN got in meanwhile
        update.add_column("note", StringType())
    with pytest.raises(ConflictError, match="was changed"):
        files.commit(db, "t", add=written, written_for=before)
    assert files.data_files(db.load("t")[0]) == []
    current = db.load("t")[0]
    files.commit(db, "t", add=written, written_for=current.metadata)  # the same schema: fine
    db.drop_table("t")
    again, _, _ = make(db)
    with pytest.raises(ConflictError, match="dropped and created"):
        files.commit(db, "t", add=[], written_for=current.metadata)
    assert files.same_layout(again.metadata, db.load("t")[0].metadata)


def test_a_shard_out_of_range_is_an_option_error(db):
    table, info, _ = make(db, shards=2)
    with pytest.raises(OptionError, match="shards 0..1, not 2"):
        files.read_shard(table, info, 2)


def _commit_first(monkeypatch, other: threading.Thread) -> None:
    """Make ``other`` (another writer) commit completely just before this thread's next commit
    attempt reaches the catalog: a race lost, made deterministic without sleeps."""
    real = Transaction.commit_transaction

    def other_goes_first(transaction):
        if threading.current_thread() is not other and other.ident is None:
            other.start()
            other.join()
        return real(transaction)
    monkeypatch.setattr(Transaction, "commit_transaction", other_goes_first)


def test_a_rewrite_is_applied_again_when_an_append_got_in_first(db, monkeypatch):
    table, info, stored = make(db)
    files.commit(db, "t", add=files.write_data_files(table.io, table.metadata, info, stored))
    old = files.data_files(db.load("t")[0])
    rewritten = files.write_data_files(table.io, table.metadata, info, stored.slice(0, 10))
    inserted = files.write_data_files(table.io, table.metadata, info, stored.slice(10, 5))
    inserter = threading.Thread(target=files.commit, args=(db, "t", inserted))
    _commit_first(monkeypatch, inserter)
    files.commit(db, "t", add=rewritten, remove=old)  # DELETE's commit, racing an INSERT's
    assert inserter.ident is not None  # the race did happen
    now = {f.file_path for f in files.data_files(db.load("t")[0])}
    assert now == {f.file_path for f in rewritten + inserted}


def test_a_rewrite_of_files_a_concurrent_rewrite_removed_is_a_conflict(db, monkeypatch):
    table, info, stored = make(db)
    files.commit(db, "t", add=files.write_data_files(table.io, table.metadata, info, stored))
    old = files.data_files(db.load("t")[0])
    deleter = threading.Thread(target=files.commit, args=(db, "t", [], old))
    _commit_first(monkeypatch, deleter)
    mine = files.write_data_files(table.io, table.metadata, info, stored.slice(0, 10))
    with pytest.raises(ConflictError, match="rewritten by a concurrent writer"):
        files.commit(db, "t", add=mine, remove=old)
    assert files.data_files(db.load("t")[0]) == []  # the other delete stands, nothing of mine


def test_null_shard_keys_belong_to_one_shard_for_indb_and_to_the_null_partition_for_iceberg(
        conn, table_name):
    conn.sql(f"CREATE TABLE {table_name} (k VARCHAR, v INTEGER, SHARD KEY (k)) WITH (SHARDS = 4)")
    conn.sql(f"INSERT INTO {table_name} VALUES ('a', 1), (NULL, 2), ('b', 3), ('c', 4)")
    conn.load(table_name, pa.table({"k": pa.array([None, "d"], pa.string()), "v": [5, 6]}))
    assert conn.sql(f"SELECT count(*) FROM {table_name} WHERE k IS NULL").fetchone() == (2,)
    conn.sql("CREATE OR REPLACE FUNCTION null_keys LANGUAGE PYTHON AS $$\n"
             "def null_keys(ctx, t):\n"
             "    return {'shard': [ctx.shard], 'rows': [t.num_rows],\n"
             "            'nulls': [t['k'].null_count]}\n$$")
    out = f"{table_name}_seen"
    conn.sql(f"EXECUTE FUNCTION null_keys(INPUT_TABLE_NAMES => INPUT_TABLE({table_name}), "
             f"OUTPUT_TABLE_NAMES => OUTPUT_TABLES('{out}'))")
    seen = conn.sql(f"SELECT shard, rows, nulls FROM {out} ORDER BY shard").fetchall()
    assert sum(rows for _, rows, _ in seen) == 6
    assert [(shard, nulls) for shard, _, nulls in seen if nulls] == [(NULL_KEY_SHARD, 2)]
    table = conn.table(table_name)
    assert [table.shard(k)["k"].null_count for k in range(4)] == [
        2 if k == NULL_KEY_SHARD else 0 for k in range(4)]
    iceberg = conn._engine.db.load(table_name)[0]  # what another Iceberg reader prunes to
    assert sorted(iceberg.scan(row_filter=IsNull("k")).to_arrow()["v"].to_pylist()) == [2, 5]
    assert {files.shard_of(f) for f in files.data_files(iceberg) if f.partition[0] is None} == {
        NULL_KEY_SHARD}


WIDE = (Column("my col", "VARCHAR"), Column("ts", "TIMESTAMPTZ"), Column("px", "FLOAT[2]"),
        Column("l", "INTEGER[]"), Column("s", "STRUCT(a INTEGER, b VARCHAR)"),
        Column("d", "DECIMAL(10,2)"), Column("t8", "TINYINT"), Column("n", "BIGINT"))


def wide_rows(count):
    """Rows of every kind of column (escaped name, timestamptz, fixed array, list, struct, decimal,
    widened integer), with NULLs, in SQL types."""
    i = np.arange(count)
    return pa.table({
        "my col": pa.array([None if k % 11 == 0 else f"s{k % 5}" for k in i]),
        "ts": pa.array(i * 1_000_000, pa.timestamp("us", tz="UTC")),
        "px": pa.FixedSizeListArray.from_arrays(pa.array(np.repeat(i, 2), pa.float32()), 2),
        "l": pa.array([[int(k), None] if k % 3 else None for k in i], pa.list_(pa.int32())),
        "s": pa.array([{"a": int(k), "b": None if k % 2 else "x"} for k in i],
                      pa.struct([("a", pa.int32()), ("b", pa.string())])),
        "d": pa.array([None if k % 7 == 0 else Decimal(int(k)) / 100 for k in i],
                      pa.decimal128(10, 2)),
        "t8": pa.array(i % 100, pa.int8()),
        "n": pa.array(i * 3),
    })


def test_files_are_what_iceberg_readers_expect(db):
    info = TableInfo("w", WIDE, (), 1, replicated=True)  # unpartitioned: pyiceberg infers no bucket
    table = db.create_table(info)
    properties = {**table.metadata.properties, "write.parquet.row-group-limit": "6000"}
    metadata = table.metadata.model_copy(update={"properties": properties})
    rows = wide_rows(20_000)
    stored = files.to_stored(rows, info, rowids_in_runs(lambda n: 0, 8))
    [written] = files.write_data_files(table.io, metadata, info, stored)
    path = files.local_path(written.file_path)
    footer = pq.read_metadata(path)
    assert [footer.row_group(r).num_rows for r in range(footer.num_row_groups)] == [6000] * 3 + [2000]
    assert {footer.row_group(r).column(c).compression for r in range(footer.num_row_groups)
            for c in range(footer.num_columns)} == {properties["write.parquet.compression-codec"].upper()}
    # every column, nested ones included, carries its Iceberg field id (pyiceberg reads by id)
    in_file = pyarrow_to_schema(pq.read_schema(path))
    assert in_file.as_struct() == sanitize_column_names(table.metadata.schema()).as_struct()
    # the statistics registered are those pyiceberg's own writer registers for the same rows
    task = WriteTask(write_uuid=uuid.uuid4(), task_id=0, schema=metadata.schema(),
                     record_batches=stored.to_batches())
    [theirs] = write_file(table.io, metadata, iter([task]))
    for field in ("record_count", "value_counts", "null_value_counts", "nan_value_counts",
                  "lower_bounds", "upper_bounds"):
        assert getattr(written, field) == getattr(theirs, field), field
    assert written.column_sizes.keys() == theirs.column_sizes.keys()
    assert len(written.split_offsets) == footer.num_row_groups
    files.discard(table.io, [theirs], table.location())
    key = table.metadata.schema().find_field("my col").field_id
    assert written.null_value_counts[key] == rows["my col"].null_count > 0
    files.commit(db, "w", add=[written])
    # another engine reads the rows back as written
    other = SqlCatalog("indb", uri=f"sqlite:///{db.path / 'catalog.db'}",
                       warehouse=(db.path / "warehouse").as_uri())
    back = other.load_table(("main", "w")).scan().to_arrow()
    assert back.num_rows == 20_000
    for column in info.columns:
        assert back[column.name].to_pylist() == stored[column.name].to_pylist(), column.name


def test_only_columns_of_few_distinct_values_get_a_dictionary(db):
    info = TableInfo("t", (Column("sym", "VARCHAR"), Column("v", "DOUBLE")), ("sym",), 2)
    table = db.create_table(info)
    rows = pa.table({"sym": [f"S{k % 20}" for k in range(50_000)],
                     "v": np.random.default_rng(0).random(50_000)})
    stored = files.to_stored(rows, info, rowids_in_runs(lambda n: 0, 8))
    for written in files.write_data_files(table.io, table.metadata, info, stored):
        footer = pq.read_metadata(files.local_path(written.file_path))
        encodings = {footer.schema.column(c).name: footer.row_group(0).column(c).encodings
                     for c in range(footer.num_columns)}
        assert "RLE_DICTIONARY" in encodings["sym"] and "RLE_DICTIONARY" not in encodings["v"]


def test_a_shard_file_that_fails_half_written_is_deleted_with_the_others(db, monkeypatch):
    table, info, stored = make(db)
    real = pq.ParquetWriter.write_table
    started = threading.Barrier(4, timeout=60)  # every shard's file exists before a write goes on

    def fail_in_shard_2(writer, rows, **options):
        started.wait()
        if pc.max(rows["k"]).as_py() == max(k for k in range(100) if bucket_of(k) == 2):
            raise OSError("disk full")
        return real(writer, rows, **options)
    bucket_of = BucketTransform(4).transform(LongType())
    monkeypatch.setattr(pq.ParquetWriter, "write_table", fail_in_shard_2)
    monkeypatch.setattr(files.os, "cpu_count", lambda: 4)  # the four shards written at once,
    monkeypatch.setattr(files, "_writers", files._writer_pool())  # by a pool of that size
    with pytest.raises(OSError, match="disk full"):
        files.write_data_files(table.io, table.metadata, info, stored)
    assert parquet_files(db, "t") == []


def test_a_snapshots_data_files_are_listed_once_and_a_new_snapshot_listed_afresh(db, monkeypatch):
    table, info, stored = make(db)
    files.commit(db, "t", add=files.write_data_files(table.io, table.metadata, info, stored))
    table = db.load("t")[0]
    first = files.data_files(table)
    planned = []
    monkeypatch.setattr(type(table.scan()), "plan_files",
                        lambda scan: planned.append(scan) or iter(()))
    assert [f.file_path for f in files.data_files(db.load("t")[0])] == [f.file_path for f in first]
    assert planned == []  # the same snapshot: its manifests not read again
    files.commit(db, "t", add=files.write_data_files(table.io, table.metadata, info, stored))
    assert files.data_files(db.load("t")[0]) == [] and len(planned) == 1  # a new snapshot: planned


def test_rows_known_to_be_in_one_shard_are_not_bucketed_unless_a_key_is_null(db, monkeypatch):
    table, info, stored = make(db)
    bucket = BucketTransform(4).pyarrow_transform(LongType())
    in_two = stored.filter(pc.equal(bucket(stored["k"]), 2))
    split = files.split_by_partition
    calls = []
    monkeypatch.setattr(files, "split_by_partition", lambda *a: calls.append(1) or split(*a))
    written = files.write_data_files(table.io, table.metadata, info, in_two, shard=2)
    assert calls == [] and [files.shard_of(f) for f in written] == [2]
    assert sum(f.record_count for f in written) == in_two.num_rows
    nulls = pa.table({"k": pa.array([None], pa.int64()), "v": [1.0]})
    with_null = pa.concat_tables([in_two, files.to_stored(nulls, info, rowids_in_runs(lambda n: 0, 8))])
    written = files.write_data_files(table.io, table.metadata, info, with_null, shard=2)
    assert calls == [1]  # a NULL key is not in shard 2: bucketed as usual
    assert sorted((f.partition[0] is None, f.record_count) for f in written) == [
        (False, in_two.num_rows), (True, 1)]


def test_a_lone_shards_rows_are_written_as_pieces_at_once_in_their_order(db, monkeypatch):
    table, info, stored = make(db)
    in_one = stored.filter(pc.equal(BucketTransform(4).pyarrow_transform(LongType())(stored["k"]), 1))
    monkeypatch.setattr(files, "core_share", lambda: 8)
    monkeypatch.setattr(files, "PIECE_BYTES", in_one.nbytes // 3)  # room for three pieces
    written = files.write_data_files(table.io, table.metadata, info, in_one, shard=1, pieces=True)
    assert len(written) == 3 and {files.shard_of(f) for f in written} == {1}
    assert [f.record_count for f in written] == [len(p) for p in np.array_split(
        np.arange(in_one.num_rows), 3)]
    read = pa.concat_tables(pq.read_table(files.local_path(f.file_path)) for f in written)
    assert read["k"].to_pylist() == in_one["k"].to_pylist()  # consecutive runs, in order
    # without ``pieces`` (inserts, compaction) a shard is one file, however large
    assert len(files.write_data_files(table.io, table.metadata, info, in_one, shard=1)) == 1


def test_pieces_are_no_more_than_the_rows_the_cores_and_max_pieces(db, monkeypatch):
    table, info, stored = make(db)
    monkeypatch.setattr(files, "PIECE_BYTES", 1)  # every byte would make a piece
    monkeypatch.setattr(files, "core_share", lambda: 64)
    three = stored.slice(0, 3)
    assert len(files._pieces({0: np.arange(3)}, three)) == 3
    assert len(files._pieces({0: np.arange(100)}, stored)) == files.MAX_PIECES
    monkeypatch.setattr(files, "core_share", lambda: 2)
    assert len(files._pieces({0: np.arange(100)}, stored)) == 2
    monkeypatch.setattr(files, "PIECE_BYTES", 1 << 40)  # the rows are less than one piece
    assert len(files._pieces({0: np.arange(100)}, stored)) == 1
    two = {0: np.arange(50), 1: np.arange(50, 100)}  # two shards: a file each, as ever
    assert [k for k, _ in files._pieces(two, stored)] == [0, 1]


def test_streams_are_opened_with_a_small_buffer_unless_the_warehouse_says(db, tmp_path):
    table, _, _ = make(db)
    assert db.io_properties["buffer-size"] == table.io.properties["buffer-size"] == str(64 << 10)
    location = locate(f"sqlite:///{tmp_path / 'c.db'}", str(tmp_path / "w"), None,
                      {"buffer-size": "4096"})
    own = Database(location)
    try:
        assert own.io_properties["buffer-size"] == "4096"
    finally:
        own.close()


def test_an_instance_cuts_its_output_only_into_its_share_of_the_cores(db, monkeypatch):
    table, info, stored = make(db)
    monkeypatch.setattr(files, "PIECE_BYTES", 1)
    monkeypatch.setattr(read_threads, "available_cores", lambda: 16)
    monkeypatch.setenv(read_threads.MACHINE_SLOTS_VARIABLE, "4")  # a GPU worker's four slots
    assert len(files._pieces({0: np.arange(100)}, stored)) == 4
    monkeypatch.setenv(read_threads.MACHINE_SLOTS_VARIABLE, "16")  # CPU instances, all at once
    assert len(files._pieces({0: np.arange(100)}, stored)) == 1


def test_writes_at_once_share_one_pool_of_threads_started_once(db, monkeypatch):
    table, info, stored = make(db)
    monkeypatch.setattr(files, "_writers", files._writer_pool())  # no thread started yet

    def writers():
        return {t.ident for t in threading.enumerate() if t.name.startswith("indb-write")}
    files.write_data_files(table.io, table.metadata, info, stored)  # four shards: four files
    first = writers()
    assert first  # the files were written by the pool's threads
    files.write_data_files(table.io, table.metadata, info, stored)
    assert writers() == first  # no thread started for the second write


def test_a_files_layout_is_made_once_for_the_same_metadata_and_columns(db, monkeypatch):
    table, info, stored = make(db)
    made = []
    real = files.FileLayout.of
    monkeypatch.setattr(files.FileLayout, "of", classmethod(
        lambda cls, metadata, schema: made.append(metadata) or real(metadata, schema)))
    layout = files.FileLayout.kept(table.metadata, stored.schema)
    assert files.FileLayout.kept(table.metadata, stored.schema) is layout and len(made) == 1
    again = db.load("t")[0].metadata  # equal, but another object: made for it (ids may be reused)
    assert files.FileLayout.kept(again, stored.schema).metadata is again and len(made) == 2
    other = pa.schema([stored.schema.field("k"), pa.field("v", pa.float32())])  # other types
    assert files.FileLayout.kept(table.metadata, other) is not layout and len(made) == 3


def test_a_commit_checks_its_keys_again_when_rows_came_in_meanwhile(db):
    """A write's UNIQUE check read the snapshot it started from; another writer's commit in
    between may hold the values it adds, so the commit checks again, and refuses it."""
    info = TableInfo("u", (Column("k", "BIGINT"), Column("v", "DOUBLE")), ("k",), 2,
                     uniques=(("u_v_key", ("v",)),))
    table = db.create_table(info)
    rows = files.to_stored(pa.table({"k": [1], "v": [0.5]}), info, rowids_in_runs(lambda n: 0, 8))
    ours = files.write_data_files(table.io, table.metadata, info, rows)  # checked: none yet
    files.commit(db, "u", add=files.write_data_files(table.io, table.metadata, info, rows))  # theirs
    with pytest.raises(UniqueViolation, match="v = 0.5"):
        files.commit(db, "u", add=ours, written_for=table.metadata,
                     verify=rechecked(info, ours, io_properties=db.io_properties))
    assert sum(f.record_count for f in files.data_files(db.load("u")[0])) == 1
    other = files.write_data_files(table.io, table.metadata, info, files.to_stored(
        pa.table({"k": [2], "v": [1.5]}), info, rowids_in_runs(lambda n: 0, 8)))
    files.commit(db, "u", add=other, written_for=table.metadata,  # a new value: it lands
                 verify=rechecked(info, other, io_properties=db.io_properties))
    assert sum(f.record_count for f in files.data_files(db.load("u")[0])) == 2
