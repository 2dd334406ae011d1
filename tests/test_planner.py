import subprocess
import sys

import pytest

from indb import planner
from indb.errors import CatalogError, FunctionError, SqlError
from indb.parser import parse
from indb.registry.functions import FunctionInfo
from indb.registry.models import ModelInfo

SCORE = FunctionInfo("score", "distributed", "handler", "score.py", "score", "numpy", ("threshold",),
                     (), "python", ("score.py",), ("score.py",))
LIMITED = FunctionInfo("limited", "distributed", "handler", "l.py", "limited", "arrow", None, (),
                       "python", ("l.py",), ("l.py",),
                       options={"max_concurrency_per_node": "1", "timeout": "60"})


class Catalog:
    default_shards = 8

    def __init__(self, *tables: str) -> None:
        self.tables = set(tables)

    def exists(self, name: str) -> bool:
        return name in self.tables

    def schema_exists(self, name: str) -> bool:
        return name in ("main", "kin")

    def function(self, name: str) -> FunctionInfo | None:
        return {"score": SCORE, "limited": LIMITED}.get(name)

    def model(self, name: str, version: object) -> ModelInfo:
        if name != "digits" or version not in (None, 2, "2", "production"):
            raise CatalogError(f"model {name} has no version {version}")
        return ModelInfo("digits", 2, "torch", "m.pt2", (8, 8), "float32", "class", 10)


def plan(sql: str, *tables: str) -> planner.Plan:
    (tree,) = parse(sql)
    return planner.plan(tree, Catalog(*tables))


def test_create_sharded_table():
    p = plan("CREATE TABLE Ticks (sym VARCHAR NOT NULL, px REAL[2], SHARD KEY (SYM)) WITH (SHARDS = 4)")
    assert p == planner.CreateTable("ticks", p.columns, ("sym",), 4, False)
    assert [(c.name, c.sql_type, c.nullable) for c in p.columns] == [
        ("sym", "VARCHAR", False), ("px", "FLOAT[2]", True)]


def test_kinetica_s_storage_clauses_are_read_and_change_nothing():
    """PARTITION BY, TIER STRATEGY, its indexes and USING TABLE PROPERTIES after the columns
    (Kinetica's CREATE TABLE): the same table as without them."""
    bare = plan("CREATE TABLE t (a INT, b TIMESTAMP, SHARD KEY (a))")
    for clauses in ("PARTITION BY RANGE (YEAR(b)) PARTITIONS (p2016 MIN(2014) MAX(2017), "
                    "p2017 MAX(2018))", "PARTITION BY HASH (a) PARTITIONS 10",
                    "PARTITION BY LIST (a) AUTOMATIC", "TIER STRATEGY ((VRAM 1, RAM 9, PERSIST 5), "
                    "(RAM 2, PERSIST 5) WHERE b < '2017-01-01')",
                    "ATTRIBUTE INDEX (a) CHUNK SKIP INDEX (b) INDEX (a)",
                    "USING TABLE PROPERTIES (chunk_size = 1000000, ttl = 20)"):
        assert plan(f"CREATE TABLE t (a INT, b TIMESTAMP, SHARD KEY (a)) {clauses}") == bare
    assert plan("CREATE TABLE t USING parquet AS SELECT 1 AS a").name == "t"  # Spark's USING


def test_default_shard_count_comes_from_the_catalog():
    assert plan("CREATE TABLE t (a INT)").shards == 8


def test_spark_s_using_of_what_every_table_is_is_taken():
    for sql in ("CREATE TABLE t (a INT) USING iceberg", "CREATE TABLE t USING PARQUET AS SELECT 1 AS a"):
        assert plan(sql).name == "t"


def test_replicated_table_has_one_copy():
    p = plan("CREATE REPLICATED TABLE p (k VARCHAR)")
    assert (p.replicated, p.shard_key, p.shards) == (True, (), 1)


def test_shard_key_naming_a_missing_column_points_at_it():
    sql = "CREATE TABLE t (a INT,\n  SHARD KEY (nope))"
    with pytest.raises(SqlError, match="not a column") as caught:
        plan(sql)
    assert (caught.value.line, caught.value.col) == (2, 14)


