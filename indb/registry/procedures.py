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
from dataclasses import dataclass

import sqlalchemy as sa

from indb.catalog.database import Database
from indb.registry.named import Named

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


class ProcedureStore(Named[ProcedureInfo]):
    """The procedures of one database."""

    def __init__(self, db: Database) -> None:
        super().__init__(db, "procedure", _procedures, _info)

    def create(self, info: ProcedureInfo, *, replace: bool) -> ProcedureInfo:
        """Record a procedure (a new version of it with ``replace``), its schedule unclaimed."""
        info = ProcedureInfo(**{**info.__dict__, "version": uuid.uuid4().hex, "last_due": None})
        self.record({**info.__dict__, "statements": json.dumps(info.statements)}, replace=replace)
        return info

    def scheduled(self) -> list[ProcedureInfo]:
        """The procedures that have a schedule."""
        return [p for p in self.all() if p.every is not None]

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
