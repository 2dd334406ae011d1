"""The GPU path, measured in one run.

1. The roofline: the bare 28x28 CNN (eager, cuDNN autotuned) on a resident batch, fp32 and bf16;
   host-to-device bandwidth.
2. EXECUTE FUNCTION mnist_infer over MNIST-shaped rows (UTINYINT[784], raw bytes, ~80% zeros like
   real digits) on the GPU workers: cold (shards read from the files) and warm (resident shards),
   fp32, bf16, CUDA graphs and torch.compile, at --rows and --big-rows (fp32, bf16, compiled); where
   each run's time goes (SHOW FUNCTION STATUS VERBOSE's phases, and each instance's timeline).
   Against the bare model, the CPU path and a naive row-at-a-time loop. Last, the engine alone: an
   identity function over the --big-rows resident rows, against the device's memory bandwidth.
3. MNIST training from a table against the bare training loop on resident tensors.
4. Single-row autoencoder scoring through the serving path (``Connection.model``: resident, CUDA
   graphs) against the bare model call: p50/p99 of the model step and of the whole call.

Run on a machine with a CUDA GPU: ``python benchmarks/bench_gpu.py [--rows N] [--json F]``. Without
one it stops, unless ``--smoke`` asks for a run on the CPU at toy sizes (to check the script; its
figures mean nothing).
``--cold`` measures cold fp32 runs alone, with the instance processes decoding their shards on
one thread each (``INDB_READ_THREADS=1``, the engine before), on their share of the cores (the
default) and on every core, each on a cluster of its own, alternating (``cold_threads``); and
one shard's read alone in this process with as many threads (``read_alone``).
``--profile`` runs part 2 alone (and times the compiled model before and after it has seen
padded batches), then warm fp32 and bf16 again with a GPU turn a model call
(``INDB_GPU_TURN_HOLD_S=0``) on a cluster of its own, for the same-run comparison. Targets (issue 5): warm >= 80% of the bare model's rows/s, cold >= 50%; training
>= 80%; serving model step p99 < 100 microseconds; (issue 18) warm >= 90% eager and >= 85%
compiled at both sizes, cold >= 75%.
"""

from __future__ import annotations

import argparse
import copy
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from unittest import mock

import numpy as np
import pyarrow as pa
import torch
from bench_models import images_table, register
from common import best_of, machine, percentiles, report

import indb
from indb.cli.demo import resources
from indb.sharding.cluster import close_cluster
from indb.runtime.gpus import visible_gpus, worker_environment
from indb.storage import files, read_threads

sys.path.insert(0, str(resources() / "udfs"))
from autoencoder_model import Autoencoder, ReconstructionError  # noqa: E402
from mnist_model import DigitsCNN, train  # noqa: E402

DEVICE = "cuda" if torch.cuda.is_available() and visible_gpus() else "cpu"
BATCH = 8192  # the engine's rows per model call (indb.runtime.predictors.BATCH_ROWS)
INFER = ("CREATE FUNCTION mnist_infer MODE = 'distributed' RUN_COMMAND = 'python' "
         "RUN_COMMAND_ARGS = 'mnist_infer.py' FILE PATHS '{path}'")
TRAIN = ("CREATE FUNCTION mnist_train MODE = 'nondistributed' RUN_COMMAND = 'python' "
         "RUN_COMMAND_ARGS = 'mnist_train.py' FILE PATHS '{train}', '{model}'")


def synchronize() -> None:
    if DEVICE == "cuda":
        torch.cuda.synchronize()


def timed(fn: Callable[[], object], repeats: int) -> float:
    """Seconds a call, the device's work included."""
    synchronize()
    started = time.perf_counter()
    for _ in range(repeats):
        fn()
    synchronize()
    return (time.perf_counter() - started) / repeats


