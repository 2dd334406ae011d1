"""The GPU path, measured in one run: the roofline first (the bare CNN on a resident tensor, fp32
and bf16; host-to-device bandwidth), then EXECUTE FUNCTION mnist_infer over 28x28 rows on the
GPU workers (cold and warm, fp32 and bf16) against the bare model on the same rows in memory, the
CPU path and a naive row-at-a-time loop.

Run on a machine with a CUDA GPU: ``python benchmarks/bench_gpu.py [--rows N] [--json F]``.
Targets (issue 5): warm >= 80% of the bare model's rows/s, cold >= 50%.
"""

from __future__ import annotations

import argparse
import copy
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import torch
from bench_models import images_table, register
from common import best_of, machine, report

import indb
from indb.demo import resources
from indb.sharding.gpus import visible_gpus

sys.path.insert(0, str(resources() / "udfs"))
from mnist_model import DigitsCNN, train  # noqa: E402

INFER = ("CREATE FUNCTION mnist_infer MODE = 'distributed' RUN_COMMAND = 'python' "
         "RUN_COMMAND_ARGS = 'mnist_infer.py' FILE PATHS '{path}'")


def timed_cuda(fn, repeats: int) -> float:
    torch.cuda.synchronize()
    started = time.perf_counter()
    for _ in range(repeats):
        fn()
    torch.cuda.synchronize()
    return (time.perf_counter() - started) / repeats


