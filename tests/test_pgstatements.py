"""What the PostgreSQL server reads from a statement before running it, without a server."""

from __future__ import annotations

import pyarrow as pa
import pytest

from indb.parser import parse
from indb.result import Result
from indb.server.pgstatements import (no_op, probe, read_only, returning_shape,
                                      startup_search_path, tag, transaction_tag, as_postgres_reads)


def test_a_write_s_tag_counts_its_rows_unless_its_rows_are_sent():
    insert, = parse("INSERT INTO t VALUES (1)")
    assert tag(insert, Result(rowcount=3)) == "INSERT 0 3"
    assert tag(insert, Result(rowcount=3), counted=False) == "INSERT 0"
    update, = parse("UPDATE t SET a = 1")
    assert tag(update, Result(rowcount=2)) == "UPDATE 2"
    assert tag(update, Result(rowcount=2), counted=False) == "UPDATE"


@pytest.mark.parametrize("sql, shape", [
    ("INSERT INTO s.a AS t (id) VALUES (1) RETURNING t.id, upper(v) AS u",
     'SELECT t.id, UPPER(v) AS u FROM s.a AS "t" LIMIT 0'),
    ("DELETE FROM a WHERE id = 1 RETURNING *", 'SELECT * FROM a AS "a" LIMIT 0'),
    ("UPDATE a SET v = 1 RETURNING id", 'SELECT id FROM a AS "a" LIMIT 0'),
    ("MERGE INTO a AS t USING b ON t.id = b.id WHEN MATCHED THEN DELETE RETURNING merge_action(), t.id",
     'SELECT CAST(NULL AS TEXT), t.id FROM a AS "t" LIMIT 0'),
    ("INSERT INTO a VALUES (1)", None),
    ("SELECT 1", None),
    ("SELECT 1; DELETE FROM a RETURNING id", None),
])
def test_returning_is_described_by_its_list_over_no_rows(sql, shape):
    assert returning_shape(sql) == shape


def test_reads_probes_and_no_ops():
    assert read_only("SELECT * FROM t") and not read_only("DELETE FROM t RETURNING *")
    assert probe(parse("SHOW server_version")) is not None and probe(parse("SELECT 1")) is None
    assert no_op(parse("BEGIN")) is None and no_op(parse("SELECT 1")) is None  # (the engine's)
    assert transaction_tag(parse("BEGIN ISOLATION LEVEL SERIALIZABLE READ ONLY")) == "BEGIN"
    assert [transaction_tag(parse(s)) for s in ("END", "ABORT", "ROLLBACK TO s", "SAVEPOINT s",
                                               "RELEASE s", "SELECT 1")] == [
        "COMMIT", "ROLLBACK", "ROLLBACK", "SAVEPOINT", "RELEASE", None]
    for accepted in ("SET TIME ZONE 'UTC'", "SET NAMES 'UTF8'", "SET statement_timeout = 0",
                     "SET SESSION CHARACTERISTICS AS TRANSACTION ISOLATION LEVEL READ COMMITTED"):
        assert no_op(parse(accepted)) == "SET", accepted
    # the session's user is who signed in: these are refused (by the engine), not ignored
    assert no_op(parse("SET ROLE alice")) is None
    assert no_op(parse("SET SESSION AUTHORIZATION alice")) is None


def test_array_literals_are_rewritten_only_where_there_are_some():
    def no_table(probe):  # the types of a probe's columns: here, of no table
        return None

    assert as_postgres_reads(parse("SELECT '[1, 2]'::INT[], '{1}' AS s"), no_table) is None  # as sent
    assert as_postgres_reads(parse("SELECT 1; SELECT '{1,NULL}'::INT[] AS a"), no_table) == \
        "SELECT 1;\nSELECT CAST(['1', NULL] AS INT[]) AS a"


def test_a_string_in_array_form_is_an_array_where_a_list_column_takes_it():
    columns = {"xs": pa.list_(pa.int64()), "s": pa.string()}

    def type_of(probe):  # the probe's columns' types, as the session's DuckDB would answer
        return [columns[e.name] for e in probe.expressions]

    assert as_postgres_reads(parse("INSERT INTO t (s, xs) VALUES ('{a}', '{1,2}')"), type_of) == \
        "INSERT INTO t (s, xs) VALUES ('{a}', CAST(['1', '2'] AS BIGINT[]))"
    assert as_postgres_reads(parse("UPDATE t SET s = '{b}' WHERE xs = '{3}'"), type_of) == \
        "UPDATE t SET s = '{b}' WHERE xs = CAST(['3'] AS BIGINT[])"
    assert as_postgres_reads(parse("UPDATE t SET s = '{b}'"), type_of) is None  # a string column's


def test_a_descending_order_puts_nulls_first_as_postgresql_s():
    def no_table(probe):
        return None

    assert as_postgres_reads(parse("SELECT a FROM t ORDER BY a"), no_table) is None  # as sent
    assert as_postgres_reads(parse(
        "SELECT a, row_number() OVER (ORDER BY b DESC), string_agg(c, ',' ORDER BY c DESC) "
        "FROM t ORDER BY a DESC, b DESC NULLS LAST, c DESC NULLS FIRST"), no_table) == (
        "SELECT a, ROW_NUMBER() OVER (ORDER BY b DESC NULLS FIRST), "
        "LISTAGG(c, ',' ORDER BY c DESC NULLS FIRST) "
        "FROM t ORDER BY a DESC NULLS FIRST, b DESC NULLS LAST, c DESC NULLS FIRST")


@pytest.mark.parametrize("params, path", [
    ({"options": "-c search_path=lab"}, "lab"), ({"options": "-csearch_path=lab,public"}, "lab,public"),
    ({"options": "--search_path=lab -c statement_timeout=5"}, "lab"),
    ({"options": "-c search-path=my\\ schema"}, "my schema"),  # libpq's escaped space
    ({"search_path": "a, b"}, "a, b"), ({"options": "-c statement_timeout=5"}, None), ({}, None)])
def test_a_client_s_startup_options_may_set_its_search_path(params, path):
    assert startup_search_path(params) == path
