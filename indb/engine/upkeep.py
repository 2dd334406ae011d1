"""Handlers of table upkeep: UPDATE and MERGE (copy-on-write), views, EXPLAIN, time travel,
VACUUM, OPTIMIZE and SHOW SNAPSHOTS (ALTER TABLE is ``alter``'s).

Every statement that changes rows is ONE Iceberg snapshot or nothing: files are written inside
``files.staged`` and made visible by one commit, which also carries the schema or partition
change of an ALTER TABLE.
"""

from __future__ import annotations

import dataclasses
import datetime
import time
import uuid
from typing import TYPE_CHECKING

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from sqlglot import exp

from indb import planner
from indb.catalog import generated, views
from indb.catalog.names import DEFAULT_SCHEMA, split_name
from indb.catalog.tables import ROWID, TableInfo
from indb.catalog.types import Column
from indb.engine import tables, temporary
from indb.errors import CatalogError, ConflictError, IntegrityError
from indb.parser import error_at, parse, render, render_indb, table_ref
from indb.parser.dialect import Explain as ExplainTree
from indb.parser.dialect import ReplicatedProperty, ShardKey
from indb.query.keys import check_constraints, check_unique, check_uniques, rechecked
from indb.query.references import check_referenced, check_references
from indb.planner.constraints import foreign_key_tree
from indb.planner.upkeep import Action, Clause, Match, RowChange, plan_lines
from indb.planner.tables import is_default, table_name
from indb.registry import unreferenced
from indb.registry.runs import RunStatus
from indb.result import Result
from indb.storage import files, upkeep
from indb.storage.placement import rowids_in_runs

if TYPE_CHECKING:
    from indb.engine.core import Engine

# a file no snapshot names is deleted by VACUUM only once it is this old (and older than every
# function run still going): a write in flight (a load, a run's outputs) is never hit
ORPHAN_MIN_AGE_S = 24 * 3600
FILE, ROW, ACTION, SOURCE = "__indb_file", "__indb_row", "__indb_action", "__indb_source"
MESSAGE = "__indb_message"  # a MERGE's THEN ERROR message, of the row that came to it
# DuckDB's functions with side effects, which an alias may not stand for
_SIDE_EFFECTS = frozenset({"error", "random", "setseed", "nextval", "currval", "uuid",
                           "gen_random_uuid", "uuidv4", "uuidv7"})
EXCLUDED = "excluded"  # ON CONFLICT's name for the row proposed
POSITION = "__indb_position"  # an upsert's row's place among the rows proposed
PARAMETER = "__indb_parameter_"  # an upsert's DO UPDATE parameter $n, a column of excluded (+ n)


# -- UPDATE and MERGE ---------------------------------------------------------------------------

