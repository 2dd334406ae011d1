"""Registering and running functions end to end, on the session's local Dask cluster."""

import os

import pyarrow as pa
import pytest

import indb
from indb.errors import CatalogError, SqlError


@pytest.fixture
def ticks(conn, table_name):
    """A 4-shard table of 1,000 rows: id, sym, px."""
    conn.sql(f"CREATE TABLE {table_name} (id BIGINT, sym VARCHAR, px DOUBLE, SHARD KEY (id)) WITH (SHARDS = 4)")
    conn.sql(f"INSERT INTO {table_name} SELECT range, 'S' || (range % 7), range * 0.5 FROM range(1000)")
    return table_name


def create(conn, name: str, code: str, extra: str = "") -> None:
    conn.sql(f"CREATE OR REPLACE FUNCTION {name} LANGUAGE PYTHON {extra} AS $$\n{code}\n$$")


def test_distributed_instances_see_only_their_shard_and_write_to_it(conn, ticks, table_name):
    create(conn, "tag_shard", """
def tag_shard(ctx, t):
    import os
    return t.append_column("shard", pa.array([ctx.shard] * t.num_rows, pa.int32())) \\
            .append_column("pid", pa.array([os.getpid()] * t.num_rows))
import pyarrow as pa""")
    out = f"{table_name}_out"
    result = conn.sql(f"EXECUTE FUNCTION tag_shard(INPUT_TABLE_NAMES => INPUT_TABLE({ticks}), "
                      f"OUTPUT_TABLE_NAMES => OUTPUT_TABLES('{out}'))")
    run_id, status, rows_in, rows_out = result.fetchone()[:4]  # then bytes_read, workers
    assert (status, rows_in, rows_out) == ("completed", 1000, 1000)
    table = conn.table(out)
    assert table.info.shard_key == ("id",) and table.shards == 4  # sharded like the input
    for k in range(4):
        rows = table.shard(k)
        assert set(rows["shard"].to_pylist()) == {k}
        assert sorted(rows["id"].to_pylist()) == sorted(conn.table(ticks).shard(k)["id"].to_pylist())
    pids = set(table.arrow()["pid"].to_pylist())
    assert os.getpid() not in pids  # registered code never runs in the process owning the catalog


def test_output_of_one_run_is_one_snapshot(conn, ticks, table_name):
    create(conn, "ident", "def ident(ctx, t):\n    return t")
    out = f"{table_name}_out"
    conn.sql(f"CREATE TABLE {out} (id BIGINT, sym VARCHAR, px DOUBLE, SHARD KEY (id)) WITH (SHARDS = 4)")
    before = len(conn._engine.db.load(out)[0].history())
    conn.sql(f"EXECUTE FUNCTION ident(INPUT_TABLE_NAMES => INPUT_TABLE({ticks}), "
             f"OUTPUT_TABLE_NAMES => OUTPUT_TABLES('{out}'))")
    table = conn._engine.db.load(out)[0]
    assert len(table.history()) == before + 1
    assert table.current_snapshot().summary["added-data-files"] == "4"
    assert conn.sql(f"SELECT count(*), sum(px) FROM {out}").fetchone() == (1000, 249750.0)


def test_input_query_is_pushed_down_per_shard(conn, ticks, table_name):
    create(conn, "count_rows", """
def count_rows(ctx, t):
    return {"shard": [ctx.shard], "rows": [t.num_rows], "cols": [",".join(t.column_names)]}""")
    out = f"{table_name}_out"
    conn.sql(f"EXECUTE FUNCTION count_rows(INPUT_TABLE_NAMES => INPUT_TABLE("
             f"SELECT sym, count(*) AS n FROM {ticks} WHERE id < 500 GROUP BY sym), "
             f"OUTPUT_TABLE_NAMES => OUTPUT_TABLES('{out}'))")
    rows = conn.sql(f"SELECT shard, rows, cols FROM {out} ORDER BY shard").fetchall()
    assert [r[0] for r in rows] == [0, 1, 2, 3] and all(r[2] == "sym,n" for r in rows)
    # a per-shard GROUP BY: each shard has at most 7 groups, and all shards together see 500 rows
    expected = [len(set(r.as_py() for r in conn.table(ticks).shard(k).filter(
        pa.compute.less(conn.table(ticks).shard(k)["id"], 500))["sym"])) for k in range(4)]
    assert [r[1] for r in rows] == expected


