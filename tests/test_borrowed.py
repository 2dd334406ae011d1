"""Functions of Snowflake, Kinetica and Oracle that DuckDB lacks (``indb.parser.borrowed``, and
``decode`` with three or more arguments in ``indb.parser.pgforms``), as those engines answer."""

from __future__ import annotations

import datetime

import pytest

import indb
from indb.errors import SqlError


def test_snowflake_s_and_kinetica_s_functions_answer_as_theirs(tmp_path):
    with indb.connect(tmp_path / "db") as conn:
        conn.sql("CREATE TABLE t (k INT, v INT)")
        conn.sql("INSERT INTO t VALUES (1, 0), (2, NULL), (3, 5)")
        got = conn.sql("SELECT k, iff(v > 0, 'pos', 'other'), zeroifnull(v), nullifzero(v), div0(10, v), "
                       "decode(k, 1, 'one', 2, 'two', 'many'), decode(v, NULL, 'none', 0, 'zero') "
                       "FROM t ORDER BY k").fetchall()
        assert got == [(1, "other", 0, None, 0.0, "one", "zero"), (2, "other", 0, None, None, "two", "none"),
                       (3, "pos", 5, 5, 2.0, "many", None)]  # decode: NULL matches NULL, as Oracle's
        ts = datetime.datetime(2024, 1, 31, 10, 0)
        row = conn.sql("SELECT dateadd(month, 1, TIMESTAMP '2024-01-31 10:00'), dateadd('day', -1, DATE '2024-03-01'), "
                       "timestampadd(minute, 90, TIMESTAMP '2024-01-31 10:00'), curdate() = current_date").fetchone()
        assert row == (datetime.datetime(2024, 2, 29, 10, 0), datetime.datetime(2024, 2, 29),
                       ts + datetime.timedelta(minutes=90), True)


def test_kinetica_s_casts_and_two_argument_datediff(tmp_path):
    with indb.connect(tmp_path / "db") as conn:
        row = conn.sql("SELECT datetime('2024-01-01 10:00:00'), time(TIMESTAMP '2024-01-01 10:30'), "
                       "datediff(DATE '2024-01-05', DATE '2024-01-01'), "
                       "datediff(TIMESTAMP '2024-01-05 01:00', TIMESTAMP '2024-01-01 23:00'), "
                       "datediff('hour', TIMESTAMP '2024-01-01', TIMESTAMP '2024-01-01 05:00')").fetchone()
    assert row == (datetime.datetime(2024, 1, 1, 10, 0), datetime.time(10, 30), 4, 4, 5)  # (DuckDB's, last)


def test_a_node_sqlglot_cannot_write_is_a_sql_error(tmp_path):
    with indb.connect(tmp_path / "db") as conn, pytest.raises(SqlError, match="sqlglot failed on it"):
        conn.sql("SELECT match_against('a', 'b')")  # (it failed with a TypeError)
