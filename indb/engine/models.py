"""Handlers of model statements, and of plans whose SQL calls PREDICT."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import TYPE_CHECKING

import pyarrow as pa

from indb import planner
from indb.engine import privileges
from indb.errors import CatalogError, ModelError
from indb.query import predict
from indb.registry.code import confined
from indb.registry.models import StagedModel, staging_dir
from indb.result import Result
from indb.runtime.predictors import import_model

if TYPE_CHECKING:
    from indb.engine.core import Engine


def with_predictions(engine: Engine, plan: planner.WithPredictions, params: object) -> Result:
    """Register the PREDICT functions the plan's SQL calls, run the plan, then remove them."""
    for prediction in plan.predictions:
        predictor = engine.served_model(prediction.model, prediction.version)
        predict.register(engine.session.duck, prediction.function, predictor)
    try:
        return engine.run(plan.plan, params)
    finally:
        for prediction in plan.predictions:
            engine.session.duck.remove_function(prediction.function)


def create_model(engine: Engine, plan: planner.CreateModel, params: object) -> Result:
    source = confined(plan.path, privileges.readable_directories(engine), "CREATE MODEL ... FROM FILE")
    if not source.exists():  # a file, or a TensorFlow SavedModel's directory
        raise ModelError(f"no model file {source} (paths are relative to {Path.cwd()})")
    with staging_dir(engine.db.path) as directory:  # nothing half-saved: it goes on any failure
        flavor, shape, dtype, width = import_model(source, directory)
        output = plan.output or ("class" if width > 1 else "value")
        staged = StagedModel(plan.name, flavor, str(directory), shape, dtype, output, width, {})
        info = engine.models.register(staged, {"imported_from": str(source.resolve())})
    return Result(pa.table({"model": [info.name], "version": [info.version]}),
                  f"created model {info.name} version {info.version} ({flavor})")


def show_models(engine: Engine, plan: planner.ShowModels, params: object) -> Result:
    rows = []
    for name in engine.models.names():
        versions = engine.models.versions(name)
        latest = versions[-1]
        aliases = engine.models.aliases(name)
        rows.append({"name": name, "versions": len(versions), "latest": latest.version,
                     "flavor": latest.flavor, "output": latest.output,
                     "aliases": ", ".join(f"{a} = {v}" for a, v in sorted(aliases.items())) or None,
                     "metrics": json.dumps(latest.metrics) if latest.metrics else None,
                     "created": _when(latest.created)})
    columns = ["name", "versions", "latest", "flavor", "output", "aliases", "metrics", "created"]
    types = {"versions": pa.int64(), "latest": pa.int64()}
    return Result(pa.table({c: pa.array([r[c] for r in rows], types.get(c, pa.string()))
                            for c in columns}))


def describe_model(engine: Engine, plan: planner.DescribeModel, params: object) -> Result:
    aliases = engine.models.aliases(plan.name)
    rows = []
    for info in engine.models.versions(plan.name):
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


def drop_model(engine: Engine, plan: planner.DropModel, params: object) -> Result:
    try:
        count = engine.models.drop(plan.name, plan.version)
    except CatalogError:
        if plan.if_exists:
            return Result(message=f"model {plan.name} does not exist")
        raise
    return Result(message=f"dropped {count} version(s) of model {plan.name}")


def alter_model_alias(engine: Engine, plan: planner.AlterModelAlias, params: object) -> Result:
    engine.models.set_alias(plan.name, plan.alias, plan.version)
    return Result(message=f"model {plan.name}: {plan.alias} is version {plan.version}")


def _when(seconds: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(seconds))

