"""Database directories: creating, reopening, refusing what is not one; row id sequences."""

import multiprocessing
import threading
from pathlib import Path

import pytest
import sqlalchemy as sa

import indb
from indb.catalog.database import FORMAT_VERSION, Database, _meta
from indb.errors import CatalogError
from indb.storage.files import local_path


def test_new_directory_becomes_a_database(tmp_path):
    path = tmp_path / "new" / "db"
    indb.connect(path).close()
    assert (path / "catalog.db").exists()
    with indb.connect(path) as conn:
        assert conn.sql("SHOW TABLES").fetchall() == []


def test_the_catalog_syncs_as_its_setting_says(tmp_path, monkeypatch):
    """WAL and NORMAL by default (a commit survives the process, docs/operations.md);
    INDB_CATALOG_SYNC=FULL in every connection, pyiceberg's included; a wrong value refused."""
    def settings() -> tuple[int, int, str]:
        db = Database(tmp_path / "db")
        try:
            with db.engine.connect() as a, db.catalog.engine.connect() as b:
                return (a.exec_driver_sql("PRAGMA synchronous").scalar(),
                        b.exec_driver_sql("PRAGMA synchronous").scalar(),
                        a.exec_driver_sql("PRAGMA journal_mode").scalar())
        finally:
            db.close()
    assert settings() == (1, 1, "wal")  # 1: NORMAL
    monkeypatch.setenv("INDB_CATALOG_SYNC", "full")
    assert settings() == (2, 2, "wal")  # 2: FULL
    monkeypatch.setenv("INDB_CATALOG_SYNC", "fast")
    with pytest.raises(indb.IndbError, match="INDB_CATALOG_SYNC='fast': give one of OFF, NORMAL"):
        Database(tmp_path / "db")


def test_default_shards_is_a_database_setting(tmp_path):
    with indb.connect(tmp_path / "db", default_shards=3) as conn:
        conn.sql("CREATE TABLE t (a INTEGER)")
        assert conn.table("t").shards == 3
    with indb.connect(tmp_path / "db") as conn:  # kept in the catalog
        conn.sql("CREATE TABLE u (a INTEGER)")
        assert conn.table("u").shards == 3


def test_directory_that_is_not_a_database_is_refused(tmp_path):
    (tmp_path / "notes.txt").write_text("hello")
    with pytest.raises(indb.DatabaseError, match="not an indb database"):
        indb.connect(tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes.txt"]  # nothing written
    file = tmp_path / "notes.txt"
    with pytest.raises(indb.DatabaseError, match="is a file"):
        indb.connect(file)


def test_foreign_sqlite_file_is_refused(tmp_path):
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'catalog.db'}")
    with engine.begin() as c:
        c.exec_driver_sql("CREATE TABLE other (x INTEGER)")
    with pytest.raises(indb.DatabaseError, match="not an indb database"):
        indb.connect(tmp_path)
    with engine.connect() as c:  # untouched: pyiceberg added none of its tables
        names = [r[0] for r in c.exec_driver_sql("SELECT name FROM sqlite_master WHERE type = 'table'")]
    assert names == ["other"]


def test_newer_format_is_refused(tmp_path):
    indb.connect(tmp_path / "db").close()
    db = Database(tmp_path / "db")
    with db.engine.begin() as c:
        c.execute(_meta.update().where(_meta.c.key == "format_version").values(value=str(FORMAT_VERSION + 1)))
    with pytest.raises(indb.DatabaseError, match="newer indb"):
        indb.connect(tmp_path / "db")


def _allocate(path, barrier, out):
    db = Database(path)
    barrier.wait()
    out.put([db.allocate_rowids("t", 10) for _ in range(20)])


def test_row_ids_are_unique_across_processes(tmp_path):
    Database(tmp_path / "db").close()
    ctx = multiprocessing.get_context("spawn")
    barrier, out = ctx.Barrier(3), ctx.Queue()
    procs = [ctx.Process(target=_allocate, args=(tmp_path / "db", barrier, out)) for _ in range(3)]
    for p in procs:
        p.start()
    starts = sum((out.get(timeout=60) for _ in procs), [])
    for p in procs:
        p.join(timeout=60)
    assert sorted(starts) == list(range(0, 600, 10))


