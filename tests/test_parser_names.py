"""indb.parser.names: what lives in no schema is named without one, by every statement about it."""

from __future__ import annotations

import pytest

from indb.errors import SqlError
from indb.parser import parse


@pytest.mark.parametrize("sql, refused", [
    ("DROP MONITOR s.m", "monitors and models have no schema: name one without it after DROP MONITOR"),
    ("EXECUTE PROCEDURE s.p", "procedures have no schema: name one without it after EXECUTE PROCEDURE"),
    ("SHOW SUBSCRIPTION s.x", "subscriptions and functions have no schema"),
    ("DROP SUBSCRIPTION IF EXISTS 'x'", "expected a name after DROP SUBSCRIPTION"),
])
def test_a_qualified_or_missing_name_is_refused_saying_why(sql, refused):
    with pytest.raises(SqlError, match=refused):
        parse(sql)


def test_a_plain_name_is_the_statement_s_identifier():
    (tree,) = parse("DROP PROCEDURE IF EXISTS nightly")
    assert tree.this.name == "nightly" and tree.args["exists"]
