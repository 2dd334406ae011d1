"""Handlers of table statements: CREATE/DROP TABLE, INSERT, DELETE, SHOW TABLES, DESCRIBE, and
bulk loads. Every write goes through ``write_rows``: data files written, then committed in one
Iceberg snapshot, or deleted."""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager, nullcontext
from pathlib import Path
from typing import TYPE_CHECKING

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from pyiceberg.io import load_file_io
from pyiceberg.manifest import DataFile
from sqlglot import exp

from indb import planner
from indb.catalog import generated
from indb.catalog import references as catalog_references
from indb.catalog.database import provisional_metadata
from indb.catalog.names import DATABASE, split_name
from indb.catalog.sequences import default_sequence
from indb.catalog.tables import ROWID, TableInfo
from indb.catalog.types import (Column, canonical_sql_type, inferred_sql_type, storage_type_of,
                                truncated_nanoseconds)
from indb.engine import privileges, references, sequences
from indb.errors import DataError, IndbError, OptionError, SqlError
from indb.parser import error_at, parse, render
from indb.planner.tables import is_default
from indb.query.keys import check_constraints, check_unique, check_uniques, rechecked
from indb.query.references import check_referenced, check_references
from indb.result import Result
from indb.storage import files
from indb.storage import upkeep as storage_upkeep
from indb.storage.placement import rowids_in_runs

if TYPE_CHECKING:
    from indb.engine.core import Engine

LOAD_CHUNK_ROWS = 4_000_000  # rows written per round of shard files while streaming a load


def create_table(engine: Engine, plan: planner.CreateTable, params: object) -> Result:
    if plan.if_not_exists and engine.db.exists(plan.name):
        return Result(message=f"table {plan.name} already exists")
    done = "replaced" if plan.replace and engine.db.exists(plan.name) else "created"
    sequences.check_free(engine, plan.name)
    if plan.replace and engine.db.exists(plan.name):  # its rows go: a key must not lose them
        references.check_unreferenced(engine, plan.name, "replace", itself=None)
    if plan.query is None:
        _check_collations(engine, plan.columns)
        info = _table_info(plan, _generated_typed(engine, plan.name, plan.columns))
        info = references.resolved(engine, info, plan.foreign_keys)
        sequences.check_defaults(engine, info)
        references.recorded(engine, info)
        engine.db.create_table(info, replace=plan.replace)
        return Result(message=f"{done} table {plan.name}")
    rows, sql_types = engine.session.typed_query(plan.query, params)
    columns = tuple(Column(name, sql_type)
                    for name, sql_type in zip(rows.column_names, sql_types, strict=True))
    # the table appears with its rows in one commit: killed midway, it never appears at all
    # (and a table it replaces stays as it was)
    count = write_rows(engine, plan.name, [rows], create=_table_info(plan, columns),
                       replace=plan.replace)
    return Result(pa.table({"rows_inserted": [count]}), f"{done} table {plan.name}", count)


def _generated_typed(engine: Engine, name: str, columns: tuple[Column, ...]) -> tuple[Column, ...]:
    """The columns of a new table, its generated columns checked by DuckDB (the columns their
    expressions name, no aggregate, no loop) and each given its expression's type where the
    statement gave none (DuckDB's ``b AS (a * 2)``)."""
    if not any(c.generated is not None for c in columns):
        return columns
    probe = exp.to_table(f"__indb_generated_{uuid.uuid4().hex}")
    try:
        engine.session.query(render(_stage_definition(probe, columns)))
    except SqlError as error:
        raise SqlError(error.message.splitlines()[0].replace(probe.name, name)) from None
    try:
        described = engine.session.query(render(exp.Describe(this=probe))).to_pydict()
    finally:
        engine.session.query(render(exp.Drop(tables=[probe], kind="TABLE", exists=True)))
    types = dict(zip(described["column_name"], described["column_type"], strict=True))
    typed = tuple(dataclasses.replace(c, sql_type=c.sql_type or canonical_sql_type(types[c.name]))
                  for c in columns)
    for column in typed:
        storage_type_of(column.sql_type)  # an expression's type Iceberg cannot hold: refused
    return typed