def test_wide_rows_are_written_in_several_lz4_row_groups(tmp_path):
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq

    from indb.catalog.database import ROW_GROUP_BYTES
    from indb.storage import files

    conn = indb.connect(tmp_path / "db")
    conn.sql("CREATE TABLE wide (id BIGINT, pixels UTINYINT[784]) WITH (SHARDS = 1)")
    rows = 3 * ROW_GROUP_BYTES // 784
    pixels = np.zeros((rows, 784), dtype=np.uint8)
    conn.load("wide", pa.table({"id": np.arange(rows),
                                "pixels": pa.FixedSizeListArray.from_arrays(pa.array(pixels.ravel()), 784)}))
    table, _ = conn._engine.db.load("wide")
    [data_file] = files.data_files(table)
    metadata = pq.ParquetFile(files.local_path(data_file.file_path)).metadata
    assert metadata.num_row_groups >= 3  # about ROW_GROUP_BYTES each: read on several threads
    assert metadata.row_group(0).column(0).compression == "LZ4"
    assert conn.sql("SELECT count(*) FROM wide").fetchone() == (rows,)
    conn.close()


def test_concurrent_first_opens_of_a_postgres_catalog_all_succeed(tmp_path):
    from stores import new_database, postgres_server

    opens = 4
    with postgres_server() as pg:
        catalog = new_database(pg)
        barrier = threading.Barrier(opens)
        opened: list[indb.Connection] = []
        failures: list[BaseException] = []

        def open_it() -> None:
            barrier.wait()
            try:
                opened.append(indb.connect(catalog=catalog, warehouse=str(tmp_path / "shared")))
            except BaseException as error:  # noqa: BLE001 - reported below
                failures.append(error)

        threads = [threading.Thread(target=open_it) for _ in range(opens)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=120)
        assert failures == [] and len(opened) == opens
        assert len({conn._engine.db.id for conn in opened}) == 1  # initialized once
        db = opened[0]._engine.db
        with db.engine.connect() as c:
            keys = [row[0] for row in c.execute(sa.select(_meta.c.key))]
        assert sorted(keys) == sorted(set(keys)) and "database_id" in keys
        opened[0].sql("CREATE TABLE t (a INTEGER)")
        assert opened[-1].sql("SELECT count(*) FROM t").fetchone() == (0,)
        for conn in opened:
            conn.close()


def test_a_catalog_table_another_connection_makes_meanwhile_is_not_made_twice(tmp_path):
    """On SQLite, create_all checks and then creates: another connection (four sessions' first
    nextval at once, each making indb_macros) may make the table in between."""
    from indb.catalog.database import create_tables
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'catalog.db'}")
    metadata = sa.MetaData()
    table = sa.Table("late", metadata, sa.Column("name", sa.String, primary_key=True))

    def made_meanwhile(target, connection, **kw):  # another connection's, after the check
        with sa.create_engine(f"sqlite:///{tmp_path / 'catalog.db'}").begin() as other:
            other.exec_driver_sql("CREATE TABLE IF NOT EXISTS late (name VARCHAR PRIMARY KEY)")
    sa.event.listen(table, "before_create", made_meanwhile)
    create_tables(engine, metadata)  # (it raised "table late already exists")
    assert sa.inspect(engine).has_table("late")


