"""Tree ensembles: rows/s of PREDICT and of ctx.models against each library's own predict.

Run: ``python benchmarks/bench_trees.py [--rows N] [--trees T] [--depth D] [--json out.json]``.
An XGBoost and a LightGBM model (T trees of depth D, binary objective, 28 features like HIGGS)
are trained on 100,000 synthetic rows and registered; then, on the same N rows, per library:

- ``own``: the library's own ``predict`` (XGBoost: ``Booster.predict(DMatrix(x))``, and
  ``inplace_predict(x)``; LightGBM: ``Booster.predict(x)``), rows in memory;
- ``ctx_models``: what ``ctx.models.load`` returns (``Predictor.predict``), rows in memory;
- ``predict_sql``: ``SELECT sum(PREDICT('m', c0, ..., c27)) FROM t`` over an indb table of the rows.

On a machine with a CUDA GPU (and the ``xgboost`` wheel, not ``xgboost-cpu``, plus cupy) the
XGBoost figures are taken again on the GPU: XGBoost's CUDA predictor on rows already on the GPU
(how the Forest Inference Library's figure is measured), ``ctx_models`` and ``predict_sql`` with
the model on the GPU. Every path's predictions are checked against the library's own first
(equal on the CPU; within 1e-5 on the GPU, whose sums run in another order). Each figure is the
best of ``--runs`` calls, with its ratio to FIL's ~100M rows/s.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
from common import best_of, machine, report

import indb
from indb.registry.models import StagedModel, staging_dir
from indb.runtime.predictors import Predictor, save_model

FEATURES = 28
FIL_ROWS_PER_S = 100e6  # the RAPIDS material's Forest Inference Library figure on a GPU
TRAIN_ROWS = 100_000


def rows(count: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    x = np.random.default_rng(seed).normal(size=(count, FEATURES)).astype(np.float32)
    label = (x[:, 0] * x[:, 1] + np.sin(x[:, 2]) + 0.5 * x[:, 3] > 0).astype(np.int32)
    return x, label


def train(library: str, trees: int, depth: int) -> Any:
    import lightgbm
    import xgboost
    x, y = rows(TRAIN_ROWS, 0)
    if library == "xgboost":
        return xgboost.train({"objective": "binary:logistic", "max_depth": depth, "tree_method": "hist"},
                             xgboost.DMatrix(x, y), trees)
    return lightgbm.train({"objective": "binary", "num_leaves": 2 ** depth, "max_depth": depth,
                           "verbose": -1}, lightgbm.Dataset(x, y), trees)


def register(conn: indb.Connection, name: str, library: str, booster: Any) -> Any:
    with staging_dir(conn.path) as directory:
        shape, dtype, width = save_model(booster, None, library, directory)
        return conn._engine.models.register(StagedModel(name, library, str(directory), shape, dtype,
                                                        "value", width, {}), {})


def rate(count: int, seconds: float) -> dict[str, float]:
    return {"rows_per_s": round(count / seconds), "ratio_to_fil": round(count / seconds / FIL_ROWS_PER_S, 5)}


def measure(conn: indb.Connection, library: str, info: Any, booster: Any, x: np.ndarray,
            runs: int, device: str, sql: bool, figures: dict[str, object]) -> None:
    """The paths' rows/s on ``device`` (``sql``: PREDICT's too, which runs where the engine
    serves models), each checked against the library's own predictions, into ``figures`` as
    each is taken."""
    import xgboost
    own = booster.predict(xgboost.DMatrix(x)) if library == "xgboost" else booster.predict(x)
    gpu = device != "cpu"

    def check(got: np.ndarray) -> None:
        if gpu:
            np.testing.assert_allclose(got, own, rtol=1e-5, atol=1e-6)
        else:
            np.testing.assert_array_equal(got, own)

    if library == "xgboost" and not gpu:
        seconds, _ = best_of(runs, lambda: booster.predict(xgboost.DMatrix(x)))
        figures["own_predict_dmatrix"] = rate(len(x), seconds)
        seconds, got = best_of(runs, lambda: booster.inplace_predict(x))
        check(got)
        figures["own_inplace_predict"] = rate(len(x), seconds)
    elif library == "xgboost":
        import cupy
        booster.set_param({"device": device})
        on_gpu = cupy.asarray(x)
        seconds, got = best_of(runs, lambda: cupy.asnumpy(booster.inplace_predict(on_gpu)))
        check(got)
        figures["own_cuda_inplace_predict_rows_on_gpu"] = rate(len(x), seconds)
        # rows and predictions left on the GPU, as FIL's figure is taken
        seconds, _ = best_of(runs, lambda: (booster.inplace_predict(on_gpu),
                                            cupy.cuda.Device().synchronize()))
        figures["own_cuda_inplace_predict_all_on_gpu"] = rate(len(x), seconds)
        booster.set_param({"device": "cpu"})
    else:
        seconds, _ = best_of(runs, lambda: booster.predict(x))
        figures["own_predict"] = rate(len(x), seconds)
    predictor = Predictor(info, device=device)
    predictor.predict(x[:1000])  # warm
    seconds, got = best_of(runs, lambda: predictor.predict(x))
    check(got)
    figures["ctx_models"] = rate(len(x), seconds)
    if not sql:
        return
    columns = ", ".join(f"c{i}" for i in range(FEATURES))
    sql = f"SELECT sum(PREDICT('{info.name}', {columns})) FROM tree_rows"
    conn.sql(sql)  # warm: the served model loads
    seconds, result = best_of(runs, lambda: conn.sql(sql).fetchone()[0])
    np.testing.assert_allclose(result, own.astype(np.float64).sum(), rtol=1e-6)
    figures["predict_sql"] = rate(len(x), seconds)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--trees", type=int, default=100)
    parser.add_argument("--depth", type=int, default=8)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    import torch
    import xgboost
    gpu = torch.cuda.is_available() and bool(xgboost.build_info().get("USE_CUDA"))
    figures: dict[str, object] = {"machine": machine(), "rows": args.rows, "trees": args.trees,
                                  "depth": args.depth, "features": FEATURES,
                                  "gpu": torch.cuda.get_device_name(0) if gpu else "none"}
    x, _ = rows(args.rows, 1)
    try:
        with tempfile.TemporaryDirectory() as directory:
            conn = indb.connect(Path(directory) / "db", workers=1)
            conn.load("tree_rows", pa.table({f"c{i}": x[:, i] for i in range(FEATURES)}))
            for library in ("xgboost", "lightgbm"):
                booster = train(library, args.trees, args.depth)
                info = register(conn, f"bench_{library}", library, booster)
                # PREDICT runs where the engine serves models: an XGBoost model on the GPU when
                # there is one (LightGBM's always on the CPU)
                on_gpu = gpu and library == "xgboost"
                measure(conn, library, info, booster, x, args.runs, "cpu", not on_gpu,
                        figures.setdefault(f"{library}_cpu", {}))
                if on_gpu:
                    measure(conn, library, info, booster, x, args.runs, "cuda", True,
                            figures.setdefault(f"{library}_gpu", {}))
            conn.close()
    except BaseException:
        report(flattened(figures), args.json)  # what was measured before the failure
        raise
    report(flattened(figures), args.json)


def flattened(figures: dict[str, Any], prefix: str = "") -> dict[str, object]:
    """Nested figures as one level of dotted keys, for ``report``."""
    flat: dict[str, object] = {}
    for key, value in figures.items():
        if isinstance(value, dict):
            flat.update(flattened(value, f"{prefix}{key}."))
        else:
            flat[f"{prefix}{key}"] = value
    return flat


if __name__ == "__main__":
    main()