def _check_collations(engine: Engine, columns: tuple[Column, ...]) -> None:
    """SqlError for a COLLATE of a column that is no VARCHAR, or one DuckDB does not have."""
    for column in columns:
        if column.collation is None:
            continue
        if column.sql_type != "VARCHAR":
            raise SqlError(f"column {column.name} is {column.sql_type}: COLLATE is for VARCHAR "
                           "columns")
        try:
            engine.session.query(render(exp.select(exp.Collate(
                this=exp.cast(exp.null(), "VARCHAR"), expression=exp.var(column.collation)))))
        except SqlError:
            raise SqlError(f"column {column.name}: DuckDB has no collation {column.collation} "
                           "(nocase, noaccent, nfc, and their combinations: nocase.noaccent)"
                           ) from None


def _table_info(plan: planner.CreateTable, columns: tuple[Column, ...]) -> TableInfo:
    info = TableInfo.checked(plan.name, columns, plan.shard_key, plan.shards, plan.replicated,
                             plan.primary_key, plan.spelling)
    return dataclasses.replace(info, checks=plan.checks, uniques=plan.uniques)


def insert(engine: Engine, plan: planner.Insert, params: object) -> Result:
    """Fill a staging table in DuckDB (one parameter set, or all of ``ParameterSets``), then
    write its rows in one snapshot."""
    with staged(engine, plan, params) as (stage, info):
        rows = stage_rows(engine, stage, info)
    rows = completed(engine, info, rows, plan.overriding)
    values = returned(engine, rows, plan.returning)
    count = write_rows(engine, plan.table, [rows], complete=False, overwrite=plan.overwrite)
    return written({"rows_inserted": count}, f"inserted {count} rows", values)


def completed(engine: Engine, info: TableInfo, rows: pa.Table,
              overriding: str | None = None) -> pa.Table:
    """``rows`` for the table as a write stores them: a column the rows lack takes its DEFAULT
    (evaluated once, by DuckDB), and the nulls of a numbered column are numbered, in order: an
    identity column's from the catalog's sequence of the column (``Column.identity``), a
    DEFAULT nextval('s') column's from the sequence s; then the generated columns are computed
    (catalog.generated: rows that give one a value are refused). ``overriding`` (INSERT's ``OVERRIDING
    ... VALUE``): SYSTEM takes the values given to a GENERATED ALWAYS column, USER numbers every
    identity column's rows, whatever values they were given."""
    present = {n.lower(): n for n in rows.column_names}
    for column in info.columns:
        numbered = default_sequence(column.default)
        if column.name.lower() not in present and (column.default or column.identity):
            value = None if numbered is not None else default_value(engine, column)
            rows = rows.append_column(column.name, repeated(value, rows.num_rows, column.arrow_type))
            present[column.name.lower()] = column.name
        if column.identity is None and numbered is None:
            continue
        name = present[column.name.lower()]
        values = rows[name].combine_chunks()
        if overriding == "USER" and column.identity is not None:
            values = pa.nulls(len(values), values.type)
        missing = values.is_null()
        count = pc.sum(missing).as_py() or 0
        if column.identity is not None and column.identity.always and count < rows.num_rows \
                and overriding != "SYSTEM":
            raise SqlError(f"column {column.name} of {info.name} is GENERATED ALWAYS AS IDENTITY: "
                           "a write gives it no value (leave it out, write DEFAULT, or write "
                           "INSERT ... OVERRIDING SYSTEM VALUE)")
        if not count:
            continue
        if numbered is not None:
            numbers = sequences.next_values(engine, numbered, count)
        else:
            assert column.identity is not None
            first = engine.db.allocate_rowids(f"{info.name}/{column.identity.sequence}", count)
            numbers = column.identity.start + (first + np.arange(count)) * column.identity.increment
        filled = pc.replace_with_mask(values, missing, pa.array(numbers).cast(values.type))
        rows = rows.set_column(rows.column_names.index(name), name, filled)
    return generated.computed(rows, info, engine.session.duck)


def default_expression(column: Column) -> exp.Expr | None:
    """A column's DEFAULT as a tree (the catalog keeps it as DuckDB SQL); None without one."""
    return exp.maybe_parse(column.default, dialect="duckdb") if column.default is not None \
        else None


