"""Plans for table upkeep: UPDATE, MERGE, views, COPY, EXPLAIN, time travel, VACUUM, OPTIMIZE
and SHOW SNAPSHOTS (ALTER TABLE's are ``alter``'s).

As everywhere in the planner, nothing here reads data: a plan says what a statement will do
and refuses, with the position of the offending node, what it cannot do. Rules that need a
table's columns (does ``SET x`` name a column? is the dropped column the shard key?) are the
engine's, which has the table's description; it raises its errors at the nodes the plans keep.
"""

from __future__ import annotations

import dataclasses
import datetime
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

import sqlglot
from sqlglot import exp
from sqlglot.errors import ParseError

from indb.catalog.names import DATABASE, checked_name
from indb.catalog.types import Column
from indb.errors import CatalogError, SchemaError
from indb.parser import error_at, faithful, render
from indb.parser.dialect import Explain as ExplainTree
from indb.parser.dialect import Optimize as OptimizeTree
from indb.parser.dialect import ShowCreate as ShowCreateTree
from indb.parser.dialect import ShowSnapshots as ShowSnapshotsTree
from indb.parser.dialect import ShowViews as ShowViewsTree
from indb.parser.dialect import Vacuum as VacuumTree
from indb.parser.prepared import ORDER
from indb.planner.models import PREDICT_PREFIX
from indb.planner import tables
from indb.planner.settings import SEARCH_PATH, ShowSearchPath
from indb.planner.names import new_name
from indb.planner.tables import (STAGE_TABLE, CatalogFacts, Insert, Query, Returning,
                                 existing_table, table_name, write_target)

SNAPSHOT_VIEW_PREFIX = "__indb_at_"  # DuckDB views over old snapshots (time travel)


# -- UPDATE and MERGE ---------------------------------------------------------------------------

class Match(StrEnum):
    """Which rows a WHEN clause is about."""

    MATCHED = "matched"                              # a target row with a source row
    NOT_MATCHED = "not matched"                      # a source row with no target row
    NOT_MATCHED_BY_SOURCE = "not matched by source"  # a target row with no source row


class Action(StrEnum):
    UPDATE = "update"
    DELETE = "delete"
    INSERT = "insert"
    NOTHING = "do nothing"
    ERROR = "error"  # DuckDB's THEN ERROR [message]: the statement fails if a row comes to it


@dataclass(frozen=True)
class Clause:
    """One ``WHEN ... THEN ...`` of a MERGE (an UPDATE is one: WHEN MATCHED THEN UPDATE)."""

    match: Match
    action: Action
    condition: exp.Expr | None = None
    columns: tuple[exp.Expr, ...] = ()  # SET targets / INSERT's column list, as written
    values: tuple[exp.Expr, ...] = ()   # their values (INSERT VALUES alone: every column's)
    star: bool = False  # UPDATE SET * / INSERT *: each column from the source's, in order
    by_name: bool = False  # ... BY NAME: from the source's column of its name
    defaults: bool = False  # INSERT DEFAULT VALUES: every column's default
    message: exp.Expr | None = None  # THEN ERROR's message
    node: exp.Expr | None = field(default=None, compare=False, repr=False)  # where errors point


@dataclass(frozen=True)
class RowChange:
    """Rows of ``table`` changed in place, copy-on-write: the files holding changed rows are
    rewritten, new rows written, and both swapped in with ONE snapshot.

    ``target`` is what the statement's expressions call the table (its alias, else its name).
    Without ``source`` the one clause's condition picks rows (UPDATE ... WHERE); with it, the
    source is joined on ``on`` and each joined row takes the first clause that applies.
    """

    table: str
    target: str
    source: exp.Expr | None
    on: exp.Expr | None
    clauses: tuple[Clause, ...]
    returning: Returning | None = None  # over new values; a MERGE's deleted rows: their old


@dataclass(frozen=True)
class Update(RowChange):
    """``UPDATE t SET c = e [FROM s] [WHERE ...]``."""


@dataclass(frozen=True)
class Merge(RowChange):
    """``MERGE INTO t USING s ON ... WHEN [NOT] MATCHED [BY SOURCE] [AND ...] THEN ...``."""


