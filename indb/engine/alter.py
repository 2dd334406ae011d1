"""ALTER TABLE: one change of a table's columns, constraints, name or shard count
(``planner.alter`` plans it); ALTER VIEW's RENAME TO. A change of columns rewrites every data
file in the new layout in one snapshot together with the schema change; a change of constraints
or of the name alone writes no file.
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING

import duckdb
import pyarrow as pa
import sqlalchemy as sa
from pyiceberg.exceptions import ResolveError
from pyiceberg.schema import promote
from pyiceberg.table import Table, Transaction
from pyiceberg.transforms import BucketTransform
from sqlglot import exp

from indb import planner
from indb.catalog import references as catalog_references
from indb.catalog import sequences as catalog_sequences
from indb.catalog import generated, users, views
from indb.catalog.database import SHARD_FIELD, iceberg_layout
from indb.catalog.sequences import default_sequence
from indb.catalog.tables import SPELLING, TableInfo, spelled
from indb.catalog.types import Column, to_storage
from indb.engine import constraints, references, sequences, tables
from indb.errors import CatalogError, DataError, not_found
from indb.parser import error_at, parse, render
from indb.planner.alter import (AddCheck, AddColumn, AddForeignKey, AddPrimaryKey, AddUnique,
                                DropColumn, DropConstraint, RenameColumn, RenameConstraint,
                                SetDefault, SetIdentity, SetNotNull, SetShards, SetType)
from indb.query import live
from indb.query.keys import check_not_null, check_unique
from indb.registry.monitors import MonitorStore
from indb.registry.subscriptions import SubscriptionStore
from indb.result import Result
from indb.storage import files, upkeep

if TYPE_CHECKING:
    from indb.engine.core import Engine


def alter_table(engine: Engine, plan: planner.AlterTable, params: object) -> Result:
    """One change of columns or shard count: the schema (or spec) change, the properties and a
    rewrite of every data file, in ONE snapshot. The files are rewritten so that every file of
    a snapshot has exactly that snapshot's columns: indb's readers (DuckDB's scans, shard reads,
    function instances) and other engines that read Parquet by name see the same table."""
    table, info = engine.db.load(plan.table)
    change = plan.change
    if isinstance(change, SetShards):
        return _reshard(engine, plan, table, info, change)
    if isinstance(change, AddPrimaryKey):
        return _add_primary_key(engine, plan, table, info, change)
    if isinstance(change, SetNotNull):
        return _set_not_null(engine, plan, table, info, change)
    if isinstance(change, SetType):
        return _set_type(engine, plan, table, info, change)
    if isinstance(change, SetDefault | SetIdentity):
        return _set_numbering(engine, plan, table, info, change)
    if isinstance(change, AddCheck):
        return constraints.add_check(engine, plan, table, info, change)
    if isinstance(change, AddUnique):
        return constraints.add_unique(engine, plan, table, info, change)
    if isinstance(change, AddForeignKey):
        return references.add_foreign_key(engine, plan, info, change)
    if isinstance(change, DropConstraint):
        return constraints.drop_constraint(engine, plan, table, info, change)
    if isinstance(change, RenameConstraint):
        return constraints.rename_constraint(engine, plan, table, info, change)
    if isinstance(change, AddColumn) and default_sequence(change.column.default):
        raise error_at(plan.node, "ADD COLUMN with DEFAULT nextval(...) is not supported: add the "
                                  "column, UPDATE it, then ALTER COLUMN ... SET DEFAULT")
    altered = _altered(info, change, plan.node)
    if altered is None:
        return Result(message=f"nothing to change: IF {'NOT ' * isinstance(change, AddColumn)}"
                              "EXISTS")
    new, sources = altered
    if isinstance(change, DropColumn | RenameColumn):
        changed = info.named(change.name if isinstance(change, DropColumn) else change.old)
        assert changed is not None  # _altered refused a column the table does not have
        references.check_column_unreferenced(engine, info, changed.name, "drop" if isinstance(
            change, DropColumn) else "rename", plan.node)
    if isinstance(change, AddColumn) and (change.checks or change.uniques):
        new = constraints.of_new_column(engine, table, new, change, plan.node)

    def evolve(transaction: Transaction) -> None:
        with transaction.update_schema() as update:
            if isinstance(change, AddColumn):
                field = iceberg_layout(new)[0].find_field(change.column.name)
                update.add_column(change.column.name, field.field_type)
                if info.hidden_columns:  # visible columns first, as in the files
                    update.move_before(change.column.name, info.hidden_columns[0].name)
            else:
                old = info.named(change.name if isinstance(change, DropColumn) else change.old)
                assert old is not None  # _altered refused a column the table does not have
                if isinstance(change, DropColumn):
                    update.delete_column(old.name)
                else:
                    update.rename_column(old.name, change.new)
        upkeep.redescribed(transaction, table, info, new)

    # a new column's DEFAULT, evaluated once (as PostgreSQL does for a constant or a stable
    # function: current_timestamp is the ALTER's time in every existing row)
    filler = tables.default_value(engine, change.column) if isinstance(change, AddColumn) else None

    def added(column: Column, count: int) -> pa.ChunkedArray | pa.Array:
        if filler is None:
            return pa.nulls(count, column.storage_type)
        return to_storage(tables.repeated(filler, count, column.arrow_type), column)

    def convert(stored: pa.Table) -> pa.Table:
        arrays = [stored[source] if source is not None else added(c, stored.num_rows)
                  for c, source in zip(new.columns, sources, strict=True)]
        arrays += [stored[h.name] for h in info.hidden_columns]
        return pa.Table.from_arrays(arrays, schema=new.storage_schema)

    rows = upkeep.rewrite(engine.db, table, info, new, evolve, convert)
    if not isinstance(change, AddColumn):  # a sequence OWNED BY the column follows it
        old = info.named(change.name if isinstance(change, DropColumn) else change.old)
        assert old is not None
        sequences.column_changed(engine, info.name, old.name,
                                 change.new if isinstance(change, RenameColumn) else None)
    return Result(pa.table({"rows_rewritten": [rows]}),
                  f"altered table {info.name}; {rows} rows rewritten")


def _altered(info: TableInfo, change: AddColumn | DropColumn | RenameColumn,
             node: exp.Expr | None) -> tuple[TableInfo, list[str | None]] | None:
    """The table after a column change, with each new column's stored source (None: added);
    None when IF [NOT] EXISTS leaves nothing to do. Refuses what cannot be changed."""
    sources: list[str | None] = [c.name for c in info.columns]
    if isinstance(change, AddColumn):
        clash = info.named(change.column.name)
        if clash is not None:
            if change.if_not_exists:
                return None
            raise error_at(node, f"table {info.name} has a column {clash.name} already")
        return dataclasses.replace(info, columns=(*info.columns, change.column)), [*sources, None]
    name = change.name if isinstance(change, DropColumn) else change.old
    if isinstance(change, DropColumn) and change.if_exists and info.named(name) is None:
        return None
    old = _existing_column(info, name, node)
    position = info.columns.index(old)
    columns = list(info.columns)
    if isinstance(change, DropColumn):
        if old.name in info.primary_key:
            raise error_at(node, f"column {old.name} is in the primary key of {info.name}, so it "
                                 "cannot be dropped (CREATE TABLE ... AS SELECT makes a table "
                                 "without it)")
        if old.name in info.shard_key:
            raise error_at(node, f"column {old.name} is the shard key of {info.name}: rows are "
                                 "placed by it, so it cannot be dropped (CREATE TABLE ... AS "
                                 "SELECT makes a table sharded another way)")
        if len(columns) == 1:
            raise error_at(node, f"{old.name} is the only column of {info.name}; DROP TABLE "
                                 f"{info.name} instead")
        _not_generated_from(info, old, "dropped", node)
        del columns[position], sources[position]
        return dataclasses.replace(constraints.column_changed(info, old.name, None),
                                   columns=tuple(columns)), sources
    clash = info.named(change.new)
    if clash is not None and clash is not old:
        raise error_at(node, f"table {info.name} has a column {clash.name} already")
    columns = [generated.renamed(c, old.name, change.new) for c in columns]
    columns[position] = dataclasses.replace(columns[position], name=change.new)
    key = tuple(change.new if k == old.name else k for k in info.shard_key)
    primary = tuple(change.new if k == old.name else k for k in info.primary_key)
    return dataclasses.replace(constraints.column_changed(info, old.name, change.new),
                               columns=tuple(columns), shard_key=key, primary_key=primary), sources


def _not_generated_from(info: TableInfo, column: Column, change: str,
                        node: exp.Expr | None) -> None:
    """SqlError if a generated column is computed from ``column``, which would be ``change``d."""
    using = generated.dependents(info, column.name)
    if using:
        raise error_at(node, f"column {column.name} of {info.name} cannot be {change}: generated "
                             f"column {using[0].name} is computed from it (GENERATED ALWAYS AS "
                             f"({using[0].generated})); drop {using[0].name} first")


def _add_primary_key(engine: Engine, plan: planner.AlterTable, table: Table, info: TableInfo,
                     change: AddPrimaryKey) -> Result:
    """The table with a primary key, checked against its rows (no NULL in its columns, no key
    held twice), its columns NOT NULL as PostgreSQL makes them: the schema, the properties and
    every file rewritten in one snapshot (a writer meanwhile makes it a ConflictError)."""
    if info.primary_key:
        raise error_at(plan.node, f"table {info.name} has a primary key already: PRIMARY KEY "
                                  f"({', '.join(info.primary_key)})")
    keys = []
    for name in change.columns:
        column = _existing_column(info, name, plan.node)
        if column.name in keys:
            raise error_at(plan.node, f"PRIMARY KEY names {column.name} twice")
        keys.append(column.name)
    outside = [k for k in info.shard_key if k not in keys]
    if outside:
        raise error_at(plan.node, f"the PRIMARY KEY of {info.name} must include its SHARD KEY "
                                  f"(rows of one key live on one shard); add {outside[0]} to it")
    new = dataclasses.replace(info, primary_key=tuple(keys), columns=tuple(
        dataclasses.replace(c, nullable=False) if c.name in keys else c for c in info.columns))
    current = files.data_files(table)
    check_not_null(new, current, keys, "in a primary key", engine.db.io_properties)
    check_unique(new, [], current, engine.db.io_properties)
    # the checks above found no NULL: required holds for every row
    rows = _required(engine, table, info, new, dict.fromkeys(keys, True))
    return Result(pa.table({"rows_rewritten": [rows]}),
                  f"altered table {info.name}: PRIMARY KEY ({', '.join(keys)}); {rows} rows "
                  "rewritten")


def _set_not_null(engine: Engine, plan: planner.AlterTable, table: Table, info: TableInfo,
                  change: SetNotNull) -> Result:
    """ALTER COLUMN's SET or DROP NOT NULL: the Iceberg field's ``required``, checked against
    the rows, in one rewrite, as every column change."""
    column = _existing_column(info, change.name, plan.node)
    if not change.not_null and (column.name in info.primary_key or column.identity):
        raise error_at(plan.node, f"column {column.name} is in the primary key (or an "
                                  "identity), so it stays NOT NULL")
    if column.nullable != change.not_null:
        return Result(message=f"nothing to change: column {column.name} is "
                              f"{'NOT NULL' if change.not_null else 'nullable'} already")
    if change.not_null:
        check_not_null(info, files.data_files(table), [column.name], "NOT NULL",
                       engine.db.io_properties)
    new = _with_column(info, dataclasses.replace(column, nullable=not change.not_null))
    rows = _required(engine, table, info, new, {column.name: change.not_null})
    return Result(pa.table({"rows_rewritten": [rows]}),
                  f"altered table {info.name}: column {column.name} "
                  f"{'NOT NULL' if change.not_null else 'nullable'}; {rows} rows rewritten")


def _set_type(engine: Engine, plan: planner.AlterTable, table: Table, info: TableInfo,
              change: SetType) -> Result:
    """ALTER COLUMN's TYPE: a type of the same storage (VARCHAR(200) for VARCHAR(100)) changes
    nothing; one Iceberg widens the column to (INTEGER to BIGINT, REAL to DOUBLE, a DECIMAL's
    precision) is the schema change and every file rewritten with the values cast, in one
    snapshot. Any other (INTEGER to VARCHAR, VARCHAR to DATE, ``USING expr``) is a new Iceberg
    field of the column's name and place, its values DuckDB's cast (or ``expr``) of each row,
    the old field dropped, in the same one snapshot (PostgreSQL's and DuckDB's way: a value that
    does not convert fails the statement, and nothing changes)."""
    column = _existing_column(info, change.name, plan.node)
    _not_generated_from(info, column, "changed in type", plan.node)
    if column.sql_type == change.sql_type and change.using is None:
        return Result(message=f"nothing to change: column {column.name} is {column.sql_type} "
                              "already (a VARCHAR's length is not kept)")
    new = _with_column(info, dataclasses.replace(column, sql_type=change.sql_type))
    before = iceberg_layout(info)[0].find_field(column.name).field_type
    after = iceberg_layout(new)[0].find_field(column.name).field_type
    try:  # (Iceberg hashes a widened value as the narrower one: a shard key's rows stay put)
        if after != before:  # (SMALLINT to INTEGER: both Iceberg ints)
            promote(before, after)
        widened = change.using is None
    except ResolveError:
        widened = False
    if not widened:
        _refuse_retyping(info, column, change, plan.node)

    def evolve(transaction: Transaction) -> None:
        if widened and after != before:
            with transaction.update_schema() as update:
                update.update_column(column.name, field_type=after)
        elif not widened:  # a field of its own: Iceberg keeps a field's type but for widening
            with transaction.update_schema() as update:
                update.delete_column(column.name)
            with transaction.update_schema() as update:
                update.add_column(column.name, after)
                position = info.columns.index(column)
                if position:
                    update.move_after(column.name, info.columns[position - 1].name)
                else:
                    update.move_first(column.name)
        upkeep.redescribed(transaction, table, info, new)

    changed = dataclasses.replace(column, sql_type=change.sql_type)

    def converted(stored: pa.Table) -> pa.Table:
        if not widened:
            values = _retyped(files.to_user(stored, info), column, change)
            return stored.set_column(stored.column_names.index(column.name), column.name,
                                     to_storage(values, changed)).cast(new.storage_schema)
        out = stored.cast(new.storage_schema)
        if changed.enum_values is not None:  # text to an ENUM's text: each value one of its own
            to_storage(out.column(column.name), changed)  # (DataError naming one that is not)
        return out
    rows = upkeep.rewrite(engine.db, table, info, new, evolve, converted)
    return Result(pa.table({"rows_rewritten": [rows]}),
                  f"altered table {info.name}: column {column.name} {change.sql_type}; "
                  f"{rows} rows rewritten")


def _refuse_retyping(info: TableInfo, column: Column, change: SetType,
                     node: exp.Expr | None) -> None:
    """SqlError if the column's values may not become others of another type: it places rows
    (the shard key), or a key, an index or a CHECK holds its values (as DuckDB refuses)."""
    held = [what for what, columns in (
        ("the shard key", info.shard_key), ("the primary key", info.primary_key),
        *((f"UNIQUE {n}", c) for n, c in info.unique_keys),
        *((f"foreign key {k.name}", k.columns) for k in info.foreign_keys)) if column.name in columns]
    held += [f"CHECK {n}" for n, condition in info.checks
             if any(c.name.lower() == column.name.lower()
                    for c in parse(condition)[0].find_all(exp.Column))]
    if held:
        raise error_at(node, f"column {column.name} is in {held[0]} of {info.name}, so its type "
                             f"changes only by widening (INTEGER to BIGINT...), not to "
                             f"{change.sql_type}: drop that first")


def _retyped(rows: pa.Table, column: Column, change: SetType) -> pa.ChunkedArray:
    """The column's new values: ``USING expr`` (or the cast of the old) of each row, by DuckDB."""
    value = parse(change.using)[0] if change.using else exp.column(column.name, quoted=True)
    target = exp.DataType.build(change.sql_type, dialect="duckdb")
    duck = duckdb.connect()  # (of its own: no file, no other table; the rows registered)
    try:
        duck.register("__indb_rows", rows)
        return duck.sql(render(exp.select(exp.cast(value, target)).from_("__indb_rows"))
                        ).to_arrow_table().column(0)
    except duckdb.Error as error:
        raise DataError(f"column {column.name} cannot become {change.sql_type}: "
                        f"{str(error).splitlines()[0]}; nothing changed") from None
    finally:
        duck.close()