def roofline(model: torch.nn.Module) -> dict[str, float]:
    """img/s of the bare model on a resident batch, fp32 and bf16; copy bandwidths."""
    torch.backends.cudnn.benchmark = True  # as the engine does on a GPU
    out = {}
    x = torch.rand(BATCH, 784, device=DEVICE)
    half = copy.deepcopy(model).to(torch.bfloat16)
    with torch.inference_mode():
        for name, m, xx in (("fp32", model, x), ("bf16", half, x.to(torch.bfloat16))):
            for _ in range(5):
                m(xx)
            out[f"bare_resident_{name}_img_per_s"] = BATCH / timed(lambda: m(xx), 50)
        if DEVICE == "cuda" and _has_triton():  # the bare model through torch.compile, for its variant
            compiled = torch.compile(model)
            for _ in range(5):
                compiled(x)
            out["bare_resident_fp32_compiled_img_per_s"] = BATCH / timed(lambda: compiled(x), 50)
    if DEVICE == "cuda":
        host = torch.empty(256 << 20, dtype=torch.uint8)
        pinned = host.pin_memory()
        device = torch.empty_like(host, device="cuda")
        out["h2d_pinned_GB_per_s"] = host.numel() / timed(lambda: device.copy_(pinned, non_blocking=True), 10) / 1e9
        out["h2d_pageable_GB_per_s"] = host.numel() / timed(lambda: device.copy_(host), 10) / 1e9
    return out


def mnist_like(rows: int, seed: int = 0) -> np.ndarray:
    """Random digit-shaped rows of raw bytes: about 80% zeros, the rest bright, as in MNIST."""
    pixels = np.random.default_rng(seed).integers(0, 256, (rows, 784), dtype=np.uint8)
    pixels[pixels < 204] = 0
    return pixels


def phases(conn: indb.Connection, run_id: str, began: float | None = None) -> dict[str, object]:
    """Seconds of a run (the head's wall clock) and its instances' phases, summed; with ``began``
    (``time.time()`` when the statement was sent) each instance's timeline, in ms from then:
    shard, started (its supervisor took it), inputs in, function done, outputs written, ended."""
    run = conn.sql(f"SHOW FUNCTION STATUS FOR '{run_id}'").df()
    status = conn.sql(f"SHOW FUNCTION STATUS VERBOSE FOR '{run_id}'").df()
    figures: dict[str, object] = {"run_s": float(run["seconds"][0]), **{
        f"instances_{p}": float(status[p].sum()) for p in ("input_s", "function_s", "output_s")}}
    if began is not None:
        figures["timeline_ms"] = [
            [int(row.shard)] + [round(t, 1) for t in _marks(row, began)]
            for row in status.sort_values("started").itertuples()]
    return figures


def _marks(row: object, began: float) -> list[float]:
    started = getattr(row, "started").timestamp() - began
    marks = [started]
    for phase in ("input_s", "function_s", "output_s"):
        marks.append(marks[-1] + float(getattr(row, phase) or 0))
    return [1000 * t for t in (*marks, getattr(row, "ended").timestamp() - began)]


LAST: dict[str, float] = {}  # time.time() when ``infer``'s last statement was sent


def infer(conn: indb.Connection, table: str, output: str | None = None, **params: str) -> tuple[float, str]:
    """Seconds of one EXECUTE FUNCTION mnist_infer over ``table`` (model cnn28 unless ``params``
    say otherwise), and its run id; the output table, if any, is dropped first, untimed."""
    outputs = ""
    if output:
        conn.sql(f"DROP TABLE IF EXISTS {output}")
        outputs = f"OUTPUT_TABLE_NAMES => OUTPUT_TABLES('{output}'), "
    pairs = ", ".join(f"{k} = '{v}'" for k, v in {"model": "cnn28", **params}.items())
    LAST["began"] = time.time()
    started = time.perf_counter()
    run_id = conn.sql(f"EXECUTE FUNCTION mnist_infer(INPUT_TABLE_NAMES => INPUT_TABLE({table}), "
                      f"{outputs}PARAMS => KV_PAIRS({pairs}))").fetchone()[0]
    return time.perf_counter() - started, run_id


def fastest(conn: indb.Connection, runs: int, table: str, output: str | None = None,
            **params: str) -> tuple[float, dict[str, object]]:
    """The fastest of ``runs`` runs of ``infer`` (seconds) and its phases."""
    best: tuple[float, dict[str, object]] | None = None
    every = []
    for _ in range(runs):
        seconds, run_id = infer(conn, table, output, **params)
        every.append(round(1000 * seconds, 1))
        if best is None or seconds < best[0]:
            best = seconds, phases(conn, run_id, LAST["began"])
    assert best is not None  # runs >= 1
    best[1]["every_statement_ms"] = every  # the spread the fastest was taken from
    # the run's fixed costs (issue 18): ms before its first instance started, after its last ended
    timeline: list[list[float]] = best[1]["timeline_ms"]  # type: ignore[assignment]
    best[1].update(statement_ms=round(1000 * best[0], 1), start_ms=min(t[1] for t in timeline),
                   end_ms=round(1000 * best[0] - max(t[-1] for t in timeline), 1))
    return best


