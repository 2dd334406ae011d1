"""Plans for ALTER TABLE: one change of a table's columns, constraints, name or shard count.

As everywhere in the planner, nothing here reads data: rules that need the table's columns (is
the dropped column the shard key?) are the engine's (``engine.alter.alter_table``), which
raises its errors at the action the plan keeps.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlglot import exp

from indb.catalog.names import checked_column_name, checked_table_name, qualified, split_name
from indb.catalog.types import Column, Identity, canonical_sql_type, storage_type_of
from indb.errors import SchemaError
from indb.parser import error_at, render
from indb.parser import dialect
from indb.parser.sequences import AlterIdentity
from indb.planner import indexes, sequences, tables
from indb.planner.tables import MAX_SHARDS, CatalogFacts, existing_table, table_name
from indb.planner.names import spelling


@dataclass(frozen=True)
class AddColumn:
    """``ADD COLUMN``; ``checks`` and ``uniques``: the new column's CHECK conditions and UNIQUE,
    with their names (None: PostgreSQL's), which hold from the change on (Django adds a
    ``PositiveIntegerField`` so)."""

    column: Column
    if_not_exists: bool = False
    checks: tuple[tuple[str | None, exp.Expr], ...] = ()
    uniques: tuple[str | None, ...] = ()


@dataclass(frozen=True)
class DropColumn:
    name: str
    if_exists: bool = False


@dataclass(frozen=True)
class RenameColumn:
    old: str
    new: str


@dataclass(frozen=True)
class SetShards:
    shards: int


@dataclass(frozen=True)
class SetNotNull:
    """``ALTER COLUMN c SET NOT NULL`` (``not_null``) or ``DROP NOT NULL``."""

    name: str
    not_null: bool


@dataclass(frozen=True)
class SetDefault:
    """``ALTER COLUMN c SET DEFAULT expr`` (DuckDB SQL of a constant expression) or ``DROP
    DEFAULT`` (None)."""

    name: str
    default: str | None


@dataclass(frozen=True)
class SetType:
    """``ALTER COLUMN c [SET DATA] TYPE t [USING expr]``: ``sql_type`` canonical (VARCHAR(200) is
    VARCHAR); ``using``: the expression of the row's columns the new values are (DuckDB SQL;
    None: ``CAST(c AS t)``)."""

    name: str
    sql_type: str
    using: str | None = None


@dataclass(frozen=True)
class SetIdentity:
    """``ALTER COLUMN c ADD GENERATED ... AS IDENTITY`` (``identity``) or ``DROP IDENTITY [IF
    EXISTS]`` (None)."""

    name: str
    identity: Identity | None
    if_exists: bool = False
    bounds: tuple[int | None, int | None] = (None, None)  # its MINVALUE and MAXVALUE, as given


@dataclass(frozen=True)
class AddCheck:
    """``ADD [CONSTRAINT name] CHECK (condition)``: ``name`` None gets PostgreSQL's."""

    name: str | None
    condition: exp.Expr


@dataclass(frozen=True)
class AddUnique:
    """``ADD [CONSTRAINT name] UNIQUE (c, ...)``: ``name`` None gets PostgreSQL's."""

    name: str | None
    columns: tuple[str, ...]


@dataclass(frozen=True)
class AddForeignKey:
    """``ADD [CONSTRAINT name] FOREIGN KEY (c, ...) REFERENCES t [(k, ...)]``: ``name`` None gets
    PostgreSQL's; the engine checks the reference (``engine.references``)."""

    name: str | None
    columns: tuple[str, ...]
    reference: exp.Reference = field(compare=False, repr=False)


@dataclass(frozen=True)
class DropConstraint:
    """``DROP CONSTRAINT [IF EXISTS] name``: a CHECK, a UNIQUE or a FOREIGN KEY."""

    name: str
    if_exists: bool = False


@dataclass(frozen=True)
class RenameConstraint:
    """``RENAME CONSTRAINT name TO new``: a CHECK, a UNIQUE or a FOREIGN KEY."""

    name: str
    new: str


