"""The GPU path: workers pinned to GPUs, frames and models on the device. Skipped without CUDA."""

import numpy as np
import pytest

import indb
from indb.runtime.gpus import visible_gpus

torch = pytest.importorskip("torch")
pytestmark = [pytest.mark.gpu,
              pytest.mark.skipif(not torch.cuda.is_available() or not visible_gpus(), reason="needs a CUDA GPU")]


@pytest.fixture(scope="module")
def gpu_conn(tmp_path_factory):
    conn = indb.connect(tmp_path_factory.mktemp("gpu") / "db")
    conn.sql("CREATE TABLE img (id BIGINT, pixels FLOAT[64], label INTEGER, SHARD KEY (id)) WITH (SHARDS = 4)")
    conn.sql("INSERT INTO img SELECT range, [range % 16 FOR x IN range(64)]::FLOAT[64], (range % 10)::INTEGER "
             "FROM range(4000)")
    yield conn
    conn.close()


def test_instances_run_on_their_workers_gpu_with_torch_frames(gpu_conn):
    gpu_conn.sql("""CREATE OR REPLACE FUNCTION where_am_i LANGUAGE PYTHON AS $$
import os
from indb import udf
@udf.function(frame="torch")
def where_am_i(ctx, t):
    return {"device": [str(t["pixels"].device)], "ctx_device": [ctx.device],
            "visible": [os.environ["CUDA_VISIBLE_DEVICES"]], "total": [float(t["pixels"].sum())]}
$$""")
    gpu_conn.sql("EXECUTE FUNCTION where_am_i(INPUT_TABLE_NAMES => INPUT_TABLE(img), OUTPUT_TABLE_NAMES => OUTPUT_TABLES('places'))")
    rows = gpu_conn.sql("SELECT device, ctx_device, visible, total FROM places").fetchall()
    assert {r[0] for r in rows} == {"cuda:0"} and {r[1] for r in rows} == {"cuda"}
    assert len({r[2] for r in rows}) == min(visible_gpus(), 4)  # one GPU a worker
    expected = gpu_conn.sql("SELECT sum(list_sum(pixels)) FROM img").fetchone()[0]
    assert sum(r[3] for r in rows) == pytest.approx(expected)


def test_models_train_and_infer_on_the_gpu_in_fp32_and_bf16(gpu_conn):
    gpu_conn.sql("""CREATE OR REPLACE FUNCTION fit_gpu LANGUAGE PYTHON MODE = 'nondistributed' AS $$
import torch
from indb import udf
@udf.function(frame="torch")
def fit_gpu(ctx, t):
    x, y = t["pixels"], t["label"].long()
    torch.manual_seed(0)
    m = torch.nn.Sequential(torch.nn.Linear(64, 32), torch.nn.ReLU(), torch.nn.Linear(32, 10)).to(ctx.device)
    ctx.models.save("gpu_clf", m, example=x[:4])
$$""")
    gpu_conn.sql("EXECUTE FUNCTION fit_gpu(INPUT_TABLE_NAMES => INPUT_TABLE(img))")
    gpu_conn.sql("""CREATE OR REPLACE FUNCTION infer_gpu LANGUAGE PYTHON AS $$
from indb import udf
@udf.function(frame="torch", params=["precision"])
def infer_gpu(ctx, t):
    model = ctx.models.load("gpu_clf", precision=ctx.params.get("precision"))
    return {"id": t["id"], "digit": model.predict(t["pixels"])}
$$""")
    for precision in ("fp32", "bf16"):
        gpu_conn.sql(f"DROP TABLE IF EXISTS p_{precision}")
        gpu_conn.sql(f"EXECUTE FUNCTION infer_gpu(INPUT_TABLE_NAMES => INPUT_TABLE(img), "
                     f"OUTPUT_TABLE_NAMES => OUTPUT_TABLES('p_{precision}'), PARAMS => KV_PAIRS(precision = '{precision}'))")
    in_sql = gpu_conn.sql("SELECT id, PREDICT('gpu_clf', pixels) FROM img ORDER BY id").fetchall()
    assert gpu_conn.sql("SELECT id, digit FROM p_fp32 ORDER BY id").fetchall() == in_sql
    agree = gpu_conn.sql("SELECT avg((a.digit = b.digit)::INTEGER) FROM p_fp32 a JOIN p_bf16 b USING (id)").fetchone()[0]
    assert agree > 0.9


def test_shards_stay_resident_until_the_table_changes(gpu_conn):
    gpu_conn.sql("""CREATE OR REPLACE FUNCTION total LANGUAGE PYTHON AS $$
from indb import udf
@udf.function(frame="torch")
def total(ctx, t):
    return {"s": [float(t["pixels"].sum())]}
$$""")

    def run() -> dict[str, int]:
        run_id = gpu_conn.sql("EXECUTE FUNCTION total(INPUT_TABLE_NAMES => INPUT_TABLE(img))").fetchone()[0]
        status = gpu_conn.sql(f"SHOW FUNCTION STATUS VERBOSE FOR '{run_id}'").df()
        return {"hits": int(status["cache_hits"].sum()), "misses": int(status["cache_misses"].sum())}
    run()
    assert run() == {"hits": 4, "misses": 0}  # every shard was still on the GPU
    gpu_conn.sql("INSERT INTO img SELECT 10000 + range, [1 FOR x IN range(64)]::FLOAT[64], 1 FROM range(40)")
    after = run()
    assert after["misses"] >= 1 and after["hits"] + after["misses"] == 4  # changed shards are read again


