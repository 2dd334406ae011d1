"""A database: a SQL catalog and an Iceberg warehouse of Parquet files.

Embedded (the default), it is one directory: ``catalog.db`` (SQLite) holds pyiceberg's
``SqlCatalog`` tables and indb's own (format version, settings, row id sequences);
``warehouse/`` holds each table's Iceberg metadata and data files. Described by URLs
(``location.Location``), the catalog is a SQL server's (PostgreSQL) and the root, holding
``warehouse/`` and the rest, is a warehouse URL: a shared path or an object store.
"""

from __future__ import annotations

import functools
import hashlib
import os
import shutil
import sqlite3
import tempfile
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack, closing, contextmanager
from typing import TYPE_CHECKING, Any
from pathlib import Path

import pyarrow as pa
import sqlalchemy as sa
from pyiceberg.catalog import Catalog
from pyiceberg.catalog.sql import IcebergTables, SqlCatalog
from pyiceberg.exceptions import (CommitFailedException, NamespaceAlreadyExistsError,
                                  NoSuchNamespaceError, NoSuchTableError, TableAlreadyExistsError,
                                  ValidationError)
from pyiceberg.manifest import DataFile
from pyiceberg.partitioning import PartitionField, PartitionSpec
from pyiceberg.schema import Schema, assign_fresh_schema_ids
from pyiceberg.table import CreateTableTransaction, Table
from pyiceberg.table.metadata import TableMetadata, new_table_metadata
from pyiceberg.table.sorting import UNSORTED_SORT_ORDER
from pyiceberg.table.update import TableUpdate, update_table_metadata
from pyiceberg.transforms import BucketTransform

from indb.catalog import filesystems, relocation
from indb.catalog.location import Location, is_config, read_config, redact
from indb.catalog.names import (DEFAULT_SCHEMA, checked_schema_name, checked_table_name,
                                directory_name, qualified, split_name)
from indb.catalog.tables import TableInfo
from indb.catalog.uris import local_path
from indb.errors import (CatalogError, ConflictError, DirectoryError,
                         SchemaError, StorageError, not_found)

if TYPE_CHECKING:
    from indb.storage.pending import Pending

FORMAT_VERSION = 1
# Parquet as written for new tables: LZ4 decompresses several times faster than pyiceberg's
# default ZSTD (files ~1.5x bigger), and row groups of about ROW_GROUP_BYTES let a reader
# decompress one file on several threads; both matter most for wide rows read cold (images).
PARQUET_CODEC = "lz4"
SHARD_FIELD = "_indb_shard"  # the partition field of a sharded table (``iceberg_layout``)
ROW_GROUP_BYTES = 16 << 20
ROW_GROUP_LIMIT_MIN, ROW_GROUP_LIMIT_MAX = 4096, 1 << 20  # rows
# A column's dictionary stops growing at this size and the rest of its row group is written
# plain: low-cardinality columns (symbols, labels) stay dictionary-encoded, while columns of
# mostly distinct values (prices, ids, images) stop paying for a dictionary early. Iceberg's
# default (2 MiB) dictionary-encodes a whole row group of distinct doubles, writing ~2x slower.
DICTIONARY_BYTES = 256 << 10
# pyiceberg opens its streams with a 1 MiB buffer; pyarrow's Parquet writer writes whole pages,
# and through that buffer a function instance's 2.5 MB output file took 2-3 ms longer to write
# than through a 64 KiB one (the developers' VM; a warehouse's own ``buffer-size`` wins)
STREAM_BUFFER = {"buffer-size": str(64 << 10)}
VARIABLE_WIDTH_GUESS = 32  # bytes a row a string or list column is counted as
CATALOG_FILE = "catalog.db"
SCRATCH_VARIABLE = "INDB_SCRATCH"
SYNC_VARIABLE = "INDB_CATALOG_SYNC"  # SQLite's synchronous setting for a catalog file
SYNC_PRAGMAS = {mode: "PRAGMA synchronous = " + mode for mode in ("OFF", "NORMAL", "FULL", "EXTRA")}
WAREHOUSE_DIR = "warehouse"
NAMESPACE = DEFAULT_SCHEMA  # the namespace of tables named without a schema
# the catalog name of a table being built by CREATE OR REPLACE, until it takes the old one's
# place (reserved: no user table starts so); one left by a killed process is VACUUM's to drop
STAND_IN_PREFIX = "__indb_replacing_"
REPLACEMENT_DIGITS = 12  # a replacing table's directory is its table's, then - and these hex digits
DEFAULT_SHARDS = 8
# the PostgreSQL advisory lock (one per catalog database: the lock space is the database's) that
# processes hold while they create the catalog's tables and first rows, one after another
INIT_LOCK = int.from_bytes(hashlib.sha256(f"indb:{relocation.CATALOG_NAME}".encode()).digest()[:8],
                           "big", signed=True)

