"""Registered code and models in an S3 warehouse (moto's server): stored as objects, run from
each host's verified copy, kept between runs; a copy that does not match its hash is refused."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import time

import numpy as np
import pyarrow.fs as pafs
import pytest

import indb
from indb.catalog import artifacts, filesystems
from indb.errors import DataError, RunError
from indb.registry.code import code_hash
from indb.registry.environments import freeze_hash
from indb.runtime import venvs
from stores import TRAIN, make_points, new_bucket


@pytest.fixture
def conn(s3, tmp_path, monkeypatch):
    """A database whose warehouse is a bucket of the S3 server (catalog: a SQLite file), its
    hosts' scratch (where copies go) in the test's directory."""
    monkeypatch.setenv("INDB_SCRATCH", str(tmp_path / "scratch"))
    connection = indb.connect(catalog=f"sqlite:///{tmp_path / 'catalog.db'}",
                              warehouse=f"s3://{new_bucket(s3)}/db", properties=s3,
                              cluster="threads", workers=2)
    yield connection
    connection.close()


def test_a_tree_s_digest_is_the_code_hash_of_its_files(tmp_path):
    files = {"main.py": b"print(1)\n", "lib/helper.py": b"X = 2\n"}
    for name, content in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_bytes(content)
    assert artifacts.tree_digest(tmp_path) == code_hash(files)
    (tmp_path / "lib/helper.py").write_bytes(b"X = 3\n")
    assert artifacts.tree_digest(tmp_path) != code_hash(files)


def test_a_copy_is_verified_and_kept(s3, tmp_path):
    uri = f"s3://{new_bucket(s3)}/tree"
    files = {"a.txt": b"one", "b/c.txt": b"two"}
    artifacts.put_files(files, uri, s3)
    copy = artifacts.fetched(uri, code_hash(files), tmp_path / "cache", s3)
    assert copy == tmp_path / "cache" / code_hash(files)
    assert {p.relative_to(copy).as_posix(): p.read_bytes() for p in copy.rglob("*")
            if p.is_file()} == files
    artifacts.put_files({"a.txt": b"changed"}, uri, s3)  # kept: the copy is not read again
    assert artifacts.fetched(uri, code_hash(files), tmp_path / "cache", s3) == copy
    assert (copy / "a.txt").read_bytes() == b"one"
    with pytest.raises(DataError, match="do not match the content hash"):
        artifacts.fetched(uri, hashlib.sha256(b"other").hexdigest(), tmp_path / "cache", s3)
    assert sorted(p.name for p in (tmp_path / "cache").iterdir()) == [code_hash(files)]


def test_a_host_s_copies_unused_for_a_week_go_when_it_next_downloads_one(s3, tmp_path):
    uri = f"s3://{new_bucket(s3)}"
    first, second = {"a.txt": b"one"}, {"b.txt": b"two"}
    artifacts.put_files(first, f"{uri}/first", s3)
    artifacts.put_files(second, f"{uri}/second", s3)
    cache = tmp_path / "cache"
    used = artifacts.fetched(f"{uri}/first", code_hash(first), cache, s3)
    stale, killed = cache / ("0" * 64), cache / ".fetch-killed"  # a replaced version's, a download's
    for directory in (stale, killed):
        directory.mkdir()
        (directory / "x").write_bytes(b"x")
    old = time.time() - artifacts.UNUSED_S - 60
    for directory in (used, stale, killed):
        os.utime(directory, (old, old))
    assert artifacts.fetched(f"{uri}/first", code_hash(first), cache, s3) == used  # used: marked
    artifacts.fetched(f"{uri}/second", code_hash(second), cache, s3)  # a download prunes
    assert sorted(p.name for p in cache.iterdir()) == sorted([code_hash(first), code_hash(second)])
    assert (used / "a.txt").read_bytes() == b"one"


def test_function_code_from_file_paths_runs_from_each_host_s_copy(conn, tmp_path):
    udfs = tmp_path / "udfs"
    (udfs / "lib").mkdir(parents=True)
    (udfs / "lib" / "scale.py").write_text("FACTOR = 10\n")
    (udfs / "times.py").write_text(
        "from scale import FACTOR\n"
        "def times(ctx, t):\n    return {'v': [x * FACTOR for x in t.column('a').to_pylist()]}\n")
    conn.sql("CREATE TABLE nums (a INTEGER, SHARD KEY (a)) WITH (SHARDS = 2)")
    conn.sql("INSERT INTO nums VALUES (1), (2), (3), (4)")
    conn.sql(f"CREATE FUNCTION times RUN_COMMAND = 'python' RUN_COMMAND_ARGS = 'times.py' "
             f"FILE PATHS '{udfs / 'times.py'}', '{udfs / 'lib' / 'scale.py'}'")
    db = conn._engine.db
    info = conn._engine.functions.get("times")
    stored = f"{db.root}/code/{info.code_hash}"
    assert {p.rsplit("/", 1)[1] for p, _ in filesystems.list_files(stored, db.io_properties)} \
        == {"times.py", "scale.py"}
    local = db.path / "code" / info.code_hash
    assert not local.exists()  # the head wrote the code to the warehouse, nowhere else
    conn.sql("EXECUTE FUNCTION times(INPUT_TABLE_NAMES => INPUT_TABLE(nums), "
             "OUTPUT_TABLE_NAMES => OUTPUT_TABLES('tens'))")
    assert sorted(r[0] for r in conn.sql("SELECT v FROM tens").fetchall()) == [10, 20, 30, 40]
    assert artifacts.tree_digest(local) == info.code_hash
    inode = local.stat().st_ino
    conn.sql("EXECUTE FUNCTION times(INPUT_TABLE_NAMES => INPUT_TABLE(nums), "
             "OUTPUT_TABLE_NAMES => OUTPUT_TABLES('tens'))")
    assert local.stat().st_ino == inode  # the second run reused the copy
    assert conn.sql("SELECT count(*) FROM tens").fetchone() == (8,)
    assert not [p for p in local.parent.iterdir() if p.name.startswith(".fetch-")]


def test_code_changed_in_the_store_is_refused(conn, tmp_path):
    conn.sql("CREATE TABLE one (a INTEGER)")
    conn.sql("INSERT INTO one VALUES (1)")
    conn.sql("CREATE FUNCTION f MODE = 'nondistributed' LANGUAGE PYTHON AS $$\n"
             "def f(ctx, t):\n    return t\n$$")
    db = conn._engine.db
    info = conn._engine.functions.get("f")
    (path, _), = filesystems.list_files(f"{db.root}/code/{info.code_hash}", db.io_properties)
    fs, key = filesystems.filesystem(path, db.io_properties)
    with fs.open_output_stream(key) as stream:
        stream.write(b"import os\ndef f(ctx, t):\n    os.system('true')\n    return t\n")
    with pytest.raises(RunError, match="do not match the content hash"):
        conn.sql("EXECUTE FUNCTION f(INPUT_TABLE_NAMES => INPUT_TABLE(one), "
                 "OUTPUT_TABLE_NAMES => OUTPUT_TABLES('out'))")
    assert not (db.path / "code" / info.code_hash).exists()
    assert "out" not in [r[0] for r in conn.sql("SHOW TABLES").fetchall()]


USE = """CREATE FUNCTION use LANGUAGE PYTHON AS $$
from indb import udf
@udf.function(frame="numpy")
def use(ctx, t):
    return {"id": t["id"], "p": ctx.models.load("clf").predict(t["f"])}
