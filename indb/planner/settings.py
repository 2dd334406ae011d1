"""Plans for settings.

- The database's: ``ALTER DATABASE SET name = 'value' | RESET name``. Only admins run these
  (``planner.access`` has no rule for them, which means admin). The one setting so far is
  ``file_paths_allowed``: the directories users below admin may name in ``CREATE FUNCTION ...
  FILE PATHS`` (``docs/security.md``).
- A connection's own: ``SET name = value``, ``RESET name`` and DuckDB's ``PRAGMA name = value``
  of the settings of ``SESSION_SETTINGS``, which its queries' DuckDB takes (``threads``,
  ``memory_limit``...), as DuckDB users write them at the top of a script. Any user may.
- A session's search path, the schemas names without one are looked up in: ``USE s`` (DuckDB's,
  Spark's), ``SET schema = 's'``, and PostgreSQL's ``SET search_path TO s, main``. Any user may.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from sqlglot import exp

from indb.catalog.names import DATABASE, DEFAULT_SCHEMA, POSTGRES_SCHEMA
from indb.errors import FunctionError, SqlError
from indb.parser import error_at
from indb.parser.settings import AlterDatabase
from indb.planner.tables import CatalogFacts
from indb.planner import variables
from indb.registry.code import FILE_PATHS_ALLOWED, allowed_directories

# each setting, and the check of a value (raising FunctionError with what is wrong)
SETTINGS: dict[str, Callable[[str], object]] = {FILE_PATHS_ALLOWED: allowed_directories}


# the DuckDB settings a connection may set for its own queries, by every name DuckDB knows them by
SESSION_SETTINGS = {"threads": "threads", "worker_threads": "threads",
                    "memory_limit": "memory_limit", "max_memory": "memory_limit",
                    "preserve_insertion_order": "preserve_insertion_order",
                    "default_order": "default_order", "default_null_order": "default_null_order",
                    "null_order": "default_null_order",
                    # what the queries' SQL means, and how long they may run
                    **{name: name for name in (
                        "integer_division", "ieee_floating_point_ops",
                        "order_by_non_integer_literal", "lambda_syntax",
                        "scalar_subquery_error_on_multiple_rows", "max_execution_time")},
                    # how DuckDB plans and runs a query, not what it means
                    **{name: name for name in (
                        "pivot_filter_threshold", "pivot_limit", "disabled_optimizers",
                        "late_materialization_max_rows", "merge_join_threshold",
                        "nested_loop_join_threshold", "prefer_range_joins",
                        "ordered_aggregate_threshold", "explain_output")}}
# the names of the search path: PostgreSQL's, and DuckDB's (one schema, which must exist)
SEARCH_PATH = ("search_path", "schema")
USER_SCHEMA = "$user"  # PostgreSQL's name, in a search path, of a schema named as the user
DEFAULT_PATH = (DEFAULT_SCHEMA,)


@dataclass(frozen=True)
class SetSessionSettings:
    """The connection's settings to set, each a DuckDB name and its value (None: RESET); and
    the session's search path, when the statement sets it."""
    settings: tuple[tuple[str, object], ...]
    search_path: tuple[str, ...] | None = None  # None: as it is


@dataclass(frozen=True)
class ShowSearchPath:
    """``SHOW search_path`` (and ``SHOW schema``): the session's."""


@dataclass(frozen=True)
class SetDatabaseSetting:
    name: str
    value: str | None  # None: RESET, back to no value


def plan_alter_database(tree: AlterDatabase, catalog: CatalogFacts) -> SetDatabaseSetting:
    name = tree.this.name.lower()
    if name not in SETTINGS:
        raise error_at(tree.this, f"unknown database setting {name}; the settings are "
                                  f"{', '.join(SETTINGS)}")
    value = tree.args.get("value")
    if value is None:
        return SetDatabaseSetting(name, None)
    try:
        SETTINGS[name](value.name)
    except FunctionError as error:
        raise error_at(value, str(error)) from None
    return SetDatabaseSetting(name, value.name)


