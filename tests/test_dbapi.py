"""PEP 249 compliance: Stuart Bishop's public DB-API 2.0 suite (``dbapi20``, from the
``dbapi-compliance`` package) run against ``indb.connect``, and what the suite leaves out."""

from __future__ import annotations

import shutil
import tempfile
import unittest

import dbapi20
import pytest

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


# -- what the suite does not check ------------------------------------------------------------

def test_executemany_is_one_statement_and_one_snapshot(tmp_path):
    with indb.connect(tmp_path / "db") as conn:
        cur = conn.cursor()
        cur.execute("CREATE TABLE t (i INTEGER NOT NULL, s VARCHAR)")
        cur.executemany("INSERT INTO t VALUES (?, ?)", [(i, f"s{i}") for i in range(200)])
        assert cur.rowcount == 200 and cur.description is None
        table = conn.table("t")._engine.db.load("t")[0]
        assert len(table.snapshots()) == 1  # was one snapshot a row: 200 of them, 804 files
        data_files = list((tmp_path / "db" / "warehouse").rglob("*.parquet"))
        assert 0 < len(data_files) <= conn.table("t").shards
        assert cur.execute("SELECT count(*), sum(i), max(s) FROM t").fetchone() == (200, 19900, "s99")


def test_executemany_writes_nothing_when_one_set_is_refused(tmp_path):
    with indb.connect(tmp_path / "db") as conn:
        cur = conn.cursor()
        cur.execute("CREATE TABLE t (i INTEGER NOT NULL)")
        with pytest.raises(indb.IndbError, match="NOT NULL"):
            cur.executemany("INSERT INTO t VALUES (?)", [(1,), (None,), (3,)])
        with pytest.raises(indb.SqlError, match="exactly one statement"):
            cur.executemany("INSERT INTO t VALUES (?); INSERT INTO t VALUES (?)", [(1,)])
        cur.executemany("INSERT INTO t VALUES (?)", [])
        assert cur.rowcount == 0
        assert cur.execute("SELECT count(*) FROM t").fetchone() == (0,)


def test_executemany_of_other_statements_runs_each_set_and_totals_the_rowcount(tmp_path):
    with indb.connect(tmp_path / "db") as conn:
        conn.execute("CREATE TABLE t AS SELECT range AS i FROM range(10)")
        cur = conn.cursor()
        cur.executemany("DELETE FROM t WHERE i < ?", [(3,), (5,)])
        assert cur.rowcount == 5  # 3, then 2 more
        cur.executemany("SELECT count(*) FROM t WHERE i >= ?", [(0,), (8,)])
        assert cur.fetchall() == [(2,)]  # a query returns the last set's rows


def test_indbs_own_errors_are_placed_under_the_standard_classes():
    placed = {indb.SqlError: indb.ProgrammingError, indb.CatalogError: indb.ProgrammingError,
              indb.SchemaError: indb.ProgrammingError, indb.OptionError: indb.ProgrammingError,
              indb.ModelError: indb.DatabaseError, indb.FunctionError: indb.DatabaseError,
              indb.ConflictError: indb.OperationalError, indb.RunError: indb.OperationalError,
              indb.DirectoryError: indb.OperationalError, indb.DataError: indb.DatabaseError}
    for kind, standard in placed.items():
        assert issubclass(kind, standard) and issubclass(kind, indb.Error)