def change_rows(engine: Engine, plan: RowChange, params: object, complete: bool = True,
                source_columns: tuple[str, ...] | None = None) -> Result:
    """UPDATE and MERGE: DuckDB finds the changed rows (file and position) and computes their
    new values; the files holding them are rewritten without them, with the new rows added
    (``completed`` first, unless ``complete`` is off: an upsert's rows were). ``source_columns``:
    the source's, where the caller knows them (an upsert's rows); else DuckDB is asked."""
    table, info = engine.db.load(plan.table)
    current = files.data_files(table)
    by_path = {files.local_path(f.file_path): f for f in current}
    found = engine.session.query(render(_change_query(engine, plan, info, list(by_path),
                                                      source_columns)), params)
    clause = found[ACTION].to_numpy().astype(np.int64)
    _check_no_error(plan, clause, found)
    updated, deleted, inserted = (
        found.filter(pa.array(np.isin(clause, [n for n, c in enumerate(plan.clauses)
                                               if c.action == action])))
        for action in (Action.UPDATE, Action.DELETE, Action.INSERT))
    if isinstance(plan, planner.Update) and plan.source is not None:
        # PostgreSQL's and DuckDB's UPDATE ... FROM: a row several source rows match is updated
        # by one of them
        updated = _first_of_each(updated)
    changed = pa.concat_tables([updated.select([FILE, ROW]), deleted.select([FILE, ROW])])
    _check_one_source_row(changed, plan)
    user = [c.name for c in info.columns]
    written = [c.name for c in info.written_columns]  # (completed computes the others)
    new_rows = tables.completed(engine, info, inserted.select(written)) if complete \
        else inserted.select(user)  # defaults, identities
    rowids = rowids_in_runs(lambda n: engine.db.allocate_rowids(plan.table, n), info.shards)
    removed = []
    updates, positions = _rows_by_file(updated), changed[ROW].to_numpy()
    deletes = _rows_by_file(deleted) if plan.returning is not None else {}
    gone_rows = []  # a MERGE ... RETURNING's deleted rows, as they were
    with files.staged(table.io, table.location()) as added:
        for path, rows_of_file in _rows_by_file(changed).items():  # one file at a time
            stored = files.read_stored([path], info, table.io)
            if path in deletes:
                gone_rows.append(files.to_user(stored.take(deleted[ROW].take(
                    pa.array(deletes[path]))), info))
            keep = np.ones(stored.num_rows, dtype=bool)
            keep[positions[rows_of_file]] = False
            mine = pa.array(updates.get(path, np.zeros(0, dtype=np.int64)))
            new = updated.take(mine).select(user)
            if ROWID in stored.column_names:  # an updated row keeps its row id, so its shard
                new = new.append_column(ROWID, stored[ROWID].take(updated[ROW].take(mine)))
            rows = pa.concat_tables([stored.filter(pa.array(keep)), files.to_stored(new, info, rowids)])
            # an updated row keeps its place among the file's rows, as in DuckDB
            were = np.concatenate([np.flatnonzero(keep), updated[ROW].take(mine).to_numpy()])
            added += files.write_data_files(table.io, table.metadata, info,
                                            rows.take(np.argsort(were, kind="stable")),
                                            place=files.place_of(path))
            removed.append(by_path[path])
        if inserted.num_rows:
            added += files.write_data_files(table.io, table.metadata, info,
                                            files.to_stored(new_rows, info, rowids))
        values = _returned(engine, plan, [(updated.select(user), "UPDATE"), (new_rows, "INSERT"),
                                          *((rows, "DELETE") for rows in gone_rows)])
        gone = {f.file_path for f in removed}
        kept = [f for f in current if f.file_path not in gone]
        check_unique(info, kept, added, engine.db.io_properties)
        check_uniques(info, kept, added, engine.db.io_properties)
        check_constraints(info, added, engine.db.io_properties)
        check_references(engine.db, info, kept, added)
        if removed:
            check_referenced(engine.db, info, kept, added)
        if added or removed:
            files.commit(engine.db, plan.table, add=added, remove=removed,
                         written_for=table.metadata,
                         verify=rechecked(info, added, removed, engine.db.io_properties))
        added.keep()
    counts = {"rows_inserted": inserted.num_rows, "rows_updated": updated.num_rows,
              "rows_deleted": deleted.num_rows}
    if isinstance(plan, planner.Update):
        counts = {"rows_updated": updated.num_rows}
    return tables.written(counts, ", ".join(
        f"{v} {k.removeprefix('rows_')}" for k, v in counts.items()), values)


def _returned(engine: Engine, plan: RowChange, rows: list[tuple[pa.Table, str]]) -> pa.Table | None:
    """A row change's RETURNING, before its commit (a mistake in it writes nothing), over its
    rows by action (an UPDATE's, an upsert's and a MERGE's new values, a MERGE's deleted rows
    as they were), each row's action for ``merge_action()``; None without one."""
    if plan.returning is None:
        return None
    actions = pa.array(np.repeat([action for _, action in rows], [r.num_rows for r, _ in rows]),
                       pa.string())
    return tables.returned(engine, pa.concat_tables([r for r, _ in rows], promote_options="permissive"),
                           plan.returning, actions)


def upsert(engine: Engine, plan: planner.Upsert, params: object) -> Result:
    """INSERT ... ON CONFLICT: the rows staged, then merged on the table's primary key (the
    first of several new rows of one key kept where the conflict does nothing, as
    PostgreSQL's, which finds the second in conflict with the first)."""
    _, info = engine.db.load(plan.insert.table)
    keys = _conflict_keys(info, plan)
    columns = [exp.column(k, quoted=True) for k in keys]
    with tables.staged(engine, plan.insert, params) as (stage, _):
        staged = tables.stage_rows(engine, stage, info)
    staged = tables.completed(engine, info, staged,  # a new row's key may be its number
                              plan.insert.overriding)
    staged = staged.append_column(POSITION, pa.array(np.arange(staged.num_rows)))
    clauses = plan.clauses
    if plan.insert.parameters is not None:  # DO UPDATE's parameters, as columns of excluded
        given = tables.positional(params, max(
            int(node.name) for clause in clauses for tree in (*clause.values, clause.condition)
            if tree is not None for node in tree.find_all(exp.Placeholder, exp.Parameter)),
            plan.node)
        for number, value in enumerate(given, start=1):
            staged = staged.append_column(f"{PARAMETER}{number}", pa.array([value] * staged.num_rows))
        clauses = tuple(_bound(clause) for clause in clauses)
    name = f"__indb_upsert_{uuid.uuid4().hex}"
    engine.session.duck.register(name, staged)
    try:
        rows = exp.select(exp.Star(except_=[exp.column(POSITION, quoted=True)])).from_(name)
        present = exp.and_(*[c.is_(exp.null()).not_() for c in columns])  # (a NULL clashes with none)
        twice = exp.select(*columns).from_(name).where(present).group_by(*columns).having(
            exp.GT(this=exp.Count(this=exp.Star()), expression=exp.Literal.number(1))).limit(1)
        repeated = engine.session.query(render(twice)).to_pylist()
        if repeated and any(c.action == Action.UPDATE for c in plan.clauses):
            raise error_at(plan.node, "ON CONFLICT DO UPDATE cannot affect a row a second time: "
                           "the rows inserted have " + ", ".join(
                               f"{k} = {v!r}" for k, v in repeated[0].items()) + " more than once")
        if repeated:
            first = exp.Window(this=exp.RowNumber(), partition_by=columns, over="OVER",
                               order=exp.Order(expressions=[exp.Ordered(
                                   this=exp.column(POSITION, quoted=True))]))
            rows = rows.qualify(exp.or_(exp.EQ(this=first, expression=exp.Literal.number(1)),
                                        exp.Not(this=exp.Paren(this=present.copy()))))
        on = exp.and_(*[exp.EQ(this=exp.column(k, table=plan.target, quoted=True),
                               expression=exp.column(k, table=EXCLUDED, quoted=True)) for k in keys])
        merge = planner.Merge(plan.insert.table, plan.target, rows.subquery(EXCLUDED), on,
                              clauses, plan.insert.returning)
        merged = change_rows(engine, merge, None, complete=False, source_columns=tuple(
            name for name in staged.column_names if name != POSITION))
    finally:
        engine.session.duck.unregister(name)
    if merged.returned:
        return merged
    inserted, updated = (merged.arrow()[k][0].as_py() for k in ("rows_inserted", "rows_updated"))
    return Result(pa.table({"rows_inserted": [inserted], "rows_updated": [updated]}),
                  f"inserted {inserted} rows, updated {updated}", inserted + updated)


