"""``ctx.models``: save models from a UDF (registered when the run succeeds) and load them."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from typing import Any

from indb.registry.flavors import Predictor, check_output, is_keras, save_model
from indb.registry.models import StagedModel, staging_dir

# per process: a worker's host keeps its models. Hosts serve every database of the cluster, so the
# key is the artifact (path and registration time), not the model's name and version.
_loaded: dict[tuple, Predictor] = {}


class Models:
    """The model registry as a UDF sees it."""

    def __init__(self, request: Callable[[tuple], Any], db_path: str, device: str = "cpu") -> None:
        self._request = request
        self._db_path = db_path
        self._device = device
        self.staged: list[StagedModel] = []

    def save(self, name: str, model: Any, *, example: Any, metrics: dict[str, float] | None = None,
             output: str = "class", flavor: str | None = None) -> StagedModel:
        """Save a model as the next version of ``name`` (once the whole run succeeds).

        ``model``: a torch module or a Keras model; ``example``: an input batch (rows first);
        ``output``: what PREDICT returns, ``class`` (argmax of the outputs), ``value`` (one number)
        or ``vector``; ``flavor``: torch (default for torch modules), onnx, or keras (for Keras).
        """
        check_output(output)
        flavor = flavor or ("keras" if is_keras(model) else "torch")
        directory = staging_dir(self._db_path)
        try:
            shape, dtype, width = save_model(model, example, flavor, directory)
        except BaseException:
            shutil.rmtree(directory, ignore_errors=True)
            raise
        staged = StagedModel(name.lower(), flavor, str(directory), shape, dtype, output, width,
                             {k: float(v) for k, v in (metrics or {}).items()})
        self.staged.append(staged)
        return staged

    def load(self, name: str, version: int | str | None = None, *,
             precision: str | None = None) -> Predictor:
        """A registered version (None: the latest; a string: an alias), loaded once per process
        and placed on ``ctx.device``; ``precision="bf16"`` runs a torch model in bfloat16.

        ``.predict(rows)`` gives what PREDICT gives, ``.scores(rows)`` the raw outputs, and
        ``.module`` the torch module of a torch model.
        """
        info = self._request(("model", name, version))
        key = (info.path, info.created, self._device, precision)
        if key not in _loaded:
            _loaded[key] = Predictor(info, device=self._device, precision=precision)
        return _loaded[key]

    def discard(self) -> None:
        for staged in self.staged:
            shutil.rmtree(staged.staging, ignore_errors=True)
        self.staged.clear()
