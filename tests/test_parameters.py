"""Exposed functions: PARAMETERS and COMMENT in CREATE FUNCTION, PARAMS checked and converted
against them before a run, SHOW FUNCTIONS for the calling user, DESCRIBE FUNCTION's columns."""

import json

import pytest

import indb
from indb import planner
from indb.errors import SqlError
from indb.parser import parse
from indb.registry.functions import FunctionInfo, Parameter

DECLARED = FunctionInfo(
    "score", "distributed", "handler", "score.py", "score", "arrow", None, (), "python", (),
    ("score.py",), parameters=(Parameter("threshold", "DOUBLE", "0.9", "the cut"),
                               Parameter("symbol", "VARCHAR"), Parameter("asof", "DATE", None)),
    comment="scores ticks")
OPEN = FunctionInfo("open", "distributed", "handler", "o.py", "open", "arrow", None, (), "python",
                    (), ("o.py",))


class Catalog:
    default_shards = 8

    def exists(self, name: str) -> bool:
        return name == "ticks"

    def function(self, name: str) -> FunctionInfo | None:
        return {"score": DECLARED, "open": OPEN}.get(name)

    def environment(self, name: str) -> None:
        return None


def plan(sql: str) -> planner.Plan:
    (tree,) = parse(sql)
    return planner.plan(tree, Catalog())


def execute(params: str) -> planner.ExecuteFunction:
    result = plan(f"EXECUTE FUNCTION score(INPUT_TABLE_NAMES => INPUT_TABLE(ticks),\n"
                  f"  PARAMS => KV_PAIRS({params}))")
    assert isinstance(result, planner.ExecuteFunction)
    return result


def test_create_stores_the_declaration_with_canonical_types_and_defaults():
    created = plan("CREATE FUNCTION f PARAMETERS (threshold DOUBLE DEFAULT 0.90 COMMENT 'the cut', "
                   "symbol TEXT, n INT DEFAULT -3, on_ BOOLEAN DEFAULT TRUE) COMMENT 'what it does' "
                   "LANGUAGE PYTHON AS $$\ndef f(ctx, t):\n    return t\n$$")
    assert created.parameters == (Parameter("threshold", "DOUBLE", "0.9", "the cut"),
                                  Parameter("symbol", "VARCHAR"), Parameter("n", "INTEGER", "-3"),
                                  Parameter("on_", "BOOLEAN", "true"))
    assert created.comment == "what it does"
    assert "PARAMETERS (threshold DOUBLE DEFAULT 0.90 COMMENT 'the cut'" in created.ddl


def test_without_parameters_nothing_is_declared():
    created = plan("CREATE FUNCTION f LANGUAGE PYTHON AS $$\ndef f(ctx, t):\n    return t\n$$")
    assert created.parameters is None and created.comment == ""
    empty = plan("CREATE FUNCTION f PARAMETERS () LANGUAGE PYTHON AS $$\ndef f(ctx, t):\n    return t\n$$")
    assert empty.parameters == ()


@pytest.mark.parametrize("declaration, message", [
    ("x DOUBLE DEFAULT 'high'", "parameter x is DOUBLE, and 'high' is not one"),
    ("x INT, x VARCHAR", "parameter x is declared twice"),
    ("x INT[3]", r"parameter x is INTEGER\[3\]; a parameter is a number"),
    ("x INT DEFAULT NULL", "the DEFAULT of parameter x is a constant"),
    ("x NOSUCHTYPE", "parameter x: unknown column type"),
])
def test_bad_declarations_are_refused_at_create(declaration, message):
    with pytest.raises(SqlError, match=message) as caught:
        plan(f"CREATE FUNCTION f PARAMETERS ({declaration}) LANGUAGE PYTHON AS $$\n"
             "def f(ctx, t):\n    return t\n$$")
    assert caught.value.line == 1 and caught.value.col is not None


def test_params_are_converted_rendered_canonically_and_defaults_filled():
    assert execute("asof = '2024-01-02', symbol = 'IBM', threshold = '0.950'").params == (
        ("threshold", "0.95"), ("symbol", "IBM"), ("asof", "2024-01-02"))
    assert execute("symbol = 'X', asof = '2024-01-02'").params[0] == ("threshold", "0.9")
    assert execute("symbol = 'X', asof = '2024-01-02', threshold = '1e1'").params[0] == ("threshold", "10")


@pytest.mark.parametrize("params, message, at", [
    ("symbol = 'X', asof = '2024-01-02', limit_ = '3'", "score has no parameter limit_; it takes "
     "threshold DOUBLE DEFAULT 0.9, symbol VARCHAR, asof DATE", "limit_"),
    ("symbol = 'X'", "score needs parameter asof \\(DATE\\): add PARAMS => KV_PAIRS\\(asof = ", None),
    ("symbol = 'X', asof = '2024-01-02', threshold = 'high'", "parameter threshold is DOUBLE, "
     "and 'high' is not one", "threshold"),
    ("symbol = 'X', asof = 'yesterday'", "parameter asof is DATE, and 'yesterday' is not one", "asof"),
])
def test_bad_params_are_refused_naming_the_parameter_with_its_position(params, message, at):
    with pytest.raises(SqlError, match=message) as caught:
        execute(params)
    line = f"  PARAMS => KV_PAIRS({params})"
    # at the parameter's name; a missing one at the PARAMS => KV_PAIRS(...) it is missing from
    assert (caught.value.line, caught.value.col) == (2, line.index(at or "KV_PAIRS") + 1)