def _conflict_keys(info: TableInfo, plan: planner.Upsert) -> tuple[str, ...]:
    """The columns an upsert's rows conflict on, as PostgreSQL finds them: the primary key's or
    a UNIQUE's (a constraint's or a unique index's) that ON CONFLICT (c, ...) names, or ON
    CONFLICT ON CONSTRAINT name; named by neither, the primary key, or the one UNIQUE of a
    table without one (DuckDB's). SqlError where no key of the table is so."""
    unique = info.candidate_keys
    listed = ", ".join(f"{n} ({', '.join(c)})" for n, c in unique) or "none"
    if plan.constraint is not None:
        found = next((c for n, c in unique if n.lower() == plan.constraint.lower()), None)
        if found is None:
            raise error_at(plan.node, f"constraint {plan.constraint} does not exist: ON CONFLICT "
                                      f"ON CONSTRAINT names a key of {info.name}: {listed}")
        return found
    if plan.keys:
        wanted = {k.lower() for k in plan.keys}
        found = next((c for _, c in unique if {k.lower() for k in c} == wanted), None)
        if found is None:
            raise error_at(plan.node, f"ON CONFLICT ({', '.join(plan.keys)}) names no primary key "
                                      f"or UNIQUE of {info.name}: its keys are {listed}")
        return found
    if len(unique) != 1 and not info.primary_key:
        raise error_at(plan.node, f"ON CONFLICT works on a key: table {info.name} has "
                                  + ("none" if not unique else f"several, {listed}: name one, "
                                     "ON CONFLICT (c, ...)"))
    return unique[0][1]


def _bound(clause: Clause) -> Clause:
    """An upsert's clause with each parameter ``$n`` read from ``excluded``'s column of it (its
    value on every row, in the Arrow type of its Python value, as DuckDB binds one)."""
    def bound(node: exp.Expr) -> exp.Expr:
        if isinstance(node, exp.Placeholder | exp.Parameter):
            return exp.column(f"{PARAMETER}{node.name}", table=EXCLUDED, quoted=True)
        return node
    return dataclasses.replace(
        clause, values=tuple(v.transform(bound) for v in clause.values),
        condition=clause.condition.transform(bound) if clause.condition is not None else None)


