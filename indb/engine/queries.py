"""Handlers of plain queries, which DuckDB runs over the views of the tables' snapshots, and of
the settings of that DuckDB a connection may set (``SET threads = 4``)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pyarrow as pa

from indb import planner
from indb.errors import SqlError
from indb.planner import caches, settings
from indb.result import Result

if TYPE_CHECKING:
    from indb.engine.core import Engine


def query(engine: Engine, plan: planner.Query, params: object) -> Result:
    return engine.session.stream(plan.sql, params)  # rows read from DuckDB as they are fetched


def set_session_settings(engine: Engine, plan: settings.SetSessionSettings, params: object) -> Result:
    if plan.search_path is not None:
        if engine.temporaries is None:  # a pooled connection lent no session: the HTTP API's
            raise SqlError("a search path lives as long as its session, and the HTTP API has "
                           "none (each request stands alone): name tables with their schema")
        engine.temporaries.search_path = plan.search_path
        if not plan.settings:
            return Result(message="SET")
    if engine.pooled:  # its settings would be every request's and session's that takes it next
        raise SqlError("a setting lives as long as its connection, and a server's connections "
                       "are shared by its requests and sessions: set it on an embedded "
                       "connection (the PostgreSQL port accepts SET and ignores it)")
    for name, value in plan.settings:
        engine.session.set(name, value)
    return Result(message="RESET" if all(v is None for _, v in plan.settings) else "SET")


def show_search_path(engine: Engine, plan: settings.ShowSearchPath, params: object) -> Result:
    path = engine.temporaries.search_path if engine.temporaries is not None else settings.DEFAULT_PATH
    return Result(pa.table({"search_path": [", ".join(path)]}))


def nothing_to_do(engine: Engine, plan: caches.NothingToDo, params: object) -> Result:
    """Spark's CACHE TABLE and REFRESH TABLE: their table read (no rows), nothing done."""
    if plan.probe is not None:
        engine.session.query(plan.probe)
    return Result(message=plan.message)
