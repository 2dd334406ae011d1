"""Kinetica UDF scripts, written as Kinetica's documentation writes them, run unchanged.

Every script runs twice through the engine: with indb's ``kinetica_proc`` (nothing shipped), and
with Kinetica's own ``kinetica_proc.py`` shipped beside it in FILE PATHS as Kinetica's examples
do, where the reference is present (``shared/kinetica`` beside the checkout); both runs must give
the same rows. Files keep their FILE PATHS layout (``udf/x.py``) as on KiFS.
"""

import json
import os
import shutil
from pathlib import Path

import pandas as pd
import pytest

import indb

KINETICA = Path(__file__).resolve().parents[2] / "shared" / "kinetica" / "kinetica_proc.py"
SHIPPED = pytest.mark.skipif(not KINETICA.exists(), reason=f"Kinetica's kinetica_proc.py is not at "
                             f"{KINETICA} (outside a checkout with shared/): indb's module only")
MODULES = [pytest.param(False, id="indb"), pytest.param(True, id="kinetica", marks=SHIPPED)]
SHARDS = 4

SUM_OF_SQUARES = """
from kinetica_proc import ProcData

proc_data = ProcData()

# the first column is the id; every other input column is squared and summed into y
for in_table, out_table in zip(proc_data.input_data, proc_data.output_data):
    out_table.size = in_table.size
    id_in, id_out, y = in_table[0], out_table[0], out_table[1]
    id_out.extend(id_in)
    for in_column in in_table[1:]:
        for i in range(0, in_table.size):
            y[i] += in_column[i] ** 2

proc_data.complete()
"""

TABLE_COPY = """
import kinetica_proc
from kinetica_proc import ProcData

proc_data = ProcData()
for in_table, out_table in zip(proc_data.input_data, proc_data.output_data):
    out_table.size = in_table.size
    for in_column, out_column in zip(in_table, out_table):
        out_column.extend(in_column)
proc_data.results.update(proc_data.params)
proc_data.results["module"] = kinetica_proc.__file__
proc_data.results["rows"] = str(proc_data.input_data[0].size)
proc_data.complete()
"""

PANDAS_OUTPUT = """
from kinetica_proc import ProcData
import pandas as pd

proc_data = ProcData()
rank_number = proc_data.request_info['rank_number']
tom_number = proc_data.request_info['tom_number']
print('UDF pandas proc output test r{}_t{}: instantiated.'.format(rank_number, tom_number))

data = {'id': pd.Series([1, 12, 123]), 'value_long': pd.Series([2, 23, 24]),
        'value_float': pd.Series([0.2, 2.3, 2.34])}
df = pd.DataFrame(data)
output_table = proc_data.output_data[0]
output_table.size = df.shape[0]
proc_data.from_df(df, output_table)
proc_data.complete()
"""

RANK_TOM = """
from kinetica_proc import ProcData

proc_data = ProcData()
info = proc_data.request_info
out = proc_data.output_data["ranks"]
out.size = 1
for i, key in enumerate(["rank_number", "tom_number", "data_segment_number", "data_segment_count"]):
    out[i][0] = int(info[key])
out["segment_id"].append(info["data_segment_id"])
proc_data.complete()
"""

SCALE_DF = """
from kinetica_proc import ProcData

proc_data = ProcData()
df = proc_data.to_df()
df["x1"] = df["x1"] * float(proc_data.params["factor"])
out = proc_data.output_data[0]
out.size = len(df)
proc_data.from_df(df[["id", "x1"]], out)
proc_data.complete()
"""

DATA_FILE = """
import csv
from kinetica_proc import ProcData

proc_data = ProcData()
with open("udf/data/weights.csv") as f:          # shipped in FILE PATHS, found at its path
    weights = {row["id"]: float(row["w"]) for row in csv.DictReader(f)}
from helpers.scale import scaled                  # udf/helpers/scale.py, beside the script
in_table, out_table = proc_data.input_data[0], proc_data.output_data[0]
out_table.size = in_table.size
ids = in_table["id"]
for i in range(in_table.size):
    out_table["id"][i] = ids[i]
    out_table["w"][i] = scaled(weights.get(str(ids[i]), 0.0))
proc_data.complete()
"""