@pytest.mark.parametrize("sql, message", [
    ("CREATE TABLE t (a INT) WITH (SHARDS = 0)", "SHARDS must be"),
    ("CREATE TABLE t (a INT) WITH (SHARDS = 'x')", "SHARDS must be"),
    ("CREATE TABLE t (a INT) WITH (COLOUR = 'red')", "unknown table option COLOUR"),
    ("CREATE TABLE t (a INT) USING delta", "USING delta is not supported: indb's tables are Iceberg"),
    ("CREATE REPLICATED TABLE t (a INT, SHARD KEY (a))", "REPLICATED table has no SHARD KEY"),
    ("CREATE TABLE t (a INT, A INT)", "defined twice"),
    ("CREATE TABLE t (_indb_rowid INT)", "reserved"),
    ("CREATE TABLE t (a NOSUCHTYPE)", "unknown column type"),
    ("CREATE TABLE t (a UNION(i INTEGER, s VARCHAR))", "cannot be stored"),
    ("CREATE OR REPLACE TABLE IF NOT EXISTS t (a INT)", "contradict"),
    ("CREATE TABLE t (a INT, b INT, PRIMARY KEY (b), SHARD KEY (a))", "must include its SHARD KEY"),
    ("CREATE TABLE t (a INT PRIMARY KEY, b INT, PRIMARY KEY (b))", "one PRIMARY KEY"),
    ("CREATE TABLE t (a INT, PRIMARY KEY (nope))", "PRIMARY KEY names nope"),
    ("CREATE TABLE t (a INT, PRIMARY KEY (a, A))", "names a column twice"),
    ("CREATE MATERIALIZED VIEW v AS SELECT 1", "MATERIALIZED views are not supported"),
    ("UPDATE ticks SET px = ? RETURNING px + ?", "RETURNING takes no parameters"),
    ("SHOW 1 + 1", r"SHOW 1 \+ 1 is not supported; indb.s SHOW statements are"),
    ("DELETE FROM ticks WHERE px > 0 LIMIT 1", "DELETE with ORDER BY or LIMIT is not supported"),
    ("DELETE FROM ticks ORDER BY px", "DELETE with ORDER BY or LIMIT is not supported"),
    ("CREATE TABLE other.t (a INT)", "schema other does not exist; CREATE SCHEMA other"),
    ("CREATE TABLE db.kin.t (a INT)", "not db.schema.t"),
    ('CREATE TABLE kin."a;b" (a INT)', "not a valid table name"),
    ('CREATE TABLE "a;b".t (a INT)', "not a valid schema name"),
    ('CREATE SCHEMA "x;y"', "not a valid schema name"),
    ("CREATE SCHEMA pg_catalog", "reserved by DuckDB"),
    ("CREATE SCHEMA memory", "reserved by DuckDB"),
    ("DROP SCHEMA main", "cannot be dropped"),
    ("CREATE TEMP VIEW kin.v AS SELECT 1", "not a valid view name"),
    ("CREATE TABLE t (a INT) TIER STRATEGY ((VRAM 1, RAM 7)", "TIER ...: a parenthesis is not closed"),
])
def test_bad_statements_are_refused(sql, message):
    with pytest.raises(SqlError, match=message):
        plan(sql, "ticks")


def test_defaults_identities_and_serials_are_columns_facts():
    p = plan("CREATE TABLE t (id SERIAL PRIMARY KEY, n INT DEFAULT 7 NOT NULL, "
             "at TIMESTAMP DEFAULT current_timestamp, "
             "k BIGINT GENERATED ALWAYS AS IDENTITY (START WITH 10 INCREMENT BY 5), "
             "b BIGSERIAL, note VARCHAR COMMENT 'kept out')")
    columns = {c.name: c for c in p.columns}
    assert (columns["id"].sql_type, columns["id"].nullable) == ("INTEGER", False)
    assert (columns["id"].identity.start, columns["id"].identity.increment) == (1, 1)
    assert (columns["n"].default, columns["n"].nullable) == ("7", False)
    assert columns["at"].default == "CURRENT_TIMESTAMP" and columns["at"].identity is None
    assert (columns["k"].identity.start, columns["k"].identity.increment) == (10, 5)
    assert columns["k"].identity.always and not columns["id"].identity.always
    assert columns["b"].sql_type == "BIGINT" and columns["b"].identity.sequence == "b"
    assert columns["note"].default is None and columns["note"].identity is None


