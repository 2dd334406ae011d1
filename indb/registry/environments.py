"""Function environments: one catalog row an environment, naming the virtual environment that
holds its packages now and exactly what it holds (``pip freeze``), with that list's hash.

Each state of an environment is a directory of its own, ``environments/<name>/<generation>``,
built whole before the row names it (``indb.runtime.venvs``). Changing an environment builds a
new generation and then swaps the row from the old generation to the new one in one transaction
(``swap``), so a failed change leaves the row, and the directory it names, as they were; two
changes racing each other cannot both land.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path

import sqlalchemy as sa

from indb.catalog.database import Database, create_tables
from indb.errors import CatalogError, ConflictError, not_found

ENVIRONMENTS_DIR = "environments"

_metadata = sa.MetaData()
_environments = sa.Table(
    "indb_environments", _metadata,
    sa.Column("name", sa.String, primary_key=True),
    sa.Column("definition", sa.Text, nullable=False),  # EnvironmentInfo as JSON
)


def freeze_hash(frozen: tuple[str, ...]) -> str:
    """The hash of what an environment holds: its ``pip freeze`` lines, in order."""
    return hashlib.sha256("\n".join(frozen).encode()).hexdigest()


@dataclass(frozen=True)
class EnvironmentInfo:
    """A function environment as the catalog records it."""

    name: str
    generation: str                    # the directory under environments/<name>/ in use now
    requested: tuple[str, ...] = ()    # the requirements INSTALL asked for, as given
    frozen: tuple[str, ...] = ()       # ``pip freeze --local``: exactly what it holds
    hash: str = freeze_hash(())
    created: str = ""
    changed: str = ""

    def to_json(self) -> str:
        return json.dumps(self.__dict__)

    @classmethod
    def from_json(cls, text: str) -> EnvironmentInfo:
        data = json.loads(text)
        return cls(**{**data, "requested": tuple(data["requested"]), "frozen": tuple(data["frozen"])})

    def changed_to(self, generation: str, requested: tuple[str, ...],
                   frozen: tuple[str, ...]) -> EnvironmentInfo:
        """This environment holding ``frozen`` in a new ``generation``."""
        return replace(self, generation=generation, requested=requested, frozen=frozen,
                       hash=freeze_hash(frozen), changed=_now())


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


class EnvironmentStore:
    """The function environments of one database."""

    def __init__(self, db: Database) -> None:
        self.db = db
        create_tables(db.engine, _metadata)

    @property
    def root(self) -> Path:
        """Where environments live: the database's directory (a shared mount's every host
        sees); with an object-store warehouse, this host's scratch directory, where each host
        builds its own from the record (``runtime.venvs.verified_copy``)."""
        return self.db.path / ENVIRONMENTS_DIR

    def home(self, name: str) -> Path:
        """The directory of an environment's generations."""
        return self.root / name

    def directory(self, info: EnvironmentInfo) -> Path:
        """The virtual environment an environment's functions run in now."""
        return self.home(info.name) / info.generation

    def create(self, info: EnvironmentInfo, *, replace: bool) -> EnvironmentInfo:
        """Record a new environment (its first generation is built already); with ``replace``,
        an environment of that name is replaced (its generations are removed)."""
        now = _now()
        info = EnvironmentInfo(**{**info.__dict__, "created": now, "changed": now})
        with self.db.engine.begin() as conn:
            old = conn.execute(sa.select(_environments.c.definition)
                               .where(_environments.c.name == info.name)).first()
            if old and not replace:
                raise CatalogError(f"function environment {info.name} already exists; use CREATE "
                                   "OR REPLACE FUNCTION ENVIRONMENT, or DROP FUNCTION ENVIRONMENT "
                                   f"{info.name} first")
            conn.execute(_environments.delete().where(_environments.c.name == info.name))
            conn.execute(_environments.insert().values(name=info.name, definition=info.to_json()))
        if old:
            self.prune(info)
        return info

    def swap(self, old: EnvironmentInfo, new: EnvironmentInfo) -> None:
        """Make ``new`` (a new generation) the environment's state, if it is still at ``old``'s
        generation; ConflictError if another change landed meanwhile."""
        with self.db.engine.begin() as conn:
            rows = conn.execute(sa.select(_environments.c.definition)
                                .where(_environments.c.name == old.name)).all()
            current = EnvironmentInfo.from_json(rows[0][0]) if rows else None
            if current is None or current.generation != old.generation:
                raise ConflictError(f"function environment {old.name} was changed or dropped while "
                                    "this change was being built; nothing was changed by it, run "
                                    "it again")
            conn.execute(_environments.update().where(_environments.c.name == old.name)
                         .values(definition=new.to_json()))
        self.prune(new)

    def prune(self, kept: EnvironmentInfo) -> None:
        """Remove the generations older than ``kept`` but the one just before it (a run that
        started before the change may still be starting its processes there); newer ones are
        changes being built right now."""
        home = self.home(kept.name)
        try:
            newest = (home / kept.generation).stat().st_mtime
            older = sorted((p for p in home.iterdir() if p.is_dir() and p.name != kept.generation
                            and p.stat().st_mtime <= newest), key=lambda p: p.stat().st_mtime)
        except FileNotFoundError:  # removed meanwhile, by a drop or another prune
            return
        for path in older[:-1]:
            shutil.rmtree(path, ignore_errors=True)

    def find(self, name: str) -> EnvironmentInfo | None:
        with self.db.engine.connect() as conn:
            row = conn.execute(sa.select(_environments.c.definition)
                               .where(_environments.c.name == name.lower())).first()
        return EnvironmentInfo.from_json(row[0]) if row else None

    def get(self, name: str) -> EnvironmentInfo:
        found = self.find(name)
        if found is None:
            raise not_found("function environment", name)
        return found

    def all(self) -> list[EnvironmentInfo]:
        with self.db.engine.connect() as conn:
            rows = conn.execute(sa.select(_environments.c.definition)
                                .order_by(_environments.c.name)).all()
        return [EnvironmentInfo.from_json(r[0]) for r in rows]

    def drop(self, name: str) -> None:
        """Forget an environment and delete its virtual environments."""
        with self.db.engine.begin() as conn:
            if not conn.execute(_environments.delete().where(_environments.c.name == name)).rowcount:
                raise not_found("function environment", name)
        shutil.rmtree(self.home(name), ignore_errors=True)
