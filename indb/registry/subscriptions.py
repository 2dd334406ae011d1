"""Subscriptions: one catalog row a subscription (its definition and definer), and one row of
figures a subscription that runs, written by the tickerplant that runs it (at most every
``indb.stream.subscriptions.REPORT_SECONDS`` and when a batch fails), read by SHOW SUBSCRIPTIONS
from any process.
"""

from __future__ import annotations

import json
import weakref
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from indb.catalog.database import Database
from indb.errors import CatalogError, not_found

_metadata = sa.MetaData()
_subscriptions = sa.Table(
    "indb_subscriptions", _metadata,
    sa.Column("name", sa.String, primary_key=True),
    sa.Column("definition", sa.Text, nullable=False),    # the CREATE's plan, as JSON
    sa.Column("ddl", sa.Text, nullable=False),
    sa.Column("definer", sa.String, nullable=False),     # whose rights it runs with
    sa.Column("created", sa.Float, nullable=False),
)
_figures = sa.Table(
    "indb_subscription_figures", _metadata,
    sa.Column("name", sa.String, primary_key=True),
    sa.Column("created", sa.Float, nullable=False),      # of the definition they are for
    sa.Column("figures", sa.Text, nullable=False),       # JSON: indb.stream.subscriptions.Figures
)
_ready: weakref.WeakSet[sa.Engine] = weakref.WeakSet()  # engines whose file has the tables


@dataclass(frozen=True)
class SubscriptionInfo:
    name: str
    definition: dict[str, Any]      # the fields of planner.subscriptions.CreateSubscription
    ddl: str
    definer: str
    created: float


class SubscriptionStore:
    """The subscriptions of one database."""

    def __init__(self, db: Database) -> None:
        self.engine = db.engine
        if self.engine not in _ready:
            _metadata.create_all(self.engine)
            _ready.add(self.engine)

    def create(self, info: SubscriptionInfo, *, replace: bool) -> None:
        values = {**info.__dict__, "definition": json.dumps(info.definition)}
        with self.engine.begin() as conn:
            exists = conn.execute(sa.select(_subscriptions.c.name)
                                  .where(_subscriptions.c.name == info.name)).first()
            if exists and not replace:
                raise CatalogError(f"subscription {info.name} already exists; use CREATE OR "
                                   f"REPLACE SUBSCRIPTION, or DROP SUBSCRIPTION {info.name} first")
            conn.execute(_subscriptions.delete().where(_subscriptions.c.name == info.name))
            conn.execute(_figures.delete().where(_figures.c.name == info.name))
            conn.execute(_subscriptions.insert().values(**values))

    def find(self, name: str) -> SubscriptionInfo | None:
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(_subscriptions)
                               .where(_subscriptions.c.name == name)).mappings().first()
        return _info(row) if row else None

    def get(self, name: str) -> SubscriptionInfo:
        found = self.find(name)
        if found is None:
            raise not_found("subscription", name)
        return found

    def all(self) -> list[SubscriptionInfo]:
        with self.engine.connect() as conn:
            rows = conn.execute(sa.select(_subscriptions)
                                .order_by(_subscriptions.c.name)).mappings().all()
        return [_info(r) for r in rows]

    def drop(self, name: str) -> bool:
        """Forget a subscription and its figures; whether there was one."""
        with self.engine.begin() as conn:
            conn.execute(_figures.delete().where(_figures.c.name == name))
            return bool(conn.execute(_subscriptions.delete()
                                     .where(_subscriptions.c.name == name)).rowcount)

    def report(self, name: str, created: float, figures: dict[str, Any]) -> None:
        """Record a running subscription's figures (those of a dropped or replaced one are not)."""
        with self.engine.begin() as conn:
            current = conn.execute(sa.select(_subscriptions.c.created)
                                   .where(_subscriptions.c.name == name)).scalar()
            if current != created:
                return
            conn.execute(_figures.delete().where(_figures.c.name == name))
            conn.execute(_figures.insert().values(name=name, created=created,
                                                  figures=json.dumps(figures)))

    def figures(self, name: str) -> dict[str, Any] | None:
        with self.engine.connect() as conn:
            text = conn.execute(sa.select(_figures.c.figures)
                                .where(_figures.c.name == name)).scalar()
        return json.loads(text) if text else None


def _info(row: sa.RowMapping) -> SubscriptionInfo:
    return SubscriptionInfo(**{**row, "definition": json.loads(row["definition"])})
