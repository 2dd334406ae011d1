"""indb.registry.named: one kind's definitions by name, and the rows of a name in its dependents
that go with it when it is replaced or dropped (what monitors, subscriptions and procedures
share)."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

import indb
from indb.errors import CatalogError
from indb.registry.named import Named

_metadata = sa.MetaData()
_widgets = sa.Table("test_widgets", _metadata, sa.Column("name", sa.String, primary_key=True),
                    sa.Column("size", sa.Integer, nullable=False))
_parts = sa.Table("test_widget_parts", _metadata, sa.Column("name", sa.String, primary_key=True),
                  sa.Column("part", sa.String, primary_key=True))


@pytest.fixture
def widgets(fresh):
    """Widgets under a kind ``errors.not_found`` knows (its message names the SHOW statement)."""
    return Named(fresh._engine.db, "monitor", _widgets, lambda row: dict(row), dependents=(_parts,))


def parts(store: Named) -> list[tuple[str, str]]:
    with store.engine.connect() as conn:
        return [tuple(r) for r in conn.execute(sa.select(_parts).order_by(_parts.c.part)).all()]


def add_part(store: Named, name: str, part: str) -> None:
    with store.engine.begin() as conn:
        conn.execute(_parts.insert().values(name=name, part=part))


def test_a_definition_is_found_listed_replaced_and_dropped_with_its_dependents(widgets):
    widgets.record({"name": "b", "size": 2}, replace=False)
    widgets.record({"name": "a", "size": 1}, replace=False)
    add_part(widgets, "a", "bolt")
    add_part(widgets, "b", "nut")
    assert widgets.get("a") == {"name": "a", "size": 1} and widgets.find("c") is None
    assert [w["name"] for w in widgets.all()] == ["a", "b"]
    widgets.record({"name": "a", "size": 3}, replace=True)  # its parts were the old one's
    assert widgets.get("a")["size"] == 3 and parts(widgets) == [("b", "nut")]
    assert widgets.drop("b") and not widgets.drop("b")
    assert parts(widgets) == [] and [w["name"] for w in widgets.all()] == ["a"]


def test_an_existing_name_and_a_missing_one_say_what_to_do(widgets):
    widgets.record({"name": "a", "size": 1}, replace=False)
    with pytest.raises(CatalogError, match="monitor a already exists; use CREATE OR REPLACE "
                                           "MONITOR, or DROP MONITOR a first"):
        widgets.record({"name": "a", "size": 2}, replace=False)
    assert widgets.get("a")["size"] == 1
    with pytest.raises(indb.ProgrammingError, match="monitor z does not exist; SHOW MONITORS"):
        widgets.get("z")
