"""Model monitors: one catalog row a monitor (its definition and definer), and one row a model
version it has computed windows for, holding the end of the last window done.

A run claims the windows it computes by a compare-and-set on that end (``advance``), which
SQLite applies atomically: two runs of one monitor never compute one window twice. A run that
fails after claiming hands its windows back (``advance`` the other way), so the next run
computes them.
"""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa

from indb.catalog.database import Database
from indb.registry.named import Definition, Definitions, definitions_table

_metadata = sa.MetaData()
_monitors = definitions_table("indb_monitors", _metadata)  # planner.monitors.CreateMonitor's
_done = sa.Table(
    "indb_monitor_windows", _metadata,
    sa.Column("name", sa.String, primary_key=True),
    sa.Column("version", sa.Integer, primary_key=True),  # the model version
    sa.Column("done", sa.Float, nullable=False),         # the end of the last window computed
)


@dataclass(frozen=True)
class MonitorInfo(Definition):
    """A monitor's row: ``definition`` holds the fields of planner.monitors.CreateMonitor."""


class MonitorStore(Definitions[MonitorInfo]):
    """The monitors of one database; replacing one forgets the windows it computed."""

    def __init__(self, db: Database) -> None:
        super().__init__(db, "monitor", _monitors, MonitorInfo, dependents=(_done,))

    def done(self, name: str) -> dict[int, float]:
        """Model version -> the end of the last window computed for it."""
        with self.engine.connect() as conn:
            rows = conn.execute(sa.select(_done.c.version, _done.c.done)
                                .where(_done.c.name == name)).all()
        return {int(version): float(end) for version, end in rows}

    def advance(self, name: str, version: int, last: float | None, end: float) -> bool:
        """Move a version's last window end from ``last`` (None: none yet) to ``end``; True for
        exactly one of any runs that read ``last``."""
        with self.engine.begin() as conn:
            if last is None:
                try:
                    conn.execute(_done.insert().values(name=name, version=version, done=end))
                except sa.exc.IntegrityError:
                    return False
                return True
            return bool(conn.execute(_done.update().where(
                _done.c.name == name, _done.c.version == version, _done.c.done == last)
                .values(done=end)).rowcount)

    def release(self, name: str, version: int, last: float | None, end: float) -> None:
        """Hand claimed windows back: undo ``advance(name, version, last, end)``."""
        with self.engine.begin() as conn:
            claimed = (_done.c.name == name, _done.c.version == version, _done.c.done == end)
            if last is None:
                conn.execute(_done.delete().where(*claimed))
            else:
                conn.execute(_done.update().where(*claimed).values(done=last))
