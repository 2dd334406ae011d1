"""Model inference where the data is: EXECUTE FUNCTION mnist_infer vs the bare model on rows in
memory vs a naive row-at-a-time loop; PREDICT in SQL vs a hand-written DuckDB Arrow UDF.

Run: ``indb bench models`` or ``python benchmarks/bench_models.py [--rows N] [--cnn-rows N]``.
Targets (issue 4, digits model, this CPU): mnist_infer >= 50% of the bare model's rows/s and
>= 50x the naive loop.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa
import torch
from common import best_of, machine, report

import indb
from indb.datasets import digits
from indb.cli.demo import resources
from indb.runtime.predictors import Predictor, save_model
from indb.registry.models import StagedModel, staging_dir
from indb.storage.files import data_files, local_path

sys.path.insert(0, str(resources() / "udfs"))
from mnist_model import DigitsCNN, train  # noqa: E402  (the UDF programs' own model code)

INFER = """CREATE FUNCTION mnist_infer MODE = 'distributed' RUN_COMMAND = 'python'
  RUN_COMMAND_ARGS = 'mnist_infer.py' FILE PATHS '{path}'"""


def images_table(pixels: np.ndarray) -> pa.Table:
    return pa.table({"id": pa.array(np.arange(len(pixels), dtype=np.int64)),
                     "pixels": pa.FixedSizeListArray.from_arrays(pa.array(pixels.ravel()), pixels.shape[1])})


def register(conn: indb.Connection, name: str, model: torch.nn.Module, width: int,
             output: str = "class") -> Predictor:
    with staging_dir(conn.path) as directory:
        shape, dtype, out = save_model(model, torch.zeros(2, width), "torch", directory)
        info = conn._engine.models.register(StagedModel(name, "torch", str(directory), shape, dtype,
                                                        output, out, {}), {})
    return Predictor(info)


def measure(conn: indb.Connection, table: str, model: str, predictor: Predictor, pixels: np.ndarray,
            runs: int, naive_rows: int) -> dict[str, float]:
    """rows/s of: mnist_infer over the table, the bare model on the same rows in memory, the loop."""
    def infer() -> None:
        conn.sql("DROP TABLE IF EXISTS predictions")
        conn.sql(f"EXECUTE FUNCTION mnist_infer(INPUT_TABLE_NAMES => INPUT_TABLE({table}), "
                 f"OUTPUT_TABLE_NAMES => OUTPUT_TABLES('predictions'), PARAMS => KV_PAIRS(model = '{model}'))")
    infer()  # warm: instance processes load the model
    infer_s, _ = best_of(runs, infer)
    assert conn.sql("SELECT count(*) FROM predictions").fetchone()[0] == len(pixels)
    bare_s, _ = best_of(runs, lambda: predictor.scores(pixels).argmax(axis=1))

    # the naive loop, as a kdb+ subscriber does it: read a row, infer it, write its prediction
    plain = duckdb.connect()
    table_files = [local_path(f.file_path) for f in data_files(conn._engine.db.load(table)[0])]
    plain.sql(f"CREATE TABLE source AS SELECT * FROM read_parquet({table_files!r})")
    plain.sql("CREATE TABLE naive_predictions (id BIGINT, digit INTEGER)")
    started = time.perf_counter()
    for i in range(naive_rows):
        row = plain.execute("SELECT pixels FROM source WHERE id = ?", [i]).fetchone()
        pixels_row = np.frombuffer(row[0], dtype=np.float32) if isinstance(row[0], bytes) else np.asarray(row[0], np.float32)
        digit = int(predictor.scores(pixels_row[None, :]).argmax())
        plain.execute("INSERT INTO naive_predictions VALUES (?, ?)", [i, digit])
    naive_s = time.perf_counter() - started
    rows = len(pixels)
    return {"infer": rows / infer_s, "bare": rows / bare_s, "naive": naive_rows / naive_s}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000, help="8x8 digit rows")
    parser.add_argument("--cnn-rows", type=int, default=20_000, help="28x28 image rows")
    parser.add_argument("--naive-rows", type=int, default=2_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    torch.manual_seed(0)
    workdir = Path(tempfile.mkdtemp(prefix="indb-bench-"))
    try:
        conn = indb.connect(workdir / "db", workers=2, threads_per_worker=2)
        conn.sql(INFER.format(path=resources() / "udfs" / "mnist_infer.py"))

        # the 8x8 digits model, trained briefly on the real digits, over the digits tiled to --rows
        data = digits()
        real = data["pixels"].combine_chunks().flatten().to_numpy().reshape(-1, 64) / 16
        model = DigitsCNN(64)
        train(model, torch.from_numpy(real.astype(np.float32)),
              torch.from_numpy(data["label"].to_numpy().astype(np.int64)), epochs=3, batch_size=64,
              lr=0.002, seed=0)
        digits_model = register(conn, "digits_cnn", model, 64)
        pixels = np.resize(real.astype(np.float32), (args.rows, 64))
        conn.sql("CREATE TABLE images (id BIGINT, pixels FLOAT[64], SHARD KEY (id)) WITH (SHARDS = 8)")
        conn.load("images", images_table(pixels))
        small = measure(conn, "images", "digits_cnn", digits_model, pixels, args.runs, args.naive_rows)

        # PREDICT in SQL vs the same model in a hand-written DuckDB Arrow UDF, same files
        query = "SELECT sum(PREDICT('digits_cnn', pixels)) FROM images"
        conn.sql(query)
        predict_s, ours = best_of(args.runs, lambda: conn.sql(query).fetchone()[0])
        plain = duckdb.connect()
        files = [local_path(f.file_path) for f in data_files(conn._engine.db.load("images")[0])]
        plain.sql(f"CREATE VIEW images AS SELECT id, pixels FROM read_parquet({files!r})")

        def by_hand(blob: pa.ChunkedArray) -> pa.Array:  # the stored FLOAT[64]: 256-byte BLOBs
            array = blob.combine_chunks() if isinstance(blob, pa.ChunkedArray) else blob
            start = np.frombuffer(array.buffers()[1], dtype=np.int32)[array.offset]
            rows = np.frombuffer(array.buffers()[2], dtype=np.float32, count=len(array) * 64,
                                 offset=int(start)).reshape(len(array), 64)
            return pa.array(digits_model.scores(rows).argmax(axis=1))
        plain.create_function("by_hand", by_hand, None, "BIGINT", type="arrow")
        plain.execute("SELECT sum(by_hand(pixels)) FROM images").fetchone()
        udf_s, theirs = best_of(args.runs, lambda: plain.execute("SELECT sum(by_hand(pixels)) FROM images").fetchone()[0])
        assert ours == theirs

        # the 28x28 CNN (untrained: the speed is the same) over --cnn-rows random images
        cnn = register(conn, "mnist28_cnn", DigitsCNN(784), 784)
        big = np.random.default_rng(0).random((args.cnn_rows, 784), dtype=np.float32)
        conn.sql("CREATE TABLE images28 (id BIGINT, pixels FLOAT[784], SHARD KEY (id)) WITH (SHARDS = 8)")
        conn.load("images28", images_table(big))
        large = measure(conn, "images28", "mnist28_cnn", cnn, big, args.runs, min(args.naive_rows, 500))
        conn.close()
    finally:
        shutil.rmtree(workdir, ignore_errors=True)

    rows = args.rows
    report({
        "machine": f"{machine()}, torch {torch.__version__} ({torch.get_num_threads()} threads)",
        "digits_rows": rows,
        "digits_mnist_infer_rows_per_s": round(small["infer"]),
        "digits_bare_model_rows_per_s": round(small["bare"]),
        "digits_naive_loop_rows_per_s": round(small["naive"]),
        "digits_ratio_infer_over_bare": round(small["infer"] / small["bare"], 3),
        "digits_ratio_infer_over_naive": round(small["infer"] / small["naive"], 1),
        "predict_sql_rows_per_s": round(rows / predict_s),
        "handwritten_duckdb_udf_rows_per_s": round(rows / udf_s),
        "ratio_predict_over_handwritten": round(udf_s / predict_s, 3),
        "cnn28_rows": args.cnn_rows,
        "cnn28_mnist_infer_rows_per_s": round(large["infer"]),
        "cnn28_bare_model_rows_per_s": round(large["bare"]),
        "cnn28_naive_loop_rows_per_s": round(large["naive"]),
        "cnn28_ratio_infer_over_bare": round(large["infer"] / large["bare"], 3),
        "cnn28_ratio_infer_over_naive": round(large["infer"] / large["naive"], 1),
    }, args.json)


if __name__ == "__main__":
    main()
