"""What indb knows about a table beyond Iceberg: SQL types, shard key, shard count, replication.

It is kept in the Iceberg table's own properties (``indb.*``), so a table and its description are
created, changed and dropped in the same atomic catalog commit, and other engines see them too.
"""

from __future__ import annotations

import dataclasses
import functools
import json
from dataclasses import dataclass
from typing import Any

import pyarrow as pa
from pyiceberg.schema import NestedField, Schema, sanitize_column_names
from pyiceberg.types import StringType

from indb.catalog.names import checked_column_name, checked_table_name, split_name
from indb.catalog.types import Column, Identity, storage_type_of
from indb.errors import SchemaError

ROWID = "_indb_rowid"          # no shard key: a row id drawn from a per-table sequence, bucketed
COMPOSITE_KEY = "_indb_shard_key"  # several key columns: their values joined into one string
HIDDEN_COLUMNS = (ROWID, COMPOSITE_KEY)
COMMENT = "comment"  # the table property of a table's comment, as Iceberg's engines name it
SPELLING = "indb.spelling"  # the table property of a quoted name's spelling (TableInfo.spelling)


@functools.cache
def file_column_name(name: str) -> str:
    """The name a column has inside the Parquet files: pyiceberg escapes names Avro would refuse
    (``my col`` is written as ``my_x20col``); the Iceberg schema keeps the real one."""
    return sanitize_column_names(Schema(NestedField(1, name, StringType()))).fields[0].name


@dataclass(frozen=True)
class ForeignKey:
    """``FOREIGN KEY (columns) REFERENCES table (referenced)``: each row's ``columns``, where
    none is NULL, are the ``referenced`` columns (the primary key or a UNIQUE) of a row of
    ``table`` (query.references checks both sides of every write)."""

    name: str
    columns: tuple[str, ...]
    table: str
    referenced: tuple[str, ...]
    # when a transaction checks it: "" (NOT DEFERRABLE: as each statement runs), "IMMEDIATE"
    # (DEFERRABLE: as each runs, unless SET CONSTRAINTS defers it to COMMIT), "DEFERRED"
    # (DEFERRABLE INITIALLY DEFERRED: at COMMIT, unless SET CONSTRAINTS says IMMEDIATE)
    timing: str = ""


