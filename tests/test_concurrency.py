"""Several processes on one database: writes both land or fail cleanly, never corrupt it."""

import multiprocessing

import numpy as np
import pyarrow as pa

import indb


def _writer(path, table, worker, barrier, out):
    conn = indb.connect(path)
    barrier.wait()  # start together, so the commits really race
    landed = []
    for batch in range(5):
        ids = np.arange(100, dtype=np.int64) + 100 * (worker * 5 + batch)
        try:
            conn.load(table, pa.table({"id": ids, "worker": np.full(100, worker, dtype=np.int32)}))
            landed.append(batch)
        except indb.ConflictError:
            pass
    out.put((worker, landed))


def test_concurrent_inserts_all_land_or_fail_cleanly(tmp_path):
    path = tmp_path / "db"
    with indb.connect(path) as conn:
        conn.sql("CREATE TABLE t (id BIGINT, worker INTEGER, SHARD KEY (id)) WITH (SHARDS = 4)")
    ctx = multiprocessing.get_context("spawn")
    barrier, out = ctx.Barrier(3), ctx.Queue()
    procs = [ctx.Process(target=_writer, args=(path, "t", w, barrier, out)) for w in range(3)]
    for p in procs:
        p.start()
    results = dict(out.get(timeout=120) for _ in procs)
    for p in procs:
        p.join(timeout=60)
        assert p.exitcode == 0
    expected = sorted(100 * (w * 5 + b) + i for w, batches in results.items() for b in batches
                      for i in range(100))
    with indb.connect(path) as conn:
        ids = sorted(r[0] for r in conn.sql("SELECT id FROM t").fetchall())
        assert ids == expected
        assert len(ids) >= 100  # at least the first commit of the race landed
        snapshots = conn.table("t")._engine.db.load("t")[0].snapshots()
        assert len(snapshots) == sum(len(b) for b in results.values())


def test_cli_writes_while_another_connection_holds_the_database(tmp_path):
    import subprocess
    import sys
    path = tmp_path / "db"
    with indb.connect(path) as holder:
        holder.sql("CREATE TABLE t (a INTEGER)")
        holder.sql("INSERT INTO t VALUES (1)")
        done = subprocess.run([sys.executable, "-m", "indb.cli.main", "--db", str(path), "sql",
                               "INSERT INTO t VALUES (2); SELECT count(*) AS n FROM t"],
                              capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stderr
        assert sorted(holder.sql("SELECT a FROM t").fetchall()) == [(1,), (2,)]
