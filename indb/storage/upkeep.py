"""Table upkeep on the storage side: rewriting every file of a table in one snapshot together
with a change of its schema or partition spec, reading old snapshots, grouping small files for
compaction, and expiring snapshots with the files that only they read.

Files are deleted only under the table's own location, and a file that no snapshot ever named
(a write that was killed, or one still in flight) only once it is older than the cutoff the
caller gives.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
from pyiceberg.exceptions import CommitFailedException, ValidationException
from pyiceberg.io import FileIO, load_file_io
from pyiceberg.manifest import DataFile
from pyiceberg.table import Table, TableProperties, Transaction
from pyiceberg.table.snapshots import Snapshot
from pyiceberg.table.update import AssertRefSnapshotId, SetPropertiesUpdate

from indb.catalog.database import REPLACEMENT_DIGITS, Database
from indb.catalog.filesystems import list_files, modified, subdirectories
from indb.catalog.names import checked_table_name, qualified
from indb.catalog.tables import TableInfo
from indb.errors import ConflictError, InternalError, SchemaError
from indb.storage.files import (COMMIT_ATTEMPTS, data_files, local_path, place_of, read_stored,
                                staged, write_data_files)

REWRITE_BATCH_BYTES = 256 << 20  # Parquet bytes a rewrite reads at a time: its memory stays bounded
# OPTIMIZE merges a shard's files smaller than this into files of about this size (a table's
# ``write.target-file-size-bytes`` overrides it); pyiceberg's default, 512 MB, is more than a
# 2-core machine wants to hold in memory while it rewrites one
COMPACT_TARGET_BYTES = 128 << 20
COLUMNS_OF_SCHEMA = "indb.columns.schema-"  # + schema id: the SQL columns of an older schema


# -- old snapshots -----------------------------------------------------------------------------

def snapshot_for(table: Table, version: int | None = None,
                 timestamp_us: int | None = None) -> Snapshot | None:
    """The snapshot of that id, or the one current at that time; None if there is none (never
    was, or expired by VACUUM)."""
    if version is not None:
        return table.snapshot_by_id(version)
    assert timestamp_us is not None
    snapshot = table.snapshot_as_of_timestamp(timestamp_us // 1000)
    return snapshot if snapshot is None else table.snapshot_by_id(snapshot.snapshot_id)


def snapshot_files(table: Table, snapshot: Snapshot) -> list[DataFile]:
    """The data files of one snapshot."""
    tasks = list(table.scan(snapshot_id=snapshot.snapshot_id).plan_files())
    if any(task.delete_files for task in tasks):
        raise ConflictError(f"snapshot {snapshot.snapshot_id} of {table.name()[-1]} has Iceberg "
                            "delete files (written by another engine); indb reads copy-on-write "
                            "tables only")
    return [task.file for task in tasks]


def info_at(table: Table, info: TableInfo, snapshot: Snapshot) -> TableInfo | None:
    """The table as it was when ``snapshot`` was written: its columns then (ALTER TABLE keeps
    those of the schemas it replaces); None if indb has no SQL types for that schema."""
    if snapshot.schema_id is None or snapshot.schema_id == table.metadata.current_schema_id:
        return info
    columns = table.properties.get(f"{COLUMNS_OF_SCHEMA}{snapshot.schema_id}")
    if columns is None:
        return None
    return TableInfo.from_properties(info.name, {**table.properties, "indb.columns": columns})


def described(table: Table, old: TableInfo, new: TableInfo, same_rows: bool = False) -> None:
    """The table's description (its ``TableInfo`` properties) as ``new`` has it, in a commit of
    no files: what ``old`` set and ``new`` does not (a comment, constraints) is removed. With
    ``same_rows``, only if no rows were committed since ``table`` was read (a constraint the rows
    were checked against). ConflictError when another commit got in first."""
    transaction = table.transaction()
    _remove_gone(transaction, old, new)
    snapshot = table.current_snapshot()
    requirements = (AssertRefSnapshotId.model_validate(  # the field's alias is snapshot-id
        {"ref": "main", "snapshot-id": snapshot.snapshot_id if snapshot else None}),) \
        if same_rows else ()
    try:
        transaction._apply((SetPropertiesUpdate(updates=new.to_properties()),), requirements)
        transaction.commit_transaction()
    except CommitFailedException:
        raise ConflictError(f"table {new.name} was changed meanwhile; run the statement "
                            "again") from None


def redescribed(transaction: Transaction, table: Table, old: TableInfo, new: TableInfo) -> None:
    """In a rewrite's ``transaction`` (its ``evolve``): the description as ``new`` has it, what
    ``old`` set and ``new`` does not removed, and ``old``'s columns kept as those of the schema
    the rewrite replaces (``columns_of_schema``)."""
    _remove_gone(transaction, old, new)
    transaction.set_properties({**new.to_properties(),
                                **columns_of_schema(old, table.metadata.current_schema_id)})


def _remove_gone(transaction: Transaction, old: TableInfo, new: TableInfo) -> None:
    """Remove the properties ``old`` set and ``new`` does not (a comment, constraints, indexes)."""
    gone = set(old.to_properties()) - set(new.to_properties())
    if gone:
        transaction.remove_properties(*gone)


def columns_of_schema(info: TableInfo, schema_id: int) -> dict[str, str]:
    """The property that keeps ``info``'s columns as those of schema ``schema_id``."""
    return {f"{COLUMNS_OF_SCHEMA}{schema_id}": info.to_properties()["indb.columns"]}


