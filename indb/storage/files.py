"""Data files of an Iceberg table: where they are, reading them back, writing new ones.

Every write is two steps kept apart on purpose: ``write_data_files`` writes Parquet files that no
reader can see yet (a worker can do this), and ``commit`` makes a set of them visible in one
Iceberg snapshot (the head does this). Every writer holds its files in ``staged(...)`` until the
commit: any failure before then deletes them, and only files under the table's own location.
"""

from __future__ import annotations

import os
import re
import threading
import time
import uuid
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, replace
from typing import Any, Generic, TypeVar

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from pyiceberg.exceptions import CommitFailedException, ValidationException
from pyiceberg.io import FileIO
from pyiceberg.io.pyarrow import (DataFileStatistics, MetricModeTypes, MetricsMode,
                                  ParquetFormatModel, StatisticsCollector, _get_parquet_writer_kwargs,
                                  _to_requested_schema, compute_statistics_plan,
                                  data_file_statistics_from_parquet_metadata,
                                  parquet_path_to_id_mapping)
from pyiceberg.manifest import DataFile, DataFileContent, FileFormat
from pyiceberg.partitioning import PartitionFieldValue, PartitionKey
from pyiceberg.schema import sanitize_column_names
from pyiceberg.table import Table, TableProperties
from pyiceberg.table.locations import load_location_provider
from pyiceberg.table.metadata import TableMetadata
from pyiceberg.typedef import Record

from indb.catalog.database import Database
from indb.catalog.filesystems import is_local
from indb.catalog.tables import ROWID, TableInfo, file_column_name
from indb.catalog.types import from_storage, to_storage
from indb.errors import ConflictError, InternalError, OptionError, SchemaError
from indb.storage.placement import (NULL_KEY_SHARD, has_few_distinct, split_by_partition,
                                    split_in_runs, with_hidden_columns)
from indb.storage.read_threads import core_share

COMMIT_ATTEMPTS = 20
K = TypeVar("K")
V = TypeVar("V")


# -- reading -----------------------------------------------------------------------------------

# a data file's name starts with its place in the table's order of rows (``write_data_files``)
PLACE_CHARACTERS = 25
_PLACE = re.compile(r"[0-9]{19}-[0-9]{5}")
LISTED_SNAPSHOTS = 256  # snapshots whose data files this process keeps listed
# A function instance's output of at least two PIECE_BYTES is written as up to MAX_PIECES
# files at once: pyarrow's Parquet writer encodes a file on one thread, and the last instance's
# write is time its statement waits (docs/gpu.md, "The last instance's write")
PIECE_BYTES = 1 << 20
MAX_PIECES = 4


class Kept(Generic[K, V]):
    """Values this process keeps by key for its threads, the least recently used dropped past
    ``size``."""

    def __init__(self, size: int) -> None:
        self._size = size
        self._values: OrderedDict[K, V] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: K) -> V | None:
        with self._lock:
            value = self._values.get(key)
            if value is not None:
                self._values.move_to_end(key)
            return value

    def put(self, key: K, value: V) -> None:
        with self._lock:
            self._values[key] = value
            while len(self._values) > self._size:
                self._values.popitem(last=False)


# a snapshot's data files never change: listed once (reading its manifests) per process, not
# once a statement (a function run's plan, a query's views)
_listed: Kept[tuple[str, int], tuple[DataFile, ...]] = Kept(LISTED_SNAPSHOTS)


def data_files(table: Table) -> list[DataFile]:
    """The data files of the table's current snapshot (a consistent view, even under writers)."""
    snapshot = table.current_snapshot()
    # by the metadata file, not the table's uuid: a copied database (relocated) has the same
    # uuids and snapshot ids with other files
    key = (table.metadata_location, snapshot.snapshot_id) if snapshot else None
    kept = _listed.get(key) if key else None
    if kept is not None:
        return list(kept)
    tasks = list(table.scan().plan_files())
    if any(task.delete_files for task in tasks):
        raise ConflictError(f"table {table.name()[-1]} has Iceberg delete files (written by another "
                            "engine); indb reads copy-on-write tables only: compact it first")
    listed = tuple(sorted((task.file for task in tasks), key=lambda f: _file_name(f.file_path)))
    if key:
        _listed.put(key, listed)
    return list(listed)