def inference(conn: indb.Connection, table: str, rows: int, runs: int, label: str,
              all_variants: bool) -> dict[str, object]:
    """mnist_infer over ``table``: the first run (cold: shards from files, in processes that have
    run the model before), then warm variants (fp32 and bf16; with ``all_variants`` CUDA graphs and
    torch.compile too)."""
    figures: dict[str, object] = {}
    seconds, run_id = infer(conn, table, "predictions")
    figures[f"{label}_cold_fp32_rows_per_s"] = rows / seconds
    figures[f"{label}_cold_fp32_phases"] = phases(conn, run_id, LAST["began"])
    variants: dict[str, dict[str, str]] = {"fp32": {}, "bf16": {"precision": "bf16"}}
    if all_variants:
        variants.update(fp32_cuda_graphs={"cuda_graphs": "true"},
                        bf16_cuda_graphs={"precision": "bf16", "cuda_graphs": "true"})
    if DEVICE == "cuda" and _has_triton():
        variants["fp32_compile"] = {"compile": "true"}
    for name, params in variants.items():
        infer(conn, table, "predictions", **params)  # the model in this form loaded (and compiled) once
        seconds, figures[f"{label}_warm_{name}_phases"] = fastest(conn, runs, table, "predictions", **params)
        figures[f"{label}_warm_{name}_rows_per_s"] = rows / seconds
    return figures


IDENTITY = """CREATE OR REPLACE FUNCTION ident LANGUAGE PYTHON AS $$
from indb import udf

@udf.function(frame="torch")
def ident(ctx, images):
    return images if ctx.outputs else None
$$"""


def identity(conn: indb.Connection, table: str, rows: int, runs: int) -> dict[str, object]:
    """The engine alone: a function that returns its resident shard, over ``table``, without an
    output table; rows/s and bytes/s of its input against the device's memory bandwidth."""
    conn.sql(IDENTITY)
    run = f"EXECUTE FUNCTION ident(INPUT_TABLE_NAMES => INPUT_TABLE({table}))"
    conn.sql(run)  # its instance processes start and make the shards resident
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        conn.sql(run)
        times.append(time.perf_counter() - started)
    row_bytes = 8 + 784  # id BIGINT, pixels UTINYINT[784]
    figures: dict[str, object] = {"identity_big_warm_rows_per_s": rows / min(times),
                                  "identity_big_warm_GB_per_s": rows * row_bytes / min(times) / 1e9}
    if DEVICE == "cuda":
        figures["device_memory_GB_per_s"] = device_bandwidth()
    return figures


def device_bandwidth() -> float:
    """GB/s the device's memory moves in a copy of 2 GiB (read and write counted)."""
    source = torch.empty(2 << 30, dtype=torch.uint8, device=DEVICE)
    target = torch.empty_like(source)
    seconds = timed(lambda: target.copy_(source), 20)
    del source, target
    return 2 * (2 << 30) / seconds / 1e9


def compile_shapes(conn: indb.Connection) -> dict[str, float]:
    """The registered model compiled as the engine compiles it, on 8,192-row batches: alone, and
    after it has seen the shorter (padded) batches a shard's last chunk gives."""
    from indb.runtime.predictors import Predictor
    out: dict[str, float] = {}
    x = torch.rand(BATCH, 784, device=DEVICE)
    info = conn._engine.models.get("cnn28", None)
    for name, dynamic in (("default", None), ("static", False)):
        torch._dynamo.reset()
        loaded = Predictor(info, DEVICE)
        module = torch.compile(loaded.module, dynamic=dynamic)
        with torch.inference_mode():
            for _ in range(3):
                module(x)
            out[f"compiled_{name}_8192_only_img_per_s"] = BATCH / timed(lambda: module(x), 50)
            for rows in (4096, 2048):
                module(x[:rows])
            out[f"compiled_{name}_after_shapes_img_per_s"] = BATCH / timed(lambda: module(x), 50)
    return out


