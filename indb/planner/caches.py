"""Plans for Spark's table-cache statements, which indb carries out without a cache of its own:
``CACHE [LAZY] TABLE t`` and ``REFRESH TABLE t`` check that ``t`` can be read and do nothing
(DuckDB reads a table's files at each query, from the operating system's cache when they are
in it, and every statement reads each table's current snapshot); ``UNCACHE TABLE [IF EXISTS] t``
does nothing either. ``CACHE TABLE v AS query`` is a temporary view: the parser makes it one."""

from __future__ import annotations

from dataclasses import dataclass

from sqlglot import exp

from indb.parser import error_at, render
from indb.planner.tables import CatalogFacts


@dataclass(frozen=True)
class NothingToDo:
    """A statement done once ``probe`` (a query of no rows from its table, None: none) runs."""
    message: str
    probe: str | None = None


def plan_cache(tree: exp.Cache, catalog: CatalogFacts) -> NothingToDo:
    return _checked(tree.this, "CACHE TABLE", "indb keeps no cache of its own: DuckDB reads the "
                    "table's files at each query, from the operating system's cache when they are "
                    "in it")


def plan_refresh(tree: exp.Refresh, catalog: CatalogFacts) -> NothingToDo:
    return _checked(tree.this, "REFRESH TABLE", "every statement reads each table's current "
                    "snapshot")


def plan_uncache(tree: exp.Uncache, catalog: CatalogFacts) -> NothingToDo:
    if tree.args.get("exists"):
        return NothingToDo("UNCACHE TABLE: indb keeps no cache")
    return _checked(tree.this, "UNCACHE TABLE", "indb keeps no cache")


def plan_checkpoint(tree: exp.Expr, catalog: CatalogFacts) -> NothingToDo:
    """DuckDB's ``[FORCE] CHECKPOINT [database]`` (PostgreSQL's ``CHECKPOINT``), which sqlglot
    reads as a column or an alias: every write of indb's is durable once it returns, in its
    Iceberg snapshot, so there is no log to fold into the database."""
    words = [w for w in render(tree).upper().replace('"', "").split() if w != "AS"]
    words = words[1:] if words[:1] == ["FORCE"] else words
    if words[:1] != ["CHECKPOINT"] or len(words) > 2:
        raise error_at(tree, "CHECKPOINT takes at most a database's name: [FORCE] CHECKPOINT [db]")
    return NothingToDo("CHECKPOINT")  # (PostgreSQL's command tag)


def _checked(table: exp.Expr, statement: str, why: str) -> NothingToDo:
    """``table`` (a temporary view: its query, in its place already) probed, named as written."""
    if not isinstance(table, exp.Table | exp.Subquery):
        raise error_at(table, f"{statement} takes a table's or view's name")
    probe = exp.select(exp.Star()).from_(table.copy()).limit(0)
    named = table.sql(dialect="duckdb") if isinstance(table, exp.Table) else table.alias_or_name
    return NothingToDo(f"{statement} {named}: nothing to do; {why}", render(probe))