def _set_numbering(engine: Engine, plan: planner.AlterTable, table: Table, info: TableInfo,
                   change: SetDefault | SetIdentity) -> Result:
    """ALTER COLUMN's SET or DROP DEFAULT, ADD GENERATED ... AS IDENTITY or DROP IDENTITY: the
    table's properties alone, in a commit of no files (the rows already written keep their
    values, as in PostgreSQL)."""
    column = _existing_column(info, change.name, plan.node)
    if column.generated is not None:
        raise error_at(plan.node, f"column {column.name} of {info.name} is a generated column: "
                                  "it takes no DEFAULT and is no identity")
    if isinstance(change, SetIdentity):
        if change.identity is None and column.identity is None:
            if change.if_exists:
                return Result(message=f"column {column.name} is not an identity: nothing to drop")
            raise error_at(plan.node, f"column {column.name} of {info.name} is not an identity")
        if change.identity is not None and (column.identity is not None or column.default):
            raise error_at(plan.node, f"column {column.name} of {info.name} has a DEFAULT or is "
                                      "an identity already: drop it first")
        if change.identity is not None and column.nullable:
            raise error_at(plan.node, f"column {column.name} of {info.name} must be NOT NULL to "
                                      "be an identity (ALTER COLUMN ... SET NOT NULL first)")
        if change.identity is not None:
            _check_bounds(plan, column, change.identity.increment, change.bounds)
        changed = dataclasses.replace(column, identity=change.identity)
        done = "is an identity" if change.identity else "is no identity"
    else:
        if column.identity is not None:
            raise error_at(plan.node, f"column {column.name} is an identity: its values are "
                                      "numbered, so it takes no DEFAULT")
        changed = dataclasses.replace(column, default=change.default)
        if default_sequence(change.default) is not None:
            sequences.check_defaults(engine, _with_column(info, changed))
        else:
            tables.default_value(engine, changed)  # one that does not fit the type fails here
        done = f"DEFAULT {change.default}" if change.default else "has no DEFAULT"
    upkeep.described(table, info, _with_column(info, changed))
    return Result(message=f"altered table {info.name}: column {column.name} {done}")