def slot_sweep(workdir: Path, table: str, rows: int, runs: int) -> dict[str, float]:
    """Warm fp32 rows/s with other numbers of instance processes sharing the GPU than the default (4)."""
    figures = {}
    for slots in (1, 2, 8):
        with indb.connect(workdir / "db", threads_per_worker=slots) as conn:
            infer(conn, table, "slot_predictions")  # each process loads its shards and the model
            seconds, _ = min(infer(conn, table, "slot_predictions") for _ in range(runs))
            figures[f"{table}_warm_fp32_{slots}_slots_rows_per_s"] = rows / seconds
            close_cluster(**conn._engine.runner.cluster_options)  # its processes and GPU memory
    return figures


def turn_per_call(workdir: Path, tables: dict[str, int], runs: int) -> dict[str, float]:
    """Warm fp32 and bf16 rows/s with a GPU turn a model call (``INDB_GPU_TURN_HOLD_S=0``, the
    engine before instances kept their turn through their function), on a cluster of its own:
    the same run's figures against the default's. Call it with no other cluster up."""
    figures: dict[str, float] = {}
    os.environ["INDB_GPU_TURN_HOLD_S"] = "0"  # inherited by the new cluster's workers
    try:
        with indb.connect(workdir / "db") as conn:
            infer(conn, "warmup")  # its processes start, load the model and tune cuDNN
            for table, rows in tables.items():
                for name, params in (("fp32", {}), ("bf16", {"precision": "bf16"})):
                    infer(conn, table, "turn_predictions", **params)  # resident, model loaded
                    seconds, phased = fastest(conn, runs, table, "turn_predictions", **params)
                    figures[f"{table}_warm_{name}_turn_per_call_rows_per_s"] = rows / seconds
                    figures[f"{table}_warm_{name}_turn_per_call_phases"] = phased
            close_cluster(**conn._engine.runner.cluster_options)
    finally:
        del os.environ["INDB_GPU_TURN_HOLD_S"]
    return figures


SLOTS = 4  # instance processes of a GPU worker (indb.connect's default on a GPU)
THREADS = ("1", "default", "all")  # INDB_READ_THREADS compared by --cold
COLD_BUDGET = 64 << 20  # a process's cache: the model fits, a shard of 1M/8 rows (99 MB) does not


def thread_settings() -> dict[str, int]:
    """The decoding threads of an instance process compared by --cold: one (the engine before:
    Dask's OMP_NUM_THREADS=1 sized pyarrow's pool), the default (its share of the cores: a GPU
    worker's ``SLOTS`` processes a GPU) and every core."""
    gpus = max(1, visible_gpus())
    with mock.patch.dict(os.environ, worker_environment(0, gpus, SLOTS, gpus)):
        os.environ.pop("INDB_READ_THREADS", None)
        default = read_threads.read_threads()
    return {"1": 1, "default": default, "all": read_threads.available_cores()}


def read_alone(conn: indb.Connection, table: str, settings: dict[str, int],
               runs: int) -> dict[str, object]:
    """One shard of ``table`` read and made SQL-typed (``files.read_stored``, ``to_user``) in
    this process with pyarrow's pool at each of ``settings``, alternating, best of ``runs``:
    wall and CPU seconds (the first round of a cold run waits for this read)."""
    stored, info = conn._engine.db.load(table)
    paths = [f.file_path for f in files.data_files(stored) if files.shard_of(f) == 0]
    size, figures = pa.cpu_count(), {}
    try:
        for _ in range(runs):
            for name, threads in settings.items():
                pa.set_cpu_count(threads)
                started, cpu = time.perf_counter(), time.process_time()
                rows = files.to_user(files.read_stored(paths, info), info).num_rows
                wall, cpu = time.perf_counter() - started, time.process_time() - cpu
                if wall < figures.get(f"{table}_read_alone_threads_{name}_s", float("inf")):
                    figures.update({f"{table}_read_alone_threads_{name}_s": wall,
                                    f"{table}_read_alone_threads_{name}_cpu_s": cpu})
    finally:
        pa.set_cpu_count(size)
    return {f"{table}_read_alone_rows": rows, **figures}


