"""Which names indb accepts for what it creates: tables, views, functions, models, columns.

Names are case-insensitive (kept lower-case) and at most ``MAX_NAME`` characters. Most are plain
identifiers: a letter or ``_`` first, then letters, digits and ``_``. A table's or view's name
may also hold spaces and dashes, as quoted names do in the tables that pandas' ``to_sql`` and
spreadsheets' users make (``"sales data"``, ``"Sales-2024"``); it becomes a DuckDB view (always
quoted), part of Iceberg's identifiers and, cleaned (``directory_name``), a directory of the
warehouse, so no quote, dot, slash, semicolon or bracket, which could end the name early or
reach outside the warehouse. Column names only live inside files and views (always quoted), so
they may hold any punctuation, but not control characters, and not the prefix indb reserves for
its hidden columns.

Tables live in schemas (an Iceberg namespace each; ``main`` is the default, where every table
lived before schemas). A table's catalog name is ``schema.table`` outside ``main`` and the bare
table name inside it; schema names follow the rules of table names, less the schemas DuckDB
keeps for itself, so ``s.t`` can only mean table ``t`` of schema ``s``.

Names are checked where things are created. A database made before these rules that holds a name
outside them still opens: such a table can be read where its name can be written and dropped.
"""

from __future__ import annotations

import re

from sqlglot import exp

from indb.errors import SchemaError

MAX_NAME = 63          # as PostgreSQL's identifiers; far below any file system's limit
MAX_COLUMN_NAME = 255
RESERVED_PREFIXES = ("_indb", "__indb")  # indb's hidden columns, staging tables and views
FRAME_PREFIX = "__indb_frame_"  # a session's registered Python data, as a statement reads it
DEFAULT_SCHEMA = "main"
POSTGRES_SCHEMA = "public"  # PostgreSQL's default schema: another name of main in statements
DATABASE = "indb"  # the database's name (the pg port's current_database()), as a statement's
# three-part names say it: indb.main.t is main.t (dbt's relations are named so)
# DuckDB's own schemas and catalogs (``memory`` is the in-memory database queries run in): a
# schema of one of these names would hide them, or make s.t ambiguous to DuckDB
RESERVED_SCHEMAS = ("information_schema", "pg_catalog", "temp", "system", "memory")
_IDENTIFIER = re.compile(r"[a-z_][a-z0-9_]*\Z")
# a table's or view's: a letter (of any script) or _ first, then letters, digits, _, spaces and
# dashes, not ending in a space
_TABLE_LIKE = re.compile(r"[^\W\d][\w -]*(?<! )\Z")
TABLE_LIKE = ("table", "view")  # the kinds whose names follow _TABLE_LIKE
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def checked_name(name: str, kind: str = "table") -> str:
    """``name`` lower-cased, if it is a valid name for a new ``kind``; else SchemaError."""
    lowered = name.lower()
    if not lowered:
        raise SchemaError(f"a {kind} needs a name; the name is empty")
    if len(lowered) > MAX_NAME:
        raise SchemaError(f"{kind} names are at most {MAX_NAME} characters; {name[:20]}... has "
                          f"{len(name)}")
    if kind in TABLE_LIKE and not _TABLE_LIKE.match(lowered):
        raise SchemaError(f"{name!r} is not a valid {kind} name: use letters, digits, _, spaces "
                          "and dashes, starting with a letter or _ and not ending in a space")
    if kind not in TABLE_LIKE and not _IDENTIFIER.match(lowered):
        raise SchemaError(f"{name!r} is not a valid {kind} name: use letters, digits and _, "
                          "starting with a letter or _")
    if lowered.startswith(RESERVED_PREFIXES):
        raise SchemaError(f"{kind} names starting with _indb are reserved for indb ({name})")
    return lowered


def checked_column_name(name: str) -> str:
    """``name`` if it is a valid column name (any printable text, not reserved); else SchemaError."""
    if not name:
        raise SchemaError("a column needs a name; the name is empty")
    if len(name) > MAX_COLUMN_NAME:
        raise SchemaError(f"column names are at most {MAX_COLUMN_NAME} characters; "
                          f"{name[:20]}... has {len(name)}")
    if _CONTROL.search(name):
        raise SchemaError(f"column name {name!r} holds a control character")
    if name.lower().startswith("_indb_"):
        raise SchemaError(f"column names starting with _indb_ are reserved ({name})")
    return name


def checked_schema_name(name: str) -> str:
    """``name`` lower-cased, if it is a valid name for a new schema; else SchemaError."""
    lowered = checked_name(name, "schema")
    if lowered in RESERVED_SCHEMAS:
        raise SchemaError(f"schema {lowered} is reserved by DuckDB; choose another name")
    return lowered


def checked_table_name(name: str) -> str:
    """A new table's catalog name, from ``t`` or ``s.t`` (``main.t`` is ``t``), if both parts
    are valid names; else SchemaError."""
    schema, dot, table = name.partition(".")
    if not dot:
        return checked_name(name)
    table = checked_name(table)
    return qualified(checked_schema_name(schema) if schema.lower() != DEFAULT_SCHEMA
                     else DEFAULT_SCHEMA, table)


def qualified(schema: str, table: str) -> str:
    """The catalog name of ``table`` in ``schema``."""
    return table if schema == DEFAULT_SCHEMA else f"{schema}.{table}"


def split_name(name: str) -> tuple[str, str]:
    """The schema and table a catalog name means: ``s.t`` is table t of schema s when s is a
    schema's name and t a table's; any other name (``t``, or one made before these rules, such
    as ``main.a"b``) is a table of main."""
    schema, dot, table = name.partition(".")
    if dot and schema != DEFAULT_SCHEMA and _IDENTIFIER.match(schema) and _TABLE_LIKE.match(table):
        return schema, table
    return DEFAULT_SCHEMA, name


def directory_name(table: str) -> str:
    """The warehouse directory a table of this name gets (``sales data`` in ``sales_data``):
    what a file system or an object store could read otherwise (spaces, letters outside ASCII)
    as ``_``; a name that shares a directory with another gets one of its own beside it
    (``catalog.database.Database.table_location``)."""
    return re.sub(r"[^a-z0-9_-]", "_", table)


def sql_table(name: str) -> exp.Table:
    """A SQL reference to the table of a catalog name: ``"s"."t"``, or one quoted identifier
    for a table of main, so a name made before these rules (holding dots or quotes) stays one."""
    schema, table = split_name(name)
    db = None if schema == DEFAULT_SCHEMA else exp.to_identifier(schema, quoted=True)
    return exp.Table(this=exp.to_identifier(table, quoted=True), db=db)
