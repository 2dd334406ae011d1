"""The PostgreSQL catalog a client of the pg port sees: what psql's ``\\dt`` and ``\\d t``,
SQLAlchemy's inspector and the schema browsers of BI tools ask (``pg_catalog.pg_class``,
``information_schema.columns``...), answered for each user from the tables and views it may
read, and nothing else.

A query that reads ``pg_catalog`` or ``information_schema`` (found in its syntax tree) runs in a
*shadow*: an in-memory DuckDB database holding, empty, exactly the user's readable tables (as
tables) and views (as views) with their columns' types, so DuckDB's own ``pg_catalog`` and
``information_schema`` answer it. The query is read as PostgreSQL's SQL by sqlglot and its few
PostgreSQL-only forms rewritten on the tree (``OPERATOR(pg_catalog.~)``, ``COLLATE
pg_catalog.default``, ``pg_catalog.f(...)`` calls); functions DuckDB lacks are macros of the
shadow. A shadow holds no rows and reads no files (external access off, locked), and is shared by
the sessions that see the same relations.
"""

from __future__ import annotations

import contextlib
import functools
import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence

import duckdb
import sqlglot
from sqlglot import exp
from sqlglot.errors import ParseError

from indb import __version__ as indb_version
from indb.catalog import names
from indb.catalog.sequences import FUNCTION_NAMES
from indb.engine.privileges import Relation
from indb.engine.temporary import PREFIX
from indb.errors import NotSupportedError, SqlError
from indb.parser import render, render_indb
from indb.parser.named_types import CreateType
from indb.result import Result
from indb.catalog.users import Principal
from indb.server import (pgcasts, pgdepend, pgfunctions, pgkeys, pgmacros, pgoids, pgparams,
                         pgroles, pgsizes, pgtypes, pgviews)
from indb.server.pgempty import EMPTY_TABLES
from indb.server.pgkeys import column_type

CATALOG_SCHEMAS = frozenset({"pg_catalog", "information_schema"})
# what clients ask of a PostgreSQL server when they connect (SQLAlchemy: SHOW ...; asyncpg:
# current_setting('jit') before it looks a type up), answered here: DuckDB has no such settings
SETTINGS = {"standard_conforming_strings": "on", "transaction isolation level": "read committed",
            "transaction_isolation": "read committed", "server_version": "15.0",
            "server_version_num": "150000", "server_encoding": "UTF8", "client_encoding": "UTF8",
            "datestyle": "ISO, MDY", "timezone": "UTC", "search_path": "main",
            "max_identifier_length": "63", "integer_datetimes": "on", "jit": "off",
            "max_index_keys": "32", "default_transaction_isolation": "read committed",
            "default_table_access_method": "heap"}
VERSION = f"PostgreSQL 15.0 (indb {indb_version})"  # version(): clients parse PostgreSQL's form
_CALL_NAMES: dict[type[exp.Expr], str] = {
    exp.CurrentVersion: "version", exp.CurrentDatabase: "current_database",
    exp.CurrentSchema: "current_schema", exp.CurrentCatalog: "current_catalog",
    exp.CurrentSchemas: "current_schemas"}
# what clients ask of the server itself, answered by the shadow when a query reads no table
_OID_TYPES = pgcasts.OID_TYPES | {"regclass", "regtype"}  # casts that ask the catalog
_SERVER_CALLS = (exp.CurrentVersion, exp.CurrentDatabase, exp.CurrentCatalog, exp.CurrentSchemas,
                 exp.CurrentUser, exp.SessionUser)
DATABASE = names.DATABASE  # current_database(), and the catalog information_schema names
KEPT = 32  # shadows kept (one a distinct set of visible relations)