def cold_threads(workdir: Path, tables: dict[str, int], runs: int,
                 settings: dict[str, int]) -> dict[str, object]:
    """Cold fp32 rows/s with the instance processes decoding on each of ``settings``' threads
    (``INDB_READ_THREADS``; unset for the default), on clusters of their own, the settings
    alternating ``runs`` times (best run of each kept): every run is cold (a cache budget that
    keeps the model but no shard: each run reads its shards from the files, as the first run
    over a table does). With each, ms from the statement until the first instance's shard was on
    the GPU (its first work) and the timeline. Call it with no other cluster up."""
    figures: dict[str, object] = {}
    os.environ["INDB_GPU_CACHE_BYTES"] = str(COLD_BUDGET)  # inherited by the new clusters' workers
    try:
        for _ in range(runs):
            for name, threads in settings.items():
                if name == "default":
                    os.environ.pop("INDB_READ_THREADS", None)
                else:
                    os.environ["INDB_READ_THREADS"] = str(threads)
                with indb.connect(workdir / "db") as conn:
                    infer(conn, "warmup")  # its processes start, load the model and tune cuDNN
                    for table, rows in tables.items():
                        seconds, run_id = infer(conn, table, "cold_predictions")
                        label = f"{table}_cold_fp32_read_threads_{name}"
                        if rows / seconds > figures.get(f"{label}_rows_per_s", 0):
                            phased = phases(conn, run_id, LAST["began"])
                            figures[f"{label}_rows_per_s"] = rows / seconds
                            figures[f"{label}_first_input_ms"] = min(
                                mark[2] for mark in phased["timeline_ms"])  # type: ignore[attr-defined]
                            figures[f"{label}_phases"] = phased
                    close_cluster(**conn._engine.runner.cluster_options)
    finally:
        os.environ.pop("INDB_GPU_CACHE_BYTES", None)
        os.environ.pop("INDB_READ_THREADS", None)
    return figures


def cold_only(args: argparse.Namespace, model: torch.nn.Module, workdir: Path,
              figures: dict[str, object]) -> None:
    """``--cold``: the tables made, one shard's read alone timed, then ``cold_threads`` (the
    bare model measured before)."""
    tables = {"infer_1m": args.rows, **({"infer_big": args.big_rows} if args.big_rows else {})}
    settings = thread_settings()
    figures.update({f"read_threads_{name}": threads for name, threads in settings.items()})
    with indb.connect(workdir / "db") as conn:
        conn.sql(INFER.format(path=resources() / "udfs" / "mnist_infer.py"))
        register(conn, "cnn28", model.cpu(), 784)
        for table, rows in {"warmup": args.rows, **tables}.items():
            conn.sql(f"CREATE TABLE {table} (id BIGINT, pixels UTINYINT[784], SHARD KEY (id)) "
                     "WITH (SHARDS = 8)")
            conn.load(table, images_table(mnist_like(rows, seed=9 if table == "warmup" else 0)))
        for table in tables:
            figures.update(read_alone(conn, table, settings, args.runs + 1))
        close_cluster(**conn._engine.runner.cluster_options)
    figures.update(cold_threads(workdir, tables, args.runs, settings))


def _has_triton() -> bool:
    try:
        import triton  # noqa: F401
    except ImportError:
        return False
    return True


def gpu_percentiles(fn: Callable[[], object], calls: int) -> tuple[float, float]:
    """p50 and p99 in microseconds of the GPU time between two CUDA events around a call."""
    start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
    times = np.empty(calls)
    for i in range(calls):
        start.record()
        fn()
        end.record()
        end.synchronize()
        times[i] = start.elapsed_time(end) * 1e3
    return float(np.percentile(times, 50)), float(np.percentile(times, 99))