def test_a_named_primary_key_and_indexes_as_postgresql_schemas_write_them():
    p = plan("CREATE TABLE v (num VARCHAR(32) NOT NULL, CONSTRAINT v_pkc PRIMARY KEY (num))")
    assert p.primary_key == ("num",) and p.shard_key == ("num",)
    # a key bucket() cannot take (BOOLEAN, a float) is no shard key: the rows spread by row id
    p = plan("CREATE TABLE f (x DOUBLE PRIMARY KEY, y INT)")
    assert p.primary_key == ("x",) and p.shard_key == ()
    assert plan("CREATE TABLE f (x DOUBLE, y INT, PRIMARY KEY (x, y))").shard_key == ("x", "y")
    index = plan("CREATE INDEX IF NOT EXISTS ix ON ticks USING btree (sym, ts DESC)", "ticks")
    assert index == planner.CreateIndex("ticks", "ix", ("sym", "ts"), unique=False,
                                        if_not_exists=True)
    assert plan("CREATE UNIQUE INDEX ON s.ticks (sym)", "s.ticks") == planner.CreateIndex(
        "s.ticks", None, ("sym",), unique=True)
    assert plan("CREATE INDEX ix ON ticks USING gin (lower(sym))", "ticks") == planner.NoIndex(
        "CREATE INDEX ix", "ticks", ())  # changes no result: not recorded
    assert plan('CREATE INDEX "t_sym_like" ON ticks ("sym" varchar_pattern_ops)', "ticks") == \
        planner.CreateIndex("ticks", "t_sym_like", ("sym",), unique=False)  # Django's
    assert plan("DROP INDEX IF EXISTS ix, s.iy CASCADE") == planner.DropIndex(("ix", "s.iy"), True)
    with pytest.raises(SqlError, match="a partial unique index"):
        plan("CREATE UNIQUE INDEX ux ON ticks (sym) WHERE sym > 'a'", "ticks")
    with pytest.raises(CatalogError, match="nope"):
        plan("CREATE INDEX ix ON nope (a)")


@pytest.mark.parametrize("sql, message", [
    ("CREATE TABLE t (a INT REFERENCES ticks (a) ON DELETE CASCADE)", "ON DELETE CASCADE: indb refuses"),
    ("CREATE TABLE t (a INT, FOREIGN KEY (a) REFERENCES ticks MATCH FULL)", "MATCH FULL is not"),
    ("CREATE TABLE t (a INT, FOREIGN KEY (b) REFERENCES ticks)", "FOREIGN KEY names b"),
    ("CREATE TABLE t (a INT, FOREIGN KEY (a) REFERENCES ticks (x, y))", "give as many"),
    ("CREATE TABLE t (a INT, b INT GENERATED ALWAYS AS ((SELECT 1)))", "no subquery"),
    ("CREATE TABLE t (a INT, b INT DEFAULT a)", "a DEFAULT is a constant"),
    ("CREATE TABLE t (a INT ON UPDATE now())", "column constraint ON UPDATE NOW.. is not supported"),
    ("CREATE TABLE t (a SERIAL DEFAULT 1)", "both a DEFAULT and an identity"),
])
def test_constraints_indb_does_not_enforce_are_refused(sql, message):
    with pytest.raises(SqlError, match=message) as caught:
        plan(sql)
    assert caught.value.line == 1 and caught.value.col is not None


def test_existing_table_cannot_be_created_again():
    with pytest.raises(CatalogError, match="already exists"):
        plan("CREATE TABLE ticks (a INT)", "ticks")
    assert plan("CREATE TABLE IF NOT EXISTS ticks (a INT)", "ticks").if_not_exists


@pytest.mark.parametrize("sql", ["INSERT INTO nope VALUES (1)", "DELETE FROM nope", "DROP TABLE nope",
                                 "DESCRIBE nope"])
def test_unknown_tables_are_refused(sql):
    with pytest.raises(CatalogError, match="nope does not exist"):
        plan(sql)


def test_drop_if_exists_plans_without_the_table():
    assert plan("DROP TABLE IF EXISTS nope") == planner.DropTable(("nope",), True)


def test_delete_keeps_its_condition_as_a_tree():
    p = plan("DELETE FROM ticks WHERE px > 2 AND sym = 'A'", "ticks")
    assert p.table == "ticks" and p.where.sql(dialect="duckdb") == "px > 2 AND sym = 'A'"
    assert plan("DELETE FROM ticks", "ticks").where is None