def test_nondistributed_sees_every_row_and_replicated_inputs_are_whole(conn, ticks, table_name):
    sectors = f"{table_name}_sectors"
    conn.sql(f"CREATE REPLICATED TABLE {sectors} (sym VARCHAR, sector VARCHAR)")
    conn.sql(f"INSERT INTO {sectors} VALUES ('S0', 'tech'), ('S1', 'energy')")
    create(conn, "sizes", "def sizes(ctx, t, s):\n    return {'shard': [ctx.shard], 'n': [t.num_rows], 'm': [s.num_rows]}")
    out_d, out_n = f"{table_name}_d", f"{table_name}_n"
    conn.sql(f"EXECUTE FUNCTION sizes(INPUT_TABLE_NAMES => INPUT_TABLES({ticks}, {sectors}), "
             f"OUTPUT_TABLE_NAMES => OUTPUT_TABLES('{out_d}'))")
    assert conn.sql(f"SELECT sum(n), min(m), max(m), count(*) FROM {out_d}").fetchone() == (1000, 2, 2, 4)
    create(conn, "sizes", "def sizes(ctx, t, s):\n    return {'shard': [ctx.shard], 'n': [t.num_rows], 'm': [s.num_rows]}",
           "MODE = 'nondistributed'")
    conn.sql(f"EXECUTE FUNCTION sizes(INPUT_TABLE_NAMES => INPUT_TABLES({ticks}, {sectors}), "
             f"OUTPUT_TABLE_NAMES => OUTPUT_TABLES('{out_n}'))")
    assert conn.sql(f"SELECT shard, n, m FROM {out_n}").fetchall() == [(0, 1000, 2)]


def test_frames_params_and_context(conn, ticks, table_name):
    conn.sql(f"CREATE TABLE {table_name}_img (id BIGINT, px FLOAT[4], SHARD KEY (id)) WITH (SHARDS = 2)")
    conn.sql(f"INSERT INTO {table_name}_img SELECT range, [range, 1, 2, 3]::FLOAT[4] FROM range(10)")
    create(conn, "frames", """
from indb import udf
@udf.function(frame="numpy", params=["scale"])
def frames(ctx, t):
    ctx.status("scaling")
    ctx.progress(1, 1)
    print("stdout line from", ctx.shard)
    ctx.logger.info("log line from %s", ctx.shard)
    return {"id": t["id"], "total": t["px"].sum(axis=1) * float(ctx.params["scale"]),
            "width": [t["px"].shape[1]] * len(t["id"]), "scratch": [ctx.scratch.is_dir()] * len(t["id"])}""")
    out = f"{table_name}_out"
    run_id = conn.sql(f"EXECUTE FUNCTION frames(INPUT_TABLE_NAMES => INPUT_TABLE({table_name}_img), "
                      f"OUTPUT_TABLE_NAMES => OUTPUT_TABLES('{out}'), PARAMS => KV_PAIRS(scale = '2'))").fetchone()[0]
    assert conn.sql(f"SELECT sum(total), min(width), bool_and(scratch) FROM {out}").fetchone() == (2 * (45 + 60), 4, True)
    status = conn.sql(f"SHOW FUNCTION STATUS VERBOSE FOR '{run_id}'").df()
    assert list(status["status"]) == ["completed"] * 2
    assert list(status["progress"]) == ["1/1"] * 2
    assert all("stdout line from" in s for s in status["stdout_tail"])
    assert all("log line from" in s for s in status["stderr_tail"])
    phases = status[["input_s", "function_s", "output_s"]]  # where each instance's time went
    assert phases.notna().all().all() and (phases >= 0).all().all()
    assert (phases.sum(axis=1) <= (status["ended"] - status["started"]).dt.total_seconds() + 0.01).all()
    with pytest.raises(SqlError, match="frames has no parameter size"):
        conn.sql(f"EXECUTE FUNCTION frames(INPUT_TABLE_NAMES => INPUT_TABLE({table_name}_img), "
                 f"PARAMS => KV_PAIRS(size = '2'))")


def test_pandas_frame_and_several_outputs(conn, ticks, table_name):
    create(conn, "split", """
from indb import udf
@udf.function(frame="pandas")
def split(ctx, df):
    return df[df.px < 100], df[df.px >= 100]""")
    cheap, dear = f"{table_name}_cheap", f"{table_name}_dear"
    conn.sql(f"EXECUTE FUNCTION split(INPUT_TABLE_NAMES => INPUT_TABLE({ticks}), "
             f"OUTPUT_TABLE_NAMES => OUTPUT_TABLES('{cheap}', '{dear}'))")
    assert conn.sql(f"SELECT (SELECT count(*) FROM {cheap}), (SELECT count(*) FROM {dear})").fetchone() == (200, 800)