def _change_query(engine: Engine, plan: RowChange, info: TableInfo, paths: list[str],
                  source_columns: tuple[str, ...] | None) -> exp.Select:
    """The query giving, for each row the statement changes or adds, its file and position (NULL
    for a new row), the number of the clause that applies, and the row's new values."""
    target = _target_scan(engine, info, paths).subquery(plan.target)
    file, row = (exp.column(name, table=plan.target, quoted=True)
                 for name in ("filename", "file_row_number"))
    located = [exp.alias_(file, FILE, quoted=True), exp.alias_(row, ROW, quoted=True)]
    # a MERGE's INSERT * or UPDATE SET * takes the source's columns: DuckDB is asked for them
    # unless the caller knew them (a source with parameters cannot be asked alone)
    if source_columns is None and any(clause.star for clause in plan.clauses) and \
            plan.source is not None and not plan.source.find(exp.Placeholder, exp.Parameter):
        source_columns = tuple(engine.session.query(render(exp.select(exp.Star()).from_(
            plan.source.copy()).limit(0))).column_names)
    values = [_clause_values(clause, info, plan, source_columns) for clause in plan.clauses]
    if plan.source is None:  # UPDATE ... [WHERE]: no join; the condition filters the scan
        (clause,), (new,) = plan.clauses, values
        assert new is not None  # an UPDATE's one clause sets values
        query = exp.select(*located, exp.alias_(exp.Literal.number(0), ACTION, quoted=True),
                           *[exp.alias_(v, c.name, quoted=True) for c, v in
                             zip(info.columns, new, strict=True)]).from_(target)
        return query.where(clause.condition.copy()) if clause.condition is not None else query
    source_name = plan.source.alias_or_name
    source = exp.select(exp.Star(), exp.alias_(exp.true(), SOURCE, quoted=True)).from_(
        plan.source.copy()).subquery(source_name)
    present = {Match.MATCHED: exp.and_(row.is_(exp.null()).not_(), _source_present(source_name)),
               Match.NOT_MATCHED: row.is_(exp.null()),
               Match.NOT_MATCHED_BY_SOURCE: _source_present(source_name).not_()}
    action = exp.Case(ifs=[exp.If(this=exp.and_(present[c.match], c.condition.copy())
                                  if c.condition is not None else present[c.match],
                                  true=exp.Literal.number(n)) for n, c in enumerate(plan.clauses)])
    chosen = exp.column(ACTION, quoted=True)
    # DuckDB reads an earlier column of the same SELECT by its alias (ACTION, in the values),
    # but not one whose expression holds a subquery (a clause's AND x = (SELECT ...)) or a
    # call with side effects (AND error('...')): the expression is written out there instead
    by_action = action if action.find(exp.Subquery, exp.Select) or any(
        call.name.lower() in _SIDE_EFFECTS for call in action.find_all(exp.Func)) else chosen
    columns = [exp.alias_(exp.Case(this=by_action.copy(), ifs=[
        exp.If(this=exp.Literal.number(n), true=clause_values[i])
        for n, clause_values in enumerate(values) if clause_values is not None])
        if any(v is not None for v in values) else _cast(exp.null(), c), c.name, quoted=True)
        for i, c in enumerate(info.columns)]
    matches = {c.match for c in plan.clauses}
    join = ("FULL OUTER" if {Match.NOT_MATCHED, Match.NOT_MATCHED_BY_SOURCE} <= matches else
            "RIGHT" if Match.NOT_MATCHED in matches else
            "LEFT" if Match.NOT_MATCHED_BY_SOURCE in matches else "INNER")
    messages = [exp.If(this=exp.Literal.number(n), true=exp.cast(c.message.copy(), "VARCHAR"))
                for n, c in enumerate(plan.clauses) if c.message is not None]
    if messages:  # THEN ERROR's, for the row that came to it
        columns.append(exp.alias_(exp.Case(this=by_action.copy(), ifs=messages), MESSAGE,
                                  quoted=True))
    inner = (exp.select(*located, exp.alias_(action, ACTION, quoted=True), *columns)
             .from_(target).join(source, on=plan.on.copy() if plan.on else exp.true(),
                                 join_type=join))
    return exp.select(exp.Star()).from_(inner.subquery("changes")).where(
        chosen.is_(exp.null()).not_())


def _source_present(source: str) -> exp.Expr:
    return exp.column(SOURCE, table=source, quoted=True).is_(exp.null()).not_()


def _target_scan(engine: Engine, info: TableInfo, paths: list[str]) -> exp.Select:
    """The table's rows with their file and position (DuckDB's ``filename``, ``file_row_number``)."""
    scan = engine.session.scans.scan(info, paths, extra=("filename", "file_row_number"))
    if paths:
        return scan
    return scan.select(exp.alias_(exp.cast(exp.null(), "VARCHAR"), "filename"),
                       exp.alias_(exp.cast(exp.null(), "BIGINT"), "file_row_number"), append=True)


def _check_no_error(plan: RowChange, clause: np.ndarray, found: pa.Table) -> None:
    """DuckDB's ``THEN ERROR [message]``: a row that comes to one fails the statement."""
    for n, chosen in enumerate(plan.clauses):
        if chosen.action != Action.ERROR or not (clause == n).any():
            continue
        message = found[MESSAGE][int(np.flatnonzero(clause == n)[0])].as_py() \
            if chosen.message is not None else None
        raise IntegrityError(f"Merge error condition WHEN {chosen.match.upper()}"
                             + (f": {message}" if message is not None else ""))