def plan_update(tree: exp.Update, catalog: CatalogFacts) -> Update:
    for unsupported in ("order", "limit"):
        if tree.args.get(unsupported):
            raise error_at(tree, "UPDATE with ORDER BY or LIMIT is not supported; choose the rows "
                                 "in WHERE, or use MERGE")
    tree = tables.ctes_inlined(tree)
    tree = numbered_parameters(tree)
    name, target = _target(tree.this, catalog)
    columns, values = _assignments(tree.expressions)
    where = tree.args.get("where")
    condition = where.this if where else None
    source = None
    from_ = tree.args.get("from_")
    if from_ is not None:
        if from_.this.args.get("joins") or tree.args.get("joins"):
            raise error_at(from_, "UPDATE ... FROM takes one table or subquery; join inside a "
                                  "subquery, or use MERGE")
        source = _source(from_.this)
    clause = Clause(Match.MATCHED, Action.UPDATE, None if source else condition, columns, values,
                    node=tree)
    return Update(name, target, source, condition if source else None, (clause,),
                  tables.returning(tree, target))


@dataclass(frozen=True)
class Upsert:
    """``INSERT ... ON CONFLICT`` (and ``INSERT OR REPLACE``, ``INSERT OR IGNORE``): the rows
    staged as ``insert`` stages them, then merged into the table on its primary key, ``keys``
    as written (empty: the key itself), as ``MERGE ... USING (the rows) AS excluded`` merges:
    ``clauses`` insert the rows whose key is new and do nothing, or update, where it is not."""

    insert: Insert
    target: str
    keys: tuple[str, ...]
    clauses: tuple[Clause, ...]
    node: exp.Expr = field(compare=False, repr=False)
    constraint: str | None = None  # ON CONFLICT ON CONSTRAINT name: its columns are the keys


def plan_insert(tree: exp.Insert, catalog: CatalogFacts) -> Insert | Upsert:
    """INSERT: a plain one (``planner.tables``), or with ``ON CONFLICT``, ``OR REPLACE`` or
    ``OR IGNORE`` an upsert."""
    conflict = tree.args.get("conflict")
    alternative = str(tree.args.get("alternative") or "").upper()
    if conflict is None and alternative not in ("REPLACE", "IGNORE"):
        return tables.plan_insert(tree, catalog)
    parameterized = conflict is not None and conflict.find(exp.Placeholder, exp.Parameter)
    if parameterized:
        tree = numbered_parameters(tree)  # the INSERT's values and DO UPDATE's, apart below
        conflict = tree.args["conflict"]
    plain = tree.copy()
    plain.set("conflict", None)
    plain.set("alternative", None)
    own = _own_parameters(plain, conflict) if parameterized and conflict is not None else None
    insert = tables.plan_insert(plain, catalog)  # RETURNING, over the rows inserted or updated
    insert = dataclasses.replace(insert, parameters=own)
    table = tables.write_target(tree)
    target = table.alias or table.name
    insert_new = Clause(Match.NOT_MATCHED, Action.INSERT, star=True, by_name=True, node=tree)
    if conflict is None:  # OR REPLACE: every column from the new row; OR IGNORE: nothing
        replace = Clause(Match.MATCHED, Action.UPDATE, star=True, by_name=True, node=tree)
        return Upsert(insert, target, (), (replace, insert_new) if alternative == "REPLACE"
                      else (insert_new,), tree)
    if conflict.args.get("duplicate"):
        raise error_at(conflict, "ON DUPLICATE KEY UPDATE is MySQL's: write ON CONFLICT (key) "
                                 "DO UPDATE SET c = excluded.c")
    constraint = conflict.args.get("constraint")
    named = constraint.name if constraint is not None else None
    keys = tuple(key.this.name if isinstance(key, exp.Ordered) else key.name
                 for key in conflict.args.get("conflict_keys") or [])
    if str(conflict.args.get("action")).upper().endswith("NOTHING"):
        return Upsert(insert, target, keys, (insert_new,), tree, named)
    sets, where = conflict.expressions, conflict.args.get("where")
    columns, values = _assignments(sets)

    def of_target(node: exp.Expr) -> exp.Expr:  # a bare column is the row there's, as in
        if isinstance(node, exp.Column) and not node.table \
                and not tables.is_default(node):  # PostgreSQL and DuckDB (excluded is named
            return exp.column(node.this.copy(), table=target)  # where meant); DEFAULT is not one
        return node
    update = Clause(Match.MATCHED, Action.UPDATE,
                    where.this.transform(of_target) if where else None, columns,
                    tuple(v.transform(of_target) for v in values), node=conflict)
    return Upsert(insert, target, keys, (update, insert_new), tree, named)


