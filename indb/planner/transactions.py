"""Plans for a transaction's statements: ``BEGIN`` (``START TRANSACTION``), ``COMMIT`` (``END``),
``ROLLBACK`` (``ABORT``), ``SAVEPOINT s``, ``RELEASE [SAVEPOINT] s`` and ``ROLLBACK TO [SAVEPOINT]
s``, as DuckDB and PostgreSQL write them (``engine.transactions`` carries them out)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlglot import exp

from indb.parser import error_at
from indb.planner.tables import CatalogFacts


@dataclass(frozen=True)
class Begin:
    """``BEGIN [TRANSACTION] [READ ONLY | READ WRITE | ISOLATION LEVEL ...]``: the modes are
    taken and change nothing (a transaction reads what is committed, and its own writes)."""


@dataclass(frozen=True)
class Commit:
    """``COMMIT``: every write since BEGIN, in one catalog transaction."""


@dataclass(frozen=True)
class Rollback:
    """``ROLLBACK``: every write since BEGIN undone; with ``savepoint``, those since it."""

    savepoint: str | None = None


@dataclass(frozen=True)
class Savepoint:
    """``SAVEPOINT name``: where a later ``ROLLBACK TO name`` goes back to."""

    name: str


@dataclass(frozen=True)
class Release:
    """``RELEASE [SAVEPOINT] name``: forget the savepoint (and those after it)."""

    name: str


def plan_begin(tree: exp.Transaction, catalog: CatalogFacts) -> Begin:
    return Begin()


def plan_commit(tree: exp.Commit, catalog: CatalogFacts) -> Commit:
    return Commit()


def plan_rollback(tree: exp.Rollback, catalog: CatalogFacts) -> Rollback:
    savepoint = tree.args.get("savepoint")
    if savepoint is None:
        return Rollback()
    return Rollback(savepoint.name if savepoint.args.get("quoted") else savepoint.name.lower())


def plan_savepoint(tree: exp.Command, catalog: CatalogFacts) -> Savepoint:
    return Savepoint(_savepoint_name(tree, "SAVEPOINT name"))


def plan_release(tree: exp.Command, catalog: CatalogFacts) -> Release:
    return Release(_savepoint_name(tree, "RELEASE [SAVEPOINT] name"))


def _savepoint_name(tree: exp.Command, form: str) -> str:
    words = str(tree.text("expression")).split()
    if words and words[0].upper() == "SAVEPOINT" and tree.name.upper() == "RELEASE":
        words = words[1:]
    name = words[0] if len(words) == 1 else ""
    quoted = len(name) > 1 and name[0] == name[-1] == '"'
    name = name[1:-1] if quoted else name.lower()  # "Name" is as written, Name is name
    if not name or not name.replace("_", "").replace("$", "").isalnum():
        raise error_at(tree, f"{tree.name.upper()} names one savepoint: {form}")
    return name