_metadata = sa.MetaData()
_meta = sa.Table("indb_meta", _metadata,
                 sa.Column("key", sa.String, primary_key=True),
                 sa.Column("value", sa.String, nullable=False))
_sequences = sa.Table("indb_sequences", _metadata,
                      sa.Column("table_name", sa.String, primary_key=True),
                      sa.Column("next_value", sa.BigInteger, nullable=False))


class Database:
    """An open database directory.

    A directory that was moved or copied (its tables' metadata still names the old place) is
    refused, unless ``relocate=True`` asks to rewrite that metadata for where it is now first.
    """

    def __init__(self, path: str | Path | Location, *, default_shards: int | None = None,
                 workers: int | None = None, relocate: bool = False) -> None:
        if is_config(path):
            path = read_config(path)  # type: ignore[arg-type]  # is_config: a str or Path
        # holds a PostgreSQL catalog's INIT_LOCK from before it is read until it is initialized:
        # processes opening a new one at once create its tables and rows one after another
        with ExitStack() as opening:
            if isinstance(path, Location):
                self.location: Location | None = path
                self._root: Path | None = path.local_root
                self.root = path.warehouse
                is_new = self._open_catalog(path, opening)
            else:
                self.location = None
                self._root = Path(path).resolve()
                self.root = self._root.as_uri()
                catalog_file = self._root / CATALOG_FILE
                is_new = _check_directory(self._root)
                if not is_new:  # checked before pyiceberg touches the file: it would add its tables
                    _check_version(catalog_file)
                self._root.mkdir(parents=True, exist_ok=True)
                self.catalog = _Catalog(relocation.CATALOG_NAME, uri=f"sqlite:///{catalog_file}",
                                        warehouse=self.warehouse_uri, **STREAM_BUFFER)
            self.engine = self.catalog.engine
            if self.engine.dialect.name == "sqlite":
                _synchronous(self.engine)
            if is_new:
                self._initialize(default_shards or DEFAULT_SHARDS, workers)
        if not is_new:
            self._check_place(relocate)
        with self.engine.connect() as conn:
            settings = dict(conn.execute(sa.select(_meta.c.key, _meta.c.value)).all())
        if "database_id" not in settings:  # made by an indb that did not give databases an id
            settings["database_id"] = self._set("database_id", uuid.uuid4().hex)
        self.default_shards = int(settings["default_shards"])
        # the worker count a new database was created with: its connections' default
        self.workers = int(settings["workers"]) if "workers" in settings else None
        # tells this database from another made later at the same path (a run's workers check it)
        self.id: str = settings["database_id"]
        # the open transaction's staged writes (BEGIN ... COMMIT: engine.transactions), which
        # load() shows and files.commit() adds to; None outside one
        self.pending: Pending | None = None

    def _open_catalog(self, location: Location, opening: ExitStack) -> bool:
        """Open the catalog a Location names; True if it holds no indb database yet. Its
        INIT_LOCK is taken first, and held until ``opening`` closes."""
        engine = sa.create_engine(location.catalog)
        opening.callback(engine.dispose)
        try:
            conn = opening.enter_context(engine.connect())
            opening.enter_context(serialized(conn))
            tables = set(sa.inspect(conn).get_table_names())
            version = conn.execute(sa.select(_meta.c.value).where(
                _meta.c.key == "format_version")).scalar() if "indb_meta" in tables else None
            conn.rollback()  # holds no transaction (nor its snapshot) while others initialize
        except sa.exc.SQLAlchemyError as error:  # the driver's words, without the password
            raise DirectoryError(f"cannot open the catalog {redact(location.catalog)}: "
                                 f"{getattr(error, 'orig', None) or error}".strip()) from None
        if version is None and "iceberg_tables" in tables:
            raise DirectoryError(f"the catalog {redact(location.catalog)} holds an Iceberg catalog "
                                 "that indb did not make; give indb a database of its own")
        if version is not None and int(version) > FORMAT_VERSION:
            raise DirectoryError(f"the catalog {redact(location.catalog)} was written by a newer "
                                 f"indb (format {version}); this indb reads format "
                                 f"{FORMAT_VERSION}. Upgrade indb to open it.")
        if self._root is not None:
            self._root.mkdir(parents=True, exist_ok=True)
        self.catalog = _Catalog(relocation.CATALOG_NAME, uri=location.catalog,
                                warehouse=self.warehouse_uri,
                                **{**STREAM_BUFFER, **location.io_properties})
        return version is None

    @property
    def path(self) -> Path:
        """The database's local directory: the embedded directory, or the warehouse on a file
        system path; with an object-store warehouse, a scratch directory of this host
        (``$INDB_SCRATCH``, else the temporary directory's ``indb/<database id>``) for what is
        only this process's (run work directories, function environments, verified copies of
        code and models). What every host must see is under ``shared_root``."""
        if self._root is not None:
            return self._root
        scratch = Path(os.environ.get(SCRATCH_VARIABLE) or Path(tempfile.gettempdir()) / "indb")
        return scratch / self.id

    @property
    def shared_root(self) -> str:
        """Where registered code and models lie, as every host names it: the local root's path,
        or the object-store warehouse's URL (``catalog.artifacts``)."""
        return str(self._root) if self._root is not None else self.root

    @property
    def local_root(self) -> Path | None:
        """``path``, or None where the warehouse is an object store."""
        return self._root

    @property
    def io_properties(self) -> dict[str, str]:
        """pyiceberg FileIO properties of the warehouse (endpoint, region, credentials), without
        the catalog's URL: they travel to workers."""
        return {k: v for k, v in self.catalog.properties.items() if k != "uri"}

    def __repr__(self) -> str:
        return f"Database({self.location!r})" if self.location else f"Database({str(self._root)!r})"

    def _check_place(self, relocate: bool) -> None:
        """Refuse a database whose tables are named under another root, or relocate it."""
        previous = relocation.old_root(self.engine, self.root)
        if previous is None:
            return
        if self._root is None or self.location is not None:  # the warehouse URL is the place
            self.close()
            raise DirectoryError(
                f"the catalog's tables are named under {previous}, not under the warehouse "
                f"{self.root}: give the warehouse URL the catalog was made with (relocating is "
                "for database directories)")
        if not relocate:
            self.close()
            raise DirectoryError(
                f"{self.path} was moved or copied from {local_path(previous)}: its tables' Iceberg "
                f"metadata still names the files there, so writing here would change that "
                f"database. Run `indb relocate {self.path}` (or connect with relocate=True) to "
                "rewrite the metadata for this place; to copy a database, use `indb backup`.")
        relocation.relocate(self.engine, self._root)

    def setting(self, key: str) -> str | None:
        """A database setting (``ALTER DATABASE SET``), read now; None if it is not set."""
        with self.engine.connect() as conn:
            return conn.execute(sa.select(_meta.c.value).where(_meta.c.key == key)).scalar()

    def put_setting(self, key: str, value: str | None) -> None:
        """Set a database setting; None removes it."""
        if value is None:
            with self.engine.begin() as conn:
                conn.execute(_meta.delete().where(_meta.c.key == key))
        else:
            self._set(key, value)

    def _set(self, key: str, value: str) -> str:
        with self.engine.begin() as conn:
            conn.execute(_meta.delete().where(_meta.c.key == key))
            conn.execute(_meta.insert().values(key=key, value=value))
        return value

    def _initialize(self, default_shards: int, workers: int | None) -> None:
        if self.engine.dialect.name == "sqlite":
            with self.engine.begin() as conn:
                conn.exec_driver_sql("PRAGMA journal_mode=WAL")  # readers never block the writer
        _metadata.create_all(self.engine)
        with self.engine.begin() as conn:
            settings = {"format_version": FORMAT_VERSION, "default_shards": default_shards,
                        "database_id": uuid.uuid4().hex}
            if workers:
                settings["workers"] = workers
            for key, value in settings.items():
                exists = conn.execute(sa.select(_meta.c.key).where(_meta.c.key == key)).first()
                if not exists:
                    conn.execute(_meta.insert().values(key=key, value=str(value)))
        self.catalog.create_namespace_if_not_exists(NAMESPACE)

    # -- tables -----------------------------------------------------------------------------

    def create_table(self, info: TableInfo, add: Sequence[DataFile] = (), *,
                     replace: bool = False, location: str | None = None) -> Table:
        """Create an Iceberg table partitioned by ``bucket(shards, shard source)``; with ``add``
        (files written for it beforehand, with ``provisional_metadata``, under ``location``) the
        table appears with them in ONE catalog commit: readers see it whole or not at all.

        With ``replace``, a table of that name is replaced: the new one is created under a
        name of its own (at ``replacement_location``), then takes the old one's place in one
        catalog transaction, so readers see the old table or the new one, never neither."""
        if replace and self.exists(info.name):
            return self._replace(info, add, location or self.replacement_location(info.name))
        # no look first (0.4 ms of a function run's commit): pyiceberg's commit refuses
        return self._create(info, self.identifier(info.name), add,
                            location or self.table_location(info.name))

    def _create(self, info: TableInfo, identifier: tuple[str, str], add: Sequence[DataFile],
                location: str) -> Table:
        schema, spec = iceberg_layout(info)
        self._existing_schema(identifier[0])
        try:
            if not add:
                return self.catalog.create_table(identifier, schema=schema, partition_spec=spec,
                                                 properties=table_properties(info), location=location)
            transaction = _CreateTransaction(self.catalog._create_staged_table(
                identifier, schema=schema, partition_spec=spec, properties=table_properties(info),
                location=location))
            with transaction.update_snapshot().fast_append() as append:
                for data_file in add:
                    append.append_data_file(data_file)
            return transaction.commit_transaction()
        except TableAlreadyExistsError:  # the catalog row's key (no query after: on PostgreSQL
            raise _taken(info.name) from None  # the failed insert ended the transaction)
        except CommitFailedException:  # the create transaction's AssertCreate, or another reason
            if not self._listed(identifier):
                raise
            raise _taken(info.name) from None
        except NoSuchNamespaceError:  # dropped since it was checked
            raise not_found("schema", identifier[0]) from None

    def _replace(self, info: TableInfo, add: Sequence[DataFile], location: str) -> Table:
        schema, name = self.identifier(info.name)
        stand_in = (schema, f"{STAND_IN_PREFIX}{uuid.uuid4().hex}")
        self._create(info, stand_in, add, location)
        old = self._directory(info.name) if self.exists(info.name) else ""
        mine = (IcebergTables.catalog_name == self.catalog.name) & \
            (IcebergTables.table_namespace == schema)
        with self.engine.begin() as conn:  # one SQLite transaction: the swap is atomic
            conn.execute(sa.delete(IcebergTables).where(mine & (IcebergTables.table_name == name)))
            renamed = conn.execute(sa.update(IcebergTables)
                                   .where(mine & (IcebergTables.table_name == stand_in[1]))
                                   .values(table_name=name))
            if renamed.rowcount != 1:  # rolls the delete back too: the old table stays
                raise ConflictError(f"the new {info.name} was removed while it was built (a "
                                    "VACUUM?); run the statement again")
        if old and old != location:
            self._remove_directory(old)
        return self.catalog.load_table((schema, name))

    def replacement_location(self, name: str) -> str:
        """Where the files of a table replacing ``name`` go: beside the old table's, under a
        directory name no table has (so VACUUM never takes it for a dropped table's leftovers)."""
        return f"{self.table_location(name)}-{uuid.uuid4().hex[:REPLACEMENT_DIGITS]}"

    def _remove_directory(self, location: str) -> None:
        """Delete a table's directory if it is one of this database's own table directories."""
        if not filesystems.is_local(self.root):  # no links or .. in an object store's keys
            inside = location.startswith(self.warehouse_uri + "/") and ".." not in location \
                and location.rstrip("/").count("/") > self.warehouse_uri.count("/") + 1
            if inside:
                filesystems.remove_tree(location, self.io_properties)
            return
        directory = Path(local_path(location)).resolve()
        warehouse = self.warehouse.resolve()
        if directory.is_relative_to(warehouse) and directory.parent != warehouse \
                and directory != warehouse:
            shutil.rmtree(directory, ignore_errors=True)

    def table_location(self, name: str) -> str:
        """Where a new table's files live (callers that write them before the table exists keep
        the answer: workers write a new output there); only valid names get one, so a location
        never leaves the warehouse. It is ``<schema>/<table>`` (the table's name as
        ``names.directory_name`` cleans it), unless that directory is another table's (one
        renamed from this name, or one whose name cleans the same): then one beside it, as a
        replacement's."""
        schema, table = split_name(checked_table_name(name))
        location = f"{self.warehouse_uri}/{schema}/{directory_name(table)}"
        taken = any(m.startswith(f"{location}/metadata/") for m in self.metadata_locations().values())
        return f"{location}-{uuid.uuid4().hex[:REPLACEMENT_DIGITS]}" if taken else location

    def rename_table(self, old: str, new: str,
                     also: Callable[[sa.Connection], None] = lambda conn: None) -> None:
        """Give table ``old`` the name ``new`` (of its schema), in one catalog transaction with
        what ``also`` renames there (its owner, grants and views' queries). Its files stay in
        their directory, which ``table_location`` then never gives a new table."""
        source, target = self.identifier(old), self.identifier(new)
        mine = IcebergTables.catalog_name == self.catalog.name
        try:
            with self.engine.begin() as conn:
                moved = conn.execute(sa.update(IcebergTables).where(
                    mine & (IcebergTables.table_namespace == source[0])
                    & (IcebergTables.table_name == source[1])).values(
                    table_namespace=target[0], table_name=target[1]))
                if moved.rowcount != 1:
                    raise not_found("table", old)
                for (counter,) in conn.execute(sa.select(_sequences.c.table_name)).all():
                    if counter == old or counter.startswith(f"{old}/"):  # its row ids', identities'
                        conn.execute(_sequences.update().where(_sequences.c.table_name == counter)
                                     .values(table_name=new + counter[len(old):]))
                also(conn)
        except sa.exc.IntegrityError:  # the catalog's key: a table of that name exists
            raise _taken(new) from None

    @property
    def warehouse(self) -> Path:
        """The tables' directory, local (see ``path``)."""
        return self.path / WAREHOUSE_DIR

    @property
    def warehouse_uri(self) -> str:
        """The tables' directory as a URI: ``file:///db/warehouse``, ``s3://bucket/db/warehouse``."""
        return f"{self.root}/{WAREHOUSE_DIR}"

    @property
    def warehouse_place(self) -> str:
        """The tables' directory as DuckDB names files in it: a local path, or a URI."""
        return local_path(self.warehouse_uri)

    def drop_table(self, name: str) -> None:
        """Remove a table from the catalog, then delete its directory, which must be this
        database's own: files the table's metadata names elsewhere are never touched. A table
        whose metadata cannot be read is dropped all the same (see ``_directory``)."""
        location = self._directory(name)
        self.catalog.drop_table(self.identifier(name))
        with self.engine.begin() as conn:
            conn.execute(_sequences.delete().where(  # its row ids' and its identity columns'
                (_sequences.c.table_name == name) | _sequences.c.table_name.startswith(f"{name}/")))
        if location:
            self._remove_directory(location)

    def _directory(self, name: str) -> str:
        """A table's directory: its metadata's location or, where that cannot be read, the
        directory its metadata file is in ('' if the catalog names none)."""
        try:
            return self._iceberg_table(name).location()
        except StorageError:
            return self.metadata_locations().get(name, "").rpartition("/metadata/")[0]

    def load(self, name: str) -> tuple[Table, TableInfo]:
        """The Iceberg table at its current snapshot (in an open transaction that wrote it, the
        transaction's) and indb's description of it; ``StorageError`` if its metadata file
        cannot be read."""
        staged = self.pending.table(name) if self.pending is not None else None
        table = staged if staged is not None else self._iceberg_table(name)
        return table, TableInfo.from_properties(name, table.properties)

    def _iceberg_table(self, name: str) -> Table:
        try:
            return self.catalog.load_table(self.identifier(name))
        except NoSuchTableError:
            raise not_found("table", name) from None
        except (OSError, ValueError, ValidationError) as error:  # missing, or not its metadata
            raise unreadable(name, error) from None

    def exists(self, name: str) -> bool:
        """Whether the catalog has a table of that name: its row, as ``load`` finds it, without
        reading its metadata file (pyiceberg's ``table_exists`` loads the whole table; a
        statement asks several times, 0.3-1.3 ms of CPU each on the developers' VM)."""
        return self._listed(self.identifier(name))

    def _listed(self, identifier: tuple[str, str]) -> bool:
        schema, table = identifier
        query = sa.select(IcebergTables.table_name).where(
            IcebergTables.catalog_name == self.catalog.name,
            IcebergTables.table_namespace == schema, IcebergTables.table_name == table,
            IcebergTables.metadata_location.is_not(None))
        kind = self.catalog._iceberg_type_filter()  # tables only, as load_table looks them up
        if kind is not None:
            query = query.where(kind)
        with self.engine.connect() as conn:
            return conn.execute(query.limit(1)).first() is not None

    @staticmethod
    def identifier(name: str) -> tuple[str, str]:
        """The Iceberg identifier (namespace, table) of a table's catalog name."""
        return split_name(name)

    def metadata_locations(self) -> dict[str, str]:
        """Each table's current metadata file, by catalog name (``s.t`` outside main): it
        changes exactly when the table does."""
        query = sa.select(IcebergTables.table_namespace, IcebergTables.table_name,
                          IcebergTables.metadata_location).where(
            IcebergTables.catalog_name == self.catalog.name)
        with self.engine.connect() as conn:
            return {qualified(schema, name): location
                    for schema, name, location in conn.execute(query).all()
                    if location and not name.startswith(STAND_IN_PREFIX)}

    def stand_ins(self) -> dict[tuple[str, str], str]:
        """The tables CREATE OR REPLACE is building (or a killed one left), by identifier, with
        their metadata files."""
        query = sa.select(IcebergTables.table_namespace, IcebergTables.table_name,
                          IcebergTables.metadata_location).where(
            IcebergTables.catalog_name == self.catalog.name,
            IcebergTables.table_name.startswith(STAND_IN_PREFIX))
        with self.engine.connect() as conn:
            return {(schema, name): location for schema, name, location in conn.execute(query).all()
                    if location}

    def drop_stand_in(self, identifier: tuple[str, str]) -> None:
        """Remove a stand-in a killed CREATE OR REPLACE left, with its files."""
        try:
            table = self.catalog.load_table(identifier)
        except NoSuchTableError:
            return
        self.catalog.drop_table(identifier)
        self._remove_directory(table.location())

    # -- schemas ----------------------------------------------------------------------------

    def schemas(self) -> list[str]:
        """Every schema's name, main first."""
        names = {".".join(n) for n in self.catalog.list_namespaces()}
        return [NAMESPACE] + sorted(names - {NAMESPACE})

    def schema_exists(self, name: str) -> bool:
        if name == NAMESPACE:
            return True
        try:  # pyiceberg reads "a.b" as a nested namespace: indb makes none
            return "." not in name and self.catalog.namespace_exists(name)
        except NoSuchNamespaceError:  # a name pyiceberg cannot hold (empty, blank)
            return False

    def create_schema(self, name: str, properties: dict[str, str] | None = None) -> None:
        """A new, empty schema (an Iceberg namespace, with ``properties``); CatalogError if it
        exists."""
        try:
            self.catalog.create_namespace(checked_schema_name(name), properties or {})
        except NamespaceAlreadyExistsError:
            raise CatalogError(f"schema {name} already exists") from None

    def schema_properties(self, name: str) -> dict[str, str]:
        """A schema's properties (``create_schema``'s)."""
        self._existing_schema(name)
        return dict(self.catalog.load_namespace_properties(name))

    def drop_schema(self, name: str, cascade: bool = False) -> list[str]:
        """Remove a schema; with ``cascade`` its tables first (each dropped as DROP TABLE drops
        it), else CatalogError if it holds any. Returns the tables dropped."""
        if name == NAMESPACE:
            raise CatalogError(f"schema {NAMESPACE} is where tables named without a schema live; "
                               "it cannot be dropped")
        self._existing_schema(name)
        tables = sorted(qualified(name, t) for _, t in self.catalog.list_tables(name))
        if tables and not cascade:
            raise CatalogError(f"schema {name} holds {len(tables)} table(s) ({', '.join(tables[:3])}"
                               f"{', ...' if len(tables) > 3 else ''}); drop them first, or DROP "
                               f"SCHEMA {name} CASCADE")
        for table in tables:
            self.drop_table(table)
        try:
            self.catalog.drop_namespace(name)
        except NoSuchNamespaceError:  # dropped meanwhile by another connection
            pass
        if not filesystems.is_local(self.root):
            if "/" not in name and ".." not in name:  # its own prefix, never another's
                filesystems.remove_tree(f"{self.warehouse_uri}/{name}", self.io_properties)
            return tables
        directory = (self.warehouse / name).resolve()
        if directory.parent == self.warehouse.resolve():  # its own directory, never another's
            shutil.rmtree(directory, ignore_errors=True)
        return tables

    def _existing_schema(self, name: str) -> None:
        if not self.schema_exists(name):
            raise CatalogError(f"schema {name} does not exist; CREATE SCHEMA {name} first")

    def restart_identities(self, name: str) -> None:
        """Number a table's identity columns from their start again (TRUNCATE ... RESTART
        IDENTITY); its row ids go on (a row id is never used twice)."""
        with self.engine.begin() as conn:
            conn.execute(_sequences.delete().where(_sequences.c.table_name.startswith(f"{name}/")))

    def allocate_rowids(self, name: str, count: int) -> int:
        """Reserve ``count`` row ids for a table; returns the first. Safe across processes."""
        row = _sequences.c.table_name == name
        for _ in range(2):  # the second pass only after losing the race to create the sequence
            try:
                with self.engine.begin() as conn:
                    # Write first, so the transaction holds SQLite's write lock before it reads.
                    bump = _sequences.update().where(row).values(next_value=_sequences.c.next_value + count)
                    if conn.execute(bump).rowcount:
                        return conn.execute(sa.select(_sequences.c.next_value).where(row)).scalar_one() - count
                    conn.execute(_sequences.insert().values(table_name=name, next_value=count))
                    return 0
            except sa.exc.IntegrityError:
                continue
        raise CatalogError(f"could not allocate row ids for {name}")

    def counted(self, name: str) -> int:
        """How many values a table's counter (``allocate_rowids``) has handed out."""
        with self.engine.connect() as conn:
            count = conn.execute(sa.select(_sequences.c.next_value).where(
                _sequences.c.table_name == name)).scalar_one_or_none()
        return count or 0

    def set_counter(self, name: str, count: int) -> None:
        """Make ``count`` the number of values a table's counter (``allocate_rowids``) has
        handed out: an identity's ``setval``."""
        with self.engine.begin() as conn:
            conn.execute(_sequences.delete().where(_sequences.c.table_name == name))
            conn.execute(_sequences.insert().values(table_name=name, next_value=count))

    def close(self) -> None:
        self.engine.dispose()