def plan_merge(tree: exp.Merge, catalog: CatalogFacts) -> Merge:
    tree = numbered_parameters(tables.ctes_inlined(tree))
    name, target = _target(tree.this, catalog)
    whens = tree.args.get("whens")
    clauses = tuple(_clause(when) for when in (whens.expressions if whens else []))
    if not clauses:
        raise error_at(tree, "MERGE needs at least one WHEN [NOT] MATCHED THEN ... clause")
    source = _source(tree.args["using"])
    on = tree.args.get("on")
    named = source.alias_or_name
    # a clause of rows with no source row or no target row reads the other's bare columns
    clauses = tuple(clause if clause.match == Match.MATCHED else _bound(
        clause, *((named, target) if clause.match == Match.NOT_MATCHED else (target, named)))
        for clause in clauses)
    if tree.args.get("using_cond"):  # DuckDB's USING (c, ...): the columns of one name equal
        joined = {c.name.lower() for c in tree.args["using_cond"]}
        on = exp.and_(*[exp.column(c.name, table=target, quoted=True).eq(
            exp.column(c.name, table=named, quoted=True)) for c in tree.args["using_cond"]])
        clauses = tuple(_of_source(clause, joined, named) if clause.match == Match.MATCHED
                        else clause for clause in clauses)
    if on is None:
        raise error_at(tree, "MERGE joins its source with ON condition or USING (c, ...)")
    return Merge(name, target, source, on, clauses, tables.returning(tree, target))


def _assignments(items: list[exp.Expr]) -> tuple[tuple[exp.Expr, ...], tuple[exp.Expr, ...]]:
    """A SET list's columns and values, each item checked to be ``column = value``."""
    for item in items:
        if not (isinstance(item, exp.EQ) and isinstance(item.this, exp.Column)):
            raise error_at(item, f"SET takes column = value pairs, not {render(item)}")
    return tuple(item.this for item in items), tuple(item.expression for item in items)


def _clause(when: exp.When) -> Clause:
    match = Match.MATCHED if when.args.get("matched") else (
        Match.NOT_MATCHED_BY_SOURCE if when.args.get("source") else Match.NOT_MATCHED)
    then, condition = when.args.get("then"), when.args.get("condition")
    if isinstance(then, exp.Anonymous) and then.name == faithful.MERGE_ERROR:
        return Clause(match, Action.ERROR, condition, message=then.expressions[0]
                      if then.expressions else None, node=when)
    if isinstance(then, exp.Var) and then.name.upper() in ("DELETE", "DO NOTHING"):
        action = Action.DELETE if then.name.upper() == "DELETE" else Action.NOTHING
        if match == Match.NOT_MATCHED and action == Action.DELETE:
            raise error_at(when, "WHEN NOT MATCHED has no target row to DELETE; it can INSERT")
        return Clause(match, action, condition, node=when)
    if isinstance(then, exp.Update):
        if match == Match.NOT_MATCHED:
            raise error_at(when, "WHEN NOT MATCHED has no target row to UPDATE; it can INSERT")
        by_name = any(isinstance(e, exp.Var) and e.name == faithful.BY_NAME
                      for e in then.expressions)
        if not then.expressions or by_name or any(isinstance(e, exp.Star) for e in then.expressions):
            # (DuckDB's bare THEN UPDATE is UPDATE SET *)
            if match == Match.NOT_MATCHED_BY_SOURCE:
                raise error_at(when, "UPDATE SET * takes the source row's values, and WHEN NOT "
                                     "MATCHED BY SOURCE has none; name the columns")
            return Clause(match, Action.UPDATE, condition, star=True, by_name=by_name, node=when)
        return Clause(match, Action.UPDATE, condition, *_assignments(then.expressions),
                      node=when)
    if isinstance(then, exp.Insert):
        if match != Match.NOT_MATCHED:
            raise error_at(when, "only WHEN NOT MATCHED can INSERT: a matched row exists already")
        if isinstance(then.this, exp.Star) or (not then.this and not then.expression):
            return Clause(match, Action.INSERT, condition, star=True, node=when)  # (bare INSERT)
        if isinstance(then.this, exp.Var) and then.this.name == faithful.BY_NAME:
            return Clause(match, Action.INSERT, condition, star=True, by_name=True, node=when)
        if isinstance(then.this, exp.Var) and then.this.name == faithful.DEFAULT_VALUES:
            return Clause(match, Action.INSERT, condition, defaults=True, node=when)
        columns = tuple(then.this.expressions) if isinstance(then.this, exp.Tuple) else ()
        values = then.expression.expressions if isinstance(then.expression, exp.Tuple) else []
        if columns and len(columns) != len(values):
            raise error_at(then, f"INSERT names {len(columns)} columns but gives {len(values)} "
                                 "values")
        return Clause(match, Action.INSERT, condition, columns, tuple(values), node=when)
    raise error_at(when, "a WHEN clause ends in UPDATE SET ..., DELETE, INSERT ..., DO NOTHING "
                         "or ERROR")


