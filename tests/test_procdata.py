"""Kinetica-style UDF scripts run unchanged: the examples in udfs/kinetica and sql/."""

import json
import os
from pathlib import Path

import pytest

import indb
from indb.errors import RunError

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def examples(tmp_path_factory):
    """A database where sql/kinetica_examples.sql has run (from the project root, as documented)."""
    conn = indb.connect(tmp_path_factory.mktemp("kinetica") / "db", workers=2, threads_per_worker=2)
    cwd = os.getcwd()
    os.chdir(ROOT)
    try:
        conn.sql((ROOT / "sql" / "kinetica_examples.sql").read_text())
    finally:
        os.chdir(cwd)
    yield conn
    conn.close()


def test_table_copy_copies_every_shard(examples):
    copy = examples.sql("SELECT id, x, y FROM points_copy ORDER BY id").fetchall()
    assert copy == examples.sql("SELECT id, x, y FROM points ORDER BY id").fetchall()
    for k in range(4):  # shard k of the copy holds shard k of the source
        assert sorted(examples.table("points_copy").shard(k)["id"].to_pylist()) == \
            sorted(examples.table("points").shard(k)["id"].to_pylist())


def test_sum_of_squares_adds_up_across_shards(examples):
    partial = examples.sql("SELECT column_name, sum(sum_of_squares), sum(row_count) FROM squares "
                           "GROUP BY 1 ORDER BY 1").fetchall()
    direct = examples.sql("SELECT sum(x * x), sum(y * y), count(*) FROM points").fetchone()
    assert [p[0] for p in partial] == ["x", "y"]
    assert partial[0][1] == pytest.approx(direct[0]) and partial[1][1] == pytest.approx(direct[1])
    assert partial[0][2] == direct[2] == 2000
    assert examples.sql("SELECT count(DISTINCT shard) FROM squares").fetchone() == (4,)


def test_per_shard_models_average_to_the_true_line(examples):
    slope, intercept, shards = examples.sql(
        "SELECT sum(slope * row_count) / sum(row_count), sum(intercept * row_count) / sum(row_count), "
        "count(*) FROM shard_models").fetchone()
    assert shards == 4
    assert slope == pytest.approx(3.0, abs=0.01) and intercept == pytest.approx(2.05, abs=0.05)


def test_script_status_and_request_info(examples, tmp_path):
    script = tmp_path / "info.py"
    script.write_text("from kinetica_proc import ProcData\nimport json\n"
                      "p = ProcData()\np.status = 'looked around'\n"
                      "out = p.output_data[0]\nout['info'].append(json.dumps(p.request_info))\n"
                      "out['rows'].append(p.input_data['points'].size)\np.complete()\n")
    examples.sql(f"CREATE FUNCTION info RETURNS TABLE (info VARCHAR, rows BIGINT) RUN_COMMAND = 'python' "
                 f"RUN_COMMAND_ARGS = 'info.py' FILE PATHS '{script}'")
    run_id = examples.sql("EXECUTE FUNCTION info(INPUT_TABLE_NAMES => INPUT_TABLE(points), "
                          "OUTPUT_TABLE_NAMES => OUTPUT_TABLES('infos'))").fetchone()[0]
    infos = [json.loads(r[0]) for r in examples.sql("SELECT info FROM infos").fetchall()]
    assert sorted(int(i["data_segment_number"]) for i in infos) == [0, 1, 2, 3]
    assert {i["run_id"] for i in infos} == {run_id} and {i["data_segment_count"] for i in infos} == {"4"}
    assert {"rank_number", "tom_number", "data_segment_id", "proc_name"} <= set(infos[0])
    assert examples.sql("SELECT sum(rows) FROM infos").fetchone() == (2000,)
    status = examples.sql(f"SHOW FUNCTION STATUS VERBOSE FOR '{run_id}'").df()
    assert set(status["message"]) == {"looked around"}  # the script's last status stays
    assert list(status["rows_out"]) == [1, 1, 1, 1]


def test_a_script_that_forgets_complete_or_fails(examples, tmp_path):
    for name, body, message in [
        ("forgetful", "from kinetica_proc import ProcData\nProcData()\n", "without calling proc_data.complete"),
        ("crashing", "raise SystemExit('no data for me')\n", "exited with code 1"),
    ]:
        script = tmp_path / f"{name}.py"
        script.write_text(body)
        examples.sql(f"CREATE FUNCTION {name} RETURNS TABLE (v BIGINT) RUN_COMMAND = 'python' "
                     f"RUN_COMMAND_ARGS = '{name}.py' FILE PATHS '{script}'")
        with pytest.raises(RunError, match=message) as caught:
            examples.sql(f"EXECUTE FUNCTION {name}(INPUT_TABLE_NAMES => INPUT_TABLE(points), "
                         f"OUTPUT_TABLE_NAMES => OUTPUT_TABLES('{name}_out'))")
        assert not examples._engine.db.exists(f"{name}_out")
        if name == "crashing":
            tails = examples.sql(f"SHOW FUNCTION STATUS VERBOSE FOR '{caught.value.run_id}'").arrow()["stderr_tail"]
            assert any("no data for me" in (t or "") for t in tails.to_pylist())


def test_procdata_outside_a_run_says_how_to_use_it(monkeypatch):
    from indb.udf.procdata import ProcData
    monkeypatch.delenv("INDB_PROC_DIR", raising=False)
    with pytest.raises(RuntimeError, match="works inside a function run"):
        ProcData()
