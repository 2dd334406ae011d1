"""A database described by URLs: a PostgreSQL catalog (a real server, started here) with a
warehouse on a shared path or in an S3-compatible store (moto's server). The core of the
embedded suite runs again in each layout: the tests below imported from the embedded modules
take this module's ``conn``."""

from __future__ import annotations

import threading

import numpy as np
import pytest

import indb
from indb.catalog import filesystems
from indb.catalog.location import Tls, locate, redact
from indb.errors import ConflictError, DirectoryError
from stores import TRAIN, make_points, new_bucket, new_database, postgres_server
# the embedded suite's tests, collected here again with this module's ``conn`` (each layout)
from test_engine import (test_create_insert_select, test_create_table_as_select,  # noqa: F401
                         test_delete_where, test_drop_table, test_every_write_is_one_snapshot,
                         test_joins_aggregates_windows_ctes, test_load_formats, test_parameters,
                         test_shards_are_iceberg_buckets)
from test_function_statements import (test_distributed_instances_see_only_their_shard_and_write_to_it,  # noqa: F401
                                      test_input_query_is_pushed_down_per_shard,
                                      test_output_of_one_run_is_one_snapshot, ticks)
from test_upkeep import (test_merge_applies_the_first_clause_that_fits_in_one_snapshot,  # noqa: F401

                         test_optimize_merges_each_shard_s_small_files_in_one_snapshot,
                         test_set_shards_rewrites_rows_into_the_new_buckets,
                         test_time_travel_by_snapshot_id_and_by_time,
                         test_update_with_parameters_is_one_snapshot)

LAYOUTS = ("postgres+path", "postgres+s3")
LOCAL_FILES = ("test_drop_table",)  # look at the warehouse's files on disk


@pytest.fixture(scope="module")
def pg():
    with postgres_server() as url:
        yield url


def urls(layout: str, pg: str, s3: dict[str, str], tmp_path) -> dict[str, object]:
    """connect()'s keywords for a fresh database in ``layout``."""
    if layout == "postgres+path":
        return {"catalog": new_database(pg), "warehouse": str(tmp_path / "shared")}
    return {"catalog": new_database(pg), "warehouse": f"s3://{new_bucket(s3)}/db", "properties": s3}


@pytest.fixture(scope="module", params=LAYOUTS)
def conn(request, pg, s3, tmp_path_factory):
    """One database a layout, shared by the module's tests (as the embedded suite's is)."""
    connection = indb.connect(**urls(request.param, pg, s3, tmp_path_factory.mktemp("urls")),
                              cluster="threads", workers=2)
    connection.layout = request.param
    yield connection
    connection.close()


@pytest.fixture(autouse=True)
def _local_files(request):
    """Tests that look at the warehouse's files on disk do not apply to an object store."""
    if "conn" in request.fixturenames and request.node.function.__name__ in LOCAL_FILES:
        if request.getfixturevalue("conn").layout.endswith("s3"):
            pytest.skip("looks at local files (test_dropping_a_table_deletes_its_objects: S3's)")


@pytest.fixture
def fresh_urls(pg, s3, tmp_path, request):
    """connect()'s keywords for a database of the test's own, in each layout."""
    return lambda layout: urls(layout, pg, s3, tmp_path)


def test_the_catalog_and_the_files_are_where_the_urls_say(conn, table_name):
    conn.sql(f"CREATE TABLE {table_name} (a INTEGER)")
    conn.sql(f"INSERT INTO {table_name} VALUES (1)")
    db = conn._engine.db
    assert db.engine.dialect.name == "postgresql"
    table, _ = db.load(table_name)
    files = [task.file.file_path for task in table.scan().plan_files()]
    scheme = "s3://" if conn.layout.endswith("s3") else "file://"
    assert files and all(f.startswith(scheme) for f in files)
    assert table.location().startswith(db.warehouse_uri)


