"""A table's constraints as CREATE TABLE and ALTER TABLE give them: PRIMARY KEY, UNIQUE, CHECK
and FOREIGN KEY, with PostgreSQL's names for those given none. The engine checks the rows
against them (``query.keys``, ``query.references``); a foreign key's referenced table is the
engine's to look at (``engine.references``)."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field

from sqlglot import exp

from indb.catalog.names import split_name
from indb.catalog.tables import ForeignKey
from indb.catalog.types import Column
from indb.parser import error_at, render
from indb.planner.names import find_identifier, table_name


def is_constraint(item: exp.Expr, kind: type[exp.Expr] = exp.CheckColumnConstraint) -> bool:
    """``CHECK (...)`` or ``CONSTRAINT name CHECK (...)`` (or UNIQUE, by ``kind``) among a
    table's items."""
    return isinstance(item, kind) or (isinstance(item, exp.Constraint) and all(
        isinstance(e, kind) for e in item.expressions))


def uniques_of(schema: exp.Schema, table: str,
               columns: tuple[Column, ...]) -> tuple[tuple[str, tuple[str, ...]], ...]:
    """A column list's UNIQUE constraints, as PostgreSQL names those given no name
    (``<table>_<column>[_<column>...]_key``)."""
    found: list[tuple[str | None, exp.Expr, list[str]]] = []
    for item in schema.expressions:
        if isinstance(item, exp.ColumnDef):
            found += [(c.name or None, c, [item.name]) for c in item.constraints
                      if isinstance(c.kind, exp.UniqueColumnConstraint)]
        elif is_constraint(item, exp.UniqueColumnConstraint):
            parts = item.expressions if isinstance(item, exp.Constraint) else [item]
            found += [(item.name if isinstance(item, exp.Constraint) else None, part,
                       [c.name for c in part.this.expressions]) for part in parts]
    base = split_name(table)[1]
    uniques: dict[str, tuple[str, ...]] = {}
    for name, node, named in found:
        spelled = unique_columns(named, columns, node)
        uniques[name or numbered(f"{base}_{'_'.join(spelled)}_key", uniques)] = spelled
    return tuple(uniques.items())


def unique_columns(named: list[str], columns: tuple[Column, ...],
                   node: exp.Expr | None) -> tuple[str, ...]:
    """A UNIQUE constraint's columns as the table spells them; SqlError at ``node`` for one it
    does not have, or none."""
    known = {c.name.lower(): c.name for c in columns}
    missing = [n for n in named if n.lower() not in known]
    if missing or not named:
        raise error_at(node, f"UNIQUE names {missing[0] if missing else 'no column'}, which is "
                             f"not a column of the table; its columns are {', '.join(known.values())}")
    return tuple(known[n.lower()] for n in named)


def checks_of(schema: exp.Schema, table: str, columns: tuple[Column, ...]) -> tuple[tuple[str, str], ...]:
    """A column list's CHECK constraints, those given no name named as PostgreSQL names them
    (``check_name``)."""
    found: list[tuple[str | None, exp.CheckColumnConstraint]] = []
    for item in schema.expressions:
        if isinstance(item, exp.ColumnDef):
            found += [(c.name or None, c.kind) for c in item.constraints
                      if isinstance(c.kind, exp.CheckColumnConstraint)]
        elif isinstance(item, exp.Constraint) and is_constraint(item):
            found += [(item.name, e) for e in item.expressions]
        elif is_constraint(item):
            found.append((None, item))
    checks: dict[str, str] = {}
    for name, check in found:
        condition = check_condition(check.this, columns, table)
        checks[name or check_name(table, check.this, columns, checks)] = condition
    return tuple(checks.items())


def check_name(table: str, condition: exp.Expr, columns: tuple[Column, ...],
               taken: Collection[str]) -> str:
    """PostgreSQL's name of a CHECK given none: ``<table>_<column>_check`` when its condition
    names one column, else ``<table>_check``; numbered (``t_check1``, ``t_check2``...) past the
    names ``taken``."""
    known = {c.name.lower(): c.name for c in columns}
    named = {known.get(c.name.lower(), c.name) for c in condition.find_all(exp.Column)}
    base = split_name(table)[1]
    return numbered(f"{base}_{named.pop()}_check" if len(named) == 1 else f"{base}_check", taken)