# PostgreSQL's set-returning functions the shadows have as table macros (_making)
_TABLE_FUNCTIONS = ("pg_get_keywords", "pg_partition_ancestors", "pg_options_to_table")
# what PostgreSQL has and DuckDB's pg_catalog lacks, as macros of each shadow
_MACROS: dict[str, tuple[tuple[str, ...], exp.Expr]] = {
    "version": ((), exp.Literal.string(VERSION)),
    "pg_get_userbyid": (("role_oid",), pgroles.userbyid(exp.column("role_oid"))),
    "pg_encoding_to_char": (("encoding",), exp.Literal.string("UTF8")),
    "pg_char_to_encoding": (("encoding_name",), exp.Literal.number(6)),  # UTF8's
    "pg_tablespace_location": (("tablespace_oid",), exp.Literal.string("")),
    **pgfunctions.MACROS,
    **pgkeys.MACROS,
    **pgviews.MACROS,
    **pgmacros.MACROS,
    # with a column's number (from 1), that column's name alone (JDBC's getIndexInfo asks)
    "pg_get_indexdef_pretty": (("an_index", "column_number", "pretty"), exp.If(
        this=exp.func("coalesce", exp.column("column_number"), exp.Literal.number(0)).eq(0),
        true=exp.func("pg_get_indexdef", exp.column("an_index")),
        false=pgkeys.index_column(exp.column("an_index"), exp.column("column_number")))),
    "pg_get_statisticsobjdef_columns": (("statistics_oid",), exp.null()),
    "pg_relation_is_publishable": (("relation",), exp.false()),
    "pg_table_size": (("relation",), exp.null()), "pg_relation_size": (("relation",), exp.null()),
    "pg_total_relation_size": (("relation",), exp.null()),
    "pg_database_size": (("database",), exp.null()),
    **{name: (("object_oid",), exp.null()) for name in (  # definitions of what indb has none of
        "pg_get_partkeydef", "pg_get_triggerdef", "pg_get_ruledef", "pg_get_function_result",
        "pg_get_function_arguments", "pg_get_function_identity_arguments",
        "pg_get_function_sqlbody")},
    "pg_statistics_obj_is_visible": (("object_oid",), exp.true()),  # (no statistics objects)
    "pg_get_triggerdef_pretty": (("object_oid", "pretty"), exp.null()),  # (no triggers)
    "pg_get_expr_pretty": (("expression", "relation", "pretty"), exp.func(
        "pg_get_expr", exp.column("expression"), exp.column("relation"))),
    # a constraint's definition as PostgreSQL writes it: "UNIQUE (a)", "CHECK ((a > 0))"
    # (DuckDB's: "UNIQUE(a)"); pretty, a check's condition in one pair of parentheses
    "indb_constraintdef": (("constraint_oid",), exp.RegexpReplace(
        this=exp.func("pg_get_constraintdef", exp.column("constraint_oid")),
        expression=exp.Literal.string(r"^(PRIMARY KEY|UNIQUE|CHECK)\("),
        replacement=exp.Literal.string(r"\1 ("))),
    "pg_get_constraintdef_pretty": (("constraint_oid", "pretty"), exp.RegexpReplace(
        this=exp.func("indb_constraintdef", exp.column("constraint_oid")),
        expression=exp.Literal.string(r"^CHECK \(\((.*)\)\)$"),
        replacement=exp.Literal.string(r"CHECK (\1)"))),
    "format_type": pgtypes.format_type(),
    # the schemas visible are the session's temporary schema and its search path (with_session
    # gives them): a table of another schema is not visible
    "pg_table_is_visible": (("of_relation", "visible"), exp.func("coalesce", exp.Subquery(
        this=exp.select(exp.func("bool_or", exp.func("list_contains", exp.column("visible"),
                                                     exp.column("nspname", table="indb_n")))).from_(
            exp.to_table("pg_catalog.pg_class").as_("indb_c")).join(
            exp.to_table("pg_catalog.pg_namespace").as_("indb_n"), on=exp.column(
                "oid", table="indb_n").eq(exp.column("relnamespace", table="indb_c"))).where(
            exp.column("oid", table="indb_c").eq(exp.column("of_relation")))),
        exp.Subquery(this=exp.select(exp.func("bool_or", exp.func(  # an index
            "list_contains", exp.column("visible"), exp.column("index_schema")))).from_(
            exp.Table(this=exp.Anonymous(this=pgkeys.INDEXES))).where(
            exp.column("index_oid").eq(exp.column("of_relation")))), exp.false())),
    # indb takes no advisory locks: unlocking them all (asyncpg's pool, as it takes a connection
    # back) unlocks nothing
    "pg_advisory_unlock_all": ((), exp.null()), "pg_is_in_recovery": ((), exp.false()),
    "pg_backend_pid": ((), exp.null()),  # the session's, put in by with_session
    "pg_my_temp_schema": ((), exp.Literal.number(0)),  # (likewise)
    # current_setting(name) of a name given as a parameter (SQLAlchemy's reflection of a table)
    "indb_setting": (("setting_name",), exp.Case(this=exp.func("lower", exp.column("setting_name")), ifs=[
        exp.If(this=exp.Literal.string(name), true=exp.Literal.string(value))
        for name, value in SETTINGS.items()])),
    # set_config(name, value, is_local): nothing is set here; its answer is the value
    "set_config": (("setting_name", "new_value", "is_local"), exp.column("new_value")),
    # a type's or table's oid by its name, NULL for none (psycopg's TypeInfo.fetch asks)
    "to_regtype": (("named_type",), exp.Subquery(this=exp.select(exp.column("oid", "indb_t")).from_(
        exp.to_table("pg_catalog.pg_type").as_("indb_t")).where(exp.or_(
            exp.column("typname", "indb_t").eq(exp.column("named_type")),
            exp.func("format_type", exp.column("oid", "indb_t"), exp.null()).eq(
                exp.column("named_type")))).order_by(exp.column("oid", "indb_t")).limit(1))),
    "to_regclass": (("named_relation",), exp.Subquery(this=exp.select(exp.column("oid", "indb_c")).from_(
        exp.to_table("pg_catalog.pg_class").as_("indb_c")).where(
            exp.column("relname", "indb_c").eq(exp.func("list_last", exp.func(
                "string_split", exp.column("named_relation"), exp.Literal.string("."))))).order_by(
            exp.column("oid", "indb_c")).limit(1))),
}
# the types of columns whose pg_attribute row DuckDB's gives another (by DuckDB's name of the
# type): a list column's array type, as the pg port sends them, and JSON's json
_COLUMN_TYPES = {"BOOLEAN[]": 1000, "BLOB[]": 1001, "TINYINT[]": 1005, "SMALLINT[]": 1005,
                 "INTEGER[]": 1007, "BIGINT[]": 1016, "VARCHAR[]": 1015, "FLOAT[]": 1021,
                 "DOUBLE[]": 1022, "DATE[]": 1182, "TIME[]": 1183, "TIMESTAMP[]": 1115,
                 "TIMESTAMP WITH TIME ZONE[]": 1185, "INTERVAL[]": 1187, "JSON": 114}
# the types of variable length, which PostgreSQL stores extended (by pg_type's names)
_EXTENDED = ("text", "varchar", "bytea", "numeric", "json", "jsonb")


def _settings_added() -> exp.Query:
    """pg_settings' rows of PostgreSQL's settings (JDBC's metadata asks for max_index_keys)."""
    return exp.select("name", "setting").from_(exp.Values(
        expressions=[exp.Tuple(expressions=[exp.Literal.string(n), exp.Literal.string(v)])
                     for n, v in SETTINGS.items() if " " not in n],
        alias=exp.TableAlias(this=exp.to_identifier("s"), columns=[
            exp.to_identifier("name"), exp.to_identifier("setting")])))


def _without_ours(base: exp.Select) -> exp.Select:
    """DuckDB's pg_settings but the rows of the names ``SETTINGS`` answers."""
    return base.where(exp.Not(this=exp.In(this=exp.func("lower", exp.column("name")), expressions=[
        exp.Literal.string(n) for n in SETTINGS])))


def _storage(kind: exp.Expr, names: tuple[str, ...]) -> exp.Expr:
    """A type's storage as PostgreSQL's (psql's ``\\d+``; pg_dump writes a column's where it is
    not its type's): ``x`` (extended) for its types of variable length, ``names`` as ``kind``
    names them, and arrays; ``p`` (plain) for the others."""
    return exp.If(this=exp.or_(kind.isin(*map(exp.Literal.string, names)), exp.Like(
        this=kind.copy(), expression=exp.Literal.string("%[]"))),
        true=exp.Literal.string("x"), false=exp.Literal.string("p"))


