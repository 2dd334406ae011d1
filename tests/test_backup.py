"""``indb backup``: a consistent copy taken while the database is in use, itself a database."""

import threading

import pytest

import indb
from indb.catalog.backup import backup


def test_a_backup_is_a_database_of_its_own_with_tables_functions_and_history(tmp_path):
    with indb.connect(tmp_path / "db") as conn:
        conn.sql("CREATE TABLE t (id BIGINT, SHARD KEY (id)) WITH (SHARDS = 2)")
        conn.sql("INSERT INTO t SELECT range FROM range(10)")
        conn.sql("DELETE FROM t WHERE id = 0")
        conn.sql("CREATE FUNCTION f LANGUAGE PYTHON AS $$\ndef f(ctx, t):\n    return t\n$$")
    copied = backup(tmp_path / "db", tmp_path / "bak")
    assert copied > 0
    with indb.connect(tmp_path / "bak") as restored:  # opens where it is: already relocated
        assert restored.sql("SELECT count(*) FROM t").fetchone() == (9,)
        assert [r[0] for r in restored.sql("SHOW FUNCTION *").fetchall()] == ["f"]
        table = restored._engine.db.load("t")[0]
        assert len(table.snapshots()) == 2 and table.location().startswith((tmp_path / "bak").as_uri())
    backup(tmp_path / "bak", tmp_path / "restored")  # a restore is a backup of the backup
    with indb.connect(tmp_path / "restored") as conn:
        assert conn.sql("SELECT count(*) FROM t").fetchone() == (9,)


def test_a_backup_taken_during_writes_holds_one_committed_state(tmp_path):
    conn = indb.connect(tmp_path / "db")
    conn.sql("CREATE TABLE t (id BIGINT)")
    stop = threading.Event()
    written = threading.Event()

    def writer():
        with indb.connect(tmp_path / "db") as other:
            while not stop.is_set():
                other.sql("INSERT INTO t SELECT range FROM range(100)")
                written.set()

    thread = threading.Thread(target=writer)
    thread.start()
    try:
        assert written.wait(60)
        backup(tmp_path / "db", tmp_path / "bak")
    finally:
        stop.set()
        thread.join()
    with indb.connect(tmp_path / "bak") as copy:
        rows = copy.sql("SELECT count(*) FROM t").fetchone()[0]
        assert rows > 0 and rows % 100 == 0  # whole inserts only, never part of one
    conn.close()


@pytest.mark.parametrize("make_target", [
    lambda t: (t / "bak").mkdir() or (t / "bak" / "x").write_text("x"),  # not empty
    lambda t: None,
])
def test_a_backup_refuses_a_used_target_or_a_place_inside_the_database(tmp_path, make_target):
    indb.connect(tmp_path / "db").close()
    make_target(tmp_path)
    target = tmp_path / "bak" if (tmp_path / "bak").exists() else tmp_path / "db" / "inner"
    with pytest.raises(indb.DirectoryError):
        backup(tmp_path / "db", target)