def test_queries_pass_through():
    assert plan("SELECT 1 AS x") == planner.Query("SELECT 1 AS x")
    assert isinstance(plan("DESCRIBE SELECT 1"), planner.Query)
    assert plan("SHOW TABLES") == planner.ShowTables()
    assert plan("SHOW DATABASES") == planner.Query("SELECT 'indb' AS database_name")
    assert plan("DESCRIBE ticks", "ticks") == planner.DescribeTable("ticks")


def test_ctas_takes_shard_key_from_options():
    p = plan("CREATE TABLE d WITH (SHARD_KEY = 'sym') AS SELECT 'a' AS sym")
    assert p.shard_key == ("sym",) and p.query == "SELECT 'a' AS sym" and p.columns == ()


# -- functions ---------------------------------------------------------------------------------

def test_execute_function_plan():
    p = plan("EXECUTE FUNCTION score(INPUT_TABLE_NAMES => INPUT_TABLES(ticks, (SELECT a FROM ticks t JOIN p USING (k))),"
             " OUTPUT_TABLE_NAMES => OUTPUT_TABLES('Out'), PARAMS => KV_PAIRS(threshold = '0.5'),"
             " OPTIONS => KV_PAIRS(run_tag = 'x', timeout = '30'))", "ticks", "p")
    assert p.function == SCORE
    assert p.inputs[0] == planner.InputSpec(None, ("ticks",))
    assert p.inputs[1].tables == ("ticks", "p") and p.inputs[1].sql.startswith("SELECT a FROM ticks")
    assert (p.outputs, p.params) == (("out",), (("threshold", "0.5"),))
    # options arrive parsed: numbers as numbers, flags as booleans
    assert p.options == planner.RunOptions(run_tag="x", timeout=30.0)


def test_run_options_merge_the_functions_own_under_the_runs():
    p = plan("EXECUTE FUNCTION limited(INPUT_TABLE_NAMES => INPUT_TABLE(ticks), "
             "OPTIONS => KV_PAIRS(nowait = 'TRUE', timeout = '2.5'))", "ticks")
    assert p.options == planner.RunOptions(timeout=2.5, nowait=True, max_concurrency_per_node=1)


@pytest.mark.parametrize("sql, message, where", [
    ("EXECUTE FUNCTION score(INPUT_TABLE_NAMES => INPUT_TABLE(ticks),\n  PARAMZ => KV_PAIRS(a = 'b'))",
     "unknown argument PARAMZ", (2, 3)),
    ("EXECUTE FUNCTION score(INPUT_TABLE_NAMES => INPUT_TABLE(ticks),\n PARAMS => KV_PAIRS(limit = '1'))",
     "score has no parameter limit; it takes threshold", (2, 21)),
    ("EXECUTE FUNCTION score(INPUT_TABLE_NAMES => INPUT_TABLE(ticks), OPTIONS => KV_PAIRS(timeout = 'soon'))",
     "timeout is in seconds", (1, 85)),
    ("EXECUTE FUNCTION score(INPUT_TABLE_NAMES => INPUT_TABLE(ticks), OPTIONS => KV_PAIRS(colour = 'red'))",
     "unknown OPTIONS key colour", (1, 85)),
    ("EXECUTE FUNCTION score(INPUT_TABLE_NAMES => ticks + 1)", "INPUT_TABLE_NAMES takes", (1, 45)),
    ("EXECUTE FUNCTION score(INPUT_TABLE_NAMES => INPUT_TABLE(ticks), OUTPUT_TABLE_NAMES => OUTPUT_TABLES('a', 'a'))",
     "named twice", None),
    ("SELECT * FROM TABLE(score(INPUT_TABLE_NAMES => INPUT_TABLE(ticks), OUTPUT_TABLE_NAMES => OUTPUT_TABLES('a')))",
     "takes no OUTPUT_TABLE_NAMES", None),
    ("SELECT * FROM TABLE(score(INPUT_TABLE_NAMES => INPUT_TABLE(ticks), OPTIONS => KV_PAIRS(nowait = 'true')))",
     "cannot run with nowait", None),
])
def test_execute_function_errors_point_at_the_problem(sql, message, where):
    with pytest.raises(SqlError, match=message) as caught:
        plan(sql, "ticks")
    if where:
        assert (caught.value.line, caught.value.col) == where