def test_a_second_connection_sees_the_same_database(conn, table_name):
    conn.sql(f"CREATE TABLE {table_name} (a INTEGER)")
    conn.sql(f"INSERT INTO {table_name} VALUES (1), (2)")
    location = conn._engine.db.location
    other = indb.connect(catalog=location.catalog, warehouse=location.warehouse,
                         properties=location.io_properties, cluster="threads")
    try:
        assert other.sql(f"SELECT sum(a) FROM {table_name}").fetchone() == (3,)
        other.sql(f"INSERT INTO {table_name} VALUES (3)")
        assert conn.sql(f"SELECT sum(a) FROM {table_name}").fetchone() == (6,)
    finally:
        other.close()


# On S3 (18 s on CI) in the slow run only: which head wins is decided by the PostgreSQL catalog's
# commit, the same in both layouts; S3's writes are checked by the embedded suite's tests this module
# runs in the postgres+s3 layout (test_update_with_parameters_is_one_snapshot and the others).
@pytest.mark.parametrize("layout", [LAYOUTS[0], pytest.param(LAYOUTS[1], marks=pytest.mark.slow)])
def test_two_heads_writing_one_table_lose_no_update(fresh_urls, layout):
    """Two connections (two heads) increment one row and append rows at once: optimistic
    commits through PostgreSQL; a lost race is a ConflictError to run again, never a lost
    update."""
    keywords = fresh_urls(layout)
    heads = [indb.connect(**keywords, cluster="threads") for _ in range(2)]
    try:
        heads[0].sql("CREATE TABLE counter (k INTEGER, n INTEGER, SHARD KEY (k)) WITH (SHARDS = 2)")
        heads[0].sql("INSERT INTO counter VALUES (1, 0)")
        heads[0].sql("CREATE TABLE log (who INTEGER, i INTEGER)")
        conflicts = [0, 0]
        errors: list[BaseException] = []

        def work(who: int) -> None:
            try:
                for i in range(6):
                    heads[who].sql("INSERT INTO log VALUES (?, ?)", [who, i])
                    while True:
                        try:
                            heads[who].sql("UPDATE counter SET n = n + 1 WHERE k = 1")
                            break
                        except ConflictError:
                            conflicts[who] += 1  # the other head committed first: run it again
            except BaseException as error:  # noqa: BLE001 (reported by the test below)
                errors.append(error)
        threads = [threading.Thread(target=work, args=(who,)) for who in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert not errors
        assert heads[1].sql("SELECT n FROM counter").fetchall() == [(12,)]
        assert heads[0].sql("SELECT who, count(*) FROM log GROUP BY who ORDER BY who").fetchall() == \
            [(0, 6), (1, 6)]
    finally:
        for head in heads:
            head.close()


def test_dropping_a_table_deletes_its_objects(fresh_urls):
    conn = indb.connect(**fresh_urls("postgres+s3"), cluster="threads")
    try:
        db = conn._engine.db
        conn.sql("CREATE SCHEMA s")
        for name in ("t", "s.u"):
            conn.sql(f"CREATE TABLE {name} (a INTEGER) WITH (SHARDS = 2)")
            conn.sql(f"INSERT INTO {name} VALUES (1), (2), (3)")
        listed = {name: filesystems.list_files(db.load(name)[0].location(), db.io_properties)
                  for name in ("t", "s.u")}
        assert all(any(p.endswith(".parquet") for p, _ in files) for files in listed.values())
        conn.sql("DROP TABLE t")
        assert filesystems.list_files(f"{db.warehouse_uri}/main/t", db.io_properties) == []
        conn.sql("DROP SCHEMA s CASCADE")
        assert filesystems.list_files(f"{db.warehouse_uri}/s", db.io_properties) == []
    finally:
        conn.close()


@pytest.mark.slow
@pytest.mark.parametrize("layout", LAYOUTS)
def test_a_model_trained_by_a_function_predicts_in_sql(fresh_urls, layout):
    conn = indb.connect(**fresh_urls(layout), cluster="threads", workers=2)
    try:
        make_points(conn)
        conn.sql(TRAIN)
        conn.sql("EXECUTE FUNCTION fit(INPUT_TABLE_NAMES => INPUT_TABLE(pts))")
        rows = conn.sql("SELECT label, PREDICT('clf', f) AS p, count(*) FROM pts "
                        "GROUP BY ALL ORDER BY ALL").fetchall()
        assert rows == [(0, 0, 100), (1, 1, 100)]
        assert conn.model("clf").predict(np.array([[9.0, 3.0]], dtype=np.float32)).tolist() == [1]
    finally:
        conn.close()


def test_an_unreachable_catalog_is_reported_without_its_password(tmp_path):
    catalog = "postgresql://indb:s3cret-word@127.0.0.1:1/nothing"
    with pytest.raises(DirectoryError) as raised:
        indb.connect(catalog=catalog, warehouse=str(tmp_path / "w"))
    assert "s3cret-word" not in str(raised.value) and "***" in str(raised.value)
    assert redact(catalog).split("//")[1] in str(raised.value)


def test_a_catalog_holding_another_iceberg_catalog_is_refused(pg, tmp_path):
    from pyiceberg.catalog.sql import SqlCatalog
    url = new_database(pg).replace("postgresql://", "postgresql+psycopg://")
    SqlCatalog("other", uri=url, warehouse=(tmp_path / "o").as_uri()).engine.dispose()
    with pytest.raises(DirectoryError, match="did not make"):
        indb.connect(catalog=url, warehouse=str(tmp_path / "w"))


def test_the_warehouse_the_catalog_was_made_with_is_checked(pg, tmp_path):
    catalog = new_database(pg)
    conn = indb.connect(catalog=catalog, warehouse=str(tmp_path / "one"), cluster="threads")
    conn.sql("CREATE TABLE t (a INTEGER)")
    conn.close()
    with pytest.raises(DirectoryError, match="warehouse URL the catalog was made with"):
        indb.connect(catalog=catalog, warehouse=str(tmp_path / "two"))


def test_tls_needs_a_tls_scheduler_address(tmp_path):
    with pytest.raises(indb.OptionError, match="tls://"):
        locate("sqlite:///x.db", str(tmp_path), "tcp://h:8786", tls=Tls("a", "b", "c"))


@pytest.mark.parametrize("with_files", [False, True])
def test_a_run_commit_under_a_taken_name_is_refused_by_name_on_postgres(pg, tmp_path, with_files):
    """A run's commit creates its new table in the catalog's one transaction without looking
    first; on PostgreSQL a refused insert ends the transaction, so the error must not need
    another query: it still names the table, and the taken table is as it was."""
    import pyarrow as pa

    from indb.catalog.database import provisional_metadata
    from indb.catalog.tables import TableInfo
    from indb.catalog.types import Column
    from indb.errors import CatalogError
    from indb.sharding import commit
    from indb.storage import files

    conn = indb.connect(catalog=new_database(pg), warehouse=str(tmp_path / "w"), cluster="threads")
    try:
        conn.sql("CREATE TABLE taken (id BIGINT, SHARD KEY (id)) WITH (SHARDS = 4)")
        runner = conn._engine.runner
        db = runner.db
        info = TableInfo.checked("taken", (Column("id", "BIGINT"),), ("id",), 4, False)
        add = []
        if with_files:
            location = db.table_location("taken")
            stored = files.to_stored(pa.table({"id": pa.array(range(10))}), info, lambda n: range(n))
            add = files.write_data_files(db.load("taken")[0].io, provisional_metadata(info, location),
                                         info, stored)
        with pytest.raises(CatalogError, match="table taken already exists; DROP TABLE taken first"):
            with commit.together(db, runner.runs, runner.models) as (view, _, _):
                view.create_table(info, add=add)
        assert conn.sql("SELECT count(*) FROM taken").fetchone() == (0,)
    finally:
        conn.close()