@contextmanager
def serialized(conn: sa.Connection) -> Iterator[None]:
    """Hold the catalog's INIT_LOCK on ``conn`` (a session's lock, on PostgreSQL: SQLite
    serializes writers itself) while creating tables: two sessions creating one table at once
    make one fail on PostgreSQL's unique indexes (pg_type's), though both checked first."""
    if conn.dialect.name != "postgresql":
        yield
        return
    conn.execute(sa.select(sa.func.pg_advisory_lock(INIT_LOCK)))
    conn.commit()  # the lock is the session's: no transaction stays open while it is held
    try:
        yield
    finally:
        conn.execute(sa.select(sa.func.pg_advisory_unlock(INIT_LOCK)))
        conn.commit()


def define(conn: sa.Connection, table: sa.Table, name: str, values: dict[str, object],
           replace: bool, kind: str) -> None:
    """The row of ``table`` named ``name`` given ``values``: inserted, or with ``replace`` the
    one there is updated; CatalogError if there is one and not ``replace`` (``kind``: what
    ``CREATE OR REPLACE`` makes, ``MACRO``)."""
    key = table.c.name
    if conn.execute(sa.select(key).where(key == name)).first() is None:
        conn.execute(table.insert().values(name=name, **values))
    elif replace:
        conn.execute(table.update().where(key == name).values(**values))
    else:
        raise CatalogError(f"{kind.lower()} {name} already exists; CREATE OR REPLACE {kind} "
                           f"{name} redefines it")