def test_execute_unknown_function_or_input_table():
    with pytest.raises(CatalogError, match="function nope does not exist"):
        plan("EXECUTE FUNCTION nope(INPUT_TABLE_NAMES => INPUT_TABLE(ticks))", "ticks")
    with pytest.raises(CatalogError, match="table missing does not exist"):
        plan("EXECUTE FUNCTION score(INPUT_TABLE_NAMES => INPUT_TABLE(SELECT * FROM missing))", "ticks")


def test_table_function_becomes_a_table_the_query_reads():
    p = plan("SELECT s.k, count(*) FROM TABLE(score(INPUT_TABLE_NAMES => INPUT_TABLE(ticks))) s "
             "WHERE s.k > 1 GROUP BY 1", "ticks")
    assert isinstance(p, planner.QueryWithFunctions)
    assert p.sql == "SELECT s.k, COUNT(*) FROM __indb_tf_0 AS s WHERE s.k > 1 GROUP BY 1"
    assert p.calls[0].function.name == "score" and p.calls[0].outputs == ()


def test_create_function_file_form():
    p = plan("CREATE FUNCTION f RETURNS TABLE (id BIGINT) MODE = 'nondistributed' RUN_COMMAND = 'python' "
             "RUN_COMMAND_ARGS = 'f.py --fast' FILE PATHS 'udfs/f.py', 'udfs/lib.py' "
             "WITH OPTIONS (max_concurrency_per_node = '1')")
    assert (p.name, p.mode, p.entry, p.run_command_args, p.file_paths) == (
        "f", "nondistributed", "udfs/f.py", ("f.py", "--fast"), ("udfs/f.py", "udfs/lib.py"))
    assert [(c.name, c.sql_type) for c in p.returns] == [("id", "BIGINT")]
    assert p.options == (("max_concurrency_per_node", "1"),) and p.body is None


def test_create_function_inline_form_reads_the_handler_from_the_code():
    p = plan("CREATE FUNCTION g LANGUAGE PYTHON AS $$\nfrom indb import udf\n"
             "@udf.function(frame='pandas', params=['k'])\ndef g(ctx, t):\n    return t\n$$")
    assert (p.code.style, p.code.handler, p.code.frame, p.code.params) == ("handler", "g", "pandas", ("k",))


def test_syntax_error_in_inline_code_points_into_the_statement():
    sql = "CREATE FUNCTION g LANGUAGE PYTHON HANDLER 'g' AS $$\ndef g(ctx, t):\n    return t +\n$$"
    with pytest.raises(SqlError, match="syntax error in line 3 of the code") as caught:
        plan(sql)
    assert caught.value.line == 3


@pytest.mark.parametrize("sql, message", [
    ("CREATE FUNCTION f MODE = 'sideways' RUN_COMMAND = 'python' FILE PATHS 'f.py'", "MODE must be"),
    ("CREATE FUNCTION f RUN_COMMAND = 'java' FILE PATHS 'f.jar'", "RUN_COMMAND 'java' is not supported"),
    ("CREATE FUNCTION f MODE = 'distributed'", "give the code either inline"),
    ("CREATE FUNCTION f RUN_COMMAND = 'python' RUN_COMMAND_ARGS = 'g.py' FILE PATHS 'f.py'", "not among FILE PATHS"),
    ("CREATE FUNCTION f LANGUAGE R AS $$x$$", "LANGUAGE R is not supported"),
    ("CREATE FUNCTION g LANGUAGE PYTHON HANDLER 'h' AS $$\ndef g(ctx): pass\n$$", "defines no function h"),
    ("CREATE FUNCTION score LANGUAGE PYTHON AS $$\ndef score(ctx): pass\n$$", "already exists"),
    ("CREATE FUNCTION f RUN_COMMAND = 'python' FILE PATHS 'f.py' WITH OPTIONS (colour = 'red')", "unknown WITH OPTIONS key"),
    ("CREATE FUNCTION f RUN_COMMAND = 'python' FILE PATHS 'f.py' WITH OPTIONS (timeout = '-1')",
     "timeout is in seconds, a number above 0"),
    ("CREATE FUNCTION f RUN_COMMAND = 'python' RUN_COMMAND_ARGS = 'f.py \"x' FILE PATHS 'f.py'",
     "RUN_COMMAND_ARGS cannot be split"),
])
def test_create_function_errors(sql, message):
    with pytest.raises((SqlError, CatalogError, FunctionError), match=message):
        plan(sql)


