"""Plans for model statements, and PREDICT(...) calls bound to a model version.

``PREDICT('model'[, version or 'alias'], col, ...)`` anywhere in a statement becomes a call of a
DuckDB function made for that model version (``__indb_predict_<model>_v<n>``); the plan says
which ones to register before the statement runs.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlglot import exp

from indb.parser import AlterModelAlias as AlterModelAliasTree
from indb.parser import CreateModel as CreateModelTree
from indb.parser import DescribeModel as DescribeModelTree
from indb.parser import DropModel as DropModelTree
from indb.parser import ExecuteFunction as ExecuteFunctionTree
from indb.parser import ShowModels as ShowModelsTree
from indb.parser import error_at
from indb.planner.tables import CatalogFacts, new_name
from indb.registry.models import OUTPUTS

PREDICT_PREFIX = "__indb_predict_"


@dataclass(frozen=True)
class CreateModel:
    name: str
    path: str
    output: str | None  # class | value | vector; None: class for several outputs, else value


@dataclass(frozen=True)
class ShowModels:
    pass


@dataclass(frozen=True)
class DescribeModel:
    name: str


@dataclass(frozen=True)
class DropModel:
    name: str
    version: int | None
    if_exists: bool


@dataclass(frozen=True)
class AlterModelAlias:
    name: str
    alias: str
    version: int


@dataclass(frozen=True)
class Prediction:
    """A DuckDB function to register: ``function`` runs version ``version`` of ``model``."""

    function: str
    model: str
    version: int


@dataclass(frozen=True)
class WithPredictions:
    """Another plan whose SQL calls PREDICT functions, registered before it runs."""

    plan: Any  # the plan of the statement itself (a Query, an Insert, ...)
    predictions: tuple[Prediction, ...]


def plan_create_model(tree: CreateModelTree, catalog: CatalogFacts) -> CreateModel:
    options = {o.name.lower(): o.args["value"].name for o in tree.args.get("options") or []}
    unknown = set(options) - {"output"}
    if unknown:
        raise error_at(tree.this, f"unknown model option {sorted(unknown)[0]}; CREATE MODEL "
                                  "takes output")
    output = options.get("output")
    if output is not None and output not in OUTPUTS:
        raise error_at(tree.this, f"output is one of {', '.join(OUTPUTS)}, not {output!r}")
    return CreateModel(new_name(tree.this, "model"), tree.args["path"].name, output)


def plan_show_models(tree: ShowModelsTree, catalog: CatalogFacts) -> ShowModels:
    return ShowModels()


def plan_describe_model(tree: DescribeModelTree, catalog: CatalogFacts) -> DescribeModel:
    name = _name(tree.this)
    catalog.model(name, None)  # raises for an unknown model
    return DescribeModel(name)


def plan_drop_model(tree: DropModelTree, catalog: CatalogFacts) -> DropModel:
    name = _name(tree.this)
    version = _version(tree.args["version"]) if tree.args.get("version") else None
    if not tree.args.get("exists"):
        catalog.model(name, version)
    return DropModel(name, version, bool(tree.args.get("exists")))


def plan_alter_alias(tree: AlterModelAliasTree, catalog: CatalogFacts) -> AlterModelAlias:
    name, version = _name(tree.this), _version(tree.args["version"])
    catalog.model(name, version)
    alias = tree.args["alias"].name.lower()
    if alias.isdigit():
        raise error_at(tree.args["alias"], "an alias is a name, not a number")
    return AlterModelAlias(name, alias, version)


def bind_predictions(tree: exp.Expr,
                     catalog: CatalogFacts) -> tuple[exp.Expr, tuple[Prediction, ...]]:
    """The tree with each PREDICT call aimed at its model version's function."""
    calls = [c for c in tree.find_all(exp.Anonymous) if c.name.upper() == "PREDICT"]
    if not calls:
        return tree, ()
    if isinstance(tree, ExecuteFunctionTree):
        raise error_at(calls[0], "PREDICT inside an input query runs on the workers, where it is "
                                 "not available yet; load the model in the function with "
                                 "ctx.models.load")
    tree = tree.copy()
    predictions: dict[str, Prediction] = {}
    for call in [c for c in tree.find_all(exp.Anonymous) if c.name.upper() == "PREDICT"]:
        args = list(call.expressions)
        where = args[0] if args else call
        if not args or not (isinstance(args[0], exp.Literal) and args[0].is_string):
            raise error_at(where, "PREDICT takes the model name first, in quotes: "
                                  "PREDICT('model', col, ...)")
        name, version = args[0].name.lower(), None
        columns = args[1:]
        if columns and isinstance(columns[0], exp.Literal):
            version, columns = columns[0].name, columns[1:]
        if not columns:
            raise error_at(where, f"PREDICT('{name}', ...) needs the columns the model reads")
        info = catalog.model(name, version)
        if len(columns) > 1 and len(columns) != info.input_width:
            raise error_at(columns[0], f"model {name} version {info.version} takes "
                                       f"{info.input_width} values a row; PREDICT gave it "
                                       f"{len(columns)} columns")
        function = f"{PREDICT_PREFIX}{name}_v{info.version}"
        predictions[function] = Prediction(function, name, info.version)
        call.replace(exp.Anonymous(this=function, expressions=columns))
    return tree, tuple(predictions.values())


def _version(node: exp.Expr) -> int:
    """A version number as written in the statement: a whole number."""
    if not (isinstance(node, exp.Literal) and not node.is_string and node.name.isdigit()):
        raise error_at(node, f"a model version is a whole number, not {node.sql()}")
    return int(node.name)


def _name(node: exp.Expr) -> str:
    return node.name.lower()
