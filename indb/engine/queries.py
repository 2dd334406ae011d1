"""Handlers of plain queries, which DuckDB runs over the views of the tables' snapshots, and of
the settings of that DuckDB a connection may set (``SET threads = 4``)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from indb import planner
from indb.errors import SqlError
from indb.planner import settings
from indb.result import Result

if TYPE_CHECKING:
    from indb.engine.core import Engine


def query(engine: Engine, plan: planner.Query, params: object) -> Result:
    return engine.session.stream(plan.sql, params)  # rows read from DuckDB as they are fetched


def set_session_settings(engine: Engine, plan: settings.SetSessionSettings, params: object) -> Result:
    if engine.temporaries is None:  # a server's pooled connection, which every request shares
        raise SqlError("a setting lives as long as its session, and the HTTP API has none (each "
                       "request stands alone): set it on an embedded connection")
    for name, value in plan.settings:
        engine.session.set(name, value)
    return Result(message="RESET" if all(v is None for _, v in plan.settings) else "SET")