def test_table_function_output_is_plain_sql(conn, ticks):
    create(conn, "doubled", "def doubled(ctx, t):\n    import pyarrow.compute as pc\n"
                            "    return {'id': t['id'], 'px2': pc.multiply(t['px'], 2)}")
    rows = conn.sql(f"SELECT t.sym, sum(d.px2) AS s FROM TABLE(doubled(INPUT_TABLE_NAMES => INPUT_TABLE({ticks}))) d "
                    f"JOIN {ticks} t ON t.id = d.id WHERE d.px2 > 10 GROUP BY t.sym ORDER BY t.sym").fetchall()
    expected = conn.sql(f"SELECT sym, sum(px * 2) FROM {ticks} WHERE px * 2 > 10 GROUP BY sym ORDER BY sym").fetchall()
    assert rows == expected
    assert not list((conn.path / "runs").glob("*"))  # the rows were handed over, then removed


def test_keyless_output_rows_stay_in_their_shard(conn, ticks, table_name):
    create(conn, "summary", "def summary(ctx, t):\n    return {'shard': [ctx.shard] * 3, 'rows': [t.num_rows] * 3}")
    out = f"{table_name}_out"
    conn.sql(f"EXECUTE FUNCTION summary(INPUT_TABLE_NAMES => INPUT_TABLE({ticks}), "
             f"OUTPUT_TABLE_NAMES => OUTPUT_TABLES('{out}'))")
    table = conn.table(out)
    assert table.info.shard_key == () and table.shards == 4
    assert [set(table.shard(k)["shard"].to_pylist()) for k in range(4)] == [{0}, {1}, {2}, {3}]


def test_shard_k_always_runs_on_the_same_worker(conn, ticks):
    create(conn, "noop", "def noop(ctx, t):\n    return None")
    placements = []
    for _ in range(2):
        run_id = conn.sql(f"EXECUTE FUNCTION noop(INPUT_TABLE_NAMES => INPUT_TABLE({ticks}))").fetchone()[0]
        status = conn.sql(f"SHOW FUNCTION STATUS VERBOSE FOR '{run_id}'").df()
        placements.append(dict(zip(status["shard"], status["worker"])))
    assert placements[0] == placements[1] and len(set(placements[0].values())) == 2


def test_progress_callback_reaches_every_instance(conn, ticks):
    create(conn, "noop", "def noop(ctx, t):\n    return None")
    seen = []
    conn.progress = seen.append
    try:
        conn.sql(f"EXECUTE FUNCTION noop(INPUT_TABLE_NAMES => INPUT_TABLE({ticks}))")
    finally:
        conn.progress = None
    assert seen[0].starting and not seen[-1].starting
    assert (seen[-1].finished, seen[-1].instances) == (4, 4) and all(p.instances == 4 for p in seen)
    # the last report has every shard's record as it ended: completed, with its rows
    assert [(s.shard, s.status, s.rows_in) for s in seen[-1].shards] == \
        [(k, "completed", conn.table(ticks).shard(k).num_rows) for k in range(4)]


def test_show_describe_replace_and_drop(conn, tmp_path):
    code = tmp_path / "adder.py"
    code.write_text("def adder(ctx, t):\n    return {'v': [1]}\n")
    conn.sql(f"CREATE FUNCTION adder MODE = 'nondistributed' RUN_COMMAND = 'python' "
             f"RUN_COMMAND_ARGS = 'adder.py' FILE PATHS '{code}'")
    name, mode, ddl = conn.sql("SHOW FUNCTION adder").fetchone()
    assert (name, mode) == ("adder", "nondistributed") and ddl.startswith("CREATE FUNCTION adder")
    facts = conn.sql("DESCRIBE FUNCTION adder").arrow().to_pylist()
    assert len(facts) == 1 and list(facts[0])[:6] == ["FUNCTION_NAME", "MODE", "RUN_COMMAND",
                                                      "RUN_COMMAND_ARGS", "FILE_PATHS", "WITH_OPTIONS"]
    facts = facts[0]
    assert (facts["FUNCTION_NAME"], facts["MODE"], facts["RUN_COMMAND_ARGS"]) == ("adder", "nondistributed", "adder.py")
    assert facts["kind"].startswith("handler") and facts["entry"] == "adder.py"
    assert "adder" in [r[0] for r in conn.sql("SHOW FUNCTION *").fetchall()]
    with pytest.raises(CatalogError, match="already exists"):
        conn.sql(f"CREATE FUNCTION adder RUN_COMMAND = 'python' FILE PATHS '{code}'")
    conn.sql("DROP FUNCTION adder")
    with pytest.raises(CatalogError, match="does not exist"):
        conn.sql("DESCRIBE FUNCTION adder")