def plan_set(tree: exp.Set, catalog: CatalogFacts) -> SetSessionSettings | variables.SetVariable:
    """``SET name = value [, ...]`` (``SET SESSION`` and ``SET GLOBAL`` alike: the connection's
    queries are what it sets); DuckDB's ``SET VARIABLE name = value``."""
    if variables.is_variable(tree):
        return variables.plan_set(tree)
    items = [item.this for item in tree.expressions if isinstance(item, exp.SetItem)]
    if not items or len(items) != len(tree.expressions) or \
            not all(isinstance(item, exp.EQ) for item in items):
        raise error_at(tree, "SET takes name = value (or name TO value)")
    paths = [item for item in items if item.this.sql().lower() in SEARCH_PATH]
    if paths and len(items) > 1:
        raise error_at(paths[0], "SET search_path stands alone: set it in a statement of its own")
    if paths:
        value = paths[0].expression
        if not isinstance(value, exp.Literal | exp.Column | exp.Var):
            raise error_at(value, "a search path is schema names: SET search_path = 's1, main'")
        return _search_path(paths[0].this.sql().lower(), value.name, value, catalog)
    return SetSessionSettings(tuple(_setting(item) for item in items))


# SET [SESSION | LOCAL] name [TO | =] value, as text (LOCAL: to the transaction's end, which is
# the statement's here)
_COMMAND_SETTING = re.compile(r"(?:(?:SESSION|LOCAL)\s+)?([^\s=]+)\s*(?:=|TO(?=\s))?\s*(.*)",
                              re.IGNORECASE | re.DOTALL)


def command_setting(tree: exp.Command) -> tuple[str, str] | None:
    """The setting a SET that sqlglot reads as text names, lower-cased, and its value's text
    (``SET search_path TO a, b``: ``search_path``, ``a, b``); None for another command."""
    found = _COMMAND_SETTING.fullmatch(tree.text("expression").strip())
    if tree.name.upper() != "SET" or found is None:
        return None
    return found.group(1).lower(), found.group(2).strip()


def plan_set_command(tree: exp.Command, catalog: CatalogFacts) -> SetSessionSettings:
    """PostgreSQL's forms of SET that sqlglot reads as text: ``SET [SESSION] search_path TO a,
    b``, ``SET SCHEMA 's'``; a SET of anything else that way is refused."""
    setting = command_setting(tree)
    if setting is None or setting[0] not in SEARCH_PATH or not setting[1]:
        raise error_at(tree, f"SET {tree.text('expression').strip()} is not supported; SET takes "
                             "name = value of a setting a connection may set, or SET search_path "
                             "TO schema, ...")
    return _search_path(setting[0], setting[1], tree, catalog)


def plan_use(tree: exp.Use, catalog: CatalogFacts) -> SetSessionSettings:
    """``USE s`` (DuckDB's, Spark's; ``USE SCHEMA s``, ``USE indb.s``, ``USE indb``): schema
    ``s`` the session's search path. Spark's databases are schemas: ``USE DATABASE s`` too."""
    kind = str(tree.args.get("kind") or "").upper()
    table = tree.this
    if kind not in ("", "SCHEMA", "DATABASE", "NAMESPACE") or not isinstance(table, exp.Table) \
            or table.args.get("catalog") is not None:
        raise error_at(tree, "USE takes a schema: USE s, USE SCHEMA s or USE indb.s")
    if table.args.get("db") is not None and table.db.lower() not in (DATABASE, "memory"):
        raise error_at(table, f"{table.db} is not a database here: this one is {DATABASE} "
                              f"(USE {DATABASE}.{table.name}, or USE {table.name})")
    name = table.name.lower()
    if table.args.get("db") is None and name in (DATABASE, "memory") and kind != "SCHEMA" \
            and not catalog.schema_exists(name):
        name = DEFAULT_SCHEMA  # the database: its default schema, as DuckDB's USE of a database
    return _search_path("schema", name, table, catalog)