_BITS = {"SMALLINT": 16, "INTEGER": 32, "BIGINT": 64}  # the integer types an identity may be


def _check_bounds(plan: planner.AlterTable, column: Column, increment: int,
                  bounds: tuple[int | None, int | None]) -> None:
    """An identity's MINVALUE and MAXVALUE, where given, must be its numbers' bounds here:
    PostgreSQL's defaults for its type (1 and the type's largest going up; the type's smallest
    and -1 going down)."""
    if bounds == (None, None):
        return
    bits = _BITS.get(column.sql_type.upper())
    if bits is None:
        raise error_at(plan.node, f"an identity of type {column.sql_type} takes no MINVALUE or "
                                  "MAXVALUE: its numbers run to its type's bounds")
    low, high = -(1 << (bits - 1)), (1 << (bits - 1)) - 1
    wanted = (1, high) if increment > 0 else (low, -1)
    for given, bound, word in zip(bounds, wanted, ("MINVALUE", "MAXVALUE")):
        if given is not None and given != bound:
            raise error_at(plan.node, f"an identity's numbers run to the bounds of its type: "
                                      f"{word} of {column.name} ({column.sql_type}) is {bound} "
                                      "or left out")


def _with_column(info: TableInfo, changed: Column) -> TableInfo:
    """The table with its column of ``changed``'s name replaced by it."""
    return dataclasses.replace(info, columns=tuple(changed if c.name == changed.name else c
                                                   for c in info.columns))


