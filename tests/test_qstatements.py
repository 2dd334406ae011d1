"""q-sql where SQL is accepted: ``q)`` lines cut out as statements of their own, and
``q('...')`` calls, with errors at their place in the text the user typed."""

from __future__ import annotations

import pytest
from sqlglot import exp

from indb.cli.prompt import complete
from indb.errors import SqlError
from indb.parser import parse, split
from indb.parser.qstatements import QStatement, expand, pieces, written_in_q


def test_q_lines_are_statements_of_their_own():
    text = "SELECT 1;\n  q)select from t where c1 like \"a;b\";\nSELECT 2"
    assert split(text) == ["SELECT 1;", 'q)select from t where c1 like "a;b"', "SELECT 2"]
    trees = parse(text)
    assert isinstance(trees[1], QStatement) and trees[1].this.name == 'select from t where c1 like "a;b"'
    assert (trees[1].args["line"], trees[1].args["col"]) == (2, 5)
    assert complete("q)select from t") and not complete("SELECT 1")


def test_pieces_cut_q_lines_out_of_sql():
    text = "SELECT 1;\nq)exec a from t;\nSELECT 2"
    assert [(text[a:b], is_q) for a, b, is_q in pieces(text)] == [
        ("SELECT 1;\n", False), ("exec a from t", True), ("\nSELECT 2", False)]


def test_q_calls_translate_where_a_table_goes():
    tree = parse("SELECT * FROM q('select a from t where b > 1') AS x")[0]
    assert written_in_q(tree)
    expanded = expand(tree, None)
    assert not written_in_q(expanded) and expanded.find(exp.Where) is not None
    assert expanded.find(exp.Subquery).alias == "x"


def test_errors_give_the_place_in_the_text_typed():
    statement = parse("SELECT 1;\n  q)select from t where")[1]
    with pytest.raises(SqlError, match="expected an expression") as caught:
        expand(statement, None)
    assert (caught.value.line, caught.value.col) == (2, len("  q)select from t where") + 1)
    with pytest.raises(SqlError, match="column 12 of the q-sql text"):
        expand(parse("SELECT * FROM q('select foo a from t')")[0], None)
    with pytest.raises(SqlError, match="takes one argument"):
        expand(parse("SELECT * FROM q('a', 'b')")[0], None)
