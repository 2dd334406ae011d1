"""SQL procedures: one catalog row a procedure, with its statements, definer and schedule.

The row also holds ``last_due``, the latest due time a scheduler has claimed. A scheduler claims
a due time by a compare-and-set on it (``claim``): one UPDATE that succeeds only if the row still
has the ``last_due`` and ``version`` the scheduler read, which SQLite applies atomically. So two
servers of one database, or a server restarted mid-tick, never run one due time twice; and since
the claim is made before the run, a run that a crash cuts short is not run again (its run record
says it was abandoned). ``version`` changes when the procedure is replaced, which restarts its
schedule.
"""

from __future__ import annotations

import json
import time
import uuid
import weakref
from dataclasses import dataclass

import sqlalchemy as sa

from indb.catalog.database import Database
from indb.errors import CatalogError, not_found

_metadata = sa.MetaData()
_procedures = sa.Table(
    "indb_procedures", _metadata,
    sa.Column("name", sa.String, primary_key=True),
    sa.Column("version", sa.String, nullable=False),     # new at each CREATE [OR REPLACE]
    sa.Column("statements", sa.Text, nullable=False),    # JSON list of the body's statements
    sa.Column("ddl", sa.Text, nullable=False),
    sa.Column("definer", sa.String, nullable=False),     # whose rights the body runs with
    sa.Column("created", sa.Float, nullable=False),
    sa.Column("every", sa.Float),                        # seconds; NULL: on demand only
    sa.Column("first_due", sa.Float),
    sa.Column("stop", sa.Float),                         # no due time after it; NULL: never
    sa.Column("last_due", sa.Float),                     # the last due time claimed
)
_ready: weakref.WeakSet[sa.Engine] = weakref.WeakSet()  # engines whose file has the table


@dataclass(frozen=True)
class ProcedureInfo:
    name: str
    version: str
    statements: tuple[str, ...]
    ddl: str
    definer: str
    created: float
    every: float | None = None
    first_due: float | None = None
    stop: float | None = None
    last_due: float | None = None


class ProcedureStore:
    """The procedures of one database."""

    def __init__(self, db: Database) -> None:
        self.engine = db.engine
        if self.engine not in _ready:
            _metadata.create_all(self.engine)
            _ready.add(self.engine)

    def create(self, info: ProcedureInfo, *, replace: bool) -> ProcedureInfo:
        """Record a procedure (a new version of it with ``replace``), its schedule unclaimed."""
        info = ProcedureInfo(**{**info.__dict__, "version": uuid.uuid4().hex, "last_due": None})
        values = {**info.__dict__, "statements": json.dumps(info.statements)}
        with self.engine.begin() as conn:
            exists = conn.execute(sa.select(_procedures.c.name)
                                  .where(_procedures.c.name == info.name)).first()
            if exists and not replace:
                raise CatalogError(f"procedure {info.name} already exists; use CREATE OR REPLACE "
                                   f"PROCEDURE, or DROP PROCEDURE {info.name} first")
            if exists:
                conn.execute(_procedures.update().where(_procedures.c.name == info.name)
                             .values(**values))
            else:
                conn.execute(_procedures.insert().values(**values))
        return info

    def find(self, name: str) -> ProcedureInfo | None:
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(_procedures).where(_procedures.c.name == name)).mappings().first()
        return _info(row) if row else None

    def get(self, name: str) -> ProcedureInfo:
        found = self.find(name)
        if found is None:
            raise not_found("procedure", name)
        return found

    def all(self) -> list[ProcedureInfo]:
        with self.engine.connect() as conn:
            rows = conn.execute(sa.select(_procedures).order_by(_procedures.c.name)).mappings().all()
        return [_info(r) for r in rows]

    def scheduled(self) -> list[ProcedureInfo]:
        """The procedures that have a schedule."""
        return [p for p in self.all() if p.every is not None]

    def drop(self, name: str) -> bool:
        """Forget a procedure; whether there was one."""
        with self.engine.begin() as conn:
            return bool(conn.execute(_procedures.delete().where(_procedures.c.name == name)).rowcount)

    def claim(self, name: str, version: str, last: float | None, due: float) -> bool:
        """Claim ``due`` for a run if the procedure is still at ``version`` and its last claimed
        due time still ``last``: True for exactly one of any claimers of one due time."""
        with self.engine.begin() as conn:
            claimed = conn.execute(_procedures.update().where(
                _procedures.c.name == name, _procedures.c.version == version,
                _procedures.c.last_due.is_(None) if last is None else _procedures.c.last_due == last)
                .values(last_due=due)).rowcount
        return bool(claimed)


def _info(row: sa.RowMapping) -> ProcedureInfo:
    return ProcedureInfo(**{**row, "statements": tuple(json.loads(row["statements"]))})


def when(epoch: float | None) -> str | None:
    """A time as procedures show it."""
    return None if epoch is None else time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(epoch))
