"""PEP 249 compliance: Stuart Bishop's public DB-API 2.0 suite (``dbapi20``, from the
``dbapi-compliance`` package) run against ``indb.connect``, and what the suite leaves out."""

from __future__ import annotations

import shutil
import tempfile
import unittest

import dbapi20

import indb


class TestDBAPI20(dbapi20.DatabaseAPI20Test):
    """The whole suite on a fresh database directory a test."""

    driver = indb
    connect_args: tuple = ()

    def setUp(self) -> None:
        self.directory = tempfile.mkdtemp(prefix="indb-dbapi20-")
        self.connect_args = (f"{self.directory}/db",)

    def tearDown(self) -> None:
        super().tearDown()  # drops the suite's tables through a connection of its own
        shutil.rmtree(self.directory, ignore_errors=True)

    # the two tests the suite tells drivers to override: it cannot know what they should check
    @unittest.skip("optional: nextset needs stored procedures, which indb does not have")
    def test_nextset(self) -> None: ...

    @unittest.skip("optional: setoutputsize is driver-defined; indb's is a no-op (PEP 249 allows it)")
    def test_setoutputsize(self) -> None: ...
