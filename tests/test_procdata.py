"""ProcData, indb's ``kinetica_proc``: Kinetica's semantics over Kinetica's protocol files.

Each script here runs as a UDF instance's script does (its own process, ``KINETICA_PCF`` naming a
control file written by ``indb.sharding.scripts``), through indb's module and, where the reference
is present, through Kinetica's own ``kinetica_proc.py`` — with the same expected results. The
examples of udfs/kinetica then run through the engine.
"""

import datetime
import importlib.util
import json
import os
import subprocess
import sys
import textwrap
from decimal import Decimal
from pathlib import Path

import pyarrow as pa
import pytest

import indb
from indb.catalog.types import Column
from indb.errors import RunError
from indb.sharding import scripts
from indb.udf import kinetica_files as kf

ROOT = Path(__file__).resolve().parent.parent
KINETICA = Path(__file__).resolve().parents[2] / "shared" / "kinetica"  # beside the checkout
SHIM = ROOT / "indb" / "udf" / "shims"
MODULES = [pytest.param(SHIM, id="indb"), pytest.param(KINETICA, id="kinetica", marks=pytest.mark.skipif(
    not (KINETICA / "kinetica_proc.py").exists(),
    reason=f"Kinetica's kinetica_proc.py is not at {KINETICA} (outside a checkout with shared/)"))]