def _list_type() -> exp.Expr:
    """A pg_attribute row's type: a list column's array type (DuckDB's pg_attribute gives every
    list one type of its own, which no pg_type row has)."""
    kind = exp.column("data_type", "indb_dc")
    return exp.func("coalesce", exp.Subquery(this=exp.select(exp.Case(ifs=[
        *(exp.If(this=kind.eq(exp.Literal.string(name)), true=exp.Literal.number(oid))
          for name, oid in _COLUMN_TYPES.items()),
        exp.If(this=exp.Like(this=kind, expression=exp.Literal.string("ENUM(%")),
               true=pgtypes.named(kind, "oid")),  # a named ENUM's column: its type's oid
        exp.If(this=exp.Like(this=kind, expression=exp.Literal.string("DECIMAL(%)[]")),
               true=exp.Literal.number(1231))])).from_(
        exp.Table(this=exp.Anonymous(this="duckdb_columns"),
                  alias=exp.TableAlias(this=exp.to_identifier("indb_dc")))).where(
        exp.and_(exp.column("table_oid", "indb_dc").eq(exp.column("attrelid")),
                 exp.column("column_name", "indb_dc").eq(exp.column("attname"))))),
        exp.column("atttypid"))


def _listed(namespace: exp.Expr) -> exp.Expr:
    """Whether a schema's oid is of one DuckDB's pg_namespace lists (the database's)."""
    return exp.In(this=namespace, query=exp.Subquery(this=exp.select("oid").from_(
        "pg_catalog.pg_namespace")))


# columns of PostgreSQL's catalog tables that DuckDB's lack or type otherwise, with their values
# here: a query's pg_catalog.X reads the shadow's table macro of X, with these
_EXTRA_COLUMNS: dict[str, dict[str, exp.Expr]] = {
    "pg_class": {"relforcerowsecurity": exp.false(),
                 "reloptions": exp.cast(exp.null(), exp.DataType.build("VARCHAR[]")),
                 "relreplident": exp.Literal.string("d"),  # psql's \d+: "Replica Identity"
                 "relowner": pgroles.relowner(),
                 # 't' for a session's temporary table (SQLAlchemy's get_temp_table_names)
                 "relpersistence": exp.If(this=exp.func("starts_with", exp.Subquery(
                     this=exp.select("nspname").from_("pg_catalog.pg_namespace").where(
                         exp.column("oid").eq(exp.column("relnamespace")))), exp.Literal.string(PREFIX)),
                     true=exp.Literal.string("t"), false=exp.column("relpersistence")),
                 **pgkeys.EXTRA_COLUMNS["pg_class"]},
    "pg_am": {"amname": exp.Literal.string("heap")},  # a table's (psql's \d+: "Access method")
    "pg_index": {"indnullsnotdistinct": exp.false()},
    "pg_collation": {"collnamespace": exp.Literal.number(pgtypes.CATALOG_OID),
                     "collowner": exp.Literal.number(pgroles.OWNER_OID),
                     "collprovider": exp.Literal.string("c"),
                     "collencoding": exp.Literal.number(-1),  # any encoding (psql's \dO)
                     **{c: exp.Literal.string("C") for c in ("collcollate", "collctype")},
                     "colliculocale": exp.null(), "collisdeterministic": exp.true()},
    "pg_type": {"typnamespace": pgtypes.namespace(exp.column("oid"), exp.column("typnamespace")),
                "typowner": exp.Literal.number(pgroles.OWNER_OID),
                "typstorage": _storage(exp.column("typname"), _EXTENDED),
                "typdelim": exp.func("coalesce", exp.column("typdelim"), exp.Literal.string(",")),
                "typelem": exp.func("coalesce", exp.column("typelem"), exp.Literal.number(0)),
                "typbasetype": exp.func("coalesce", exp.column("typbasetype"), exp.Literal.number(0)),
                "typrelid": exp.func("coalesce", exp.column("typrelid"), exp.Literal.number(0)),
                "typtypmod": exp.cast(exp.Literal.number(-1), "INTEGER"),  # no domains
                "typlen": pgsizes.type_length(exp.column("oid"), exp.column("typlen")),
                "typarray": exp.Case(this=exp.column("oid"), ifs=[
                    exp.If(this=exp.Literal.number(item), true=exp.Literal.number(array))
                    for item, array in pgtypes.ARRAYS.items()], default=exp.Literal.number(0))},
    "pg_attribute": {"atttypid": _list_type(),
                     "attstorage": _storage(exp.func("format_type", _list_type(), exp.null()), tuple(
                         pgtypes.FORMAT_NAMES.get(name, name) for name in _EXTENDED)),
                     "attstattarget": exp.Literal.number(-1),  # (the default statistics)
                     "atttypmod": pgsizes.pg_typmod(), "attlen": pgsizes.attribute_length(),
                     **pgkeys.EXTRA_COLUMNS["pg_attribute"]},
    "pg_constraint": pgkeys.EXTRA_COLUMNS["pg_constraint"],
    "pg_description": pgkeys.EXTRA_COLUMNS["pg_description"],
    # (psql's \dconfig lists the settings whose source is not the default: none)
    "pg_settings": {"source": exp.Literal.string("default"), "boot_val": exp.column("setting")},
    # DuckDB's own functions are PostgreSQL's built-in ones: pg_catalog's, the owner's
    "pg_proc": {"pronamespace": exp.If(this=_listed(exp.column("pronamespace")), true=exp.column(
        "pronamespace"), false=exp.Literal.number(pgtypes.CATALOG_OID)),
                "proowner": exp.Literal.number(pgroles.OWNER_OID)},
    "pg_views": pgviews.PG_VIEWS_COLUMNS, "pg_depend": {},
    # a sequence's values are BIGINT, one at a time (pg_dump writes AS bigint ... CACHE 1)
    "pg_sequence": {"seqtypid": exp.Literal.number(20), "seqcache": exp.Literal.number(1)},
    "pg_namespace": {"nspowner": exp.Literal.number(pgroles.OWNER_OID)},
    "pg_database": {"datcollate": exp.Literal.string("C"), "datctype": exp.Literal.string("C"),
                    "daticulocale": exp.null(), "datlocprovider": exp.Literal.string("c"),
                    "datacl": exp.null(), "datdba": exp.Literal.number(pgroles.OWNER_OID),
                    "dattablespace": exp.Literal.number(0),  # pg_tablespace's pg_default
                    "datconnlimit": exp.Literal.number(-1), "datcollversion": exp.null(),
                    **{c: exp.Literal.number(0) for c in ("datfrozenxid", "datminmxid")},
                    "encoding": exp.Literal.number(6)},
}
# rows of those tables that DuckDB's lack, added to what remains of DuckDB's rows (by name)
_ADDED_ROWS: dict[str, Callable[[], exp.Query]] = {"pg_type": pgtypes.types_added,
                                                    "pg_settings": _settings_added,
                                                    "pg_namespace": pgtypes.catalog_added,
                                                    "pg_proc": pgtypes.procedures_added,
                                                    "pg_depend": pgdepend.added,
                                                    **pgkeys.ADDED_ROWS}
