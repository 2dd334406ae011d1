"""Several GPUs, measured in one run (issue 17): inference scaling and data-parallel training.

1. EXECUTE FUNCTION mnist_infer over --rows MNIST-shaped rows (UTINYINT[784], raw bytes, ~80%
   zeros), 8 shards, with 1, 2 and 4 GPU workers (one worker per GPU; those counts the machine
   has): cold (the shards read from the files, by processes that have run the model before over
   another table) and warm (the shards resident on the GPUs: the best of --runs) rows/s, and the
   speed-up over one GPU.
2. Training the digit CNN on --train-rows synthetic MNIST-shaped digits (a template per class
   plus noise) with n = 1, 2, 4 GPUs, the training table in n shards: DDP (``mnist_train_ddp``,
   ``OPTIONS => KV_PAIRS(distributed = 'ddp')``, one process group) against federated averaging
   (``mnist_train_shards`` then ``mnist_average``, as sql/mnist.sql does it), --epochs epochs a
   round, rounds until the held-out accuracy reaches --target (at most --max-rounds): seconds to
   the target and the accuracy reached.

Run on a machine with CUDA GPUs: ``python benchmarks/bench_multigpu.py [--json F]`` (the
figures of issue 17 come from ``nvidia-h200-x4``). Without a GPU it stops, unless ``--smoke``
asks for a run on the CPU at toy sizes, CPU workers standing in for GPU workers (to check the
script; its figures mean nothing). Target (issue 17): warm speed-up >= 3.6 at four GPUs.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import torch
from bench_gpu import mnist_like
from bench_models import register
from common import machine, report

import indb
from indb.cli.demo import resources
from indb.runtime.gpus import visible_gpus
from indb.sharding.cluster import close_cluster

sys.path.insert(0, str(resources() / "udfs"))
from mnist_model import DigitsCNN  # noqa: E402

INFER_SHARDS = 8
LOAD_CHUNK = 2_000_000  # rows loaded at a time (one snapshot each): 40M rows never in memory twice
FUNCTIONS = {
    "mnist_infer": "MODE = 'distributed' RUN_COMMAND = 'python' RUN_COMMAND_ARGS = 'mnist_infer.py' "
                   "FILE PATHS '{udfs}/mnist_infer.py'",
    "mnist_train_ddp": "MODE = 'distributed' RUN_COMMAND = 'python' RUN_COMMAND_ARGS = "
                       "'mnist_train_ddp.py' FILE PATHS '{udfs}/mnist_train_ddp.py', '{udfs}/mnist_model.py'",
    "mnist_train_shards": "MODE = 'distributed' HANDLER 'mnist_train' RUN_COMMAND = 'python' "
                          "RUN_COMMAND_ARGS = 'mnist_train.py' FILE PATHS '{udfs}/mnist_train.py', "
                          "'{udfs}/mnist_model.py'",
    "mnist_average": "MODE = 'nondistributed' HANDLER 'mnist_average' RUN_COMMAND = 'python' "
                     "RUN_COMMAND_ARGS = 'mnist_train.py' FILE PATHS '{udfs}/mnist_train.py', "
                     "'{udfs}/mnist_model.py'",
}


def images(pixels: np.ndarray, first_id: int, labels: np.ndarray | None = None) -> pa.Table:
    columns = {"id": pa.array(np.arange(first_id, first_id + len(pixels), dtype=np.int64)),
               "pixels": pa.FixedSizeListArray.from_arrays(pa.array(pixels.ravel()), pixels.shape[1])}
    if labels is not None:
        columns["label"] = pa.array(labels.astype(np.int32))
    return pa.table(columns)


def load_images(conn: indb.Connection, table: str, rows: int, shards: int, seed: int) -> None:
    conn.sql(f"CREATE TABLE {table} (id BIGINT, pixels UTINYINT[784], SHARD KEY (id)) "
             f"WITH (SHARDS = {shards})")
    for start in range(0, rows, LOAD_CHUNK):
        conn.load(table, images(mnist_like(min(LOAD_CHUNK, rows - start), seed + start), start))


def synthetic_digits(rows: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Learnable MNIST-shaped digits: each class a fixed random template of bright pixels, each
    image its class's template with 40% of its pixels flipped (noisy enough that reaching 95% on
    held-out rows takes a CNN more than one pass over 20k of them: CPU trial, 0.57 after one
    epoch, 0.86 after four)."""
    templates = np.random.default_rng(1234).random((10, 784)) < 0.2
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 10, rows)
    flips = rng.random((rows, 784)) < 0.4
    return ((templates[labels] ^ flips) * 255).astype(np.uint8), labels