def default_value(engine: Engine, column: Column) -> pa.Scalar | None:
    """A column's DEFAULT as DuckDB evaluates it, in the column's type; None without one (or
    for DEFAULT NULL)."""
    default = default_expression(column)
    if default is None:
        return None
    value = exp.cast(default, exp.DataType.build(column.sql_type, dialect="duckdb"))
    scalar = engine.session.query(render(exp.select(value))).column(0)[0]
    return scalar if scalar.is_valid else None


def repeated(value: pa.Scalar | None, count: int, arrow_type: pa.DataType) -> pa.Array:
    """``count`` times ``value`` (a column's default), or nulls of ``arrow_type`` without one."""
    if value is None:
        return pa.nulls(count, arrow_type)
    return pc.fill_null(pa.nulls(count, value.type), value)


def returned(engine: Engine, rows: pa.Table, returning: planner.Returning | None,
             actions: pa.Array | None = None) -> pa.Table | None:
    """A write's ``RETURNING`` list over ``rows`` (those it inserts, changes or deletes, with
    the table's columns), evaluated by DuckDB before the write commits: a mistake in the list
    writes nothing. None without ``RETURNING``. ``actions``: a MERGE's, each row's
    (``merge_action()``: INSERT, UPDATE or DELETE)."""
    if returning is None:
        return None
    expressions = list(returning.expressions)
    if actions is not None:
        rows = rows.append_column(MERGE_ACTION, actions)
        hidden = exp.column(MERGE_ACTION, quoted=True)

        bare = planner.tables.MERGE_ACTION not in {n.lower() for n in rows.column_names}

        def is_action(node: exp.Expr) -> bool:
            """PostgreSQL's ``merge_action()``, or DuckDB's ``merge_action`` where the table
            has no column of that name."""
            return node.name.lower() == planner.tables.MERGE_ACTION and (
                isinstance(node, exp.Anonymous) or isinstance(node, exp.Column) and not node.table
                and bare)

        def bound(node: exp.Expr) -> exp.Expr:
            if is_action(node):
                return exp.column(MERGE_ACTION, table=returning.alias, quoted=True)
            if isinstance(node, exp.Star):  # (*, t.*: the table's columns, not the action)
                return exp.Star(except_=[hidden.copy()])
            return node
        expressions = [exp.alias_(e.transform(bound), planner.tables.MERGE_ACTION) if is_action(e)
                       else e.transform(bound) for e in expressions]
    name = f"__indb_returning_{uuid.uuid4().hex}"
    engine.session.duck.register(name, rows)
    try:
        return engine.session.query(render(exp.select(*expressions).from_(
            exp.to_table(name).as_(returning.alias, quoted=True))))
    finally:
        engine.session.duck.unregister(name)


MERGE_ACTION = "__indb_merge_action"  # a RETURNING's rows' column of merge_action()'s answers


def written(counts: Mapping[str, int], message: str, values: pa.Table | None) -> Result:
    """A write's result: its counts as a row, or its ``RETURNING`` rows (``values``)."""
    total = sum(counts.values())
    if values is None:
        return Result(pa.table({k: [v] for k, v in counts.items()}), message, total)
    return Result(values, message, total, returned=True)


@contextmanager
def staged(engine: Engine, plan: planner.Insert,
           params: object) -> Iterator[tuple[exp.Table, TableInfo]]:
    """A temporary table of the INSERT's rows, shaped as its table (DuckDB checks the values'
    count and types against it), there while the block runs; and the table's description."""
    _, info = engine.db.load(plan.table)
    stage = exp.to_table(f"{planner.STAGE_TABLE}_{uuid.uuid4().hex}")  # one a statement
    statement = parse(plan.staged_sql)[0]
    for table in list(statement.find_all(exp.Table)):  # the target: names starting __indb are indb's
        if table.name == planner.STAGE_TABLE:
            table.replace(stage.copy())
    _generated_defaults_left_out(statement, info)
    engine.session.query(render(_stage_definition(stage, info.columns)))
    try:
        try:
            engine.session.query(render(statement), _own_parameters(plan, params))
        except SqlError as error:  # name the user's table, not the staging table, in DuckDB's words
            raise SqlError(error.message.replace(stage.name, plan.table)) from None
        yield stage, info
    finally:  # the statement's DuckDB connection closes after it too, taking the table along
        engine.session.query(render(exp.Drop(tables=[stage], kind="TABLE", exists=True)))


