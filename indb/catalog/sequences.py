"""Sequences made with CREATE SEQUENCE: their definitions and values in the catalog file.

A sequence hands out numbers as PostgreSQL's does: ``last_value`` and ``is_called`` are its
state (the first ``nextval`` returns ``start``; ``setval(s, v)`` makes the next one ``v +
increment``, ``setval(s, v, false)`` makes it ``v``), between ``minimum`` and ``maximum``, wrapping
round with ``cycle``. Each call is one catalog transaction that takes the write lock before it
reads, so sessions and processes never get the same number; like PostgreSQL's, a number taken
by a statement that then fails is not given back (sequences are not transactional).

An identity column's numbering (``SERIAL``, ``GENERATED ... AS IDENTITY``) is not one of these:
it is the table's (``Database.allocate_rowids``), named ``<table>_<column>_seq`` where
PostgreSQL's functions reach it (``engine.sequences``).
"""

from __future__ import annotations

import dataclasses
import weakref
from dataclasses import dataclass

import numpy as np
import sqlalchemy as sa
import sqlglot
from sqlglot import exp

from indb.catalog.database import create_tables
from indb.catalog.names import DEFAULT_SCHEMA, POSTGRES_SCHEMA, qualified, split_name
from indb.errors import CatalogError, DataError, not_found

FUNCTION_NAMES = ("nextval", "currval", "setval", "lastval")  # PostgreSQL's, of a sequence

# the values a sequence of each type may hold (PostgreSQL's AS smallint | integer | bigint)
TYPE_BOUNDS = {"SMALLINT": (-2**15, 2**15 - 1), "INTEGER": (-2**31, 2**31 - 1),
               "BIGINT": (-2**63, 2**63 - 1)}

_metadata = sa.MetaData()
_definitions = sa.Table("indb_named_sequences", _metadata,
                        sa.Column("name", sa.String, primary_key=True),
                        sa.Column("data_type", sa.String, nullable=False),
                        sa.Column("start", sa.BigInteger, nullable=False),
                        sa.Column("increment", sa.BigInteger, nullable=False),
                        sa.Column("minimum", sa.BigInteger, nullable=False),
                        sa.Column("maximum", sa.BigInteger, nullable=False),
                        sa.Column("cycle", sa.Boolean, nullable=False),
                        sa.Column("owned_table", sa.String),
                        sa.Column("owned_column", sa.String),
                        sa.Column("last_value", sa.BigInteger, nullable=False),
                        sa.Column("is_called", sa.Boolean, nullable=False))
_ready: weakref.WeakSet[sa.Engine] = weakref.WeakSet()


@dataclass(frozen=True)
class SequenceInfo:
    """A sequence's definition and state; ``owned_by`` (table, column): dropped with it."""

    name: str
    data_type: str = "BIGINT"
    start: int = 1
    increment: int = 1
    minimum: int = 1
    maximum: int = 2**63 - 1
    cycle: bool = False
    owned_by: tuple[str, str] | None = None
    last_value: int = 1
    is_called: bool = False

    def checked(self) -> SequenceInfo:
        """This definition if it is consistent; else DataError saying what is wrong."""
        low, high = TYPE_BOUNDS[self.data_type]
        if self.increment == 0:
            raise DataError(f"sequence {self.name}: INCREMENT must not be zero")
        if not low <= self.minimum < self.maximum <= high:
            raise DataError(f"sequence {self.name}: MINVALUE ({self.minimum}) must be less than "
                            f"MAXVALUE ({self.maximum}), both within {self.data_type}")
        for what, value in (("START", self.start), ("RESTART", self.last_value)):
            if not self.minimum <= value <= self.maximum:
                raise DataError(f"sequence {self.name}: {what} value ({value}) cannot be outside "
                                f"MINVALUE ({self.minimum}) and MAXVALUE ({self.maximum})")
        return self


