"""CREATE [UNIQUE] INDEX, DROP INDEX and ALTER INDEX ... RENAME TO (``planner.indexes`` says
which indexes are recorded and why). An index is its table's property (``TableInfo.indexes``),
written in a commit of no files; a unique one is checked against the rows there first, then
holds on every write (``query.keys``), as a UNIQUE constraint does.

An index's name is its schema's, as in PostgreSQL: no two indexes, constraints or tables of a
schema share one, so ``DROP INDEX name`` finds its table.
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING

from pyiceberg.table import Table
from sqlglot import exp

from indb import planner
from indb.catalog import users
from indb.catalog.names import qualified, split_name
from indb.catalog.tables import TableInfo
from indb.engine import privileges
from indb.errors import CatalogError, SqlError
from indb.planner import access as rules
from indb.planner.constraints import numbered
from indb.query.keys import check_uniques
from indb.result import Result
from indb.storage import files, upkeep

if TYPE_CHECKING:
    from indb.engine.core import Engine

# why an index of expressions is not recorded, nor missed
NOT_KEPT = ("indb scans tables (their files' statistics skip what a filter excludes), so an index "
            "of expressions or of some rows would change nothing, and is not recorded")


def no_index(engine: Engine, plan: planner.NoIndex, params: object) -> Result:
    """An index of expressions or of some rows: nothing to record, the columns checked."""
    _, info = engine.db.load(plan.table)
    _checked_columns(info, plan.columns, plan.statement)
    return Result(message=f"{plan.statement} changed nothing: {NOT_KEPT}")


def create_index(engine: Engine, plan: planner.CreateIndex, params: object) -> Result:
    table, info = engine.db.load(plan.table)
    kind = "UNIQUE INDEX" if plan.unique else "INDEX"
    columns = _checked_columns(info, plan.columns, f"CREATE {kind}")
    schema, bare = split_name(info.name)
    taken = schema_names(engine, schema)
    name = plan.name or numbered(f"{bare}_{'_'.join(columns)}_idx", taken)
    if name in taken:
        if plan.if_not_exists:
            return Result(message=f"index {name} exists already (on {taken[name]}): skipped")
        raise CatalogError(f"{name} names {_what(engine, taken[name], name)} already; give the "
                           "index another name (an index's name is its schema's, as in PostgreSQL)")
    if plan.unique:  # the rows there first: the index is a promise about them too
        check_uniques(info, [], files.data_files(table), engine.db.io_properties, [(name, columns)])
    upkeep.described(table, info, dataclasses.replace(
        info, indexes=(*info.indexes, (name, columns, plan.unique))), same_rows=plan.unique)
    return Result(message=f"created {kind.lower()} {name} on {info.name} ({', '.join(columns)})")


def drop_index(engine: Engine, plan: planner.DropIndex, params: object) -> Result:
    """Each named index leaves its table; one not recorded (of expressions) is nothing to drop."""
    done: list[str] = []
    for full in plan.names:
        found = _index_of(engine, full, plan.node)
        if found is not None:
            table, info, name = found
            upkeep.described(table, info, dataclasses.replace(
                info, indexes=tuple(i for i in info.indexes if i[0] != name)))
            done.append(name)
    if not done:
        return Result(message=f"DROP INDEX dropped nothing: no index of that name is recorded; {NOT_KEPT}")
    return Result(message="dropped index " + ", ".join(done))


def rename_index(engine: Engine, plan: planner.RenameIndex, params: object) -> Result:
    """An index's new name (a UNIQUE constraint's index: the constraint's, as in PostgreSQL)."""
    schema, name = split_name(plan.old)
    taken = schema_names(engine, schema)  # (every table of the schema read once)
    owner = taken.get(name)
    new = split_name(plan.new)[1]
    if owner is None:
        if plan.if_exists:
            return Result(message=f"index {plan.old} does not exist: nothing renamed")
        raise CatalogError(f"index {plan.old} does not exist; DESCRIBE a table lists its indexes")
    if new in taken:
        raise CatalogError(f"{new} names {_what(engine, taken[new], new)} already; choose another "
                           "name (an index's name is its schema's, as in PostgreSQL)")
    table, info = engine.db.load(owner)
    _check_owner(engine, owner, plan.node)
    if name in (n for n, _ in info.uniques):
        changed = dataclasses.replace(info, uniques=tuple((new if n == name else n, c)
                                                          for n, c in info.uniques))
    elif name in (n for n, _, _ in info.indexes):
        changed = dataclasses.replace(info, indexes=tuple((new if n == name else n, c, u)
                                                          for n, c, u in info.indexes))
    elif owner == plan.old:
        raise SqlError(f"{name} is a table: ALTER TABLE {name} RENAME TO renames it")
    else:
        raise SqlError(f"cannot rename {name}: it is {_what(engine, owner, name)}, whose name "
                       "follows its table's")
    upkeep.described(table, info, changed)
    return Result(message=f"renamed index {name} to {new}")


def _index_of(engine: Engine, full: str, node: exp.Expr | None
              ) -> tuple[Table, TableInfo, str] | None:
    """The table of index ``full`` (qualified), its description and the index's bare name, its
    owner checked; None if no index has that name; SqlError for a constraint's name."""
    schema, name = split_name(full)
    owner = schema_names(engine, schema).get(name)
    if owner is None:
        return None
    table, info = engine.db.load(owner)
    if name not in (n for n, _, _ in info.indexes):
        raise SqlError(f"{name} is {_what(engine, owner, name)}, not an index of its own; ALTER "
                       f"TABLE {owner} DROP CONSTRAINT {name} does that")
    _check_owner(engine, owner, node)
    return table, info, name


def _check_owner(engine: Engine, table: str, node: exp.Expr | None) -> None:
    """PrivilegeError unless the statement's user owns ``table`` (or is an admin)."""
    if engine.user != users.OWNER:
        need = rules.Need("OWNER", "table", table, node)
        rules.check_needs([need], privileges.access(engine, engine.user, [need]))


def schema_names(engine: Engine, schema: str) -> dict[str, str]:
    """The names a new index may not take in ``schema``: its tables', and their constraints' and
    indexes' (a primary key's is ``<table>_pkey``), each with the table it belongs to."""
    taken: dict[str, str] = {}
    for name in engine.db.metadata_locations():
        if split_name(name)[0] != schema:
            continue
        _, info = engine.db.load(name)
        bare = split_name(name)[1]
        taken[bare] = name
        taken.update(dict.fromkeys(info.key_names, name))
        if info.primary_key:
            taken[f"{bare}_pkey"] = name
    return taken


def _what(engine: Engine, table: str, name: str) -> str:
    """What ``name`` is to its ``table``: the table itself, its index, or its constraint."""
    if qualified(split_name(table)[0], name) == table:
        return f"the table {table}"
    _, info = engine.db.load(table)
    if name in (n for n, _, _ in info.indexes):
        return f"an index of {table}"
    return f"a constraint of {table}"


def _checked_columns(info: TableInfo, named: tuple[str, ...], statement: str) -> tuple[str, ...]:
    """The columns an index names, as the table spells them; SqlError for one it lacks."""
    known = {c.name.lower(): c.name for c in info.columns}
    unknown = [c for c in named if c.lower() not in known]
    if unknown:
        raise SqlError(f"{statement}: table {info.name} has no column {unknown[0]}; its columns "
                       "are " + ", ".join(known.values()))
    return tuple(known[c.lower()] for c in named)