# ... and DuckDB's rows left out of them: the settings answered above, the shadow's own macros,
# NOT NULL as a constraint (PostgreSQL's pg_constraint has none; its 'x' is an exclusion)
_DUCKDB_VIEWS = exp.select("view_name").from_(exp.Table(this=exp.Anonymous(this="duckdb_views"))).where(
    exp.column("internal"))
_LEFT_OUT: dict[str, Callable[[exp.Select], exp.Select]] = {
    # DuckDB's own views (information_schema's, pg_catalog's, duckdb_tables...), in schemas
    # that pg_namespace does not list
    "pg_class": lambda base: base.where(_listed(exp.column("relnamespace"))),
    # the database, not DuckDB's others (memory, system, temp)
    "pg_database": lambda base: base.where(exp.column("datname").eq(exp.Literal.string(DATABASE))),
    "pg_constraint": lambda base: base.where(exp.column("contype").neq(exp.Literal.string("x"))),
    # (COMMENT ... IS '' removes a comment in PostgreSQL)
    "pg_description": lambda base: base.where(exp.column("description").neq(exp.Literal.string(""))),
    # DuckDB's types of no PostgreSQL oid (TIMESTAMP_MS, UBIGINT...): a client reading every
    # type's oid (Npgsql's type loading) fails on a NULL one
    "pg_type": lambda base: base.where(exp.column("oid").is_(exp.null()).not_()),
    "pg_settings": _without_ours,
    # DuckDB's own views (duckdb_tables, sqlite_master...), which it lists in main
    "pg_views": lambda base: base.where(exp.Not(this=exp.In(this=exp.column("viewname"),
                                                            query=exp.Subquery(this=_DUCKDB_VIEWS)))),
    "pg_proc": lambda base: base.where(exp.Not(this=exp.In(
        this=exp.func("lower", exp.column("proname")), expressions=[
            exp.Literal.string(name) for name in (*_MACROS, *_TABLE_FUNCTIONS)]))).where(
        exp.Not(this=exp.func("starts_with", exp.func("lower", exp.column("proname")),
                              exp.Literal.string("indb_")))),
}
# functions of PostgreSQL's taking a last argument, pretty, that DuckDB's lack: called with it
# (this many arguments), they are the shadow's f_pretty macros, which ignore it
_PRETTY = {"pg_get_expr": 3, "pg_get_constraintdef": 2, "pg_get_indexdef": 3,
           "pg_get_triggerdef": 2, "pg_get_viewdef": 2}
_CATALOG_TABLES = ("SELECT DISTINCT view_name FROM duckdb_views() WHERE schema_name = 'pg_catalog' "
                   "UNION SELECT DISTINCT table_name FROM duckdb_tables() WHERE schema_name = 'pg_catalog'")
# PostgreSQL's functions that DuckDB has by another name
_RENAMED = {"json_build_object": "json_object", "pg_get_constraintdef": "indb_constraintdef"}
# PostgreSQL's regular expression and comparison operators, by their name after OPERATOR(schema.
_OPERATORS: dict[str, tuple[type[exp.Expr], bool]] = {
    "~": (exp.RegexpLike, False), "!~": (exp.RegexpLike, True), "~*": (exp.RegexpILike, False),
    "!~*": (exp.RegexpILike, True), "=": (exp.EQ, False), "<>": (exp.NEQ, False),
    "!=": (exp.NEQ, False), "<": (exp.LT, False), "<=": (exp.LTE, False), ">": (exp.GT, False),
    ">=": (exp.GTE, False)}  # (pg_dump -t: relkind OPERATOR(pg_catalog.=) ANY (array[...]))


def catalog_query(sql: str, trees: Sequence[exp.Expr] | None) -> exp.Expr | None:
    """The statement as a tree to run in a shadow, when it is one query of the catalog; None
    for anything else. ``trees`` are indb's parse of ``sql`` (None: indb's parser refused it,
    as it may PostgreSQL-only forms), looked at first so other statements cost no second parse."""
    if trees is not None and (len(trees) != 1 or not _reads_catalog(trees[0])):
        return None
    try:
        parsed = sqlglot.parse(sql, read=pgparams.PgSql)
    except ParseError:
        return None
    tree = parsed[0] if len(parsed) == 1 else None
    if not isinstance(tree, exp.Query) or not _reads_catalog(tree):
        return None
    for table in [t for t in tree.find_all(exp.Table) if _unqualified_catalog(t, tree)]:
        table.set("db", exp.to_identifier("pg_catalog"))  # FROM pg_type: pg_catalog's, first
    others = [t for t in tree.find_all(exp.Table) if _is_table(t) and not _in_catalog(t, tree)
              and not _named_by_cte(t, tree)]
    if others:
        raise NotSupportedError(f"a query of pg_catalog or information_schema reads no tables of "
                                f"the database ({others[0].name}); query them apart")
    return _rewritten(pgoids.with_table_oids(tree))


def _reads_catalog(tree: exp.Expr) -> bool:
    """Whether a query reads a relation of the catalog, or reads no table and asks about the
    server (``version()``, ``current_database()``, ``pg_catalog.f(...)``, a function of
    PostgreSQL's that the shadow defines, ``'v'::regclass``: psql's ``\\sv v`` asks so)."""
    tables = list(tree.find_all(exp.Table))
    if tables:
        return any(_in_catalog(t, tree) for t in tables)
    if any(isinstance(node, exp.Anonymous) and node.name.lower() in FUNCTION_NAMES
           for node in tree.walk()):  # pg_catalog.setval(...): the database's sequences
        return False
    return any(isinstance(node, _SERVER_CALLS) or (
        isinstance(node, exp.Dot) and node.this.name.lower() == "pg_catalog"
        and isinstance(node.expression, exp.Func)) or (
        isinstance(node, exp.Anonymous) and node.name.lower() in _MACROS) or (  # to_regclass
        isinstance(node, exp.Cast) and _to_oid(node.to)) or (
        _setting(node) is not None) for node in tree.walk())  # current_setting('jit')