def _generated_defaults_left_out(statement: exp.Expr, info: TableInfo) -> None:
    """PostgreSQL's ``DEFAULT`` for a generated column in an INSERT's VALUES (``INSERT INTO t
    VALUES (1, DEFAULT)``, or with the column named): left out, as DuckDB's INSERT gives a
    generated column no value (other values for one stay, for DuckDB to refuse)."""
    if not info.generated_columns or not isinstance(statement, exp.Insert) \
            or not isinstance(statement.expression, exp.Values):
        return
    target = statement.this
    named = [c.name for c in target.expressions] if isinstance(target, exp.Schema) \
        else [c.name for c in info.columns]
    left_out = {i for i, name in enumerate(named)
                if (column := info.named(name)) is not None and column.generated is not None}
    rows = statement.expression.expressions
    if not left_out or not all(isinstance(r, exp.Tuple) and len(r.expressions) == len(named)
                               and all(is_default(r.expressions[i]) for i in left_out)
                               for r in rows):
        return
    for row in rows:
        row.set("expressions", [e for i, e in enumerate(row.expressions) if i not in left_out])
    table = target.this if isinstance(target, exp.Schema) else target
    statement.set("this", exp.Schema(this=table.copy(), expressions=[
        exp.to_identifier(n, quoted=True) for i, n in enumerate(named) if i not in left_out]))


def stage_rows(engine: Engine, stage: exp.Table, info: TableInfo) -> pa.Table:
    """The rows an INSERT staged, without its generated columns (computed by ``completed``)."""
    return engine.session.query(render(exp.select(*[
        exp.column(c.name, quoted=True) for c in info.written_columns]).from_(stage)))


def _own_parameters(plan: planner.Insert, params: object) -> object:
    """The statement's parameters the INSERT's staging takes (``Insert.parameters``: an upsert's
    DO UPDATE takes the others)."""
    if plan.parameters is None or params is None:
        return params
    given = positional(params, max(plan.parameters, default=0))
    return [given[n - 1] for n in plan.parameters]


def positional(params: object, highest: int, node: exp.Expr | None = None) -> list[object]:
    """A statement's positional parameters (the planner numbered them ``$1``...), as many as
    its ``$highest`` needs; SqlError for fewer (pointing at ``node``, if given)."""
    given = list(params or [])  # type: ignore[call-overload]
    if highest > len(given):
        message = f"the statement has parameter ${highest}, and {len(given)} were given"
        raise error_at(node, message) if node is not None else SqlError(message)
    return given


def _stage_definition(stage: exp.Table, columns: tuple[Column, ...]) -> exp.Create:
    """CREATE TEMPORARY TABLE for an INSERT's staging table: the target's columns, NOT NULLs
    and DEFAULTs (an identity column's value is numbered after: ``completed``), its generated
    columns (DuckDB's VIRTUAL ones: an INSERT that gives one a value is refused as DuckDB
    refuses it; a generated column of no type yet takes its expression's)."""
    def constraints(column: Column) -> list[exp.ColumnConstraint]:
        if column.generated is not None:
            return [generated.constraint(column)]
        numbered = column.identity is not None or default_sequence(column.default) is not None
        kinds: list[exp.Expr] = [] if column.nullable or numbered else [
            exp.NotNullColumnConstraint()]
        default = None if numbered else default_expression(column)
        if default is not None:
            kinds.append(exp.DefaultColumnConstraint(this=default))
        return [exp.ColumnConstraint(kind=kind) for kind in kinds]
    definitions = [exp.ColumnDef(this=exp.to_identifier(c.name, quoted=True),
                                 kind=exp.DataType.build(c.sql_type, dialect="duckdb")
                                 if c.sql_type else None,
                                 constraints=constraints(c))
                   for c in columns]
    return exp.Create(this=exp.Schema(this=stage, expressions=definitions), kind="TABLE",
                      properties=exp.Properties(expressions=[exp.TemporaryProperty()]))