def defined(name: str, data_type: str = "BIGINT", increment: int = 1, *, start: int | None = None,
            minimum: int | None = None, maximum: int | None = None, cycle: bool = False,
            owned_by: tuple[str, str] | None = None) -> SequenceInfo:
    """A new sequence with PostgreSQL's defaults for what is not given: an ascending one runs
    from 1 (or MINVALUE) to its type's largest value, a descending one from -1 down."""
    low, high = TYPE_BOUNDS[data_type]
    minimum = minimum if minimum is not None else (1 if increment > 0 else low)
    maximum = maximum if maximum is not None else (high if increment > 0 else -1)
    first = start if start is not None else (minimum if increment > 0 else maximum)
    return SequenceInfo(name, data_type, first, increment, minimum, maximum, cycle, owned_by,
                        first, False).checked()


def _row(info: SequenceInfo) -> dict[str, object]:
    row = dataclasses.asdict(info)
    owned = row.pop("owned_by")
    row["owned_table"], row["owned_column"] = owned if owned else (None, None)
    return row


def _info(row: sa.Row) -> SequenceInfo:
    values = dict(row._mapping)
    table, column = values.pop("owned_table"), values.pop("owned_column")
    return SequenceInfo(**values, owned_by=(table, column) if table is not None else None)


def ensure_tables(engine: sa.Engine) -> None:
    """Create the table in a database made before sequences existed (once a process)."""
    if engine not in _ready:
        create_tables(engine, _metadata)
        _ready.add(engine)


def create(engine: sa.Engine, info: SequenceInfo) -> None:
    """Record a new sequence; CatalogError if the name is taken."""
    ensure_tables(engine)
    try:
        with engine.begin() as conn:
            conn.execute(_definitions.insert().values(**_row(info.checked())))
    except sa.exc.IntegrityError:
        raise CatalogError(f"sequence {info.name} already exists; SHOW SEQUENCES lists them") from None


def find(engine: sa.Engine, name: str) -> SequenceInfo | None:
    ensure_tables(engine)
    with engine.connect() as conn:
        row = conn.execute(sa.select(_definitions).where(_definitions.c.name == name)).first()
    return _info(row) if row is not None else None


def every(engine: sa.Engine) -> list[SequenceInfo]:
    """Every sequence, by name."""
    ensure_tables(engine)
    with engine.connect() as conn:
        return [_info(row) for row in conn.execute(sa.select(_definitions)
                                                   .order_by(_definitions.c.name))]


def drop(engine: sa.Engine, names: list[str]) -> None:
    ensure_tables(engine)
    with engine.begin() as conn:
        conn.execute(_definitions.delete().where(_definitions.c.name.in_(names)))


def replace(engine: sa.Engine, info: SequenceInfo) -> None:
    """Store a changed definition (ALTER SEQUENCE) in place of the one of its name."""
    with engine.begin() as conn:
        conn.execute(_definitions.update().where(_definitions.c.name == info.name)
                     .values(**_row(info.checked())))


def owned_by_table(engine: sa.Engine, table: str) -> list[SequenceInfo]:
    """The sequences owned by a column of ``table`` (dropped with it)."""
    return [s for s in every(engine) if s.owned_by is not None and s.owned_by[0] == table]


def table_renamed(conn: sa.Connection, old: str, new: str) -> None:
    """In the caller's transaction (``ensure_tables`` first): the sequences OWNED BY a column of
    table ``old`` are owned by ``new``'s."""
    conn.execute(_definitions.update().where(_definitions.c.owned_table == old)
                 .values(owned_table=new))


def next_values(engine: sa.Engine, name: str, count: int) -> np.ndarray:
    """Take the sequence's next ``count`` numbers, in one transaction (DataError past its end
    without CYCLE: none is taken then)."""
    with engine.begin() as conn:
        info = _locked(conn, name)
        values = _numbers(info, count)
        conn.execute(_definitions.update().where(_definitions.c.name == name).values(
            last_value=int(values[-1]), is_called=True))
    return values


def _locked(conn: sa.Connection, name: str) -> SequenceInfo:
    """A sequence's state, read in a transaction that holds the catalog's write lock first (a
    write of nothing), so no other session reads it before this one writes it back."""
    row = _definitions.c.name == name
    conn.execute(_definitions.update().where(row).values(is_called=_definitions.c.is_called))
    found = conn.execute(sa.select(_definitions).where(row)).first()
    if found is None:
        raise not_found("sequence", name)
    return _info(found)