def _file_name(path: str) -> str:
    return path.rsplit("/", 1)[-1]


def place_of(path: str) -> str | None:
    """A data file's place in its table's order of rows (see ``write_data_files``), kept by the
    file that replaces it; None for a file indb did not name."""
    name = _file_name(path)
    place = name[:PLACE_CHARACTERS]
    return place if _PLACE.fullmatch(place) else None


def shard_of(data_file: DataFile) -> int:
    """The shard (bucket) a data file belongs to; 0 for an unpartitioned table, and
    ``NULL_KEY_SHARD`` for the null partition (rows whose shard key is NULL)."""
    if not len(data_file.partition):
        return 0
    value = data_file.partition[0]
    return NULL_KEY_SHARD if value is None else int(value)


def local_path(uri: str) -> str:
    """A file URI as a path DuckDB and pyarrow open directly."""
    return uri.removeprefix("file://")


def read_stored(paths: Sequence[str], info: TableInfo, io: FileIO | None = None) -> pa.Table:
    """Rows of the given data files, as stored (hidden columns included); files in an object
    store are read through the table's ``io``."""
    schema = info.storage_schema
    in_file = [file_column_name(name) for name in schema.names]
    tables = [pq.read_table(_source(p, io), columns=in_file, **_read_options(p))
              .rename_columns(schema.names).cast(schema) for p in paths]
    return pa.concat_tables(tables) if tables else schema.empty_table()


def _read_options(path: str) -> dict[str, bool]:
    """How pyarrow reads a data file: a local one memory-mapped, its pages decompressed straight
    from the page cache (buffered ahead, pyarrow's default, it is first copied in: 1.25M rows of
    ``UTINYINT[784]`` took 0.6 CPU seconds mapped, 0.9 buffered); an object store's buffered
    ahead, in few large requests."""
    return {"memory_map": True, "pre_buffer": False} if is_local(path) else {}


def _source(path: str, io: FileIO | None) -> Any:
    """What pyarrow reads a data file from: a local path, or the file opened through ``io``."""
    if is_local(path):
        return local_path(path)
    if io is None:
        raise InternalError(f"{path} is in an object store: read it through its table's FileIO")
    return io.new_input(path).open()


def to_user(stored: pa.Table, info: TableInfo) -> pa.Table:
    """Stored rows in the SQL types of the table, hidden columns dropped."""
    arrays = [from_storage(stored[c.name], c) for c in info.columns]
    return pa.Table.from_arrays(arrays, schema=info.arrow_schema)


def read_shard(table: Table, info: TableInfo, shard: int) -> pa.Table:
    """One shard's rows in SQL types; a replicated table gives every shard all its rows."""
    if shard < 0 or (shard >= info.shards and not info.replicated):
        raise OptionError(f"table {info.name} has shards 0..{info.shards - 1}, not {shard}")
    files = [f.file_path for f in data_files(table) if info.replicated or shard_of(f) == shard]
    return to_user(read_stored(files, info, table.io), info)


# -- writing -----------------------------------------------------------------------------------

def to_stored(rows: pa.Table, info: TableInfo, rowids: Callable[[int], np.ndarray]) -> pa.Table:
    """User rows (columns matched by name, any order) as stored rows with placement columns."""
    by_name = {name.lower(): name for name in rows.column_names}
    unknown = set(by_name) - {c.name.lower() for c in info.columns} - {
        f.name for f in info.hidden_columns}
    if unknown:
        raise SchemaError(f"table {info.name} has no column {sorted(unknown)[0]}; its columns are "
                       + ", ".join(c.name for c in info.columns))
    arrays = []
    for column in info.columns:
        source = by_name.get(column.name.lower())
        values = rows[source] if source else pa.nulls(rows.num_rows, column.arrow_type)
        arrays.append(to_storage(values, column))
    for field in info.hidden_columns:
        if field.name in rows.column_names:
            arrays.append(rows[field.name])
    schema = info.storage_schema  # hidden fields come last: keep those the rows brought
    stored = pa.Table.from_arrays(arrays, schema=pa.schema(list(schema)[:len(arrays)]))
    return with_hidden_columns(info, stored, rowids)