def test_function_catalog_statements():
    assert plan("SHOW FUNCTION *") == planner.ShowFunction(None)
    assert plan("SHOW FUNCTIONS") == planner.ShowFunction(None, listing=True)
    assert plan("SHOW FUNCTION score") == planner.ShowFunction("score")
    assert plan("DESCRIBE FUNCTION score") == planner.DescribeFunction("score")
    assert plan("DROP FUNCTION IF EXISTS score") == planner.DropFunction("score", True)
    # no indb function of the name: DuckDB's DROP FUNCTION of a macro
    assert plan("DROP FUNCTION IF EXISTS nope") == planner.macros.DropMacro("nope", True, True)
    assert plan("SHOW FUNCTION STATUS") == planner.ShowFunctionStatus(False, None)
    assert plan("SHOW FUNCTION STATUS VERBOSE FOR 'r1'") == planner.ShowFunctionStatus(True, "r1")
    assert plan("KILL FUNCTION 'r1'") == planner.KillFunction("r1")


# -- models ------------------------------------------------------------------------------------

def test_predict_is_bound_to_a_model_version_wherever_it_appears():
    p = plan("INSERT INTO ticks SELECT PREDICT('digits', 'production', px) FROM ticks "
             "WHERE PREDICT('digits', px) > 1", "ticks")
    assert isinstance(p, planner.WithPredictions) and isinstance(p.plan, planner.Insert)
    assert p.predictions == (planner.Prediction("__indb_predict_digits_v2", "digits", 2),)
    assert "__indb_predict_digits_v2(px)" in p.plan.staged_sql.lower()  # DuckDB: case-insensitive


def test_predict_checks_the_column_count_against_the_model_width():
    with pytest.raises(SqlError, match="takes 64 values a row; PREDICT gave it 2 columns") as caught:
        plan("SELECT PREDICT('digits', a, b) FROM ticks", "ticks")
    assert (caught.value.line, caught.value.col) == (1, 26)
    with pytest.raises(SqlError, match="needs the columns"):
        plan("SELECT PREDICT('digits') FROM ticks", "ticks")
    with pytest.raises(SqlError, match="not available yet"):
        plan("EXECUTE FUNCTION score(INPUT_TABLE_NAMES => INPUT_TABLE(SELECT PREDICT('digits', x) FROM ticks))", "ticks")


def test_model_statements():
    assert plan("SHOW MODELS") == planner.ShowModels()
    assert plan("DESCRIBE MODEL digits") == planner.DescribeModel("digits")
    assert plan("DROP MODEL digits VERSION 2") == planner.DropModel("digits", 2, False)
    assert plan("ALTER MODEL digits SET ALIAS Production = 2") == planner.AlterModelAlias("digits", "production", 2)
    assert plan("CREATE MODEL m FROM FILE 'a.onnx'") == planner.CreateModel("m", "a.onnx", None)
    with pytest.raises(SqlError, match="output is one of"):
        plan("CREATE MODEL m FROM FILE 'a.onnx' WITH (output = 'banana')")
    with pytest.raises(CatalogError, match="no version 9"):
        plan("ALTER MODEL digits SET ALIAS production = 9")
    for sql in ("DROP MODEL digits VERSION 1.", "ALTER MODEL digits SET ALIAS p = 1."):
        with pytest.raises(SqlError, match="a model version is a whole number"):
            plan(sql)


def test_the_planner_imports_without_duckdb():
    code = "import sys, indb.planner; sys.exit('duckdb' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code]).returncode == 0


# -- Kinetica's table DDL (issue 13) ---------------------------------------------------------

def test_create_or_replace_table_plans_a_replacement():
    p = plan("CREATE OR REPLACE TABLE ticks (a INT)", "ticks")
    assert p.replace and p.name == "ticks" and not p.if_not_exists
    assert plan("CREATE OR REPLACE TABLE t AS SELECT 1 AS x").replace


def test_create_table_as_with_no_data_takes_the_columns_and_no_rows():
    """PostgreSQL's CREATE TABLE ... AS query WITH [NO] DATA."""
    assert plan("CREATE TABLE t AS SELECT a, b FROM src WITH NO DATA", "src").query == \
        "SELECT * FROM (SELECT a, b FROM src) AS indb_no_data LIMIT 0"
    assert plan("CREATE TABLE t AS SELECT a FROM src WITH DATA", "src").query == "SELECT a FROM src"
    with pytest.raises(SqlError, match="WITH NO DATA goes with CREATE TABLE ... AS query"):
        plan("CREATE TABLE t (a INT) WITH NO DATA")


