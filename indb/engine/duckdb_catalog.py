"""DuckDB's catalog as a query reads it, telling of indb's tables as DuckDB tells of its own.

In the query session each of indb's tables is a DuckDB view over its files, so DuckDB's own
catalog said so: ``information_schema.tables`` gave ``VIEW`` (a script listing ``table_type =
'BASE TABLE'`` found nothing), ``information_schema.columns`` neither defaults nor NOT NULL,
``table_constraints`` and ``key_column_usage`` no key, ``duckdb_tables()`` no row. A statement
that reads one of them is given, while it runs, the facts of indb's tables as Arrow tables
(``QuerySession.sources``, as a kdb+ host's answer is), and reads the catalog relation joined
with them (or added to): a table's type, its columns' defaults and nullability, its keys and
checks, and ``duckdb_tables()``'s row of each (from ``duckdb_views()``'s, with the table's keys,
indexes, checks and ``CREATE TABLE``), and ``duckdb_indexes()``'s of each index CREATE INDEX
recorded. The PostgreSQL port's catalog is its own
(``server/pgcatalog.py``): it replaces these relations before a statement gets here.
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING

import pyarrow as pa
import sqlglot
from sqlglot import exp

from indb.catalog.names import split_name, sql_table
from indb.catalog.tables import TableInfo
from indb.engine.upkeep import table_ddl
from indb.parser import render_indb

if TYPE_CHECKING:
    from indb.engine.core import Engine

# the facts' DuckDB names
TABLES, COLUMNS, VARIABLES = "__indb_catalog_tables", "__indb_catalog_columns", "__indb_catalog_variables"
INDEXES = "__indb_catalog_indexes"  # CREATE INDEX's, a row each
KEYS = "__indb_catalog_keys"  # each constraint's columns (a CHECK's: none), a row each

# each relation read, and the query that reads it instead: DuckDB's own rows joined with the
# facts (TABLES and COLUMNS, by name)
_READ_AS = {
    ("information_schema", "tables"): """
        SELECT i.* REPLACE (coalesce(f.table_type, i.table_type) AS table_type)
        FROM information_schema.tables AS i LEFT JOIN __indb_catalog_tables AS f
        ON i.table_schema = f.schema_name AND i.table_name = f.table_name
        WHERE NOT starts_with(i.table_name, '__indb_catalog_')""",
    ("information_schema", "columns"): """
        SELECT i.* REPLACE (coalesce(f.column_default, i.column_default) AS column_default,
                            coalesce(f.is_nullable, i.is_nullable) AS is_nullable)
        FROM information_schema.columns AS i LEFT JOIN __indb_catalog_columns AS f
        ON i.table_schema = f.schema_name AND i.table_name = f.table_name
        AND i.column_name = f.column_name
        WHERE NOT starts_with(i.table_name, '__indb_catalog_')""",
    ("", "duckdb_columns"): """
        SELECT c.* REPLACE (coalesce(f.column_default, c.column_default) AS column_default,
                            coalesce(f.is_nullable = 'YES', c.is_nullable) AS is_nullable,
                            coalesce(f.comment, c.comment) AS comment)
        FROM duckdb_columns() AS c LEFT JOIN __indb_catalog_columns AS f
        ON c.schema_name = f.schema_name AND c.table_name = f.table_name
        AND c.column_name = f.column_name
        WHERE NOT starts_with(c.table_name, '__indb_catalog_')""",
    ("", "duckdb_tables"): """
        SELECT v.database_name, v.database_oid, v.schema_name, v.schema_oid,
               v.view_name AS table_name, v.view_oid AS table_oid, f.comment, v.tags,
               false AS internal, f.table_type = 'LOCAL TEMPORARY' AS temporary,
               f.has_primary_key, f.estimated_size,
               v.column_count, f.index_count, f.check_constraint_count, f.sql
        FROM duckdb_views() AS v JOIN __indb_catalog_tables AS f
        ON v.schema_name = f.schema_name AND v.view_name = f.table_name
        UNION ALL SELECT * FROM duckdb_tables()""",
    # the indexes CREATE INDEX recorded (DuckDB lists those alone, not the keys' own)
    ("", "duckdb_indexes"): """
        SELECT v.database_name, v.database_oid, v.schema_name, v.schema_oid, f.index_name,
               NULL::BIGINT AS index_oid, v.view_name AS table_name, v.view_oid AS table_oid,
               NULL::VARCHAR AS comment, v.tags, f.is_unique, false AS is_primary,
               f.expressions, f.sql
        FROM duckdb_views() AS v JOIN __indb_catalog_indexes AS f
        ON v.schema_name = f.schema_name AND v.view_name = f.table_name
        UNION ALL SELECT * FROM duckdb_indexes()""",
    ("information_schema", "table_constraints"): """
        SELECT * FROM information_schema.table_constraints UNION ALL
        SELECT DISTINCT 'memory', schema_name, constraint_name, 'memory', schema_name, table_name,
               constraint_type, 'NO', 'NO', 'YES', 'YES'
        FROM __indb_catalog_keys""",
    ("information_schema", "key_column_usage"): """
        SELECT * FROM information_schema.key_column_usage UNION ALL
        SELECT 'memory', schema_name, constraint_name, 'memory', schema_name, table_name,
               column_name, ordinal_position, position_in_unique_constraint
        FROM __indb_catalog_keys WHERE column_name IS NOT NULL""",
    # SET VARIABLE's (the session's: engine/variables.py)
    ("", "duckdb_variables"): "SELECT name, value, type FROM __indb_catalog_variables",
    # (its table's schema and name are the call's argument, set where it is read: read, _filled)
    ("", "pragma_table_info"): """
        SELECT p.* REPLACE (coalesce(f.is_nullable = 'NO', p."notnull") AS "notnull",
                            coalesce(f.column_default, p.dflt_value) AS dflt_value,
                            coalesce(f.column_key = 'PRI', p.pk) AS pk)
        FROM pragma_table_info('') AS p LEFT JOIN __indb_catalog_columns AS f
        ON f.schema_name = '' AND f.table_name = '' AND f.column_name = p.name"""}

_TABLES_SCHEMA = pa.schema([("schema_name", pa.string()), ("table_name", pa.string()),
                            ("table_type", pa.string()), ("has_primary_key", pa.bool_()),
                            ("estimated_size", pa.int64()), ("index_count", pa.int64()),
                            ("check_constraint_count", pa.int64()), ("sql", pa.string()),
                            ("comment", pa.string())])
_KEYS_SCHEMA = pa.schema([("schema_name", pa.string()), ("table_name", pa.string()),
                          ("constraint_name", pa.string()), ("constraint_type", pa.string()),
                          ("column_name", pa.string()), ("ordinal_position", pa.int64()),
                          ("position_in_unique_constraint", pa.int64())])
_INDEXES_SCHEMA = pa.schema([("schema_name", pa.string()), ("table_name", pa.string()),
                             ("index_name", pa.string()), ("is_unique", pa.bool_()),
                             ("expressions", pa.string()), ("sql", pa.string())])
_COLUMNS_SCHEMA = pa.schema([("schema_name", pa.string()), ("table_name", pa.string()),
                             ("column_name", pa.string()), ("column_default", pa.string()),
                             ("is_nullable", pa.string()),
                             ("comment", pa.string()), ("ordinal_position", pa.int64()),
                             ("column_key", pa.string())])
# DESCRIBE t of one of indb's tables in a query (``SELECT * FROM (DESCRIBE t)``, what SHOW
# COLUMNS FROM t is): DuckDB's rows of its view, with the table's NOT NULL, key and defaults
# (DESCRIBED stands for the table, the two '' for its schema and name)
DESCRIBED = "__indb_described"
_DESCRIBE_AS = f"""
    SELECT c.column_name, c.column_type, coalesce(f.is_nullable, c."null") AS "null",
           coalesce(f.column_key, c."key") AS "key",
           coalesce(f.column_default, c."default") AS "default", c.extra
    FROM (DESCRIBE {DESCRIBED}) AS c LEFT JOIN __indb_catalog_columns AS f
    ON f.schema_name = '' AND f.table_name = '' AND f.column_name = c.column_name
    ORDER BY f.ordinal_position"""


def read(engine: Engine, tree: exp.Expr) -> tuple[exp.Expr, dict[str, pa.Table]]:
    """The statement reading the catalog relations it names through indb's facts, and the facts
    (none, and the statement as it is, where it reads none of them). Only a query is read so:
    a view or a prepared statement outlives the facts, and keeps DuckDB's catalog as it is."""
    if not isinstance(tree, exp.Query):
        return tree, {}
    described = any(_described(d, engine) for d in tree.find_all(exp.Describe))
    if not described and not any(_relation(t, engine) in _READ_AS for t in tree.find_all(exp.Table)):
        return tree, {}
    if described:
        tree = tree.copy()  # (a plan may keep the statement's own)
        for describe in list(tree.find_all(exp.Describe)):
            name = _described(describe, engine)
            if name is not None:
                describe.replace(_describing(describe.this, name))

    def replace(node: exp.Expr) -> exp.Expr:
        key = _relation(node, engine) if isinstance(node, exp.Table) else None
        if key is None or key not in _READ_AS:
            return node
        alias = node.args.get("alias") or exp.TableAlias(this=exp.to_identifier(key[1]))
        reading = _parsed(_READ_AS[key]).copy()
        if key[1] == "pragma_table_info":  # the call's argument, the join's schema and table
            name = node.this.expressions[0].name.lower()
            _filled(reading, (name, *split_name(name)))
        return exp.Subquery(this=reading, alias=alias.copy())
    return tree.transform(replace), _facts(engine)


