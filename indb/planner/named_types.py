"""Plans for named types: ``CREATE [OR REPLACE] TYPE name AS ENUM ('a', 'b')`` (``AS ENUM
(SELECT ...)``: the distinct values the query returns, or ``AS`` any type), ``DROP TYPE [IF
EXISTS] name``, ``ALTER TYPE name ADD VALUE 'v'`` and ``ALTER TYPE name RENAME TO new``. A name
DuckDB gives a type of its own is refused: a column of that type would never be the named one."""

from __future__ import annotations

from dataclasses import dataclass

from sqlglot import exp

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
    definition: str  # DuckDB's spelling of the type named ('' where the query makes it)
    replace: bool = False
    query: str | None = None  # AS ENUM (SELECT ...): the ENUM of the values it returns


@dataclass(frozen=True)
class DropType:
    name: str
    if_exists: bool = False


def plan_create(tree: CreateTypeTree, catalog: CatalogFacts) -> CreateType:
    name = _new_name(tree.this)
    query = tree.args.get("query")
    if query is not None:
        if len(query.selects) != 1 or isinstance(query.selects[0], exp.Star):
            raise error_at(query, "CREATE TYPE name AS ENUM (SELECT ...) takes a query of one "
                                  "column: its values are the ENUM's")
        return CreateType(name, "", bool(tree.args.get("replace")), render(query))
    kind = tree.args["kind"]
    try:
        definition = canonical_sql_type(render(kind))
    except SchemaError as error:
        raise error_at(kind, str(error)) from None
    return CreateType(name, definition, bool(tree.args.get("replace")))


def _new_name(node: exp.Identifier) -> str:
    """A name a type is given, checked: not one of DuckDB's types (a column of that type would
    never be the named one)."""
    try:
        name = checked_name(node.name, "type")
    except SchemaError as error:
        raise error_at(node, str(error)) from None
    try:
        builtin = canonical_sql_type(name)
    except SchemaError:
        builtin = None
    if builtin is not None:
        raise error_at(node, f"{name} is DuckDB's name of {builtin}: name the type otherwise")
    return name


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


@dataclass(frozen=True)
class RenameType:
    name: str
    new: str


def plan_alter(tree: AlterTypeTree, catalog: CatalogFacts) -> AddValue | RenameType | NothingToDo:
    name = tree.name.lower()
    renamed = tree.args.get("renamed")
    if renamed is not None:
        return RenameType(name, _new_name(renamed))
    if tree.args.get("owner") is not None:
        return NothingToDo(f"type {name} is the database's, as every named type: it has no "
                           "owner of its own to change (admins make and drop types)")
    side = {key: tree.args[key].name for key in ("before", "after") if tree.args.get(key)}
    return AddValue(name, tree.args["value"].name, bool(tree.args.get("exists")), **side)
