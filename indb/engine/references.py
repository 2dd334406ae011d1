"""Foreign keys in the catalog: a new key's referenced table and columns checked (CREATE TABLE,
ALTER TABLE ... ADD FOREIGN KEY), the catalog's index of them kept (``catalog.references``), and
what a referenced table may not undergo: DROP TABLE (unless CASCADE, which drops the keys that
reference it, as PostgreSQL's does), CREATE OR REPLACE, a rename of it or of a referenced column.
The rows are checked at every write (``query.references``)."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import TYPE_CHECKING

import pyarrow as pa
from sqlglot import exp

from indb import planner
from indb.catalog import references as index
from indb.catalog.tables import ForeignKey, TableInfo
from indb.catalog.types import Column
from indb.engine import temporary
from indb.parser import error_at
from indb.planner.alter import AddForeignKey
from indb.planner.constraints import References, foreign_key
from indb.query.references import check_references
from indb.result import Result
from indb.storage import files, upkeep

if TYPE_CHECKING:
    from indb.engine.core import Engine


def resolved(engine: Engine, info: TableInfo, keys: Sequence[References]) -> TableInfo:
    """``info`` with its foreign keys, each referencing a table there is (or ``info``'s own)
    by its primary key or a UNIQUE constraint's columns (or unique index's), as PostgreSQL
    and DuckDB require; SqlError at the key otherwise."""
    checked = []
    for planned in keys:
        key, node = planned.key, planned.node
        if temporary.is_temporary_name(key.table) != temporary.is_temporary_name(info.name):
            raise error_at(node, f"{info.name} cannot reference {key.table}: a temporary table's "
                                 "keys reference temporary tables, and other tables' keys other "
                                 "tables (as in PostgreSQL)")
        if key.table == info.name:
            parent = info
        elif engine.db.exists(key.table):
            parent = engine.db.load(key.table)[1]
        else:
            raise error_at(node, f"foreign key {key.name} references {key.table}, which is not a "
                                 "table; create it first")
        key = dataclasses.replace(key, referenced=_referenced(parent, key, node))
        _comparable(info, parent, key, node)
        checked.append(key)
    return dataclasses.replace(info, foreign_keys=(*info.foreign_keys, *checked))


def _comparable(info: TableInfo, parent: TableInfo, key: ForeignKey, node: exp.Expr | None) -> None:
    """SqlError unless each of the key's columns is of the type of the one it references, or
    both are numbers (PostgreSQL refuses a key of incompatible types when it is made; DuckDB
    would compare a VARCHAR with an INTEGER by casting, and fail at a write)."""
    for column, referenced in zip(key.columns, key.referenced, strict=True):
        ours, theirs = info.named(column), parent.named(referenced)
        assert ours is not None and theirs is not None  # (spelled as the tables have them)
        if ours.sql_type != theirs.sql_type and not (_numeric(ours) and _numeric(theirs)):
            raise error_at(node, f"foreign key {key.name}: column {ours.name} is {ours.sql_type} "
                                 f"and {parent.name}.{theirs.name} {theirs.sql_type}; a key and "
                                 "what it references are of one type (or both numbers)")


def _numeric(column: Column) -> bool:
    kind = column.arrow_type
    return pa.types.is_integer(kind) or pa.types.is_floating(kind) or pa.types.is_decimal(kind)


def _referenced(parent: TableInfo, key: ForeignKey, node: exp.Expr | None) -> tuple[str, ...]:
    """The referenced columns as ``parent`` spells them: those the key names, or its primary
    key; SqlError unless they are its primary key or a unique set of its columns."""
    if not key.referenced and not parent.primary_key:
        raise error_at(node, f"foreign key {key.name} names no columns of {parent.name}, which "
                             f"has no primary key: name them, REFERENCES {parent.name} (c)")
    named = key.referenced or parent.primary_key
    spelled = []
    for column in named:
        found = parent.named(column)
        if found is None:
            raise error_at(node, f"foreign key {key.name} names {column}, which is not a column "
                                 f"of {parent.name}")
        spelled.append(found.name)
    if len(spelled) != len(key.columns):
        raise error_at(node, f"foreign key {key.name} has {len(key.columns)} columns and the "
                             f"primary key of {parent.name} {len(spelled)}; name as many")
    if set(spelled) not in [set(c) for _, c in parent.candidate_keys]:
        raise error_at(node, f"foreign key {key.name} references {parent.name} "
                             f"({', '.join(spelled)}), which is not its primary key or UNIQUE; "
                             f"add UNIQUE ({', '.join(spelled)}) to {parent.name} first")
    return tuple(spelled)


def recorded(engine: Engine, info: TableInfo) -> None:
    """Each of the new table's keys in the catalog's index, before the table is committed."""
    for key in info.foreign_keys:
        index.record(engine.db.engine, info.name, key.name, key.table)


def add_foreign_key(engine: Engine, plan: planner.AlterTable, info: TableInfo,
                    change: AddForeignKey) -> Result:
    """``ALTER TABLE t ADD [CONSTRAINT name] FOREIGN KEY (c) REFERENCES p (k)``: the rows there
    are checked first, then the key is the table's, in a commit that fails if a writer added
    rows meanwhile (they would not have been checked)."""
    key = foreign_key(change.name, list(change.columns), change.reference, plan.node, info.name,
                      info.columns, info.key_names)
    if change.name in info.key_names:
        raise error_at(plan.node, f"table {info.name} has a constraint {change.name} already")
    new = resolved(engine, info, [References(key, plan.node)])
    table, _ = engine.db.load(info.name)
    current = files.data_files(table)
    check_references(engine.db, new, current, current, new.foreign_keys[-1:])
    index.record(engine.db.engine, info.name, key.name, key.table)
    upkeep.described(table, info, new, same_rows=True)
    added = new.foreign_keys[-1]
    return Result(message=f"altered table {info.name}: FOREIGN KEY {added.name} "
                          f"({', '.join(added.columns)}) REFERENCES {added.table} "
                          f"({', '.join(added.referenced)})")


def referencing_keys(engine: Engine, name: str,
                     itself: TableInfo | None = None) -> list[tuple[str, ForeignKey]]:
    """The keys of other tables that reference table ``name``, and of ``itself`` (the table's
    description) those that reference the table itself: (table, key)."""
    found = [(name, key) for key in itself.foreign_keys if key.table == name] if itself else []
    for child in index.referencing(engine.db.engine, name):
        if child == name or not engine.db.exists(child):
            continue
        found += [(child, key) for key in engine.db.load(child)[1].foreign_keys if key.table == name]
    return found


def check_unreferenced(engine: Engine, name: str, doing: str, node: exp.Expr | None = None,
                       also_going: Sequence[str] = (), itself: TableInfo | None = None) -> None:
    """SqlError if another table's foreign key references table ``name`` (other than those
    ``also_going``), or one of its own does (of ``itself``: its description), which ``doing``
    (dropping it, renaming it) would leave without it."""
    for child, key in referencing_keys(engine, name, itself):
        if child not in also_going:
            raise error_at(node, f"cannot {doing} {name}: foreign key {key.name} of {child} "
                                 f"references it (drop that table, or ALTER TABLE {child} DROP "
                                 f"CONSTRAINT {key.name}, first)")


def check_column_unreferenced(engine: Engine, info: TableInfo, column: str, doing: str,
                              node: exp.Expr | None) -> None:
    """SqlError if a foreign key (another table's, or the table's own) references ``column``
    of the table, which ``doing`` (renaming, dropping it) would take from under it."""
    for child, key in referencing_keys(engine, info.name, info):
        if column in key.referenced:
            raise error_at(node, f"cannot {doing} column {column} of {info.name}: foreign key "
                                 f"{key.name} of {child} references it")


def check_unique_unreferenced(engine: Engine, info: TableInfo, columns: Sequence[str],
                              constraint: str, node: exp.Expr | None) -> None:
    """SqlError if a foreign key references ``columns`` of the table by the UNIQUE
    ``constraint`` being dropped, and no other (its primary key, another UNIQUE) holds them."""
    if set(columns) in [set(c) for n, c in info.candidate_keys if n != constraint]:
        return
    for child, key in referencing_keys(engine, info.name, info):
        if set(key.referenced) == set(columns):
            raise error_at(node, f"cannot drop {constraint} of {info.name}: foreign key "
                                 f"{key.name} of {child} references its columns")


def drop_referencing(engine: Engine, name: str) -> None:
    """DROP TABLE ... CASCADE: the keys of other tables that reference ``name`` are dropped
    (their tables stay, as in PostgreSQL)."""
    for child, key in referencing_keys(engine, name):
        table, info = engine.db.load(child)
        upkeep.described(table, info, dataclasses.replace(
            info, foreign_keys=tuple(k for k in info.foreign_keys if k.name != key.name)))
        index.forget(engine.db.engine, child, key.name)


def with_referencing(engine: Engine, names: Sequence[str]) -> list[str]:
    """``names`` and every table whose foreign keys reference one of them, and so on
    (TRUNCATE ... CASCADE empties them all)."""
    found = list(names)
    for name in found:  # (grows as it goes)
        found += [child for child, _ in referencing_keys(engine, name) if child not in found]
    return found


def children_first(engine: Engine, names: Sequence[str]) -> list[str]:
    """``names`` ordered so that a table whose rows reference another of them comes before it:
    TRUNCATE a, b empties the referencing table first, so neither delete is refused."""
    return _ordered(engine, names, referenced_first=False)


def parents_first(engine: Engine, names: Sequence[str]) -> list[str]:
    """``names`` ordered so that a table referenced by another of them comes before it: EXPORT
    DATABASE's files make and fill it first."""
    return _ordered(engine, names, referenced_first=True)


def _ordered(engine: Engine, names: Sequence[str], referenced_first: bool) -> list[str]:
    """``names`` in their order, except where one table's keys reference another's (a cycle
    stays in the order given)."""
    parents = {name: {k.table for k in engine.db.load(name)[1].foreign_keys} - {name}
               for name in names}
    left, ordered = list(names), []
    while left:
        if referenced_first:
            free = [n for n in left if not parents[n] & set(left)]
        else:
            free = [n for n in left if not any(n in parents[m] for m in left)]
        ordered += free or left[:1]
        left = [n for n in left if n not in (free or left[:1])]
    return ordered