def delete(engine: Engine, plan: planner.Delete, params: object) -> Result:
    table, info = engine.db.load(plan.table)
    current = files.data_files(table)
    if plan.where is None:
        count = sum(f.record_count for f in current)
        values = returned(engine, files.to_user(files.read_stored(
            [files.local_path(f.file_path) for f in current], info, table.io), info),
            plan.returning) if plan.returning else None
        if current:
            check_referenced(engine.db, info, [], [])
            files.commit(engine.db, plan.table, add=[], remove=current, written_for=table.metadata)
        return written({"rows_deleted": count}, f"deleted {count} rows", values)
    by_path = {files.local_path(f.file_path): f for f in current}
    scan = engine.session.scans.scan(info, list(by_path), extra=("filename", "file_row_number"))
    matches = (exp.select("filename", "list(file_row_number)").from_(scan.subquery(plan.target or "t"))
               .where(plan.where.copy()).group_by("filename"))
    hits = dict(zip(*engine.session.query(render(matches), params).to_pydict().values(),
                    strict=True)) if by_path else {}
    removed, count, deleted = [], 0, [info.arrow_schema.empty_table()]
    with files.staged(table.io, table.location()) as added:
        # in the table's order of rows, so that RETURNING gives them in it
        for path, positions in ((p, hits[p]) for p in by_path if p in hits):
            stored = files.read_stored([path], info, table.io)
            keep = np.ones(stored.num_rows, dtype=bool)
            keep[np.asarray(positions, dtype=np.int64)] = False
            count += len(positions)
            removed.append(by_path[path])
            if plan.returning:
                deleted.append(files.to_user(stored.filter(pa.array(~keep)), info))
            if keep.any():
                added += files.write_data_files(table.io, table.metadata, info,
                                                stored.filter(pa.array(keep)),
                                                place=files.place_of(path))
        values = returned(engine, pa.concat_tables(deleted), plan.returning)
        if removed:
            gone = {f.file_path for f in removed}
            check_referenced(engine.db, info, [f for f in current if f.file_path not in gone], added)
            files.commit(engine.db, plan.table, add=added, remove=removed,
                         written_for=table.metadata)
        added.keep()
    return written({"rows_deleted": count}, f"deleted {count} rows", values)


def truncate(engine: Engine, plan: planner.Truncate, params: object) -> Result:
    """Each table's rows deleted (a commit of no files each), as DELETE without WHERE does."""
    names = references.with_referencing(engine, plan.names) if plan.cascade else plan.names
    for name in references.children_first(engine, names):
        delete(engine, planner.Delete(name, None), params)
        if plan.restart_identity:
            engine.db.restart_identities(name)
    return Result(message=f"truncated {', '.join(names) or 'no table'}")


def comment(engine: Engine, plan: planner.Comment, params: object) -> Result:
    """COMMENT ON TABLE or COLUMN: the table's properties alone, in a commit of no files."""
    table, info = engine.db.load(plan.table)
    if plan.column is None:
        new = dataclasses.replace(info, comment=plan.text)
    else:
        found = next((c for c in info.columns if c.name.lower() == plan.column.lower()), None)
        if found is None:
            raise SqlError(f"table {info.name} has no column {plan.column}; its columns are "
                           + ", ".join(c.name for c in info.columns))
        changed = dataclasses.replace(found, comment=plan.text)
        new = dataclasses.replace(info, columns=tuple(changed if c is found else c
                                                      for c in info.columns))
    storage_upkeep.described(table, info, new)
    return Result(message=f"commented on {info.name}" + (f".{plan.column}" if plan.column else ""))


def analyze(engine: Engine, plan: planner.Analyze, params: object) -> Result:
    return Result(message="ANALYZE changed nothing: each data file's column statistics are "
                          "written with it")


def drop_table(engine: Engine, plan: planner.DropTable, params: object) -> Result:
    dropped = [name for name in plan.names if not plan.if_exists or engine.db.exists(name)]
    for name in dropped:  # (CASCADE: the keys that reference it go, their tables stay)
        if plan.cascade:
            references.drop_referencing(engine, name)
        references.check_unreferenced(engine, name, "drop", also_going=dropped)
    for name in dropped:
        engine.db.drop_table(name)
        sequences.drop_owned(engine, name)
        catalog_references.forget(engine.db.engine, name)
    if not dropped:
        return Result(message=f"table {', '.join(plan.names)} does not exist")
    return Result(message=f"dropped table {', '.join(dropped)}")