def _relation(table: exp.Table, engine: Engine) -> tuple[str, str] | None:
    """(schema, name) of a catalog relation a table reference names: ``information_schema.x``,
    or a table function (``duckdb_tables()``, or ``duckdb_tables`` where no table has the name:
    schema '')."""
    if isinstance(table.this, exp.Anonymous):
        call, arguments = table.this.name.lower(), table.this.expressions
        if call == "pragma_table_info":  # of a table named by a string
            return (("", call) if len(arguments) == 1 and arguments[0].is_string
                    and split_name(arguments[0].name.lower()) in _names(engine) else None)
        return ("", call) if not arguments else None
    if table.args.get("catalog") or (not table.db and table.name.lower() in engine.session.infos):
        return None
    return (table.db.lower(), table.name.lower())


@functools.cache
def _parsed(sql: str) -> exp.Query:
    return sqlglot.parse_one(sql, dialect="duckdb")  # type: ignore[return-value]


def _described(describe: exp.Describe, engine: Engine) -> str | None:
    """The catalog name of the table of indb's that ``DESCRIBE t`` names (None: a query's, a
    view's, DuckDB's)."""
    table = describe.this
    if not isinstance(table, exp.Table) or not table.name or table.args.get("catalog"):
        return None
    name = f"{table.db}.{table.name}".lower() if table.db else table.name.lower()
    return name if name in engine.session.infos else None


