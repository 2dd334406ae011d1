"""Plans for named types: ``CREATE [OR REPLACE] TYPE name AS ENUM ('a', 'b')`` (or ``AS`` any
type), ``DROP TYPE [IF EXISTS] name`` and ``ALTER TYPE name ADD VALUE 'v'``. A name DuckDB
gives a type of its own is refused: a column of that type would never be the named one."""

from __future__ import annotations

from dataclasses import dataclass

from indb.catalog.names import checked_name
from indb.catalog.types import canonical_sql_type
from indb.errors import SchemaError
from indb.parser import error_at, render
from indb.parser.named_types import CreateType as CreateTypeTree
from indb.parser.named_types import AlterType as AlterTypeTree
from indb.parser.named_types import DropType as DropTypeTree
from indb.planner.caches import NothingToDo
from indb.planner.tables import CatalogFacts


@dataclass(frozen=True)
class CreateType:
    name: str
    definition: str  # DuckDB's spelling of the type named
    replace: bool = False


@dataclass(frozen=True)
class DropType:
    name: str
    if_exists: bool = False


def plan_create(tree: CreateTypeTree, catalog: CatalogFacts) -> CreateType:
    try:
        name = checked_name(tree.name, "type")
    except SchemaError as error:
        raise error_at(tree.this, str(error)) from None
    try:
        builtin = canonical_sql_type(name)
    except SchemaError:
        builtin = None
    if builtin is not None:
        raise error_at(tree.this, f"{name} is DuckDB's name of {builtin}: name the type otherwise")
    kind = tree.args["kind"]
    try:
        definition = canonical_sql_type(render(kind))
    except SchemaError as error:
        raise error_at(kind, str(error)) from None
    return CreateType(name, definition, bool(tree.args.get("replace")))


def plan_drop(tree: DropTypeTree, catalog: CatalogFacts) -> DropType:
    return DropType(tree.name.lower(), bool(tree.args.get("exists")))


@dataclass(frozen=True)
class AddValue:
    """``ALTER TYPE name ADD VALUE``: ``value`` into the ENUM's list, before or after another
    (at its end when neither is given)."""

    name: str
    value: str
    if_not_exists: bool = False
    before: str | None = None
    after: str | None = None


def plan_alter(tree: AlterTypeTree, catalog: CatalogFacts) -> AddValue | NothingToDo:
    name = tree.name.lower()
    if tree.args.get("owner") is not None:
        return NothingToDo(f"type {name} is the database's, as every named type: it has no "
                           "owner of its own to change (admins make and drop types)")
    side = {key: tree.args[key].name for key in ("before", "after") if tree.args.get(key)}
    return AddValue(name, tree.args["value"].name, bool(tree.args.get("exists")), **side)