@dataclass(frozen=True)
class AddPrimaryKey:
    """``ADD [CONSTRAINT name] PRIMARY KEY (c, ...)``: the name is PostgreSQL's to keep; indb's
    catalog calls a table's primary key ``<table>_pkey``, as PostgreSQL names one unnamed."""

    columns: tuple[str, ...]


# one change ALTER TABLE makes
Change = AddColumn | DropColumn | RenameColumn | SetShards | AddPrimaryKey | SetNotNull \
    | SetDefault | SetIdentity | AddCheck | AddUnique | AddForeignKey | DropConstraint \
    | RenameConstraint | SetType


@dataclass(frozen=True)
class AlterTable:
    """One change of a table's columns or shard count: a rewrite of its files, in one snapshot
    together with the schema change."""

    table: str
    change: Change
    # the action, for the engine's errors
    node: exp.Expr | None = field(default=None, compare=False, repr=False)


@dataclass(frozen=True)
class RenameRelation:
    """``ALTER TABLE|VIEW [IF EXISTS] r RENAME TO s``: ``new`` in ``old``'s schema (RENAME TO names
    no other, as in PostgreSQL). ALTER TABLE renames a view too, as PostgreSQL's does; whether
    ``old`` is a table or a view is the engine's to find."""

    old: str
    new: str
    if_exists: bool = False
    node: exp.Expr | None = field(default=None, compare=False, repr=False)
    spelling: str | None = None  # the new name as its quotes spelled it (``names.spelling``)


@dataclass(frozen=True)
class AlterMissing:
    """``ALTER TABLE IF EXISTS t ...`` of a table that does not exist: nothing to do."""

    table: str


def plan_alter(tree: exp.Alter, catalog: CatalogFacts
               ) -> AlterTable | RenameRelation | AlterMissing | indexes.RenameIndex:
    kind = str(tree.args.get("kind") or "").upper()
    if kind == "INDEX":
        return indexes.plan_rename_index(tree)
    actions = tree.args.get("actions") or []
    if kind in ("TABLE", "VIEW") and len(actions) == 1 and isinstance(actions[0], exp.AlterRename):
        return _renamed(table_name(tree.this), actions[0], bool(tree.args.get("exists")))
    if kind != "TABLE":
        raise error_at(tree, f"ALTER {tree.args.get('kind')} is not supported; ALTER TABLE is, "
                             "ALTER VIEW and ALTER INDEX ... RENAME TO, and CREATE OR REPLACE "
                             "VIEW changes a view")
    name = table_name(tree.this)
    if tree.args.get("exists") and not catalog.exists(name):
        return AlterMissing(name)
    existing_table(name, catalog)
    if len(actions) != 1:
        raise error_at(tree, "ALTER TABLE makes one change at a time")
    return AlterTable(name, _alteration(actions[0]), actions[0])


def _renamed(old: str, action: exp.AlterRename, if_exists: bool) -> RenameRelation:
    target = action.this
    schema = split_name(old)[0]
    if not isinstance(target, exp.Table) or not target.name:
        raise error_at(action, "RENAME TO names the new name")
    if target.db and table_name(target) != qualified(schema, target.name.lower()):
        raise error_at(target, f"RENAME TO keeps {old} in schema {schema}: name it without another "
                               "schema")
    new = qualified(schema, target.name.lower())
    try:
        checked_table_name(new)
    except SchemaError as error:
        raise error_at(target, str(error)) from None
    return RenameRelation(old, new, if_exists, action, spelling(target))


