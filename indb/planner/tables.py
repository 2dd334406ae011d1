"""Plans for table statements: CREATE/DROP TABLE, INSERT, DELETE, SHOW TABLES, DESCRIBE, queries."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from sqlglot import exp

from indb.catalog.types import Column, canonical_sql_type, storage_type_of
from indb.errors import CatalogError, SqlError
from indb.parser import ReplicatedProperty, ShardKey, render
from indb.registry.functions import FunctionInfo
from indb.registry.models import ModelInfo

STAGE_TABLE = "__indb_stage"  # the DuckDB temp table an INSERT fills before its rows are written


class CatalogFacts(Protocol):
    """What the planner needs to know about the catalog."""

    default_shards: int

    def exists(self, name: str) -> bool: ...

    def function(self, name: str) -> FunctionInfo | None: ...

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


@dataclass(frozen=True)
class Insert:
    table: str
    staged_sql: str  # the INSERT aimed at STAGE_TABLE, which has the table's columns


@dataclass(frozen=True)
class Delete:
    table: str
    where: exp.Expression | None  # a condition over the table's columns; None deletes all rows


@dataclass(frozen=True)
class DropTable:
    name: str
    if_exists: bool


@dataclass(frozen=True)
class ShowTables:
    pass


@dataclass(frozen=True)
class DescribeTable:
    name: str


@dataclass(frozen=True)
class Query:
    sql: str


Plan = CreateTable | Insert | Delete | DropTable | ShowTables | DescribeTable | Query


def plan_create(tree: exp.Create, catalog: CatalogFacts, sql: str | None) -> CreateTable:
    if str(tree.args.get("kind", "")).upper() != "TABLE":
        raise SqlError(f"CREATE {tree.args.get('kind')} is not supported; indb creates tables",
                       *position(tree), sql)
    if tree.args.get("replace"):
        raise SqlError("CREATE OR REPLACE TABLE is not supported; DROP TABLE first",
                       *position(tree), sql)
    schema = tree.this if isinstance(tree.this, exp.Schema) else None
    name = _table_name(schema.this if schema else tree.this, sql)
    if catalog.exists(name) and not tree.args.get("exists"):
        raise CatalogError(f"table {name} already exists; DROP TABLE {name} first, or use "
                           "CREATE TABLE IF NOT EXISTS")
    properties = _properties(tree, sql)
    replicated = properties.pop("REPLICATED", False)
    columns, shard_key = column_defs(schema, sql) if schema else ((), ())
    if "SHARD_KEY" in properties:
        shard_key = tuple(k.strip() for k in str(properties.pop("SHARD_KEY")).split(","))
    shards = properties.pop("SHARDS", catalog.default_shards)
    if properties:
        raise SqlError(f"unknown table option {sorted(properties)[0]}; indb knows SHARDS and "
                       "SHARD_KEY", *position(tree), sql)
    if not isinstance(shards, int) or not 1 <= shards <= 4096:
        raise SqlError(f"SHARDS must be a whole number from 1 to 4096, not {shards!r}",
                       *position(tree), sql)
    if replicated and shard_key:
        raise SqlError("a REPLICATED table has no SHARD KEY: every shard sees all of it",
                       *position(tree), sql)
    query = tree.expression
    if query is not None:
        if schema:
            raise SqlError("CREATE TABLE AS takes its columns from the query; give the shard "
                           "key as WITH (SHARD_KEY = 'col')", *position(tree), sql)
        return CreateTable(name, (), shard_key, 1 if replicated else shards, replicated,
                           bool(tree.args.get("exists")), render(query))
    names = {c.name.lower() for c in columns}
    for key in shard_key:
        if key.lower() not in names:
            raise SqlError(f"SHARD KEY names {key}, which is not a column of {name}",
                           *position(_find_identifier(schema, key) or tree), sql)
    shard_key = tuple(next(c.name for c in columns if c.name.lower() == k.lower()) for k in shard_key)
    return CreateTable(name, columns, shard_key, 1 if replicated else shards, replicated,
                       bool(tree.args.get("exists")))


def column_defs(schema: exp.Schema, sql: str | None) -> tuple[tuple[Column, ...], tuple[str, ...]]:
    columns, shard_key, seen = [], (), set()
    for item in schema.expressions:
        if isinstance(item, ShardKey):
            shard_key = tuple(i.name for i in item.expressions)
            continue
        if not isinstance(item, exp.ColumnDef):
            raise SqlError(f"{render(item)} is not supported in CREATE TABLE; indb knows columns "
                           "and SHARD KEY (...)", *position(item), sql)
        name = item.name
        if name.lower() in seen:
            raise SqlError(f"column {name} is defined twice", *position(item), sql)
        if name.lower().startswith("_indb_"):
            raise SqlError(f"column names starting with _indb_ are reserved ({name})",
                           *position(item), sql)
        seen.add(name.lower())
        if item.args.get("kind") is None:
            raise SqlError(f"column {name} needs a type", *position(item), sql)
        try:
            sql_type = canonical_sql_type(item.args["kind"].sql(dialect="duckdb"))
            storage_type_of(sql_type)  # refuses types Iceberg cannot hold
        except SqlError as error:
            raise SqlError(error.message, *position(item), sql) from None
        not_null = any(isinstance(c.kind, exp.NotNullColumnConstraint) and not c.kind.args.get("allow_null")
                       for c in item.constraints)
        columns.append(Column(name, sql_type, nullable=not not_null))
    return tuple(columns), shard_key


def _properties(tree: exp.Create, sql: str | None) -> dict[str, object]:
    out: dict[str, object] = {}
    properties = tree.args.get("properties")
    for prop in properties.expressions if properties else []:
        if isinstance(prop, ReplicatedProperty):
            out["REPLICATED"] = True
        elif type(prop) is exp.Property:
            value = prop.args["value"]
            out[prop.name.upper()] = int(value.name) if isinstance(value, exp.Literal) and value.is_int \
                else value.name
        else:
            raise SqlError(f"table option {render(prop)} is not supported", *position(tree), sql)
    return out


def plan_insert(tree: exp.Insert, catalog: CatalogFacts, sql: str | None) -> Insert:
    target = tree.this.this if isinstance(tree.this, exp.Schema) else tree.this
    name = _existing(_table_name(target, sql), catalog)
    if tree.args.get("overwrite") or tree.args.get("returning") or tree.args.get("conflict"):
        raise SqlError("INSERT OVERWRITE, ON CONFLICT and RETURNING are not supported",
                       *position(tree), sql)
    staged = tree.copy()
    staged_target = staged.this.this if isinstance(staged.this, exp.Schema) else staged.this
    staged_target.replace(exp.to_table(STAGE_TABLE))
    return Insert(name, render(staged))


def plan_delete(tree: exp.Delete, catalog: CatalogFacts, sql: str | None) -> Delete:
    if tree.args.get("using") or tree.args.get("returning"):
        raise SqlError("DELETE ... USING and RETURNING are not supported; use a subquery in "
                       "WHERE", *position(tree), sql)
    name = _existing(_table_name(tree.this, sql), catalog)
    where = tree.args.get("where")
    return Delete(name, where.this if where else None)


def plan_drop(tree: exp.Drop, catalog: CatalogFacts, sql: str | None) -> DropTable:
    if str(tree.args.get("kind", "")).upper() != "TABLE":
        raise SqlError(f"DROP {tree.args.get('kind')} is not supported", *position(tree), sql)
    tables = tree.args.get("tables") or [tree.this]
    if len(tables) > 1:
        raise SqlError("DROP TABLE takes one table at a time", *position(tree), sql)
    name = _table_name(tables[0], sql)
    if not tree.args.get("exists"):
        _existing(name, catalog)
    return DropTable(name, bool(tree.args.get("exists")))


def plan_show(tree: exp.Show, catalog: CatalogFacts, sql: str | None) -> ShowTables:
    if tree.name.upper() != "TABLES":
        raise SqlError(f"SHOW {tree.name} is not supported; try SHOW TABLES", *position(tree), sql)
    return ShowTables()


def plan_describe(tree: exp.Describe, catalog: CatalogFacts, sql: str | None) -> DescribeTable | Query:
    if isinstance(tree.this, exp.Table) and not tree.this.args.get("db"):
        return DescribeTable(_existing(_table_name(tree.this, sql), catalog))
    return Query(render(tree))


def plan_query(tree: exp.Expression, catalog: CatalogFacts, sql: str | None) -> Query:
    return Query(render(tree))


def _table_name(table: exp.Expression, sql: str | None) -> str:
    if not isinstance(table, exp.Table) or not table.name:
        raise SqlError("expected a table name", *position(table), sql)
    if table.args.get("catalog") or (table.db and table.db.lower() != "main"):
        raise SqlError(f"{render(table)}: indb tables live in one schema, main",
                       *position(table), sql)
    return table.name.lower()


def _existing(name: str, catalog: CatalogFacts) -> str:
    if not catalog.exists(name):
        raise CatalogError(f"table {name} does not exist; SHOW TABLES lists the tables")
    return name


def _find_identifier(tree: exp.Expression, name: str) -> exp.Identifier | None:
    return next((i for i in tree.find_all(exp.Identifier) if i.name.lower() == name.lower()), None)


def position(node: exp.Expression | None) -> tuple[int | None, int | None]:
    """Line and column of the first token of ``node`` that the parser located."""
    for candidate in ([node] + list(node.find_all(exp.Identifier)) if node is not None else []):
        meta = candidate.meta if candidate is not None else {}
        if "line" in meta:
            return meta["line"], meta["col"] - len(candidate.name) + 1 if candidate.name else meta["col"]
    return None, None