def _numbers(info: SequenceInfo, count: int) -> np.ndarray:
    """The next ``count`` numbers of a sequence in its state."""
    step = info.increment
    first = info.last_value + step if info.is_called else info.last_value
    last = first + step * (count - 1)
    if info.minimum <= first <= info.maximum and info.minimum <= last <= info.maximum:
        return np.arange(count, dtype=np.int64) * step + first
    if not info.cycle:
        end = "maximum" if step > 0 else "minimum"
        raise DataError(f"nextval: reached {end} value of sequence {info.name} "
                        f"({info.maximum if step > 0 else info.minimum}); ALTER SEQUENCE "
                        f"{info.name} RESTART, or make it CYCLE")
    values, value = [], info.last_value if info.is_called else first - step
    for _ in range(count):  # wrapping round: rare, and one number at a time
        value += step
        if value > info.maximum:
            value = info.minimum
        elif value < info.minimum:
            value = info.maximum
        values.append(value)
    return np.array(values, dtype=np.int64)


def set_value(engine: sa.Engine, name: str, value: int, is_called: bool = True) -> None:
    """``setval``: the next number is ``value + increment`` (``is_called``), or ``value``."""
    with engine.begin() as conn:
        info = _locked(conn, name)
        if not info.minimum <= value <= info.maximum:
            raise DataError(f"setval: value {value} is out of bounds for sequence {name} "
                            f"({info.minimum}..{info.maximum})")
        conn.execute(_definitions.update().where(_definitions.c.name == name).values(
            last_value=value, is_called=is_called))


# -- names --------------------------------------------------------------------------------------

def sequence_name(text: str) -> str:
    """The catalog name of a sequence named as text (``'s'``, ``'public.s'``, ``'"S"'``), as
    PostgreSQL's regclass reads it: unquoted names folded to lower case; public is main."""
    try:
        table = exp.to_table(text, dialect="postgres")
    except (sqlglot.errors.ParseError, sqlglot.errors.TokenError, ValueError):
        raise DataError(f"{text!r} is not a sequence name") from None
    if not isinstance(table, exp.Table) or table.args.get("catalog") or not table.name:
        raise DataError(f"{text!r} is not a sequence name")
    schema = table.args.get("db")
    schema_name = (schema.name if schema.quoted else schema.name.lower()) if schema else DEFAULT_SCHEMA
    name = table.this.name if table.this.quoted else table.name.lower()
    return qualified(DEFAULT_SCHEMA if schema_name == POSTGRES_SCHEMA else schema_name, name)


def identity_sequence(table: str, column: str) -> str:
    """The catalog name of an identity column's sequence, as PostgreSQL names it
    (``pg_get_serial_sequence``): ``<table>_<column>_seq``, in the table's schema."""
    schema, name = split_name(table)
    return qualified(schema, f"{name}_{column}_seq")


def properties(info: SequenceInfo, start: int) -> exp.SequenceProperties:
    """CREATE SEQUENCE's options of a sequence as ``info`` defines it, starting at ``start``."""
    return exp.SequenceProperties(
        start=exp.Literal.number(start), increment=exp.Literal.number(info.increment),
        minvalue=exp.Literal.number(info.minimum), maxvalue=exp.Literal.number(info.maximum),
        options=[exp.var("CYCLE")] if info.cycle else None)


def unwrapped(node: exp.Expr) -> exp.Expr:
    """``'s'::regclass`` as ``'s'`` (the sequence's name: there is no regclass here)."""
    while isinstance(node, exp.Cast) and node.to.this == exp.DataType.Type.USERDEFINED:
        node = node.this
    return node


def default_sequence(default: str | None) -> str | None:
    """The sequence a column's DEFAULT numbers it from (``nextval('s')``, as the catalog keeps
    it: the sequence's catalog name), or None."""
    if default is None or "nextval" not in default.lower():
        return None
    tree = sqlglot.parse_one(default, read="duckdb")
    if isinstance(tree, exp.Anonymous) and tree.name.lower() == "nextval" and \
            len(tree.expressions) == 1 and isinstance(tree.expressions[0], exp.Literal):
        return tree.expressions[0].name
    return None