$$"""


def test_a_model_saved_by_a_run_is_in_the_store_and_used_by_the_next(conn):
    make_points(conn)
    conn.sql(TRAIN)
    conn.sql("EXECUTE FUNCTION fit(INPUT_TABLE_NAMES => INPUT_TABLE(pts))")
    db = conn._engine.db
    info = conn._engine.models.get("clf")
    assert info.path.startswith(f"{db.root}/models/clf/") and info.digest
    assert filesystems.size(info.path, db.io_properties) > 0
    conn.sql(USE)
    conn.sql("EXECUTE FUNCTION use(INPUT_TABLE_NAMES => INPUT_TABLE(pts), "
             "OUTPUT_TABLE_NAMES => OUTPUT_TABLES('preds'))")
    assert conn.sql("SELECT count(*) FROM preds JOIN pts USING (id) WHERE p = label").fetchone() \
        == (200,)
    copy = db.path / "models" / ".copies" / info.digest
    assert artifacts.tree_digest(copy) == info.digest  # the workers' verified copy
    rows = conn.sql("SELECT label, PREDICT('clf', f) AS p, count(*) FROM pts "
                    "GROUP BY ALL ORDER BY ALL").fetchall()
    assert rows == [(0, 0, 100), (1, 1, 100)]
    assert conn.model("clf").predict(np.array([[9.0, 3.0]], dtype=np.float32)).tolist() == [1]
    conn.sql("DROP MODEL clf")
    assert filesystems.list_files(f"{db.root}/models/clf", db.io_properties) == []


def test_create_model_from_file_uploads_it(conn, tmp_path):
    import torch
    torch.manual_seed(0)
    module = torch.nn.Sequential(torch.nn.Linear(3, 2))
    path = tmp_path / "lin.pt2"
    torch.export.save(torch.export.export(module, (torch.zeros(4, 3),),
                                          dynamic_shapes=({0: torch.export.Dim("rows")},)), path)
    conn.sql(f"CREATE MODEL lin FROM FILE '{path}'")
    db = conn._engine.db
    info = conn._engine.models.get("lin")
    assert info.path.startswith(f"{db.root}/models/lin/")
    assert not (db.path / "models" / ".staging").exists() or \
        not list((db.path / "models" / ".staging").iterdir())  # nothing left on the head's disk
    rows = np.array([[1.0, 2.0, 3.0]], dtype=np.float32)
    expected = module(torch.tensor(rows)).argmax(1).tolist()
    assert conn.model("lin").predict(rows).tolist() == expected


def test_a_failed_run_leaves_no_model_in_the_store(conn):
    conn.sql("CREATE TABLE few (a INTEGER)")
    conn.sql("INSERT INTO few VALUES (1)")
    conn.sql("""CREATE FUNCTION half LANGUAGE PYTHON AS $$
