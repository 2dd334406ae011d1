from indb.sharding import workdirs
from indb.sharding.jobs import RUNS_DIR


def _work_root(db, run_id):
    root = db / RUNS_DIR / run_id
    (root / "shard-0" / "scratch").mkdir(parents=True)
    (root / "shard-0" / "stdout.log").write_text("log")
    return root


def test_a_work_directory_is_gone_from_runs_at_once_and_deleted_after(tmp_path):
    root = _work_root(tmp_path, "r1")
    workdirs.remove_later(root, tmp_path)
    assert not root.exists()  # out of the way when the statement answers
    workdirs.wait_removed()
    assert not any((tmp_path / workdirs.REMOVED_DIR).iterdir())


def test_what_a_dead_process_left_to_remove_goes_with_the_next_run(tmp_path):
    left = tmp_path / workdirs.REMOVED_DIR / "r0-deadbeef"
    (left / "shard-3").mkdir(parents=True)
    workdirs.remove_later(_work_root(tmp_path, "r1"), tmp_path)
    workdirs.wait_removed()
    assert not left.exists()


def test_a_run_without_a_work_directory_removes_nothing(tmp_path):
    workdirs.remove_later(tmp_path / RUNS_DIR / "never", tmp_path)
    assert not (tmp_path / RUNS_DIR).exists()
