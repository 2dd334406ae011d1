"""Subscriptions: one catalog row a subscription (its definition and definer), and one row of
figures a subscription that runs, written by the tickerplant that runs it (at most every
``indb.stream.subscriptions.REPORT_SECONDS`` and when a batch fails), read by SHOW SUBSCRIPTIONS
from any process.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from indb.catalog.database import Database
from indb.registry.named import Definition, Definitions, definitions_table

_metadata = sa.MetaData()
_subscriptions = definitions_table("indb_subscriptions", _metadata)  # CreateSubscription's
_figures = sa.Table(
    "indb_subscription_figures", _metadata,
    sa.Column("name", sa.String, primary_key=True),
    sa.Column("created", sa.Float, nullable=False),      # of the definition they are for
    sa.Column("figures", sa.Text, nullable=False),       # JSON: indb.stream.subscriptions.Figures
)


@dataclass(frozen=True)
class SubscriptionInfo(Definition):
    """A subscription's row: ``definition`` holds the fields of
    planner.subscriptions.CreateSubscription."""


class SubscriptionStore(Definitions[SubscriptionInfo]):
    """The subscriptions of one database; replacing one forgets its figures."""

    def __init__(self, db: Database) -> None:
        super().__init__(db, "subscription", _subscriptions, SubscriptionInfo, dependents=(_figures,))

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