def serving(conn: indb.Connection, calls: int) -> dict[str, float]:
    """One row scored by the market autoencoder: bare model against the serving path."""
    torch.manual_seed(0)
    module = ReconstructionError(Autoencoder()).eval()
    register(conn, "market_ae", module, 2, output="value")
    served = conn.model("market_ae")
    bare = copy.deepcopy(module).to(DEVICE)
    row = np.asarray([[0.3, -1.2]], dtype=np.float32)
    resident = torch.from_numpy(row).to(DEVICE)
    figures = {}

    def bare_step() -> None:
        with torch.inference_mode():
            bare(resident)
        synchronize()

    def bare_call() -> float:
        with torch.inference_mode():
            return float(bare(torch.from_numpy(row).to(DEVICE)).cpu()[0])
    assert abs(bare_call() - float(served.scores(row)[0])) < 1e-5
    steps = {"bare_model": bare_step}
    if served.cuda_graphs is not None:
        steps["served_cuda_graph"] = lambda: served.cuda_graphs.replay(1)
    for name, fn in steps.items():
        figures[f"serve_step_{name}_p50_us"], figures[f"serve_step_{name}_p99_us"] = percentiles(fn, calls)
        if DEVICE == "cuda":  # the same step timed on the GPU (CUDA events), without host jitter
            figures[f"serve_step_{name}_gpu_p50_us"], figures[f"serve_step_{name}_gpu_p99_us"] = \
                gpu_percentiles(fn, calls)
    calls_by = {"bare_model": bare_call, "served": lambda: served.scores(row),
                "sql_predict": lambda: conn.sql("SELECT PREDICT('market_ae', 0.3::FLOAT, -1.2::FLOAT)").fetchone()}
    for name, fn in calls_by.items():
        n = calls if name != "sql_predict" else max(50, calls // 20)
        figures[f"serve_call_{name}_p50_us"], figures[f"serve_call_{name}_p99_us"] = percentiles(fn, n)
    return figures


def training(conn: indb.Connection, rows: int, epochs: int) -> dict[str, object]:
    """mnist_train from a table (one instance on the GPU) against the bare loop on resident tensors."""
    pixels = mnist_like(rows, seed=2)
    labels = np.random.default_rng(1).integers(0, 10, rows).astype(np.int32)
    conn.sql("CREATE TABLE train28 (id BIGINT, pixels UTINYINT[784], label INTEGER, SHARD KEY (id)) WITH (SHARDS = 8)")
    conn.load("train28", images_table(pixels).append_column("label", pa.array(labels)))
    udfs = resources() / "udfs"
    conn.sql(TRAIN.format(train=udfs / "mnist_train.py", model=udfs / "mnist_model.py"))
    run = ("EXECUTE FUNCTION mnist_train(INPUT_TABLE_NAMES => INPUT_TABLE(SELECT pixels, label FROM train28), "
           "PARAMS => KV_PAIRS(epochs = '{epochs}', batch_size = '1024', model = 'trained28'))")
    conn.sql(run.format(epochs=1))  # warm: the rows become resident, CUDA and the imports are up
    started = time.perf_counter()
    run_id = conn.sql(run.format(epochs=epochs)).fetchone()[0]
    figures: dict[str, object] = {"train_from_table_img_per_s": rows * epochs / (time.perf_counter() - started),
                                  "train_from_table_phases": phases(conn, run_id)}
    x = torch.from_numpy(pixels).to(DEVICE).float().div_(255.0)
    y = torch.from_numpy(labels.astype(np.int64)).to(DEVICE)
    fresh = DigitsCNN(784)
    train(fresh, x, y, epochs=1, batch_size=1024, lr=0.002, seed=0, device=DEVICE)  # warm
    seconds = timed(lambda: train(fresh, x, y, epochs=epochs, batch_size=1024, lr=0.002, seed=0, device=DEVICE), 1)
    figures["train_bare_resident_img_per_s"] = rows * epochs / seconds
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--big-rows", type=int, default=10_000_000, help="0 skips the big run")
    parser.add_argument("--cpu-rows", type=int, default=100_000)
    parser.add_argument("--naive-rows", type=int, default=1_000)
    parser.add_argument("--train-rows", type=int, default=200_000)
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--serve-calls", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--json", type=Path, default=None)
    parser.add_argument("--smoke", action="store_true", help="toy sizes; runs without a GPU too")
    parser.add_argument("--profile", action="store_true",
                        help="the inference runs, their phases and the identity function only")
    parser.add_argument("--cold", action="store_true",
                        help="cold runs only, decoding on 1 thread, the default and every core")
    args = parser.parse_args()
    if args.smoke:
        args.rows, args.big_rows, args.cpu_rows, args.naive_rows = 2000, 0, 200, 5
        args.train_rows, args.epochs, args.serve_calls, args.runs = 500, 1, 50, 1
    elif DEVICE == "cpu":
        print("bench_gpu needs a CUDA GPU (none here); --smoke runs it on the CPU at toy sizes")
        return
    torch.manual_seed(0)
    figures: dict[str, object] = {"machine": f"{machine()}, torch {torch.__version__}, " + (
        f"{torch.cuda.get_device_name()} x{visible_gpus()}" if DEVICE == "cuda" else "no GPU (smoke run)")}
    model = DigitsCNN(784).eval().to(DEVICE)
    figures.update(roofline(model))

    workdir = Path(tempfile.mkdtemp(prefix="indb-bench-gpu-"))
    try:
        (cold_only if args.cold else measure)(args, model, workdir, figures)
    except BaseException:
        report(_rounded(figures), args.json)  # what was measured before the failure
        raise
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    report(_rounded(ratios(figures)), args.json)


