"""A database directory copied or moved elsewhere: refused until relocated, then it works there,
with its history, and never writes into nor deletes from the database it came from."""

import shutil

import pytest

import indb
from indb.catalog.relocation import old_root


def build(path):
    conn = indb.connect(path)
    conn.sql("CREATE TABLE t (id BIGINT, x DOUBLE, SHARD KEY (id)) WITH (SHARDS = 4)")
    conn.sql("INSERT INTO t SELECT range, range * 1.5 FROM range(100)")
    conn.sql("DELETE FROM t WHERE id < 10")
    conn.sql("CREATE TABLE u (s VARCHAR)")
    conn.sql("INSERT INTO u VALUES ('a'), ('b')")
    conn.close()


def files_of(path):
    return sorted(p.relative_to(path) for p in (path / "warehouse").rglob("*") if p.is_file())


def test_a_copy_is_refused_with_what_to_do_and_nothing_is_written(tmp_path):
    build(tmp_path / "a")
    shutil.copytree(tmp_path / "a", tmp_path / "b")
    before = files_of(tmp_path / "b")
    with pytest.raises(indb.DirectoryError, match=r"moved or copied from .*/a.*indb relocate"):
        indb.connect(tmp_path / "b")
    assert files_of(tmp_path / "b") == before


def test_a_relocated_copy_works_where_it_is_and_leaves_the_original_alone(tmp_path):
    build(tmp_path / "a")
    original = files_of(tmp_path / "a")
    shutil.copytree(tmp_path / "a", tmp_path / "b")
    with indb.connect(tmp_path / "b", relocate=True) as copy:
        assert copy.sql("SELECT count(*), sum(x) FROM t").fetchall() == [(90, 7357.5)]
        copy.sql("INSERT INTO t VALUES (1000, 1)")
        copy.sql("DROP TABLE u")
        table = copy._engine.db.load("t")[0]
        assert table.location().startswith((tmp_path / "b").as_uri())
        # history came along: every snapshot still reads, from the copy's own files
        counts = [table.scan(snapshot_id=s.snapshot_id).to_arrow().num_rows for s in table.snapshots()]
        assert counts == [100, 90, 91]
    assert files_of(tmp_path / "a") == original  # nothing written into it, nothing deleted
    with indb.connect(tmp_path / "a") as conn:
        assert conn.sql("SELECT count(*) FROM t").fetchone() == (90,)
        assert conn.sql("SELECT count(*) FROM u").fetchone() == (2,)


def test_a_moved_database_relocates_once_and_then_opens_as_usual(tmp_path):
    build(tmp_path / "a")
    shutil.move(tmp_path / "a", tmp_path / "moved")
    with indb.connect(tmp_path / "moved", relocate=True) as conn:
        engine = conn._engine.db.engine
        assert old_root(engine, conn._engine.db.path) is None
    with indb.connect(tmp_path / "moved") as conn:  # no consent needed any more
        assert conn.sql("SELECT count(*) FROM u").fetchone() == (2,)


def test_models_move_with_the_database(tmp_path):
    torch = pytest.importorskip("torch")
    from indb.registry.models import StagedModel, staging_dir
    from indb.runtime.predictors import save_model
    conn = indb.connect(tmp_path / "a")
    with staging_dir(conn.path) as directory:
        shape, dtype, width = save_model(torch.nn.Linear(2, 1), torch.zeros(2, 2), "torch", directory)
        conn._engine.models.register(StagedModel("m", "torch", str(directory), shape, dtype,
                                                 "value", width, {}), {})
    conn.close()
    shutil.move(tmp_path / "a", tmp_path / "b")
    with indb.connect(tmp_path / "b", relocate=True) as conn:
        path = conn._engine.models.get("m").path
        assert path.startswith(str(tmp_path / "b")) and conn.sql("SELECT PREDICT('m', a, b) FROM (SELECT 1.0 AS a, 2.0 AS b)").fetchone()


def test_the_command_line_relocates_backs_up_and_restores(tmp_path):
    from click.testing import CliRunner

    from indb.cli.main import cli
    build(tmp_path / "a")
    shutil.copytree(tmp_path / "a", tmp_path / "b")
    runner = CliRunner()
    moved = runner.invoke(cli, ["relocate", str(tmp_path / "b")])
    assert moved.exit_code == 0 and "relocated" in moved.output
    again = runner.invoke(cli, ["relocate", str(tmp_path / "b")])
    assert again.exit_code == 0 and "already in place" in again.output
    (tmp_path / "empty").mkdir()
    refused = runner.invoke(cli, ["relocate", str(tmp_path / "empty")])
    assert refused.exit_code != 0 and "not an indb database" in refused.output
    assert not (tmp_path / "empty" / "catalog.db").exists()
    assert runner.invoke(cli, ["backup", str(tmp_path / "b"), str(tmp_path / "bak")]).exit_code == 0
    assert runner.invoke(cli, ["restore", str(tmp_path / "bak"), str(tmp_path / "c")]).exit_code == 0
    with indb.connect(tmp_path / "c") as conn:
        assert conn.sql("SELECT count(*) FROM u").fetchone() == (2,)
