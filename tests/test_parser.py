from pathlib import Path

import pytest
from sqlglot import exp

from indb import planner
from indb.errors import SqlError
from indb.parser import Indb, ShardKey, parse, split
from indb.parser import prepared
from indb.registry.functions import FunctionInfo
from indb.registry.models import ModelInfo

GOLDEN = sorted((Path(__file__).parent / "golden").glob("*.sql"))


class Catalog:
    default_shards = 8

    def exists(self, name: str) -> bool:
        return name == "ticks"

    def function(self, name: str) -> FunctionInfo | None:
        return FunctionInfo("f", "distributed", "handler", "f.py", "f", "arrow", None, (), "python",
                            (), ("f.py",)) if name == "f" else None

    def model(self, name: str, version: object) -> ModelInfo:
        return ModelInfo(name, 3, "torch", "m.pt2", (64,), "float32", "class", 10)


@pytest.mark.parametrize("path", GOLDEN, ids=lambda p: p.stem)
def test_golden(path):
    statement, marker, expected = path.read_text().partition("\n-- ")
    how, _, expected = expected.partition("\n")
    (tree,) = parse(statement)
    if how.startswith("renders"):
        assert tree.sql(dialect=Indb) == expected.strip()
    else:
        plan = planner.plan(tree, Catalog())
        plan = getattr(plan, "plan", plan)  # a statement calling PREDICT wraps its plan
        assert (getattr(plan, "staged_sql", None) or plan.sql) == expected.strip()


def test_shard_key_is_parsed_among_columns():
    (tree,) = parse("CREATE TABLE t (a INT, b INT, SHARD KEY (a, b))")
    (key,) = list(tree.find_all(ShardKey))
    assert [i.name for i in key.expressions] == ["a", "b"]


def test_a_column_named_shard_is_still_a_column():
    (tree,) = parse("CREATE TABLE t (shard INT, x INT)")
    assert [c.name for c in tree.this.expressions] == ["shard", "x"]
    assert not list(tree.find_all(ShardKey))


def test_several_statements():
    assert len(parse("SELECT 1; SELECT 2;; ")) == 2
    assert len(parse("SELECT 1;  -- a comment after the last statement\n")) == 1


@pytest.mark.parametrize("sql, table", [
    ("VACUUM ANALYZE t", "t"), ("VACUUM (ANALYZE, VERBOSE) t", "t"), ("VACUUM FULL FREEZE", None),
    ("VACUUM t RETAIN 2", "t")])
def test_vacuum_reads_postgresql_s_options_past(sql, table):
    [tree] = parse(sql)
    assert type(tree).__name__ == "Vacuum" and (tree.this.name if tree.this else None) == table
    with pytest.raises(SqlError, match="not closed"):
        parse("VACUUM (ANALYZE t")


def test_postgresql_s_words_for_a_transaction_s_edges():
    kinds = [type(t).__name__ for t in parse(
        "START TRANSACTION READ ONLY; SELECT 1; END; BEGIN WORK; ABORT; END TRANSACTION")]
    assert kinds == ["Transaction", "Select", "Commit", "Transaction", "Rollback", "Commit"]
    assert parse("BEGIN TRANSACTION READ ONLY, ISOLATION LEVEL SERIALIZABLE")[0].args["modes"] \
        == ["READ ONLY", "ISOLATION LEVEL SERIALIZABLE"]


def test_split_cuts_at_semicolon_tokens_only():
    body = "CREATE FUNCTION f LANGUAGE PYTHON AS $$\ndef f(ctx, t):\n    return None;  # ';'\n$$;"
    text = f"SELECT 'x;y';\n-- a comment; not a cut\nSELECT \"a;b\" /* ; */ FROM t;;\n{body}\nSELECT 3"
    assert split(text) == ["SELECT 'x;y';", 'SELECT "a;b" /* ; */ FROM t;', body, "SELECT 3"]
    assert [len(parse(s)) for s in split(text)] == [1, 1, 1, 1]  # each piece is one statement
    assert split("-- nothing but a comment;\n") == [] and split(" ; ;") == []
    assert split("SELECT 1; -- done") == ["SELECT 1;"]  # ends with its ';': a complete statement