def test_table_functions_are_checked_the_same_way():
    with pytest.raises(SqlError, match="score needs parameter symbol"):
        plan("SELECT * FROM TABLE(score(INPUT_TABLE_NAMES => INPUT_TABLE(ticks)))")
    query = plan("SELECT * FROM TABLE(score(INPUT_TABLE_NAMES => INPUT_TABLE(ticks), "
                 "PARAMS => KV_PAIRS(symbol = 'X', asof = '2024-01-02')))")
    assert query.calls[0].params[0] == ("threshold", "0.9")


def test_functions_without_a_declaration_pass_params_as_given():
    result = plan("EXECUTE FUNCTION open(INPUT_TABLE_NAMES => INPUT_TABLE(ticks), "
                  "PARAMS => KV_PAIRS(anything = '0.950'))")
    assert result.params == (("anything", "0.950"),)


def test_show_functions_is_a_listing():
    assert plan("SHOW FUNCTIONS") == planner.ShowFunction(None, listing=True)
    assert plan("SHOW FUNCTION *") == planner.ShowFunction(None)


# -- end to end -----------------------------------------------------------------------------

ECHO = """
import pyarrow as pa
def echo(ctx, t):
    keys = sorted(ctx.params)
    return pa.table({"k": keys, "v": [ctx.params[k] for k in keys]})
"""


@pytest.fixture(scope="module")
def owner(tmp_path_factory):
    conn = indb.connect(tmp_path_factory.mktemp("parameters") / "db", cluster="threads",
                        workers=1, default_shards=2)
    for sql in [
        "CREATE TABLE t (id BIGINT, SHARD KEY (id))", "INSERT INTO t VALUES (1), (2)",
        "CREATE FUNCTION echo MODE = 'nondistributed' PARAMETERS (threshold DOUBLE DEFAULT 0.9 "
        f"COMMENT 'the cut', symbol VARCHAR) COMMENT 'echoes its params' LANGUAGE PYTHON AS $${ECHO}$$",
        "CREATE FUNCTION hidden LANGUAGE PYTHON AS $$\ndef hidden(ctx, t):\n    return t\n$$",
        "CREATE USER alice", "GRANT analyst TO alice", "GRANT EXECUTE ON FUNCTION echo TO alice",
    ]:
        conn.sql(sql)
    yield conn
    conn.close()


def test_the_udf_receives_converted_strings_with_defaults(owner):
    rows = owner.sql("SELECT k, v FROM TABLE(echo(INPUT_TABLE_NAMES => INPUT_TABLE(t), "
                     "PARAMS => KV_PAIRS(symbol = 'IBM'))) ORDER BY k").fetchall()
    assert rows == [("symbol", "IBM"), ("threshold", "0.9")]
    rows = owner.sql("SELECT v FROM TABLE(echo(INPUT_TABLE_NAMES => INPUT_TABLE(t), "
                     "PARAMS => KV_PAIRS(symbol = 'IBM', threshold = '1.50'))) ORDER BY k").fetchall()
    assert rows == [("IBM",), ("1.5",)]


def test_a_bad_parameter_is_refused_and_nothing_runs(owner):
    before = len(owner.sql("SHOW FUNCTION STATUS").fetchall())
    with pytest.raises(SqlError, match="parameter threshold is DOUBLE, and 'high' is not one"):
        owner.sql("EXECUTE FUNCTION echo(INPUT_TABLE_NAMES => INPUT_TABLE(t), OUTPUT_TABLE_NAMES "
                  "=> OUTPUT_TABLES('never'), PARAMS => KV_PAIRS(symbol = 'X', threshold = 'high'))")
    assert len(owner.sql("SHOW FUNCTION STATUS").fetchall()) == before
    assert "never" not in [r[0] for r in owner.sql("SHOW TABLES").fetchall()]


def test_show_functions_lists_parameters_as_rows(owner):
    rows = [r for r in owner.sql("SHOW FUNCTIONS").fetchall()]
    assert rows == [("echo", "nondistributed", "echoes its params", "threshold", "DOUBLE", "0.9", "the cut"),
                    ("echo", "nondistributed", "echoes its params", "symbol", "VARCHAR", None, None),
                    ("hidden", "distributed", None, None, None, None, None)]


def test_an_analyst_sees_only_the_functions_granted_to_them(owner):
    alice = indb.connect(owner.path, user="alice", cluster="threads", workers=1)
    try:
        assert {r[0] for r in alice.sql("SHOW FUNCTIONS").fetchall()} == {"echo"}
    finally:
        alice.close()
    owner.sql("REVOKE EXECUTE ON FUNCTION echo FROM alice")
    try:
        with owner._engine.as_user("alice"):
            assert owner.sql("SHOW FUNCTIONS").fetchall() == []
    finally:
        owner.sql("GRANT EXECUTE ON FUNCTION echo TO alice")


def test_describe_function_shows_parameters_and_comment(owner):
    described = owner.sql("DESCRIBE FUNCTION echo").df().iloc[0]
    assert described["parameters"] == "threshold DOUBLE DEFAULT 0.9 COMMENT 'the cut', symbol VARCHAR"
    assert described["comment"] == "echoes its params"
    assert owner.sql("DESCRIBE FUNCTION hidden").df().iloc[0][["parameters", "comment"]].isna().all()


def test_the_declaration_survives_the_record_and_older_records_read_as_undeclared():
    assert FunctionInfo.from_json(DECLARED.to_json()) == DECLARED
    older = json.loads(OPEN.to_json())
    del older["parameters"], older["comment"]  # a record written before the fields existed
    assert FunctionInfo.from_json(json.dumps(older)) == OPEN
    assert FunctionInfo.from_json(json.dumps(older)).parameters is None
