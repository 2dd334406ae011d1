"""Single-row PREDICT through SQL against the serving path, and where the SQL path's time goes.

Run: ``python benchmarks/bench_predict.py [--calls N] [--json out.json]``. The market
autoencoder (two features, a reconstruction error out) is scored for one row by
``conn.model('market_ae').scores(row)`` and by ``SELECT PREDICT('market_ae', 0.3, -1.2)``, in the
same run, through the cached-plan fast path (``engine/shortcuts.py``) and planned every time (the
cache emptied before each call); then the ordinary path's steps are timed one by one, in the order
``Engine.execute``
takes them (parse, views refresh, privilege check, plan with the model's lookup, registering the
PREDICT function, the query on its own DuckDB connection with its fetch, removing the function),
and a plain one-row ``SELECT`` without PREDICT gives the floor of a statement. Target (issue 15):
the SQL path under 0.5 ms p50 (5 ms on the H200 host before the fast path).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from bench_models import register
from common import machine, percentiles, report

import indb
from indb import planner
from indb.cli.demo import resources
from indb.engine import privileges
from indb.parser import parse
from indb.query import predict

sys.path.insert(0, str(resources() / "udfs"))
from autoencoder_model import Autoencoder, ReconstructionError  # noqa: E402

QUERY = "SELECT PREDICT('market_ae', 0.3::FLOAT, -1.2::FLOAT)"
PLAIN = "SELECT 0.3::FLOAT + -1.2::FLOAT"


def steps(conn: indb.Connection, calls: int) -> dict[str, float]:
    """p50 (µs) of each step of the PREDICT statement, each timed over ``calls`` statements."""
    engine = conn._engine
    times: dict[str, list[int]] = {}

    def timed(name: str, fn: Callable[[], object]) -> object:
        started = time.perf_counter_ns()
        result = fn()
        times.setdefault(name, []).append(time.perf_counter_ns() - started)
        return result
    for _ in range(calls):
        tree = timed("parse", lambda: parse(QUERY)[0])
        with engine._lock, engine.session.statement():
            timed("refresh_views", engine.session.refresh)
            timed("privilege_check", lambda: privileges.check(engine, tree, engine.user))
            plan = timed("plan_and_model_lookup", lambda: planner.plan(tree, engine.facts))
            assert isinstance(plan, planner.WithPredictions)
            prediction = plan.predictions[0]

            def register_function() -> None:
                predictor = engine.served_model(prediction.model, prediction.version)
                predict.register(engine.session.duck, prediction.function, predictor)
            timed("register_predict_function", register_function)
            timed("query_and_fetch", lambda: engine.run(plan.plan).fetchall())
            timed("remove_predict_function",
                  lambda: engine.session.duck.remove_function(prediction.function))
    return {f"step_{name}_p50_us": round(float(np.percentile(t, 50)) / 1e3, 1)
            for name, t in times.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=500)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as directory:
        conn = indb.connect(Path(directory) / "db")
        torch.manual_seed(0)
        register(conn, "market_ae", ReconstructionError(Autoencoder()).eval(), 2, output="value")
        served = conn.model("market_ae")
        row = np.asarray([[0.3, -1.2]], dtype=np.float32)
        assert abs(float(served.scores(row)[0]) - conn.sql(QUERY).fetchone()[0]) < 1e-5
        figures: dict[str, object] = {"machine": machine(), "calls": args.calls}
        kept = conn._engine.shortcuts._kept

        def planned() -> object:
            kept.clear()
            return conn.sql(QUERY).fetchone()
        for name, fn in {"served": lambda: served.scores(row),
                         "sql_predict": lambda: conn.sql(QUERY).fetchone(),
                         "sql_predict_planned_each_time": planned,
                         "sql_plain_select": lambda: conn.sql(PLAIN).fetchone()}.items():
            p50, p99 = percentiles(fn, args.calls, warmup=max(10, args.calls // 10))
            figures[f"{name}_p50_us"], figures[f"{name}_p99_us"] = round(p50, 1), round(p99, 1)
        for slow, fast in (("sql_predict", "served"), ("sql_predict_planned_each_time", "sql_predict")):
            figures[f"ratio_{slow}_over_{fast}_p50"] = round(
                float(figures[f"{slow}_p50_us"]) / float(figures[f"{fast}_p50_us"]), 1)  # type: ignore[arg-type]
        figures.update(steps(conn, args.calls))
        conn.close()
    report(figures, args.json)


if __name__ == "__main__":
    main()
