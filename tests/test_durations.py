"""Durations and quoted times as the parser reads them (indb.parser.durations): the helper that
procedures' schedules and monitors' windows share."""

import pytest
from sqlglot.errors import ParseError

from indb.parser import durations
from indb.parser.dialect import Indb


def read(helper, text, after="EVERY"):
    """``helper`` run on ``text`` by the dialect's parser, the whole text consumed."""
    dialect = Indb()
    (tree,) = dialect.parser()._parse(lambda p: helper(p, after), dialect.tokenize(text), text)
    return tree


@pytest.mark.parametrize("text, number, unit, rendered", [
    ("1 hour", "1", "HOUR", "1 HOUR"), ("2 HOURS", "2", "HOUR", "2 HOURS"),
    ("1.5 minutes", "1.5", "MINUTE", "1.5 MINUTES"), ("30 Seconds", "30", "SECOND", "30 SECONDS"),
    ("7 days", "7", "DAY", "7 DAYS"),
])
def test_a_duration_keeps_its_number_and_its_unit_singular(text, number, unit, rendered):
    tree = read(durations.duration, text)
    assert isinstance(tree, durations.Duration)
    assert (tree.this.name, tree.args["unit"]) == (number, unit)
    assert tree.sql(dialect=Indb) == rendered


@pytest.mark.parametrize("text", ["2 weeks", "hour", "2", "'1' HOUR"])
def test_a_duration_without_a_number_and_a_unit_names_its_clause(text):
    # a ParseError: indb.parser.parse makes it a SqlError with the line and column
    with pytest.raises(ParseError, match="WINDOW takes a number and a unit: WINDOW 1 HOUR"):
        read(durations.duration, text, "WINDOW")


def test_a_quoted_time_is_kept_as_typed():
    tree = read(durations.quoted_time, "'2027-01-01 01:00:00+01:00'", "STARTING AT")
    assert tree.is_string and tree.name == "2027-01-01 01:00:00+01:00"


@pytest.mark.parametrize("text", ["2027", "soon"])
def test_a_time_not_in_quotes_names_its_clause(text):
    with pytest.raises(ParseError, match="STARTING AT takes a time in quotes"):
        read(durations.quoted_time, text, "STARTING AT")
