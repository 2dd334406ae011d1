"""Durations and quoted times as seconds (indb.planner.durations), for schedules, monitors'
windows and tokens' expiries."""

import datetime

import pytest
from sqlglot import exp

from indb.errors import SqlError
from indb.parser.durations import Duration
from indb.planner.durations import moment, seconds


def duration(number, unit):
    return Duration(this=exp.Literal.number(number), unit=unit)


@pytest.mark.parametrize("number, unit, expected", [
    ("1", "SECOND", 1.0), ("1.5", "MINUTE", 90.0), ("2", "HOUR", 7200.0), ("7", "DAY", 604800.0),
])
def test_a_duration_in_seconds(number, unit, expected):
    assert seconds(duration(number, unit), "EVERY") == expected


@pytest.mark.parametrize("number", ["0", "0.0"])
def test_a_duration_must_be_positive(number):
    with pytest.raises(SqlError, match="WINDOW takes a positive number"):
        seconds(duration(number, "DAY"), "WINDOW")


@pytest.mark.parametrize("text, expected", [
    ("2027-01-01 00:00:00", datetime.datetime(2027, 1, 1, tzinfo=datetime.UTC)),  # UTC by default
    ("2027-01-01", datetime.datetime(2027, 1, 1, tzinfo=datetime.UTC)),
    ("2027-01-01 01:00:00+01:00", datetime.datetime(2027, 1, 1, tzinfo=datetime.UTC)),
    ("2027-01-31T18:30", datetime.datetime(2027, 1, 31, 18, 30, tzinfo=datetime.UTC)),
])
def test_a_quoted_time_in_seconds_since_the_epoch(text, expected):
    assert moment(exp.Literal.string(text), "STARTING AT") == expected.timestamp()


def test_a_time_that_is_not_one_names_its_clause_and_the_text():
    with pytest.raises(SqlError, match="EXPIRES takes a timestamp such as .*not 'soon'"):
        moment(exp.Literal.string("soon"), "EXPIRES")