_FACTS_SCHEMA = pa.schema([("name", pa.string()), ("kind", pa.string()), ("shard_key", pa.string()),
                           ("shards", pa.int64()), ("rows", pa.int64()), ("files", pa.int64()),
                           ("snapshot_id", pa.int64())])


def show_tables(engine: Engine, plan: planner.ShowTables, params: object) -> Result:
    if plan.every:
        return _all_tables(engine)
    rows = []
    matches = planner.tables.name_pattern(plan.like)
    for name in sorted(engine.db.metadata_locations()):
        schema, table = split_name(name)
        if plan.schema is not None and schema != plan.schema or not matches(table):
            continue
        try:
            rows.append(table_facts(engine, name))
        except Exception as error:  # noqa: BLE001 (a damaged table is listed, not fatal)
            rows.append({"name": name, "kind": f"broken: {type(error).__name__}: {error}"})
    return Result(pa.Table.from_pylist(rows, schema=_FACTS_SCHEMA))


def _all_tables(engine: Engine) -> Result:
    """DuckDB's ``SHOW ALL TABLES``: each table and view the user may read, with its schema,
    columns and their types, and whether it is the session's (temporary)."""
    temporary = engine.temporaries.schema if engine.temporaries is not None else None
    relations = [r for r in privileges.readable_relations(engine) if r.sequence is None]
    return Result(pa.table({
        "database": pa.array([DATABASE] * len(relations), pa.string()),
        "schema": pa.array([r.schema for r in relations], pa.string()),
        "name": pa.array([r.name for r in relations], pa.string()),
        "column_names": pa.array([[c[0] for c in r.columns] for r in relations],
                                 pa.list_(pa.string())),
        "column_types": pa.array([[c[1] for c in r.columns] for r in relations],
                                 pa.list_(pa.string())),
        "temporary": pa.array([r.schema == temporary for r in relations], pa.bool_())}))


def describe_table(engine: Engine, plan: planner.DescribeTable, params: object) -> Result:
    _, info = engine.db.load(plan.name)
    facts = table_facts(engine, plan.name)
    key, primary = set(info.shard_key), set(info.primary_key)
    rows = [(c.name, c.sql_type, ", ".join(filter(None, [
        "shard key" if c.name in key else "", "primary key" if c.name in primary else "",
        "" if c.nullable else "not null", "" if c.default is None else f"default {c.default}",
        "" if c.identity is None else "identity",
        "" if c.generated is None else f"generated always as ({c.generated})",
        "" if c.collation is None else f"collate {c.collation}",
        "" if c.comment is None else f"comment {c.comment!r}"]))) for c in info.columns]
    rows += [(f"# {k.replace('_', ' ')}", "" if facts[k] is None else str(facts[k]), "")
             for k in _FACTS_SCHEMA.names[1:]]
    rows += [("# comment", info.comment, "")] if info.comment is not None else []
    rows += [(f"# check {name}", condition, "") for name, condition in info.checks]
    rows += [(f"# unique {name}", ", ".join(columns), "") for name, columns in info.uniques]
    rows += [(f"# index {name}", ", ".join(columns), "unique" if unique else "")
             for name, columns, unique in info.indexes]
    rows += [(f"# foreign key {key.name}", ", ".join(key.columns),
              f"references {key.table} ({', '.join(key.referenced)})") for key in info.foreign_keys]
    return Result(pa.table({"name": [r[0] for r in rows], "type": [r[1] for r in rows],
                            "detail": [r[2] for r in rows]}))


def table_facts(engine: Engine, name: str) -> dict[str, object]:
    """A table's facts: kind, shard key, shard count, rows, files and snapshot id."""
    table, info = engine.db.load(name)
    snapshot = table.current_snapshot()
    summary = snapshot.summary if snapshot and snapshot.summary else {}
    return {
        "name": name,
        "kind": "replicated" if info.replicated else "sharded",
        "shard_key": ", ".join(info.shard_key) if info.shard_key else
        (None if info.replicated else "(none: spread by row id)"),
        "shards": info.shards,
        "rows": int(summary.get("total-records") or 0),
        "files": int(summary.get("total-data-files") or 0),
        "snapshot_id": snapshot.snapshot_id if snapshot else None,
    }