def _describing(table: exp.Table, name: str) -> exp.Query:
    """``_DESCRIBE_AS`` of ``table`` (catalog name ``name``)."""
    reading = _parsed(_DESCRIBE_AS).copy()
    next(t for t in reading.find_all(exp.Table) if t.name == DESCRIBED).replace(table.copy())
    _filled(reading, split_name(name))
    return reading


def _filled(reading: exp.Query, values: tuple[str, ...]) -> None:
    """A reading's '' strings, in their order, made ``values`` (a table's name, its schema...)."""
    blanks = [s for s in reading.find_all(exp.Literal) if s.is_string and s.name == ""]
    for blank, value in zip(blanks, values, strict=True):
        blank.replace(exp.Literal.string(value))


def _names(engine: Engine) -> set[tuple[str, str]]:
    return {split_name(name) for name in engine.session.infos}


def _facts(engine: Engine) -> dict[str, pa.Table]:
    temporary = engine.temporaries.schema if engine.temporaries is not None else None
    tables: list[dict] = []
    columns: list[dict] = []
    keys: list[dict] = []
    indexes: list[dict] = []
    for name, info in sorted(engine.session.infos.items()):
        schema, table = split_name(name)
        tables.append({"schema_name": schema, "table_name": table,
                       "table_type": "LOCAL TEMPORARY" if schema == temporary else "BASE TABLE",
                       "has_primary_key": bool(info.primary_key), "estimated_size": None,
                       "index_count": len(info.indexes),
                       "check_constraint_count": len(info.checks),
                       "sql": render_indb(table_ddl(info)) + ";", "comment": info.comment})
        single = {key[0] for _, key in info.unique_keys if len(key) == 1}  # a UNIQUE column's
        columns += [{"schema_name": schema, "table_name": table, "column_name": column.name,
                     "column_default": column.default,
                     "is_nullable": "YES" if column.nullable else "NO",
                     "comment": column.comment, "ordinal_position": position,
                     "column_key": "PRI" if column.name in info.primary_key
                     else "UNI" if column.name in single else None}
                    for position, column in enumerate(info.columns, start=1)]
        keys += _keys(schema, table, info)
        indexes += [{"schema_name": schema, "table_name": table, "index_name": index,
                     "is_unique": unique, "expressions": f"[{', '.join(indexed)}]",
                     "sql": render_indb(_index_ddl(name, index, indexed, unique)) + ";"}
                    for index, indexed, unique in info.indexes]
    variables = engine.temporaries.variables if engine.temporaries is not None else {}
    return {TABLES: pa.Table.from_pylist(tables, schema=_TABLES_SCHEMA),
            COLUMNS: pa.Table.from_pylist(columns, schema=_COLUMNS_SCHEMA),
            KEYS: pa.Table.from_pylist(keys, schema=_KEYS_SCHEMA),
            INDEXES: pa.Table.from_pylist(indexes, schema=_INDEXES_SCHEMA),
            VARIABLES: pa.table({"name": pa.array(list(variables), pa.string()),
                                 "value": pa.array([v for v, _ in variables.values()], pa.string()),
                                 "type": pa.array([t for _, t in variables.values()], pa.string())})}


