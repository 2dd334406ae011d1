"""Plans for DuckDB's macros: ``CREATE [OR REPLACE] [TEMP] MACRO m(a, b) AS expression``, ``...
AS TABLE query``, overloads (``m(a) AS a * 10, (a, b) AS a + b``; DuckDB's other spelling,
``CREATE FUNCTION m(a) AS ...``), ``DROP MACRO
[TABLE] [IF EXISTS] m``, ``SHOW MACROS``."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from sqlglot import exp

from indb.catalog.macros import Macro
from indb.catalog.names import checked_name
from indb.errors import SchemaError
from indb.parser import error_at, render
from indb.parser.macros import DropMacro as DropMacroTree
from indb.parser.macros import ShowMacros as ShowMacrosTree
from indb.planner.tables import CatalogFacts, is_temporary


@dataclass(frozen=True)
class CreateMacro:
    macro: Macro
    replace: bool = False
    temporary: bool = False  # the session's alone, as a temporary view is


@dataclass(frozen=True)
class DropMacro:
    """``DROP MACRO [IF EXISTS] m``, or DuckDB's ``DROP FUNCTION m`` of a macro (``as_function``:
    there is no indb function of the name)."""

    name: str
    if_exists: bool = False
    as_function: bool = False


@dataclass(frozen=True)
class ShowMacros:
    pass


def plan_create(tree: exp.Create, catalog: CatalogFacts) -> CreateMacro:
    signature, body = tree.this, tree.args.get("expression")
    if not isinstance(signature, exp.UserDefinedFunction) or body is None:
        raise error_at(tree, "CREATE MACRO takes m(a, b) AS expression, or m(a) AS TABLE query")
    try:
        name = checked_name(signature.this.name, "macro")
    except SchemaError as error:
        raise error_at(signature, str(error)) from None
    if isinstance(body, exp.MacroOverloads):  # m(a) AS a * 10, (a, b) AS a + b: DuckDB's
        variants = [_variant(name, o.expressions, o.this, bool(o.args.get("is_table")))
                    for o in body.expressions]
        counts = [len(v.parameters) for v in variants]
        if len(set(counts)) != len(counts):
            raise error_at(tree, f"macro {name} has two definitions of "
                                 f"{max(counts, key=counts.count)} parameter(s): each takes a "
                                 "number of its own")
        macro = dataclasses.replace(variants[0], overloads=tuple(variants[1:]))
    else:
        properties = tree.args.get("properties")
        table = properties is not None and any(  # AS TABLE query (a scalar subquery is (query))
            isinstance(p, exp.ReturnsProperty) and p.args.get("is_table")
            for p in properties.expressions)
        macro = _variant(name, signature.expressions, body, table)
    return CreateMacro(macro, bool(tree.args.get("replace")), is_temporary(tree))


def _variant(name: str, given: list[exp.Expr], body: exp.Expr, table: bool) -> Macro:
    """A macro of parameters ``given`` (names, ``b := 5`` with a default) and ``body``."""
    parameters: list[str] = []
    defaults: list[exp.Expr] = []  # (b := 5, as SELECT 5 AS b)
    typed: dict[str, exp.DataType] = {}  # (a INTEGER: the argument cast to it in the body)
    for parameter in given:
        if isinstance(parameter, exp.ColumnDef) and isinstance(parameter.args.get("kind"),
                                                               exp.DataType):
            typed[parameter.name.lower()] = parameter.args["kind"]
            parameter = parameter.this
        named = parameter.this if isinstance(parameter, exp.PropertyEQ) else parameter
        if not isinstance(named, exp.Identifier):
            raise error_at(parameter, "a macro's parameters are names, with a default or not: "
                                      "m(a, b := 5)")
        if named.name.lower() in parameters:
            raise error_at(parameter, f"macro {name} names parameter {named.name} twice")
        if defaults and not isinstance(parameter, exp.PropertyEQ):
            raise error_at(parameter, "a macro's parameters with defaults come after the others")
        parameters.append(named.name.lower())
        if isinstance(parameter, exp.PropertyEQ):
            defaults.append(exp.alias_(parameter.expression, named.name.lower(), quoted=True))
    if table and isinstance(body, exp.Subquery):
        body = body.this  # (AS TABLE (SELECT ...), as an overload writes it)
    if typed:
        body = body.transform(lambda node: exp.cast(node.copy(), typed[node.name.lower()])
                              if isinstance(node, exp.Column) and not node.table
                              and node.name.lower() in typed else node)
    kept = render(body if table else exp.select(body))
    return Macro(name, tuple(parameters), kept, table,
                 render(exp.select(*defaults)) if defaults else "")


def plan_drop(tree: DropMacroTree, catalog: CatalogFacts) -> DropMacro:
    return DropMacro(tree.this.name.lower(), bool(tree.args.get("exists")))


def plan_show(tree: ShowMacrosTree, catalog: CatalogFacts) -> ShowMacros:
    return ShowMacros()
