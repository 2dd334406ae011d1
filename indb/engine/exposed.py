"""Exposed functions as their callers see them: ``SHOW FUNCTIONS`` lists the functions the calling
user may execute (an admin or a function's owner sees it; others need a grant of EXECUTE), one
row a declared parameter, so a form can be made from it without reading any DDL."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pyarrow as pa

from indb.engine import privileges
from indb.registry.functions import FunctionInfo
from indb.result import Result

if TYPE_CHECKING:
    from indb.engine.core import Engine

SCHEMA = pa.schema([("name", pa.string()), ("mode", pa.string()), ("comment", pa.string()),
                    ("parameter", pa.string()), ("type", pa.string()), ("default", pa.string()),
                    ("parameter_comment", pa.string())])


def show_functions(engine: Engine) -> Result:
    """One row a declared parameter of each function the user may execute; a function that
    declares none has one row with the parameter's columns NULL."""
    user = engine.user
    access = privileges.access(engine, user, [])
    rows: list[dict] = []
    for info in engine.functions.all():
        if access.may(user, "EXECUTE", "function", info.name):
            rows += _rows(info)
    return Result(pa.Table.from_pylist(rows, schema=SCHEMA))


def _rows(info: FunctionInfo) -> list[dict]:
    function = {"name": info.name, "mode": info.mode, "comment": info.comment or None}
    if not info.parameters:
        return [function]
    return [{**function, "parameter": p.name, "type": p.sql_type, "default": p.default,
             "parameter_comment": p.comment or None} for p in info.parameters]
