"""SHOW WORKERS [FOR TABLE t]: parsed, planned and shown on an embedded database's local
cluster (on a scheduler's workers: tests/test_workers.py)."""

from __future__ import annotations

import pytest

import indb
from indb.errors import PrivilegeError, SqlError
from indb.parser import parse, render_indb
from indb.parser.workers import ShowWorkers
from indb.sharding.worker_placement import place


@pytest.mark.parametrize("sql", ["SHOW WORKERS", "SHOW WORKERS FOR TABLE t"])
def test_it_parses_and_renders_back(sql):
    (tree,) = parse(sql)
    assert isinstance(tree, ShowWorkers) and render_indb(tree) == sql


def test_an_unknown_table_is_refused(tmp_path):
    conn = indb.connect(tmp_path / "db", cluster="threads", workers=2)
    try:
        with pytest.raises(SqlError, match="table nope does not exist"):
            conn.sql("SHOW WORKERS FOR TABLE nope")
    finally:
        conn.close()


def test_the_local_cluster_s_workers_with_their_shards(tmp_path):
    conn = indb.connect(tmp_path / "db", cluster="threads", workers=2, default_shards=4)
    try:
        rows = conn.sql("SHOW WORKERS").arrow().to_pylist()
        conn.sql("CREATE TABLE six (a INTEGER) WITH (SHARDS = 6)")
        for_table = conn.sql("SHOW WORKERS FOR TABLE six").arrow().to_pylist()
        conn.sql("CREATE USER bob")
    finally:
        conn.close()
    bob = indb.connect(tmp_path / "db", cluster="threads", workers=2, user="bob")
    try:
        with pytest.raises(PrivilegeError, match="admin"):  # the cluster's addresses: admins'
            bob.sql("SHOW WORKERS")
    finally:
        bob.close()
    assert len(rows) == 2 and all(r["health"] == "ok" and r["threads"] >= 1 for r in rows)
    names = [r["worker"] for r in rows]
    owners = place(range(4), names)  # where a run of a 4-shard table puts its shards
    assert {r["worker"]: r["shards"] for r in rows} == \
        {name: [k for k in range(4) if owners[k] == name] for name in names}
    assert sorted(k for r in for_table for k in r["shards"]) == list(range(6))
    assert all(len(r["shards"]) == 3 for r in for_table)  # balanced
    assert all(r["address"] for r in rows) and all(r["memory_bytes"] >= 0 for r in rows)


def test_a_run_puts_each_shard_where_show_workers_says(tmp_path):
    conn = indb.connect(tmp_path / "db", cluster="threads", workers=2)
    try:
        conn.sql("CREATE TABLE five (a INTEGER, SHARD KEY (a)) WITH (SHARDS = 5)")
        conn.sql("INSERT INTO five SELECT range FROM range(50)")
        conn.sql("CREATE FUNCTION echo LANGUAGE PYTHON AS $$\ndef echo(ctx, t):\n    return t\n$$")
        run_id = conn.sql("EXECUTE FUNCTION echo(INPUT_TABLE_NAMES => INPUT_TABLE(five), "
                          "OUTPUT_TABLE_NAMES => OUTPUT_TABLES('copy'))").fetchone()[0]
        ran = {r["shard"]: r["worker"] for r in
               conn.sql(f"SHOW FUNCTION STATUS VERBOSE FOR '{run_id}'").arrow().to_pylist()}
        shown = conn.sql("SHOW WORKERS FOR TABLE five").arrow().to_pylist()
    finally:
        conn.close()
    assert ran == {k: r["worker"] for r in shown for k in r["shards"]}