def roofline(model: torch.nn.Module) -> dict[str, float]:
    """img/s of the bare model on a resident batch of 8,192, fp32 and bf16; copy bandwidths."""
    out = {}
    x = torch.rand(8192, 784, device="cuda")
    half = copy.deepcopy(model).to(torch.bfloat16)
    with torch.inference_mode():
        for name, m, xx in (("fp32", model, x), ("bf16", half, x.to(torch.bfloat16))):
            for _ in range(5):
                m(xx)
            out[f"bare_resident_{name}_img_per_s"] = 8192 / timed_cuda(lambda: m(xx), 50)
    host = torch.empty(256 << 20, dtype=torch.uint8)
    pinned = host.pin_memory()
    device = torch.empty_like(host, device="cuda")
    out["h2d_pinned_GB_per_s"] = host.numel() / timed_cuda(lambda: device.copy_(pinned, non_blocking=True), 10) / 1e9
    out["h2d_pageable_GB_per_s"] = host.numel() / timed_cuda(lambda: device.copy_(host), 10) / 1e9
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--cpu-rows", type=int, default=100_000)
    parser.add_argument("--naive-rows", type=int, default=1_000)
    parser.add_argument("--train-rows", type=int, default=200_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    assert torch.cuda.is_available() and visible_gpus(), "bench_gpu needs a CUDA GPU"
    torch.manual_seed(0)
    figures: dict[str, object] = {"machine": f"{machine()}, torch {torch.__version__}, "
                                             f"{torch.cuda.get_device_name()} x{visible_gpus()}"}
    model = DigitsCNN(784).eval().cuda()
    figures.update(roofline(model))

    workdir = Path(tempfile.mkdtemp(prefix="indb-bench-gpu-"))
    try:
        pixels = np.random.default_rng(0).random((args.rows, 784), dtype=np.float32)
        conn = indb.connect(workdir / "db")  # one worker per GPU
        conn.sql("CREATE TABLE images (id BIGINT, pixels FLOAT[784], SHARD KEY (id)) WITH (SHARDS = 8)")
        started = time.perf_counter()
        conn.load("images", images_table(pixels))
        figures["load_rows_per_s"] = args.rows / (time.perf_counter() - started)
        conn.sql(INFER.format(path=resources() / "udfs" / "mnist_infer.py"))
        predictor = register(conn, "cnn28", model.cpu(), 784)
        model.cuda()
        conn.sql("CREATE FUNCTION noop LANGUAGE PYTHON AS $$\ndef noop(ctx, t):\n    return None\n$$")
        conn.sql("EXECUTE FUNCTION noop(INPUT_TABLE_NAMES => INPUT_TABLE(SELECT id FROM images WHERE id < 0))")

        def infer(precision: str) -> None:
            conn.sql("DROP TABLE IF EXISTS predictions")
            conn.sql("EXECUTE FUNCTION mnist_infer(INPUT_TABLE_NAMES => INPUT_TABLE(images), "
                     "OUTPUT_TABLE_NAMES => OUTPUT_TABLES('predictions'), "
                     f"PARAMS => KV_PAIRS(model = 'cnn28', precision = '{precision}'))")
        for precision in ("fp32", "bf16"):
            started = time.perf_counter()
            infer(precision)  # cold: the instances load the model; shards are read from the files
            figures[f"mnist_infer_cold_{precision}_rows_per_s"] = args.rows / (time.perf_counter() - started)
            seconds, _ = best_of(args.runs, lambda: infer(precision))
            figures[f"mnist_infer_warm_{precision}_rows_per_s"] = args.rows / seconds

        # the bare model on the same rows in host memory: copied to the GPU batch by batch
        gpu_predictor = type(predictor)(predictor.info, device="cuda")
        seconds, _ = best_of(args.runs, lambda: gpu_predictor.scores(pixels).argmax(axis=1))
        figures["bare_from_host_fp32_rows_per_s"] = args.rows / seconds

        # a naive loop, as a kdb+ subscriber does it: read a row (from an in-memory DuckDB
        # table), infer it on the GPU, insert its prediction
        import duckdb
        plain = duckdb.connect()
        source = images_table(pixels[:args.naive_rows])  # noqa: F841  (DuckDB reads it by name)
        plain.execute("CREATE TABLE source AS SELECT * FROM source")
        plain.execute("CREATE TABLE naive_predictions (id BIGINT, digit INTEGER)")
        started = time.perf_counter()
        for i in range(args.naive_rows):
            row = plain.execute("SELECT pixels FROM source WHERE id = ?", [i]).fetchone()[0]
            digit = int(gpu_predictor.scores(np.asarray(row, dtype=np.float32)[None, :]).argmax())
            plain.execute("INSERT INTO naive_predictions VALUES (?, ?)", [i, digit])
        figures["naive_loop_rows_per_s"] = args.naive_rows / (time.perf_counter() - started)
        conn.close()

        # training from a table (one instance on the GPU) against the bare training loop
        labels = np.random.default_rng(1).integers(0, 10, args.train_rows).astype(np.int32)
        train_rows = images_table(pixels[:args.train_rows]).append_column("label", pa.array(labels))
        conn2 = indb.connect(workdir / "db")
        conn2.sql("CREATE TABLE train28 (id BIGINT, pixels FLOAT[784], label INTEGER, SHARD KEY (id)) WITH (SHARDS = 8)")
        conn2.load("train28", train_rows)
        conn2.sql("CREATE FUNCTION mnist_train MODE = 'nondistributed' RUN_COMMAND = 'python' "
                  "RUN_COMMAND_ARGS = 'mnist_train.py' FILE PATHS "
                  f"'{resources() / 'udfs' / 'mnist_train.py'}', '{resources() / 'udfs' / 'mnist_model.py'}'")
        epochs = 3
        run_train = ("EXECUTE FUNCTION mnist_train(INPUT_TABLE_NAMES => INPUT_TABLE(SELECT pixels, label FROM train28), "
                     f"PARAMS => KV_PAIRS(epochs = '{epochs}', batch_size = '1024', model = 'trained28'))")
        conn2.sql(run_train.replace(f"epochs = '{epochs}'", "epochs = '1'"))  # warm: CUDA, imports
        started = time.perf_counter()
        conn2.sql(run_train)
        figures["train_from_table_img_per_s"] = args.train_rows * epochs / (time.perf_counter() - started)
        conn2.close()
        x = torch.from_numpy(pixels[:args.train_rows]).cuda()
        y = torch.from_numpy(labels.astype(np.int64)).cuda()
        fresh = DigitsCNN(784).cuda()
        train(fresh, x, y, epochs=1, batch_size=1024, lr=0.002, seed=0, device="cuda")  # warm
        torch.cuda.synchronize()
        started = time.perf_counter()
        train(fresh, x, y, epochs=epochs, batch_size=1024, lr=0.002, seed=0, device="cuda")
        torch.cuda.synchronize()
        figures["train_bare_resident_img_per_s"] = args.train_rows * epochs / (time.perf_counter() - started)

        # the CPU path on the same machine: workers without GPUs
        with indb.connect(workdir / "db", gpus=0, workers=8, threads_per_worker=1) as cpu:
            cpu.sql("CREATE TABLE cpu_images AS SELECT * FROM images WHERE id < ?", [args.cpu_rows])
            cpu.sql("EXECUTE FUNCTION noop(INPUT_TABLE_NAMES => INPUT_TABLE(SELECT id FROM images WHERE id < 0))")
            started = time.perf_counter()
            cpu.sql("EXECUTE FUNCTION mnist_infer(INPUT_TABLE_NAMES => INPUT_TABLE(cpu_images), "
                    "OUTPUT_TABLE_NAMES => OUTPUT_TABLES('cpu_predictions'), PARAMS => KV_PAIRS(model = 'cnn28'))")
            figures["mnist_infer_cpu_8_workers_rows_per_s"] = args.cpu_rows / (time.perf_counter() - started)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)

    bare = figures["bare_resident_fp32_img_per_s"]
    figures["ratio_warm_fp32_over_bare_resident"] = figures["mnist_infer_warm_fp32_rows_per_s"] / bare
    figures["ratio_cold_fp32_over_bare_resident"] = figures["mnist_infer_cold_fp32_rows_per_s"] / bare
    figures["ratio_warm_fp32_over_bare_from_host"] = (figures["mnist_infer_warm_fp32_rows_per_s"]
                                                      / figures["bare_from_host_fp32_rows_per_s"])
    figures["ratio_gpu_warm_over_cpu_path"] = (figures["mnist_infer_warm_fp32_rows_per_s"]
                                               / figures["mnist_infer_cpu_8_workers_rows_per_s"])
    figures["ratio_gpu_warm_over_naive"] = figures["mnist_infer_warm_fp32_rows_per_s"] / figures["naive_loop_rows_per_s"]
    figures["ratio_train_from_table_over_bare"] = (figures["train_from_table_img_per_s"]
                                                   / figures["train_bare_resident_img_per_s"])
    report({k: round(v, 3) if isinstance(v, float) else v for k, v in figures.items()}, args.json)


if __name__ == "__main__":
    main()
