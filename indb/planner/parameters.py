"""Declared parameters of exposed functions: checked when the function is created, and the PARAMS
of each call checked and converted against them before anything runs.

A value is converted to the parameter's type by Arrow's cast from text (the same parse a column
of that type gets), then rendered back as text by Arrow's cast to string, so the UDF receives
every value in one canonical spelling (``'0.950'`` arrives as ``'0.95'``, ``'TRUE'`` as ``'true'``):
Kinetica's ``params`` are strings, and indb keeps them so.
"""

from __future__ import annotations

from collections.abc import Mapping

import pyarrow as pa
from sqlglot import exp

from indb.catalog.types import arrow_type_of, canonical_sql_type
from indb.errors import SchemaError
from indb.parser import error_at
from indb.parser.parameters import Parameter as ParameterTree
from indb.registry.functions import FunctionInfo, Parameter

_SCALAR = (pa.types.is_integer, pa.types.is_floating, pa.types.is_decimal, pa.types.is_boolean,
           pa.types.is_string, pa.types.is_date, pa.types.is_timestamp)


def declared(trees: list[ParameterTree] | None) -> tuple[Parameter, ...] | None:
    """The parameters of ``PARAMETERS (...)``: known scalar types, defaults of their type, each
    name once. None when the function declares none."""
    if trees is None:
        return None
    out: list[Parameter] = []
    for tree in trees:
        name = tree.name.lower()
        if any(p.name == name for p in out):
            raise error_at(tree.this, f"parameter {name} is declared twice")
        try:
            sql_type = canonical_sql_type(tree.args["kind"].sql(dialect="duckdb"))
            arrow_type = arrow_type_of(sql_type)
        except SchemaError as error:
            raise error_at(tree.this, f"parameter {name}: {error}") from None
        if not any(test(arrow_type) for test in _SCALAR):
            raise error_at(tree.this, f"parameter {name} is {sql_type}; a parameter is a number, "
                                      "DECIMAL, BOOLEAN, VARCHAR, DATE or TIMESTAMP")
        parameter = Parameter(name, sql_type, None, tree.args["comment"].name
                              if tree.args.get("comment") is not None else "")
        default = tree.args.get("default")
        if default is not None:
            parameter = Parameter(name, sql_type, _converted(parameter, _constant(default, tree),
                                                             default), parameter.comment)
        out.append(parameter)
    return tuple(out)


def checked(function: FunctionInfo, given: tuple[tuple[str, str], ...],
            nodes: Mapping[str, exp.Expr | None], call: exp.Expr) -> tuple[tuple[str, str], ...]:
    """PARAMS against ``function``'s declaration: each known, of its type, every required one
    given; the result in declaration order with defaults filled in, values in canonical text.
    ``nodes`` point at each given name in the statement; ``call`` at the call itself."""
    declared_ = function.parameters
    if declared_ is None:
        return given
    by_name = {p.name: p for p in declared_}
    values = dict(given)
    for key, _ in given:
        if key not in by_name:
            raise error_at(nodes.get(key) or call, f"{function.name} has no parameter {key}; it "
                           f"takes {signature(declared_)}")
    out = []
    for parameter in declared_:
        if parameter.name in values:
            out.append((parameter.name, _converted(parameter, values[parameter.name],
                                                   nodes.get(parameter.name) or call)))
        elif parameter.default is not None:
            out.append((parameter.name, parameter.default))
        else:
            raise error_at(call, f"{function.name} needs parameter {parameter.name} "
                                 f"({parameter.sql_type}): add PARAMS => KV_PAIRS("
                                 f"{parameter.name} = '...')")
    return tuple(out)


def signature(parameters: tuple[Parameter, ...], comments: bool = False) -> str:
    """``threshold DOUBLE DEFAULT 0.9, symbol VARCHAR`` (with ``COMMENT '...'`` after each that
    has one if ``comments``), or ``no parameters``."""
    return ", ".join(f"{p.name} {p.sql_type}"
                     + (f" DEFAULT {p.default}" if p.default is not None else "")
                     + (f" COMMENT {p.comment!r}" if comments and p.comment else "")
                     for p in parameters) or "no parameters"


def _constant(node: exp.Expr, tree: ParameterTree) -> str:
    """A DEFAULT's text: a string, a number (with its sign), TRUE or FALSE."""
    if isinstance(node, exp.Literal):
        return node.name
    if isinstance(node, exp.Neg) and isinstance(node.this, exp.Literal) and not node.this.is_string:
        return f"-{node.this.name}"
    if isinstance(node, exp.Boolean):
        return "true" if node.this else "false"
    raise error_at(tree.this, f"the DEFAULT of parameter {tree.name.lower()} is a constant: a "
                              "string, a number, TRUE or FALSE")


def _converted(parameter: Parameter, text: str, node: exp.Expr) -> str:
    """``text`` as a value of the parameter's type, rendered canonically; SqlError at ``node``
    naming the parameter when it is not one."""
    try:
        value = pa.scalar(text, pa.string()).cast(arrow_type_of(parameter.sql_type))
        return str(value.cast(pa.string()).as_py())
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as error:
        raise error_at(node, f"parameter {parameter.name} is {parameter.sql_type}, and {text!r} "
                             f"is not one ({error})") from None