def path_of(text: str) -> tuple[str, ...]:
    """The schemas a search path's text names (``s1, "S2", public``; DEFAULT: main), as SET
    and a PostgreSQL client's startup options give it; SqlError for what is not one."""
    if text.strip().upper() == "DEFAULT":
        return DEFAULT_PATH
    schemas = []
    for part in text.strip().strip("'").split(","):
        part = part.strip().strip("'")
        quoted = len(part) > 1 and part[0] == part[-1] == '"'
        schema = part[1:-1] if quoted else part.lower()
        if not schema or (quoted and '"' in schema) or not (quoted or schema.replace("_", "a")
                                                            .isalnum() or schema == USER_SCHEMA):
            raise SqlError(f"{part!r} is not a schema's name; a search path is names in a list: "
                           "SET search_path TO s1, main")
        schemas.append(DEFAULT_SCHEMA if schema == POSTGRES_SCHEMA else schema)
    return tuple(dict.fromkeys(schemas))


def _search_path(name: str, text: str, node: exp.Expr, catalog: CatalogFacts) -> SetSessionSettings:
    """The search path ``text`` names (``path_of``); DuckDB's ``schema`` one schema, which must
    exist (PostgreSQL's path may name one that does not)."""
    try:
        schemas = path_of(text)
    except SqlError as error:
        raise error_at(node, error.message) from None
    if name == "schema" and (len(schemas) != 1 or schemas[0] != DEFAULT_SCHEMA
                             and not catalog.schema_exists(schemas[0])):
        raise error_at(node, f"no schema {text.strip()} (SHOW SCHEMAS lists them; CREATE SCHEMA "
                             "makes one)")
    return SetSessionSettings((), schemas)


def plan_pragma(tree: exp.Pragma, catalog: CatalogFacts) -> SetSessionSettings:
    """DuckDB's ``PRAGMA name = value``, its SET (``PRAGMA threads = 4``)."""
    if not isinstance(tree.this, exp.EQ):
        raise error_at(tree, "PRAGMA statements are not supported but for PRAGMA name = value "
                             "of a setting, and the PRAGMAs that read (PRAGMA table_info('t'))")
    return SetSessionSettings((_setting(tree.this),))


def plan_reset(tree: exp.Command,
               catalog: CatalogFacts) -> SetSessionSettings | variables.ResetVariable:
    """``RESET [SESSION | LOCAL | GLOBAL] name`` (``RESET ALL``: every setting a connection may
    set), back to its default; ``RESET VARIABLE name``."""
    words = str(tree.expression.name if isinstance(tree.expression, exp.Expr)
                else tree.expression or "").split()
    if words and words[0].upper() == "VARIABLE":
        return variables.plan_reset(words, tree)
    if len(words) == 2 and words[0].upper() in ("SESSION", "LOCAL", "GLOBAL"):
        words = words[1:]  # DuckDB's RESET SESSION x: the connection's settings are all there is
    if len(words) != 1:
        raise error_at(tree, "RESET takes a setting's name, or ALL")
    if words[0].upper() == "ALL":
        return SetSessionSettings(tuple((name, None) for name in dict.fromkeys(
            SESSION_SETTINGS.values())), DEFAULT_PATH)
    if words[0].lower() in SEARCH_PATH:
        return SetSessionSettings((), DEFAULT_PATH)
    return SetSessionSettings(((_known(words[0], tree), None),))


def _setting(assigned: exp.EQ) -> tuple[str, object]:
    name, value = assigned.this, assigned.expression
    if isinstance(value, exp.Column | exp.Var) and value.name.upper() == "DEFAULT":
        return _known(name.sql(), name), None  # SET x TO DEFAULT: PostgreSQL's RESET x
    if isinstance(value, exp.Column | exp.Var):  # SET default_order TO desc: a word
        return _known(name.sql(), name), value.name
    if not isinstance(value, exp.Literal | exp.Boolean) and not (
            isinstance(value, exp.Neg) and isinstance(value.this, exp.Literal)):
        raise error_at(value, "a setting's value is a number, a string, true or false, or a word")
    return _known(name.sql(), name), value.to_py()


def _known(name: str, node: exp.Expr) -> str:
    """The DuckDB name of a setting a connection may set; else SqlError naming them."""
    setting = SESSION_SETTINGS.get(name.lower())
    if setting is None:
        raise error_at(node, f"indb has no setting {name} a connection may set; it takes "
                             f"{', '.join(sorted(set(SESSION_SETTINGS.values())))} (for its "
                             "queries' DuckDB), and the database's settings are ALTER DATABASE's")
    return setting