def _to_oid(to: exp.Expr) -> bool:
    """Whether a cast's type is one of PostgreSQL's object identifier types (``regclass``,
    ``pg_catalog.regtype``...), as PostgreSQL's parser reads it or as indb's does (a type of
    DuckDB's that it does not know)."""
    if isinstance(to, exp.ObjectIdentifier):
        return True
    kind = to.args.get("kind") if isinstance(to, exp.DataType) else None  # "regclass", a Dot
    return kind is not None and str(kind).lower().removeprefix("pg_catalog.") in _OID_TYPES


def _setting(node: exp.Expr) -> str | None:
    """The value of a setting of PostgreSQL's that ``current_setting('name')`` asks for."""
    if isinstance(node, exp.Anonymous) and node.name.lower() == "current_setting" \
            and len(node.expressions) == 1 and node.expressions[0].is_string:
        return SETTINGS.get(node.expressions[0].name.lower())
    return None


def _in_catalog(table: exp.Table, tree: exp.Expr) -> bool:
    return table.db.lower() in CATALOG_SCHEMAS or _unqualified_catalog(table, tree)


def _unqualified_catalog(table: exp.Table, tree: exp.Expr) -> bool:
    """A relation of PostgreSQL's catalog named without its schema (``FROM pg_type``, as
    psycopg's type lookups and asyncpg's ask): PostgreSQL looks in pg_catalog first."""
    return not table.db and _is_table(table) and table.name.lower() in _catalog_relations() \
        and not _named_by_cte(table, tree)


@functools.cache
def _catalog_relations() -> frozenset[str]:
    """The names of pg_catalog's relations: DuckDB's, and those the shadows add."""
    with duckdb.connect() as duck:
        names = {row[0] for row in duck.execute(_CATALOG_TABLES).fetchall()}
    return frozenset(names) | frozenset(EMPTY_TABLES) | frozenset(_EXTRA_COLUMNS) | \
        frozenset(pgroles.MACROS) | pgoids.RELATIONS


def _is_table(table: exp.Table) -> bool:
    return isinstance(table.this, exp.Identifier)


def _named_by_cte(table: exp.Table, tree: exp.Expr) -> bool:
    return not table.db and any(cte.alias_or_name.lower() == table.name.lower()
                                for cte in tree.find_all(exp.CTE))


def _rewritten(tree: exp.Expr) -> exp.Expr:
    """PostgreSQL's forms DuckDB does not read, as DuckDB's (each node after its operands); a
    call the query does not name is named as PostgreSQL names it (``version``)."""
    if isinstance(tree, exp.Select):
        tree.set("expressions", [_called_as(e) for e in tree.expressions])
    for node in reversed(list(tree.walk(bfs=False))):
        new = _rewrite(node)
        if new is not node:
            if node is tree:
                return new  # the root is a query, never rewritten: for completeness
            node.replace(new)
    return tree


def _called_as(column: exp.Expr) -> exp.Expr:
    if isinstance(column, exp.Bracket) and isinstance(column.this, exp.Column):
        return exp.alias_(column, column.this.name)  # i.indkey[0]: PostgreSQL's "indkey"
    call = column.expression if isinstance(column, exp.Dot) else column
    name = _CALL_NAMES.get(type(call)) or (call.name.lower() if isinstance(call, exp.Anonymous) else None)
    return exp.alias_(column, name) if name else column


def _rewrite(node: exp.Expr) -> exp.Expr:
    if isinstance(node, exp.Collate):  # COLLATE pg_catalog.default: DuckDB's default
        return node.this
    setting = _setting(node)
    if setting is not None:
        return exp.Literal.string(setting)
    if isinstance(node, exp.Anonymous) and node.name.lower() == "current_setting" \
            and len(node.expressions) == 1 and not node.expressions[0].is_string:
        node.set("this", "indb_setting")  # a parameter's setting, known when the query runs
        return node
    if isinstance(node, exp.CurrentCatalog):  # PostgreSQL's current_catalog (no parentheses:
        return exp.CurrentDatabase()  # DuckDB reads a column), as JDBC's getColumns asks
    if isinstance(node, exp.Operator):  # OPERATOR(pg_catalog.~)
        kind, negated = _OPERATORS.get(str(node.args.get("operator")).split(".")[-1],
                                       (None, False))
        if kind is None:
            return node
        match = kind(this=node.this, expression=node.expression)
        return exp.Not(this=match) if negated else match
    if isinstance(node, exp.Dot) and isinstance(node.expression, exp.Func) \
            and node.this.name.lower() in CATALOG_SCHEMAS:
        return node.expression  # pg_catalog.f(...): the shadow's (or DuckDB's) f
    if isinstance(node, exp.Anonymous) and _PRETTY.get(node.name.lower()) == len(node.expressions):
        node.set("this", f"{node.name.lower()}_pretty")  # the shadow's macro, ignoring pretty
        return node
    if isinstance(node, exp.Anonymous) and node.name.lower() in _RENAMED:
        node.set("this", _RENAMED[node.name.lower()])
        return node
    if isinstance(node, exp.Table) and not isinstance(node.this, exp.Identifier) \
            and node.db.lower() == "pg_catalog":
        node.set("db", None)  # FROM pg_catalog.unnest(...)
        return node
    if isinstance(node, exp.DataType) and node.this == exp.DataType.Type.USERDEFINED \
            and isinstance(node.args.get("kind"), exp.Dot):  # pg_catalog.int2: PostgreSQL's int2
        return exp.DataType.build(node.args["kind"].expression.name, dialect="postgres")
    if isinstance(node, exp.Cast):
        return pgcasts.cast(node)
    if isinstance(node, exp.Bracket) and isinstance(node.this, exp.Column) \
            and node.this.name.lower() in pgparams.VECTOR_COLUMNS and len(node.expressions) == 1 \
            and not isinstance(node.expressions[0], exp.Slice):
        node.set("expressions", [exp.Add(this=node.expressions[0], expression=exp.Literal.number(1))])
        return node  # a vector's subscripts start at 0, a DuckDB list's at 1
    if isinstance(node, exp.Unnest) and isinstance(node.parent, exp.Join | exp.From) \
            and (len(node.expressions) > 1 or node.args.get("offset")):
        return _zipped(node)
    if isinstance(node, exp.Table):
        return _function_in_from(node)
    return node


