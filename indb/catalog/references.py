"""Which tables may reference which: the catalog's index of foreign keys (``indb_references``),
read by every write that removes a table's rows to find the tables whose rows could point at
them.

A foreign key itself is its table's (``TableInfo.foreign_keys``, in the Iceberg table's
properties, committed with the table). A row here is written before the key is and removed after
it is gone, so it may outlive its key (a process killed in between) but a key never exists
without its row: readers load the referencing table and go by its keys, skipping rows whose
table or key is no longer there.
"""

from __future__ import annotations

import weakref

import sqlalchemy as sa

from indb.catalog.database import create_tables

_metadata = sa.MetaData()
_references = sa.Table("indb_references", _metadata,
                       sa.Column("child", sa.String, primary_key=True),  # the referencing table
                       sa.Column("name", sa.String, primary_key=True),  # its foreign key's name
                       sa.Column("parent", sa.String, nullable=False))  # the referenced table
_ready: weakref.WeakSet[sa.Engine] = weakref.WeakSet()  # engines whose file has the table


def referencing(engine: sa.Engine, parent: str) -> list[str]:
    """The tables that may have a foreign key to ``parent`` (itself included), in name order."""
    ensure_tables(engine)
    with engine.connect() as conn:
        return list(conn.execute(sa.select(_references.c.child).where(
            _references.c.parent == parent).distinct().order_by(_references.c.child)).scalars())


def record(engine: sa.Engine, child: str, name: str, parent: str) -> None:
    """Note that ``child``'s foreign key ``name`` references ``parent`` (before the key is
    committed; again: the same row)."""
    ensure_tables(engine)
    with engine.begin() as conn:
        conn.execute(_references.delete().where((_references.c.child == child)
                                                & (_references.c.name == name)))
        conn.execute(_references.insert().values(child=child, name=name, parent=parent))


def forget(engine: sa.Engine, child: str, name: str | None = None) -> None:
    """Forget ``child``'s foreign key ``name`` (None: all of its keys), once it is gone."""
    ensure_tables(engine)
    condition = _references.c.child == child
    with engine.begin() as conn:
        conn.execute(_references.delete().where(
            condition if name is None else condition & (_references.c.name == name)))


def renamed(conn: sa.Connection, old: str, new: str) -> None:
    """In a table's rename (``Database.rename_table``'s transaction; ``ensure_tables`` first):
    its keys' rows follow it. A table a key references is not renamed (``engine.references``),
    so only its own keys' rows change."""
    conn.execute(_references.update().where(_references.c.child == old).values(child=new))


def ensure_tables(engine: sa.Engine) -> None:
    """Create ``indb_references`` in a database made before it (once a process)."""
    if engine not in _ready:
        create_tables(engine, _metadata)
        _ready.add(engine)
