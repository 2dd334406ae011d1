"""``indb.server.pgvalues``: PostgreSQL's text forms where Python's differ (the values through
the wire: tests/test_pgwire.py)."""

from __future__ import annotations

import datetime
import decimal

import pytest

from indb.server import pgvalues


@pytest.mark.parametrize("value, text", [
    (decimal.Decimal("1E+2"), "100"), (decimal.Decimal("2.50"), "2.50"),
    (decimal.Decimal("-0.000001"), "-0.000001"), (decimal.Decimal("1E-7"), "0.0000001"),
    (decimal.Decimal("NaN"), "NaN"), (decimal.Decimal("Infinity"), "Infinity"),
    (decimal.Decimal("-Infinity"), "-Infinity"), (2**64 - 1, "18446744073709551615"),
])
def test_numeric_text_has_no_exponent(value, text):
    assert pgvalues.numeric_text(value) == text


@pytest.mark.parametrize("value, text", [
    # PostgreSQL 15's float8out, as psql shows each
    (1.5, "1.5"), (0.1, "0.1"), (100.0, "100"), (-2.0, "-2"), (0.0, "0"), (-0.0, "-0"),
    (0.0001, "0.0001"), (1e-5, "1e-05"), (1.5e-5, "1.5e-05"), (123456789012345.0, "123456789012345"),
    (1e15, "1e+15"), (1.25e16, "1.25e+16"), (-1e300, "-1e+300"), (5e-324, "5e-324"),
    (1 / 3, "0.3333333333333333"), (2.0**53, "9.007199254740992e+15"),
    (float("inf"), "Infinity"), (float("-inf"), "-Infinity"), (float("nan"), "NaN"),
])
def test_float_text_reads_back_and_names_the_special_values(value, text):
    assert pgvalues.float_text(value) == text
    assert float(text) == value or value != value  # reads back the same


def test_boolean_text_is_one_letter():
    assert (pgvalues.boolean_text(True), pgvalues.boolean_text(False)) == ("t", "f")


DAY, HOUR = 86_400_000_000, 3_600_000_000


@pytest.mark.parametrize("value, text", [  # PostgreSQL 15's output, as psql shows each
    ((0, 1, 2 * HOUR), "1 day 02:00:00"), ((0, 3, 0), "3 days"), ((0, -1, 0), "-1 days"),
    ((0, 0, -2 * HOUR), "-02:00:00"), ((0, -1, -2 * HOUR), "-1 days -02:00:00"),
    ((0, 0, 500_000), "00:00:00.5"), ((0, 0, 0), "00:00:00"),
    ((0, 2, 184_000_050), "2 days 00:03:04.00005"),
    ((14, 3, 4 * HOUR + 306_500_000), "1 year 2 mons 3 days 04:05:06.5"),  # a month a month
    ((1, 0, 0), "1 mon"), ((24, 0, 0), "2 years"), ((-14, 0, 0), "-1 years -2 mons"),
    ((0, -1, 2 * HOUR), "-1 days +02:00:00"), ((-1, 2, 0), "-1 mons +2 days"),
    ((0, 0, 30 * HOUR), "30:00:00"),  # hours past a day stay hours, as PostgreSQL keeps them
])
def test_interval_text_is_postgresql_s_default_style(value, text):
    assert pgvalues.interval_text(pgvalues.Interval(*value)) == text


@pytest.mark.parametrize("raw, oid, value", [
    (b"2026-01-02 +00", 0, datetime.date(2026, 1, 2)),     # JDBC's setDate, untyped
    (b"2026-01-02 -05:30", 1082, datetime.date(2026, 1, 2)),
    (b"{1,2,NULL}", 1016, [1, 2, None]),                   # arrays in PostgreSQL's text form
    (b'{"a b",c}', 1009, ["a b", "c"]),
    (b"{20,23}", 1028, [20, 23]),                          # oid[]
    (b"t", 16, True), (b"off", 16, False), (b"42", 20, 42),
    (b"2026-01-02 +00 is text", 0, "2026-01-02 +00 is text"),
])
def test_text_parameters_are_read_as_postgresql_reads_them(raw, oid, value):
    assert pgvalues.parameter(raw, oid, 0) == value


def test_a_timestamp_with_a_time_zone_is_written_as_postgresql_writes_it():
    timestamp_text = pgvalues.timestamp_text
    utc = datetime.timezone.utc
    assert timestamp_text(datetime.datetime(2026, 1, 2, 1, 4, 5, 120000, utc)) == "2026-01-02 01:04:05.12+00"
    assert timestamp_text(datetime.datetime(2026, 1, 2, 1, 4, 5, tzinfo=utc)) == "2026-01-02 01:04:05+00"
    india = datetime.timezone(datetime.timedelta(hours=5, minutes=30))
    assert timestamp_text(datetime.datetime(2026, 1, 2, 1, 4, 5, tzinfo=india)) == "2026-01-02 01:04:05+05:30"
    west = datetime.timezone(-datetime.timedelta(hours=8))
    assert timestamp_text(datetime.datetime(2026, 1, 2, 1, 4, 5, tzinfo=west)) == "2026-01-02 01:04:05-08"
    assert timestamp_text(datetime.datetime(2026, 1, 2, 1, 4, 5, 500000)) == "2026-01-02 01:04:05.5"
