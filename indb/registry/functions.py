"""Registered functions: one catalog row a function, its code copied into the database.

Code is content-addressed (``code/<sha256>/``): CREATE copies the files once, so editing them later
changes nothing until ``CREATE OR REPLACE FUNCTION``, and a running instance keeps reading the
version it started with even if the function is replaced meanwhile. In an object-store warehouse
the files are objects under that prefix, and each worker runs a verified copy of its own
(``catalog.artifacts``).
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import sqlalchemy as sa

from indb.catalog import artifacts, filesystems
from indb.catalog.database import Database, create_tables
from indb.catalog.types import Column
from indb.errors import CatalogError, not_found

CODE_DIR = "code"

_metadata = sa.MetaData()
_functions = sa.Table(
    "indb_functions", _metadata,
    sa.Column("name", sa.String, primary_key=True),
    sa.Column("definition", sa.Text, nullable=False),  # FunctionInfo as JSON
)


@dataclass(frozen=True)
class Parameter:
    """A parameter an exposed function declares (``PARAMETERS (...)``)."""

    name: str
    sql_type: str               # canonical (DuckDB's spelling)
    default: str | None = None  # rendered canonically; None: the caller must give it
    comment: str = ""


@dataclass(frozen=True)
class FunctionInfo:
    """A registered function, as SHOW/DESCRIBE FUNCTION and the executor see it."""

    name: str
    mode: str                         # distributed | nondistributed
    style: str                        # handler | script (a Kinetica-style program run as a process)
    entry: str                        # the file that is imported (handler) or run (script)
    handler: str | None
    frame: str
    params: tuple[str, ...] | None    # declared parameter names; None accepts any
    returns: tuple[Column, ...]       # RETURNS TABLE columns; empty: taken from what it returns
    run_command: str
    run_command_args: tuple[str, ...]
    files: tuple[str, ...]
    options: dict[str, str] = field(default_factory=dict)
    code_hash: str = ""
    ddl: str = ""
    created: str = ""
    # PARAMETERS (...); None: no declaration, PARAMS pass as given. Records written before these
    # two fields existed lack them and read as the defaults (no declaration, no comment).
    parameters: tuple[Parameter, ...] | None = None
    comment: str = ""

    def to_json(self) -> str:
        data = {**self.__dict__, "returns": [[c.name, c.sql_type, c.nullable] for c in self.returns],
                "parameters": None if self.parameters is None
                else [p.__dict__ for p in self.parameters]}
        return json.dumps(data)

    @classmethod
    def from_json(cls, text: str) -> FunctionInfo:
        data = json.loads(text)
        data["returns"] = tuple(Column(*c) for c in data["returns"])
        for key in ("run_command_args", "files"):
            data[key] = tuple(data[key])
        if data["params"] is not None:
            data["params"] = tuple(data["params"])
        if data.get("parameters") is not None:
            data["parameters"] = tuple(Parameter(**p) for p in data["parameters"])
        return cls(**data)


class FunctionStore:
    """The functions of one database."""

    def __init__(self, db: Database) -> None:
        self.db = db
        create_tables(db.engine, _metadata)

    @property
    def code_root(self) -> str:
        """Where code lives: a directory, or a prefix of an object-store warehouse."""
        return f"{self.db.shared_root}/{CODE_DIR}"

    def code_dir(self, info: FunctionInfo) -> str:
        """A version's code: where its instances run it from (a worker runs code in an object
        store from its verified copy: ``local_code``)."""
        return f"{self.code_root}/{info.code_hash}"

    def create(self, info: FunctionInfo, files: dict[str, bytes], *, replace: bool) -> FunctionInfo:
        """Copy the code in (once per content) and record the function."""
        self._store_code(info.code_hash, files)
        info = FunctionInfo(**{**info.__dict__, "created": datetime.now(UTC).isoformat(timespec="seconds")})
        with self.db.engine.begin() as conn:
            exists = conn.execute(sa.select(_functions.c.name).where(_functions.c.name == info.name)).first()
            if exists and not replace:
                raise CatalogError(f"function {info.name} already exists; use CREATE OR REPLACE "
                                   f"FUNCTION, or DROP FUNCTION {info.name} first")
            if exists:
                conn.execute(_functions.update().where(_functions.c.name == info.name)
                             .values(definition=info.to_json()))
            else:
                conn.execute(_functions.insert().values(name=info.name, definition=info.to_json()))
        if not self._code_there(info.code_hash, files):  # a VACUUM took it (see unreferenced)
            self._store_code(info.code_hash, files)
        return info

    def _code_there(self, digest: str, files: dict[str, bytes]) -> bool:
        """Whether every file of the code ``digest`` is where it is stored: a VACUUM that read
        the records before this code was named again may have deleted it since."""
        root = f"{self.code_root}/{digest}/"
        listed = filesystems.list_files(root, self.db.io_properties)
        return set(files) <= {path.removeprefix(root) for path, _ in listed}

    def _store_code(self, digest: str, files: dict[str, bytes]) -> None:
        if self.db.local_root is None:  # content-addressed: a partial upload fails verification
            artifacts.put_files(files, f"{self.code_root}/{digest}", self.db.io_properties)
            return
        root = Path(self.code_root)
        target = root / digest
        if target.exists():
            return
        root.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(dir=root, prefix=".new-"))
        try:
            for name, content in files.items():
                (staging / name).parent.mkdir(parents=True, exist_ok=True)  # FILE PATHS' folders
                (staging / name).write_bytes(content)
            os.rename(staging, target)  # atomic: a reader sees all of the code or none of it
        except OSError:
            shutil.rmtree(staging, ignore_errors=True)
            if not target.exists():
                raise

    def local_code(self, code_dir: str, code_hash: str) -> str:
        """A directory holding the code at ``code_dir`` on this host: itself where it is local,
        else this host's verified copy (downloaded on first use, kept for later runs)."""
        if filesystems.is_local(code_dir):
            return code_dir
        return str(artifacts.fetched(code_dir, code_hash, self.db.path / CODE_DIR,
                                     self.db.io_properties))

    def get(self, name: str) -> FunctionInfo:
        found = self.find(name)
        if found is None:
            raise not_found("function", name)
        return found

    def find(self, name: str) -> FunctionInfo | None:
        with self.db.engine.connect() as conn:
            row = conn.execute(sa.select(_functions.c.definition)
                               .where(_functions.c.name == name.lower())).first()
        return FunctionInfo.from_json(row[0]) if row else None

    def all(self) -> list[FunctionInfo]:
        with self.db.engine.connect() as conn:
            rows = conn.execute(sa.select(_functions.c.definition).order_by(_functions.c.name)).all()
        return [FunctionInfo.from_json(r[0]) for r in rows]

    def drop(self, name: str) -> None:
        """Forget a function; its code stays while other versions or running instances may use it."""
        with self.db.engine.begin() as conn:
            if not conn.execute(_functions.delete().where(_functions.c.name == name)).rowcount:
                raise not_found("function", name)