def _function_in_from(node: exp.Table) -> exp.Expr:
    """A function in FROM as PostgreSQL reads it (Grafana's listing of the search path's
    tables): an array's function (``string_to_array(...) s``) a row of its value, in a column
    named as the alias; a series (``generate_series(...) AS i``) one column named as the alias."""
    alias = node.args.get("alias")
    if isinstance(node.this, exp.StringToArray | exp.RegexpSplit):
        name = alias.name if alias is not None else "value"
        return exp.Subquery(this=exp.select(exp.alias_(node.this, name)),
                            alias=exp.TableAlias(this=exp.to_identifier(name)))
    if isinstance(node.this, exp.GenerateSeries | exp.ExplodingGenerateSeries) and alias is not None \
            and not alias.columns:
        alias.set("columns", [alias.this.copy()])
    return node


def _zipped(node: exp.Unnest) -> exp.Expr:
    """PostgreSQL's ``unnest(a, b) WITH ORDINALITY k(x, y, n)`` in a FROM (Django's index
    introspection): the arrays side by side, the shorter padded with NULLs, each row numbered
    from 1, as a lateral subquery of DuckDB's ``unnest`` of each."""
    alias = node.args.get("alias")
    named = [c.name for c in alias.columns] if alias is not None and alias.columns else []
    names = named + [f"unnest{i}" for i in range(len(named) + 1, len(node.expressions) + 1)]
    columns: list[exp.Expr] = [exp.alias_(exp.func("unnest", array), name)
                               for array, name in zip(node.expressions, names)]
    offset = node.args.get("offset")
    if offset is not None:
        longest = exp.func("greatest", *(exp.func("len", a.copy()) for a in node.expressions))
        columns.append(exp.alias_(exp.func("unnest", exp.func(
            "generate_series", exp.Literal.number(1), longest)), offset.name))
    return exp.Subquery(this=exp.select(*columns), alias=exp.TableAlias(
        this=alias.this if alias is not None and alias.this else exp.to_identifier("unnest")))


class Shadows:
    """The shadow databases, one a set of visible relations, the last ``KEPT`` kept."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._kept: OrderedDict[tuple[tuple[Relation, ...], tuple[Principal, ...], tuple[
            tuple[str, str], ...], tuple[tuple[str, str], ...]], _Shadow] = OrderedDict()

    def answer(self, relations: Sequence[Relation], principals: Sequence[Principal],
               query: exp.Expr, params: object, types: Sequence[tuple[str, str]] = (),
               macros: Sequence[tuple[str, str]] = ()) -> Result:
        """The catalog query's rows, as the user who sees ``relations`` and ``principals``
        gets them; ``types``: the database's named types, ``macros`` its macros, (name,
        definition) each."""
        key = (tuple(relations), tuple(principals), tuple(types), tuple(macros))
        with self._lock:
            shadow = self._kept.get(key)
            if shadow is None:
                shadow = self._kept[key] = _Shadow(*key)
                while len(self._kept) > KEPT:
                    self._kept.popitem(last=False)[1].duck.close()
            self._kept.move_to_end(key)
            cursor = shadow.duck.cursor()
        try:
            cursor.execute(render(exp.Use(this=exp.to_identifier(DATABASE))))
            sql = render(_extended(query.copy(), shadow.tables, shadow.macros))
            relation = cursor.sql(sql, params=params or None)
            result = Result(relation.to_arrow_table())
            result.types = relation.types  # json_build_object's answer is json (SQLAlchemy's)
            return result
        except duckdb.Error as error:
            raise SqlError(f"{str(error).splitlines()[0]} (a catalog query, answered from the "
                           "tables and views you may read)") from None
        finally:
            cursor.close()

    def close(self) -> None:
        with self._lock:
            for shadow in self._kept.values():
                shadow.duck.close()
            self._kept.clear()


class _Shadow:
    """One shadow database; ``tables``: those of DuckDB's pg_catalog; ``macros``: the tables of
    pg_catalog read through the shadow's table macros (``_EXTRA_COLUMNS``, ``EMPTY_TABLES``)."""

    def __init__(self, relations: Sequence[Relation], principals: Sequence[Principal],
                 types: Sequence[tuple[str, str]] = (),
                 macros: Sequence[tuple[str, str]] = ()) -> None:
        self.duck = duckdb.connect()
        for statement in _making(relations, principals, types, macros):
            self.duck.execute(render_indb(statement) if isinstance(statement, CreateType)
                              else render(statement))
        for _, definition in macros:  # (one DuckDB cannot make is not listed)
            with contextlib.suppress(duckdb.Error):
                self.duck.execute(definition)
        self.tables = frozenset(row[0] for row in self.duck.execute(_CATALOG_TABLES).fetchall())
        empty = {table: columns for table, columns in EMPTY_TABLES.items() if table not in self.tables}
        for table, columns in empty.items():
            self.duck.execute(render(_table_macro(table, exp.select(*(
                exp.alias_(exp.cast(exp.null(), column_type(kind)), column)
                for column, kind in columns.items())).where(exp.false()))))
        self.macros = frozenset(empty) | frozenset(_EXTRA_COLUMNS) | frozenset(pgroles.MACROS)
        for schema, table, extra in _extras():
            source = exp.Table(this=exp.to_identifier(table), db=exp.to_identifier(schema))
            has = {row[0] for row in self.duck.execute(render(exp.Describe(this=source))).fetchall()}
            replaced = [exp.alias_(value, column) for column, value in extra.items() if column in has]
            added = [exp.alias_(value, column) for column, value in extra.items() if column not in has]
            base = exp.select(exp.Star(replace=replaced or None), *added).from_(source)
            if table in _LEFT_OUT:
                base = _LEFT_OUT[table](base)
            body: exp.Query = base
            if table in _ADDED_ROWS:  # and the rows DuckDB's lacks (their other columns NULL)
                body = exp.union(base, _ADDED_ROWS[table](), distinct=False)
                body.set("by_name", True)
            self.duck.execute(render(_table_macro(table, body, _macro(table, schema))))
        for setting, value in (("enable_external_access", exp.false()),
                               ("lock_configuration", exp.true())):  # no files, for good
            self.duck.execute(render(exp.Set(expressions=[
                exp.SetItem(this=exp.EQ(this=exp.column(setting), expression=value))])))