def _bound(clause: Clause, present: str, absent: str) -> Clause:
    """A clause whose rows have no ``absent`` row (NOT MATCHED: no target row; BY SOURCE: no
    source row): its bare columns are the ``present`` row's, as in DuckDB and PostgreSQL (a
    dbt MERGE inserts ``VALUES ("id", "val")``), and naming the absent one is an error."""
    def outside(node: exp.Expr) -> bool:  # not a column of a subquery's own
        return node.find_ancestor(exp.Select) is None

    def bound(node: exp.Expr) -> exp.Expr:
        if isinstance(node, exp.Column) and outside(node) and not tables.is_default(node):
            if not node.table:
                return exp.column(node.this.copy(), table=present)
            if node.table.lower() == absent.lower():
                raise error_at(node, f"WHEN {clause.match.upper()} has no row of {absent}: "
                                     f"{render(node)} names none")
        return node
    return _transformed(clause, bound)


def _of_source(clause: Clause, joined: set[str], source: str) -> Clause:
    """A clause's bare references to a column of USING (c, ...) as the source's (the one column
    the join makes of the two: the source's where a row is not matched)."""
    def qualified(node: exp.Expr) -> exp.Expr:
        if isinstance(node, exp.Column) and not node.table and node.name.lower() in joined:
            return exp.column(node.this.copy(), table=source)
        return node
    return _transformed(clause, qualified)


def _transformed(clause: Clause, change: Callable[[exp.Expr], exp.Expr]) -> Clause:
    """The clause with ``change`` applied to each of its expressions: its values, its
    condition, a THEN ERROR's message."""
    return dataclasses.replace(
        clause, values=tuple(v.transform(change) for v in clause.values),
        condition=clause.condition.transform(change) if clause.condition is not None else None,
        message=clause.message.transform(change) if clause.message is not None else None)


def _target(table: exp.Expr, catalog: CatalogFacts) -> tuple[str, str]:
    """The table a write changes, and the name its expressions call it by."""
    if not isinstance(table, exp.Table):
        raise error_at(table, "expected the name of the table to change")
    name = existing_table(table_name(table), catalog)
    return name, table.alias or table.name  # t of s.t, as PostgreSQL's statements call it


def _source(source: exp.Expr) -> exp.Expr:
    """The relation of USING / FROM; a subquery needs an alias for its columns to be named by."""
    if isinstance(source, exp.Values) and source.alias:  # (VALUES ...) AS s (a, b)
        return exp.Subquery(this=exp.select(exp.Star()).from_(source.copy()),
                            alias=exp.TableAlias(this=exp.to_identifier(source.alias)))
    if isinstance(source, exp.Subquery | exp.Values) and not source.alias:
        raise error_at(source, "give the subquery a name: USING (SELECT ...) AS s")
    if not isinstance(source, exp.Table | exp.Subquery):
        raise error_at(source, "the source is a table or a subquery")
    return source


def _own_parameters(plain: exp.Insert, conflict: exp.Expr) -> tuple[int, ...]:
    """For an upsert whose DO UPDATE takes parameters (numbered ``$1``... over the statement):
    the INSERT's own (``plain``, without its conflict clause) numbered again from 1 in place
    (DuckDB takes no parameter a statement does not use); which of the statement's they are.
    The DO UPDATE's are the engine's to give (``engine.upkeep.upsert``)."""
    if any(_position(p) is None for p in conflict.find_all(exp.Placeholder, exp.Parameter)):
        raise error_at(conflict, "ON CONFLICT DO UPDATE takes positional parameters (? or $1), "
                                 "not named ones")
    own = own_parameters(plain)
    if own is None:
        raise error_at(plain, "an INSERT ... ON CONFLICT takes positional parameters (? or $1), "
                              "not named ones")
    return own


def own_parameters(part: exp.Expr) -> tuple[int, ...] | None:
    """A part of a statement whose positional parameters are numbered over the whole (``$1``...)
    with its own numbered again from 1 in place, in the order met (DuckDB takes no parameter a
    statement does not use); which of the statement's they are. None, and the part unchanged,
    where one is named (``$name``)."""
    found = list(part.find_all(exp.Placeholder, exp.Parameter))
    if any(_position(node) is None for node in found):
        return None
    own: list[int] = []
    for node in found:
        number = _position(node)
        assert number is not None
        if number not in own:
            own.append(number)
        node.replace(exp.Placeholder(this=str(own.index(number) + 1)))
    return tuple(own)


