"""to_char(number, template): PostgreSQL's number templates, checked against a PostgreSQL
server's own to_char over a grid of values and templates."""

from __future__ import annotations

import itertools
from decimal import Decimal

import pytest

import indb
from indb.errors import DataError, NotSupportedError, SqlError
from indb.parser import numformat

VALUES = ["12.5", "-12.5", "0", "0.5", "-0.05", "0.004", "-0.004", "1", "-1", "7.25",
          "999.999", "1234.567", "-3.14159", "123456.5", "1000000000"]
TEMPLATES = ["999D99", "FM999.99", "9,999,999.99", "999.99", "0000", "S0000", "999", "99.9PR",
             "FM9990.00", "FM999,999", "9G999", "SG999", "999MI", "999PL", "FM0.9999", ".99",
             "0.99", "FM90.9", "9990", "FM9,999.00", "99S", "FMS999", "FM999MI", "FM999PR",
             "0,000.00", "9 9 9", "S999", "S9,999", "fm999d99", "9,999.99PR", "S999.99",
             '"Total: "9,999', "$9,999.99", "FMMI999", "99,999.9999", "FM9.999", "0.000",
             "9G999G999D99", "S0.99", "FMS0.99", "FM99PL", "FM999.990", "9990.0PR",
             # a point with no place after it: PostgreSQL's output ends there
             "9.", "9.PR", "FM9.", '9."x"', "9,999.", "0.", "S9.", "9.MI"]
FLOATS = ["2.5", "-2.5", "0.125", "-0.0", "1.5", "3.5", "0.1", "-3.75", "1e-7", "123456789012.5",
          "1e20", "0.5", "9.5", "nan", "inf", "-inf", "1234567.891", "-0.004"]
FLOAT_TEMPLATES = ["9", "9.9", "FM9", "9.99", "999.99", "FM999.999", "9.99999999", "9.99999999PR",
                   "9.00000000", "FM9.99999999", 'FM9.999999"x"99', "S9.9999999999999999999",
                   "999999999999999.999", "999,999,999,999,999,999,999.99", "9.99999999MI", "0.",
                   "9.", "99.9PR", "FM0.00", "FM9.000000000000000000"]


def test_to_char_lays_numbers_out_as_postgresql_does(tmp_path):
    from stores import postgres_server
    psycopg = pytest.importorskip("psycopg")
    grid = list(itertools.product(VALUES, TEMPLATES))
    with postgres_server() as url, psycopg.connect(url, autocommit=True) as pg:
        expected = [pg.execute("SELECT to_char(%s::numeric, %s)", [value, template]).fetchone()[0]
                    for value, template in grid]
    with indb.connect(tmp_path / "db") as conn:
        conn.sql("CREATE TABLE grid (v DECIMAL(18, 6), k INTEGER)")
        conn.sql("INSERT INTO grid SELECT CAST(v AS DECIMAL(18, 6)), k FROM (VALUES "
                 + ", ".join(f"('{v}', {k})" for k, v in enumerate(VALUES)) + ") AS t(v, k)")
        got = {}
        for template in TEMPLATES:  # each template as the literal it must be
            literal = "'" + template.replace("'", "''") + "'"
            for k, text in conn.sql(f"SELECT k, to_char(v, {literal}) FROM grid").fetchall():
                got[VALUES[k], template] = text
    wrong = [(v, t, want, got[v, t]) for (v, t), want in zip(grid, expected) if got[v, t] != want]
    assert not wrong, wrong[:200]


def test_doubles_and_reals_are_written_out_as_postgresql_writes_them(tmp_path):
    """A float8 or float4 is rounded as printf rounds (half to even, on its binary value) and
    keeps 15 or 6 significant digits: compared with PostgreSQL's own to_char."""
    from stores import postgres_server
    psycopg = pytest.importorskip("psycopg")
    types = {"float8": "DOUBLE", "float4": "REAL"}
    grid = list(itertools.product(types, FLOATS, FLOAT_TEMPLATES))
    with postgres_server() as url, psycopg.connect(url, autocommit=True) as pg:
        expected = [pg.execute(f"SELECT to_char(%s::{pg_type}, %s)", [value, template]).fetchone()[0]
                    for pg_type, value, template in grid]
    with indb.connect(tmp_path / "db") as conn:
        conn.sql("CREATE TABLE grid (d DOUBLE, r REAL, k INTEGER)")
        conn.sql("INSERT INTO grid SELECT CAST(v AS DOUBLE), CAST(v AS REAL), k FROM (VALUES "
                 + ", ".join(f"('{v}', {k})" for k, v in enumerate(FLOATS)) + ") AS t(v, k)")
        got = {}
        for template in FLOAT_TEMPLATES:
            literal = "'" + template.replace("'", "''") + "'"
            for k, double, real in conn.sql(f"SELECT k, to_char(d, {literal}), "
                                            f"to_char(r, {literal}) FROM grid").fetchall():
                got["float8", FLOATS[k], template] = double
                got["float4", FLOATS[k], template] = real
    wrong = [(*key, want, got[key]) for key, want in zip(grid, expected) if got[key] != want]
    assert not wrong, wrong[:200]


def test_integers_doubles_and_nulls(tmp_path):
    with indb.connect(tmp_path / "db") as conn:
        row = conn.sql("SELECT to_char(42::BIGINT, '0000'), to_char(-0.25::DOUBLE, 'FM990.00'), "
                       "to_char(NULL::INTEGER, '999'), to_char('nan'::DOUBLE, '999'), "
                       "to_char(DATE '2026-01-02', 'YYYY-MM-DD')").fetchone()
    assert row == (" 0042", "-0.25", None, " NaN", "2026-01-02")  # a date's template stays one


def test_a_template_indb_does_not_support_is_refused_where_it_stands(tmp_path):
    with indb.connect(tmp_path / "db") as conn:
        with pytest.raises(SqlError, match="EEEE .scientific notation. is not supported") as caught:
            conn.sql("SELECT 1,\n  to_char(2, '9.99EEEE')")
        assert (caught.value.line, caught.value.col) == (2, 14)
        with pytest.raises(SqlError, match="two decimal points"):
            conn.sql("SELECT to_char(2, '9.9D9')")
        with pytest.raises(DataError, match="'abc' is not a number"):
            conn.sql("SELECT to_char('abc', '999')")


@pytest.mark.parametrize("template, number", [
    ("999D99", True), ("FM0000", True), ('"9" YYYY', False), ("YYYY-MM-DD HH24:MI", False),
    ("HH12:MI:SS.MS", False), ("Day, DD Mon", False)])
def test_a_number_s_template_has_a_digit_place(template, number):
    assert numformat.is_number_template(template) is number


def test_read_refuses_what_it_cannot_lay_out():
    for template, message in (("RN", "roman numerals"), ("999th", "ordinal"), ("99V9", "shifting"),
                              ("L999", "currency symbol"), ("S999MI", "more than one sign")):
        with pytest.raises((NotSupportedError, DataError), match=message):
            numformat.read(template)
    assert numformat.to_char("12.5", '"<"999">"') == "<  13>"
    assert numformat.to_char("inf", "FM999", "DOUBLE") == "###"
    assert numformat.to_char("-inf", "99999999.9", "DOUBLE") == "-Infinity"  # printf's, cut at .
    assert Decimal(numformat.to_char("2.675", "9.99")) == Decimal("2.68")  # half away from zero
