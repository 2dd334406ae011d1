"""indb.registry.unreferenced: VACUUM deletes the code and model artifacts no record names, once
they are old, on a local root and in an S3 warehouse (moto's server), never a run's own."""

from __future__ import annotations

import os
import time
from pathlib import Path
from types import SimpleNamespace

import pyarrow as pa
import pytest

import indb
from indb.catalog import artifacts, filesystems
from indb.engine import upkeep
from indb.registry import unreferenced
from indb.registry.functions import FunctionStore
from stores import new_bucket

ONE = "CREATE OR REPLACE FUNCTION one LANGUAGE PYTHON AS $$\ndef one(ctx, t):\n    return {{'v': [{n}]}}\n$$"
CALL = "SELECT * FROM TABLE(one(INPUT_TABLE_NAMES => INPUT_TABLE(nums)))"


def age(directory: Path, days: float) -> None:
    old = time.time() - days * 24 * 3600
    for path in directory.rglob("*"):
        os.utime(path, (old, old))


def leftovers_row(conn: indb.Connection) -> tuple:
    return next(row for row in conn.sql("VACUUM").fetchall() if row[0] is None)


def running_since(conn: indb.Connection, monkeypatch: pytest.MonkeyPatch, started: float) -> None:
    monkeypatch.setattr(conn._engine.runs, "runs", lambda: pa.table(
        {"started": [started], "status": ["running"]}))


@pytest.fixture
def replaced(tmp_path):
    """A function replaced once: the code of its first version is named by no record."""
    conn = indb.connect(tmp_path / "db", cluster="threads", workers=1)
    conn.sql("CREATE TABLE nums (x INTEGER) WITH (SHARDS = 1)")
    conn.sql(ONE.format(n=1))
    old = conn._engine.functions.get("one").code_hash
    conn.sql(ONE.format(n=2))
    yield conn, old
    conn.close()


def test_old_unreferenced_code_and_models_go_and_named_or_young_ones_stay(replaced):
    conn, old = replaced
    db = conn._engine.db
    code = Path(conn._engine.functions.code_root)
    current = conn._engine.functions.get("one").code_hash
    models = Path(db.shared_root) / "models"
    for leftover in ("m/v9", ".staging/killed", "m/young"):  # a killed registration, training
        (models / leftover).mkdir(parents=True)
        (models / leftover / "model.onnx").write_bytes(b"x" * 10)
    for tree in (code / old, code / current, models / "m/v9", models / ".staging/killed"):
        age(tree, days=2)
    old_sizes = [p.stat().st_size for p in (code / old).rglob("*") if p.is_file()]
    deleted = leftovers_row(conn)  # the old code's files and two model files
    assert deleted[2:] == (len(old_sizes) + 2, sum(old_sizes) + 20)
    assert not (code / old).exists() and (code / current).is_dir()
    assert not (models / "m/v9").exists() and not (models / ".staging/killed").exists()
    assert (models / "m/young").is_dir()  # younger than a day: a registration in flight
    assert conn.sql(CALL).fetchall() == [(2,)]


def test_models_recorded_by_a_path_elsewhere_leave_the_models_root_alone(replaced, monkeypatch):
    """An older database's version may be recorded by an absolute path (of where the database
    was): which directory here it is cannot be told, so none is deleted."""
    conn, _ = replaced
    orphan = Path(conn._engine.db.shared_root) / "models" / "m" / "v1"
    orphan.mkdir(parents=True)
    (orphan / "model.onnx").write_bytes(b"x")
    age(orphan, days=2)
    models = conn._engine.models
    monkeypatch.setattr(models, "names", lambda: ["m"])
    monkeypatch.setattr(models, "versions", lambda name: [SimpleNamespace(
        path="/where/it/was/models/m/v1/model.onnx", digest="")])
    leftovers_row(conn)
    assert orphan.is_dir()
    monkeypatch.undo()
    leftovers_row(conn)
    assert not orphan.exists()


def test_a_run_going_keeps_all_code_and_what_is_younger_than_it(replaced, monkeypatch):
    conn, old = replaced
    code = Path(conn._engine.functions.code_root)
    staging = Path(conn._engine.db.shared_root) / "models" / ".staging" / "training"
    staging.mkdir(parents=True)
    (staging / "model.onnx").write_bytes(b"x")
    age(code / old, days=5)
    age(staging, days=2)
    running_since(conn, monkeypatch, time.time() - 3 * 24 * 3600)  # its code may be the old
    leftovers_row(conn)
    assert (code / old).is_dir() and staging.is_dir()  # the staging is younger than the run
    monkeypatch.undo()
    leftovers_row(conn)
    assert not (code / old).exists() and not staging.exists()


