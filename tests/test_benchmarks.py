"""The benchmark scripts still run (at a toy size), so their figures can be reproduced."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from indb.runtime.gpus import visible_gpus

ROOT = Path(__file__).parent.parent


def figures_of(tmp_path: Path, script: str, *args: str, timeout: int = 300) -> dict:
    """The figures a benchmark script writes with ``--json``, after it ran to its end."""
    out = tmp_path / "figures.json"
    done = subprocess.run([sys.executable, str(ROOT / "benchmarks" / script), *args, "--json",
                           str(out)], capture_output=True, text=True, timeout=timeout)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(out.read_text())


def test_load_query_benchmark_runs(tmp_path):
    figures = figures_of(tmp_path, "bench_load_query.py", "--rows", "20000", "--runs", "1")
    assert figures["rows"] == 20000
    assert figures["load_rows_per_second"] > 0 and figures["load_keyless_rows_per_second"] > 0
    assert figures["group_by_ratio_indb_over_duckdb"] > 0


@pytest.mark.slow  # 20-50 s on 2 cores: the default run's time goes to the features' own tests
def test_udf_benchmark_runs(tmp_path):
    figures = figures_of(tmp_path, "bench_udf.py", "--rows", "20000", "--runs", "1")
    assert figures["rows"] == 20000
    assert figures["ratio_touch_over_duckdb_read"] > 0 and figures["scaling_2_over_1"] > 0


@pytest.mark.slow  # 20-50 s on 2 cores: the default run's time goes to the features' own tests
def test_models_benchmark_runs(tmp_path):
    figures = figures_of(tmp_path, "bench_models.py", "--rows", "4000", "--cnn-rows", "200",
                         "--naive-rows", "20", "--runs", "1", timeout=600)
    assert figures["digits_rows"] == 4000 and figures["digits_ratio_infer_over_naive"] > 0


def test_predict_benchmark_runs(tmp_path):
    figures = figures_of(tmp_path, "bench_predict.py", "--calls", "20")
    assert figures["calls"] == 20 and figures["sql_predict_p50_us"] > 0
    assert figures["step_query_and_fetch_p50_us"] > 0


def test_qjoins_benchmark_runs(tmp_path):
    figures = figures_of(tmp_path, "bench_qjoins.py", "--trades", "2000", "--quotes", "8000",
                         "--runs", "1")
    assert figures["trades"] == 2000
    assert figures["aj_ratio_q_over_duckdb"] > 0 and figures["lj_ratio_q_over_duckdb"] > 0
    assert figures["wj_q_s"] > 0 and figures["wj1_duckdb_s"] == figures["wj_duckdb_s"]


def test_window_benchmark_runs(tmp_path):
    pytest.importorskip("pykx")  # (its query is bench_tick_latency's)
    figures = figures_of(tmp_path, "bench_window.py", "--batches", "3", "--sizes", "1,20",
                         "--symbols", "10")
    for rows in (1, 20):  # both paths ran and gave the same rows
        assert figures[f"rows_{rows}_duckdb_cpu_us_mean"] > 0
        assert figures[f"rows_{rows}_incremental_cpu_us_mean"] > 0
        assert figures[f"rows_{rows}_largest_difference"] < 1e-9


@pytest.mark.skipif(bool(visible_gpus()), reason="with a GPU the script runs the whole benchmark")
def test_gpu_benchmark_says_it_needs_a_gpu_here():
    done = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "bench_gpu.py")],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "needs a CUDA GPU" in done.stdout and "--smoke" in done.stdout


@pytest.mark.slow  # 20-50 s on 2 cores: the default run's time goes to the features' own tests
def test_serve_benchmark_runs(tmp_path):
    figures = figures_of(tmp_path, "bench_serve.py", "--clients", "4", "--seconds", "1", "--rows",
                         "1000", "--runs", "2")
    assert figures["http_queries"] > 0 and figures["pg_queries"] > 0 and figures["embedded_queries"] > 0
    assert figures["runs_completed_with_all_rows"] == 2


@pytest.mark.slow
def test_tick_benchmark_runs(tmp_path):
    pytest.importorskip("indb.stream.kdb")
    figures = figures_of(tmp_path, "bench_tick.py", "--messages", "300", "--batch-messages", "30",
                         timeout=600)
    assert figures["one_row_messages"] == 300
    assert figures["fsync_each_1row_encoded_messages_per_s"] > 0
    assert figures["fsync_10ms_100rows_pykx_rows_per_s"] > 0
    assert figures["in_process_1row_messages_per_cpu_s"] > 0


@pytest.mark.slow  # two tickerplant patterns, a feed and a subscriber process each
@pytest.mark.timeout(900)  # minutes on a loaded 2-core machine: mostly processes starting
def test_tick_latency_benchmark_runs(tmp_path):
    pytest.importorskip("indb.stream.kdb")
    pytest.importorskip("torch")
    figures = figures_of(tmp_path, "bench_tick_latency.py", "--rate", "200", "--seconds", "1",
                         "--warmup", "50", timeout=900)
    # every measured tick published, and scored by both patterns
    assert figures["tickerplant_rows"] == figures["indb_rows"] == figures["article_rows"] == 200
    assert figures["indb_p99_ms"] >= figures["indb_p50_ms"] > 0
    assert figures["tickerplant_p99_ms"] >= figures["tickerplant_p50_ms"] > 0
    assert figures["article_decision_p50_ms"] > 0
    for pattern in ("tickerplant", "indb", "article"):  # the feed kept to the rate asked
        assert 150 < figures[f"{pattern}_feed_ticks_per_s"] < 250


@pytest.mark.slow  # PostgreSQL, moto, a scheduler and a worker process started: a minute or two
def test_cluster_benchmark_runs(tmp_path):
    figures = figures_of(tmp_path, "bench_cluster.py", "--rows", "2000", "--repeat", "5",
                         "--function-rows", "4000", "--hosts", "1", "--runs", "1", timeout=600)
    for layout in ("embedded", "postgres+path", "postgres+s3"):
        assert figures[f"{layout}.query_ms_p50"] > 0 and figures[f"{layout}.insert_ms_p50"] > 0
    assert figures["function.1_hosts_s"] > 0 and figures["function.embedded_1_workers_s"] > 0


@pytest.mark.slow  # a cluster started for each worker count, twice training: minutes on 2 cores
def test_multigpu_benchmark_runs_at_a_toy_size_on_the_cpu(tmp_path):
    figures = figures_of(tmp_path, "bench_multigpu.py", "--smoke", timeout=900)
    assert figures["infer_rows"] == 4000 and figures["infer_2gpu_warm_rows_per_s"] > 0
    assert figures["infer_1gpu_devices"] == figures["infer_2gpu_devices"] == ["cpu"]
    for method in ("ddp", "fedavg"):
        assert 0 <= figures[f"train_{method}_2gpu_accuracy"] <= 1
        assert figures[f"train_{method}_2gpu_rounds"] == 1


def test_the_benchmarks_time_a_call_s_percentiles_in_one_place(monkeypatch):
    monkeypatch.syspath_prepend(str(ROOT / "benchmarks"))
    from common import percentiles
    calls: list[int] = []
    p50, p99 = percentiles(lambda: calls.append(1), 50, warmup=7)
    assert len(calls) == 57 and 0 < p50 <= p99  # the warm-up calls are made, not measured
    calls.clear()
    percentiles(lambda: calls.append(1), 50)
    assert len(calls) == 100  # the default warm-up: as many calls as measured, at most 200
