import pytest

from indb import planner
from indb.errors import CatalogError, SqlError
from indb.parser import parse


class Catalog:
    default_shards = 8

    def __init__(self, *tables: str) -> None:
        self.tables = set(tables)

    def exists(self, name: str) -> bool:
        return name in self.tables


def plan(sql: str, *tables: str) -> planner.Plan:
    (tree,) = parse(sql)
    return planner.plan(tree, Catalog(*tables), sql)


def test_create_sharded_table():
    p = plan("CREATE TABLE Ticks (sym VARCHAR NOT NULL, px REAL[2], SHARD KEY (SYM)) WITH (SHARDS = 4)")
    assert p == planner.CreateTable("ticks", p.columns, ("sym",), 4, False)
    assert [(c.name, c.sql_type, c.nullable) for c in p.columns] == [
        ("sym", "VARCHAR", False), ("px", "FLOAT[2]", True)]


def test_default_shard_count_comes_from_the_catalog():
    assert plan("CREATE TABLE t (a INT)").shards == 8


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
    ("CREATE REPLICATED TABLE t (a INT, SHARD KEY (a))", "REPLICATED table has no SHARD KEY"),
    ("CREATE TABLE t (a INT, A INT)", "defined twice"),
    ("CREATE TABLE t (_indb_rowid INT)", "reserved"),
    ("CREATE TABLE t (a NOSUCHTYPE)", "unknown column type"),
    ("CREATE TABLE t (a UBIGINT)", "cannot be stored"),
    ("CREATE OR REPLACE TABLE t (a INT)", "DROP TABLE first"),
    ("CREATE VIEW v AS SELECT 1", "CREATE VIEW is not supported"),
    ("UPDATE ticks SET px = 1", "UPDATE statements are not supported"),
    ("SHOW FUNCTIONS", "SHOW FUNCTIONS statements are not supported"),
    ("CREATE TABLE other.t (a INT)", "one schema, main"),
])
def test_bad_statements_are_refused(sql, message):
    with pytest.raises(SqlError, match=message):
        plan(sql, "ticks")


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
    assert plan("DROP TABLE IF EXISTS nope") == planner.DropTable("nope", True)


def test_delete_keeps_its_condition_as_a_tree():
    p = plan("DELETE FROM ticks WHERE px > 2 AND sym = 'A'", "ticks")
    assert p.table == "ticks" and p.where.sql(dialect="duckdb") == "px > 2 AND sym = 'A'"
    assert plan("DELETE FROM ticks", "ticks").where is None


def test_queries_pass_through():
    assert plan("SELECT 1 AS x") == planner.Query("SELECT 1 AS x")
    assert isinstance(plan("DESCRIBE SELECT 1"), planner.Query)
    assert plan("SHOW TABLES") == planner.ShowTables()
    assert plan("DESCRIBE ticks", "ticks") == planner.DescribeTable("ticks")


def test_ctas_takes_shard_key_from_options():
    p = plan("CREATE TABLE d WITH (SHARD_KEY = 'sym') AS SELECT 'a' AS sym")
    assert p.shard_key == ("sym",) and p.query == "SELECT 'a' AS sym" and p.columns == ()
