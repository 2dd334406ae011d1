"""Plans for a transaction's statements: ``BEGIN`` (``START TRANSACTION``), ``COMMIT`` (``END``),
``ROLLBACK`` (``ABORT``), ``SAVEPOINT s``, ``RELEASE [SAVEPOINT] s``, ``ROLLBACK TO [SAVEPOINT]
s`` and ``SET CONSTRAINTS``, as DuckDB and PostgreSQL write them (``engine.transactions`` carries
them out)."""

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


@dataclass(frozen=True)
class SetConstraints:
    """``SET CONSTRAINTS {ALL | name, ...} {DEFERRED | IMMEDIATE}``: when the transaction checks
    its deferrable foreign keys (``names`` None: all of them), at COMMIT or now."""

    names: tuple[str, ...] | None
    deferred: bool


def plan_set_constraints(tree: exp.Command, catalog: CatalogFacts) -> SetConstraints:
    words = str(tree.text("expression")).replace(",", " , ").split()
    mode = words[-1].upper() if len(words) >= 3 else ""
    targets = " ".join(words[1:-1])
    if mode not in ("DEFERRED", "IMMEDIATE") or not targets:
        raise error_at(tree, "SET CONSTRAINTS takes ALL or the constraints' names, then DEFERRED "
                             "or IMMEDIATE: SET CONSTRAINTS ALL DEFERRED")
    if targets.upper() == "ALL":
        return SetConstraints(None, mode == "DEFERRED")
    names = [n.strip() for n in targets.split(",")]
    if not all(names):
        raise error_at(tree, f"SET CONSTRAINTS {targets}: a list of constraints' names, separated by commas")
    return SetConstraints(tuple(n[1:-1] if n[:1] == n[-1:] == '"' else n.lower() for n in names),
                          mode == "DEFERRED")


def is_set_constraints(tree: exp.Command) -> bool:
    return str(tree.text("expression")).upper().split()[:1] == ["CONSTRAINTS"]


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