def test_a_numba_cuda_kernel_matches_its_cpu_reference(gpu_conn):
    pytest.importorskip("numba.cuda")
    import sys
    from indb.cli.demo import resources
    sys.path.insert(0, str(resources() / "udfs"))
    from fracdiff import fracdiff_cpu, fracdiff_gpu, weights
    series = np.log(1000 + np.cumsum(np.random.default_rng(0).normal(size=5000)))
    w = weights(0.4, 20)
    np.testing.assert_allclose(fracdiff_gpu(series, w), fracdiff_cpu(series, w), rtol=1e-9, equal_nan=True)
    gpu_conn.sql("CREATE TABLE px (sym VARCHAR, date DATE, close DOUBLE, SHARD KEY (sym)) WITH (SHARDS = 2)")
    gpu_conn.sql("INSERT INTO px SELECT 'S' || (range % 3), DATE '2020-01-01' + (range // 3)::INTEGER, "
                 "100 + sin(range) FROM range(3000)")
    gpu_conn.sql(f"CREATE FUNCTION fracdiff RUN_COMMAND = 'python' RUN_COMMAND_ARGS = 'fracdiff.py' "
                 f"FILE PATHS '{resources() / 'udfs' / 'fracdiff.py'}'")
    gpu_conn.sql("EXECUTE FUNCTION fracdiff(INPUT_TABLE_NAMES => INPUT_TABLE(px), OUTPUT_TABLE_NAMES => OUTPUT_TABLES('fd'))")
    # the first width-1 days of each symbol have no value (NaN)
    assert gpu_conn.sql("SELECT bool_and(on_gpu), count(*), count(*) FILTER (WHERE NOT isnan(fracdiff)) "
                        "FROM fd").fetchone() == (True, 3000, 3000 - 3 * 19)


def _saved_cnn(tmp_path):
    """A small conv net saved as a torch artifact (and the module it came from)."""
    from indb.runtime.predictors import save_model
    torch.manual_seed(0)
    module = torch.nn.Sequential(torch.nn.Unflatten(1, (1, 8, 8)), torch.nn.Conv2d(1, 4, 3), torch.nn.ReLU(),
                                 torch.nn.Flatten(), torch.nn.Linear(144, 10)).eval()
    save_model(module, torch.rand(4, 64), "torch", tmp_path)
    return module, tmp_path / "model.pt2"


@pytest.mark.parametrize("precision, tolerance", [("fp32", 1e-4), ("bf16", 5e-2)])
def test_cuda_graphs_give_the_eager_models_outputs(tmp_path, precision, tolerance):
    from indb.runtime.predictors import Predictor
    module, path = _saved_cnn(tmp_path)
    eager = Predictor.from_file("torch", path, "cuda", precision)
    graphed = Predictor.from_file("torch", path, "cuda", precision, cuda_graphs=True)
    for rows in (1, 3, 2048, 2120, 8193):
        x = np.random.default_rng(rows).random((rows, 64), dtype=np.float32)
        expected = eager.scores(x)  # short batches padded, or run as they are untuned: the same rows
        np.testing.assert_allclose(expected, module(torch.from_numpy(x)).detach().numpy(),
                                   atol=tolerance, rtol=tolerance)
        np.testing.assert_allclose(graphed.scores(x), expected, atol=tolerance, rtol=tolerance)
        on_device = graphed.outputs(torch.from_numpy(x).cuda())
        assert on_device.device.type == "cuda"
        np.testing.assert_allclose(on_device.float().cpu().numpy(), expected, atol=tolerance, rtol=tolerance)
    assert graphed.scores(np.zeros((0, 64), dtype=np.float32)).shape == (0, 10)


def test_compiled_models_give_the_eager_models_outputs(tmp_path):
    pytest.importorskip("triton")  # torch.compile's GPU code generator
    from indb.runtime.predictors import Predictor
    _, path = _saved_cnn(tmp_path)
    x = np.random.default_rng(0).random((300, 64), dtype=np.float32)
    expected = Predictor.from_file("torch", path, "cuda").scores(x)
    compiled = Predictor.from_file("torch", path, "cuda", compile=True)
    np.testing.assert_allclose(compiled.scores(x), expected, atol=1e-4, rtol=1e-4)


def test_the_serving_path_runs_on_the_gpu_from_graphs(gpu_conn):
    if "gpu_clf" not in set(gpu_conn.sql("SHOW MODELS").df()["name"]):
        test_models_train_and_infer_on_the_gpu_in_fp32_and_bf16(gpu_conn)
    served = gpu_conn.model("gpu_clf")
    assert served.device == "cuda" and served.cuda_graphs is not None
    row = np.asarray(gpu_conn.sql("SELECT pixels FROM img WHERE id = 7").fetchone()[0], dtype=np.float32)
    assert served.predict(row[None, :])[0] == gpu_conn.sql("SELECT PREDICT('gpu_clf', pixels) FROM img WHERE id = 7").fetchone()[0]