def create_tables(engine: sa.Engine, metadata: sa.MetaData) -> None:
    """``metadata``'s tables that the catalog lacks, created under its INIT_LOCK (never call
    it while this process holds the lock on another connection: it would wait for itself)."""
    with engine.connect() as conn, serialized(conn):
        for _ in metadata.tables:  # on SQLite, another connection may make a table between
            try:  # create_all's check and its CREATE: checked again, that one is not made
                metadata.create_all(conn)
                break
            except sa.exc.OperationalError as error:
                if "already exists" not in str(error):
                    raise
                conn.rollback()
        else:
            metadata.create_all(conn)
        conn.commit()


def _check_version(catalog_file: Path) -> None:
    """Refuse a catalog file that indb did not write, or that a newer indb wrote."""
    try:
        with closing(sqlite3.connect(f"{catalog_file.as_uri()}?mode=ro", uri=True)) as conn:
            version = int(dict(conn.execute("SELECT key, value FROM indb_meta").fetchall())["format_version"])
    except (sqlite3.Error, KeyError):
        raise DirectoryError(f"{catalog_file.parent} is not an indb database: its {CATALOG_FILE} has "
                            "no indb_meta table. Point at an empty or new directory.") from None
    if version > FORMAT_VERSION:
        raise DirectoryError(f"{catalog_file.parent} was written by a newer indb (format {version}); "
                            f"this indb reads format {FORMAT_VERSION}. Upgrade indb to open it.")