@pytest.fixture(scope="module")
def conn(tmp_path_factory):
    """Kinetica's sum-of-squares tables: ids and two columns of numbers, sharded by id."""
    db = indb.connect(tmp_path_factory.mktemp("kinetica") / "db", workers=2, threads_per_worker=2,
                      default_shards=SHARDS)
    db.sql(f"CREATE TABLE udf_in (id INTEGER, x1 DOUBLE, x2 DOUBLE, name VARCHAR, SHARD KEY (id)) "
           f"WITH (SHARDS = {SHARDS})")
    db.sql("INSERT INTO udf_in SELECT range, range / 7.0, CASE WHEN range % 5 = 0 THEN NULL ELSE "
           "1.0 - range / 3.0 END, CASE WHEN range % 4 = 0 THEN NULL ELSE 'n' || range END FROM range(200)")
    yield db
    db.close()


def register(conn, tmp_path, name: str, code: str, shipped: bool, *, more: dict[str, str] | None = None,
             clauses: str = "") -> None:
    """Register ``code`` as udf/<name>.py the way Kinetica's examples do: FILE PATHS relative
    to where the statement runs, Kinetica's own kinetica_proc.py beside the script if ``shipped``."""
    files = {f"udf/{name}.py": code, **(more or {})}
    for path, text in files.items():
        (tmp_path / path).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / path).write_text(text)
    if shipped:
        shutil.copy(KINETICA, tmp_path / "udf" / "kinetica_proc.py")
        files["udf/kinetica_proc.py"] = ""
    paths = ", ".join(f"'{p}'" for p in files)
    cwd = os.getcwd()
    os.chdir(tmp_path)
    try:
        conn.sql(f"CREATE OR REPLACE FUNCTION {name} {clauses} RUN_COMMAND = 'python' "
                 f"RUN_COMMAND_ARGS = 'udf/{name}.py' FILE PATHS {paths}")
    finally:
        os.chdir(cwd)


def same_numbers(conn, got: str, want: str) -> None:
    """The queries give the same ids, each with (about) the same number."""
    got_rows, want_rows = (conn.sql(f"{q} ORDER BY id").fetchall() for q in (got, want))
    assert [g[0] for g in got_rows] == [w[0] for w in want_rows]
    assert [g[1] for g in got_rows] == pytest.approx([w[1] for w in want_rows])


def fresh(conn, table: str, columns: str) -> None:
    conn.sql(f"DROP TABLE IF EXISTS {table}")
    conn.sql(f"CREATE TABLE {table} ({columns})")


@pytest.mark.parametrize("shipped", MODULES)
def test_sum_of_squares(conn, tmp_path, shipped):
    """Sized output, extend from the first slot, ``y[i] += ...`` on the sized column."""
    register(conn, tmp_path, "sos", SUM_OF_SQUARES, shipped)
    fresh(conn, "udf_out", "id INTEGER, y DOUBLE")
    conn.sql("EXECUTE FUNCTION sos(INPUT_TABLE_NAMES => INPUT_TABLE(SELECT id, x1, coalesce(x2, 0) "
             "AS x2 FROM udf_in), OUTPUT_TABLE_NAMES => OUTPUT_TABLES('udf_out'))")
    same_numbers(conn, "SELECT id, y FROM udf_out", "SELECT id, x1 * x1 + coalesce(x2, 0) ** 2 FROM udf_in")


@pytest.mark.parametrize("shipped", MODULES)
def test_table_copy_with_nulls_params_and_results(conn, tmp_path, shipped):
    register(conn, tmp_path, "table_copy", TABLE_COPY, shipped)
    fresh(conn, "udf_copy", "id INTEGER, x1 DOUBLE, x2 DOUBLE, name VARCHAR")
    run_id = conn.sql("EXECUTE FUNCTION table_copy(INPUT_TABLE_NAMES => INPUT_TABLE(udf_in), "
                      "OUTPUT_TABLE_NAMES => OUTPUT_TABLES('udf_copy'), "
                      "PARAMS => KV_PAIRS(mode = 'copy'))").fetchone()[0]
    assert conn.sql("SELECT * FROM udf_copy ORDER BY id").fetchall() == \
        conn.sql("SELECT * FROM udf_in ORDER BY id").fetchall()
    status = conn.sql(f"SHOW FUNCTION STATUS VERBOSE FOR '{run_id}'").arrow().to_pylist()
    results = [json.loads(s["results"]) for s in status]
    assert {r["mode"] for r in results} == {"copy"}
    assert sum(int(r["rows"]) for r in results) == 200
    module = {r["module"] for r in results}
    assert len(module) == 1 and module.pop().endswith(
        "udf/kinetica_proc.py" if shipped else "indb/udf/shims/kinetica_proc.py")
    assert all(s["results"] in s["FUNCTION_STATUSES"] for s in status)