def _position(node: exp.Expr) -> int | None:
    """A positional parameter's number (``$3`` is 3); None for a named one."""
    text = node.this.name if isinstance(node.this, exp.Expr) else str(node.this or "")
    return int(text) if text.isdigit() else None


def numbered_parameters(tree: exp.E) -> exp.E:
    """The tree with each ``?`` numbered (``$1``, ``$2``, ...) in the order written: the engine
    runs the statement's parts in another order than they are written in."""
    placeholders = [p for p in tree.find_all(exp.Placeholder, bfs=False) if not p.this]
    if not placeholders:
        return tree
    tree = tree.copy()
    marks = [p for p in tree.find_all(exp.Placeholder, bfs=False) if not p.this]
    # by their places in the text where the parser noted them (a WITH comes last in the tree)
    for number, placeholder in enumerate(sorted(marks, key=lambda p: p.meta.get(ORDER, 0)), start=1):
        placeholder.replace(exp.Placeholder(this=str(number)))
    return tree


# -- views ------------------------------------------------------------------------------------

@dataclass(frozen=True)
class CreateView:
    name: str
    sql: str  # the query, as DuckDB runs it
    replace: bool = False
    if_not_exists: bool = False
    temporary: bool = False  # the session's own (CREATE TEMP VIEW)


@dataclass(frozen=True)
class DropView:
    name: str
    if_exists: bool = False


@dataclass(frozen=True)
class ShowViews:
    like: str | None = None  # SHOW VIEWS LIKE 'pattern' (tables.name_pattern)


@dataclass(frozen=True)
class ShowCreate:
    """``SHOW CREATE TABLE t`` (Kinetica's ``SHOW [CREATE] TABLE t``), ``SHOW CREATE VIEW v``:
    the statement that makes it again."""
    kind: str  # table or view
    name: str


def plan_create_view(tree: exp.Create, catalog: CatalogFacts) -> CreateView:
    """``CREATE [OR REPLACE] [TEMP] VIEW [IF NOT EXISTS] v [(a, b)] AS query``: the names after
    the view's (PostgreSQL's and DuckDB's) name the query's first columns; the query may be a
    ``VALUES`` list."""
    names = tree.this.expressions if isinstance(tree.this, exp.Schema) else []
    if isinstance(tree.expression, exp.Values):  # AS VALUES (1, 2): its columns col0, col1...
        tree = tree.copy()
        tree.set("expression", exp.select(exp.Star()).from_(tree.expression))
    if isinstance(tree.this, exp.Schema):
        if not all(isinstance(n, exp.Identifier) for n in names):
            raise error_at(tree.this, "a view's column list is names: CREATE VIEW v (a, b) AS ...")
        tree = tree.copy()
        tree.set("this", tree.this.this)
        if isinstance(tree.expression, exp.Query):  # the query's columns renamed, in order
            tree.set("expression", tables.columns_named(tree.expression, names, "indb_view"))
    properties = tree.args.get("properties")
    temporary = tables.is_temporary(tree)  # the session's own (engine/temporary.py)
    unsupported = [p for p in properties.expressions if not isinstance(p, exp.TemporaryProperty)] \
        if properties else []
    if unsupported:
        raise error_at(tree, f"{render(unsupported[0])} views are not supported; "
                             "CREATE VIEW makes one every connection sees, CREATE TEMP VIEW one "
                             "of the session's own, and CREATE TABLE ... AS SELECT keeps rows")
    if temporary:  # the session's own: no schema
        try:
            name = checked_name(table_name(tree.this), "view")
        except SchemaError as error:
            raise error_at(tree.this, str(error)) from None
    else:  # ``v`` or ``s.v``, as a table's name (dbt's models in schemas of their own)
        name = new_name(tree.this)
        tables.existing_schema(name, tree.this, catalog)
    if not temporary and catalog.exists(name):
        raise CatalogError(f"a table called {name} exists; a view needs a name of its own")
    query = tree.expression
    if not isinstance(query, exp.Query):
        raise error_at(tree, "CREATE VIEW v AS takes a query")
    dynamic = next((p for p in query.find_all(exp.Pivot) if not p.args.get("unpivot") and any(
        not isinstance(on, exp.In) for on in p.expressions)), None)
    if dynamic is not None:  # (DuckDB's rule: the view's columns would change with the data)
        raise error_at(dynamic, "a PIVOT in a view names its values: PIVOT t ON c IN ('a', 'b') "
                                "USING ...; without IN they come from the data at each read")
    predict = next((c for c in query.find_all(exp.Anonymous)
                    if c.name.lower().startswith(PREDICT_PREFIX)), None)
    if predict is not None:
        raise error_at(tree, "PREDICT cannot be kept in a view yet; call it in the queries that "
                             "read the view")
    return CreateView(name, render(query), bool(tree.args.get("replace")),
                      bool(tree.args.get("exists")), temporary)