def _extras() -> list[tuple[str, str, dict[str, exp.Expr]]]:
    """The catalog's relations read through macros with columns of their own: schema, name,
    the columns."""
    information = {**pgkeys.INFORMATION_COLUMNS, "columns": {
        **pgkeys.INFORMATION_COLUMNS["columns"], "data_type": _information_type(udt=False),
        "udt_name": _information_type(udt=True)}}
    return [*(("pg_catalog", table, extra) for table, extra in _EXTRA_COLUMNS.items()),
            *(("information_schema", table, extra) for table, extra in information.items())]


# information_schema.columns' data_type and udt_name of DuckDB's types, as PostgreSQL's
_INFORMATION_TYPES = {
    "INTEGER": ("integer", "int4"), "BIGINT": ("bigint", "int8"), "SMALLINT": ("smallint", "int2"),
    "TINYINT": ("smallint", "int2"), "UTINYINT": ("smallint", "int2"),
    "USMALLINT": ("integer", "int4"), "UINTEGER": ("bigint", "int8"),
    "UBIGINT": ("numeric", "numeric"), "HUGEINT": ("numeric", "numeric"),
    "UHUGEINT": ("numeric", "numeric"), "DOUBLE": ("double precision", "float8"),
    "FLOAT": ("real", "float4"), "VARCHAR": ("character varying", "varchar"),
    "BOOLEAN": ("boolean", "bool"), "DATE": ("date", "date"), "BLOB": ("bytea", "bytea"),
    "UUID": ("uuid", "uuid"), "JSON": ("json", "json"), "INTERVAL": ("interval", "interval"),
    "TIME": ("time without time zone", "time"),
    **{kind: ("timestamp without time zone", "timestamp")
       for kind in ("TIMESTAMP", "TIMESTAMP_S", "TIMESTAMP_MS", "TIMESTAMP_NS")},
    "TIMESTAMP WITH TIME ZONE": ("timestamp with time zone", "timestamptz")}


def _information_type(udt: bool) -> exp.Expr:
    """information_schema.columns' ``data_type`` (``udt``: ``udt_name``) as PostgreSQL's:
    ``integer`` / ``int4``; an array ``ARRAY`` / ``_int4``; a decimal ``numeric``."""
    def named(kind: exp.Expr) -> exp.Expr:
        known = exp.Case(this=kind, ifs=[exp.If(this=exp.Literal.string(duck), true=exp.Literal.string(
            pg[udt])) for duck, pg in _INFORMATION_TYPES.items()],
            default=exp.func("lower", kind.copy()))
        return exp.Case(ifs=[
            exp.If(this=exp.Like(this=kind.copy(), expression=exp.Literal.string("DECIMAL%")),
                   true=exp.Literal.string("numeric")),
            exp.If(this=exp.or_(*(exp.Like(this=kind.copy(), expression=exp.Literal.string(f"{k}%"))
                                  for k in ("STRUCT", "MAP"))), true=exp.Literal.string("json"))],
            default=known)
    kind = exp.column("data_type")
    element = exp.func("regexp_replace", kind.copy(), exp.Literal.string(r"\[\]$"), exp.Literal.string(""))
    array = exp.DPipe(this=exp.Literal.string("_"), expression=named(element)) if udt \
        else exp.Literal.string("ARRAY")
    user_defined = pgtypes.named(kind.copy(), "name")  # a named type's: its name, USER-DEFINED
    return exp.Case(ifs=[exp.If(this=exp.Like(this=kind.copy(), expression=exp.Literal.string("%[]")),
                                true=array),
                         exp.If(this=user_defined.is_(exp.null()).not_(),
                                true=user_defined.copy() if udt else exp.Literal.string("USER-DEFINED"))],
                    default=named(kind))


def _macro(table: str, schema: str = "pg_catalog") -> str:
    return f"indb_{table}" if schema == "pg_catalog" else f"indb_{schema}_{table}"


def _table_macro(table: str, body: exp.Query, name: str | None = None,
                 parameters: tuple[str, ...] = ()) -> exp.Create:
    """``CREATE MACRO indb_<table>() AS TABLE <body>``: what the shadow reads for pg_catalog's
    ``table`` (or a table function of PostgreSQL's of that ``name``, of ``parameters``)."""
    returns_table = exp.Properties(expressions=[exp.ReturnsProperty(
        this=exp.Schema(this=exp.Var(this="TABLE")), is_table=True)])
    return exp.Create(this=exp.UserDefinedFunction(this=exp.to_table(name or _macro(table)),
                                                   expressions=[exp.to_identifier(p) for p in parameters],
                                                   wrapped=True),
                      kind="MACRO", expression=body, properties=returns_table)


# PostgreSQL's keywords as pg_get_keywords() lists them (DBeaver reads them as it connects)
_KEYWORDS = exp.select(
    exp.alias_(exp.column("keyword_name"), "word"),
    exp.alias_(exp.Case(this=exp.column("keyword_category"), ifs=[
        exp.If(this=exp.Literal.string(duck), true=exp.Literal.string(code))
        for duck, code in (("reserved", "R"), ("unreserved", "U"), ("column_name", "C"))],
        default=exp.Literal.string("T")), "catcode"),
    exp.alias_(exp.true(), "barelabel"), exp.alias_(exp.column("keyword_category"), "catdesc"),
    exp.alias_(exp.Literal.string("can be bare label"), "baredesc")).from_(
    exp.Table(this=exp.Anonymous(this="duckdb_keywords")))