def measure(args: argparse.Namespace, model: torch.nn.Module, workdir: Path, figures: dict[str, object]) -> None:
    """Everything after the roofline, into ``figures``."""
    conn = indb.connect(workdir / "db")  # one worker per GPU, four instance processes on it
    conn.sql(INFER.format(path=resources() / "udfs" / "mnist_infer.py"))
    register(conn, "cnn28", model.cpu(), 784)
    model.to(DEVICE)
    # start-up: worker and instance processes, CUDA, the model, cuDNN's choice of kernels for
    # full batches (in a server all of it is up before the first query), over a table of other
    # rows, as many as --rows, so that "cold" below means cold data (read from the files), not a
    # process's first batches
    conn.sql("CREATE TABLE warmup (id BIGINT, pixels UTINYINT[784], SHARD KEY (id)) WITH (SHARDS = 8)")
    conn.load("warmup", images_table(mnist_like(args.rows, seed=9)))
    figures["first_run_after_start_s"], _ = infer(conn, "warmup")
    if args.profile and DEVICE == "cuda" and _has_triton():
        figures.update(compile_shapes(conn))

    for label, rows in (("infer_1m", args.rows), ("infer_big", args.big_rows)):
        if not rows:
            continue
        pixels = mnist_like(rows)
        conn.sql(f"CREATE TABLE {label} (id BIGINT, pixels UTINYINT[784], SHARD KEY (id)) WITH (SHARDS = 8)")
        started = time.perf_counter()
        conn.load(label, images_table(pixels))
        figures[f"{label}_rows"] = rows
        figures[f"{label}_load_rows_per_s"] = rows / (time.perf_counter() - started)
        figures.update(inference(conn, label, rows, args.runs, label, label == "infer_1m"))
        if label == "infer_1m" and not args.profile:
            figures.update(slot_sweep(workdir, label, rows, args.runs))
            # the bare model fed from host memory, batch by batch
            gpu_predictor = conn.model("cnn28")
            floats = (pixels / np.float32(255)).astype(np.float32)
            seconds, _ = best_of(args.runs, lambda: gpu_predictor.scores(floats).argmax(axis=1))
            figures["bare_from_host_fp32_rows_per_s"] = rows / seconds
        del pixels
    if args.profile:
        if args.big_rows:
            figures.update(identity(conn, "infer_big", args.big_rows, args.runs))
        conn.close()
        close_cluster(**conn._engine.runner.cluster_options)  # its processes and GPU memory
        sizes = {"infer_1m": args.rows, **({"infer_big": args.big_rows} if args.big_rows else {})}
        figures.update(turn_per_call(workdir, sizes, args.runs))
        return

    # a naive loop, as a kdb+ subscriber does it: read a row (from an in-memory DuckDB
    # table), infer it on the GPU, insert its prediction
    import duckdb
    plain = duckdb.connect()
    source = images_table(mnist_like(args.naive_rows))  # noqa: F841  (DuckDB reads it by name)
    plain.execute("CREATE TABLE source AS SELECT * FROM source")
    plain.execute("CREATE TABLE naive_predictions (id BIGINT, digit INTEGER)")
    eager = conn.model("cnn28")
    started = time.perf_counter()
    for i in range(args.naive_rows):
        row = plain.execute("SELECT pixels FROM source WHERE id = ?", [i]).fetchone()[0]
        digit = int(eager.scores(np.asarray(row, dtype=np.float32)[None, :] / 255).argmax())
        plain.execute("INSERT INTO naive_predictions VALUES (?, ?)", [i, digit])
    figures["naive_loop_rows_per_s"] = args.naive_rows / (time.perf_counter() - started)

    figures.update(serving(conn, args.serve_calls))
    figures.update(training(conn, args.train_rows, args.epochs))
    if args.big_rows:  # last: its instance processes take the slots of mnist_infer's
        figures.update(identity(conn, "infer_big", args.big_rows, args.runs))
    conn.close()

    # the CPU path on the same machine: workers without GPUs
    with indb.connect(workdir / "db", gpus=0, workers=8, threads_per_worker=1) as cpu:
        cpu.sql("CREATE TABLE cpu_images AS SELECT * FROM infer_1m WHERE id < ?", [args.cpu_rows])
        cpu.sql("CREATE TABLE cpu_warmup AS SELECT * FROM warmup WHERE id < 1024")
        infer(cpu, "cpu_warmup")  # the CPU workers start and load the model
        seconds, _ = infer(cpu, "cpu_images", "cpu_predictions")
        figures["infer_cpu_8_workers_rows_per_s"] = args.cpu_rows / seconds