def numbered(name: str, taken: Collection[str]) -> str:
    """``name``, or PostgreSQL's next numbered one (``t_check1``, ``t_check2``...) past those
    ``taken``."""
    number, free = 0, name
    while free in taken:
        number += 1
        free = f"{name}{number}"
    return free


def check_condition(condition: exp.Expr, columns: tuple[Column, ...], table: str | None = None) -> str:
    """A CHECK's condition as the catalog keeps it (DuckDB SQL), if it is one of the row alone:
    its table's columns (``t.c`` of its own ``table``, as DuckDB allows, kept as ``c``), no
    subquery, aggregate or window; else SqlError at it."""
    if condition.find(exp.Subquery, exp.Select, exp.AggFunc, exp.Window):
        raise error_at(condition, "a CHECK is a condition on the row alone: no subquery, "
                                  "aggregate or window")
    known = {c.name.lower(): c.name for c in columns}
    own = split_name(table)[1] if table else None
    for column in list(condition.find_all(exp.Column)):
        if column.table and own is not None and column.table.lower() == own and not column.args.get("db"):
            column.set("table", None)
        if column.table or column.name.lower() not in known:
            raise error_at(column, f"CHECK names {render(column)}, which is not a column of the "
                                   f"table; its columns are {', '.join(known.values())}")
    return render(condition)


def named_key(item: exp.Expr) -> exp.Expr:
    """``CONSTRAINT name PRIMARY KEY (...)`` (SQLAlchemy's and Alembic's way) as its key; any
    other item as it is."""
    if isinstance(item, exp.Constraint) and len(item.expressions) == 1 \
            and isinstance(item.expressions[0], exp.PrimaryKey):
        return item.expressions[0]
    return item


def column_names(names: tuple[str, ...], columns: tuple[Column, ...], schema: exp.Expr,
                  what: str, table: str) -> tuple[str, ...]:
    """``names`` as the columns spell them; SqlError naming one that is not a column."""
    spelled = {c.name.lower(): c.name for c in columns}
    for key in names:
        if key.lower() not in spelled:
            raise error_at(find_identifier(schema, key) or schema,
                           f"{what} names {key}, which is not a column of {table}")
    if len({k.lower() for k in names}) != len(names):
        raise error_at(schema, f"{what} names a column twice")
    return tuple(spelled[k.lower()] for k in names)


@dataclass(frozen=True)
class References:
    """A foreign key a statement gives, and where it is (for the engine's errors); its
    ``referenced`` columns are () where the statement names none: the referenced table's
    primary key, which the engine looks up."""

    key: ForeignKey
    node: exp.Expr | None = field(default=None, compare=False, repr=False)


# a key's words of when it is checked (catalog.tables.ForeignKey.timing), and what each says;
# INITIALLY DEFERRED makes it deferrable, as in PostgreSQL
TIMINGS = {"DEFERRABLE": ("deferrable", True), "INITIALLY DEFERRED": ("initially deferred", True),
           "INITIALLY IMMEDIATE": ("initially deferred", False)}
# what a row's change or removal does to the rows that reference it: indb refuses the change
# (as DuckDB does, and PostgreSQL's default); it changes no other table's rows
CHECKED_ACTIONS = ("NO ACTION", "RESTRICT")


def is_foreign_key(item: exp.Expr) -> bool:
    """``FOREIGN KEY (...) REFERENCES ...`` or ``CONSTRAINT name FOREIGN KEY ...`` among a
    table's items (ALTER TABLE ... ADD's too)."""
    return is_constraint(item, exp.ForeignKey)


