"""The query session: one DuckDB view a table, rebuilt only when the table changed."""

import threading
import time

import pyarrow as pa
import pytest

import indb

from indb.catalog.database import Database
from indb.catalog.tables import TableInfo
from indb.catalog.types import Column
from indb.errors import SqlError
from indb.query.scan import Scans
from indb.query.session import QuerySession
from indb.storage import files
from indb.storage.placement import rowids_in_runs


@pytest.fixture
def db(tmp_path):
    database = Database(tmp_path / "db")
    yield database
    database.close()


def append(db, name, rows):
    table, info = db.load(name)
    stored = files.to_stored(rows, info, rowids_in_runs(lambda n: db.allocate_rowids(name, n), info.shards))
    files.commit(db, name, add=files.write_data_files(table.io, table.metadata, info, stored))


def test_views_follow_each_tables_snapshot_and_only_changed_ones_are_rebuilt(db):
    for name in ("a", "b"):
        db.create_table(TableInfo(name, (Column("x", "INTEGER"),), (), 2))
    session = QuerySession(db)
    session.refresh()
    assert session.query("SELECT count(*) AS n FROM a").to_pylist() == [{"n": 0}]
    built = dict(session._locations)
    append(db, "a", pa.table({"x": [1, 2, 3]}))
    session.refresh()
    assert session._locations["b"] == built["b"] and session._locations["a"] != built["a"]
    assert session.query("SELECT sum(x) AS s FROM a").to_pylist() == [{"s": 6}]
    db.drop_table("b")
    session.refresh()
    with pytest.raises(SqlError, match="b does not exist"):
        session.query("SELECT * FROM b")
    session.close()


def test_duckdb_errors_become_sql_errors_and_types_come_back(db):
    session = QuerySession(db)
    rows, types = session.typed_query("SELECT 1::TINYINT AS t, [1.5]::FLOAT[1] AS f")
    assert types == ["TINYINT", "FLOAT[1]"] and rows.num_rows == 1
    with pytest.raises(SqlError, match="Parser Error"):
        session.query("SELEC 1")
    session.close()


def test_a_scan_reads_fixed_arrays_back_in_their_sql_type_and_an_empty_one_has_the_columns(db):
    info = TableInfo("img", (Column("id", "BIGINT"), Column("px", "UTINYINT[3]")), ("id",), 2)
    db.create_table(info)
    append(db, "img", pa.table({"id": [1, 2], "px": [[1, 2, 3], [4, 5, 6]]},
                               schema=pa.schema([("id", pa.int64()), ("px", pa.list_(pa.uint8(), 3))])))
    session = QuerySession(db)
    table, _ = db.load("img")
    paths = [files.local_path(f.file_path) for f in files.data_files(table)]
    scans = Scans(session.duck)
    got = session.duck.sql(scans.scan(info, paths).sql(dialect="duckdb") + " ORDER BY id")
    assert got.fetchall() == [(1, (1, 2, 3)), (2, (4, 5, 6))]  # DuckDB gives arrays as tuples
    empty = session.duck.sql(scans.scan(info, []).sql(dialect="duckdb"))
    assert empty.columns == ["id", "px"] and [str(t) for t in empty.types] == ["BIGINT", "UTINYINT[3]"]
    session.close()


def test_the_duckdb_types_of_a_schema_are_asked_for_once(db, monkeypatch):
    session = QuerySession(db)
    schema = pa.schema([("a", pa.int64()), ("b", pa.string())])
    assert [str(t) for t in session.types_of(schema)] == ["BIGINT", "VARCHAR"]
    asked = []
    duck = QuerySession.duck
    monkeypatch.setattr(QuerySession, "duck", property(lambda self: asked.append(1) or duck.fget(self)))
    assert [str(t) for t in session.types_of(schema)] == ["BIGINT", "VARCHAR"] and not asked
    assert [str(t) for t in session.types_of(pa.schema([("c", pa.float64())]))] == ["DOUBLE"]
    assert asked == [1]


def test_a_session_keeps_the_types_of_the_schemas_it_used_last(db, monkeypatch):
    """Past TYPES_KEPT schemas the least recently used goes, not every one kept."""
    from indb.query import session as module
    monkeypatch.setattr(module, "TYPES_KEPT", 2)
    session = QuerySession(db)
    first, second, third = (pa.schema([(name, pa.int64())]) for name in "abc")
    for schema in (first, second, first, third):  # first used again: second is the oldest
        session.types_of(schema)
    asked = []
    duck = QuerySession.duck
    monkeypatch.setattr(QuerySession, "duck", property(lambda self: asked.append(1) or duck.fget(self)))
    session.types_of(first)
    session.types_of(third)
    assert not asked
    session.types_of(second)
    assert asked == [1]


LONG = "SELECT count(*) FROM range(100000000000) t(x) WHERE x % 7 = 3"  # minutes of DuckDB's time


def interrupted_until_done(interrupt, thread):
    """Interrupt until ``thread`` ends (an interrupt before DuckDB begins a query is forgotten)."""
    deadline = time.monotonic() + 60
    while thread.is_alive():
        assert time.monotonic() < deadline, "the interrupt did not stop it"
        interrupt()
        thread.join(0.05)


def test_interrupting_one_threads_statement_leaves_other_results_streaming(tmp_path):
    with indb.connect(tmp_path / "db") as conn:
        streaming = conn.sql("SELECT range AS x FROM range(3000000)")  # read as it is fetched
        assert len(streaming.fetchmany(10)) == 10
        got = {}

        def long():
            try:
                conn.sql(LONG).fetchall()
            except SqlError as error:
                got["error"] = error
        thread = threading.Thread(target=long)
        thread.start()
        interrupted_until_done(lambda: conn.interrupt_statement(thread.ident), thread)
        assert "nterrupt" in str(got.get("error")), got
        assert len(streaming.fetchall()) == 3000000 - 10  # its query went on


def test_a_streamed_result_is_interrupted_from_another_thread(tmp_path):
    with indb.connect(tmp_path / "db") as conn:
        # its first batch soon, all of them in minutes
        result = conn.sql("SELECT x FROM range(100000000000) t(x) WHERE x % 1000 = 0")
        got = {}

        def read():
            try:
                for _ in result.fetch_record_batch(100_000):
                    got["batches"] = got.get("batches", 0) + 1
            except SqlError as error:
                got["error"] = error
        thread = threading.Thread(target=read)
        thread.start()
        interrupted_until_done(result.interrupt, thread)
        assert "nterrupt" in str(got.get("error")), got
        assert conn.sql("SELECT 1").fetchall() == [(1,)]