@pytest.mark.parametrize("shipped", MODULES)
def test_pandas_example_without_input_runs_once_per_shard(conn, tmp_path, shipped):
    register(conn, tmp_path, "pandas_out", PANDAS_OUTPUT, shipped)
    fresh(conn, "df_out", "id INTEGER, value_long BIGINT, value_float DOUBLE")
    run_id = conn.sql("EXECUTE FUNCTION pandas_out(OUTPUT_TABLE_NAMES => OUTPUT_TABLES('df_out'))").fetchone()[0]
    rows = conn.sql("SELECT id, value_long, value_float, count(*) FROM df_out GROUP BY ALL ORDER BY id").fetchall()
    assert rows == [(1, 2, 0.2, SHARDS), (12, 23, 2.3, SHARDS), (123, 24, 2.34, SHARDS)]
    tails = conn.sql(f"SHOW FUNCTION STATUS VERBOSE FOR '{run_id}'").arrow()["stdout_tail"].to_pylist()
    assert len(tails) == SHARDS and all("instantiated" in t for t in tails)


@pytest.mark.parametrize("shipped", MODULES)
def test_ranks_and_toms_are_numbered_as_kinetica_does(conn, tmp_path, shipped):
    register(conn, tmp_path, "ranks", RANK_TOM, shipped)
    fresh(conn, "ranks", "rank_number INTEGER, tom_number INTEGER, segment INTEGER, segments INTEGER, "
                         "segment_id VARCHAR")
    run_id = conn.sql("EXECUTE FUNCTION ranks(OUTPUT_TABLE_NAMES => OUTPUT_TABLES('ranks'))").fetchone()[0]
    rows = conn.sql("SELECT * FROM ranks ORDER BY segment").fetchall()
    assert [r[2] for r in rows] == list(range(SHARDS)) and {r[3] for r in rows} == {SHARDS}
    pairs = {(r[0], r[1]) for r in rows}
    assert len(pairs) == SHARDS and min(r for r, _ in pairs) == 1  # rank 0 is the head's
    for rank in {r for r, _ in pairs}:  # TOMs count from 0 within each rank
        assert sorted(t for r, t in pairs if r == rank) == list(range(sum(1 for r, _ in pairs if r == rank)))
    assert len({r[4] for r in rows}) == SHARDS
    status = conn.sql(f"SHOW FUNCTION STATUS VERBOSE FOR '{run_id}'").arrow().to_pylist()
    assert {(s["rank"], s["tom"]) for s in status} == pairs  # the run record says the same
    # nondistributed: one instance, on the head
    register(conn, tmp_path, "ranks", RANK_TOM, shipped, clauses="MODE = 'nondistributed'")
    fresh(conn, "ranks", "rank_number INTEGER, tom_number INTEGER, segment INTEGER, segments INTEGER, "
                         "segment_id VARCHAR")
    conn.sql("EXECUTE FUNCTION ranks(OUTPUT_TABLE_NAMES => OUTPUT_TABLES('ranks'))")
    assert conn.sql("SELECT rank_number, tom_number, segment, segments FROM ranks").fetchall() == [(0, 0, 0, 1)]


@pytest.mark.parametrize("shipped", [
    pytest.param(False, id="indb"),
    pytest.param(True, id="kinetica", marks=[SHIPPED, pytest.mark.skipif(
        int(pd.__version__.split(".")[0]) >= 3,
        reason="Kinetica's to_df reads its Series of tables by position, which pandas 3 refuses")])])
def test_to_df_and_from_df(conn, tmp_path, shipped):
    register(conn, tmp_path, "scale_df", SCALE_DF, shipped)
    fresh(conn, "scaled", "id INTEGER, x1 DOUBLE")
    conn.sql("EXECUTE FUNCTION scale_df(INPUT_TABLE_NAMES => INPUT_TABLE(SELECT id, x1 FROM udf_in), "
             "OUTPUT_TABLE_NAMES => OUTPUT_TABLES('scaled'), PARAMS => KV_PAIRS(factor = '3'))")
    same_numbers(conn, "SELECT id, x1 FROM scaled", "SELECT id, 3 * x1 FROM udf_in")