def plan_drop_view(tree: exp.Drop, catalog: CatalogFacts) -> DropView:
    (view, *more) = tree.args.get("tables") or [tree.this]
    if more:
        raise error_at(more[0], "DROP VIEW takes one view at a time")
    return DropView(table_name(view), bool(tree.args.get("exists")))


def plan_show_views(tree: ShowViewsTree, catalog: CatalogFacts) -> ShowViews:
    like = tree.args.get("like")
    return ShowViews(like.name if like is not None else None)


def plan_show_create(tree: ShowCreateTree, catalog: CatalogFacts) -> ShowCreate:
    """``SHOW [CREATE] TABLE t`` and ``SHOW [CREATE] VIEW v`` (Spark's, MySQL's and Kinetica's
    forms)."""
    name = table_name(tree.this)
    kind = str(tree.args["kind"]).lower()
    return ShowCreate(kind, existing_table(name, catalog) if kind == "table" else name)


def plan_show_command(tree: exp.Command,
                      catalog: CatalogFacts) -> tables.DescribeTable | ShowSearchPath | Query:
    """DuckDB's ``SHOW t``, which is ``DESCRIBE t``, and ``SHOW DATABASES`` (this one), and
    PostgreSQL's ``SHOW search_path``: the SHOW statements sqlglot leaves as text."""
    if tree.text("expression").strip().upper() == "DATABASES":
        return Query(render(exp.select(exp.alias_(exp.Literal.string(DATABASE), "database_name"))))
    table = shown(tree)
    if table is None:
        return ShowSearchPath()
    return tables.DescribeTable(existing_table(table_name(table), catalog))


def shown(tree: exp.Command) -> exp.Table | None:
    """The table ``SHOW t`` names (None: ``SHOW search_path``); SqlError for any other SHOW
    sqlglot leaves as text."""
    text = tree.text("expression").strip()
    if text.lower() in SEARCH_PATH:
        return None
    try:
        table = sqlglot.parse_one(text, into=exp.Table, dialect="duckdb")
    except (ParseError, ValueError):
        table = None
    if not isinstance(table, exp.Table):
        raise error_at(tree, f"SHOW {text} is not supported; indb's SHOW statements are SHOW "
                             "TABLES, VIEWS, SCHEMAS, FUNCTIONS, MODELS, SHOW CREATE TABLE t, "
                             "SHOW CREATE VIEW v, SHOW COLUMNS FROM t and SHOW t")
    return table


# -- COPY -------------------------------------------------------------------------------------

def plan_copy(tree: exp.Copy, catalog: CatalogFacts) -> Insert | Query:
    """``COPY t FROM 'file'`` is an INSERT of the file's rows (one snapshot); ``COPY t TO
    'file'`` and ``COPY (query) TO 'file'`` are DuckDB's, over the tables' views."""
    files = tree.args.get("files") or []
    if len(files) != 1 or not (isinstance(files[0], exp.Literal) and files[0].is_string):
        raise error_at(tree, "COPY takes one file name in quotes: COPY t TO 'ticks.parquet'")
    target = write_target(tree)
    if not tree.args.get("kind"):  # TO
        if isinstance(target, exp.Table):
            existing_table(table_name(target), catalog)
        return Query(render(tree))
    if not isinstance(target, exp.Table):
        raise error_at(tree.this, "COPY ... FROM fills a table: COPY t FROM 'ticks.csv'")
    name = existing_table(table_name(target), catalog)
    staged = tree.copy()
    write_target(staged).replace(exp.to_table(STAGE_TABLE))
    return Insert(name, render(staged), overriding="SYSTEM")  # as PostgreSQL's COPY


# -- EXPLAIN ----------------------------------------------------------------------------------

@dataclass(frozen=True)
class Explain:
    """What a statement would do: indb's plan, and DuckDB's for a query (``analyze``: run the
    query and show the time each step took)."""

    plan: Any
    analyze: bool = False
    format: str | None = None  # DuckDB's format of its plan of a query (json, graphviz...)

    @property
    def textual(self) -> bool:
        """Whether the plan is shown as text (indb's lines, then DuckDB's plan)."""
        return self.format in (None, "text", "default")