def _check_directory(path: Path) -> bool:
    """True if ``path`` is a place for a new database; raises DirectoryError if it is not one."""
    if not path.exists():
        return True
    if not path.is_dir():
        raise DirectoryError(f"{path} is a file, not a database directory")
    if (path / CATALOG_FILE).exists():
        return False
    if any(path.iterdir()):
        raise DirectoryError(f"{path} is not an indb database (it has no {CATALOG_FILE}) and is "
                            "not empty; point at an empty or new directory")
    return True


def unreadable(name: str, error: Exception) -> StorageError:
    """The error for a table whose metadata (or files) cannot be read (``error`` says why;
    DuckDB's own error is cut before the SQL of the view it could not make)."""
    why = str(error).split("\n\nLINE ", 1)[0]
    return StorageError(f"table {name} cannot be read ({type(error).__name__}: {why}); "
                        f"DROP TABLE {name} removes it from the catalog")


def _taken(name: str) -> CatalogError:
    return CatalogError(f"table {name} already exists; DROP TABLE {name} first, or insert into it")


def _synchronous(engine: sa.Engine) -> None:
    """Every connection of a SQLite catalog syncs as ``$INDB_CATALOG_SYNC`` says, NORMAL by
    default: in WAL mode a commit survives the process's crash, and may be lost with the
    machine's power, as the table files written beside it may be (docs/operations.md)."""
    mode = (os.environ.get(SYNC_VARIABLE) or "NORMAL").upper()
    if mode not in SYNC_PRAGMAS:
        raise DirectoryError(f"{SYNC_VARIABLE}={os.environ[SYNC_VARIABLE]!r}: give one of "
                             + ", ".join(SYNC_PRAGMAS) + " (SQLite's synchronous settings)")
    sa.event.listen(engine, "connect", lambda connection, _: connection.execute(SYNC_PRAGMAS[mode]))
    engine.dispose()  # the connections pyiceberg opened already take it too, when reopened


