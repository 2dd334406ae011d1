"""ALTER TABLE's CHECK and UNIQUE constraints: ``ADD [CONSTRAINT name] CHECK (condition)`` and
``ADD [CONSTRAINT name] UNIQUE (c, ...)`` (the rows there are checked first), ``DROP CONSTRAINT
[IF EXISTS] name`` and ``RENAME CONSTRAINT`` (of a FOREIGN KEY too, which ``engine.references``
adds), and what a column's change does to the constraints and indexes that name it (a rename
renames it in them; a drop drops them, as PostgreSQL's does).

A table's constraints are its properties (``TableInfo.checks``, ``.uniques``); every write checks
the rows it adds (``query.keys.check_constraints``, ``check_uniques``) before its commit.
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING

from pyiceberg.table import Table
from sqlglot import exp, parse_one

from indb import planner
from indb.catalog import references as catalog_references
from indb.catalog.names import split_name
from indb.catalog.tables import TableInfo
from indb.engine import references
from indb.errors import UniqueViolation
from indb.parser import error_at, render
from indb.planner.constraints import check_condition, check_name, numbered, unique_columns
from indb.planner.alter import AddCheck, AddColumn, AddUnique, DropConstraint, RenameConstraint
from indb.query.keys import check_constraints, check_uniques
from indb.result import Result
from indb.storage import files, upkeep

if TYPE_CHECKING:
    from indb.engine.core import Engine


def add_check(engine: Engine, plan: planner.AlterTable, table: Table, info: TableInfo,
              change: AddCheck) -> Result:
    """The rows there are checked, then the check is the table's, in a commit that fails if a
    writer added rows meanwhile (they would not have been checked)."""
    taken = info.key_names
    condition = check_condition(change.condition, info.columns)
    name = change.name or check_name(info.name, change.condition, info.columns, taken)
    if name in taken:
        raise error_at(plan.node, f"table {info.name} has a constraint {name} already")
    check_constraints(info, files.data_files(table), engine.db.io_properties, [(name, condition)])
    upkeep.described(table, info, dataclasses.replace(
        info, checks=(*info.checks, (name, condition))), same_rows=True)
    return Result(message=f"altered table {info.name}: CHECK {name} ({condition})")


def add_unique(engine: Engine, plan: planner.AlterTable, table: Table, info: TableInfo,
               change: AddUnique) -> Result:
    """The rows there are checked for a value held twice, then the constraint is the table's."""
    taken = info.key_names
    columns = unique_columns(list(change.columns), info.columns, plan.node)
    name = change.name or numbered(f"{split_name(info.name)[1]}_{'_'.join(columns)}_key", taken)
    if name in taken:
        raise error_at(plan.node, f"table {info.name} has a constraint {name} already")
    current = files.data_files(table)
    check_uniques(info, [], current, engine.db.io_properties, [(name, columns)])
    upkeep.described(table, info, dataclasses.replace(
        info, uniques=(*info.uniques, (name, columns))), same_rows=True)
    return Result(message=f"altered table {info.name}: UNIQUE {name} ({', '.join(columns)})")


def drop_constraint(engine: Engine, plan: planner.AlterTable, table: Table, info: TableInfo,
                    change: DropConstraint) -> Result:
    checks = tuple(c for c in info.checks if c[0] != change.name)
    uniques = tuple(u for u in info.uniques if u[0] != change.name)
    keys = tuple(k for k in info.foreign_keys if k.name != change.name)
    if len(checks) + len(uniques) + len(keys) == \
            len(info.checks) + len(info.uniques) + len(info.foreign_keys):
        if change.if_exists:
            return Result(message=f"table {info.name} has no constraint {change.name}")
        key = f" (its primary key, {info.name}_pkey, stays)" if info.primary_key else ""
        index = f": {change.name} is an index, which DROP INDEX {change.name} drops" \
            if change.name in (n for n, _, _ in info.indexes) else "; DESCRIBE lists them"
        raise error_at(plan.node, f"table {info.name} has no CHECK, UNIQUE or FOREIGN KEY "
                                  f"constraint {change.name}{key}{index}")
    if len(uniques) < len(info.uniques):  # a foreign key may need it to be unique
        gone = dict(info.uniques)[change.name]
        references.check_unique_unreferenced(engine, info, gone, change.name, plan.node)
    upkeep.described(table, info, dataclasses.replace(info, checks=checks, uniques=uniques,
                                                      foreign_keys=keys))
    if len(keys) < len(info.foreign_keys):
        catalog_references.forget(engine.db.engine, info.name, change.name)
    return Result(message=f"altered table {info.name}: dropped constraint {change.name}")


