"""The plan of ``SHOW WORKERS [FOR TABLE t]``."""

from __future__ import annotations

from dataclasses import dataclass

from indb.parser import error_at
from indb.parser import workers as trees
from indb.planner.tables import CatalogFacts, table_name


@dataclass(frozen=True)
class ShowWorkers:
    table: str | None  # whose shard count the placement is shown for; None: the default


def plan_show(tree: trees.ShowWorkers, catalog: CatalogFacts) -> ShowWorkers:
    if not tree.args.get("this"):
        return ShowWorkers(None)
    table = table_name(tree.this)
    if not catalog.exists(table):
        raise error_at(tree.this, f"table {table} does not exist; SHOW TABLES lists the tables")
    return ShowWorkers(table)