def _clause_values(clause: Clause, info: TableInfo, plan: RowChange,
                   source_columns: tuple[str, ...] | None) -> list[exp.Expr] | None:
    """Each column's new value under a clause (None for DELETE, DO NOTHING and ERROR), cast to
    its type. ``source_columns``: the source's, where known: a star takes them in order (BY
    NAME: those of the table's names); without them, those of the table's names."""
    if clause.action in (Action.DELETE, Action.NOTHING, Action.ERROR):
        return None
    source = plan.source.alias_or_name if plan.source is not None else None
    if clause.star and source_columns is None:
        return [_cast(exp.column(c.name, table=source, quoted=True), c) for c in info.columns]
    if clause.star and not clause.by_name:  # DuckDB's: the source's columns in order
        assert source_columns is not None
        if len(source_columns) != len(info.columns):
            raise error_at(clause.node, f"{clause.action.upper()} * takes the source's columns in "
                                        f"order: table {info.name} has {len(info.columns)} "
                                        f"columns, the source {len(source_columns)}; name them, "
                                        f"or write {clause.action.upper()} BY NAME")
        return [_cast(exp.column(name, table=source, quoted=True), c)
                for name, c in zip(source_columns, info.columns)]
    known = {name.lower(): name for name in source_columns or ()}
    keep = clause.action == Action.UPDATE  # an UPDATE keeps what it does not set; an INSERT
    values: dict[str, exp.Expr] = {  # has the column's DEFAULT, or NULL (an identity's: numbered)
        c.name: exp.column(c.name, table=plan.target, quoted=True) if keep else _default(c)
        for c in info.columns}
    if clause.star:  # BY NAME: a column the source lacks is kept, or its default
        ours = {c.name.lower() for c in info.columns}
        stray = [n for n in known.values() if n.lower() not in ours and not n.startswith("__indb_")]
        if stray:  # (an upsert's rows carry indb's own columns beside the table's)
            raise error_at(clause.node, f"{clause.action.upper()} BY NAME: table {info.name} has "
                                        f"no column {stray[0]}, which the source has")
        return [_cast(exp.column(known[c.name.lower()], table=source, quoted=True), c)
                if c.name.lower() in known else values[c.name]
                for c in info.columns]
    targets = clause.columns
    if clause.action == Action.INSERT and not targets and not clause.defaults:
        if len(clause.values) != len(info.columns):
            raise error_at(clause.node, f"INSERT VALUES gives {len(clause.values)} values; table "
                                        f"{info.name} has {len(info.columns)} columns (name the "
                                        "columns to give fewer)")
        targets = tuple(exp.column(c.name) for c in info.columns)
    named: set[str] = set()
    for target, value in zip(targets, clause.values, strict=True):
        column = _column(info, target, plan)
        if column.name in named:
            raise error_at(target, f"column {column.name} is given twice")
        named.add(column.name)
        default = is_default(value)
        if column.identity is not None and clause.action == Action.UPDATE and default:
            raise error_at(value, f"column {column.name} is an identity: SET {column.name} = "
                                  "DEFAULT (a new number) is not supported; leave it out to keep "
                                  "its number")
        if column.identity is not None and clause.action == Action.UPDATE and column.identity.always:
            raise error_at(value, f"column {column.name} is GENERATED ALWAYS AS IDENTITY: an "
                                  "UPDATE gives it no value (PostgreSQL refuses it too)")
        if column.generated is not None and not default:
            raise error_at(value, f"column {column.name} is a generated column (GENERATED ALWAYS "
                                  f"AS ({column.generated})): a write gives it no value; it is "
                                  "computed from the row")
        values[column.name] = _default(column) if default else _cast(value.copy(), column)
    return [_generated_value(info, c, values) for c in info.columns]


def _generated_value(info: TableInfo, column: Column, values: dict[str, exp.Expr]) -> exp.Expr:
    """A column's new value under a clause: ``values``'s, or a generated column's expression
    over the row's new values (``values``: each column's, cast to its type)."""
    if column.generated is None:
        return values[column.name]
    return _cast(generated.expanded(info, column, lambda c: exp.paren(values[c.name].copy())),
                 column)


def _default(column: Column) -> exp.Expr:
    """The value ``DEFAULT`` gives a column: its DEFAULT, or NULL (an identity's is numbered as
    the row is inserted), cast to its type."""
    return _cast(tables.default_expression(column) or exp.null(), column)


def _column(info: TableInfo, node: exp.Expr, plan: RowChange) -> Column:
    """The table's column a SET or INSERT names (its own name, or qualified by the table's)."""
    qualifier = node.args.get("table") if isinstance(node, exp.Column) else None
    found = info.named(node.name)
    if found is None or (qualifier is not None and qualifier.name.lower() != plan.target.lower()):
        raise error_at(node, f"table {info.name} has no column {render(node)}; its columns are "
                             + ", ".join(c.name for c in info.columns))
    return found


def _cast(value: exp.Expr, column: Column) -> exp.Expr:
    return exp.cast(value, exp.DataType.build(column.sql_type, dialect="duckdb"))


def _first_of_each(rows: pa.Table) -> pa.Table:
    """The first of the rows that change each target row (file and position), in their order."""
    if not rows.num_rows:
        return rows
    numbered = rows.select([FILE, ROW]).append_column("n", pa.array(np.arange(rows.num_rows)))
    firsts = numbered.group_by([FILE, ROW], use_threads=False).aggregate([("n", "min")])["n_min"]
    return rows if len(firsts) == rows.num_rows else rows.take(pc.sort_indices(firsts))


