"""Where instances run on a worker: its i-th shard in slot i mod slots, in the host process that
slot keeps between runs."""

from indb.sharding.supervisor import HostPool


def test_a_shard_runs_in_its_slots_host_run_after_run(conn, table_name):
    # the session cluster: 2 workers of 2 slots; shard k -> worker k mod 2, slot (k // 2) mod 2
    conn.sql(f"CREATE TABLE {table_name} (id BIGINT, SHARD KEY (id)) WITH (SHARDS = 8)")
    conn.sql(f"INSERT INTO {table_name} SELECT range FROM range(800)")
    conn.sql("CREATE OR REPLACE FUNCTION whereami LANGUAGE PYTHON AS $$\nimport os\n"
             "def whereami(ctx, t):\n    return {'shard': [ctx.shard], 'pid': [os.getpid()]}\n$$")
    placements = []
    for run in range(2):
        out = f"{table_name}_where{run}"
        conn.sql(f"EXECUTE FUNCTION whereami(INPUT_TABLE_NAMES => INPUT_TABLE({table_name}), "
                 f"OUTPUT_TABLE_NAMES => OUTPUT_TABLES('{out}'))")
        placements.append(dict(conn.sql(f"SELECT shard, pid FROM {out}").fetchall()))
    assert placements[0] == placements[1]  # each shard in the same process both times
    pids = placements[0]
    # worker w runs shards w, w+2, w+4, w+6; its two slots take every other one of them
    assert all(pids[shard] == pids[shard % 4] for shard in range(8))
    assert len({pids[0], pids[1], pids[2], pids[3]}) == 4


def test_a_dead_host_is_replaced_in_its_slot():
    pool = HostPool()
    slot, host = pool.acquire(5)  # outside a Dask worker: one slot
    assert slot == 0
    host.kill()
    pool.release(slot, host)
    slot, again = pool.acquire(5)
    try:
        assert again is not host and again.alive
    finally:
        again.kill()
        pool.release(slot, again)
