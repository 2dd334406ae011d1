"""Moving a database directory: finding out that it moved, and making it work where it is now.

Iceberg's metadata names every file by its absolute URI: the metadata file names its manifest
lists, they name manifests, manifests name data files. A directory copied or moved elsewhere
still names the old place, so a write in the copy would land in the original, and a drop there
would delete the original's files. ``old_root`` tells, from the catalog alone, whether the tables
of a directory are named under another root; ``relocate`` rewrites every table's metadata, manifest
lists and manifests for the new root (new files beside the old ones, history and snapshot ids
kept), then switches every table to its new metadata in ONE catalog transaction, with the model
paths of the registry. Until that transaction nothing changed; after it, nothing points away.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from pyiceberg.catalog.sql import IcebergTables
from pyiceberg.io import FileIO, load_file_io
from pyiceberg.manifest import (ManifestEntry, ManifestFile, read_manifest_list, write_manifest,
                                write_manifest_list)
from pyiceberg.serializers import FromInputFile, ToOutputFile
from pyiceberg.table.metadata import TableMetadata
from pyiceberg.table.snapshots import Snapshot

from indb.catalog.names import qualified
from indb.catalog.uris import local_path
from indb.errors import DirectoryError

CATALOG_NAME = "indb"           # the name indb gives pyiceberg's SqlCatalog
WAREHOUSE_MARK = "/warehouse/"  # a table's metadata lies under <root>/warehouse/<namespace>/<table>
MODELS_TABLE = "indb_models"


def old_root(engine: sa.Engine, root: Path | str) -> str | None:
    """The root URI the catalog's tables are named under, if it is not ``root`` (a directory,
    or a warehouse's URI: the directory moved or was copied); None when every table is named
    under ``root``, or there are none."""
    here = root.as_uri() if isinstance(root, Path) else root
    with engine.connect() as conn:
        locations = [row[0] for row in conn.execute(
            sa.select(IcebergTables.metadata_location).where(IcebergTables.catalog_name == CATALOG_NAME))
            if row[0]]
    for location in locations:
        if not location.startswith(here + WAREHOUSE_MARK):
            return _root_of(location)
    return None


def _root_of(location: str) -> str:
    if WAREHOUSE_MARK not in location:
        raise DirectoryError(f"a table's metadata is at {location}, outside any indb warehouse; "
                             "this directory cannot be relocated")
    return location[:location.rindex(WAREHOUSE_MARK)]


@dataclass(frozen=True)
class Relocated:
    """What ``relocate`` did: the root the tables were named under, and the tables moved."""

    old_root: str
    tables: tuple[str, ...]


def relocate(engine: sa.Engine, root: Path) -> Relocated | None:
    """Make every table of the catalog name its files under ``root``; None if they already do."""
    previous = old_root(engine, root)
    if previous is None:
        return None
    new = root.as_uri()

    def moved(uri: str) -> str:
        if uri.startswith(previous + "/"):
            return new + uri[len(previous):]
        if uri.startswith(new + "/"):
            return uri
        raise DirectoryError(f"{uri} lies outside the database that was at {previous}; it cannot "
                             "be relocated (was it made by another tool?)")

    io = load_file_io({}, new)
    with engine.connect() as conn:
        rows = conn.execute(sa.select(IcebergTables.table_namespace, IcebergTables.table_name,
                                      IcebergTables.metadata_location)
                            .where(IcebergTables.catalog_name == CATALOG_NAME)).all()
        models = conn.execute(sa.text(f"SELECT name, version, definition FROM {MODELS_TABLE}")).all() \
            if sa.inspect(conn).has_table(MODELS_TABLE) else []
    switched = {(schema, name): _rewrite_table(io, moved(location), moved)
                for schema, name, location in rows if location}
    with engine.begin() as conn:  # the one step: every table and model at once, or none
        for (schema, name), location in switched.items():  # a name is one a schema
            conn.execute(sa.update(IcebergTables)
                         .where(IcebergTables.catalog_name == CATALOG_NAME,
                                IcebergTables.table_namespace == schema,
                                IcebergTables.table_name == name)
                         .values(metadata_location=location, previous_metadata_location=None))
        for name, version, definition in models:
            info = json.loads(definition)
            if not Path(info["path"]).is_absolute():
                continue  # relative to the database: nothing to move
            info["path"] = local_path(moved(Path(info["path"]).as_uri()))
            conn.execute(sa.text(f"UPDATE {MODELS_TABLE} SET definition = :d "
                                 "WHERE name = :n AND version = :v"),
                         {"d": json.dumps(info), "n": name, "v": version})
    return Relocated(previous, tuple(sorted(qualified(schema, name) for schema, name in switched)))


def _rewrite_table(io: FileIO, metadata_location: str, moved: Callable[[str], str]) -> str:
    """Write the table's metadata anew for its new place; returns the new metadata file."""
    metadata = FromInputFile.table_metadata(io.new_input(metadata_location))
    manifests: dict[str, ManifestFile] = {}  # old path -> rewritten; snapshots share manifests
    snapshots = [snapshot.model_copy(update={"manifest_list": _rewrite_manifest_list(
        io, metadata, snapshot, moved, manifests)}) for snapshot in metadata.snapshots]
    log = [entry.model_copy(update={"metadata_file": moved(entry.metadata_file)})
           for entry in metadata.metadata_log]
    updated = metadata.model_copy(update={"location": moved(metadata.location),
                                          "snapshots": snapshots, "metadata_log": log})
    target = f"{_directory(metadata_location)}/{_next_version(metadata_location):05d}-" \
             f"{uuid.uuid4()}.metadata.json"
    ToOutputFile.table_metadata(updated, io.new_output(target))
    return target


