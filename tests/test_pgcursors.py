"""``indb.server.pgcursors``: PostgreSQL's DECLARE, FETCH, MOVE, CLOSE, DEALLOCATE and LOCK read
into typed statements (carried out by the pg port: tests/test_pgwire.py, tests/test_pgcatalog.py),
and PREPARE's parts."""

from __future__ import annotations

import pytest

from indb.errors import NotSupportedError, SqlError
from indb.server.pgcursors import (Close, Deallocate, Declare, Fetch, Lock, Reset, prepared_text,
                                  read, statements)


@pytest.mark.parametrize("sql, statement", [
    ('DECLARE "c1" CURSOR WITHOUT HOLD FOR SELECT * FROM t WHERE x = $1',
     Declare("c1", "SELECT * FROM t WHERE x = $1", False)),
    ("declare C no scroll cursor with hold for select 1;", Declare("c", "select 1", True)),
    ("DECLARE c INSENSITIVE CURSOR FOR\n  SELECT 'for' FROM t", Declare("c", "SELECT 'for' FROM t", False)),
    ('FETCH FORWARD 10 FROM "c1"', Fetch("c1", 10, False)),
    ("FETCH ALL c", Fetch("c", None, False)),
    ("FETCH c", Fetch("c", 1, False)),
    ("fetch next in C", Fetch("c", 1, False)),
    ("FETCH FORWARD ALL FROM c;", Fetch("c", None, False)),
    ("FETCH 0 FROM c", Fetch("c", 0, False)),
    ("MOVE 5 IN c", Fetch("c", 5, True)),
    ("CLOSE ALL", Close(None)),
    ('CLOSE "X"', Close("X")),
    ("DEALLOCATE ALL", Deallocate(None)),
    ("DEALLOCATE PREPARE s", Deallocate("s")),
    ('deallocate "_pg3_0"', Deallocate("_pg3_0")),
    ("RESET ALL", Reset("RESET", path=True)), ("reset search_path", Reset("RESET", path=True)),
    ("RESET timezone", Reset("RESET")),
    ("UNLISTEN *", Reset("UNLISTEN")),
    ("DISCARD ALL", Reset("DISCARD ALL", True, temporary=True, path=True)),
    ("DISCARD TEMP", Reset("DISCARD", temporary=True)),
    ("DISCARD PLANS", Reset("DISCARD")),
    ("SELECT 1", None), ("  fetched_at", None), ("", None),
])
def test_statements_are_read(sql, statement):
    assert read(sql) == statement


@pytest.mark.parametrize("sql, error, match", [
    ("FETCH PRIOR FROM c", NotSupportedError, "forward only"),
    ("FETCH BACKWARD 2 FROM c", NotSupportedError, "forward only"),
    ("FETCH -1 FROM c", NotSupportedError, "forward only"),
    ("FETCH 2 3 c", SqlError, "FETCH \\[NEXT"),
    ("DECLARE c CURSOR", SqlError, "FOR query"),
    ("DECLARE c CURSOR FOR", SqlError, "FOR query"),
    ("DECLARE c BINARY CURSOR FOR SELECT 1", NotSupportedError, "BINARY"),
    ("DECLARE c CURSOR WITH FOR SELECT 1", SqlError, "WITH HOLD"),
    ("CLOSE", SqlError, "CLOSE name"),
    ("DEALLOCATE a b", SqlError, "DEALLOCATE"),
    ("DISCARD EVERYTHING", SqlError, "DISCARD ALL"),
    ("RESET", SqlError, "RESET name"),
    ("LOCK", SqlError, "LOCK \\[TABLE\\]"),
    ("LOCK t u", SqlError, "LOCK \\[TABLE\\]"),
    ("LOCK a.b.c.d", SqlError, "LOCK \\[TABLE\\]"),
    ("LOCK t IN FOO MODE", SqlError, "unknown lock mode FOO"),
    ("LOCK t IN MODE", SqlError, "unknown lock mode"),
])
def test_what_cannot_be_carried_out_is_refused_by_name(sql, error, match):
    with pytest.raises(error, match=match):
        read(sql)


@pytest.mark.parametrize("sql, pieces", [
    ("SELECT pg_advisory_unlock_all();\nCLOSE ALL;\nUNLISTEN *;\nRESET ALL;",  # asyncpg's reset
     ["SELECT pg_advisory_unlock_all()", "CLOSE ALL", "UNLISTEN *", "RESET ALL"]),
    ("SELECT 'a;b'; FETCH 2 FROM c", ["SELECT 'a;b'", "FETCH 2 FROM c"]),
    ("CREATE FUNCTION f LANGUAGE PYTHON AS $$\na; b\n$$; CLOSE ALL",
     ["CREATE FUNCTION f LANGUAGE PYTHON AS $$\na; b\n$$", "CLOSE ALL"]),
    ("BEGIN; INSERT INTO t VALUES (1); COMMIT", ["BEGIN", "INSERT INTO t VALUES (1)", "COMMIT"]),
    ("SET TIME ZONE 'UTC'; SELECT now()", ["SET TIME ZONE 'UTC'", "SELECT now()"]),
    ("SELECT 1; SELECT 2", None),  # none of these: the engine reads the text whole
    ("CLOSE ALL;", None), ("SELECT 1", None),
])
def test_a_text_of_several_statements_is_cut_where_one_is_the_session_s(sql, pieces):
    assert statements(sql) == pieces


@pytest.mark.parametrize("sql, tables", [
    ("LOCK TABLE public.t IN ACCESS SHARE MODE", ["public.t"]),  # pg_dump's
    ("lock t", ["t"]),
    ('LOCK TABLE ONLY "My T", s.u * IN SHARE ROW EXCLUSIVE MODE NOWAIT', ['"My T"', "s.u"]),
])
def test_lock_names_its_tables(sql, tables):
    statement = read(sql)
    assert isinstance(statement, Lock) and [t.sql() for t in statement.tables] == tables


@pytest.mark.parametrize("sql, parts", [
    ("PREPARE dumpEnumType(pg_catalog.oid) AS SELECT oid FROM pg_enum WHERE enumtypid = $1;",
     ("dumpenumtype", "SELECT oid FROM pg_enum WHERE enumtypid = $1")),
    ('PREPARE "Q" (int, text) AS SELECT $1', ("Q", "SELECT $1")),
    ("SELECT 1", None), ("PREPARE q", None),
])
def test_prepare_is_cut_into_its_name_and_statement(sql, parts):
    assert prepared_text(sql) == parts
