"""PostgreSQL's functions that DuckDB lacks (``indb.parser.pgforms``), each answering as a
PostgreSQL server does; DuckDB's own functions of the same names keep their meaning."""

from __future__ import annotations

import itertools
import json

import pytest

import indb
from indb.errors import SqlError

# (x, low, high, count): inside, below, at and above the bounds, both ways round
BUCKETS = list(itertools.product([-1, 0, 2.5, 5.35, 9.99, 10, 11], [(0.024, 10.06), (0, 10), (10, 0)], [1, 5]))


@pytest.fixture(scope="module")
def conn(tmp_path_factory):
    with indb.connect(tmp_path_factory.mktemp("pgforms") / "db") as conn:
        yield conn


def test_width_bucket_is_postgresql_s(conn):
    from stores import postgres_server
    psycopg = pytest.importorskip("psycopg")
    calls = [f"width_bucket({x}, {low}, {high}, {count})" for x, (low, high), count in BUCKETS]
    query = "SELECT " + ", ".join(calls)
    with postgres_server() as url, psycopg.connect(url, autocommit=True) as pg:
        expected = pg.execute(query).fetchone()
    assert conn.sql(query).fetchone() == expected
    assert conn.sql("SELECT width_bucket(NULL::DOUBLE, 0, 10, 5)").fetchone() == (None,)
    with pytest.raises(indb.DatabaseError, match="lower bound cannot equal upper bound"):
        conn.sql("SELECT width_bucket(5, 1, 1, 3)").fetchall()


def test_encode_and_decode_take_postgresql_s_formats_and_duckdb_s_one_argument(conn):
    row = conn.sql("SELECT encode('abc'::BLOB, 'base64'), encode('\\xAB\\x01'::BLOB, 'hex'), "
                   "decode('YWJj', 'base64'), decode('ab01', 'HEX'), encode('é'), decode('\\xC3\\xA9'::BLOB)"
                   ).fetchone()
    assert row == ("YWJj", "ab01", b"abc", b"\xab\x01", b"\xc3\xa9", "é")  # hex in lower case
    # DuckDB's decode(blob, how), and PostgreSQL's formats it lacks, are DuckDB's to answer
    assert conn.sql("SELECT decode('a\\xA0'::BLOB, 'ignore')").fetchone() == ("a",)
    with pytest.raises(SqlError, match="encode"):
        conn.sql("SELECT encode('abc'::BLOB, 'escape')")


def test_btrim_every_and_json_builders(conn):
    assert conn.sql("SELECT btrim('xxaxx', 'x'), btrim('  a  '), "
                    "every(x > 0), every(x > 1) FROM (VALUES (1), (2)) v(x)").fetchone() == ("a", "a", True, False)
    built, array, ordered, length = conn.sql(
        "SELECT json_build_object('a', 1, 'b', 'x'), jsonb_build_array(1, 'a'), "
        "json_agg(x ORDER BY x DESC), jsonb_array_length('[1, 2]') FROM (VALUES (1), (2)) v(x)").fetchone()
    assert (json.loads(built), json.loads(array), json.loads(ordered), length) == \
        ({"a": 1, "b": "x"}, [1, "a"], [2, 1], 2)
    assert conn.sql("SELECT jsonb_agg(x) FROM (VALUES (1)) v(x) WHERE x > 5").fetchone() == (None,)


def test_regexp_match_gives_the_first_match_s_groups(conn):
    row = conn.sql("SELECT regexp_match('foobarbequebaz', 'ba.'), regexp_match('foobarbequebaz', '(bar)(beque)'), "
                   "regexp_match('abc', 'x'), regexp_match('ABC', 'b', 'i')").fetchone()
    assert row == (["bar"], ["bar", "beque"], None, ["B"])  # as PostgreSQL 15 answers


def test_quote_ident_literal_and_nullable(conn):
    row = conn.sql("SELECT quote_ident('a b'), quote_ident('abc'), quote_ident('Abc'), quote_ident('a\"b'), "
                   "quote_literal('x''y'), quote_literal(42), quote_literal(E'a\\\\b'), "
                   "quote_nullable(NULL::VARCHAR), quote_nullable('z')").fetchone()
    assert row == ('"a b"', "abc", '"Abc"', '"a""b"', "'x''y'", "'42'", "E'a\\\\b'", "NULL", "'z'")