def _check_one_source_row(changed: pa.Table, plan: RowChange) -> None:
    """The SQL standard's rule for MERGE: a target row that several source rows match cannot be
    changed, since which of them applies would be a matter of chance."""
    if not changed.num_rows:
        return
    counts = changed.group_by([FILE, ROW]).aggregate([([], "count_all")])
    if pc.max(counts["count_all"]).as_py() > 1:
        raise error_at(plan.on, f"a row of {plan.table} matches more than one source row; make "
                                "the join pick one (aggregate or deduplicate the source)")


def _rows_by_file(rows: pa.Table) -> dict[str, np.ndarray]:
    """The positions in ``rows`` of each file's rows."""
    if not rows.num_rows:
        return {}
    names = rows[FILE].to_numpy(zero_copy_only=False)
    unique, inverse = np.unique(names, return_inverse=True)
    order = np.argsort(inverse, kind="stable")
    return dict(zip(unique.tolist(), np.split(order, np.cumsum(np.bincount(inverse))[:-1]),
                    strict=True))


# -- views --------------------------------------------------------------------------------------

def described_view(engine: Engine, tree: exp.Expr) -> exp.Expr:
    """``DESCRIBE v`` of a view as DuckDB's ``DESCRIBE SELECT * FROM v``: indb's DESCRIBE of a
    table reads its metadata, and a view has none."""
    if isinstance(tree, exp.Describe) and isinstance(tree.this, exp.Table) \
            and isinstance(tree.this.this, exp.Identifier) and not tree.this.args.get("catalog"):
        name = table_name(tree.this)
        if name in engine.session.views.names and not engine.db.exists(name):
            tree.set("this", exp.select(exp.Star()).from_(tree.this.copy()))
    return tree


def create_view(engine: Engine, plan: planner.CreateView, params: object) -> Result:
    if plan.temporary:
        if plan.if_not_exists and engine.temporaries and plan.name in engine.temporaries.views:
            return Result(message=f"temporary view {plan.name} already exists")
        temporary.create_view(engine, plan.name, parse(plan.sql)[0], plan.replace)
        return Result(message=f"created temporary view {plan.name}")
    if plan.if_not_exists and any(v.name == plan.name for v in views.views(engine.db.engine)):
        return Result(message=f"view {plan.name} already exists")
    # DuckDB checks the query now, against the tables as they are (nothing of it is read)
    query = exp.Subquery(this=parse(plan.sql)[0], alias=exp.TableAlias(this=exp.to_identifier("v")))
    engine.session.query(render(exp.select(exp.Star()).from_(query).limit(0)))
    views.create_view(engine.db.engine, plan.name, plan.sql, plan.replace)
    return Result(message=f"created view {plan.name}")


def drop_view(engine: Engine, plan: planner.DropView, params: object) -> Result:
    if temporary.drop_view(engine, plan.name):  # the session's own first, as it reads them first
        return Result(message=f"dropped temporary view {plan.name}")
    if views.drop_view(engine.db.engine, plan.name) or plan.if_exists:
        return Result(message=f"dropped view {plan.name}")
    raise CatalogError(f"view {plan.name} does not exist; SHOW VIEWS lists the views")


def show_create(engine: Engine, plan: planner.ShowCreate, params: object) -> Result:
    """The statement that makes the table or view again, as one row of one column, ``DDL``
    (Kinetica's SHOW TABLE's)."""
    if plan.kind == "table":
        _, info = engine.db.load(plan.name)
        made = table_ddl(info)
    else:
        temporaries = engine.temporaries
        if temporaries is not None and plan.name in temporaries.views:  # the session's first
            made = exp.Create(this=exp.to_table(plan.name), kind="VIEW", expression=parse(
                temporaries.views[plan.name])[0], properties=exp.Properties(
                    expressions=[exp.TemporaryProperty()]))
        else:
            sql = next((v.sql for v in views.views(engine.db.engine) if v.name == plan.name), None)
            if sql is None:
                raise CatalogError(f"view {plan.name} does not exist; SHOW VIEWS lists the views")
            made = exp.Create(this=exp.to_table(plan.name), kind="VIEW", expression=parse(sql)[0])
    return Result(pa.table({"DDL": [render_indb(made)]}))