def _extended(tree: exp.Expr, tables: frozenset[str], macros: frozenset[str]) -> exp.Expr:
    """``pg_catalog.X [AS a]`` as the shadow's ``indb_X() AS a`` for X of ``macros``; another
    table of PostgreSQL's catalog that DuckDB's lacks (``tables`` are DuckDB's) as a relation of
    no rows with the columns the query names (indb has no policies, inheritance, triggers...:
    PostgreSQL's would be empty too); columns named with their schema
    (``pg_catalog.pg_class.relname``) without it."""
    for node in list(tree.find_all(exp.Table)):
        name = node.name.lower()
        alias = exp.TableAlias(this=exp.to_identifier(node.alias or node.name))
        if node.db.lower() == "information_schema" and (name in pgkeys.INFORMATION_COLUMNS
                                                         or name == "sequences"):
            _replace(node, exp.Table(this=exp.Anonymous(this=_macro(name, "information_schema")),
                                     alias=alias))
            continue
        if node.db.lower() != "pg_catalog" or not isinstance(node.this, exp.Identifier):
            continue
        if name in macros:
            _replace(node, exp.Table(this=exp.Anonymous(this=_macro(name)), alias=alias))
        elif name not in tables:
            empty = exp.select(*(exp.alias_(exp.null(), c) for c in sorted(_named(node)))
                               or [exp.alias_(exp.null(), "oid")]).where(exp.false())
            _replace(node, exp.Subquery(this=empty, alias=alias))
    for column in list(tree.find_all(exp.Column)):
        if column.text("db").lower() in CATALOG_SCHEMAS:
            column.set("db", None)
    return tree


def _replace(table: exp.Table, new: exp.Table | exp.Subquery) -> None:
    """``table`` replaced by ``new`` in its query, keeping the joins that sqlglot hangs on a
    parenthesized join's first table (``FROM ((pg_class c JOIN pg_namespace n ON ...) JOIN
    ...)``, as psqlODBC's SQLColumns writes it)."""
    joins = table.args.get("joins")
    if joins:
        new.set("joins", joins)
    table.replace(new)


def _named(table: exp.Table) -> set[str]:
    """The columns a query reads of ``table``: those named with its alias (or name), and the
    unnamed ones of a SELECT reading it alone."""
    alias = (table.alias or table.name).lower()
    select = table.find_ancestor(exp.Select)
    if select is None:
        return set()
    named = {c.name for c in select.find_all(exp.Column) if c.table.lower() == alias}
    if not select.args.get("joins") and select.args.get("from_") is table.parent:
        named |= {c.name for c in select.find_all(exp.Column) if not c.table
                  and c.find_ancestor(exp.Select) is select}
    return named


def _making(relations: Sequence[Relation], principals: Sequence[Principal],
            types: Sequence[tuple[str, str]], macros: Sequence[tuple[str, str]]) -> list[exp.Expr]:
    """The statements that make a shadow: its database, the named types, the relations
    (empty), the principals, the macros."""
    made: list[exp.Expr] = [exp.Attach(this=exp.alias_(exp.Literal.string(":memory:"), DATABASE)),
                            exp.Use(this=exp.to_identifier(DATABASE)), *pgtypes.made(types),
                            _table_macro("", pgtypes.listed(types), name=pgtypes.NAMED)]
    for schema in sorted({r.schema for r in relations} - {"main"}):
        made.append(exp.Create(this=exp.Table(db=exp.to_identifier(schema, quoted=True)),
                               kind="SCHEMA", exists=True))
    ordered, shown = pgkeys.in_order(relations)
    for relation in ordered:
        name = exp.Table(this=exp.to_identifier(relation.name, quoted=True),
                         db=exp.to_identifier(relation.schema, quoted=True))
        if relation.sequence is not None:
            made.append(pgkeys.sequence_made(relation.sequence, name))
        elif relation.view:  # a view of no rows with the view's columns, so it lists as one
            made.append(exp.Create(this=name, kind="VIEW", expression=exp.select(*(
                exp.alias_(exp.cast(exp.null(), column_type(kind)), column, quoted=True)
                for column, kind in relation.columns)).where(exp.false())))
        else:
            made.extend(pgkeys.table(relation, name, shown[relation.name_key]))
    made.append(_table_macro("", pgkeys.identities(relations), name=pgkeys.IDENTITIES))
    made.append(_table_macro("", pgkeys.constraints(relations, shown), name=pgkeys.CONSTRAINTS))
    made.append(_table_macro("", pgkeys.references(relations, shown), name=pgkeys.REFERENCES))
    made.append(_table_macro("", pgkeys.indexes(relations), name=pgkeys.INDEXES))
    made.append(_table_macro("", pgdepend.depends(relations, [name for name, _ in macros]), name=pgdepend.DEPENDS))
    made.append(_table_macro("", pgviews.definitions(relations), name=pgviews.DEFINITIONS))
    made.append(_table_macro("", pgmacros.definitions(macros), name=pgmacros.DEFINITIONS))
    made.append(_table_macro("", pgkeys.information_sequences(DATABASE),
                             name=_macro("sequences", "information_schema")))
    made.append(_table_macro("", pgroles.roles(principals, [r.owner for r in relations]),
                             name=pgroles.ROLES))
    made.append(_table_macro("", pgroles.users(), name=pgroles.USERS))
    made.append(_table_macro("", pgroles.authid(), name=pgroles.AUTHID))
    made.append(_table_macro("", pgroles.members(principals), name=pgroles.MEMBERS))
    made.append(_table_macro("", pgroles.owners(relations), name=pgroles.OWNERS))
    for macro, (arguments, body) in _MACROS.items():
        made.append(exp.Create(this=exp.Anonymous(this=macro, expressions=[
            exp.to_identifier(a) for a in arguments]), kind="MACRO", expression=body))
    made.append(_table_macro("", _KEYWORDS, name=_TABLE_FUNCTIONS[0]))
    # a table's partitions' ancestors: itself alone (psql's \d lists the foreign keys of them),
    # as a set-returning function of a select list (a scalar macro) and of FROM (a table macro,
    # its depth 1 in the column psql's WITH ORDINALITY names)
    ancestor = pgcasts.class_oid(exp.column("relation"))
    made.append(exp.Create(this=exp.Anonymous(this=_TABLE_FUNCTIONS[1], expressions=[
        exp.to_identifier("relation")]), kind="MACRO", expression=ancestor))
    made.append(_table_macro("", exp.select(exp.alias_(ancestor.copy(), "relid"), exp.alias_(
        exp.Literal.number(1), "depth")), name=_TABLE_FUNCTIONS[1], parameters=("relation",)))
    parameter, body = pgfunctions.OPTIONS_TABLE
    made.append(_table_macro("", body, name=_TABLE_FUNCTIONS[2], parameters=(parameter,)))
    return made