def plan_explain(tree: ExplainTree, catalog: CatalogFacts,
                 plan_statement: Callable[[exp.Expr, CatalogFacts], Any]) -> Explain:
    statement = tree.this
    if isinstance(statement, ExplainTree):
        raise error_at(statement, "EXPLAIN explains a statement, not another EXPLAIN")
    inner = plan_statement(statement, catalog)
    if tree.args.get("analyze") and not isinstance(inner, Query):
        raise error_at(tree, "EXPLAIN ANALYZE runs the statement, so it takes only queries; "
                             "EXPLAIN shows what a write would do without doing it")
    explained = Explain(inner, bool(tree.args.get("analyze")), tree.args.get("format"))
    if not explained.textual and not isinstance(inner, Query):
        raise error_at(tree, f"EXPLAIN (FORMAT {explained.format}) formats DuckDB's plan of a "
                             "query; EXPLAIN of another statement shows indb's plan as text")
    return explained


def plan_lines(plan: Any) -> list[tuple[str, str]]:
    """A plan as (key, value) lines, for EXPLAIN: its kind, then each field in SQL or words."""
    lines = [("plan", type(plan).__name__)]
    for item in dataclasses.fields(plan):
        value = getattr(plan, item.name)
        if item.name == "node" or value is None or value == () or value is False:
            continue
        if dataclasses.is_dataclass(value) and not isinstance(value, type | Column):
            lines += [(f"{item.name}.{key}" if key != "plan" else item.name, text)
                      for key, text in plan_lines(value)]
        elif isinstance(value, tuple) and value and dataclasses.is_dataclass(value[0]):
            for number, part in enumerate(value, start=1):
                lines += [(f"{item.name}[{number}].{key}", text) for key, text in plan_lines(part)
                          if key != "plan"]
        else:
            lines.append((item.name, _text(value)))
    return lines


def _text(value: object) -> str:
    if isinstance(value, Column):
        return f"{value.name} {value.sql_type}" + ("" if value.nullable else " NOT NULL")
    if isinstance(value, exp.Expr):
        return render(value)
    if isinstance(value, tuple):
        return ", ".join(_text(v) for v in value)
    return str(value)


# -- time travel --------------------------------------------------------------------------------

@dataclass(frozen=True)
class SnapshotRef:
    """A table read at an old snapshot: by its id (``version``), or the one that was current at
    ``timestamp_us`` (microseconds since the epoch, UTC). ``view`` is the DuckDB view the
    statement reads it through."""

    table: str
    view: str
    version: int | None = None
    timestamp_us: int | None = None
    node: exp.Expr | None = field(default=None, compare=False, repr=False)


@dataclass(frozen=True)
class WithSnapshots:
    """Another plan whose SQL reads tables at old snapshots, through views made before it runs."""

    plan: Any
    snapshots: tuple[SnapshotRef, ...]


def bind_snapshots(tree: exp.Expr, catalog: CatalogFacts) -> tuple[exp.Expr, tuple[SnapshotRef, ...]]:
    """The tree with each ``t AT (VERSION => n)``, ``t AT (TIMESTAMP => '...')`` or ``t FOR
    SYSTEM_TIME AS OF '...'`` read through a view of that snapshot (named ``t`` still)."""
    found = [t for t in tree.find_all(exp.Table) if t.args.get("when") or t.args.get("version")]
    if not found:
        return tree, ()
    tree = tree.copy()
    refs: dict[str, SnapshotRef] = {}
    for table in [t for t in tree.find_all(exp.Table) if t.args.get("when") or t.args.get("version")]:
        _check_readable_here(tree, table)
        ref = _snapshot_ref(table, catalog)
        refs[ref.view] = ref
        alias = table.args.get("alias") or exp.TableAlias(this=exp.to_identifier(table.name))
        table.replace(exp.Table(this=exp.to_identifier(ref.view, quoted=True), alias=alias))
    return tree, tuple(refs.values())


def _check_readable_here(tree: exp.Expr, table: exp.Table) -> None:
    written = tree.this if isinstance(tree, exp.Insert | exp.Update | exp.Merge | exp.Delete
                                      | exp.Alter) else None
    if isinstance(written, exp.Schema):
        written = written.this
    if table is written or (isinstance(tree, exp.Copy) and tree.args.get("kind")):
        raise error_at(table, "a write changes the table's current snapshot; AT (...) reads "
                              "old ones (restore with INSERT INTO t SELECT * FROM t AT (...))")
    if isinstance(tree, exp.Create) and str(tree.args.get("kind")).upper() == "VIEW":
        raise error_at(table, "a view cannot keep an old snapshot (VACUUM removes them); read "
                              "t AT (...) in the queries instead")
    if table.find_ancestor(exp.Kwarg) is not None:
        raise error_at(table, "a function's inputs are read by its instances, at the tables' "
                              "current snapshots; time travel (AT ...) works in queries")
    if not isinstance(tree, exp.Query | exp.Values | exp.Insert | exp.Create | exp.Copy
                      | exp.Update | exp.Merge | exp.Delete | ExplainTree):
        raise error_at(table, "time travel (AT ...) works in queries and in what they feed: "
                              "INSERT, CREATE TABLE AS, COPY ... TO, UPDATE and MERGE sources")