def connect(path: Path, workers: int, gpus: int) -> indb.Connection:
    return indb.connect(path, workers=workers, gpus=gpus)


def release(conn: indb.Connection) -> None:
    """Stop this connection's cluster (its processes, and their GPU memory) and close it."""
    close_cluster(**conn._engine.runner.cluster_options)
    conn.close()


def infer(conn: indb.Connection, table: str) -> tuple[float, str]:
    """Seconds of one mnist_infer run over ``table``, and its run id."""
    conn.sql("DROP TABLE IF EXISTS predictions")
    started = time.perf_counter()
    run_id = conn.sql(f"EXECUTE FUNCTION mnist_infer(INPUT_TABLE_NAMES => INPUT_TABLE({table}), "
                      "OUTPUT_TABLE_NAMES => OUTPUT_TABLES('predictions'), "
                      "PARAMS => KV_PAIRS(model = 'cnn28'))").fetchone()[0]
    return time.perf_counter() - started, run_id


def inference(path: Path, counts: list[int], gpus: bool, rows: int, runs: int) -> dict[str, object]:
    figures: dict[str, object] = {"infer_rows": rows}
    speeds: dict[tuple[int, str], float] = {}
    for n in counts:
        conn = connect(path, n, n if gpus else 0)
        try:
            infer(conn, "warmup")  # processes, CUDA and the model up, over other rows
            speeds[n, "cold"] = rows / infer(conn, "images")[0]
            warm = [infer(conn, "images") for _ in range(runs)]
            speeds[n, "warm"] = rows / min(seconds for seconds, _ in warm)
            status = conn.sql(f"SHOW FUNCTION STATUS VERBOSE FOR '{warm[-1][1]}'").df()
            figures[f"infer_{n}gpu_devices"] = sorted(set(status["device"]))  # the shards' spread
        finally:
            release(conn)
    for (n, kind), speed in speeds.items():
        figures[f"infer_{n}gpu_{kind}_rows_per_s"] = speed
        figures[f"infer_{n}gpu_{kind}_speedup"] = speed / speeds[1, kind]
    return figures


def accuracy(conn: indb.Connection, model: str) -> float:
    return float(conn.sql(f"SELECT avg((PREDICT('{model}', [p / 255 FOR p IN pixels]::FLOAT[784]) "
                          "= label)::INTEGER) FROM heldout").fetchone()[0])


def train_round(conn: indb.Connection, method: str, table: str, model: str, args: argparse.Namespace) -> None:
    inputs = f"INPUT_TABLE_NAMES => INPUT_TABLE(SELECT pixels, label FROM {table})"
    params = (f"PARAMS => KV_PAIRS(epochs = '{args.epochs}', batch_size = '{args.batch_size}', "
              f"lr = '0.002', model = '{model}')")
    if method == "ddp":
        conn.sql(f"EXECUTE FUNCTION mnist_train_ddp({inputs}, {params}, "
                 "OPTIONS => KV_PAIRS(distributed = 'ddp'))")
        return
    conn.sql("DROP TABLE IF EXISTS shard_weights")
    conn.sql(f"EXECUTE FUNCTION mnist_train_shards({inputs}, "
             f"OUTPUT_TABLE_NAMES => OUTPUT_TABLES('shard_weights'), {params})")
    conn.sql(f"EXECUTE FUNCTION mnist_average(INPUT_TABLE_NAMES => INPUT_TABLE(shard_weights), "
             f"PARAMS => KV_PAIRS(model = '{model}'))")


