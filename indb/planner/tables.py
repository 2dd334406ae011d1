"""Plans for table statements: CREATE/DROP TABLE, INSERT, DELETE, SHOW TABLES, DESCRIBE, queries,
and bulk loads from Python (``Connection.load``)."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol, TypeVar, cast

import pyarrow as pa
from sqlglot import exp

from indb.catalog.names import (DATABASE, DEFAULT_SCHEMA, POSTGRES_SCHEMA, checked_column_name,
                                checked_table_name, qualified, split_name)
from indb.catalog.sequences import FUNCTION_NAMES, sequence_name, unwrapped
from indb.catalog.types import Column, Identity, canonical_sql_type, storage_type_of
from indb.errors import CatalogError, DataError, OptionError, SchemaError, not_found
from indb.parser import ReplicatedProperty, ShardKey, error_at, render
from indb.parser.dialect import OnCommitDropProperty
from indb.parser.kinetica import StorageClause
from indb.planner.constraints import (References, checks_of, column_names, foreign_keys_of,
                                      is_constraint, is_foreign_key, named_key, uniques_of)
from indb.planner.names import find_identifier, new_name, spelling, table_name

if TYPE_CHECKING:
    from indb.registry.environments import EnvironmentInfo
    from indb.registry.functions import FunctionInfo
    from indb.registry.models import ModelInfo

# Kinetica's column properties, as in ``id INTEGER(SHARD_KEY)`` or ``name VARCHAR(64, DICT)``:
# the keys are read; these storage hints mean nothing to Parquet files and are accepted as no-ops
KEY_PROPERTIES = ("SHARD_KEY", "PRIMARY_KEY")
IGNORED_PROPERTIES = ("DICT", "TEXT_SEARCH", "STORE_ONLY", "DISK_OPTIMIZED")
STAGE_TABLE = "__indb_stage"  # the DuckDB temp table an INSERT fills before its rows are written
MAX_SHARDS = 4096
# a temporary table's (engine/temporary.py places it in its session's schema before planning)
TEMPORARY_PROPERTIES = (exp.TemporaryProperty, exp.GlobalProperty, exp.OnCommitProperty,
                        OnCommitDropProperty)


def is_temporary(tree: exp.Expr) -> bool:
    """Whether a CREATE makes a temporary table or view (``CREATE TEMP TABLE``)."""
    properties = tree.args.get("properties")
    return properties is not None and any(isinstance(p, exp.TemporaryProperty)
                                          for p in properties.expressions)


class CatalogFacts(Protocol):
    """What the planner needs to know about the catalog."""

    default_shards: int

    def exists(self, name: str) -> bool: ...

    def schema_exists(self, name: str) -> bool: ...

    def function(self, name: str) -> FunctionInfo | None: ...

    def environment(self, name: str) -> EnvironmentInfo | None: ...

    def model(self, name: str, version: int | str | None) -> ModelInfo:
        """A model version (None: the latest; a string: an alias); CatalogError if unknown."""


@dataclass(frozen=True)
class CreateTable:
    name: str
    columns: tuple[Column, ...]  # empty for CREATE TABLE AS: the query's result decides
    shard_key: tuple[str, ...]
    shards: int
    replicated: bool
    if_not_exists: bool = False
    query: str | None = None  # CREATE TABLE ... AS <query>
    replace: bool = False     # CREATE OR REPLACE: the old table stays until the new one commits
    primary_key: tuple[str, ...] = ()
    checks: tuple[tuple[str, str], ...] = ()  # CHECK constraints: (name, condition as DuckDB SQL)
    uniques: tuple[tuple[str, tuple[str, ...]], ...] = ()  # UNIQUE constraints: (name, columns)
    foreign_keys: tuple[References, ...] = ()
    spelling: str | None = None  # the name as its quotes spelled it (``names.spelling``)


@dataclass(frozen=True)
class Insert:
    table: str
    staged_sql: str  # the INSERT aimed at STAGE_TABLE, which has the table's columns
    returning: Returning | None = None
    overriding: str | None = None  # OVERRIDING SYSTEM VALUE, or USER VALUE (identities)
    parameters: tuple[int, ...] | None = None  # the statement's ($n) the staging takes; None: all
    overwrite: bool = False  # INSERT OVERWRITE (Spark's, Snowflake's): its rows replace the table's


@dataclass(frozen=True)
class Returning:
    """A write's ``RETURNING`` list, over the rows it inserted, changed (their new values) or
    deleted, which its expressions call ``alias`` (the table's name, or the statement's alias)."""

    alias: str
    expressions: tuple[exp.Expr, ...]


@dataclass(frozen=True)
class Delete:
    table: str
    where: exp.Expr | None  # a condition over the table's columns; None deletes all rows
    returning: Returning | None = None
    target: str = ""  # what ``where`` calls the table (its alias, else its name without schema)


@dataclass(frozen=True)
class Truncate:
    """``TRUNCATE [TABLE] a, b [RESTART IDENTITY] [CASCADE]``: every row of each table deleted
    (with RESTART IDENTITY, its identity columns numbered from their start again; with CASCADE,
    the tables whose foreign keys reference them too, as PostgreSQL's)."""

    names: tuple[str, ...]
    restart_identity: bool = False
    cascade: bool = False


@dataclass(frozen=True)
class DropTable:
    """``DROP TABLE [IF EXISTS] a, b [CASCADE]``: the tables in order (with IF EXISTS, those
    that exist); CASCADE drops the foreign keys of other tables that reference them."""

    names: tuple[str, ...]
    if_exists: bool
    cascade: bool = False


@dataclass(frozen=True)
class Comment:
    """``COMMENT ON TABLE t IS 'text'`` or ``COMMENT ON COLUMN t.c IS 'text'`` (``column``);
    ``text`` None: ``IS NULL``, which removes it."""

    table: str
    column: str | None
    text: str | None


@dataclass(frozen=True)
class ShowTables:
    """``SHOW TABLES [FROM s] [LIKE 'pattern']``: the tables of schema ``schema`` (None: of
    every schema) whose names ``like`` matches (``name_pattern``)."""
    schema: str | None = None
    like: str | None = None
    every: bool = False  # DuckDB's SHOW ALL TABLES: the tables and views the user may read


@dataclass(frozen=True)
class DescribeTable:
    name: str


@dataclass(frozen=True)
class Query:
    sql: str


@dataclass(frozen=True)
class Load:
    """``Connection.load``: rows from ``source`` (Arrow, pandas, a .parquet/.csv path) into
    ``table``, which is created from the data's columns (with this placement) if it is new."""

    table: str
    source: object
    create: bool                 # the table does not exist yet
    shard_key: tuple[str, ...]
    shards: int
    replicated: bool
    progress: Callable[[int], None] | None = None  # hears the rows written so far
    truncate_timestamps: bool = False  # drop nanoseconds bound for microsecond columns
    overriding: str | None = None  # SYSTEM: GENERATED ALWAYS columns take the values given


# PostgreSQL's storage parameters (WITH (fillfactor = 100), as pgbench and dumps write them;
# autovacuum_* too, and those of toast.): accepted, with no effect
PG_STORAGE_PARAMETERS = frozenset({"FILLFACTOR", "TOAST_TUPLE_TARGET", "PARALLEL_WORKERS",
                                   "USER_CATALOG_TABLE", "VACUUM_INDEX_CLEANUP", "VACUUM_TRUNCATE",
                                   "LOG_AUTOVACUUM_MIN_DURATION"})


def plan_create(tree: exp.Create, catalog: CatalogFacts) -> CreateTable:
    if str(tree.args.get("kind", "")).upper() != "TABLE":
        raise error_at(tree, f"CREATE {tree.args.get('kind')} is not supported; indb creates tables")
    replace = bool(tree.args.get("replace"))
    if replace and tree.args.get("exists"):
        raise error_at(tree, "CREATE OR REPLACE TABLE and IF NOT EXISTS contradict each other; "
                             "use one")
    schema = tree.this if isinstance(tree.this, exp.Schema) else None
    if schema is not None and isinstance(tree.expression, exp.Query) and schema.expressions \
            and all(isinstance(c, exp.Identifier) for c in schema.expressions):
        tree = _named_columns(tree, schema)  # CREATE TABLE t (a, b) AS query
        schema = None
    name = new_name(schema.this if schema else tree.this)
    existing_schema(name, schema.this if schema else tree.this, catalog)
    if catalog.exists(name) and not tree.args.get("exists") and not replace:
        raise CatalogError(f"table {name} already exists; DROP TABLE {name} first, or use "
                           "CREATE TABLE IF NOT EXISTS or CREATE OR REPLACE TABLE")
    properties = _properties(tree)
    replicated = bool(properties.pop("REPLICATED", False))
    with_data = bool(properties.pop("WITH_DATA", True))
    columns, shard_key = column_defs(schema) if schema else ((), ())
    primary_key = primary_key_of(schema) if schema else ()
    if "SHARD_KEY" in properties:
        shard_key = tuple(k.strip() for k in str(properties.pop("SHARD_KEY")).split(","))
    shards = properties.pop("SHARDS", catalog.default_shards)
    for key in [k for k in properties if k.removeprefix("TOAST.") in PG_STORAGE_PARAMETERS
                or k.removeprefix("TOAST.").startswith("AUTOVACUUM_")]:
        del properties[key]  # PostgreSQL's tuning of pages and vacuum: Iceberg files have neither
    if properties:
        raise error_at(tree, f"unknown table option {sorted(properties)[0]}; indb knows SHARDS "
                             "and SHARD_KEY")
    if not isinstance(shards, int) or not 1 <= shards <= MAX_SHARDS:
        raise error_at(tree, f"SHARDS must be a whole number from 1 to {MAX_SHARDS}, not {shards!r}")
    if replicated and shard_key:
        raise error_at(tree, "a REPLICATED table has no SHARD KEY: every shard sees all of it")
    query = tree.expression
    if not with_data and query is None:
        raise error_at(tree, "WITH NO DATA goes with CREATE TABLE ... AS query")
    if query is not None:
        if schema:
            raise error_at(tree, "CREATE TABLE AS takes its columns from the query; give the "
                                 "shard key as WITH (SHARD_KEY = 'col')")
        if not with_data:  # PostgreSQL's: the query's columns, none of its rows
            query = exp.select(exp.Star()).from_(exp.Subquery(
                this=query.copy(), alias=exp.TableAlias(this=exp.to_identifier("indb_no_data")))).limit(0)
        return CreateTable(name, (), shard_key, 1 if replicated else shards, replicated,
                           bool(tree.args.get("exists")), render(query), replace,
                           spelling=spelling(schema.this if schema else tree.this))
    if schema is None or not columns:
        raise error_at(tree, f"CREATE TABLE {name} needs at least one column, as in "
                             f"CREATE TABLE {name} (id BIGINT)")
    names = {c.name.lower() for c in columns}
    for key in shard_key:
        if key.lower() not in names:
            raise error_at(find_identifier(schema, key) or tree,
                           f"SHARD KEY names {key}, which is not a column of {name}")
    shard_key = tuple(next(c.name for c in columns if c.name.lower() == k.lower()) for k in shard_key)
    primary_key = column_names(primary_key, columns, schema, "PRIMARY KEY", name)
    if primary_key:
        if not shard_key and not replicated and shardable(primary_key, columns):
            shard_key = primary_key  # Kinetica's rule: the primary key is the shard key then
        outside = [k for k in shard_key if k not in primary_key]
        if outside:
            raise error_at(find_identifier(schema, outside[0]) or tree,
                           f"the PRIMARY KEY of {name} must include its SHARD KEY, as Kinetica "
                           f"requires (rows of one key live on one shard); add {outside[0]} to it")
        columns = tuple(dataclasses.replace(c, nullable=False) if c.name in primary_key else c
                        for c in columns)
    spelled = spelling(schema.this)
    shown = qualified(split_name(name)[0], spelled) if spelled else name  # names constraints
    checks, uniques = checks_of(schema, shown, columns), uniques_of(schema, shown, columns)
    return CreateTable(name, columns, shard_key, 1 if replicated else shards, replicated,
                       bool(tree.args.get("exists")), None, replace, primary_key, checks, uniques,
                       foreign_keys_of(schema, shown, columns, {n for n, _ in checks + uniques}),
                       spelled)


def primary_key_of(schema: exp.Schema) -> tuple[str, ...]:
    """The PRIMARY KEY of a column list: ``[CONSTRAINT name] PRIMARY KEY (a, b)`` (the name is
    not kept), one column's ``a INT PRIMARY KEY``, or Kinetica's ``a INT(PRIMARY_KEY)`` on each
    key column; SqlError if given twice."""
    keys = [tuple(i.name for i in item.expressions) for item in map(named_key, schema.expressions)
            if isinstance(item, exp.PrimaryKey)]
    keys += [(item.name,) for item in schema.expressions if isinstance(item, exp.ColumnDef)
             and any(isinstance(c.kind, exp.PrimaryKeyColumnConstraint) for c in item.constraints)]
    by_property = _columns_with(schema, "PRIMARY_KEY")
    keys += [by_property] if by_property else []
    if len(keys) > 1:
        raise error_at(schema, "a table has one PRIMARY KEY; list its columns in PRIMARY KEY (a, b)")
    return keys[0] if keys else ()


@dataclass(frozen=True)
class Analyze:
    """``ANALYZE [VERBOSE] [t [(c, ...)]]``, accepted and changing nothing: each data file's
    statistics (Parquet's, and Iceberg's in its manifest) are written with it, so PostgreSQL
    clients' upkeep (pgbench, psql scripts) runs. ``tables``: those named, checked to exist."""

    tables: tuple[str, ...]


def plan_analyze(tree: exp.Analyze, catalog: CatalogFacts) -> Analyze:
    return Analyze(tuple(existing_table(table_name(t), catalog) for t in tree.args.get("tables") or []))


def column_defs(schema: exp.Schema) -> tuple[tuple[Column, ...], tuple[str, ...]]:
    """The columns (with SQL types checked) and the SHARD KEY of a column list."""
    columns: list[Column] = []
    shard_key = _columns_with(schema, "SHARD_KEY")
    seen: set[str] = set()
    for item in schema.expressions:
        if isinstance(item, ShardKey):
            if shard_key:
                raise error_at(item, "the shard key is given twice: as SHARD KEY (...) and as "
                                     "columns' SHARD_KEY; give it once")
            shard_key = tuple(i.name for i in item.expressions)
            continue
        if isinstance(named_key(item), exp.PrimaryKey) or is_constraint(item) \
                or is_constraint(item, exp.UniqueColumnConstraint) or is_foreign_key(item):
            continue  # primary_key_of, checks_of, uniques_of, foreign_keys_of
        if not isinstance(item, exp.ColumnDef):
            raise error_at(item, f"{render(item)} is not supported in CREATE TABLE; indb knows "
                                 "columns, SHARD KEY (...), PRIMARY KEY (...), UNIQUE (...), "
                                 "CHECK (...) and FOREIGN KEY (...) REFERENCES t (...)")
        name = item.name
        if name.lower() in seen:
            raise error_at(item, f"column {name} is defined twice")
        try:
            checked_column_name(name)
        except SchemaError as error:
            raise error_at(item, str(error)) from None
        seen.add(name.lower())
        computed = generated_expression(item)
        if item.args.get("kind") is None and computed is None:
            raise error_at(item, f"column {name} needs a type")
        sql_type, serial = "", None  # a generated column's type may be its expression's (engine)
        if item.args.get("kind") is not None:
            kind = _without_properties(item)
            serial = SERIALS.get(str(kind.args.get("kind") or kind.this.name).upper()) \
                if kind.this in (exp.DataType.Type.USERDEFINED, *SERIAL_TYPES) else None  # PG's
            try:
                sql_type = canonical_sql_type(serial or kind.sql(dialect="duckdb"))
                storage_type_of(sql_type)  # refuses types Iceberg cannot hold
            except SchemaError as error:
                raise error_at(item, str(error)) from None
        not_null, default, identity = _constraints(item, Identity(name) if serial else None)
        comment = next((c.kind.name for c in item.constraints
                        if isinstance(c.kind, exp.CommentColumnConstraint)), None)
        columns.append(Column(name, sql_type, not (not_null or identity), default, identity,
                              comment, computed, collation_of(item)))
    return tuple(columns), shard_key


def generated_expression(item: exp.ColumnDef) -> str | None:
    """A generated column's expression (``GENERATED ALWAYS AS (expr)``, ``AS (expr)``), as
    DuckDB SQL; None for a column of another kind."""
    found = next((c.kind for c in item.constraints
                  if isinstance(c.kind, exp.ComputedColumnConstraint)), None)
    if found is None:
        return None
    if found.this.find(exp.Subquery, exp.Select, exp.Placeholder, exp.Parameter):
        raise error_at(item, f"generated column {item.name} is computed from its row's columns: "
                             "no subquery, no parameter")
    return render(found.this.unnest())


SERIALS = {"SERIAL": "INTEGER", "BIGSERIAL": "BIGINT", "SMALLSERIAL": "SMALLINT"}  # numbered
SERIAL_TYPES = (exp.DataType.Type.SERIAL, exp.DataType.Type.BIGSERIAL, exp.DataType.Type.SMALLSERIAL)


def _constraints(item: exp.ColumnDef,
                 identity: Identity | None) -> tuple[bool, str | None, Identity | None]:
    """A column's NOT NULL, DEFAULT (a constant expression, as DuckDB SQL) and identity
    (``GENERATED [ALWAYS | BY DEFAULT] AS IDENTITY [(START WITH n INCREMENT BY m)]``, or its
    type's: a SERIAL's); SqlError for a constraint indb would not enforce."""
    not_null, default = False, None
    for constraint in item.constraints:
        kind = constraint.kind
        if isinstance(kind, exp.NotNullColumnConstraint):
            not_null = not_null or not kind.args.get("allow_null")
        elif isinstance(kind, exp.DefaultColumnConstraint):
            if kind.this.find(exp.Column):
                raise error_at(kind, "a DEFAULT is a constant or a function of no column "
                                     "(DEFAULT 0, DEFAULT current_timestamp)")
            default = checked_default(kind.this)
        elif isinstance(kind, exp.GeneratedAsIdentityColumnConstraint) \
                and kind.args.get("expression") is None:
            numbers = [kind.args.get(k) for k in ("start", "increment")]
            if any(n is not None and not (isinstance(n, exp.Literal) and n.is_int)
                   for n in numbers):
                raise error_at(kind, "an identity's START WITH and INCREMENT BY are integers")
            start, increment = (int(n.name) if n is not None else 1 for n in numbers)
            identity = Identity(item.name, start, increment, always=kind.this is True)
        elif isinstance(kind, exp.AutoIncrementColumnConstraint):  # MySQL's and SQLite's:
            identity = Identity(item.name)  # numbered as BY DEFAULT AS IDENTITY numbers it
        elif isinstance(kind, exp.ComputedColumnConstraint):  # generated_expression
            continue
        elif not isinstance(kind, exp.PrimaryKeyColumnConstraint | exp.CommentColumnConstraint
                            | exp.CheckColumnConstraint | exp.UniqueColumnConstraint
                            | exp.Reference | exp.CollateColumnConstraint):
            # (a CHECK: checks_of; UNIQUE: uniques_of; REFERENCES: foreign_keys_of; COLLATE:
            # collation_of)
            raise error_at(item, f"column constraint {render(constraint)} is not supported; "
                                       "indb knows NOT NULL, DEFAULT, PRIMARY KEY, UNIQUE, "
                                       "CHECK, REFERENCES, GENERATED ... AS IDENTITY and "
                                       "GENERATED ALWAYS AS (...)")
    if default is not None and identity is not None:
        raise error_at(item, f"column {item.name} has both a DEFAULT and an identity: give one")
    if (default is not None or identity is not None) and generated_expression(item) is not None:
        raise error_at(item, f"column {item.name} is generated: it takes no DEFAULT and is no "
                             "identity")
    return not_null, default, identity


# collations that are the default one (DuckDB's binary order): PostgreSQL's names of it
DEFAULT_COLLATIONS = frozenset({"default", "c", "posix", "binary", "ucs_basic"})


def collation_of(item: exp.ColumnDef) -> str | None:
    """A column's ``COLLATE name``, as DuckDB names it (lower case; ``nocase.noaccent``); None for
    none, or for the default one (PostgreSQL's ``"C"``, ``"POSIX"``, ``pg_catalog."default"``).
    The engine checks that DuckDB has it."""
    found = next((c.kind.this for c in item.constraints
                  if isinstance(c.kind, exp.CollateColumnConstraint)), None)
    if found is None:
        return None
    name = (found.name if isinstance(found, exp.Column | exp.Identifier | exp.Var | exp.Literal)
            else render(found)).lower()
    if isinstance(found, exp.Column) and found.table and found.table.lower() != "pg_catalog":
        name = f"{found.table.lower()}.{name}"  # (nocase.noaccent, read as a column's name)
    return None if name in DEFAULT_COLLATIONS else name


def checked_default(node: exp.Expr) -> str:
    """A DEFAULT as the catalog keeps it: DuckDB SQL, ``nextval('s')`` with the sequence's
    catalog name (a DEFAULT that calls a sequence's functions otherwise is refused)."""
    calls = [c for c in node.find_all(exp.Anonymous) if c.name.lower() in FUNCTION_NAMES]
    if not calls:
        return render(node)
    node = node.unnest()  # DEFAULT(nextval('s')), as DuckDB's EXPORT DATABASE writes it
    target = unwrapped(node.expressions[0]) if isinstance(node, exp.Anonymous) \
        and node.name.lower() == "nextval" and len(node.expressions) == 1 else None
    if not (isinstance(target, exp.Literal) and target.is_string):
        raise error_at(calls[0], "a DEFAULT calls a sequence as nextval('s') alone")
    try:
        name = sequence_name(target.name)
    except DataError as error:
        raise error_at(target, str(error)) from None
    return render(exp.Anonymous(this="nextval", expressions=[exp.Literal.string(name)]))


def _column_properties(item: exp.ColumnDef) -> list[exp.DataTypeParam]:
    """Kinetica's properties among a column type's parameters: words, where sizes are numbers."""
    kind = item.args.get("kind")
    return [p for p in kind.expressions if isinstance(p, exp.DataTypeParam) and isinstance(p.this, exp.Var)] \
        if isinstance(kind, exp.DataType) else []


def _columns_with(schema: exp.Schema, prop: str) -> tuple[str, ...]:
    """The columns that have a Kinetica property (SHARD_KEY, PRIMARY_KEY), in table order."""
    return tuple(item.name for item in schema.expressions if isinstance(item, exp.ColumnDef)
                 and any(p.name.upper() == prop for p in _column_properties(item)))


def _without_properties(item: exp.ColumnDef) -> exp.DataType:
    """A column's type without Kinetica's properties; SqlError for one indb does not know."""
    kind = item.args["kind"]
    properties = _column_properties(item)
    for prop in properties:
        if prop.name.upper() not in KEY_PROPERTIES + IGNORED_PROPERTIES:
            raise error_at(item, f"column property {prop.name} is not supported; indb knows "
                                 f"{', '.join(KEY_PROPERTIES + IGNORED_PROPERTIES)}")
    if not properties:
        return kind
    kind = kind.copy()
    kind.set("expressions", [p for p in kind.expressions if p.name.upper() not in
                             KEY_PROPERTIES + IGNORED_PROPERTIES or not isinstance(p.this, exp.Var)])
    return kind


TABLE_FORMATS = ("ICEBERG", "PARQUET")  # Spark's USING of what every indb table is


def _properties(tree: exp.Create) -> dict[str, object]:
    out: dict[str, object] = {}
    properties = tree.args.get("properties")
    for prop in properties.expressions if properties else []:
        if isinstance(prop, ReplicatedProperty):
            out["REPLICATED"] = True
        elif isinstance(prop, exp.WithDataProperty):  # CREATE TABLE AS's [WITH [NO] DATA]
            out["WITH_DATA"] = not prop.args.get("no")
        elif isinstance(prop, TEMPORARY_PROPERTIES + (StorageClause,)):  # (the engine placed a
            continue  # temporary table in its session's schema; Kinetica's storage: no effect)
        elif isinstance(prop, exp.FileFormatProperty):  # Spark's USING parquet: what indb's are
            if prop.name.upper() not in TABLE_FORMATS:
                raise error_at(tree, f"USING {prop.name} is not supported: indb's tables are "
                                     "Iceberg tables of Parquet files (USING ICEBERG, USING "
                                     "PARQUET)")
        elif type(prop) is exp.Property:
            value = prop.args["value"]
            key = render(prop.this) if isinstance(prop.this, exp.Dot) else prop.name  # toast.x
            out[key.upper()] = int(value.name) if isinstance(value, exp.Literal) and value.is_int \
                else value.name
        else:
            raise error_at(tree, f"table option {render(prop)} is not supported")
    return out


def write_target(tree: exp.Expr) -> exp.Expr:
    """What a write names as its table (INSERT's, COPY's, UPDATE's), without a column list
    written after it (``INSERT INTO t [AS a] (c, ...)``, ``COPY t (c, ...) FROM ...``)."""
    return tree.this.this if isinstance(tree.this, exp.Schema) else tree.this


def plan_insert(tree: exp.Insert, catalog: CatalogFacts) -> Insert:
    target = write_target(tree)
    name = existing_table(table_name(target), catalog)
    if isinstance(target, exp.Table) and target.args.get("partition") is not None:
        raise error_at(target.args["partition"], "INSERT OVERWRITE ... PARTITION is not "
                       "supported: indb's tables have no partitions of their own to replace; "
                       "DELETE the rows, then INSERT")
    staged = tree.copy()
    staged.set("returning", None)
    staged.set("overwrite", None)  # the stage is filled as by any INSERT; the write replaces
    write_target(staged).replace(exp.to_table(STAGE_TABLE))
    return Insert(name, render(staged), returning(tree, target.alias or target.name),
                  tree.args.get("overriding"), overwrite=bool(tree.args.get("overwrite")))


Written = TypeVar("Written", bound=exp.Expr)  # a statement that writes, as it is typed


def ctes_inlined(tree: Written) -> Written:
    """A write's ``WITH`` put in place: each table reference naming one of its CTEs read as the
    CTE's query (a subquery of that name, with the CTE's column names), for the writes whose
    parts run apart (DELETE, UPDATE, MERGE). SqlError for WITH RECURSIVE."""
    with_ = tree.args.get("with_")
    if not isinstance(with_, exp.With):
        return tree
    if with_.args.get("recursive"):
        raise error_at(with_, "WITH RECURSIVE is not supported in a DELETE, UPDATE or MERGE: "
                              "put the rows in a temporary table first")
    tree = tree.copy()
    ctes = tree.args["with_"].expressions
    tree.set("with_", None)
    defined: dict[str, exp.CTE] = {}

    def placed(node: exp.Expr) -> exp.Expr:
        cte = defined.get(node.name.lower()) if isinstance(node, exp.Table) and not node.db \
            and isinstance(node.this, exp.Identifier) else None
        if cte is None:
            return node
        alias = cte.args["alias"]
        return exp.Subquery(this=cte.this.copy(), alias=exp.TableAlias(
            this=exp.to_identifier(node.alias or node.name),
            columns=[c.copy() for c in alias.columns]))
    for cte in ctes:  # a CTE may read those before it
        cte.set("this", cte.this.transform(placed))
        defined[cte.alias.lower()] = cte
    return cast(Written, tree.transform(placed))


def plan_delete(tree: exp.Delete, catalog: CatalogFacts) -> Delete:
    tree = ctes_inlined(tree)
    if not isinstance(tree.this, exp.Table):
        raise error_at(tree, "DELETE takes FROM and a table: DELETE FROM t [WHERE ...]")
    for unsupported in ("order", "limit"):  # MySQL's: DuckDB's DELETE has neither
        if tree.args.get(unsupported):
            raise error_at(tree.args[unsupported], "DELETE with ORDER BY or LIMIT is not "
                                                   "supported: choose the rows in WHERE (WHERE "
                                                   "k IN (SELECT k FROM t ORDER BY ... LIMIT n))")
    name = existing_table(table_name(tree.this), catalog)
    target = tree.this.alias or tree.this.name  # t of s.t, as PostgreSQL's statements call it
    where = tree.args.get("where")
    condition = where.this if where else None
    using = tree.args.get("using")
    if using:  # PostgreSQL's DELETE FROM t USING s WHERE ...: the rows some row of s matches
        matched = exp.select("1").from_(using[0].copy())
        for other in using[1:]:
            matched = matched.join(other.copy())
        condition = exp.Exists(this=matched.where(condition.copy()) if condition is not None
                               else matched)
    return Delete(name, condition, returning(tree, target), target)


def returning(tree: exp.Expr, alias: str) -> Returning | None:
    """The statement's ``RETURNING`` list, if any (``merge_action()`` in a MERGE's only)."""
    found = tree.args.get("returning")
    if found is None:
        return None
    if found.find(exp.Placeholder, exp.Parameter):
        raise error_at(found, "RETURNING takes no parameters: return columns and expressions "
                              "of them")
    action = next((f for f in found.find_all(exp.Anonymous) if f.name.lower() == MERGE_ACTION), None)
    if action is not None and not isinstance(tree, exp.Merge):
        raise error_at(action, "merge_action() can only be used in the RETURNING list of a MERGE")
    return Returning(alias, tuple(found.expressions))


MERGE_ACTION = "merge_action"  # PostgreSQL's: INSERT, UPDATE or DELETE, in a MERGE's RETURNING


def plan_drop(tree: exp.Drop, catalog: CatalogFacts) -> DropTable:
    if str(tree.args.get("kind", "")).upper() != "TABLE":
        raise error_at(tree, f"DROP {tree.args.get('kind')} is not supported")
    names = _all_existing(tree.args.get("tables") or [tree.this], tree, catalog)
    return DropTable(names, bool(tree.args.get("exists")), bool(tree.args.get("cascade")))


def plan_truncate(tree: exp.TruncateTable, catalog: CatalogFacts) -> Truncate:
    if tree.args.get("is_database"):
        raise error_at(tree, "TRUNCATE DATABASE is not supported; TRUNCATE names its tables")
    names = _all_existing(tree.expressions, tree, catalog)
    if tree.args.get("exists"):
        names = tuple(n for n in names if catalog.exists(n))
    return Truncate(names, str(tree.args.get("identity") or "").upper() == "RESTART",
                    str(tree.args.get("option") or "").upper() == "CASCADE")


def _all_existing(tables: list[exp.Expr], tree: exp.Expr, catalog: CatalogFacts) -> tuple[str, ...]:
    """The tables a DROP or TRUNCATE names; without IF EXISTS each must exist (one missing:
    none is changed, as in PostgreSQL)."""
    names = tuple(table_name(t) for t in tables)
    if not tree.args.get("exists"):
        for name in names:
            existing_table(name, catalog)
    return names


def plan_comment(tree: exp.Comment, catalog: CatalogFacts) -> Comment:
    kind = str(tree.args.get("kind") or "").upper()
    target, text = tree.this, tree.expression
    if kind not in ("TABLE", "COLUMN"):
        raise error_at(tree, f"COMMENT ON {kind} is not supported; indb keeps the comments of "
                             "tables and columns (COMMENT ON TABLE t, COMMENT ON COLUMN t.c)")
    if kind == "COLUMN":
        if not isinstance(target, exp.Column) or not target.table:
            raise error_at(target, "COMMENT ON COLUMN names a table's column: t.c")
        column: str | None = target.name
        target = exp.Table(this=target.args["table"], db=target.args.get("db"))
    else:
        column = None
    return Comment(existing_table(table_name(target), catalog), column,
                   None if isinstance(text, exp.Null) else text.name)


def plan_show(tree: exp.Show, catalog: CatalogFacts) -> ShowTables:
    """``SHOW TABLES``: DuckDB's ``FROM s`` (``FROM indb.s``; ``FROM indb``, the database: every
    schema), Spark's and MySQL's ``FROM|IN s``, Snowflake's ``IN SCHEMA s``, and ``LIKE``."""
    if tree.name.upper() == "ALL TABLES":
        return ShowTables(every=True)
    if tree.name.upper() != "TABLES":
        raise error_at(tree, f"SHOW {tree.name} is not supported; try SHOW TABLES")
    source, like = tree.args.get("from_"), tree.args.get("like")
    schema = None
    if isinstance(source, exp.Table):
        schema = source.name.lower()
        if not source.db and schema in (DATABASE, "memory") and not catalog.schema_exists(schema):
            schema = None  # the database, every schema of it
        elif schema == POSTGRES_SCHEMA or schema != DEFAULT_SCHEMA and \
                not catalog.schema_exists(schema):
            raise error_at(source, f"schema {source.name} does not exist; SHOW SCHEMAS lists them")
    return ShowTables(schema, like.name if like is not None else None)


def name_pattern(like: str | None) -> Callable[[str], bool]:
    """Whether a name matches a SHOW's ``LIKE`` (any name, for none): SQL's ``%`` and ``_``
    (MySQL's, Snowflake's), or Spark's ``*`` and ``|`` where the pattern has no ``%``; case
    does not count."""
    if like is None:
        return lambda name: True
    if "%" not in like and ("*" in like or "|" in like):
        parts = ["".join(".*" if c == "*" else re.escape(c) for c in p.strip())
                 for p in like.split("|")]
    else:
        parts = ["".join(".*" if c == "%" else "." if c == "_" else re.escape(c) for c in like)]
    pattern = re.compile("|".join(f"(?:{p})" for p in parts), re.IGNORECASE)
    return lambda name: pattern.fullmatch(name) is not None


def plan_describe(tree: exp.Describe, catalog: CatalogFacts) -> DescribeTable | Query:
    if isinstance(tree.this, exp.Table) and not tree.this.args.get("catalog"):
        return DescribeTable(existing_table(table_name(tree.this), catalog))
    if not isinstance(tree.this, exp.Query | exp.Table):  # SHOW MODELS, GRANT...: no columns
        raise error_at(tree.this, "DESCRIBE takes a table or a query: DESCRIBE t, "
                                  "DESCRIBE SELECT ...")
    return Query(render(tree))


def plan_query(tree: exp.Expr, catalog: CatalogFacts) -> Query:
    return Query(render(tree))


def plan_load(table: str, source: object, catalog: CatalogFacts, *,
              shard_key: tuple[str, ...] = (), shards: int | None = None,
              replicated: bool = False, progress: Callable[[int], None] | None = None,
              truncate_timestamps: bool = False, overriding: str | None = None) -> Load:
    """A bulk load from Python; the placement options apply when the table is created."""
    name = table.lower()
    schema, dot, rest = name.partition(".")
    if dot and schema == POSTGRES_SCHEMA and not catalog.schema_exists(schema):
        name = rest  # PostgreSQL's default schema is main (COPY public.t FROM STDIN, as pg_dump's)
    create = not catalog.exists(name)
    if create:
        try:
            name = checked_table_name(name)
        except SchemaError as error:
            raise OptionError(f"cannot load into {table!r}: {error}") from None
        schema = split_name(name)[0]
        if not catalog.schema_exists(schema):
            raise OptionError(f"cannot load into {table!r}: not a valid table name while schema "
                              f"{schema} does not exist; CREATE SCHEMA {schema} first")
    if shards is not None and (isinstance(shards, bool) or not isinstance(shards, int)
                               or not 1 <= shards <= MAX_SHARDS):
        raise OptionError(f"shards must be a whole number from 1 to {MAX_SHARDS}, not {shards!r}")
    if replicated and shard_key:
        raise OptionError("a replicated table has no shard key: every shard sees all of it; "
                          "pass shard_key or replicated=True, not both")
    count = 1 if replicated else (shards or catalog.default_shards)
    if overriding not in (None, "SYSTEM", "USER"):
        raise OptionError(f"overriding is 'SYSTEM' or 'USER' (as INSERT's OVERRIDING), not "
                          f"{overriding!r}")
    return Load(name, source, create, tuple(shard_key), count, replicated, progress,
                bool(truncate_timestamps), overriding)


def _named_columns(tree: exp.Create, schema: exp.Schema) -> exp.Create:
    """``CREATE TABLE t (a, b) AS query`` (PostgreSQL's, DuckDB's) as ``CREATE TABLE t AS
    columns_named(query)``."""
    tree = tree.copy()
    tree.set("this", schema.this.copy())
    tree.set("expression", columns_named(tree.expression, schema.expressions, "indb_ctas"))
    return tree


def is_default(value: exp.Expr) -> bool:
    """Whether a SET's, a MERGE INSERT's or an INSERT's value is the keyword DEFAULT (the
    column's DEFAULT, NULL without one; an identity's is numbered as the row is inserted)."""
    word = value.this if isinstance(value, exp.Column) and not value.table else value
    return isinstance(word, exp.Identifier | exp.Var) and not word.args.get("quoted") \
        and word.name.upper() == "DEFAULT"


def shardable(key: tuple[str, ...], columns: tuple[Column, ...]) -> bool:
    """Whether Iceberg's bucket() takes the key: several columns are sharded by their text
    joined; one by itself, unless it is a BOOLEAN or a float (a DOUBLE PRIMARY KEY's table is
    then spread by row id, its key checked across every shard)."""
    if len(key) != 1:
        return True
    kind = storage_type_of(next(c.sql_type for c in columns if c.name == key[0]))
    return not (pa.types.is_boolean(kind) or pa.types.is_floating(kind))


def columns_named(query: exp.Expr, names: list[exp.Expr], alias: str) -> exp.Select:
    """``SELECT * FROM (query) AS alias (names)``: the names name the query's first columns
    (a column list after a view's name, or after CREATE TABLE ... AS's)."""
    return exp.select(exp.Star()).from_(exp.Subquery(this=query, alias=exp.TableAlias(
        this=exp.to_identifier(alias), columns=[n.copy() for n in names])))


def existing_schema(name: str, node: exp.Expr, catalog: CatalogFacts) -> None:
    """SqlError unless the schema of a new table's name exists."""
    schema = split_name(name)[0]
    if schema != DEFAULT_SCHEMA and not catalog.schema_exists(schema):
        raise error_at(node, f"schema {schema} does not exist; CREATE SCHEMA {schema} first")


def existing_table(name: str, catalog: CatalogFacts) -> str:
    if not catalog.exists(name):
        raise not_found("table", name)
    return name


