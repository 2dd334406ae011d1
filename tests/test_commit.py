"""A run's commit is one catalog transaction: a head killed in the middle of it (SIGKILL while
the commit waits at its test hook, ``INDB_COMMIT_PAUSE``, with every table, model and record
written but not committed) leaves nothing partial, and the next run on the database works."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys

import pytest
import torch

import indb
from indb.catalog.database import Database
from indb.errors import CatalogError
from indb.registry.models import ModelStore, StagedModel, staging_dir
from indb.registry.runs import RunLog
from indb.runtime.predictors import save_model
from indb.sharding.commit import PAUSE_VARIABLE, together

TWO_OUTPUTS = """
def both(ctx, t):
    return t, t
"""
RUN = ("EXECUTE FUNCTION both(INPUT_TABLE_NAMES => INPUT_TABLE(src), "
       "OUTPUT_TABLE_NAMES => OUTPUT_TABLES('old', 'fresh'))")
HEAD = """
import json
import sys
import indb
conn = indb.connect(**json.loads(sys.argv[1]), workers=1, cluster="threads")
conn.sql(sys.argv[2])
"""


def _connect(where: dict[str, str]) -> indb.Connection:
    return indb.connect(**where, workers=1, cluster="threads")


def _database(where: dict[str, str]) -> None:
    with _connect(where) as conn:
        conn.sql("CREATE TABLE src (k BIGINT, SHARD KEY (k)) WITH (SHARDS = 2)")
        conn.sql("INSERT INTO src SELECT range FROM range(10)")
        conn.sql("CREATE TABLE old (k BIGINT, SHARD KEY (k)) WITH (SHARDS = 2)")
        conn.sql("INSERT INTO old VALUES (-1)")
        conn.sql(f"CREATE FUNCTION both LANGUAGE PYTHON AS $${TWO_OUTPUTS}$$")


def _head_paused_in_commit(where: dict[str, str], fifo) -> subprocess.Popen:
    """A head process running RUN, once it waits in its commit (told through ``fifo``)."""
    os.mkfifo(fifo)
    head = subprocess.Popen([sys.executable, "-c", HEAD, json.dumps(where), RUN],
                            env={**os.environ, PAUSE_VARIABLE: str(fifo)})
    with open(fifo) as said:  # blocks until the head is in its commit (or fails the test if
        assert said.readline() == "paused\n"  # the head exits first: EOF, an empty line)
    return head


def _kill_the_head_mid_commit_then_run_again(where: dict[str, str], fifo) -> None:
    _database(where)
    head = _head_paused_in_commit(where, fifo)
    head.send_signal(signal.SIGKILL)
    assert head.wait() == -signal.SIGKILL
    with _connect(where) as conn:
        # neither output changed: not the appended table, not the one the run would create
        assert conn.sql("SELECT k FROM old").fetchall() == [(-1,)]
        assert not conn._engine.db.exists("fresh")
        (run,) = conn.sql("SHOW FUNCTION STATUS").arrow().to_pylist()
        assert run["status"] == "error" and "exited before it finished" in run["message"]
        conn.sql(RUN)  # the leftovers of the killed commit are ignored
        assert conn.sql("SELECT count(*), sum(k) FROM old").fetchone() == (11, 45 - 1)
        assert conn.sql("SELECT count(*), sum(k) FROM fresh").fetchone() == (10, 45)


def test_a_head_killed_mid_commit_leaves_nothing_partial_and_the_next_run_works(tmp_path, pipe_dir):
    _kill_the_head_mid_commit_then_run_again({"path": str(tmp_path / "db")}, pipe_dir / "commit")


@pytest.mark.slow
def test_a_head_killed_mid_commit_on_a_postgresql_catalog(tmp_path, pipe_dir):
    """The same on the layout of several hosts: the catalog in PostgreSQL (which rolls the
    transaction back when the head's connection drops), the warehouse on a shared path."""
    from stores import new_database, postgres_server
    with postgres_server() as pg:
        _kill_the_head_mid_commit_then_run_again(
            {"catalog": new_database(pg), "warehouse": str(tmp_path / "shared")},
            pipe_dir / "commit")


def test_the_paused_commit_goes_on_when_answered(tmp_path, pipe_dir):
    """The hook itself changes nothing: answered, the head commits the run whole."""
    where = {"path": str(tmp_path / "db")}
    _database(where)
    fifo = pipe_dir / "commit"
    head = _head_paused_in_commit(where, fifo)
    with open(fifo, "w") as answer:
        answer.write("go on\n")
    assert head.wait(timeout=120) == 0
    with _connect(where) as conn:
        assert conn.sql("SELECT count(*) FROM old").fetchone() == (11,)
        assert conn.sql("SELECT count(*) FROM fresh").fetchone() == (10,)
        (run,) = conn.sql("SHOW FUNCTION STATUS").arrow().to_pylist()
        assert run["status"] == "completed"


def test_a_commit_that_fails_half_way_rolls_every_table_back(tmp_path, pipe_dir):
    """The second output's commit fails (a table was made meanwhile under the name the run
    creates): the first output's append, made in the same transaction, is rolled back too.
    (Outputs commit in name order: 'old' is appended before 'young' is created.)"""
    where = {"path": str(tmp_path / "db")}
    _database(where)
    ready, go = pipe_dir / "ready", pipe_dir / "go"
    os.mkfifo(ready)
    os.mkfifo(go)
    with _connect(where) as conn:
        conn.sql("CREATE FUNCTION held LANGUAGE PYTHON AS $$\n"
                 "def held(ctx, t):\n"
                 "    if ctx.shard == 0:\n"
                 "        open(ctx.params['ready'], 'w').close()\n"
                 "        open(ctx.params['go']).read()\n"
                 "    return t, t\n$$")
        run_id = conn.sql(f"EXECUTE FUNCTION held(INPUT_TABLE_NAMES => INPUT_TABLE(src), "
                          f"OUTPUT_TABLE_NAMES => OUTPUT_TABLES('young', 'old'), "
                          f"PARAMS => KV_PAIRS(ready = '{ready}', go = '{go}'), "
                          f"OPTIONS => KV_PAIRS(nowait = 'true'))").fetchone()[0]
        ready.read_text()  # the run is under way, 'young' planned as a table it creates
        conn.sql("CREATE TABLE young (k BIGINT)")
        with open(go, "w"):
            pass
        (run,) = conn.wait(run_id).arrow().to_pylist()
        assert run["status"] == "error" and "young already exists" in run["message"]
        assert conn.sql("SELECT k FROM old").fetchall() == [(-1,)]  # the append went back too
        assert conn.sql("SELECT count(*) FROM young").fetchone() == (0,)


def test_model_versions_of_a_rolled_back_commit_vanish_and_their_leftovers_are_skipped(tmp_path):
    """A version registered in the transaction is gone when it rolls back (as when its head
    is killed); its artifact directory, left behind, does not block the next registration."""
    db = Database(tmp_path / "db")
    models = ModelStore(db)

    def staged() -> StagedModel:
        with staging_dir(db.path) as directory:
            shape, dtype, width = save_model(torch.nn.Linear(4, 2), torch.randn(3, 4), "torch",
                                             directory)
        return StagedModel("m", "torch", str(directory), shape, dtype, "class", width, {})
    try:
        with pytest.raises(RuntimeError, match="died"):
            with together(db, RunLog(db.engine), models) as (_, _, joined):
                lost = joined.register(staged(), {})
                raise RuntimeError("the head died here")
        assert lost.version == 1 and os.path.exists(lost.path)  # a leftover, with no row
        with pytest.raises(CatalogError, match="does not exist"):
            models.versions("m")
        again = models.register(staged(), {})
        assert again.version == 2 and [v.version for v in models.versions("m")] == [2]
    finally:
        db.close()
