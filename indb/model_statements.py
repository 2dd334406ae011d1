"""The engine's ``run_<Plan>`` methods for model statements and PREDICT (a mixin of ``Engine``)."""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path

import pyarrow as pa

from indb import planner
from indb.errors import CatalogError
from indb.query import predict
from indb.query.session import QuerySession
from indb.registry.flavors import Predictor, import_model
from indb.registry.models import ModelStore, StagedModel, staging_dir
from indb.result import Result


class ModelStatements:
    """Model statements; expects ``db``, ``session``, ``models`` and ``run``."""

    session: QuerySession
    models: ModelStore
    _predictors: dict[tuple[str, float, str | None], Predictor]  # by artifact and precision
    predict_device: str

    def served_model(self, name: str, version: int | str | None = None,
                     precision: str | None = None) -> Predictor:
        """A registered model loaded once in this process and kept: on its GPU when it has one,
        replayed from CUDA graphs there (PREDICT and ``Connection.model`` use it)."""
        info = self.models.get(name, version)
        key = (info.path, info.created, precision)  # the artifact, not the name: versions move
        if key not in self._predictors:
            self._predictors[key] = Predictor(info, device=self.predict_device, precision=precision,
                                              cuda_graphs=self.predict_device != "cpu")
        return self._predictors[key]

    def run_WithPredictions(self, plan: planner.WithPredictions, params: object) -> Result:
        for prediction in plan.predictions:
            predictor = self.served_model(prediction.model, prediction.version)
            predict.register(self.session.duck, prediction.function, predictor)
        try:
            return self.run(plan.plan, params)
        finally:
            for prediction in plan.predictions:
                self.session.duck.remove_function(prediction.function)

    def run_CreateModel(self, plan: planner.CreateModel, params: object) -> Result:
        source = Path(plan.path).expanduser()
        if not source.is_file():
            raise CatalogError(f"no model file {source} (paths are relative to {Path.cwd()})")
        directory = staging_dir(self.db.path)
        staged = None
        try:
            flavor, shape, dtype, width = import_model(source, directory)
            output = plan.output or ("class" if width > 1 else "value")
            staged = StagedModel(plan.name, flavor, str(directory), shape, dtype, output, width, {})
            info = self.models.register(staged, {"imported_from": str(source.resolve())})
        except BaseException:  # nothing half-saved: the staged file goes, no version was added
            shutil.rmtree(directory, ignore_errors=True)
            raise
        return Result(pa.table({"model": [info.name], "version": [info.version]}),
                      f"created model {info.name} version {info.version} ({flavor})")

    def run_ShowModels(self, plan: planner.ShowModels, params: object) -> Result:
        rows = []
        for name in self.models.names():
            versions = self.models.versions(name)
            latest = versions[-1]
            aliases = self.models.aliases(name)
            rows.append({"name": name, "versions": len(versions), "latest": latest.version,
                         "flavor": latest.flavor, "output": latest.output,
                         "aliases": ", ".join(f"{a} = {v}" for a, v in sorted(aliases.items())) or None,
                         "metrics": json.dumps(latest.metrics) if latest.metrics else None,
                         "created": _when(latest.created)})
        columns = ["name", "versions", "latest", "flavor", "output", "aliases", "metrics", "created"]
        types = {"versions": pa.int64(), "latest": pa.int64()}
        return Result(pa.table({c: pa.array([r[c] for r in rows], types.get(c, pa.string()))
                                for c in columns}))

    def run_DescribeModel(self, plan: planner.DescribeModel, params: object) -> Result:
        aliases = self.models.aliases(plan.name)
        rows = []
        for info in self.models.versions(plan.name):
            rows.append({
                "version": info.version, "flavor": info.flavor,
                "aliases": ", ".join(a for a, v in sorted(aliases.items()) if v == info.version) or None,
                "input": f"{info.input_dtype}[{', '.join(map(str, info.input_shape))}]",
                "output": f"{info.output} ({info.output_width})",
                "metrics": json.dumps(info.metrics) if info.metrics else None,
                "lineage": json.dumps(info.lineage), "created": _when(info.created)})
        columns = list(rows[0])
        return Result(pa.table({c: pa.array([r[c] for r in rows],
                                            pa.int64() if c == "version" else pa.string())
                                for c in columns}))

    def run_DropModel(self, plan: planner.DropModel, params: object) -> Result:
        try:
            count = self.models.drop(plan.name, plan.version)
        except CatalogError:
            if plan.if_exists:
                return Result(message=f"model {plan.name} does not exist")
            raise
        return Result(message=f"dropped {count} version(s) of model {plan.name}")

    def run_AlterModelAlias(self, plan: planner.AlterModelAlias, params: object) -> Result:
        self.models.set_alias(plan.name, plan.alias, plan.version)
        return Result(message=f"model {plan.name}: {plan.alias} is version {plan.version}")


def _when(seconds: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(seconds))