def table_ddl(info: TableInfo, timing: bool = True) -> exp.Create:
    """``CREATE TABLE`` of a table as it is: its columns (types, NOT NULL, DEFAULT, identity,
    generated), keys, constraints (foreign keys too, with their ``DEFERRABLE`` words unless not
    ``timing``: DuckDB does not read them) and placement."""
    columns: list[exp.Expr] = []
    for column in info.columns:
        constraints = [exp.ColumnConstraint(kind=exp.NotNullColumnConstraint())] \
            if not column.nullable else []
        if column.default is not None:
            constraints.append(exp.ColumnConstraint(kind=exp.DefaultColumnConstraint(
                this=exp.maybe_parse(column.default, dialect="duckdb"))))
        if column.identity is not None:
            constraints.append(exp.ColumnConstraint(kind=exp.GeneratedAsIdentityColumnConstraint(
                this=column.identity.always, start=exp.Literal.number(column.identity.start),
                increment=exp.Literal.number(column.identity.increment))))
        if column.generated is not None:
            constraints.append(generated.constraint(column))
        if column.collation is not None:
            constraints.append(exp.ColumnConstraint(kind=exp.CollateColumnConstraint(
                this=exp.var(column.collation))))
        columns.append(exp.ColumnDef(this=exp.to_identifier(column.name),
                                     kind=exp.DataType.build(column.sql_type, dialect="duckdb"),
                                     constraints=constraints))
    named = [exp.to_identifier(c) for c in info.primary_key]
    if named:
        columns.append(exp.PrimaryKey(expressions=named))
    if info.shard_key:
        columns.append(ShardKey(expressions=[exp.to_identifier(c) for c in info.shard_key]))
    for name, unique in info.uniques:
        columns.append(exp.Constraint(this=exp.to_identifier(name), expressions=[
            exp.UniqueColumnConstraint(this=exp.Schema(expressions=[
                exp.to_identifier(c) for c in unique]))]))
    for name, condition in info.checks:
        columns.append(exp.Constraint(this=exp.to_identifier(name), expressions=[
            exp.CheckColumnConstraint(this=exp.maybe_parse(condition, dialect="duckdb"))]))
    columns += [foreign_key_tree(key, timing) for key in info.foreign_keys]
    properties: list[exp.Expr] = [ReplicatedProperty()] if info.replicated else [
        exp.Property(this=exp.var("SHARDS"), value=exp.Literal.number(info.shards))]
    schema = split_name(info.name)[0]
    table = exp.Table(this=exp.to_identifier(info.shown, quoted=info.spelling is not None or None),
                      db=None if schema == DEFAULT_SCHEMA else exp.to_identifier(schema))
    return exp.Create(this=exp.Schema(this=table, expressions=columns),
                      kind="TABLE", properties=exp.Properties(expressions=properties))


def show_views(engine: Engine, plan: planner.ShowViews, params: object) -> Result:
    """Every view, then the session's temporary ones (as Spark's SHOW VIEWS lists them)."""
    defined = [(v.name, v.sql, False) for v in views.views(engine.db.engine)]
    temporaries = engine.temporaries
    defined += [(name, sql, True) for name, sql in sorted(temporaries.views.items())] \
        if temporaries is not None else []
    matches = planner.tables.name_pattern(plan.like)
    defined = [view for view in defined if matches(view[0])]
    return Result(pa.table({"name": pa.array([v[0] for v in defined], pa.string()),
                            "sql": pa.array([v[1] for v in defined], pa.string()),
                            "temporary": pa.array([v[2] for v in defined], pa.bool_())}))


# -- EXPLAIN ------------------------------------------------------------------------------------

def explain(engine: Engine, plan: planner.Explain, params: object) -> Result:
    """indb's plan as lines; for a query, DuckDB's plan of it after them (EXPLAIN ANALYZE: run).
    A plan in another format than text (json, graphviz...) is DuckDB's alone: a document for a
    tool to read, which indb's lines would not be part of."""
    lines = plan_lines(plan.plan) if plan.textual else []
    if isinstance(plan.plan, planner.Query):
        tree = ExplainTree(this=parse(plan.plan.sql)[0], analyze=plan.analyze,
                           format=None if plan.textual else plan.format)
        duck = engine.session.query(render_indb(tree), params)
        lines += list(zip(duck.column(0).to_pylist(), duck.column(1).to_pylist(), strict=True))
    return Result(pa.table({"explain_key": [k for k, _ in lines],
                            "explain_value": [v for _, v in lines]}))


# -- time travel --------------------------------------------------------------------------------

def with_snapshots(engine: Engine, plan: planner.WithSnapshots, params: object) -> Result:
    """Make a view of each old snapshot the plan reads, then run the plan. A view is kept: a
    snapshot never changes, and a query's rows may still be read after the statement."""
    for ref in plan.snapshots:
        table, info = engine.db.load(ref.table)
        snapshot = upkeep.snapshot_for(table, ref.version, ref.timestamp_us)
        if snapshot is None:
            raise error_at(ref.node, f"table {ref.table} has no snapshot "
                                     + (f"{ref.version}" if ref.version is not None else
                                        f"at or before {_utc(ref.timestamp_us)} UTC")
                                     + "; SHOW SNAPSHOTS " + ref.table + " lists those VACUUM kept")
        then = upkeep.info_at(table, info, snapshot)
        if then is None:
            raise error_at(ref.node, f"snapshot {snapshot.snapshot_id} of {ref.table} was written "
                                     "under a schema indb has no SQL types for")
        paths = [files.local_path(f.file_path) for f in upkeep.snapshot_files(table, snapshot)]
        view = exp.Create(this=table_ref(ref.view), kind="VIEW", replace=True,
                          expression=engine.session.scans.scan(then, paths))
        engine.session.query(render(view))
    return engine.run(plan.plan, params)