def run_proc(tmp_path, module, code, inputs=(), outputs=(), params=None):
    """Run ``code`` as an instance's script with ``module`` as its kinetica_proc; returns what it
    printed (JSON lines), the output tables and the completion (results)."""
    proc_dir = tmp_path / "proc"
    proc_dir.mkdir()
    control = scripts.write_request(proc_dir, list(inputs), [(n, cols) for n, cols in outputs],
                                    {"run_id": "r1", "rank_number": "1", "tom_number": "0"},
                                    params or {})
    env = {**os.environ, "KINETICA_PCF": str(proc_dir / "control"),
           "PYTHONPATH": os.pathsep.join([str(module), str(ROOT)])}
    done = subprocess.run([sys.executable, "-c", "from kinetica_proc import ProcData\n"
                           "import json\nproc_data = ProcData()\n" + textwrap.dedent(code)],
                          env=env, capture_output=True, text=True, timeout=60, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    printed = [json.loads(line, parse_constant=float) for line in done.stdout.splitlines()]
    return (printed, scripts.read_outputs(control, [cols for _, cols in outputs]),
            kf.read_completion(control.output_control), control)


OUT = [("out", (Column("id", "BIGINT"), Column("y", "DOUBLE"), Column("name", "VARCHAR")))]


@pytest.mark.parametrize("module", MODULES)
def test_sizing_gives_zero_filled_slots_assigned_by_index(tmp_path, module):
    printed, (out,), _, _ = run_proc(tmp_path, module, """
        out = proc_data.output_data[0]
        out.size = 3
        print(json.dumps([out.size, len(out["id"]), out["id"][:], out[1][:], out["name"][:]]))
        out["id"][1] = 7
        out["y"][2] = 2.5
        out["y"][2] += 1.25          # reading back a sized slot
        out[0][-1] = 9               # by position, from the end
        out["name"].extend(["a", "b", "c"])
        print(json.dumps([out["id"][:], out["y"][2]]))
        out["y"][::-2] = [5.5, 4.5]  # slots 2 and 0
        out["y"][1:2] = __import__("numpy").array([6.5])
        proc_data.complete()
    """, outputs=OUT)
    assert printed == [[3, 3, [0, 0, 0], [0.0, 0.0, 0.0], ["", "", ""]], [[0, 7, 9], 3.75]]
    assert out.to_pydict() == {"id": [0, 7, 9], "y": [4.5, 6.5, 5.5], "name": ["a", "b", "c"]}


@pytest.mark.parametrize("module", MODULES)
def test_append_and_extend_fill_from_the_first_unwritten_slot(tmp_path, module):
    printed, (out,), _, _ = run_proc(tmp_path, module, """
        out = proc_data.output_data[0]
        out.size = 4
        out["id"][3] = 40                           # index assignment does not move the fill point
        print(json.dumps([out["id"].append(1), out["id"].extend([2, 3])]))
        try:
            out["id"].extend([4, 5])                # one slot left: 4 lands, 5 does not
        except IndexError as error:
            print(json.dumps(str(error)))
        try:
            out["y"].append(1.0) or [out["y"].append(2.0) for _ in range(4)]
        except IndexError as error:
            print(json.dumps(str(error)))
        out["name"].extend(["a", "b", "c", "d"])
        proc_data.complete()
    """, outputs=OUT)
    assert printed == [[0, 2], "Insufficient table size", "Insufficient table size"]
    assert out.to_pydict() == {"id": [1, 2, 3, 4], "y": [1.0, 2.0, 2.0, 2.0],
                               "name": ["a", "b", "c", "d"]}


@pytest.mark.parametrize("module", MODULES)
def test_errors_where_kinetica_raises_them(tmp_path, module):
    printed, (out,), _, _ = run_proc(tmp_path, module, """
        out = proc_data.output_data["out"]
        attempts = [lambda: out["id"].append(1),            # not sized yet: no room
                    lambda: setattr(out, "size", 2) or out["id"][2],
                    lambda: out["id"].__setitem__(-3, 1),
                    lambda: out["id"].__setitem__(slice(None), [1, 2, 3]),
                    lambda: out["name"].__setitem__(0, "x"),  # text is filled in order only
                    lambda: setattr(out, "size", -1)]
        for attempt in attempts:
            try:
                attempt()
                print(json.dumps(None))
            except (IndexError, RuntimeError, ValueError) as error:
                print(json.dumps([type(error).__name__, str(error).split(" (")[0]]))
        out["id"][:] = [5, 6]
        out["name"].extend(["p", "q"])
        proc_data.complete()
    """, outputs=OUT)
    assert printed == [["IndexError", "Insufficient table size"], ["IndexError", "Index out of range: 2"],
                       ["IndexError", "Index out of range: -1"],
                       ["IndexError", "Incorrect slice assignment size"],
                       ["RuntimeError", "Cannot set values in variable-length column"],
                       ["ValueError", "Invalid size specified: -1"]]
    assert out.to_pydict() == {"id": [5, 6], "y": [0.0, 0.0], "name": ["p", "q"]}


@pytest.mark.parametrize("module", MODULES)
def test_inputs_read_as_kinetica_gives_them(tmp_path, module):
    rows = pa.table({"id": pa.array([1, 2, None], pa.int32()), "x": [0.5, None, 2.0],
                     "s": ["a", None, ""], "d": [datetime.date(2024, 2, 29), None, datetime.date(1999, 1, 2)],
                     "t": pa.array([datetime.datetime(1970, 1, 1, 0, 0, 1), None, None], pa.timestamp("us")),
                     "m": pa.array([Decimal("1.5"), None, Decimal("-0.0001")], pa.decimal128(9, 4))})
    printed, _, _, _ = run_proc(tmp_path, module, """
        t = proc_data.input_data["points"]
        print(json.dumps([t.name, t.size, len(t), [c.name for c in t], t["id"][:], list(t[1]),
                          t["s"][:], [str(v) for v in t["d"]], t["t"][:], [str(v) for v in t["m"]],
                          t["x"][-1], t[1:][0].name, t["id"].is_nullable,
                          t["x"].type == ProcData.ColumnType.DOUBLE]))
    """, inputs=[("points", rows)])
    assert printed == [["points", 3, 6, ["id", "x", "s", "d", "t", "m"], [1, 2, None], [0.5, None, 2.0],
                        ["a", None, ""], ["2024-02-29", "None", "1999-01-02"], [1000, None, None],
                        ["1.5000", "None", "-0.0001"], 2.0, "x", True, True]]


@pytest.mark.parametrize("module", MODULES)
def test_table_copy_results_status_and_nulls(tmp_path, module):
    rows = pa.table({"id": [1, 2, 3], "y": [0.5, None, 2.0], "name": ["a", "b", None]})
    printed, (out,), completion, control = run_proc(tmp_path, module, """
        for in_table, out_table in zip(proc_data.input_data, proc_data.output_data):
            out_table.size = in_table.size
            for in_column, out_column in zip(in_table, out_table):
                out_column.extend(in_column)
        proc_data.results.update(proc_data.params)
        proc_data.results["rank"] = proc_data.request_info["rank_number"]
        proc_data.status = "copied"
        proc_data.complete()
    """, inputs=[("src", rows)], outputs=OUT, params={"mode": "copy"})
    assert out.to_pydict() == rows.to_pydict()
    assert completion.results == {"mode": "copy", "rank": "1"}
    assert kf.read_status(control.status) == "copied"


@pytest.mark.parametrize("module", MODULES)
def test_from_df_writes_a_sized_table(tmp_path, module):
    """Kinetica's pandas example: a DataFrame of numbers into a sized output table."""
    printed, (out,), _, _ = run_proc(tmp_path, module, """
        import pandas as pd
        df = pd.DataFrame({"id": pd.Series([1, 12, 123]), "value": pd.Series([0.2, 2.3, 2.34])})
        output_table = proc_data.output_data[0]
        output_table.size = df.shape[0]
        proc_data.from_df(df, output_table)
        proc_data.complete()
    """, outputs=[("out", (Column("id", "BIGINT"), Column("value", "DOUBLE")))])
    assert out.to_pydict() == {"id": [1, 12, 123], "value": [0.2, 2.3, 2.34]}


def test_to_df_and_from_df_with_text(tmp_path):
    """indb's to_df gives one table's DataFrame (Kinetica's to_df needs pandas < 3) and its
    from_df fills text columns too (Kinetica's refuses them: index assignment)."""
    rows = pa.table({"id": [3, 1, 2], "y": [0.5, None, 2.0], "name": ["c", "a", None]})
    printed, (out,), _, _ = run_proc(tmp_path, SHIM, """
        df = proc_data.to_df()
        print(json.dumps([str(df["id"].dtype), str(df["y"].dtype), df["name"][:2].tolist(),
                          df["name"].isna().tolist()]))
        df = df.sort_values("id")
        out = proc_data.output_data[0]
        out.size = len(df)
        proc_data.from_df(df, out)
        proc_data.complete()
    """, inputs=[("src", rows)], outputs=OUT)
    assert printed == [["int64", "float64", ["c", "a"], [False, False, True]]]
    got = out.to_pydict()  # NaN stays a number, as Kinetica's slice assignment writes it
    assert got["id"] == [1, 2, 3] and got["name"] == ["a", None, "c"] and got["y"][1:] == [2.0, 0.5]
    assert got["y"][0] != got["y"][0]


@pytest.mark.skipif(importlib.util.find_spec("cudf") is not None, reason="cuDF is installed here")
def test_to_cudf_without_cudf_says_so(tmp_path):
    printed, _, _, _ = run_proc(tmp_path, SHIM, """
        try:
            proc_data.to_cudf()
        except ImportError as error:
            print(json.dumps(type(error).__name__))
    """, inputs=[("src", pa.table({"id": [1]}))])
    assert printed == ["ModuleNotFoundError"]


def test_procdata_outside_a_run_says_how_to_use_it(monkeypatch):
    from indb.udf.procdata import ProcData
    monkeypatch.delenv("KINETICA_PCF", raising=False)
    with pytest.raises(RuntimeError, match="works inside a function run"):
        ProcData()


# -- the examples of udfs/kinetica, through the engine --------------------------------------------

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
    assert examples.sql("SELECT count(*), count(DISTINCT shard) FROM squares").fetchone() == (8, 4)


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
                      "out = p.output_data[0]\nout.size = 1\n"
                      "out['info'].append(json.dumps(dict(p.request_info)))\n"
                      "out['rows'][0] = p.input_data['points'].size\np.complete()\n")
    examples.sql(f"CREATE FUNCTION info RETURNS TABLE (info VARCHAR, rows BIGINT) RUN_COMMAND = 'python' "
                 f"RUN_COMMAND_ARGS = 'info.py' FILE PATHS '{script}'")
    run_id = examples.sql("EXECUTE FUNCTION info(INPUT_TABLE_NAMES => INPUT_TABLE(points), "
                          "OUTPUT_TABLE_NAMES => OUTPUT_TABLES('infos'))").fetchone()[0]
    infos = [json.loads(r[0]) for r in examples.sql("SELECT info FROM infos").fetchall()]
    assert sorted(int(i["data_segment_number"]) for i in infos) == [0, 1, 2, 3]
    assert {i["run_id"] for i in infos} == {run_id} and {i["data_segment_count"] for i in infos} == {"4"}
    assert {"proc_name", "rank_number", "tom_number", "data_segment_id", "head_url", "username",
            "password", "kifs_mount_point", "cuda_devices"} <= set(infos[0])
    assert examples.sql("SELECT sum(rows) FROM infos").fetchone() == (2000,)
    status = examples.sql(f"SHOW FUNCTION STATUS VERBOSE FOR '{run_id}'").df()
    assert set(status["message"]) == {"looked around"}  # the script's last status stays
    assert list(status["rows_out"]) == [1, 1, 1, 1]
    # Kinetica's columns first, then indb's
    assert list(status.columns[:5]) == ["FUNCTION_NAME", "RUN_ID", "OVERALL_STATUS", "FUNCTION_STATUSES", "shard"]
    assert set(status["OVERALL_STATUS"]) == {"complete"} and set(status["FUNCTION_NAME"]) == {"info"}
    assert all(block.startswith(f"data segment {k} (rank ") for k, block in
               zip(status["shard"], status["FUNCTION_STATUSES"], strict=True))
    run = examples.sql(f"SHOW FUNCTION STATUS FOR '{run_id}'").df()
    assert list(run.columns[:5]) == ["FUNCTION_NAME", "RUN_ID", "OVERALL_STATUS", "tag", "status"]
    assert run.iloc[0][["FUNCTION_NAME", "RUN_ID", "OVERALL_STATUS", "status"]].tolist() == \
        ["info", run_id, "complete", "completed"]