@pytest.mark.parametrize("shipped", MODULES)
def test_shipped_files_keep_their_folders(conn, tmp_path, shipped):
    weights = "id,w\n" + "".join(f"{i},{i / 2}\n" for i in range(0, 200, 3))
    register(conn, tmp_path, "weights", DATA_FILE, shipped, more={
        "udf/data/weights.csv": weights, "udf/helpers/__init__.py": "",
        "udf/helpers/scale.py": "def scaled(w):\n    return 10 * w\n"})
    fresh(conn, "weighted", "id INTEGER, w DOUBLE")
    conn.sql("EXECUTE FUNCTION weights(INPUT_TABLE_NAMES => INPUT_TABLE(SELECT id FROM udf_in), "
             "OUTPUT_TABLE_NAMES => OUTPUT_TABLES('weighted'))")
    got = dict(conn.sql("SELECT id, w FROM weighted").fetchall())
    assert got == {i: (10 * i / 2 if i % 3 == 0 else 0.0) for i in range(200)}
    described = conn.sql("DESCRIBE FUNCTION weights").arrow().to_pylist()[0]
    assert "udf/data/weights.csv" in described["FILE_PATHS"]
    assert described["RUN_COMMAND_ARGS"] == "udf/weights.py"


KIFS_SAVE = """
import os
from kinetica_proc import ProcData

proc_data = ProcData()
with open(os.path.join(proc_data.request_info["kifs_mount_point"], "model.txt"), "w") as f:
    f.write(proc_data.params["coefficient"])
proc_data.complete()
"""

KIFS_LOAD = """
import os
from kinetica_proc import ProcData

proc_data = ProcData()
with open(os.path.join(proc_data.request_info["kifs_mount_point"], "model.txt")) as f:
    coefficient = float(f.read())
out = proc_data.output_data[0]
out.size = 1
out[0][0] = coefficient
proc_data.complete()
"""


@pytest.mark.parametrize("shipped", MODULES)
def test_kifs_keeps_files_between_runs(conn, tmp_path, shipped):
    """Kinetica's examples save a model under kifs_mount_point in one run and load it in another."""
    register(conn, tmp_path, "kifs_save", KIFS_SAVE, shipped, clauses="MODE = 'nondistributed'")
    register(conn, tmp_path, "kifs_load", KIFS_LOAD, shipped, clauses="MODE = 'nondistributed'")
    fresh(conn, "loaded", "coefficient DOUBLE")
    conn.sql("EXECUTE FUNCTION kifs_save(PARAMS => KV_PAIRS(coefficient = '2.5'))")
    conn.sql("EXECUTE FUNCTION kifs_load(OUTPUT_TABLE_NAMES => OUTPUT_TABLES('loaded'))")
    assert conn.sql("SELECT coefficient FROM loaded").fetchall() == [(2.5,)]


RANK_TOM_COPY = """
import csv
import sys
from kinetica_proc import ProcData

RANK_TOM_FILE = sys.argv[1]
proc_data = ProcData()
proc_rank_num = proc_data.request_info["rank_number"]
proc_tom_num = proc_data.request_info["tom_number"]
rank_tom_info = csv.reader(open(RANK_TOM_FILE))
next(rank_tom_info)
for row in rank_tom_info:
    if proc_rank_num == row[0] and proc_tom_num == row[1]:
        for in_table, out_table in zip(proc_data.input_data, proc_data.output_data):
            out_table.size = in_table.size
            for in_column, out_column in zip(in_table, out_table):
                out_column.extend(in_column)
        break
else:
    print(f"This rank/TOM <{proc_rank_num}/{proc_tom_num}> not present in rank_tom.csv")
proc_data.complete()
"""