def _alteration(action: exp.Expr) -> Change:
    if isinstance(action, exp.ColumnDef):
        return _add_column(action)
    if isinstance(action, exp.AddConstraint) and isinstance(action.find(exp.CheckColumnConstraint),
                                                             exp.CheckColumnConstraint):
        named = action.find(exp.Constraint)
        return AddCheck(named.name if named is not None and named.name else None,
                        action.find(exp.CheckColumnConstraint).this)  # type: ignore[union-attr]
    unique = action.find(exp.UniqueColumnConstraint) if isinstance(action, exp.AddConstraint) else None
    if isinstance(unique, exp.UniqueColumnConstraint) and isinstance(unique.this, exp.Schema):
        named = action.find(exp.Constraint)
        return AddUnique(named.name if named is not None and named.name else None,
                         tuple(c.name for c in unique.this.expressions))
    foreign = action.find(exp.ForeignKey) if isinstance(action, exp.AddConstraint) else None
    if isinstance(foreign, exp.ForeignKey) and len(action.expressions) == 1:
        named = action.find(exp.Constraint)
        return AddForeignKey(named.name if named is not None and named.name else None,
                             tuple(c.name for c in foreign.expressions), foreign.args["reference"])
    if isinstance(action, exp.Drop) and str(action.args.get("kind") or "").upper() == "CONSTRAINT":
        (named, *more) = action.args.get("tables") or [action.this]
        if more or named is None:
            raise error_at(action, "ALTER TABLE drops one constraint at a time, by its name")
        return DropConstraint(named.name, bool(action.args.get("exists")))
    if isinstance(action, dialect.RenameConstraint):
        return RenameConstraint(action.this.name, action.args["to"].name)
    if isinstance(action, exp.AddConstraint):
        key = action.find(exp.PrimaryKey)
        if key is None or len(action.expressions) != 1:
            raise error_at(action, f"ALTER TABLE {render(action)} is not supported; the "
                                   "constraints a table takes are ADD PRIMARY KEY (c, ...), "
                                   "ADD [CONSTRAINT name] CHECK (...), UNIQUE (c, ...) and "
                                   "FOREIGN KEY (c, ...) REFERENCES t (k, ...)")
        return AddPrimaryKey(tuple(column.name for column in key.expressions))
    if isinstance(action, exp.Drop) and str(action.args.get("kind") or "").upper() == "COLUMN":
        (column, *more) = action.args.get("tables") or [action.this]
        if more:
            raise error_at(more[0], "ALTER TABLE drops one column at a time")
        if column is None:
            raise error_at(action, "ALTER TABLE ... DROP COLUMN names the column to drop")
        return DropColumn(column.name, bool(action.args.get("exists")))
    if isinstance(action, exp.RenameColumn):
        new = action.args["to"].name
        try:
            checked_column_name(new)
        except SchemaError as error:
            raise error_at(action.args["to"], str(error)) from None
        return RenameColumn(action.this.name, new)
    if isinstance(action, exp.AlterSet):
        return SetShards(_shards(action))
    if isinstance(action, exp.AlterColumn):
        return _column_change(action)
    if isinstance(action, AlterIdentity):
        identity = action.args.get("identity")
        if identity is None:
            return SetIdentity(action.this.name, None, bool(action.args.get("exists")))
        numbering, bounds = sequences.identity_of(action.this.name, action.args.get("properties"),
                                                  bool(identity.this))
        return SetIdentity(action.this.name, numbering, bool(action.args.get("exists")), bounds)
    raise error_at(action, f"ALTER TABLE {render(action)} is not supported; indb adds, drops and "
                           "renames columns, adds a primary key, and sets (SHARDS = n)")