def _snapshot_ref(table: exp.Table, catalog: CatalogFacts) -> SnapshotRef:
    name = existing_table(table_name(table), catalog)
    when: exp.Expr = table.args.get("when") or table.args["version"]
    kind = str(when.args.get("kind") if isinstance(when, exp.HistoricalData) else when.this).upper()
    if isinstance(when, exp.Version) and str(when.args.get("kind")).upper() != "AS OF":
        raise error_at(when, "time travel reads one snapshot: FOR SYSTEM_TIME AS OF '...'")
    if isinstance(when, exp.HistoricalData) and str(when.this).upper() != "AT":
        raise error_at(when, "time travel reads one snapshot: AT (VERSION => n) or "
                             "AT (TIMESTAMP => '...')")
    value = when.expression
    if kind == "VERSION":
        if not (isinstance(value, exp.Literal) and value.name.isdigit()):
            raise error_at(value or when, "VERSION takes a snapshot id, a whole number (SHOW "
                                          "SNAPSHOTS t lists them)")
        return SnapshotRef(name, f"{SNAPSHOT_VIEW_PREFIX}{name}_v{value.name}", version=int(value.name),
                           node=when)
    if kind in ("TIMESTAMP", "SYSTEM_TIME"):
        moment = _timestamp_us(value, when)
        return SnapshotRef(name, f"{SNAPSHOT_VIEW_PREFIX}{name}_t{moment}", timestamp_us=moment,
                           node=when)
    raise error_at(when, f"time travel by {kind} is not supported; use VERSION => snapshot id "
                         "or TIMESTAMP => '...'")


def _timestamp_us(value: exp.Expr | None, where: exp.Expr) -> int:
    """A timestamp literal in microseconds since the epoch; without a UTC offset it is UTC."""
    if isinstance(value, exp.Cast) and isinstance(value.this, exp.Literal):
        value = value.this
    if not (isinstance(value, exp.Literal) and value.is_string):
        raise error_at(value or where, "TIMESTAMP takes a timestamp in quotes, as "
                                       "'2026-01-05 09:30:00' (UTC) or '2026-01-05 09:30:00+01'")
    try:
        moment = datetime.datetime.fromisoformat(value.name)
    except ValueError:
        raise error_at(value, f"{value.name!r} is not a timestamp; write it as "
                              "'2026-01-05 09:30:00' (UTC) or '2026-01-05 09:30:00+01'") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=datetime.UTC)
    return round(moment.timestamp() * 1_000_000)


# -- VACUUM, OPTIMIZE, SHOW SNAPSHOTS ---------------------------------------------------------

@dataclass(frozen=True)
class Vacuum:
    """Expire all but the newest ``retain`` snapshots of ``table`` (None: of every table) and
    delete the files no retained snapshot reads."""

    table: str | None
    retain: int = 1


@dataclass(frozen=True)
class Optimize:
    """Rewrite each shard's small files of ``table`` (None: of every table) into fewer."""

    table: str | None


@dataclass(frozen=True)
class ShowSnapshots:
    table: str


def plan_vacuum(tree: VacuumTree, catalog: CatalogFacts) -> Vacuum:
    retain = tree.args.get("retain")
    if retain is not None and not (retain.is_int and int(retain.name) >= 1):
        raise error_at(retain, "RETAIN keeps a number of snapshots, at least 1 (the current one)")
    return Vacuum(_optional_table(tree, catalog), int(retain.name) if retain is not None else 1)


def plan_optimize(tree: OptimizeTree, catalog: CatalogFacts) -> Optimize:
    return Optimize(_optional_table(tree, catalog))


def plan_show_snapshots(tree: ShowSnapshotsTree, catalog: CatalogFacts) -> ShowSnapshots:
    return ShowSnapshots(existing_table(table_name(tree.this), catalog))


def _optional_table(tree: exp.Expr, catalog: CatalogFacts) -> str | None:
    return None if tree.this is None else existing_table(table_name(tree.this), catalog)