def _utc(timestamp_us: int | None) -> str:
    moment = datetime.datetime.fromtimestamp((timestamp_us or 0) / 1e6, datetime.UTC)
    return moment.replace(tzinfo=None).isoformat(sep=" ")


def show_snapshots(engine: Engine, plan: planner.ShowSnapshots, params: object) -> Result:
    """The table's snapshots, oldest first: what ``AT (VERSION => id)`` can read."""
    table, _ = engine.db.load(plan.table)
    current = table.current_snapshot()
    snapshots = sorted(table.snapshots(), key=lambda s: s.sequence_number or 0)
    summaries = [s.summary for s in snapshots]
    return Result(pa.table({
        "snapshot_id": pa.array([s.snapshot_id for s in snapshots], pa.int64()),
        "parent_id": pa.array([s.parent_snapshot_id for s in snapshots], pa.int64()),
        "committed_at": pa.array([datetime.datetime.fromtimestamp(s.timestamp_ms / 1000, datetime.UTC)
                                  .replace(tzinfo=None) for s in snapshots], pa.timestamp("ms")),
        "operation": pa.array([m.operation.value if m else None for m in summaries], pa.string()),
        "rows": pa.array([int(m.get("total-records") or 0) if m else None for m in summaries],
                         pa.int64()),
        "files": pa.array([int(m.get("total-data-files") or 0) if m else None for m in summaries],
                          pa.int64()),
        "current": pa.array([current is not None and s.snapshot_id == current.snapshot_id
                             for s in snapshots], pa.bool_())}))


# -- VACUUM and OPTIMIZE -------------------------------------------------------------------------

def vacuum(engine: Engine, plan: planner.Vacuum, params: object) -> Result:
    """Expire old snapshots and delete the files nothing reads any more, table by table; then,
    without a table, the leftovers of tables that do not exist and of code and models no record
    names (one row for both)."""
    started = _running_since(engine)
    cutoff = min([time.time() - ORPHAN_MIN_AGE_S, *started])
    names = [plan.table] if plan.table else sorted(engine.db.metadata_locations())
    done = [upkeep.vacuum(engine.db, name, plan.retain, cutoff) for name in names]
    if plan.table is None:
        tables = upkeep.leftovers(engine.db, names, cutoff)
        artifacts = unreferenced.vacuum(engine.functions, engine.models, cutoff,
                                        running=bool(started))
        done.append(upkeep.Vacuumed(None, 0, tables.files_deleted + artifacts.files_deleted,
                                    tables.bytes_deleted + artifacts.bytes_deleted))
    rows = pa.table({"table": [d.table for d in done],
                     "snapshots_expired": [d.snapshots_expired for d in done],
                     "files_deleted": [d.files_deleted for d in done],
                     "bytes_deleted": [d.bytes_deleted for d in done]})
    return Result(rows, f"expired {sum(d.snapshots_expired for d in done)} snapshots, deleted "
                        f"{sum(d.files_deleted for d in done)} files")


def _running_since(engine: Engine) -> list[float]:
    """When each function run still going started. Files no snapshot or record names are
    deleted only if last modified before all of these (and older than the safety age): a run's
    outputs are committed at its end, however long it runs."""
    runs = engine.runs.runs().to_pydict()
    return [s for s, status in zip(runs["started"], runs["status"], strict=True)
            if status == RunStatus.RUNNING]


def optimize(engine: Engine, plan: planner.Optimize, params: object) -> Result:
    """Merge each shard's small files into files of about the table's target size, one
    snapshot a table (the rows and their shards stay as they are)."""
    names = [plan.table] if plan.table else sorted(engine.db.metadata_locations())
    merged = {name: _compact(engine, name) for name in names}
    rows = pa.table({"table": list(merged), "files_merged": [m[0] for m in merged.values()],
                     "files_written": [m[1] for m in merged.values()]})
    return Result(rows, f"merged {sum(m[0] for m in merged.values())} files into "
                        f"{sum(m[1] for m in merged.values())}")


def _compact(engine: Engine, name: str) -> tuple[int, int]:
    table, info = engine.db.load(name)
    groups = upkeep.compaction_groups(files.data_files(table), upkeep.target_file_bytes(table))
    if not groups:
        return 0, 0
    with files.staged(table.io, table.location()) as added:
        for group in groups:
            stored = files.read_stored([f.file_path for f in group], info, table.io)
            added += files.write_data_files(table.io, table.metadata, info, stored,
                                            place=files.place_of(group[0].file_path))
        try:
            files.commit(engine.db, name, add=added, remove=[f for g in groups for f in g],
                         written_for=table.metadata)
        except ConflictError:
            raise ConflictError(f"table {name} was rewritten while OPTIMIZE merged its files; "
                                "nothing changed: run OPTIMIZE again") from None
        added.keep()
    return sum(len(g) for g in groups), len(added)