@pytest.mark.parametrize("shipped", MODULES)
def test_the_documentation_table_copy_picks_ranks_and_toms_from_a_shipped_csv(conn, tmp_path, shipped):
    """Kinetica's tutorial: copy only the data segments of the rank/TOM pairs a CSV names, the CSV
    shipped in FILE PATHS and named in RUN_COMMAND_ARGS. Which shards have the pairs (1, 0) and
    (2, 1) is the placement's choice: the run's record says (each shard's rank and TOM)."""
    register(conn, tmp_path, "udf_tc", RANK_TOM_COPY, shipped,
             more={"udf/rank_tom.csv": "rank_num,tom_num\n1,0\n2,1\n"})
    cwd = os.getcwd()
    os.chdir(tmp_path)
    try:  # the Kinetica form: the script and its arguments, a list
        conn.sql("CREATE OR REPLACE FUNCTION udf_tc RUN_COMMAND = 'python' "
                 "RUN_COMMAND_ARGS = 'udf/udf_tc.py', 'udf/rank_tom.csv' FILE PATHS "
                 + ", ".join(f"'{p.relative_to(tmp_path)}'" for p in sorted((tmp_path / "udf").iterdir())))
    finally:
        os.chdir(cwd)
    fresh(conn, "udf_tc_out", "id INTEGER, x1 DOUBLE, x2 DOUBLE, name VARCHAR")
    conn.sql("EXECUTE FUNCTION udf_tc(INPUT_TABLE_NAMES => INPUT_TABLE(udf_in), "
             "OUTPUT_TABLE_NAMES => OUTPUT_TABLES('udf_tc_out'))")
    copied = sorted(r[0] for r in conn.sql("SELECT id FROM udf_tc_out").fetchall())
    run_id = conn.sql("SHOW FUNCTION STATUS").fetchone()[1]  # the newest run's
    named = [s["shard"] for s in conn.sql(f"SHOW FUNCTION STATUS VERBOSE FOR '{run_id}'")
             .arrow().to_pylist() if (s["rank"], s["tom"]) in {(1, 0), (2, 1)}]
    source = conn.table("udf_in")
    assert len(named) == 2
    assert copied == sorted(i for k in named for i in source.shard(k)["id"].to_pylist())


OVERFILL = """
from kinetica_proc import ProcData

proc_data = ProcData()
out = proc_data.output_data[0]
out.size = 1
out[0].append(1)
out[0].append(2)
proc_data.complete()
"""


@pytest.mark.parametrize("shipped", MODULES)
def test_a_failed_script_is_reported_at_its_own_line(conn, tmp_path, shipped):
    register(conn, tmp_path, "overfill", OVERFILL, shipped, clauses="MODE = 'nondistributed'")
    fresh(conn, "overfilled", "v BIGINT")
    with pytest.raises(indb.RunError, match=r"shard 0: udf/overfill.py, line 8: IndexError: "
                                            r"Insufficient table size \(exit code 1\)"):
        conn.sql("EXECUTE FUNCTION overfill(OUTPUT_TABLE_NAMES => OUTPUT_TABLES('overfilled'))")
    assert conn.sql("SELECT count(*) FROM overfilled").fetchone() == (0,)


@pytest.mark.parametrize("shipped", MODULES)
def test_kinetica_s_column_types_hold_their_values_through_a_copy(conn, tmp_path, shipped):
    """IPV4, WKT, BLOB(WKT), VECTOR(n) and ULONG columns, made as Kinetica's DDL makes them (as
    VARCHAR, GEOMETRY, FLOAT[n], UBIGINT), read and written by a function as any column."""
    register(conn, tmp_path, "table_copy", TABLE_COPY, shipped)
    columns = "id INTEGER, ip IPV4, shape WKT, outline BLOB(WKT), embedding VECTOR(3), hits ULONG"
    fresh(conn, "kinetica_typed", columns)
    fresh(conn, "kinetica_typed_copy", columns)
    assert [r[1] for r in conn.sql("DESCRIBE kinetica_typed").fetchall()[:6]] == [
        "INTEGER", "VARCHAR", "GEOMETRY", "GEOMETRY", "FLOAT[3]", "UBIGINT"]
    conn.sql("INSERT INTO kinetica_typed VALUES (1, '10.0.0.1', 'POINT(1 2)', "
             "'LINESTRING(0 0, 1 1)', [0.5, 1, 2], 18446744073709551615), "
             "(2, NULL, NULL, NULL, NULL, NULL)")
    conn.sql("EXECUTE FUNCTION table_copy(INPUT_TABLE_NAMES => INPUT_TABLE(kinetica_typed), "
             "OUTPUT_TABLE_NAMES => OUTPUT_TABLES('kinetica_typed_copy'))")
    read = ("SELECT id, ip, ST_AsText(shape), ST_AsText(outline), embedding, hits FROM {} "
            "ORDER BY id")
    assert conn.sql(read.format("kinetica_typed_copy")).fetchall() == \
        conn.sql(read.format("kinetica_typed")).fetchall() == [
            (1, "10.0.0.1", "POINT (1 2)", "LINESTRING (0 0, 1 1)", (0.5, 1.0, 2.0),
             18446744073709551615), (2, None, None, None, None, None)]
