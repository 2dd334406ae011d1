"""``ctx.models``: save models from a UDF (registered when the run succeeds) and load them."""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from typing import Any

from indb.registry.models import ModelInfo, StagedModel, staging_dir
from indb.runtime.cache import process_cache
from indb.runtime.predictors import Predictor, check_output, is_keras, save_model
from indb.runtime.tf_models import is_tensorflow
from indb.runtime.trees import tree_flavor


class Models:
    """The model registry as a UDF sees it. ``lookup(name, version)`` answers which version that
    is (the catalog is read by the supervisor, not by the instance); saved models are staged
    beneath ``staging_root`` (the instance's work directory) until the run registers them."""

    def __init__(self, lookup: Callable[[str, int | str | None], ModelInfo], staging_root: str,
                 device: str = "cpu") -> None:
        self._lookup = lookup
        self._staging_root = staging_root
        self._device = device
        self.staged: list[StagedModel] = []
        self.hits = self.misses = 0  # loads served by the process's cache, and loads from files

    def save(self, name: str, model: Any, *, example: Any = None,
             metrics: dict[str, float] | None = None, output: str | None = None,
             flavor: str | None = None) -> StagedModel:
        """Save a model as the next version of ``name`` (once the whole run succeeds).

        ``model``: a torch module, a Keras model, a ``tf.Module``, or an XGBoost or LightGBM
        booster (or scikit-learn estimator); ``example``: an input batch (rows first; trees need
        none); ``output``: what PREDICT returns, ``class`` (argmax of the outputs), ``value`` (one
        number) or ``vector`` (default: class for several outputs a row, else value);
        ``flavor``: torch (default for torch modules), onnx, keras (default for Keras),
        tensorflow (default for a tf.Module), xgboost or lightgbm (their boosters').
        """
        if output is not None:
            check_output(output)
        flavor = flavor or tree_flavor(model) or ("keras" if is_keras(model) else
                                                  "tensorflow" if is_tensorflow(model) else "torch")
        with staging_dir(self._staging_root) as directory:
            shape, dtype, width = save_model(model, example, flavor, directory)
        output = output or ("class" if width > 1 else "value")
        staged = StagedModel(name.lower(), flavor, str(directory), shape, dtype, output, width,
                             {k: float(v) for k, v in (metrics or {}).items()})
        self.staged.append(staged)
        return staged

    def load(self, name: str, version: int | str | None = None, *, precision: str | None = None,
             compile: bool = False, cuda_graphs: bool = False) -> Predictor:
        """A registered version (None: the latest; a string: an alias), loaded once per process
        and placed on ``ctx.device``; ``precision="bf16"`` runs a torch model in bfloat16,
        ``compile=True`` through ``torch.compile``, ``cuda_graphs=True`` from CUDA graphs (GPU).

        ``.predict(rows)`` gives what PREDICT gives, ``.scores(rows)`` the raw outputs (numpy),
        ``.outputs(rows)`` a torch model's outputs as a tensor on the device, and ``.module`` the
        torch module of a torch model.
        """
        info = self._lookup(name, version)
        # Hosts serve every database of the cluster: the key is the artifact (path and
        # registration time), not the model's name and version. (The cache is this device's.)
        key = ("model", info.path, info.created, precision, compile, cuda_graphs)
        cache = process_cache(self._device)
        cached = cache.get(key)
        if cached is not None:
            self.hits += 1
            return cached[0]
        self.misses += 1
        predictor = Predictor(info, device=self._device, precision=precision, compile=compile,
                              cuda_graphs=cuda_graphs)
        cache.put(key, predictor, 0, size=_size(info.path))
        return predictor

    def discard(self) -> None:
        for staged in self.staged:
            shutil.rmtree(staged.staging, ignore_errors=True)
        self.staged.clear()


def _size(path: str) -> int:
    """An artifact's bytes: a file's, or a directory's files' (a SavedModel)."""
    if not os.path.isdir(path):
        return os.path.getsize(path)
    return sum(os.path.getsize(os.path.join(d, f)) for d, _, files in os.walk(path) for f in files)