def write_data_files(io: FileIO, metadata: TableMetadata, info: TableInfo,
                     stored: pa.Table, shard: int | None = None,
                     pieces: bool = False, place: str | None = None,
                     in_runs: bool = False) -> list[DataFile]:
    """Write stored rows as one Parquet file per shard, the shards gathered and written in
    parallel; none of them is visible until committed.

    ``metadata`` is the table's (``table.metadata``), or ``provisional_metadata`` for a table
    that will be created when the files are committed. ``shard``: the bucket every row's key is
    known to have (``sharding.placed`` proves it), so that no row's is computed; rows with a
    NULL key are not in it, and are then bucketed as usual. ``pieces``: one shard's rows may be
    written as several files at once (``_pieces``), as a function instance's output is.

    A table's rows are read back in the order of its files' names (``data_files``), and each
    file keeps its rows' order. A file's name starts with its place, ``<ns>-<n>``: when it was
    written and its number among the files of the write, numbered in the order of their first
    rows. ``place``: the place of the file these rows replace (a DELETE's or UPDATE's rewrite),
    which all the files written then share (their names go on with a number of their own).
    ``in_runs``: the rows' row ids were drawn for them, all at once, by ``rowids_in_runs``
    (``to_stored`` of a table without a shard key), so each run's shard is known from its first id.
    """
    source = info.shard_source
    groups: dict[int | None, np.ndarray]
    if shard is not None and source in stored.column_names and not stored[source].null_count:
        groups = {shard: np.arange(stored.num_rows)} if stored.num_rows else {}
    elif in_runs and source == ROWID:
        groups = split_in_runs(info, stored)
    else:
        groups = split_by_partition(info, stored, metadata.schema())
    if not groups:
        return []
    layout = FileLayout.kept(metadata, stored.schema)
    dictionary = dictionary_columns(layout, stored)
    token = uuid.uuid4().hex
    parts = sorted(_pieces(groups, stored) if pieces else groups.items(),
                   key=lambda part: int(part[1][0]))
    written_at = time.time_ns()

    def write(n: int, partition: int | None, positions: np.ndarray) -> DataFile:
        rows = stored if len(positions) == stored.num_rows else _taken(stored, positions)
        name = f"{place}-{token}-{n:05d}" if place else f"{written_at:019d}-{n:05d}-{token}-00000"
        return write_shard(io, layout, f"{name}.parquet", partition, rows, dictionary)
    if len(parts) == 1:  # one shard's rows in one file: no thread to start
        return [write(0, *parts[0])]
    with staged(io, metadata.location) as written:
        futures = [_writers.submit(write, n, partition, positions)
                   for n, (partition, positions) in enumerate(parts)]
        failure = None
        for future in futures:  # every file that was written is known, so a failure removes all
            try:
                written.append(future.result())
            except Exception as error:
                failure = failure or error
        if failure is not None:
            raise failure
        return written.keep()


def _writer_pool() -> ThreadPoolExecutor:
    """This process's threads that write files at once (pyarrow's Parquet writer releases
    Python's lock), started as they are first needed and kept: a pool made for each write
    started its threads each time, 0.3-0.7 ms each on the developers' VM, in the last
    instance's write a statement waits for."""
    return ThreadPoolExecutor(os.cpu_count() or 1, thread_name_prefix="indb-write")


def _forget_pool() -> None:
    """In a forked child: its parent's threads are not there; the child starts its own."""
    global _writers
    _writers = _writer_pool()


_writers = _writer_pool()
os.register_at_fork(after_in_child=_forget_pool)