@dataclass(frozen=True)
class TableInfo:
    """A table as indb sees it: columns with SQL types and how rows are placed on shards."""

    name: str
    columns: tuple[Column, ...]
    shard_key: tuple[str, ...] = ()
    shards: int = 8
    replicated: bool = False
    primary_key: tuple[str, ...] = ()  # unique on every write (query.keys, docs/sql.md)
    comment: str | None = None  # COMMENT ON TABLE's (Iceberg's table property "comment")
    checks: tuple[tuple[str, str], ...] = ()  # CHECK constraints: (name, DuckDB SQL of the condition)
    uniques: tuple[tuple[str, tuple[str, ...]], ...] = ()  # UNIQUE constraints: (name, columns)
    # CREATE [UNIQUE] INDEX's: (name, columns, unique); a unique one holds as a UNIQUE does
    indexes: tuple[tuple[str, tuple[str, ...], bool], ...] = ()
    foreign_keys: tuple[ForeignKey, ...] = ()
    # the table's name as a quoted identifier spelled it (``"MyFrame"``) where that is not all
    # lower case: what PostgreSQL's catalog shows a client (see ``shown``)
    spelling: str | None = None

    @property
    def shown(self) -> str:
        """The table's name (less its schema) as catalogs show it: as it was spelled."""
        return self.spelling or split_name(self.name)[1]

    def column(self, name: str) -> Column | None:
        return next((c for c in self.columns if c.name == name), None)

    def named(self, name: str) -> Column | None:
        """The column of that name, in any case (names are case-insensitive, as in DuckDB)."""
        return next((c for c in self.columns if c.name.lower() == name.lower()), None)

    @property
    def generated_columns(self) -> tuple[Column, ...]:
        """The columns computed from the others as a row is written (catalog.generated)."""
        return tuple(c for c in self.columns if c.generated is not None)

    @property
    def written_columns(self) -> tuple[Column, ...]:
        """The columns a write gives values (all but the generated ones)."""
        return tuple(c for c in self.columns if c.generated is None)

    @property
    def unique_keys(self) -> tuple[tuple[str, tuple[str, ...]], ...]:
        """What every write keeps unique besides the primary key: the UNIQUE constraints and the
        unique indexes, (name, columns)."""
        return self.uniques + tuple((n, c) for n, c, unique in self.indexes if unique)

    @property
    def candidate_keys(self) -> tuple[tuple[str, tuple[str, ...]], ...]:
        """Every set of columns a write keeps unique, (name, columns): the primary key (named
        ``<table>_pkey``, as PostgreSQL names it) and the ``unique_keys``; what a foreign key
        references and ON CONFLICT names."""
        primary = ((f"{split_name(self.name)[1]}_pkey", self.primary_key),) if self.primary_key \
            else ()
        return primary + self.unique_keys

    @property
    def key_names(self) -> frozenset[str]:
        """The names of the table's constraints and indexes (one name may not be two of them)."""
        return frozenset([*(n for n, _ in self.checks), *(n for n, _ in self.uniques),
                          *(n for n, _, _ in self.indexes), *(k.name for k in self.foreign_keys)])

    @property
    def shard_source(self) -> str | None:
        """The stored column whose Iceberg ``bucket(shards, ...)`` is the shard; None if replicated."""
        if self.replicated:
            return None
        if len(self.shard_key) == 1:
            return self.shard_key[0]
        return COMPOSITE_KEY if self.shard_key else ROWID

    @property
    def hidden_columns(self) -> tuple[pa.Field, ...]:
        if self.shard_source == ROWID:
            return (pa.field(ROWID, pa.int64(), nullable=False),)
        if self.shard_source == COMPOSITE_KEY:
            return (pa.field(COMPOSITE_KEY, pa.string(), nullable=False),)
        return ()

    @property
    def storage_schema(self) -> pa.Schema:
        """The Arrow schema of the Parquet files: visible columns as stored, then hidden ones."""
        fields = [pa.field(c.name, c.storage_type, nullable=c.nullable) for c in self.columns]
        return pa.schema(fields + list(self.hidden_columns))

    @property
    def arrow_schema(self) -> pa.Schema:
        """The Arrow schema users see."""
        return pa.schema([pa.field(c.name, c.arrow_type, nullable=c.nullable) for c in self.columns])

    @classmethod
    def checked(cls, name: str, columns: tuple[Column, ...], shard_key: tuple[str, ...],
                shards: int, replicated: bool, primary_key: tuple[str, ...] = (),
                spelling: str | None = None) -> TableInfo:
        """A TableInfo for columns known only at run time (CREATE TABLE AS, loads), checked."""
        name = checked_table_name(name)
        if not columns:
            raise SchemaError(f"table {name} would have no columns; a table needs at least one")
        for column in columns:
            checked_column_name(column.name)
        names = {c.name.lower(): c.name for c in columns}
        if len(names) != len(columns):
            raise SchemaError(f"table {name} would have two columns of one name; alias them")
        missing = [k for k in shard_key if k.lower() not in names]
        if missing:
            raise SchemaError(f"SHARD KEY names {missing[0]}, which is not a column of {name}")
        for column in columns:
            storage_type_of(column.sql_type)  # refuses types Iceberg cannot hold, before creating
        return cls(name, columns, tuple(names[k.lower()] for k in shard_key), shards, replicated,
                   tuple(names[k.lower()] for k in primary_key), spelling=spelled(name, spelling))

    def to_properties(self) -> dict[str, str]:
        return {
            "indb.columns": json.dumps([_column_entry(c) for c in self.columns]),
            "indb.shard_key": json.dumps(list(self.shard_key)),
            "indb.shards": str(self.shards),
            "indb.replicated": json.dumps(self.replicated),
            **({"indb.primary_key": json.dumps(list(self.primary_key))} if self.primary_key else {}),
            **({COMMENT: self.comment} if self.comment is not None else {}),
            **({"indb.checks": json.dumps([list(c) for c in self.checks])} if self.checks else {}),
            **({"indb.uniques": json.dumps([[n, list(c)] for n, c in self.uniques])}
               if self.uniques else {}),
            **({"indb.indexes": json.dumps([[n, list(c), u] for n, c, u in self.indexes])}
               if self.indexes else {}),
            **({"indb.foreign_keys": json.dumps([[k.name, list(k.columns), k.table,
                                                  list(k.referenced), *([k.timing] if k.timing else [])]
                                                 for k in self.foreign_keys])}
               if self.foreign_keys else {}),
            **({SPELLING: self.spelling} if self.spelling is not None else {}),
        }

    @classmethod
    def from_properties(cls, name: str, properties: dict[str, str]) -> TableInfo:
        columns = tuple(_column(entry) for entry in json.loads(properties["indb.columns"]))
        return cls(name=name, columns=columns,
                   shard_key=tuple(json.loads(properties["indb.shard_key"])),
                   shards=int(properties["indb.shards"]),
                   replicated=json.loads(properties["indb.replicated"]),
                   primary_key=tuple(json.loads(properties.get("indb.primary_key", "[]"))),
                   comment=properties.get(COMMENT),
                   checks=tuple((n, c) for n, c in json.loads(properties.get("indb.checks", "[]"))),
                   uniques=tuple((n, tuple(c)) for n, c in json.loads(properties.get("indb.uniques",
                                                                                    "[]"))),
                   indexes=tuple((n, tuple(c), bool(u)) for n, c, u in json.loads(
                       properties.get("indb.indexes", "[]"))),
                   foreign_keys=tuple(ForeignKey(n, tuple(c), t, tuple(r), *timing) for n, c, t, r, *timing
                                      in json.loads(properties.get("indb.foreign_keys", "[]"))),
                   spelling=spelled(name, properties.get(SPELLING)))


def spelled(name: str, spelling: str | None) -> str | None:
    """``spelling`` if it spells catalog name ``name``'s table in another case (a spelling left
    from before a rename, or all lower case, is no spelling)."""
    table = split_name(name)[1]
    return spelling if spelling is not None and spelling != table and spelling.lower() == table \
        else None


def _column_entry(column: Column) -> list[object]:
    """A column in ``indb.columns``: ``[name, type, nullable]``, then ``{default, identity,
    comment, generated, collation}`` where it has any (tables written before defaults have three items)."""
    extra: dict[str, object] = {}
    if column.default is not None:
        extra["default"] = column.default
    if column.identity is not None:
        extra["identity"] = dataclasses.asdict(column.identity)
    if column.comment is not None:
        extra["comment"] = column.comment
    if column.generated is not None:
        extra["generated"] = column.generated
    if column.collation is not None:
        extra["collation"] = column.collation
    return [column.name, column.sql_type, column.nullable, *([extra] if extra else [])]


def _column(entry: list[Any]) -> Column:
    name, sql_type, nullable, *rest = entry
    extra = rest[0] if rest else {}
    identity = Identity(**extra["identity"]) if "identity" in extra else None
    return Column(name, sql_type, nullable, extra.get("default"), identity, extra.get("comment"),
                  extra.get("generated"), extra.get("collation"))