def test_code_is_copied_at_create(conn, ticks, tmp_path, table_name):
    code = tmp_path / "version.py"
    code.write_text("def version(ctx, t):\n    return {'v': [1]}\n")
    sql = (f"FUNCTION version MODE = 'nondistributed' RUN_COMMAND = 'python' "
           f"RUN_COMMAND_ARGS = 'version.py' FILE PATHS '{code}'")
    conn.sql(f"CREATE {sql}")
    code.write_text("def version(ctx, t):\n    return {'v': [2]}\n")  # edited after CREATE
    run = f"EXECUTE FUNCTION version(INPUT_TABLE_NAMES => INPUT_TABLE({ticks}), OUTPUT_TABLE_NAMES => OUTPUT_TABLES('{table_name}_v'))"
    conn.sql(run)
    conn.sql(f"CREATE OR REPLACE {sql}")
    conn.sql(run)
    assert conn.sql(f"SELECT v FROM {table_name}_v ORDER BY v").fetchall() == [(1,), (2,)]


def test_file_form_syntax_error_is_caught_at_create(conn, tmp_path):
    code = tmp_path / "broken.py"
    code.write_text("def broken(ctx, t):\n    return (\n")
    with pytest.raises(indb.FunctionError, match="syntax error in broken.py line 2"):
        conn.sql(f"CREATE FUNCTION broken RUN_COMMAND = 'python' FILE PATHS '{code}'")
    assert conn._engine.functions.find("broken") is None
    with pytest.raises(indb.FunctionError, match="not a file"):
        conn.sql(f"CREATE FUNCTION missing RUN_COMMAND = 'python' FILE PATHS '{tmp_path / 'nope.py'}'")


def test_inputs_with_different_shard_counts_are_refused(conn, ticks, table_name):
    conn.sql(f"CREATE TABLE {table_name}_two (id BIGINT, SHARD KEY (id)) WITH (SHARDS = 2)")
    create(conn, "noop2", "def noop2(ctx, a, b):\n    return None")
    with pytest.raises(CatalogError, match="different shard counts"):
        conn.sql(f"EXECUTE FUNCTION noop2(INPUT_TABLE_NAMES => INPUT_TABLES({ticks}, {table_name}_two))")


def test_nowait_returns_a_run_id_at_once(conn, ticks, table_name):
    create(conn, "ident", "def ident(ctx, t):\n    return t")
    run_id, status = conn.sql(f"EXECUTE FUNCTION ident(INPUT_TABLE_NAMES => INPUT_TABLE({ticks}), "
                              f"OUTPUT_TABLE_NAMES => OUTPUT_TABLES('{table_name}_o'), "
                              f"OPTIONS => KV_PAIRS(nowait = 'true', run_tag = 'bg'))").fetchone()
    assert status == "running"
    final = conn.wait(run_id).df()
    assert (final["status"][0], final["tag"][0], final["rows_out"][0]) == ("completed", "bg", 1000)
    assert conn.sql(f"SELECT count(*) FROM {table_name}_o").fetchone() == (1000,)


def test_fractional_differencing_example_on_the_cpu(conn, table_name):
    import sys
    import numpy as np
    from indb.cli.demo import resources
    sys.path.insert(0, str(resources() / "udfs"))
    from fracdiff import fracdiff_cpu, weights
    conn.sql(f"CREATE TABLE {table_name} (sym VARCHAR, date DATE, close DOUBLE, SHARD KEY (sym)) WITH (SHARDS = 2)")
    conn.sql(f"INSERT INTO {table_name} SELECT 'S' || (range % 2), DATE '2020-01-01' + (range // 2)::INTEGER, "
             f"100 + range % 7 FROM range(200)")
    conn.sql(f"CREATE OR REPLACE FUNCTION fracdiff RUN_COMMAND = 'python' RUN_COMMAND_ARGS = 'fracdiff.py' "
             f"FILE PATHS '{resources() / 'udfs' / 'fracdiff.py'}'")
    conn.sql(f"EXECUTE FUNCTION fracdiff(INPUT_TABLE_NAMES => INPUT_TABLE({table_name}), "
             f"OUTPUT_TABLE_NAMES => OUTPUT_TABLES('{table_name}_fd'), PARAMS => KV_PAIRS(d = '0.5', width = '5'))")
    got = conn.sql(f"SELECT fracdiff FROM {table_name}_fd WHERE sym = 'S0' ORDER BY date").fetchall()
    closes = np.log(np.array([100 + v % 7 for v in range(0, 200, 2)], dtype=float))
    expected = fracdiff_cpu(closes, weights(0.5, 5))
    np.testing.assert_allclose([g[0] if g[0] is not None else np.nan for g in got], expected, equal_nan=True)
    assert conn.sql(f"SELECT bool_or(on_gpu) FROM {table_name}_fd").fetchone() == (False,)