# -- rewrites ------------------------------------------------------------------------------------

def rewrite(db: Database, table: Table, old: TableInfo, new: TableInfo,
            evolve: Callable[[Transaction], None],
            convert: Callable[[pa.Table], pa.Table]) -> int:
    """Change the table (``evolve``: its schema, spec, properties) and rewrite every data file
    from ``old`` rows into ``new`` ones (``convert``) in ONE snapshot, or nothing; returns the
    rows rewritten. A table with no rows still gets its (empty) snapshot: it is the commit's
    check that no writer added files meanwhile, which would be files of the old layout."""
    current = data_files(table)
    transaction = table.transaction()
    evolve(transaction)
    metadata = transaction.table_metadata
    rows = 0
    # rows that stay in their shard stay in their file's place in the table's order of rows
    in_place = (old.shard_key, old.shards, old.replicated) == (new.shard_key, new.shards, new.replicated)
    with staged(table.io, table.location()) as added:
        for batch in batches(current, REWRITE_BATCH_BYTES):
            stored = read_stored([f.file_path for f in batch], old, table.io)
            converted = convert(stored)
            if in_place:
                for offset, data_file in zip(np.cumsum([0] + [f.record_count for f in batch]),
                                             batch):
                    added += write_data_files(table.io, metadata, new,
                                              converted.slice(offset, data_file.record_count),
                                              place=place_of(data_file.file_path))
            else:
                added += write_data_files(table.io, metadata, new, converted)
            rows += stored.num_rows
        with transaction.update_snapshot().overwrite() as producer:
            for data_file in current:
                producer.delete_data_file(data_file)
            for data_file in added:
                producer.append_data_file(data_file)
        try:
            transaction.commit_transaction()
        except (CommitFailedException, ValidationException):
            raise ConflictError(f"table {new.name} was written while it was being rewritten; "
                                "run the statement again") from None
        added.keep()
    return rows


def batches(data_files: Sequence[DataFile], budget: int) -> list[list[DataFile]]:
    """Consecutive files in groups of about ``budget`` bytes (a bigger file is a group alone)."""
    groups: list[list[DataFile]] = []
    size = 0
    for data_file in data_files:
        if not groups or size + data_file.file_size_in_bytes > budget:
            groups.append([])
            size = 0
        groups[-1].append(data_file)
        size += data_file.file_size_in_bytes
    return groups


def compaction_groups(data_files: Iterable[DataFile], target: int) -> list[list[DataFile]]:
    """Files to merge: per partition (shard), the files smaller than ``target`` packed into
    groups of up to ``target`` bytes; only groups of two files or more are worth rewriting."""
    by_partition: dict[tuple, list[DataFile]] = defaultdict(list)
    for data_file in data_files:
        if data_file.file_size_in_bytes < target:
            partition = data_file.partition
            key = (data_file.spec_id, tuple(partition[i] for i in range(len(partition))))
            by_partition[key].append(data_file)
    return [group for key in sorted(by_partition, key=str)
            for group in batches(by_partition[key], target) if len(group) > 1]


def target_file_bytes(table: Table) -> int:
    return int(table.properties.get(TableProperties.WRITE_TARGET_FILE_SIZE_BYTES,
                                    COMPACT_TARGET_BYTES))


# -- expiry and orphans --------------------------------------------------------------------------

@dataclass(frozen=True)
class Vacuumed:
    """What VACUUM did to one table (or, with ``table`` None, to leftovers of no table)."""

    table: str | None
    snapshots_expired: int
    files_deleted: int
    bytes_deleted: int


def vacuum(db: Database, name: str, retain: int, cutoff: float) -> Vacuumed:
    """Expire all but the newest ``retain`` snapshots of the table's history (branch and tag
    heads are always kept), then delete the files under its location that no remaining
    snapshot reads: at once those the expired snapshots read, and files no snapshot ever named
    once they were last modified before ``cutoff`` (a Unix time)."""
    expired_files: set[str] = set()
    for _ in range(COMMIT_ATTEMPTS):
        table = db.catalog.load_table(db.identifier(name))
        keep = retained(table, retain)
        expired = [s for s in table.snapshots() if s.snapshot_id not in keep]
        if not expired:
            break
        expired_files = referenced(table.io, expired)
        try:
            table.maintenance.expire_snapshots().by_ids([s.snapshot_id for s in expired]).commit()
        except CommitFailedException:
            continue  # another writer committed meanwhile: look again
        break
    else:
        raise ConflictError(f"table {name}: gave up after {COMMIT_ATTEMPTS} concurrent commits; "
                            "run VACUUM again")
    table = db.catalog.load_table(db.identifier(name))
    kept = referenced(table.io, table.snapshots())
    at_once = expired_files - kept
    orphans = {path for path, changed in files_under(table.location(), db.io_properties)
               if path not in kept and path not in at_once and changed < cutoff}
    count, size = delete_files(table.io, at_once | orphans, table.location())
    return Vacuumed(name, len(expired), count, size)


