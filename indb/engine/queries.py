"""Handler of plain queries: DuckDB runs them over the views of the tables' snapshots."""

from __future__ import annotations

from typing import TYPE_CHECKING

from indb import planner
from indb.result import Result

if TYPE_CHECKING:
    from indb.engine.core import Engine


def query(engine: Engine, plan: planner.Query, params: object) -> Result:
    return engine.session.stream(plan.sql, params)  # rows read from DuckDB as they are fetched