# -- bulk paths -------------------------------------------------------------------------------

def write_rows(engine: Engine, name: str, chunks: Iterable[pa.Table],
               progress: Callable[[int], None] | None = None, *,
               create: TableInfo | None = None, replace: bool = False,
               properties: Mapping[str, str] | None = None,
               around_commit: AbstractContextManager[object] = nullcontext(),
               complete: bool = True, overriding: str | None = None,
               overwrite: bool = False) -> int:
    """Write row chunks (SQL or castable types) to a table in ONE snapshot; returns the row count.
    Each chunk is ``completed`` first (defaults, identity numbers; ``overriding`` as an INSERT's)
    unless ``complete`` is off (the caller did it: an INSERT, for its RETURNING).

    With ``create``, the table does not exist yet (or, with ``replace``, is replaced): its
    files are written first, and the table is created with them in one catalog commit, so it
    appears whole or not at all. A table with a primary key is checked for duplicate keys
    before the commit.

    ``properties`` are set on an existing table in the same commit, and ``around_commit`` is
    entered for the commit alone (a tickerplant's flush drops the rows it wrote from memory
    there, under the lock its readers take). With ``overwrite`` (INSERT OVERWRITE) the rows
    replace the table's, in the same snapshot.
    """
    existing: list[DataFile] = []
    replaced: list[DataFile] = []  # the files the snapshot removes: an overwrite's, all there were
    replacing = False
    if create is None:
        table, info = engine.db.load(name)
        metadata, location, io = table.metadata, table.location(), table.io
        replaced = files.data_files(table) if overwrite else []
        existing = files.data_files(table) if not overwrite and (info.primary_key
                                                                 or info.unique_keys) else []
    else:
        replacing = replace and engine.db.exists(name)
        info = create
        location = engine.db.replacement_location(name) if replacing else engine.db.table_location(name)
        metadata = provisional_metadata(info, location)
        io = load_file_io(engine.db.catalog.properties, location)
    rowids = rowids_in_runs(lambda n: engine.db.allocate_rowids(name, n), info.shards)
    count = 0
    with files.staged(io, location) as written:
        for chunk in chunks:
            stored = files.to_stored(completed(engine, info, chunk, overriding) if complete
                                     else chunk, info, rowids)
            written += files.write_data_files(io, metadata, info, stored,
                                              in_runs=ROWID not in chunk.column_names)
            count += chunk.num_rows
            if progress:
                progress(count)
        check_unique(info, existing, written, engine.db.io_properties)
        check_uniques(info, existing, written, engine.db.io_properties)
        check_constraints(info, written, engine.db.io_properties)
        itself = any(k.table == info.name for k in info.foreign_keys)  # (reads the table there)
        kept = files.data_files(table) if itself and not overwrite and create is None else []
        check_references(engine.db, info, kept, written)
        if replaced:
            check_referenced(engine.db, info, [], written)
        if create is not None and replacing:
            engine.db.create_table(create, add=written, replace=True, location=location)
        elif create is not None:
            engine.db.create_table(create, add=written, location=location)
        elif written or replaced:
            with around_commit:
                files.commit(engine.db, name, add=written, remove=replaced, written_for=metadata,
                             properties=properties,
                             verify=rechecked(info, written, io_properties=engine.db.io_properties))
        written.keep()
    return count


def load(engine: Engine, plan: planner.Load, params: object) -> Result:
    """Bulk-load Arrow, pandas, Parquet or CSV into a table, creating it (with its rows, in one
    commit) if it does not exist; ``plan.progress`` hears the running row count after each chunk
    is written. Whatever is wrong with the data, nothing is written and the error says what."""
    with _source(plan.source) as (reader, what):
        create = None
        if plan.create:
            columns = tuple(Column(f.name, inferred_sql_type(f.type)) for f in reader.schema)
            create = TableInfo.checked(plan.table, columns, plan.shard_key, plan.shards,
                                       plan.replicated)
        chunks = _chunks(reader, LOAD_CHUNK_ROWS, what)
        if plan.truncate_timestamps:
            chunks = _truncated(chunks, (create or engine.db.load(plan.table)[1]).columns)
        count = write_rows(engine, plan.table, chunks, plan.progress, create=create,
                           overriding=plan.overriding)
    return Result(pa.table({"rows_loaded": [count]}), f"loaded {count} rows into {plan.table}",
                  count)


