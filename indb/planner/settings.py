"""Plans for settings.

- The database's: ``ALTER DATABASE SET name = 'value' | RESET name``. Only admins run these
  (``planner.access`` has no rule for them, which means admin). The one setting so far is
  ``file_paths_allowed``: the directories users below admin may name in ``CREATE FUNCTION ...
  FILE PATHS`` (``docs/security.md``).
- A connection's own: ``SET name = value``, ``RESET name`` and DuckDB's ``PRAGMA name = value``
  of the settings of ``SESSION_SETTINGS``, which its queries' DuckDB takes (``threads``,
  ``memory_limit``...), as DuckDB users write them at the top of a script. Any user may.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from sqlglot import exp

from indb.errors import FunctionError
from indb.parser import error_at
from indb.parser.settings import AlterDatabase
from indb.planner.tables import CatalogFacts
from indb.registry.code import FILE_PATHS_ALLOWED, allowed_directories

# each setting, and the check of a value (raising FunctionError with what is wrong)
SETTINGS: dict[str, Callable[[str], object]] = {FILE_PATHS_ALLOWED: allowed_directories}


# the DuckDB settings a connection may set for its own queries, by every name DuckDB knows them by
SESSION_SETTINGS = {"threads": "threads", "worker_threads": "threads",
                    "memory_limit": "memory_limit", "max_memory": "memory_limit",
                    "preserve_insertion_order": "preserve_insertion_order",
                    "default_order": "default_order", "default_null_order": "default_null_order",
                    "null_order": "default_null_order"}


@dataclass(frozen=True)
class SetSessionSettings:
    """The connection's settings to set, each a DuckDB name and its value (None: RESET)."""
    settings: tuple[tuple[str, object], ...]


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


def plan_set(tree: exp.Set, catalog: CatalogFacts) -> SetSessionSettings:
    """``SET name = value [, ...]`` (``SET SESSION`` and ``SET GLOBAL`` alike: the connection's
    queries are what it sets)."""
    items = [item.this for item in tree.expressions if isinstance(item, exp.SetItem)]
    if not items or len(items) != len(tree.expressions) or \
            not all(isinstance(item, exp.EQ) for item in items):
        raise error_at(tree, "SET takes name = value (or name TO value)")
    return SetSessionSettings(tuple(_setting(item) for item in items))


def plan_pragma(tree: exp.Pragma, catalog: CatalogFacts) -> SetSessionSettings:
    """DuckDB's ``PRAGMA name = value``, its SET (``PRAGMA threads = 4``)."""
    if not isinstance(tree.this, exp.EQ):
        raise error_at(tree, "PRAGMA statements are not supported but for PRAGMA name = value "
                             "of a setting, and the PRAGMAs that read (PRAGMA table_info('t'))")
    return SetSessionSettings((_setting(tree.this),))


def plan_reset(tree: exp.Command, catalog: CatalogFacts) -> SetSessionSettings:
    """``RESET name`` (``RESET ALL``: every setting a connection may set), back to its default."""
    words = str(tree.expression.name if isinstance(tree.expression, exp.Expr)
                else tree.expression or "").split()
    if len(words) != 1:
        raise error_at(tree, "RESET takes a setting's name, or ALL")
    if words[0].upper() == "ALL":
        return SetSessionSettings(tuple((name, None) for name in dict.fromkeys(
            SESSION_SETTINGS.values())))
    return SetSessionSettings(((_known(words[0], tree), None),))


def _setting(assigned: exp.EQ) -> tuple[str, object]:
    name, value = assigned.this, assigned.expression
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
