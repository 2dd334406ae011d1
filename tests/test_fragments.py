"""``indb.parser.fragment``: pieces of SQL (a condition, an expression list, an ordering) read
into trees, their mistakes located in the piece's own text."""

from __future__ import annotations

import pytest
from sqlglot import exp

from indb.errors import SqlError
from indb.parser import fragment, render
from indb.parser.fragments import Expressions, Orderings


def test_lists_orderings_and_conditions_are_read_into_trees():
    assert [render(e) for e in fragment("a, b * 2 AS c, *", Expressions).expressions] == [
        "a", "b * 2 AS c", "*"]
    assert [render(o) for o in fragment("a DESC, b NULLS FIRST", Orderings).expressions] == [
        "a DESC", "b NULLS FIRST"]
    assert render(fragment("a > 1 and b IN (1, 2)", exp.Condition)) == "a > 1 AND b IN (1, 2)"


@pytest.mark.parametrize("text, into, where", [
    ("a >", exp.Condition, (1, 3)),
    ("a, b +", Expressions, (1, 6)),
    ("a DESC DESC", Orderings, (1, 8)),
])
def test_a_mistake_is_located_in_the_piece(text, into, where):
    with pytest.raises(SqlError) as caught:
        fragment(text, into)
    assert (caught.value.line, caught.value.col) == where