class _Catalog(SqlCatalog):
    """pyiceberg's SQL catalog, with the empty metadata a new table's is built on made once a
    process and copied: pyiceberg makes it through pydantic, which inspects the signature of
    each field's default factory (copying ``sys.modules`` each time): 0.6 ms in an idle process,
    1.6 ms of a function run's commit in its head (the developers' VM). The copy is deep, so
    nothing made from it is shared; the creation's own updates set the new table's UUID and
    times."""

    @staticmethod
    def _empty_table_metadata() -> TableMetadata:
        return _empty_metadata().model_copy(deep=True)


@functools.cache
def _empty_metadata() -> TableMetadata:
    return SqlCatalog._empty_table_metadata()


class _CreateTransaction(CreateTableTransaction):
    """pyiceberg's create-table transaction (what ``create_table_transaction`` returns), its
    metadata built once for each set of staged updates: pyiceberg's applies every update again,
    a deep copy of the metadata each, whenever the metadata is read, a dozen times in a
    create-and-append commit (0.13 ms each on the developers' VM). What is committed is the
    same: the catalog builds it from the updates (``commit_table``)."""

    _built: tuple[tuple[TableUpdate, ...], TableMetadata] | None = None

    @property
    def table_metadata(self) -> TableMetadata:
        # the tuple of updates is replaced, never changed, when one is staged; holding it
        # keeps its identity from being reused
        if self._built is None or self._built[0] is not self._updates:
            self._built = (self._updates, update_table_metadata(self._table.metadata, self._updates))
        return self._built[1]