def _column_change(action: exp.AlterColumn) -> SetNotNull | SetDefault | SetType:
    """``ALTER COLUMN c SET NOT NULL``, ``DROP NOT NULL``, ``SET DEFAULT expr``, ``DROP
    DEFAULT``, ``TYPE t``."""
    name = action.this.name
    if action.args.get("allow_null") is not None:
        return SetNotNull(name, not action.args["allow_null"])
    default = action.args.get("default")
    if default is not None:
        if default.find(exp.Column):
            raise error_at(action, "a DEFAULT is a constant or a function of no column "
                                   "(current_timestamp)")
        return SetDefault(name, tables.checked_default(default))
    if action.args.get("drop"):
        return SetDefault(name, None)
    kind = action.args.get("dtype")
    if kind is None:
        raise error_at(action, f"ALTER COLUMN {render(action)} is not supported")
    try:
        sql_type = canonical_sql_type(kind.sql(dialect="duckdb"))
        storage_type_of(sql_type)
    except SchemaError as error:
        raise error_at(kind, str(error)) from None
    using = action.args.get("using")
    if not isinstance(using, exp.Expr) or (isinstance(using, exp.Cast) and isinstance(using.this, exp.Column)
                         and using.this.name.lower() == name.lower()
                         and canonical_sql_type(using.to.sql(dialect="duckdb")) == sql_type):
        return SetType(name, sql_type)  # (USING c::t is the cast itself)
    if using.find(exp.Subquery, exp.Select, exp.AggFunc, exp.Window, exp.Placeholder):
        raise error_at(using, "USING is an expression of the row's columns: no subquery, "
                              "aggregate, window or parameter")
    return SetType(name, sql_type, render(using))


def _add_column(definition: exp.ColumnDef) -> AddColumn:
    name = definition.name
    try:
        checked_column_name(name)
    except SchemaError as error:
        raise error_at(definition, str(error)) from None
    if any(isinstance(c.kind, exp.ComputedColumnConstraint) for c in definition.constraints):
        raise error_at(definition, f"a generated column is made with its table (CREATE TABLE), "
                                   f"as in DuckDB: add {name} as a plain column and UPDATE it, "
                                   "or make the table again")
    if definition.args.get("kind") is None:
        raise error_at(definition, f"column {name} needs a type")
    default, not_null = None, False
    checks: list[tuple[str | None, exp.Expr]] = []
    uniques: list[str | None] = []
    for constraint in definition.constraints:
        kind = constraint.kind
        named = constraint.name or None
        if isinstance(kind, exp.DefaultColumnConstraint) and not kind.this.find(exp.Column):
            default = render(kind.this)
        elif isinstance(kind, exp.NotNullColumnConstraint):
            not_null = not_null or not kind.args.get("allow_null")
        elif isinstance(kind, exp.CheckColumnConstraint):
            checks.append((named, kind.this))
        elif isinstance(kind, exp.UniqueColumnConstraint) and kind.this is None:
            uniques.append(named)
        else:
            raise error_at(constraint, f"{render(constraint)} is not supported on a new column; "
                                       f"add the column, then UPDATE t SET {name} = ...")
    if not_null and default is None:
        raise error_at(definition, f"a new column is NULL in every existing row, so it cannot be "
                                   f"NOT NULL without a DEFAULT; add {name} without it, or with one")
    try:
        sql_type = canonical_sql_type(definition.args["kind"].sql(dialect="duckdb"))
        storage_type_of(sql_type)  # refuses types Iceberg cannot hold
    except SchemaError as error:
        raise error_at(definition, str(error)) from None
    return AddColumn(Column(name, sql_type, not not_null, default),
                     bool(definition.args.get("exists")), tuple(checks), tuple(uniques))


def _shards(action: exp.AlterSet) -> int:
    items = action.expressions
    if len(items) == 1 and isinstance(items[0], exp.Properties):
        items = items[0].expressions
    pairs = [(item.this.name, item.args.get("value") or item.expression) for item in items
             if isinstance(item, exp.EQ | exp.Property)]
    if len(pairs) != 1 or len(items) != 1 or pairs[0][0].upper() != "SHARDS":
        raise error_at(action, "ALTER TABLE ... SET takes the shard count: SET (SHARDS = n)")
    value = pairs[0][1]
    if not (isinstance(value, exp.Literal) and value.is_int and 1 <= int(value.name) <= MAX_SHARDS):
        raise error_at(value or action, f"SHARDS must be a whole number from 1 to {MAX_SHARDS}")
    return int(value.name)