def foreign_keys_of(schema: exp.Schema, table: str, columns: tuple[Column, ...],
                    taken: Collection[str] = ()) -> tuple[References, ...]:
    """A column list's foreign keys (a column's ``REFERENCES t [(c)]``, the table's ``[CONSTRAINT
    name] FOREIGN KEY (a, b) REFERENCES t [(c, d)]``), named as PostgreSQL names those given no
    name (``<table>_<column>[_<column>...]_fkey``), past the names ``taken``."""
    found: list[tuple[str | None, list[str], exp.Reference, exp.Expr]] = []
    for item in schema.expressions:
        if isinstance(item, exp.ColumnDef):
            found += [(c.name or None, [item.name], c.kind, c) for c in item.constraints
                      if isinstance(c.kind, exp.Reference)]
        elif is_foreign_key(item):
            parts = item.expressions if isinstance(item, exp.Constraint) else [item]
            found += [(item.name if isinstance(item, exp.Constraint) else None,
                       [c.name for c in part.expressions], part.args["reference"], part)
                      for part in parts]
    names = set(taken)
    keys = []
    for name, named, reference, node in found:
        key = foreign_key(name, named, reference, node, table, columns, names)
        names.add(key.name)
        keys.append(References(key, node))
    return tuple(keys)


def foreign_key(name: str | None, named: list[str], reference: exp.Reference, node: exp.Expr | None,
                table: str, columns: tuple[Column, ...], taken: Collection[str]) -> ForeignKey:
    """One foreign key of ``table`` (of ``columns``): its columns as the table spells them, the
    table it references and the columns it names there; SqlError for an action indb does not
    take (``ON DELETE CASCADE``...) or ``MATCH FULL``."""
    said: dict[str, bool] = {}  # DEFERRABLE, INITIALLY DEFERRED (or IMMEDIATE)
    for option in reference.args.get("options") or []:
        words = " ".join(str(option.this if isinstance(option, exp.Expr) else option).upper().split())
        if words in TIMINGS:
            said[TIMINGS[words][0]] = TIMINGS[words][1]
            continue
        action = words.removeprefix("ON DELETE ").removeprefix("ON UPDATE ")
        if action != words and action not in CHECKED_ACTIONS:
            raise error_at(node, f"{words}: indb refuses a change to a referenced row (as DuckDB "
                                 "does, and PostgreSQL's NO ACTION); it changes no rows of the "
                                 "referencing table. Leave the action out, or give NO ACTION or "
                                 "RESTRICT")
        if words.startswith("MATCH") and words != "MATCH SIMPLE":
            raise error_at(node, f"{words} is not supported: a row with a NULL among its key's "
                                 "columns is not checked (MATCH SIMPLE)")
    target = reference.this
    parent = table_name(target.this if isinstance(target, exp.Schema) else target)
    referenced = tuple(c.name for c in target.expressions) if isinstance(target, exp.Schema) else ()
    spelled = column_names(tuple(named), columns, node or reference, "FOREIGN KEY", table)
    if referenced and len(referenced) != len(spelled):
        raise error_at(node, f"FOREIGN KEY ({', '.join(spelled)}) names {len(spelled)} columns "
                             f"and REFERENCES {parent} ({', '.join(referenced)}) {len(referenced)}; "
                             "give as many on each side")
    timing = "DEFERRED" if said.get("initially deferred") else "IMMEDIATE" if said.get("deferrable") else ""
    base = split_name(table)[1]
    return ForeignKey(name or numbered(f"{base}_{'_'.join(spelled)}_fkey", taken), spelled, parent,
                      referenced, timing)


def foreign_key_tree(key: ForeignKey, timing: bool = False) -> exp.Constraint:
    """``CONSTRAINT name FOREIGN KEY (c) REFERENCES t (k)``, as SHOW CREATE TABLE and EXPORT
    write a key; with ``timing``, its ``DEFERRABLE [INITIALLY DEFERRED]`` (which DuckDB does not
    read: not in what EXPORT writes for it, nor in the pg port's shadow tables)."""
    table = exp.to_table(key.table)
    words = {"IMMEDIATE": ["DEFERRABLE"], "DEFERRED": ["DEFERRABLE", "INITIALLY DEFERRED"]}.get(key.timing)
    return exp.Constraint(this=exp.to_identifier(key.name), expressions=[exp.ForeignKey(
        expressions=[exp.to_identifier(c) for c in key.columns],
        reference=exp.Reference(this=exp.Schema(this=table, expressions=[
            exp.to_identifier(c) for c in key.referenced]), options=words if timing else None))])