import torch
def half(ctx, t):
    ctx.models.save("lost", torch.nn.Linear(2, 1), example=torch.zeros(2, 2))
    if ctx.shard == 1:
        raise ValueError("shard one fails")
$$""")
    conn.sql("CREATE TABLE two (a INTEGER, SHARD KEY (a)) WITH (SHARDS = 2)")
    conn.sql("INSERT INTO two VALUES (1), (2), (3), (4)")
    with pytest.raises(RunError, match="shard one fails"):
        conn.sql("EXECUTE FUNCTION half(INPUT_TABLE_NAMES => INPUT_TABLE(two))")
    db = conn._engine.db
    assert filesystems.list_files(f"{db.root}/models", db.io_properties) == []
    assert isinstance(filesystems.filesystem(db.root, db.io_properties)[0], pafs.S3FileSystem)


def test_a_run_reports_the_bytes_each_worker_read(conn):
    conn.sql("CREATE TABLE big (a BIGINT, SHARD KEY (a)) WITH (SHARDS = 4)")
    conn.sql("INSERT INTO big SELECT range FROM range(10000)")
    conn.sql("CREATE FUNCTION echo LANGUAGE PYTHON AS $$\ndef echo(ctx, t):\n    return t\n$$")
    result = conn.sql("EXECUTE FUNCTION echo(INPUT_TABLE_NAMES => INPUT_TABLE(big), "
                      "OUTPUT_TABLE_NAMES => OUTPUT_TABLES('copy'))").arrow().to_pylist()[0]
    db = conn._engine.db
    table, _ = db.load("big")
    stored = sum(task.file.file_size_in_bytes for task in table.scan().plan_files())
    assert result["bytes_read"] == stored  # every data file of the input, read once
    workers = json.loads(result["workers"])
    assert sum(w["shards"] for w in workers.values()) == 4 and len(workers) == 2
    assert sum(w["bytes_read"] for w in workers.values()) == stored
    assert all(w["bytes_read"] > 0 and w["cached_shards"] == 0 for w in workers.values())  # CPU
    verbose = conn.sql(f"SHOW FUNCTION STATUS VERBOSE FOR '{result['run_id']}'").arrow().to_pylist()
    assert sum(r["bytes_read"] for r in verbose) == stored
    assert all(f"read: {r['bytes_read']} bytes" in r["FUNCTION_STATUSES"] for r in verbose)


def test_a_function_environment_is_built_on_each_host_from_its_record(conn, tmp_path):
    """The head builds the environment in its scratch; a worker builds its own copy from the
    record's pip freeze (checked against its hash) and runs the function in it."""
    package = "inflection==0.5.1"
    fetched = subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "--dest",
                              str(tmp_path / "wheel"), package], capture_output=True, timeout=300)
    if fetched.returncode != 0:
        pytest.skip(f"pip cannot fetch {package} from the package index (offline?)")
    conn.sql("CREATE FUNCTION ENVIRONMENT e")
    conn.sql(f"ALTER FUNCTION ENVIRONMENT e INSTALL PYTHON PACKAGE '{package}'")
    conn.sql("CREATE FUNCTION camel MODE = 'nondistributed' WITH OPTIONS (SET_ENVIRONMENT = 'e') "
             "LANGUAGE PYTHON AS $$\ndef camel(ctx):\n    import sys, inflection\n"
             "    return {'v': [inflection.camelize('in_db')], 'python': [sys.executable]}\n$$")
    conn.sql("EXECUTE FUNCTION camel(OUTPUT_TABLE_NAMES => OUTPUT_TABLES('camels'))")
    ((value, python),) = conn.sql("SELECT v, python FROM camels").fetchall()
    info = conn._engine.environments.get("e")
    copy = conn._engine.db.path / "environments" / ".copies" / info.hash
    assert value == "InDb" and python.startswith(str(copy))  # the worker's own, by hash
    assert freeze_hash(venvs.freeze(copy)) == info.hash