def test_exists_asks_the_catalog_row_not_the_metadata_file(tmp_path):
    """A table exists while the catalog has its row, in its schema; its metadata file is not
    read (pyiceberg's table_exists loads the whole table)."""
    with indb.connect(tmp_path / "db") as conn:
        conn.sql("CREATE TABLE t (a INTEGER)")
        conn.sql("CREATE SCHEMA s")
        conn.sql("CREATE TABLE s.u (a INTEGER)")
    db = Database(tmp_path / "db")
    try:
        assert db.exists("t") and db.exists("s.u")
        assert not db.exists("u") and not db.exists("s.t") and not db.exists("nope")
        metadata = db.catalog.load_table(db.identifier("t")).metadata_location
        (tmp_path / "db" / metadata.split(str(tmp_path / "db") + "/", 1)[1]).unlink()
        assert db.exists("t")  # the row is there; reading the table is what fails
        with pytest.raises(indb.StorageError, match="table t cannot be read"):
            db.load("t")
        db.catalog.drop_table(db.identifier("s.u"))
        assert not db.exists("s.u")
    finally:
        db.close()


def test_a_new_tables_commit_builds_its_metadata_once_for_each_update(tmp_path):
    """The create-and-append transaction reads its metadata as pyiceberg's does, without
    building it again while no update was staged; the table committed has the files."""
    from indb.catalog.database import (_CreateTransaction, iceberg_layout, provisional_metadata,
                                       table_properties)
    from indb.catalog.tables import TableInfo
    from indb.catalog.types import Column

    info = TableInfo.checked("p", (Column("id", "BIGINT"),), ("id",), 4, False)
    assert iceberg_layout(info) is iceberg_layout(info)  # kept
    assert provisional_metadata(info, "file:///w/p") is provisional_metadata(info, "file:///w/p")
    db = Database(tmp_path / "db")
    try:
        schema, spec = iceberg_layout(info)
        transaction = _CreateTransaction(db.catalog._create_staged_table(
            db.identifier("p"), schema=schema, partition_spec=spec,
            properties=table_properties(info), location=db.table_location("p")))
        before = transaction.table_metadata
        assert transaction.table_metadata is before
        assert before.current_snapshot() is None
        with transaction.update_snapshot().fast_append():
            pass  # no files: a snapshot all the same
        after = transaction.table_metadata
        assert after is not before and after.current_snapshot() is not None
        table = transaction.commit_transaction()
        assert db.exists("p") and table.metadata.current_snapshot() is not None
        assert db.load("p")[0].metadata.current_snapshot().snapshot_id == \
            after.current_snapshot().snapshot_id
    finally:
        db.close()


def _metadata_file(conn, name):
    db = conn._engine.db
    return Path(local_path(db.catalog.load_table(db.identifier(name)).metadata_location))


@pytest.mark.parametrize("damage", ["missing", "not json"])
def test_a_table_whose_metadata_cannot_be_read_says_so_and_can_be_dropped(tmp_path, damage):
    """Its queries and writes fail with StorageError naming it and the way out; the other
    tables go on; DROP TABLE removes it (and its directory), and the name can be used again."""
    with indb.connect(tmp_path / "db") as conn:
        conn.sql("CREATE TABLE t (a INTEGER)")
        conn.sql("INSERT INTO t VALUES (1)")
        conn.sql("CREATE SCHEMA s")
        conn.sql("CREATE TABLE s.u (a INTEGER)")
        metadata = _metadata_file(conn, "s.u")
    directory = metadata.parent.parent
    if damage == "missing":
        metadata.unlink()
    else:
        metadata.write_text("{ this is not table metadata")
    with indb.connect(tmp_path / "db") as conn:
        assert conn.sql("SELECT a FROM t").fetchall() == [(1,)]
        for statement in ("SELECT * FROM s.u", "INSERT INTO s.u VALUES (2)"):
            with pytest.raises(indb.StorageError, match=r"(?s)table s\.u cannot be read .*DROP TABLE s\.u"):
                conn.sql(statement)
        kinds = {row[0]: row[1] for row in conn.sql("SHOW TABLES").fetchall()}
        assert kinds["s.u"].startswith("broken: StorageError")
        conn.sql("DROP TABLE s.u")
        assert not directory.exists()
        assert [row[0] for row in conn.sql("SHOW TABLES").fetchall()] == ["t"]
        conn.sql("CREATE TABLE s.u (b VARCHAR)")
        assert conn.sql("SELECT count(*) FROM s.u").fetchone() == (0,)