def test_primary_key_becomes_the_shard_key_when_there_is_none():
    p = plan("CREATE TABLE t (a INT, b VARCHAR, c DOUBLE, PRIMARY KEY (a, B))")
    assert p.primary_key == ("a", "b") and p.shard_key == ("a", "b")
    assert [(c.name, c.nullable) for c in p.columns] == [("a", False), ("b", False), ("c", True)]
    p = plan("CREATE TABLE t (a INT, b INT, PRIMARY KEY (a, b), SHARD KEY (a))")
    assert (p.primary_key, p.shard_key) == (("a", "b"), ("a",))
    p = plan("CREATE TABLE t (a INT PRIMARY KEY, b INT)")
    assert (p.primary_key, p.shard_key) == (("a",), ("a",))
    p = plan("CREATE REPLICATED TABLE t (a INT PRIMARY KEY)")
    assert (p.primary_key, p.shard_key, p.replicated) == (("a",), (), True)


def test_schema_qualified_names():
    p = plan("CREATE TABLE kin.Events (a INT)")
    assert p.name == "kin.events"
    assert plan("CREATE TABLE main.t (a INT)").name == "t"
    assert plan("INSERT INTO kin.events VALUES (1)", "kin.events").table == "kin.events"
    assert plan("DROP TABLE kin.events", "kin.events").names == ("kin.events",)
    assert plan("DESCRIBE kin.events", "kin.events").name == "kin.events"
    with pytest.raises(CatalogError, match="table kin.events does not exist"):
        plan("DELETE FROM kin.events", "events")


def test_schema_statements():
    assert plan("CREATE SCHEMA Lab") == planner.CreateSchema("lab", False)
    assert plan("CREATE SCHEMA IF NOT EXISTS kin") == planner.CreateSchema("kin", True)
    assert plan("DROP SCHEMA kin CASCADE") == planner.DropSchema("kin", False, True)
    assert plan("DROP SCHEMA IF EXISTS nope") == planner.DropSchema("nope", True, False)
    assert plan("SHOW SCHEMAS") == planner.ShowSchemas()
    with pytest.raises(CatalogError, match="schema kin already exists"):
        plan("CREATE SCHEMA kin")
    with pytest.raises(CatalogError, match="schema nope does not exist"):
        plan("DROP SCHEMA nope")


def test_select_top_is_a_limit():
    assert plan("SELECT TOP 3 * FROM ticks ORDER BY px DESC", "ticks").sql == \
        "SELECT * FROM ticks ORDER BY px DESC LIMIT 3"
    assert plan("SELECT top FROM ticks", "ticks").sql == "SELECT top FROM ticks"


@pytest.mark.parametrize("arguments, specs", [
    ("INPUT_TABLE_NAMES => (SELECT id FROM kin.events WHERE id > 1)",
     [("SELECT id FROM kin.events WHERE id > 1", ("kin.events",))]),
    ("INPUT_TABLE_NAMES => kin.events", [(None, ("kin.events",))]),
    ("INPUT_TABLE_NAMES => 'kin.events'", [(None, ("kin.events",))]),
    ("INPUT_TABLE_NAMES => ticks", [(None, ("ticks",))]),
    ("INPUT_TABLE_NAMES => INPUT_TABLE(kin.events)", [(None, ("kin.events",))]),
    ("INPUT_TABLE_NAMES => INPUT_TABLES(ticks, (SELECT * FROM main.ticks JOIN kin.events USING (id)))",
     [(None, ("ticks",)), ("SELECT * FROM main.ticks JOIN kin.events USING (id)",
                           ("ticks", "kin.events"))]),
])
def test_input_table_names_forms_kinetica_documents(arguments, specs):
    p = plan(f"EXECUTE FUNCTION score({arguments})", "ticks", "kin.events")
    assert [(s.sql, s.tables) for s in p.inputs] == specs


def test_output_tables_may_name_a_schema():
    p = plan("EXECUTE FUNCTION score(INPUT_TABLE_NAMES => ticks, "
             "OUTPUT_TABLE_NAMES => OUTPUT_TABLES('kin.out', 'main.out2', 'kin.events'))",
             "ticks", "kin.events")
    assert p.outputs == ("kin.out", "out2", "kin.events")
    for bad, message in [("'nope.out'", "schema nope does not exist"),
                         ("'kin.a;b'", "not a valid table name"),
                         ("'a.b.c'", "not a valid table name")]:
        with pytest.raises(SqlError, match=message):
            plan(f"EXECUTE FUNCTION score(OUTPUT_TABLE_NAMES => OUTPUT_TABLES({bad}))", "ticks")


