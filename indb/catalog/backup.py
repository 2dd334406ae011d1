"""A consistent copy of a database while it is in use: ``indb backup DIR DEST``.

The catalog file is copied first with SQLite's online backup (one consistent state of every
table's current metadata, the functions, models and runs). Iceberg files never change once
written, so copying exactly the files that state names (each table's metadata, manifest lists,
manifests and data files of every snapshot it keeps, the functions' code, the models' artifacts)
gives the database as it was at that instant, whatever writers do meanwhile: their new files are
not named by the copied catalog and are not copied. The copy is then relocated to its own place,
so a backup is itself a database: open it, or restore it elsewhere (a restore is a backup of the
backup).
"""

from __future__ import annotations

import json
import shutil
import sqlite3
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path

import sqlalchemy as sa
from pyiceberg.catalog.sql import IcebergTables
from pyiceberg.io import load_file_io
from pyiceberg.manifest import read_manifest_list
from pyiceberg.serializers import FromInputFile

from indb.catalog import relocation
from indb.catalog.location import is_config
from indb.catalog.uris import local_path
from indb.errors import DirectoryError

CATALOG_FILE = "catalog.db"
CODE_DIR, MODELS_DIR = "code", "models"


def backup(source: Path, target: Path) -> int:
    """Copy the database at ``source`` to the new directory ``target``; returns the files copied."""
    if is_config(source):
        raise DirectoryError(f"{source} describes a database by URLs: back its catalog up with "
                             "the server's tools (pg_dump) and its warehouse with the store's "
                             "(versioning, replication); indb backup copies database directories")
    source, target = source.resolve(), target.resolve()
    if not (source / CATALOG_FILE).is_file():
        raise DirectoryError(f"{source} is not an indb database (it has no {CATALOG_FILE})")
    if target.exists() and (not target.is_dir() or any(target.iterdir())):
        raise DirectoryError(f"{target} exists and is not empty; back up into a new directory")
    if target.is_relative_to(source):
        raise DirectoryError(f"{target} is inside {source}; back up to a place outside it")
    target.mkdir(parents=True, exist_ok=True)
    try:
        with closing(sqlite3.connect(source / CATALOG_FILE)) as live, \
                closing(sqlite3.connect(target / CATALOG_FILE)) as copy:
            live.backup(copy)  # one consistent state, even with writers at work
        engine = sa.create_engine(f"sqlite:///{target / CATALOG_FILE}")
        try:
            copied = 0
            for path in _named_files(engine, source):
                destination = target / path.relative_to(source)
                destination.parent.mkdir(parents=True, exist_ok=True)
                try:
                    shutil.copy2(path, destination)
                except FileNotFoundError:
                    raise DirectoryError(f"{path} went away during the backup (its table was "
                                         "dropped or vacuumed meanwhile); run the backup again") from None
                copied += 1
            relocation.relocate(engine, target)
        finally:
            engine.dispose()
    except BaseException:
        shutil.rmtree(target, ignore_errors=True)  # no half backup is left to be mistaken for one
        raise
    return copied


def _named_files(engine: sa.Engine, root: Path) -> Iterator[Path]:
    """Every file the catalog names, as paths under ``root`` (the database being copied)."""
    io = load_file_io({}, root.as_uri())
    with engine.connect() as conn:
        locations = [row[0] for row in conn.execute(
            sa.select(IcebergTables.metadata_location).where(
                IcebergTables.catalog_name == relocation.CATALOG_NAME)) if row[0]]
        hashes = [json.loads(row[0])["code_hash"] for row in conn.execute(
            sa.text("SELECT definition FROM indb_functions"))] \
            if sa.inspect(conn).has_table("indb_functions") else []
        models = [json.loads(row[0])["path"] for row in conn.execute(
            sa.text("SELECT definition FROM indb_models"))] \
            if sa.inspect(conn).has_table("indb_models") else []
    seen: set[str] = set()
    for location in locations:
        metadata = FromInputFile.table_metadata(io.new_input(location))
        uris = [location]
        for snapshot in metadata.snapshots:
            uris.append(snapshot.manifest_list)
            for manifest in read_manifest_list(io.new_input(snapshot.manifest_list)):
                if manifest.manifest_path in seen:
                    continue
                seen.add(manifest.manifest_path)
                uris.append(manifest.manifest_path)
                uris += [entry.data_file.file_path
                         for entry in manifest.fetch_manifest_entry(io, discard_deleted=True)]
        for uri in dict.fromkeys(uris):
            yield _inside(Path(local_path(uri)), root)
    for digest in dict.fromkeys(hashes):
        yield from (p for p in (root / CODE_DIR / digest).rglob("*") if p.is_file())
    for artifact in models:
        directory = (root / artifact).parent  # relative to the database (or absolute, older)
        yield from (p for p in _inside(directory, root).rglob("*") if p.is_file())


def _inside(path: Path, root: Path) -> Path:
    if not path.resolve().is_relative_to(root):
        raise DirectoryError(f"{path} is outside {root}: the database names files elsewhere (was it "
                             "moved? run `indb relocate` on it first)")
    return path