def ratios(figures: dict[str, object]) -> dict[str, object]:
    """The figures with the ratios the targets are about."""
    bare = figures["bare_resident_fp32_img_per_s"]
    for label in ("infer_1m", "infer_big"):
        if f"{label}_warm_fp32_rows_per_s" in figures:
            figures[f"{label}_ratio_warm_fp32_over_bare"] = figures[f"{label}_warm_fp32_rows_per_s"] / bare
            figures[f"{label}_ratio_cold_fp32_over_bare"] = figures[f"{label}_cold_fp32_rows_per_s"] / bare
            figures[f"{label}_ratio_warm_bf16_over_bare_bf16"] = (figures[f"{label}_warm_bf16_rows_per_s"]
                                                                  / figures["bare_resident_bf16_img_per_s"])
        if f"{label}_warm_fp32_compile_rows_per_s" in figures:
            figures[f"{label}_ratio_warm_compile_over_bare_compiled"] = (
                figures[f"{label}_warm_fp32_compile_rows_per_s"] / figures["bare_resident_fp32_compiled_img_per_s"])
        for name in ("fp32", "bf16"):
            if f"{label}_warm_{name}_turn_per_call_rows_per_s" in figures:
                figures[f"{label}_ratio_warm_{name}_kept_turns_over_turn_per_call"] = (
                    figures[f"{label}_warm_{name}_rows_per_s"]
                    / figures[f"{label}_warm_{name}_turn_per_call_rows_per_s"])
        for name in THREADS:
            if f"{label}_cold_fp32_read_threads_{name}_rows_per_s" in figures:
                figures[f"{label}_ratio_cold_fp32_read_threads_{name}_over_bare"] = (
                    figures[f"{label}_cold_fp32_read_threads_{name}_rows_per_s"] / bare)
    warm = figures.get("infer_1m_warm_fp32_rows_per_s", 0.0)
    for name, over in (("warm_fp32_over_bare_from_host", "bare_from_host_fp32_rows_per_s"),
                       ("gpu_warm_over_cpu_path", "infer_cpu_8_workers_rows_per_s"),
                       ("gpu_warm_over_naive", "naive_loop_rows_per_s")):
        if over in figures:  # (not measured by --profile)
            figures[f"ratio_{name}"] = warm / figures[over]
    if "train_from_table_img_per_s" in figures:
        figures["ratio_train_from_table_over_bare"] = (figures["train_from_table_img_per_s"]
                                                       / figures["train_bare_resident_img_per_s"])
    if "device_memory_GB_per_s" in figures:
        figures["ratio_identity_over_device_memory"] = (figures["identity_big_warm_GB_per_s"]
                                                        / figures["device_memory_GB_per_s"])
    return figures


def _rounded(figures: dict[str, object]) -> dict[str, object]:
    return {k: round(v, 3) if isinstance(v, float) else
            {p: round(s, 3) if isinstance(s, float) else s for p, s in v.items()}
            if isinstance(v, dict) else v for k, v in figures.items()}


if __name__ == "__main__":
    main()
