"""to_char(timestamp, template), to_timestamp and to_date: PostgreSQL's date and time templates,
checked against a PostgreSQL server's own over a grid of times and templates."""

from __future__ import annotations

import datetime
import itertools

import pytest

import indb
from indb.errors import SqlError
from indb.parser import dateformat

TIMES = ["2020-03-05 14:07:09.012345", "2021-01-01 00:00:00", "2019-12-31 23:59:59.999999",
         "2008-10-13 12:30:00.5", "0033-07-04 09:05:01", "2024-02-29 01:02:03.000001",
         "2001-01-01 11:11:11", "1999-12-12 13:13:13.13", "2000-06-22 12:00:00", "0044-03-15 10:00:00 BC"]
TEMPLATES = [
    "YYYY-MM-DD HH24:MI:SS", "YYYY-MM-DD\"T\"HH24:MI:SS.US", "Day, DD Month YYYY", "DAY DY Dy dy day",
    "MONTH Month month MON Mon mon", "FMDay, FMDD FMMonth YYYY", "TMDay TMMonth", "HH HH12 HH24 AM PM am pm",
    "A.M. p.m. AD BC a.d. b.c.", "MS US FF1 FF2 FF3 FF4 FF5 FF6", "SSSS SSSSS", "Y,YYY YYYY YYY YY Y",
    "IYYY IYY IY I IW ID IDDD", "DDD D W WW Q J CC", "RM rm FMRM", "DDth DDTH FMDDth MMth YYYYth Qth",
    "FMHH24:FMMI:FMSS FMMM/FMDD/FMYYYY", "\"Quarter\" Q \"of\" YYYY", "HH24\\\"MI", "yyyy-mm-dd hh24:mi:ss",
    "100% YYYY", "Mon-YY", "FMYYYY FMCC FMIYYY FMMS FMUS", "HH12:MI:SS am", "DDD IDDD FMDDD",
    "WW-IW W", "FXYYYY SP", "YYYYMMDD", "Hello, world", "Day\"s\" MONTHs", "OF TZH:TZM",
]


def _duckdb_time(value: str) -> str:
    """A time as DuckDB reads it: a BC one with its date's "(BC)" (DuckDB ignores a " BC" after it)."""
    if not value.endswith(" BC"):
        return value
    day, time, _ = value.split(" ")
    return f"{day} (BC) {time}"


def test_to_char_of_timestamps_and_dates_is_postgresql_s(tmp_path):
    from stores import postgres_server
    psycopg = pytest.importorskip("psycopg")
    grid = list(itertools.product(TIMES, TEMPLATES))
    with postgres_server() as url, psycopg.connect(url, autocommit=True) as pg:
        expected = {(value, template): pg.execute("SELECT to_char(%s::timestamp, %s), to_char(%s::date, %s)",
                                                  [value, template, value, template]).fetchone()
                    for value, template in grid}
    with indb.connect(tmp_path / "db") as conn:
        conn.sql("CREATE TABLE grid (k INTEGER, ts TIMESTAMP, d DATE)")
        conn.sql("INSERT INTO grid SELECT k, CAST(v AS TIMESTAMP), CAST(CAST(v AS TIMESTAMP) AS DATE) FROM (VALUES "
                 + ", ".join(f"({k}, '{_duckdb_time(v)}')" for k, v in enumerate(TIMES)) + ") AS t(k, v)")
        got = {}
        for template in TEMPLATES:  # each template as the literal it must be
            literal = "'" + template.replace("'", "''") + "'"
            for k, ts, d in conn.sql(f"SELECT k, to_char(ts, {literal}), to_char(d, {literal}) FROM grid").fetchall():
                got[TIMES[k], template] = (ts, d)
    wrong = [(key, want, got[key]) for key, want in expected.items() if got[key] != want]
    assert not wrong, wrong[:100]


def test_to_timestamp_and_to_date_read_postgresql_s_templates(tmp_path):
    with indb.connect(tmp_path / "db") as conn:
        row = conn.sql("SELECT to_date('05 Dec 2000', 'DD Mon YYYY'), "
                       "to_timestamp('Tuesday, 5 December 2000 10:30 pm', 'Day, FMDD Month YYYY HH12:MI am'), "
                       "to_timestamp('2000-12-05 10:30:15.250', 'YYYY-MM-DD HH24:MI:SS.MS'), "
                       "to_date('20001205', 'YYYYMMDD'), to_date('100% 2000-12-05', '100% YYYY-MM-DD')").fetchone()
    assert row == (datetime.date(2000, 12, 5), datetime.datetime(2000, 12, 5, 22, 30),
                   datetime.datetime(2000, 12, 5, 10, 30, 15, 250000), datetime.date(2000, 12, 5),
                   datetime.date(2000, 12, 5))


def test_nulls_empty_templates_and_the_column_s_name(tmp_path):
    with indb.connect(tmp_path / "db") as conn:
        result = conn.sql("SELECT to_char(NULL::TIMESTAMP, 'YYYY'), to_char(NULL::DATE, 'ok!'), "
                          "to_char(DATE '2020-01-02', 'ok!'), to_char(DATE '2020-01-02', 'text only'), "
                          "to_char(DATE '2020-01-02', ''), to_date('2020', 'YYYY') AS d")
        assert result.fetchone() == (None, None, "ok!", "text onl0", None, datetime.date(2020, 1, 1))
        # the columns are named as PostgreSQL names them (the rewrite is DuckDB's business)
        assert conn.sql("SELECT to_char(DATE '2020-01-02', 'Mon YYYY'), to_timestamp('2020', 'YYYY')"
                        ).arrow().schema.names == ["to_char", "to_timestamp"]


def test_a_template_element_strptime_cannot_read_is_refused_where_it_stands(tmp_path):
    with indb.connect(tmp_path / "db") as conn:
        with pytest.raises(SqlError, match="do not read the template element Q") as caught:
            conn.sql("SELECT 1,\n  to_date('2020 1', 'YYYY Q')")
        assert (caught.value.line, caught.value.col) == (2, 21)  # the template
        conn.sql("CREATE TABLE formats (ts TIMESTAMP, f VARCHAR)")
        for call in ("to_char(ts, f)", "to_date(f, f)"):  # read when the statement is, so a literal
            with pytest.raises(SqlError, match="takes its template as a literal"):
                conn.sql(f"SELECT {call} FROM formats")


def test_read_takes_the_longest_keyword_its_prefix_and_its_suffix():
    assert dateformat.read('FMDDth "Day" Day\\"') == [
        dateformat.Field("DD", fill=True, ordinal="th"), " ", "D", "a", "y", " ", dateformat.Field("Day"), '"']
    assert dateformat.read("HH24HH12HHDDD") == [dateformat.Field(k) for k in ("HH24", "HH12", "HH", "DDD")]
    assert dateformat.read("TMMonth") == [dateformat.Field("Month", names=True)]
