"""The types of a prepared statement's parameters, inferred where the client declared none, with
DuckDB answering the probes as the server's session does."""

from __future__ import annotations

import duckdb
import pytest

from indb.server.pgparams import BIGINT, TEXT, parameter_types

INT4, FLOAT8, TIMESTAMP, TIMESTAMPTZ, BOOL, DATE = 23, 701, 1114, 1184, 16, 1082


@pytest.fixture(scope="module")
def duck():
    conn = duckdb.connect()
    conn.execute("CREATE TABLE t (id BIGINT, name VARCHAR, price DOUBLE, n INTEGER, ts TIMESTAMP, "
                 "ok BOOLEAN, day DATE, zoned TIMESTAMPTZ, amount DECIMAL(10, 2), tags VARCHAR[])")
    conn.execute("CREATE TABLE u (id BIGINT, label VARCHAR)")
    yield conn
    conn.close()


@pytest.fixture
def probes(duck):
    """``type_of`` as the session's: the probe's column types, None if it fails; and the probes."""
    seen = []

    def type_of(probe):
        seen.append(probe.sql(dialect="duckdb"))
        try:
            return duck.sql(seen[-1]).arrow().schema.types
        except duckdb.Error:
            return None
    type_of.seen = seen
    return type_of


@pytest.mark.parametrize("sql, oids", [
    ("SELECT name FROM t WHERE id = $1", [BIGINT]),
    ("SELECT name FROM t WHERE $1 < price AND name LIKE $2", [FLOAT8, TEXT]),
    ("SELECT * FROM t WHERE n + $1 > 3 AND ok = $2 AND day >= $3", [INT4, BOOL, DATE]),
    ("SELECT * FROM t WHERE id IN ($1, $2) OR price BETWEEN $3 AND $4", [BIGINT, BIGINT, FLOAT8, FLOAT8]),
    ("SELECT * FROM t AS x JOIN u ON x.id = u.id WHERE u.label = $1 AND x.ts < $2", [TEXT, TIMESTAMP]),
    ("SELECT * FROM t WHERE zoned > $1", [TIMESTAMPTZ]),
    ("SELECT * FROM t WHERE amount = $1 OR ts - CAST($2 AS INTERVAL) > ts", [1700, 1186]),
    ("SELECT id FROM t ORDER BY id LIMIT $1 OFFSET $2", [BIGINT, BIGINT]),
    ("SELECT $1::INTEGER + 1, $2::DOUBLE", [INT4, FLOAT8]),
    ("INSERT INTO t (price, id) VALUES ($1, $2)", [FLOAT8, BIGINT]),
    ("INSERT INTO u VALUES ($1, $2)", [BIGINT, TEXT]),
    ("UPDATE t SET name = $2 WHERE id = $1", [BIGINT, TEXT]),
    ("DELETE FROM t WHERE ts < $1", [TIMESTAMP]),
    ("WITH c AS (SELECT id, n FROM t) SELECT * FROM c WHERE n = $1", [INT4]),
    ("SELECT * FROM t WHERE id = (SELECT max(id) FROM u WHERE label = $1)", [TEXT]),
    # an array of the other side's type: bigint[], text[], float8[], integer[]
    ("SELECT * FROM t WHERE id = ANY($1) AND name <> ALL($2)", [1016, 1009]),
    ("SELECT * FROM t WHERE price = ANY ($1) OR n = SOME($2)", [1022, 1007]),
    ("SELECT * FROM t WHERE tags = $1", [1009]),  # a list column's: its array type
])
def test_a_parameter_takes_the_type_of_what_it_meets(sql, oids, probes):
    assert parameter_types(sql, [], probes) == oids


@pytest.mark.parametrize("sql", [
    "SELECT $1",                                 # nothing says: text, as PostgreSQL's unknown
    "SELECT * FROM t WHERE $1 = $2",             # two parameters side by side
    "SELECT * FROM nowhere WHERE id = $1",       # the probe fails
])
def test_a_parameter_nothing_types_is_text(sql, probes):
    assert set(parameter_types(sql, [], probes)) == {TEXT}


def test_declared_types_are_kept_and_only_the_others_probed(probes):
    assert parameter_types("SELECT * FROM t WHERE id = $1 AND price = $2", [INT4, 0], probes) == \
        [INT4, FLOAT8]
    assert probes.seen == ["SELECT price FROM t LIMIT 0"]  # one probe, the undeclared one's
    assert parameter_types("SELECT * FROM t WHERE id = $1", [INT4], probes) == [INT4]
    assert len(probes.seen) == 1


def test_parameters_of_one_select_share_one_probe(probes):
    parameter_types("SELECT * FROM t WHERE id = $1 AND name = $2 AND ts < $3", [], probes)
    assert probes.seen == ["SELECT id, name, ts FROM t LIMIT 0"]


def test_the_count_is_the_statements_or_the_clients(probes):
    assert parameter_types("SELECT * FROM t WHERE id = $2", [], probes) == [TEXT, BIGINT]
    assert parameter_types("SELECT 1", [INT4, 0], probes) == [INT4, TEXT]
    assert parameter_types("SELECT FROM WHERE (", [], probes) == []  # not SQL: nothing to say