def rename_constraint(engine: Engine, plan: planner.AlterTable, table: Table, info: TableInfo,
                      change: RenameConstraint) -> Result:
    """A CHECK's or UNIQUE's new name, as PostgreSQL's RENAME CONSTRAINT gives it; what it
    holds, and the rows, are as they were."""
    if change.name not in {n for n, _ in (*info.checks, *info.uniques)} | \
            {k.name for k in info.foreign_keys}:
        if info.primary_key and change.name == f"{split_name(info.name)[1]}_pkey":
            raise error_at(plan.node, f"the primary key of {info.name} is always called "
                                      f"{change.name} in indb; it cannot be renamed")
        raise error_at(plan.node, f"table {info.name} has no CHECK, UNIQUE or FOREIGN KEY "
                                  f"constraint {change.name}; DESCRIBE lists them")
    if change.new in info.key_names:
        raise error_at(plan.node, f"table {info.name} has a constraint {change.new} already")
    checks = tuple((change.new if n == change.name else n, c) for n, c in info.checks)
    uniques = tuple((change.new if n == change.name else n, c) for n, c in info.uniques)
    keys = tuple(dataclasses.replace(k, name=change.new) if k.name == change.name else k
                 for k in info.foreign_keys)
    if keys != info.foreign_keys:  # the index's row first: a key never lacks its row
        catalog_references.record(engine.db.engine, info.name, change.new,
                                  next(k.table for k in keys if k.name == change.new))
    upkeep.described(table, info, dataclasses.replace(info, checks=checks, uniques=uniques,
                                                      foreign_keys=keys), same_rows=True)
    if keys != info.foreign_keys:
        catalog_references.forget(engine.db.engine, info.name, change.name)
    return Result(message=f"altered table {info.name}: constraint {change.name} is now {change.new}")


def of_new_column(engine: Engine, table: Table, new: TableInfo, change: AddColumn,
                  node: exp.Expr | None) -> TableInfo:
    """The table with an added column (``new``) and the column's CHECKs and UNIQUE, checked
    first against the rows there, in which the column will hold its DEFAULT (or NULL); a name
    given to one must be new to the table (``node``: the statement, where an error points)."""
    column = change.column.name
    filler = parse_one(change.column.default, read="duckdb") if change.column.default else exp.null()
    current = files.data_files(table)
    there = dataclasses.replace(new, columns=tuple(c for c in new.columns if c.name != column))
    given = [n for n, _ in change.checks if n] + [n for n in change.uniques if n]
    for wanted in given:
        if wanted in new.key_names or given.count(wanted) > 1:
            raise error_at(node, f"table {new.name} has a constraint {wanted} already")
    checks = list(new.checks)
    for name, condition in change.checks:
        text = check_condition(condition, new.columns)
        name = name or check_name(new.name, condition, new.columns, new.key_names | {n for n, _ in checks})
        as_filled = parse_one(text, read="duckdb").transform(
            lambda n: filler.copy() if isinstance(n, exp.Column) and n.name.lower() == column.lower() else n)
        check_constraints(there, current, engine.db.io_properties, [(name, render(as_filled))])
        checks.append((name, text))
    uniques = list(new.uniques)
    for named in change.uniques:
        name = named or numbered(f"{split_name(new.name)[1]}_{column}_key", new.key_names)
        if change.column.default is not None and sum(f.record_count for f in current) > 1:
            raise UniqueViolation(f"column {column} of {new.name} would hold its DEFAULT in every "
                                  f"row there, so UNIQUE {name} cannot hold; add it without one")
        uniques.append((name, (column,)))
    return dataclasses.replace(new, checks=tuple(checks), uniques=tuple(uniques))


def column_changed(info: TableInfo, old: str, new: str | None) -> TableInfo:
    """The table's constraints and indexes (``info``'s, in it) after its column ``old`` is
    renamed to ``new`` (they say the new name) or dropped (None): as in PostgreSQL, those that
    name a dropped column go with it."""
    def renamed(columns: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(new if c == old and new is not None else c for c in columns)
    return dataclasses.replace(
        info, checks=_checks_changed(info, old, new),
        uniques=tuple((n, renamed(c)) for n, c in info.uniques if new is not None or old not in c),
        indexes=tuple((n, renamed(c), u) for n, c, u in info.indexes
                      if new is not None or old not in c),
        foreign_keys=tuple(dataclasses.replace(k, columns=renamed(k.columns))
                           for k in info.foreign_keys if new is not None or old not in k.columns))


def _checks_changed(info: TableInfo, old: str, new: str | None) -> tuple[tuple[str, str], ...]:
    checks = []
    for name, condition in info.checks:
        tree = parse_one(condition, read="duckdb")
        named = [c for c in tree.find_all(exp.Column) if c.name.lower() == old.lower()]
        if named and new is None:
            continue
        for column in named:
            column.set("this", exp.to_identifier(new))
        checks.append((name, render(tree)))
    return tuple(checks)
