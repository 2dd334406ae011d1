"""Gradient-boosted tree ensembles: XGBoost and LightGBM models in their libraries' own files.

XGBoost models are kept as UBJSON (``model.ubj``, what ``Booster.save_model`` writes for that
suffix), LightGBM models as LightGBM's text model file (``model.txt``); both are read back by the
library's own loader, which parses trees and parameters only (no pickle, no code). Predictions
are the library's own ``predict`` on the same rows. On a GPU an XGBoost model runs on XGBoost's
CUDA predictor (``device='cuda'``); LightGBM predicts on the CPU (its GPU builds speed up
training, not prediction).
"""

from __future__ import annotations

import importlib.util
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from indb.errors import ModelError
from indb.runtime.gpus import gpu_turn

FILES = {"xgboost": "model.ubj", "lightgbm": "model.txt"}  # a flavor's artifact (registry FLAVORS)
SUFFIXES = {".ubj": "xgboost", ".json": "xgboost", ".txt": "lightgbm"}  # CREATE MODEL FROM FILE
# XGBoost reads its features as float32 whatever it is given; LightGBM compares them as doubles
# with its thresholds, so a float32 cast could move a row across a split
DTYPES = {"xgboost": "float32", "lightgbm": "float64"}


@dataclass
class Tree:
    """A loaded ensemble: ``run(rows)`` is the library's prediction for a ``(n, features)`` matrix."""

    booster: Any
    run: Callable[[np.ndarray], np.ndarray]
    input_shape: tuple[int, ...]
    input_dtype: str


def tree_flavor(model: Any) -> str | None:
    """``xgboost`` or ``lightgbm`` for a booster (or a scikit-learn estimator of theirs), else None."""
    package = type(model).__module__.split(".")[0]
    return package if package in FILES else None


def booster_of(model: Any, flavor: str) -> Any:
    """The booster of a fitted model: itself, or a scikit-learn wrapper's."""
    if flavor == "xgboost":
        return model.get_booster() if hasattr(model, "get_booster") else model
    return getattr(model, "booster_", model)


def save_tree(model: Any, flavor: str, directory: Path) -> tuple[tuple[int, ...], str, int]:
    """Write a fitted booster in its library's own format; returns row shape, dtype, output width."""
    if tree_flavor(model) != flavor:
        raise ModelError(f"flavor={flavor!r} takes a fitted {flavor} booster (or scikit-learn "
                         f"estimator), not a {type(model).__name__}")
    try:
        booster_of(model, flavor).save_model(str(directory / FILES[flavor]))
    except Exception as error:  # an unfitted scikit-learn estimator says so here
        raise ModelError(f"could not save the {flavor} model: {error}") from None
    return _described(load_tree(flavor, directory / FILES[flavor]))


def import_tree(source: Path, directory: Path) -> tuple[str, tuple[int, ...], str, int]:
    """Bring a model file written by XGBoost (``.ubj``, ``.json``) or LightGBM (``.txt``) in,
    kept as the flavor's artifact. Returns its flavor, row shape, dtype and output width."""
    flavor = SUFFIXES[source.suffix.lower()]
    target = directory / FILES[flavor]
    if flavor == "xgboost" and source.suffix.lower() == ".json":
        booster = load_tree(flavor, source).booster  # one stored format: UBJSON
        booster.save_model(str(target))
    else:
        shutil.copyfile(source, target)
    return (flavor, *_described(load_tree(flavor, target)))


def _described(tree: Tree) -> tuple[tuple[int, ...], str, int]:
    out = tree.run(np.zeros((2, *tree.input_shape), dtype=tree.input_dtype))
    return tree.input_shape, tree.input_dtype, int(np.prod(out.shape[1:])) if out.ndim > 1 else 1


def load_tree(flavor: str, path: Path, device: str = "cpu") -> Tree:
    """Read a model file with its library's own loader (no pickle); an XGBoost model is placed on
    ``device`` (a GPU: XGBoost's CUDA predictor)."""
    if flavor == "xgboost":
        return _xgboost(path, device)
    import lightgbm

    booster = lightgbm.Booster(model_file=str(path))
    return Tree(booster, lambda x: np.asarray(booster.predict(x)),
                (int(booster.num_feature()),), DTYPES[flavor])


def _xgboost(path: Path, device: str) -> Tree:
    import xgboost

    booster = xgboost.Booster(model_file=str(path))
    shape = (int(booster.num_features()),)
    if device == "cpu" or not _cuda_build(xgboost):
        return Tree(booster, lambda x: np.asarray(booster.inplace_predict(x)), shape, DTYPES["xgboost"])
    import cupy

    booster.set_param({"device": device})
    index = int(device.partition(":")[2] or 0)
    turn = gpu_turn(device)

    def run(x: np.ndarray) -> np.ndarray:
        # the rows on the GPU first: given host rows, a CUDA booster falls back to a DMatrix copy
        with turn(), cupy.cuda.Device(index):
            return cupy.asnumpy(booster.inplace_predict(cupy.asarray(x)))

    return Tree(booster, run, shape, DTYPES["xgboost"])


def _cuda_build(xgboost: Any) -> bool:
    """Whether this XGBoost predicts on GPUs (``xgboost``'s wheel; ``xgboost-cpu``'s does not) and
    cupy, which carries the rows there, is installed (``indb[gpu]``)."""
    return bool(xgboost.build_info().get("USE_CUDA")) and importlib.util.find_spec("cupy") is not None