def training(path: Path, counts: list[int], gpus: bool, args: argparse.Namespace) -> dict[str, object]:
    figures: dict[str, object] = {"train_rows": args.train_rows, "train_target_accuracy": args.target}
    for n in counts:
        conn = connect(path, n, n if gpus else 0)
        try:
            for method in ("ddp", "fedavg"):
                model, elapsed, reached, rounds = f"{method}_{n}", 0.0, 0.0, 0
                while rounds < args.max_rounds and reached < args.target:
                    started = time.perf_counter()
                    train_round(conn, method, f"train{n}", model, args)
                    elapsed += time.perf_counter() - started
                    rounds += 1
                    reached = accuracy(conn, model)
                label = f"train_{method}_{n}gpu"
                figures[f"{label}_accuracy"] = reached
                figures[f"{label}_rounds"] = rounds
                figures[f"{label}_s"] = elapsed
                figures[f"{label}_s_to_target"] = elapsed if reached >= args.target else "not reached"
        finally:
            release(conn)
    return figures


def prepare(path: Path, counts: list[int], args: argparse.Namespace) -> None:
    """The tables, the functions and the inference model, made once for every configuration."""
    with indb.connect(path, workers=1, gpus=0) as conn:
        udfs = resources() / "udfs"
        for name, ddl in FUNCTIONS.items():
            conn.sql(f"CREATE FUNCTION {name} {ddl.format(udfs=udfs)}")
        register(conn, "cnn28", DigitsCNN(784).eval(), 784)
        if args.rows:
            load_images(conn, "warmup", max(args.rows // 10, 1000), INFER_SHARDS, seed=7)
            load_images(conn, "images", args.rows, INFER_SHARDS, seed=0)
        pixels, labels = synthetic_digits(args.train_rows, seed=1)
        for n in counts:  # a DDP run has a rank a shard, and a GPU a rank
            conn.sql(f"CREATE TABLE train{n} (id BIGINT, pixels UTINYINT[784], label INTEGER, "
                     f"SHARD KEY (id)) WITH (SHARDS = {n})")
            conn.load(f"train{n}", images(pixels, 0, labels))
        pixels, labels = synthetic_digits(args.heldout_rows, seed=2)
        conn.sql("CREATE TABLE heldout (id BIGINT, pixels UTINYINT[784], label INTEGER)")
        conn.load("heldout", images(pixels, 0, labels))
        release(conn)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=40_000_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--train-rows", type=int, default=240_000)
    parser.add_argument("--heldout-rows", type=int, default=10_000)
    parser.add_argument("--epochs", type=int, default=1, help="epochs a training round")
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--target", type=float, default=0.95, help="held-out accuracy to reach")
    parser.add_argument("--max-rounds", type=int, default=10)
    parser.add_argument("--parts", default="infer,train",
                        help="what to measure: infer, train or both (to split the run in two calls)")
    parser.add_argument("--json", type=Path, default=None)
    parser.add_argument("--smoke", action="store_true", help="toy sizes; runs without a GPU too")
    args = parser.parse_args()
    gpus = visible_gpus() if torch.cuda.is_available() else 0
    if args.smoke:
        args.rows, args.runs, args.train_rows, args.heldout_rows = 4000, 1, 800, 200
        args.batch_size, args.target, args.max_rounds = 64, 0.3, 1
    elif not gpus:
        print("bench_multigpu needs CUDA GPUs (none here); --smoke runs it on the CPU at toy sizes")
        return
    counts = [n for n in (1, 2, 4) if n <= max(gpus, 2 if args.smoke else 0)]
    figures: dict[str, object] = {"machine": f"{machine()}, torch {torch.__version__}, " + (
        f"{torch.cuda.get_device_name()} x{gpus}" if gpus else "no GPU (smoke run: CPU workers)")}
    workdir = Path(tempfile.mkdtemp(prefix="indb-bench-multigpu-"))
    try:
        parts = args.parts.split(",")
        if "infer" not in parts:
            args.rows = 0
        prepare(workdir / "db", counts, args)
        if "infer" in parts:
            figures.update(inference(workdir / "db", counts, bool(gpus), args.rows, args.runs))
        if "train" in parts:
            figures.update(training(workdir / "db", counts, bool(gpus), args))
    except BaseException:
        report(figures, args.json)  # what was measured before the failure
        raise
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    report(figures, args.json)


if __name__ == "__main__":
    main()