# errors the readers raise for data they cannot read (DuckDB's, Arrow's, pandas' conversions)
_UNREADABLE = (duckdb.Error, pa.ArrowException, ValueError, TypeError, OSError)


@contextmanager
def _source(data: object) -> Iterator[tuple[pa.RecordBatchReader, str]]:
    """The data as a stream of batches, and how to name it in errors. Files are read by a
    DuckDB connection of their own, closed afterwards, so a file that fails midway leaves
    nothing open in the session's."""
    if isinstance(data, pa.RecordBatchReader | pa.Table):
        yield (data if isinstance(data, pa.RecordBatchReader) else data.to_reader()), "the data"
        return
    if type(data).__module__.startswith("pandas"):
        try:
            table = pa.Table.from_pandas(data, preserve_index=False)
        except _UNREADABLE as error:
            raise DataError(f"cannot load the DataFrame: {_first_line(error)}; give each column "
                            "one type") from None
        yield table.to_reader(), "the DataFrame"
        return
    if not isinstance(data, str | Path):
        raise OptionError(f"cannot load a {type(data).__name__}: pass a pyarrow Table or "
                          "RecordBatchReader, a pandas DataFrame, or a .parquet/.csv path")
    path = Path(data)
    if not path.exists():
        raise OptionError(f"no such file: {path}")
    if not path.is_file():
        raise OptionError(f"cannot load {path}: it is a directory, not a file")
    suffix = path.suffix.lower()
    if suffix not in (".parquet", ".csv"):
        raise OptionError(f"cannot load {path}: indb loads .parquet and .csv files")
    if path.stat().st_size == 0:
        raise DataError(f"cannot load {path}: the file is empty (not even a header)")
    duck = duckdb.connect()
    try:
        relation = duck.read_parquet(str(path)) if suffix == ".parquet" else duck.read_csv(str(path))
        reader = relation.to_arrow_reader(LOAD_CHUNK_ROWS)
    except _UNREADABLE as error:
        duck.close()
        raise DataError(f"cannot load {path}: {_first_line(error)}") from None
    try:
        yield reader, str(path)
    finally:
        duck.close()


def _chunks(reader: pa.RecordBatchReader, rows: int, what: str) -> Iterator[pa.Table]:
    """Batches of a reader regrouped into tables of about ``rows`` rows."""
    pending: list[pa.RecordBatch] = []
    size = 0
    try:
        for batch in reader:
            if batch.schema != reader.schema:
                raise DataError(f"cannot load {what}: its columns changed midway, from "
                                f"{reader.schema} to {batch.schema}")
            pending.append(batch)
            size += batch.num_rows
            if size >= rows:
                yield pa.Table.from_batches(pending)
                pending, size = [], 0
    except IndbError:
        raise
    except _UNREADABLE as error:
        raise DataError(f"cannot load {what}: {_first_line(error)}") from None
    if pending:
        yield pa.Table.from_batches(pending)


def _truncated(chunks: Iterator[pa.Table], columns: tuple[Column, ...]) -> Iterator[pa.Table]:
    """The chunks with nanoseconds bound for microsecond columns dropped (``truncate_timestamps``)."""
    by_name = {c.name.lower(): c for c in columns}
    for chunk in chunks:
        yield pa.table({name: truncated_nanoseconds(chunk[name], by_name[name.lower()])
                        if name.lower() in by_name else chunk[name] for name in chunk.column_names})


def _first_line(error: BaseException) -> str:
    return str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__


def shard(engine: Engine, name: str, number: int) -> pa.Table:
    """One shard's rows of a table, in SQL types."""
    table, info = engine.db.load(name.lower())
    return files.read_shard(table, info, number)