def test_a_table_whose_metadata_is_missing_can_be_replaced(tmp_path):
    with indb.connect(tmp_path / "db") as conn:
        conn.sql("CREATE TABLE t (a INTEGER)")
        conn.sql("INSERT INTO t VALUES (1)")
        metadata = _metadata_file(conn, "t")
    metadata.unlink()
    with indb.connect(tmp_path / "db") as conn:
        conn.sql("CREATE OR REPLACE TABLE t AS SELECT 2 AS b")
        assert conn.sql("SELECT * FROM t").fetchall() == [(2,)]
        assert not metadata.parent.parent.exists()  # the broken table's directory is gone


def test_a_table_whose_data_file_is_missing_names_the_file(tmp_path):
    with indb.connect(tmp_path / "db") as conn:
        conn.sql("CREATE TABLE t (a INTEGER)")
        conn.sql("INSERT INTO t VALUES (1)")
        conn.sql("CREATE TABLE other (a INTEGER)")
        (data,) = (tmp_path / "db").glob("warehouse/main/t/data/**/*.parquet")
    data.unlink()
    with indb.connect(tmp_path / "db") as conn:
        with pytest.raises(indb.StorageError, match=f"table t cannot be read .*{data.name}\"\\); DROP"):
            conn.sql("SELECT * FROM t")
        assert conn.sql("SELECT count(*) FROM other").fetchone() == (0,)


def test_new_tables_get_their_own_uuid_and_times_from_the_empty_metadata_made_once(
        tmp_path, monkeypatch):
    import time

    from pyiceberg.catalog.sql import SqlCatalog

    from indb.catalog import database
    from indb.catalog.tables import Column, TableInfo
    made_by_pyiceberg = []
    pyiceberg_s = SqlCatalog._empty_table_metadata
    monkeypatch.setattr(SqlCatalog, "_empty_table_metadata",
                        staticmethod(lambda: made_by_pyiceberg.append(1) or pyiceberg_s()))
    database._empty_metadata.cache_clear()
    db = Database(tmp_path / "db")
    try:
        empty = db.catalog._empty_table_metadata()
        assert empty is not db.catalog._empty_table_metadata()  # a copy each time
        assert empty.properties is not db.catalog._empty_table_metadata().properties
        before = int(time.time() * 1000)
        made = [db.create_table(TableInfo(name, (Column("k", "BIGINT"),), ("k",), 2))
                for name in ("a", "b")]
        assert made[0].metadata.table_uuid != made[1].metadata.table_uuid
        assert all(t.metadata.last_updated_ms >= before for t in made)
        assert [db.load(n)[0].metadata.table_uuid for n in ("a", "b")] == \
            [t.metadata.table_uuid for t in made]
        assert len(made_by_pyiceberg) == 1  # once, however many tables are created
    finally:
        db.close()


@pytest.mark.parametrize("with_files", [False, True])
def test_a_table_created_under_a_taken_name_is_refused_and_the_first_stays(tmp_path, with_files):
    """create_table does not look first: pyiceberg refuses the taken name (its row, or the
    commit's AssertCreate), and the error says what to do; the table there is untouched."""
    from indb.catalog.database import provisional_metadata
    from indb.catalog.tables import TableInfo
    from indb.catalog.types import Column
    from indb.storage import files

    info = TableInfo.checked("p", (Column("id", "BIGINT"),), ("id",), 4, False)
    db = Database(tmp_path / "db")
    try:
        first = db.create_table(info)
        add = []
        if with_files:
            import pyarrow as pa
            metadata = provisional_metadata(info, db.table_location("p"))
            stored = files.to_stored(pa.table({"id": pa.array(range(10))}), info, lambda n: range(n))
            add = files.write_data_files(first.io, metadata, info, stored)
        with pytest.raises(CatalogError, match="table p already exists; DROP TABLE p first"):
            db.create_table(info, add=add)
        table = db.load("p")[0]
        assert table.metadata_location == first.metadata_location
        assert table.current_snapshot() is None
    finally:
        db.close()