def test_run_command_args_as_kinetica_lists_them():
    p = plan("CREATE FUNCTION f RUN_COMMAND = 'python3' RUN_COMMAND_ARGS = 'f.py', '--name', "
             "'a b' FILE PATHS 'udfs/f.py'")
    assert (p.run_command, p.run_command_args) == ("python3", ("f.py", "--name", "a b"))
    assert "RUN_COMMAND_ARGS = 'f.py', '--name', 'a b'" in p.ddl
    one = plan("CREATE FUNCTION f RUN_COMMAND_ARGS = 'f.py --name \"a b\"' FILE PATHS 'udfs/f.py'")
    assert one.run_command_args == ("f.py", "--name", "a b")


def test_max_concurrency_per_node_zero_means_no_limit():
    p = plan("EXECUTE FUNCTION limited(OPTIONS => KV_PAIRS(max_concurrency_per_node = '0'))")
    assert p.options.max_concurrency_per_node is None  # LIMITED's own option was 1
    p = plan("CREATE FUNCTION f RUN_COMMAND_ARGS = 'f.py' FILE PATHS 'f.py' "
             "WITH OPTIONS (max_concurrency_per_node = '0')")
    assert p.options == (("max_concurrency_per_node", "0"),)
    with pytest.raises(SqlError, match="0 for no limit"):
        plan("EXECUTE FUNCTION limited(OPTIONS => KV_PAIRS(max_concurrency_per_node = '-1'))")


def test_table_functions_take_kineticas_input_forms_too():
    p = plan("SELECT * FROM TABLE(score(INPUT_TABLE_NAMES => (SELECT * FROM kin.events WHERE id > 1)))",
             "kin.events")
    assert [c.inputs for c in p.calls] == [
        (planner.InputSpec("SELECT * FROM kin.events WHERE id > 1", ("kin.events",)),)]
    p = plan("SELECT * FROM TABLE(score(INPUT_TABLE_NAMES => kin.events))", "kin.events")
    assert [c.inputs for c in p.calls] == [(planner.InputSpec(None, ("kin.events",)),)]


def test_kinetica_column_properties_name_the_keys():
    p = plan("CREATE TABLE t (id INTEGER(PRIMARY_KEY), r VARCHAR(32, PRIMARY_KEY, SHARD_KEY), "
             "name VARCHAR(64, DICT, TEXT_SEARCH), cost DECIMAL(10, 2, STORE_ONLY), x DOUBLE)")
    assert (p.primary_key, p.shard_key) == (("id", "r"), ("r",))
    assert [(c.name, c.sql_type, c.nullable) for c in p.columns] == [
        ("id", "INTEGER", False), ("r", "VARCHAR", False), ("name", "VARCHAR", True),
        ("cost", "DECIMAL(10,2)", True), ("x", "DOUBLE", True)]
    assert plan("CREATE TABLE t (id BIGINT(SHARD_KEY), v DOUBLE)").shard_key == ("id",)
    for sql, message in [
        ("CREATE TABLE t (v VARCHAR(INIT_WITH_UUID))", "column property INIT_WITH_UUID is not supported"),
        ("CREATE TABLE t (id INT(SHARD_KEY), SHARD KEY (id))", "shard key is given twice"),
        ("CREATE TABLE t (id INT(PRIMARY_KEY), PRIMARY KEY (id))", "one PRIMARY KEY"),
        ("CREATE TABLE t (id INT(PRIMARY_KEY), k INT(SHARD_KEY))", "must include its SHARD KEY"),
    ]:
        with pytest.raises(SqlError, match=message):
            plan(sql)
    assert plan("SELECT CAST(px AS VARCHAR(10)) FROM ticks", "ticks").sql == \
        "SELECT CAST(px AS TEXT) FROM ticks"  # a length still means nothing to DuckDB


def test_create_table_as_names_the_query_s_columns():
    created = plan("CREATE TABLE t (a, b) AS SELECT sym, px FROM ticks", "ticks")
    assert created.query == "SELECT * FROM (SELECT sym, px FROM ticks) AS indb_ctas(a, b)"
