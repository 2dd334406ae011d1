"""Plans for the database's settings: ``ALTER DATABASE SET name = 'value' | RESET name``.

Only admins run these (``planner.access`` has no rule for them, which means admin). The one
setting so far is ``file_paths_allowed``: the directories users below admin may name in
``CREATE FUNCTION ... FILE PATHS`` (``docs/security.md``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from indb.errors import FunctionError
from indb.parser import error_at
from indb.parser.settings import AlterDatabase
from indb.planner.tables import CatalogFacts
from indb.registry.code import FILE_PATHS_ALLOWED, allowed_directories

# each setting, and the check of a value (raising FunctionError with what is wrong)
SETTINGS: dict[str, Callable[[str], object]] = {FILE_PATHS_ALLOWED: allowed_directories}


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