def test_a_script_that_forgets_complete_or_fails(examples, tmp_path):
    for name, body, message in [
        ("forgetful", "from kinetica_proc import ProcData\nProcData()\n", "without calling proc_data.complete"),
        ("crashing", "raise SystemExit('no data for me')\n", "exited with code 1"),
        ("dividing", "import sys\nprint('about to divide', file=sys.stderr)\nx = 1\n\nx / 0\n",
         r"error: shard \d: dividing.py, line 5: ZeroDivisionError: division by zero \(exit code 1\)"),
    ]:
        script = tmp_path / f"{name}.py"
        script.write_text(body)
        examples.sql(f"CREATE FUNCTION {name} RETURNS TABLE (v BIGINT) RUN_COMMAND = 'python' "
                     f"RUN_COMMAND_ARGS = '{name}.py' FILE PATHS '{script}'")
        with pytest.raises(RunError, match=message) as caught:
            examples.sql(f"EXECUTE FUNCTION {name}(INPUT_TABLE_NAMES => INPUT_TABLE(points), "
                         f"OUTPUT_TABLE_NAMES => OUTPUT_TABLES('{name}_out'))")
        assert not examples._engine.db.exists(f"{name}_out")
        status = examples.sql(f"SHOW FUNCTION STATUS VERBOSE FOR '{caught.value.run_id}'").arrow()
        if name == "crashing":
            assert any("no data for me" in (t or "") for t in status["stderr_tail"].to_pylist())
        if name == "dividing":  # the script's own traceback, and its stderr after the message
            failed = [r for r in status.to_pylist() if r["status"] == "error"]
            assert failed and "host.py" not in failed[0]["traceback"]
            assert failed[0]["traceback"].endswith("ZeroDivisionError: division by zero")
            assert "about to divide" in str(caught.value)