def test_code_named_again_while_vacuum_deletes_it_stays(replaced, monkeypatch):
    """CREATE FUNCTION with the code of a replaced version finds that code stored and records
    it; a VACUUM that read the records just before still asks again before the code goes."""
    conn, old = replaced
    code = Path(conn._engine.functions.code_root)
    age(code / old, days=2)
    other = indb.connect(conn.path, cluster="threads", workers=1)
    listed = unreferenced._old_trees

    def then_named_again(*args, **kwargs):  # between VACUUM's reading of the records and its delete
        trees = listed(*args, **kwargs)
        if old in trees:
            other.sql(ONE.format(n=1))
        return trees
    monkeypatch.setattr(unreferenced, "_old_trees", then_named_again)
    try:
        assert leftovers_row(conn)[2:] == (0, 0)  # nothing went: the old code is named again
    finally:
        other.close()
    assert conn._engine.functions.get("one").code_hash == old and (code / old).is_dir()
    assert conn.sql(CALL).fetchall() == [(1,)]


def test_create_function_stores_its_code_again_if_a_vacuum_took_it_meanwhile(replaced, monkeypatch):
    conn, old = replaced
    functions = conn._engine.functions
    stored, calls = FunctionStore._store_code, []

    def then_vacuumed(store, digest, files):  # found stored; a VACUUM deletes it before the record
        stored(store, digest, files)
        calls.append(digest)
        if len(calls) == 1:
            artifacts.remove(Path(store.code_root) / digest)
    monkeypatch.setattr(FunctionStore, "_store_code", then_vacuumed)
    conn.sql(ONE.format(n=1))
    monkeypatch.undo()
    assert calls == [old, old]  # stored again once recorded
    assert functions.get("one").code_hash == old and (Path(functions.code_root) / old).is_dir()
    assert conn.sql(CALL).fetchall() == [(1,)]


# -- an object-store warehouse ------------------------------------------------------------------

@pytest.fixture
def bucket(s3, tmp_path, monkeypatch):
    """A database in a bucket of its own, this host's scratch in the test's directory, and every
    file old enough for VACUUM (moto's objects cannot be aged)."""
    monkeypatch.setenv("INDB_SCRATCH", str(tmp_path / "scratch"))
    monkeypatch.setattr(upkeep, "ORPHAN_MIN_AGE_S", -3600)
    conn = indb.connect(catalog=f"sqlite:///{tmp_path / 'catalog.db'}",
                        warehouse=f"s3://{new_bucket(s3)}/db", properties=s3, cluster="threads",
                        workers=1)
    yield conn
    conn.close()


def objects(conn: indb.Connection, under: str) -> set[str]:
    db = conn._engine.db
    root = f"{db.shared_root}/{under}/"
    return {path.removeprefix(root) for path, _ in filesystems.list_files(root, db.io_properties)}


def test_unreferenced_objects_and_this_host_s_copies_go(bucket, monkeypatch):
    conn = bucket
    db = conn._engine.db
    conn.sql("CREATE TABLE nums (x INTEGER) WITH (SHARDS = 1)")
    conn.sql(ONE.format(n=1))
    old = conn._engine.functions.get("one").code_hash
    conn.sql(ONE.format(n=2))
    current = conn._engine.functions.get("one").code_hash
    upload = {"model.onnx": b"weights"}  # a head killed between its upload and the record
    artifacts.put_files(upload, f"{db.shared_root}/models/m/killed", db.io_properties)
    copies = db.path / "code"
    for digest in (old, current):  # this host's verified copies of both versions
        conn._engine.functions.local_code(f"{conn._engine.functions.code_root}/{digest}", digest)
    assert {p.name for p in copies.iterdir()} == {old, current}
    assert {name.split("/")[0] for name in objects(conn, "code")} == {old, current}

    old_files = {name for name in objects(conn, "code") if name.startswith(old + "/")}
    assert old_files

    with monkeypatch.context() as going:  # a run that started before the upload: all stay
        running_since(conn, going, time.time() - 3600)
        assert leftovers_row(conn)[2] == 0
    assert {name.split("/")[0] for name in objects(conn, "code")} == {old, current}
    assert objects(conn, "models") == {"m/killed/model.onnx"}

    deleted = leftovers_row(conn)
    assert deleted[2] == 2 * len(old_files) + 1  # the old code, its copy, the upload
    assert {name.split("/")[0] for name in objects(conn, "code")} == {current}
    assert {p.name for p in copies.iterdir()} == {current}
    assert objects(conn, "models") == set()
    assert conn.sql(CALL).fetchall() == [(2,)]