def _required(engine: Engine, table: Table, info: TableInfo, new: TableInfo,
              required: dict[str, bool]) -> int:
    """The table as ``new`` describes it, its columns ``required`` (NOT NULL) or not as given:
    the schema change, the properties and every file rewritten in the new layout (the rows as
    they are), in one snapshot; the rows rewritten."""
    def evolve(transaction: Transaction) -> None:
        with transaction.update_schema(allow_incompatible_changes=any(required.values())) as update:
            for name, value in required.items():
                update.update_column(name, required=value)
        upkeep.redescribed(transaction, table, info, new)

    return upkeep.rewrite(engine.db, table, info, new, evolve,
                          lambda stored: pa.Table.from_arrays(stored.columns,
                                                              schema=new.storage_schema))


def _existing_column(info: TableInfo, name: str, node: exp.Expr | None) -> Column:
    """The table's column of that name; SqlError at ``node`` listing its columns if none."""
    column = info.named(name)
    if column is None:
        raise error_at(node, f"table {info.name} has no column {name}; its columns are "
                             + ", ".join(c.name for c in info.columns))
    return column


def _reshard(engine: Engine, plan: planner.AlterTable, table: Table, info: TableInfo,
             change: SetShards) -> Result:
    if info.replicated:
        raise error_at(plan.node, f"{info.name} is REPLICATED: every shard sees all of it, so it "
                                  "has no shard count to change")
    if change.shards == info.shards:
        return Result(message=f"table {info.name} has {info.shards} shards already")
    new = dataclasses.replace(info, shards=change.shards)
    source = new.shard_source
    assert source is not None  # a sharded table

    def evolve(transaction: Transaction) -> None:
        # two steps: pyiceberg refuses to drop and re-add a field of one name in one change
        with transaction.update_spec() as update:
            update.remove_field(transaction.table_metadata.spec().fields[0].name)
        with transaction.update_spec() as update:
            update.add_field(source, BucketTransform(change.shards), SHARD_FIELD)
        transaction.set_properties({"indb.shards": str(change.shards)})

    rows = upkeep.rewrite(engine.db, table, info, new, evolve, lambda stored: stored)
    return Result(pa.table({"rows_rewritten": [rows]}),
                  f"table {info.name} now has {change.shards} shards; {rows} rows rewritten")


