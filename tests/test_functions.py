"""Registered functions as records: their code copied in once, by content, and their rows."""

from pathlib import Path

import pytest

from indb.catalog.database import Database
from indb.catalog.types import Column
from indb.errors import CatalogError
from indb.registry.code import code_hash
from indb.registry.functions import FunctionInfo, FunctionStore


@pytest.fixture
def store(tmp_path):
    db = Database(tmp_path / "db")
    yield FunctionStore(db)
    db.close()


def info(name="f", code=b"def f(ctx, t):\n    return t\n", **kw):
    files = {"f.py": code}
    fields = dict(mode="distributed", style="handler", entry="f.py", handler="f", frame="arrow",
                  params=("alpha",), returns=(Column("x", "DOUBLE", False),), run_command="python",
                  run_command_args=(), files=("f.py",), options={"timeout": "5"},
                  code_hash=code_hash(files), ddl="CREATE FUNCTION f ...")
    fields.update(kw)
    return FunctionInfo(name, **fields), files


def test_a_function_round_trips_through_its_row(store):
    function, files = info()
    store.create(function, files, replace=False)
    found = store.get("F")  # names are case-insensitive
    assert found.returns == function.returns and found.params == ("alpha",) and found.created
    assert {**found.__dict__, "created": ""} == function.__dict__
    assert (Path(store.code_dir(found)) / "f.py").read_bytes() == files["f.py"]


def test_code_is_stored_once_per_content_and_replace_keeps_the_old_version(store):
    old, old_files = info()
    store.create(old, old_files, replace=False)
    new, new_files = info(code=b"def f(ctx, t):\n    return None\n")
    with pytest.raises(CatalogError, match="already exists; use CREATE OR REPLACE"):
        store.create(new, new_files, replace=False)
    store.create(new, new_files, replace=True)
    assert store.get("f").code_hash == new.code_hash != old.code_hash
    assert (Path(store.code_root) / old.code_hash / "f.py").exists()  # a running instance may read it
    assert not list(Path(store.code_root).glob(".new-*"))  # no half-copied directory left


def test_find_all_and_drop(store):
    for name in ("b", "a"):
        function, files = info(name)
        store.create(function, files, replace=False)
    assert [f.name for f in store.all()] == ["a", "b"]
    store.drop("a")
    assert store.find("a") is None
    with pytest.raises(CatalogError, match="function a does not exist; SHOW FUNCTION \\* lists"):
        store.drop("a")
    with pytest.raises(CatalogError, match="function a does not exist"):
        store.get("a")