def retained(table: Table, retain: int) -> set[int]:
    """Ids of the snapshots VACUUM keeps: the newest ``retain`` of the current history (the
    current snapshot and its ancestors), and every branch's and tag's head."""
    keep: set[int] = set()
    snapshot = table.current_snapshot()
    while snapshot is not None and len(keep) < retain:
        keep.add(snapshot.snapshot_id)
        snapshot = table.snapshot_by_id(snapshot.parent_snapshot_id) \
            if snapshot.parent_snapshot_id is not None else None
    return keep | {ref.snapshot_id for ref in table.metadata.refs.values()}


def referenced(io: FileIO, snapshots: Iterable[Snapshot]) -> set[str]:
    """Local paths of the files the snapshots read: data files, manifests, manifest lists."""
    paths: set[str] = set()
    seen_manifests: set[str] = set()
    for snapshot in snapshots:
        paths.add(local_path(snapshot.manifest_list))
        for manifest in snapshot.manifests(io):
            paths.add(local_path(manifest.manifest_path))
            if manifest.manifest_path in seen_manifests:
                continue  # snapshots share manifests: read each once
            seen_manifests.add(manifest.manifest_path)
            paths.update(local_path(entry.data_file.file_path)
                         for entry in manifest.fetch_manifest_entry(io, discard_deleted=True))
    return paths


def files_under(location: str, properties: Mapping[str, str]) -> list[tuple[str, float]]:
    """(local path or URI, last modified) of the data files, manifests and manifest lists under
    a table location, through the warehouse's filesystem. Metadata JSON files are the table's
    log and stay."""
    location = location.rstrip("/")
    return list_files(f"{location}/data", properties) + \
        [(path, modified) for path, modified in list_files(f"{location}/metadata", properties, ".avro")
         if path.rpartition("/")[0] == local_path(f"{location}/metadata")]


def leftovers(db: Database, tables: Iterable[str], cutoff: float) -> Vacuumed:
    """Delete the data files, older than ``cutoff``, under the locations of tables that do not
    exist: what writes of a new table (a function's output, CREATE TABLE AS, CREATE OR REPLACE
    TABLE) leave when killed before the table was created; and the stand-in tables of CREATE
    OR REPLACE TABLEs killed before the swap, once their metadata is older than ``cutoff``."""
    existing = set(tables)
    count = size = 0
    for identifier, metadata in db.stand_ins().items():
        if modified(metadata, db.io_properties) < cutoff:
            db.drop_stand_in(identifier)
    directories = [(schema, d) for schema in db.schemas()
                   for d in subdirectories(f"{db.warehouse_uri}/{schema}", db.io_properties)]
    live: set[str] | None = None  # the directories tables live in, read when first needed
    for schema, directory in directories:
        name = qualified(schema, directory)
        if name in existing:
            continue
        replacing = _REPLACEMENT.match(directory)
        try:
            checked_table_name(qualified(schema, replacing["table"]) if replacing else name)
        except SchemaError:  # not a name indb gives a table: not indb's to clean
            continue
        # a replacing table's directory, or a renamed table's (named after its old name)
        location = f"{db.warehouse_uri}/{schema}/{directory}"
        live = _live_directories(db) if live is None else live
        if local_path(location) in live or db.exists(name):  # (created since the list was taken)
            continue
        old = {path for path, changed in files_under(location, db.io_properties) if changed < cutoff}
        deleted = delete_files(load_file_io(db.io_properties, location), old, location)
        count, size = count + deleted[0], size + deleted[1]
    return Vacuumed(None, 0, count, size)


_REPLACEMENT = re.compile(rf"(?P<table>[a-z_][a-z0-9_]*)-[0-9a-f]{{{REPLACEMENT_DIGITS}}}\Z")


def _live_directories(db: Database) -> set[str]:
    """The directories of every table and stand-in now (a new one may appear meanwhile; its
    files are younger than any cutoff)."""
    names = [db.identifier(n) for n in db.metadata_locations()] + list(db.stand_ins())
    return {local_path(db.catalog.load_table(identifier).location()) for identifier in names}


def delete_files(io: FileIO, paths: Iterable[str], location: str) -> tuple[int, int]:
    """Delete files, each of which must lie under ``location``; returns (count, bytes)."""
    prefix = local_path(location).rstrip("/") + "/"
    count = size = 0
    for path in sorted(paths):
        if not path.startswith(prefix) or "/../" in path:
            raise InternalError(f"refusing to delete {path}: it is not a file of the table at "
                                f"{location}")
        try:
            bytes_ = len(io.new_input(path))
            io.delete(path)
        except FileNotFoundError:
            continue
        count, size = count + 1, size + bytes_
    return count, size