@functools.lru_cache(maxsize=64)  # pyiceberg's schemas and specs are frozen: shared safely
def iceberg_layout(info: TableInfo) -> tuple[Schema, PartitionSpec]:
    """The Iceberg schema (with field ids) and partition spec a table of this description gets
    (kept: a run's head and each of its instances ask for its new output table's)."""
    schema = assign_fresh_schema_ids(Catalog._convert_schema_if_needed(info.storage_schema))
    if info.shard_source is None:
        return schema, PartitionSpec()
    source = schema.find_field(info.shard_source)
    transform: BucketTransform[Any] = BucketTransform(info.shards)
    if not transform.can_transform(source.field_type):
        column = info.column(info.shard_source)
        raise SchemaError(f"cannot shard by {info.shard_source} "
                          f"({column.sql_type if column else source.field_type}): Iceberg's "
                          "bucket() takes integers, decimals, dates, times, timestamps, strings "
                          "and binary")
    return schema, PartitionSpec(PartitionField(source_id=source.field_id, field_id=1000,
                                                transform=transform, name=SHARD_FIELD))


@functools.lru_cache(maxsize=64)  # the same object for the same table: files.FileLayout.kept
def provisional_metadata(info: TableInfo, location: str) -> TableMetadata:
    """Metadata of a table not created yet, for writing its first files before it exists
    (kept: an instance's host writes the same new output table run after run; pyiceberg's
    metadata is frozen, so it is shared safely).

    Field ids come out exactly as ``create_table`` assigns them; the head checks that they match
    when it creates the table and commits the files.
    """
    schema, spec = iceberg_layout(info)
    return new_table_metadata(schema, spec, UNSORTED_SORT_ORDER, location, table_properties(info))


def table_properties(info: TableInfo) -> dict[str, str]:
    """The Iceberg properties of a new table: indb's facts and how its Parquet files are written."""
    row_bytes = sum(_stored_width(c.storage_type) for c in info.columns) + 16  # + row id, shard
    rows = min(ROW_GROUP_LIMIT_MAX, max(ROW_GROUP_LIMIT_MIN, ROW_GROUP_BYTES // row_bytes))
    return {**info.to_properties(), "write.parquet.compression-codec": PARQUET_CODEC,
            "write.parquet.row-group-limit": str(rows),
            "write.parquet.dict-size-bytes": str(DICTIONARY_BYTES)}


def _stored_width(storage_type: pa.DataType) -> int:
    """Bytes one value of a stored column takes uncompressed (a guess for variable widths)."""
    try:
        return max(1, storage_type.bit_width // 8)
    except ValueError:  # no fixed width: strings, binary, lists
        return VARIABLE_WIDTH_GUESS