def _index_ddl(table: str, index: str, columns: tuple[str, ...], unique: bool) -> exp.Create:
    """The ``CREATE [UNIQUE] INDEX`` of an index of ``table`` (a catalog name)."""
    return exp.Create(kind="INDEX", unique=unique, this=exp.Index(
        this=exp.to_identifier(index), table=sql_table(table), params=exp.IndexParameters(
            columns=[exp.column(c) for c in columns])))


def _keys(schema: str, table: str, info: TableInfo) -> list[dict]:
    """A table's constraints as information_schema has them: a row for each column of its keys
    (primary, UNIQUE, foreign: the position in the key it references too), one for each CHECK."""
    rows = []
    primary = [("PRIMARY KEY", *info.candidate_keys[0], False)] if info.primary_key else []
    kinds = primary + [("UNIQUE", name, columns, False) for name, columns in info.unique_keys]
    kinds += [("FOREIGN KEY", key.name, key.columns, True) for key in info.foreign_keys]
    for kind, name, key, referencing in kinds:
        rows += [{"schema_name": schema, "table_name": table, "constraint_name": name,
                  "constraint_type": kind, "column_name": column, "ordinal_position": position,
                  "position_in_unique_constraint": position if referencing else None}
                 for position, column in enumerate(key, start=1)]
    rows += [{"schema_name": schema, "table_name": table, "constraint_name": name,
              "constraint_type": "CHECK", "column_name": None, "ordinal_position": None,
              "position_in_unique_constraint": None} for name, _ in info.checks]
    return rows