def _rewrite_manifest_list(io: FileIO, metadata: TableMetadata, snapshot: Snapshot,
                           moved: Callable[[str], str], done: dict[str, ManifestFile]) -> str:
    old_list = moved(snapshot.manifest_list)
    rewritten = []
    for manifest in read_manifest_list(io.new_input(old_list)):
        if manifest.manifest_path not in done:
            done[manifest.manifest_path] = _rewrite_manifest(io, metadata, manifest, moved,
                                                             snapshot.snapshot_id)
        rewritten.append(done[manifest.manifest_path])
    target = f"{_directory(old_list)}/relocated-{uuid.uuid4()}-{Path(old_list).name}"
    with write_manifest_list(format_version=metadata.format_version, output_file=io.new_output(target),
                             snapshot_id=snapshot.snapshot_id,
                             parent_snapshot_id=snapshot.parent_snapshot_id,
                             sequence_number=snapshot.sequence_number,
                             avro_compression="deflate") as writer:
        writer.add_manifests(rewritten)
    return target


def _rewrite_manifest(io: FileIO, metadata: TableMetadata, manifest: ManifestFile,
                      moved: Callable[[str], str], listed_by: int) -> ManifestFile:
    """The manifest with every data file's path moved; every other field as it was."""
    old = moved(manifest.manifest_path)
    source = ManifestFile.from_args(**{**_fields(manifest), "manifest_path": old})
    entries: list[ManifestEntry] = source.fetch_manifest_entry(io, discard_deleted=False)
    spec = metadata.specs()[manifest.partition_spec_id]
    target = f"{_directory(old)}/relocated-{uuid.uuid4()}-{Path(old).name}"
    with write_manifest(format_version=metadata.format_version, spec=spec, schema=metadata.schema(),
                        output_file=io.new_output(target),
                        # entries read back carry their own snapshot ids; this is only a default
                        snapshot_id=manifest.added_snapshot_id or listed_by,
                        avro_compression="deflate") as writer:
        for entry in entries:
            entry.data_file[1] = moved(entry.data_file.file_path)  # position 1 is file_path
            writer.add_entry(entry)
    length = len(io.new_input(target))
    return ManifestFile.from_args(**{**_fields(manifest), "manifest_path": target,
                                     "manifest_length": length})


def _fields(manifest: ManifestFile) -> dict[str, Any]:
    names = ("manifest_path", "manifest_length", "partition_spec_id", "content", "sequence_number",
             "min_sequence_number", "added_snapshot_id", "added_files_count",
             "existing_files_count", "deleted_files_count", "added_rows_count",
             "existing_rows_count", "deleted_rows_count", "partitions", "key_metadata")
    return {name: getattr(manifest, name) for name in names}


def _directory(uri: str) -> str:
    return uri.rsplit("/", 1)[0]


def _next_version(metadata_location: str) -> int:
    """The version number the next metadata file of a table takes (``00007-<uuid>.metadata.json``)."""
    prefix = Path(metadata_location).name.split("-", 1)[0]
    return int(prefix) + 1 if prefix.isdigit() else 0

