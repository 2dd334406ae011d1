"""Shared fixtures: one database for the session, fresh ones where a test needs its own."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest

import indb

_names = itertools.count()


@pytest.fixture(scope="session")
def conn(tmp_path_factory: pytest.TempPathFactory) -> indb.Connection:
    """The session's database; tests create tables under names from ``table_name``."""
    connection = indb.connect(tmp_path_factory.mktemp("session") / "db", workers=2, threads_per_worker=2)
    yield connection
    connection.close()


@pytest.fixture
def table_name() -> str:
    """A table name no other test uses."""
    return f"t{next(_names)}"


@pytest.fixture
def fresh(tmp_path: Path) -> indb.Connection:
    """A database of the test's own, for tests about the whole catalog."""
    connection = indb.connect(tmp_path / "db")
    yield connection
    connection.close()