def test_a_graphed_model_serves_several_threads_at_once(tmp_path):
    from concurrent.futures import ThreadPoolExecutor

    from indb.runtime.predictors import Predictor
    _, path = _saved_cnn(tmp_path)
    graphed = Predictor.from_file("torch", path, "cuda", cuda_graphs=True)
    inputs = [np.random.default_rng(i).random((1 + i % 5, 64), dtype=np.float32) for i in range(64)]
    eager = Predictor.from_file("torch", path, "cuda")
    expected = [eager.scores(x) for x in inputs]
    with ThreadPoolExecutor(8) as pool:  # as DuckDB calls PREDICT
        got = list(pool.map(graphed.scores, inputs))
    for g, e in zip(got, expected):
        np.testing.assert_allclose(g, e, atol=1e-4, rtol=1e-4)


def test_a_column_larger_than_the_staging_buffer_streams_through_it(monkeypatch):
    from indb.runtime import gpus
    monkeypatch.setattr(gpus, "STAGING_BYTES", 1 << 20)  # so that 5 MB take several pieces
    rng = np.random.default_rng(0)
    pixels = [rng.integers(0, 256, (n, 784), dtype=np.uint8) for n in (2000, 3, 4690)]
    ids = rng.integers(0, 1 << 60, 700_000)
    on_device = gpus.to_device(pixels, "cuda")
    assert on_device.is_cuda and on_device.shape == (6693, 784)
    np.testing.assert_array_equal(on_device.cpu().numpy(), np.concatenate(pixels))
    np.testing.assert_array_equal(gpus.to_device(ids, "cuda").cpu().numpy(), ids)


def test_device_outputs_come_back_in_one_transfer_as_the_same_columns():
    from indb.udf.frames import to_table
    n = 1001
    columns = {"flag": torch.arange(n, device="cuda") % 3 == 0, "id": torch.arange(n, device="cuda") * 7,
               "p": torch.rand(n, device="cuda"), "d": torch.arange(n, device="cuda", dtype=torch.int32),
               "v": torch.rand(n, 4, device="cuda"), "text": np.array(["x"] * n)}
    table = to_table(columns, "the output")
    assert table.column_names == ["flag", "id", "p", "d", "v", "text"]
    for name in ("flag", "id", "p", "d"):
        np.testing.assert_array_equal(table[name].to_numpy(), columns[name].cpu().numpy())
    np.testing.assert_array_equal(np.stack(table["v"].to_numpy(zero_copy_only=False)), columns["v"].cpu().numpy())


def test_shards_read_ahead_are_each_their_own_shards_rows(gpu_conn):
    """Eight shards on four instance slots: each slot's host reads its second shard while the
    first runs; every instance still sees exactly its own rows."""
    gpu_conn.sql("CREATE TABLE img8 (id BIGINT, v DOUBLE, SHARD KEY (id)) WITH (SHARDS = 8)")
    gpu_conn.sql("INSERT INTO img8 SELECT range, range * 0.5 FROM range(20000)")
    gpu_conn.sql("""CREATE OR REPLACE FUNCTION shard_sums LANGUAGE PYTHON AS $$
from indb import udf
@udf.function(frame="torch")
def shard_sums(ctx, t):
    return {"shard": [ctx.shard], "n": [len(t["id"])], "s": [float(t["v"].sum())], "ids": [int(t["id"].sum())]}
$$""")
    gpu_conn.sql("EXECUTE FUNCTION shard_sums(INPUT_TABLE_NAMES => INPUT_TABLE(img8), "
                 "OUTPUT_TABLE_NAMES => OUTPUT_TABLES('sums8'))")
    got = {r[0]: r[1:] for r in gpu_conn.sql("SELECT shard, n, s, ids FROM sums8").fetchall()}
    for shard in range(8):
        expected = gpu_conn.table("img8").shard(shard)
        assert got[shard][0] == expected.num_rows > 0
        assert got[shard][1] == pytest.approx(sum(expected["v"].to_pylist()))
        assert got[shard][2] == sum(expected["id"].to_pylist())


def test_a_turn_passes_on_once_the_gpu_has_begun_its_last_batch():
    """``gpus.Tail``: marked before the last batch, the wait ends while that batch still runs;
    unmarked, only once the GPU has finished everything queued."""
    from indb.runtime.gpus import Tail
    tail = Tail("cuda")
    x = torch.rand(4096, 4096, device="cuda")
    with torch.inference_mode():
        x @ x  # the batches before the last
        tail.mark()
        for _ in range(50):  # the last batch: long enough to still be running after the wait
            x @ x
        tail()
        assert not torch.cuda.current_stream().query()
        assert tail.busy()  # (no mark now: the work queued on the stream)
        tail()  # the mark was used: now the whole turn's work
        assert torch.cuda.current_stream().query() and not tail.busy()
