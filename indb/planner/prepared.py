"""Plans for prepared statements in SQL: ``PREPARE q [(type, ...)] AS statement`` and
``DEALLOCATE [PREPARE] q | ALL``. A statement is planned when it is prepared, so one that cannot
run is refused then (``planner.plan`` does that before ``plan_prepare``), and again at each
``EXECUTE``, with its values in place of its parameters (``indb.engine.prepared``)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlglot import exp

from indb.parser import error_at
from indb.parser.prepared import Deallocate as DeallocateTree
from indb.parser.prepared import Prepare as PrepareTree
from indb.planner.tables import CatalogFacts


@dataclass(frozen=True)
class Prepare:
    """``statement`` as written (its names resolved at each EXECUTE), its
    parameters ``$1, $2...`` or DuckDB's ``$name``, and the declared ``types`` of ``$1, $2...``
    (PostgreSQL's; may be fewer than the parameters)."""

    name: str
    statement: exp.Expr
    parameters: tuple[str, ...]
    types: tuple[exp.DataType, ...] = ()
    query: str | None = None  # a query's DuckDB SQL as planned now, for DuckDB to bind

    @property
    def numbered(self) -> bool:
        """Whether the parameters are ``$1, $2...`` (else named: ``$name``)."""
        return all(p.isdigit() for p in self.parameters)


@dataclass(frozen=True)
class Deallocate:
    name: str | None  # None: ALL


def plan_prepare(tree: PrepareTree, query: str | None = None) -> Prepare:
    statement = tree.args.get("written") or tree.expression
    named = sorted({n.name for n in statement.find_all(exp.Placeholder)},
                   key=lambda n: (not n.isdigit(), int(n) if n.isdigit() else 0, n))
    numbers = [int(n) for n in named if n.isdigit()]
    if numbers and len(numbers) != len(named):
        raise error_at(statement, "a prepared statement's parameters are all numbered ($1, $2) "
                                  "or all named ($name), not both")
    if numbers and numbers[0] < 1:
        raise error_at(statement, "parameters are numbered from $1")
    types = tuple(tree.expressions)
    count = max([*numbers, len(types)]) if numbers or not named else 0
    if named and not numbers and types:
        raise error_at(types[0], "types are declared for $1, $2...; this statement's parameters "
                                 "are named")
    parameters = tuple(str(n) for n in range(1, count + 1)) if count else tuple(named)
    return Prepare(tree.name.lower(), statement, parameters, types, query)


def plan_deallocate(tree: DeallocateTree, catalog: CatalogFacts) -> Deallocate:
    return Deallocate(tree.name.lower() if tree.this is not None else None)