@pytest.mark.parametrize("unfinished", ["SELECT 'x;", "SELECT $$ a;", "SELECT 1 /* ;"])
def test_split_refuses_text_that_does_not_tokenize(unfinished):
    with pytest.raises(SqlError, match="not closed"):
        split(unfinished)


def test_syntax_error_names_line_and_column_and_shows_the_text():
    with pytest.raises(SqlError) as caught:
        parse("SELECT 1;\nSELECT * FORM ticks")
    error = caught.value
    assert (error.line, error.col) == (2, 15)
    assert "Line 2, Col: 15" in str(error)
    assert "SELECT * FORM ticks" in str(error)
    assert str(error).splitlines()[-1].index("^") == 2 + 14


def test_execute_function_names_its_arguments_with_positions():
    (tree,) = parse("EXECUTE FUNCTION f(INPUT_TABLE_NAMES => INPUT_TABLE(t),\n  PARAMS => KV_PAIRS(a = 'b'))")
    names = [(k.this.name, k.this.meta["line"]) for k in tree.expressions]
    assert names == [("INPUT_TABLE_NAMES", 1), ("PARAMS", 2)]


@pytest.mark.parametrize("sql, message", [
    ("CREATE FUNCTION f BOGUS = 'x'", "unexpected BOGUS in CREATE FUNCTION"),
    ("KILL FUNCTION", "KILL FUNCTION takes a run id"),
    ("EXECUTE FUNCTION f(a 1)", "expected => after a"),
    ("EXECUTE FUNCTION 1", "expected a function call"),
])
def test_function_statement_syntax_errors(sql, message):
    with pytest.raises(SqlError, match=message) as caught:
        parse(sql)
    assert caught.value.line == 1


def test_other_execute_statements_run_a_prepared_statement():
    (tree,) = parse("EXECUTE my_prepared")
    assert isinstance(tree, prepared.Execute) and tree.name == "my_prepared"


def test_syntax_errors_never_show_sqlglots_internals():
    from indb.errors import SqlError
    for sql, words in [("SELECT 1 *", "something is missing after '*'"),
                       ("SELECT * FROM", "got the end of the statement"),
                       ("SELECT 1 FROM t WHERE", "missing after 'WHERE'"),
                       ("SELECT 'abc", "a quote or comment is not closed")]:
        with pytest.raises(SqlError) as caught:
            parse(sql)
        assert words in str(caught.value)
        assert "<class" not in str(caught.value) and "Token" not in str(caught.value)


def test_duckdb_errors_point_at_the_name_in_the_users_text():
    from indb.errors import SqlError
    from indb.parser import in_user_terms
    error = SqlError('Binder Error: Referenced column "nope" not found in FROM clause!\n'
                     'Candidate bindings: "range"\n\nLINE 1: SELECT x, nope FROM rewritten\n          ^')
    located = in_user_terms(error, "SELECT x,\n  Nope FROM range(3)")
    assert (located.line, located.col) == (2, 3) and "rewritten" not in str(located)
    assert str(located).endswith("  Nope FROM range(3)\n    ^")
    unlocated = in_user_terms(SqlError("Conversion Error: no\n\nLINE 1: CAST(x)\n ^^"), "SELECT 1")
    assert unlocated.line is None and unlocated.message == "Conversion Error: no"


def test_parameters_next_to_each_other_and_cast():
    # psycopg's VALUES (%s,%s) reaches the server as ($1,$2): parameters, not a dollar-quoted
    # string tagged "1," (sqlglot's reading); ?::INT is a parameter cast (sqlglot's ?:: operator)
    values = parse("INSERT INTO t VALUES ($1,$2,$3)")[0].find(exp.Tuple)
    assert [(type(p), p.name) for p in values.expressions] == [(exp.Placeholder, "1"),
                                                              (exp.Placeholder, "2"),
                                                              (exp.Placeholder, "3")]
    cast = parse("SELECT ?::INTEGER")[0].expressions[0]
    assert isinstance(cast, exp.Cast) and isinstance(cast.this, exp.Placeholder)
    assert parse("SELECT $$ a $$, $tag$ b $tag$")[0].expressions[1].name == " b "  # still strings