# -- names ---------------------------------------------------------------------------------------

def rename_relation(engine: Engine, plan: planner.RenameRelation, params: object) -> Result:
    """A table's or a view's new name, in one catalog transaction with its owner, its grants,
    the sequences it owns and the views that read it (their queries read the new name)."""
    db = engine.db
    views.ensure_tables(db.engine)
    known = {view.name for view in views.views(db.engine)}
    table = db.exists(plan.old)
    if not table and plan.old not in known:
        if plan.if_exists:
            return Result(message=f"{plan.old} does not exist: nothing renamed")
        raise not_found("table", plan.old)
    if db.exists(plan.new) or plan.new in known:
        raise CatalogError(f"a table or view named {plan.new} exists already; drop it or choose "
                           "another name")
    if table:
        _not_in_definitions(engine, plan.old)
        references.check_unreferenced(engine, plan.old, "rename", plan.node,
                                      itself=db.load(plan.old)[1])
        if live.is_live(db.path, plan.old):  # its flushes would go to the old name
            raise CatalogError(f"table {plan.old} is real-time (a tickerplant serves it): stop the "
                               "tickerplant before renaming it")
    users.ensure_tables(db.engine)
    catalog_sequences.ensure_tables(db.engine)
    catalog_references.ensure_tables(db.engine)

    def also(conn: sa.Connection) -> None:
        users.renamed(conn, "table", plan.old, plan.new)
        views.rename(conn, plan.old, plan.new)
        catalog_sequences.table_renamed(conn, plan.old, plan.new)
        catalog_references.renamed(conn, plan.old, plan.new)
    if table:
        db.rename_table(plan.old, plan.new, also)
        renamed, info = db.load(plan.new)
        kept = renamed.properties.get(SPELLING)  # the old name's, if it had one
        if kept != plan.spelling:  # the new name's case, or none
            upkeep.described(renamed, dataclasses.replace(info, spelling=kept),
                             dataclasses.replace(info, spelling=spelled(plan.new, plan.spelling)))
    else:
        with db.engine.begin() as conn:
            also(conn)
    return Result(message=f"renamed {'table' if table else 'view'} {plan.old} to {plan.new}")


def _not_in_definitions(engine: Engine, table: str) -> None:
    """CatalogError if a subscription or a monitor names the table: they keep its name, and
    would read another table, or none, after a rename."""
    named = [f"subscription {info.name}" for info in SubscriptionStore(engine.db).all()
             if table in (info.definition.get("table"), *info.definition.get("outputs", ()))]
    named += [f"monitor {info.name}" for info in MonitorStore(engine.db).all()
              if info.definition.get("table") == table]
    if named:
        them = "them" if len(named) > 1 else "it"
        raise CatalogError(f"table {table} is named by {', '.join(named)}; drop {them} before "
                           "renaming the table, then create again with the new name")


def alter_missing(engine: Engine, plan: planner.AlterMissing, params: object) -> Result:
    return Result(message=f"table {plan.table} does not exist: nothing altered (IF EXISTS)")