def _pieces(groups: dict[int | None, np.ndarray],
            stored: pa.Table) -> list[tuple[int | None, np.ndarray]]:
    """The files to write: one a shard, but a lone shard's rows cut into up to MAX_PIECES runs
    of consecutive rows of PIECE_BYTES or more, no more than this process's share of the cores
    (on a CPU worker, whose instances all run at once, that is usually one: no cut)."""
    if len(groups) != 1:
        return list(groups.items())
    (partition, positions), = groups.items()
    size = stored.nbytes * len(positions) // max(stored.num_rows, 1)
    count = max(1, min(MAX_PIECES, core_share(), len(positions), size // PIECE_BYTES))
    return [(partition, part) for part in np.array_split(positions, count)]


def _taken(stored: pa.Table, positions: np.ndarray) -> pa.Table:
    """The rows at ``positions``: a slice where they are consecutive (no copy), else a take."""
    first, last = int(positions[0]), int(positions[-1])
    if last - first + 1 == len(positions):
        return stored.slice(first, len(positions))
    return stored.take(positions)


@dataclass(frozen=True)
class FileLayout:
    """How a table's data files are written: pyiceberg's Arrow schema for them (the Iceberg field
    ids as ``PARQUET:field_id``, names as pyiceberg escapes them), the table's Parquet properties,
    and the plan of the Iceberg column statistics read back from each file's footer."""

    metadata: TableMetadata
    arrow_schema: pa.Schema
    writer_options: dict[str, Any]
    row_group_rows: int
    statistics: dict[int, StatisticsCollector]
    column_ids: dict[str, int]

    @classmethod
    def of(cls, metadata: TableMetadata, stored_schema: pa.Schema) -> FileLayout:
        table_schema = metadata.schema()
        file_schema = sanitize_column_names(table_schema)
        # pyiceberg's own conversion of a batch to the file schema (its ``write_file`` converts
        # every batch so), applied to no rows: the schema any batch of these columns gets
        arrow_schema = _to_requested_schema(
            file_schema, table_schema, pa.RecordBatch.from_pylist([], schema=stored_schema),
            include_field_ids=True, format_model=ParquetFormatModel()).schema
        properties = metadata.properties
        return cls(metadata, arrow_schema,
                   {**_get_parquet_writer_kwargs(properties), "store_decimal_as_integer": True},
                   int(properties.get(TableProperties.PARQUET_ROW_GROUP_LIMIT,
                                      TableProperties.PARQUET_ROW_GROUP_LIMIT_DEFAULT)),
                   compute_statistics_plan(file_schema, properties),
                   parquet_path_to_id_mapping(file_schema))

    @classmethod
    def kept(cls, metadata: TableMetadata, stored_schema: pa.Schema) -> FileLayout:
        """``of``, kept for the last LAYOUTS_KEPT metadata objects this process wrote with (by
        identity: a function instance's host writes its outputs with the same ones run after
        run; see ``provisional_metadata``): 0.7 ms a write on the developers' VM."""
        key = (id(metadata), stored_schema)
        layout = _layouts.get(key)
        if layout is None or layout.metadata is not metadata:  # (a reused id)
            layout = cls.of(metadata, stored_schema)
            _layouts.put(key, layout)  # holds the metadata: its id is not reused while kept
        return layout


LAYOUTS_KEPT = 32
_layouts: Kept[tuple[int, pa.Schema], FileLayout] = Kept(LAYOUTS_KEPT)


def dictionary_columns(layout: FileLayout, stored: pa.Table) -> list[str]:
    """The Parquet columns to dictionary-encode: top-level ones whose first rows have few distinct
    values, and the leaves of nested ones (pyarrow's default). A dictionary for a column of
    mostly distinct values (prices, times, ids, images) is abandoned once it outgrows its page,
    after costing about as much as writing the column."""
    few = {name for name, column in zip(layout.arrow_schema.names, stored.columns, strict=True)
           if has_few_distinct(column)}
    return [path for path in layout.column_ids if "." in path or path in few]


def write_shard(io: FileIO, layout: FileLayout, name: str, partition: int | None,
                rows: pa.Table, dictionary: list[str]) -> DataFile:
    """Write one shard's rows (``partition`` is their partition value) as one Parquet file with
    pyarrow, dictionary-encoding the columns named in ``dictionary``, and describe it with the
    Iceberg statistics of its footer. A file that fails half way is deleted here."""
    metadata = layout.metadata
    spec = metadata.spec()
    key = None if spec.is_unpartitioned() else PartitionKey(
        field_values=[PartitionFieldValue(spec.fields[0], partition)], partition_spec=spec,
        schema=metadata.schema())
    path = load_location_provider(metadata.location, metadata.properties).new_data_location(
        data_file_name=name, partition_key=key)
    output = io.new_output(path)
    table = rows.rename_columns(layout.arrow_schema.names).cast(layout.arrow_schema)
    try:
        with output.create() as stream:
            writer = pq.ParquetWriter(stream, layout.arrow_schema, use_dictionary=dictionary,
                                      **layout.writer_options)
            with writer:
                writer.write_table(table, row_group_size=layout.row_group_rows)
        statistics = footer_statistics(writer.writer.metadata, layout)
        size = len(output)
    except BaseException:
        if output.exists():
            io.delete(path)
        raise
    return DataFile.from_args(
        content=DataFileContent.DATA, file_path=path, file_format=FileFormat.PARQUET,
        partition=key.partition if key else Record(), file_size_in_bytes=size,
        sort_order_id=None, spec_id=metadata.default_spec_id, equality_ids=None,
        key_metadata=None, **statistics.to_serialized_dict())


def footer_statistics(footer: pq.FileMetaData, layout: FileLayout) -> DataFileStatistics:
    """The Iceberg statistics of a written file's footer. A date or timestamp outside Python's
    years 1 to 9999 (DuckDB's ``'infinity'``, a date BC), which pyiceberg cannot make a bound of,
    leaves its column without bounds in this file (counts only): readers then never skip the
    file on that column, which is always correct."""
    try:
        return data_file_statistics_from_parquet_metadata(footer, layout.statistics,
                                                          layout.column_ids)
    except OverflowError:
        unbounded = {layout.column_ids[column.path_in_schema]
                     for group in range(footer.num_row_groups)
                     for column in (footer.row_group(group).column(c)
                                    for c in range(footer.num_columns))
                     if column.is_stats_set and not _bounds_convert(column.statistics)}
        counted = {field: replace(collector, mode=MetricsMode(MetricModeTypes.COUNTS))
                   if field in unbounded else collector
                   for field, collector in layout.statistics.items()}
        return data_file_statistics_from_parquet_metadata(footer, counted, layout.column_ids)


def _bounds_convert(statistics: pq.Statistics) -> bool:
    try:
        statistics.min, statistics.max  # noqa: B018 (the conversion is the test)
    except OverflowError:
        return False
    return True


class StagedFiles(list[DataFile]):
    """Data files written under one table location and not committed yet; ``keep()`` once they
    are committed (or handed to whoever commits them)."""

    def __init__(self) -> None:
        super().__init__()
        self.kept = False

    def keep(self) -> list[DataFile]:
        self.kept = True
        return list(self)


@contextmanager
def staged(io: FileIO, location: str) -> Iterator[StagedFiles]:
    """The files a write makes under ``location``, deleted when the block ends unless they were
    kept: a failure anywhere before the commit (the commit included) leaves nothing behind."""
    files = StagedFiles()
    try:
        yield files
    finally:
        if not files.kept:
            discard(io, files, location)


def discard(io: FileIO, files: Iterable[DataFile], location: str) -> None:
    """Delete data files that were written but never committed, each of which must lie under
    the table location ``location`` (a statement never deletes another table's files)."""
    prefix = location.rstrip("/") + "/"
    for data_file in files:
        if not data_file.file_path.startswith(prefix) or "/../" in data_file.file_path:
            raise InternalError(f"refusing to delete {data_file.file_path}: it is not a file of "
                                f"the table at {location}")
        try:
            io.delete(data_file.file_path)
        except FileNotFoundError:
            pass


def same_layout(written: TableMetadata, current: TableMetadata) -> bool:
    """Whether files written for ``written`` still fit the table as ``current`` describes it."""
    return (written.table_uuid == current.table_uuid
            and written.current_schema_id == current.current_schema_id
            and written.default_spec_id == current.default_spec_id)


def _changed(name: str) -> ConflictError:
    return ConflictError(f"table {name} was changed (ALTER TABLE, or dropped and created again) "
                         "while this statement wrote its files; nothing was written: run the "
                         "statement again")


def commit(db: Database, name: str, add: Sequence[DataFile],
           remove: Sequence[DataFile] = (), written_for: TableMetadata | None = None,
           properties: Mapping[str, str] | None = None,
           verify: Callable[[Table], None] | None = None) -> int:
    """Make ``add`` visible and ``remove`` invisible in ONE snapshot; returns its id.

    ``written_for`` is the table metadata the files were written with: when the table was
    dropped and made again, or its columns or partitioning changed (an ALTER TABLE) since, the
    files no longer fit it and the commit fails with ConflictError.

    Commits are optimistic: when another writer got in first, an append is applied again on top
    of the new snapshot; a rewrite (DELETE's) is applied again only if the files it replaces are
    all still there, else it fails with ConflictError. Rows appended meanwhile do not stop a
    rewrite (snapshot isolation: it changed what it saw), although pyiceberg's own check, which
    is serializable, refuses it. Either way nothing is half-applied (and the caller's ``staged``
    block deletes the files that were not committed).

    ``properties`` are set on the table in the same commit (a tickerplant's flush records the
    journal position its rows reach, so that they are never replayed twice).

    In an open transaction (``db.pending``) the files are staged instead, and committed with the
    transaction; ``verify`` is then done again at its COMMIT.

    ``verify`` checks the write again against a snapshot newer than ``written_for``'s, which
    its checks read (a primary key's, a UNIQUE's: rows committed meanwhile may hold the values
    it adds); it raises to refuse the write. The commit requires the snapshot it verified, so a
    commit in between sends it round again.
    """
    if db.pending is not None:  # in a transaction: staged, committed with it (engine.transactions)
        if properties:
            raise ConflictError(f"table {name}: a commit that sets properties is not made inside "
                                "a transaction")
        base = db.catalog.load_table(db.identifier(name))
        if written_for is not None and not same_layout(written_for, base.metadata):
            raise _changed(name)
        return db.pending.stage(base, name, list(add), list(remove))
    seen = written_for.current_snapshot_id if written_for is not None else None
    for _ in range(COMMIT_ATTEMPTS):
        table = db.catalog.load_table(db.identifier(name))
        if verify is not None and table.metadata.current_snapshot_id != seen:
            verify(table)
            seen = table.metadata.current_snapshot_id
        if written_for is not None and not same_layout(written_for, table.metadata):
            raise _changed(name)
        if remove:
            current = {f.file_path for f in data_files(table)}
            if not all(f.file_path in current for f in remove):
                raise ConflictError(f"table {name} was rewritten by a concurrent writer; run "
                                    "the statement again")
        transaction = table.transaction()
        if properties:
            transaction.set_properties(dict(properties))
        producer = transaction.update_snapshot().overwrite() if remove else \
            transaction.update_snapshot().fast_append()
        try:
            with producer:
                for data_file in remove:
                    producer.delete_data_file(data_file)
                for data_file in add:
                    producer.append_data_file(data_file)
            committed = transaction.commit_transaction()
        except (CommitFailedException, ValidationException):
            continue  # another writer got in first: look again at what is current
        snapshot = committed.current_snapshot()
        assert snapshot is not None  # a commit that added or removed files made one
        return snapshot.snapshot_id
    raise ConflictError(f"table {name}: gave up after {COMMIT_ATTEMPTS} concurrent commits; "
                        "run the statement again")

