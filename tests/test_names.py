"""Names: what indb accepts for what it creates, and that no name can reach outside it."""

import pytest
from pyiceberg.schema import NestedField, Schema
from pyiceberg.types import LongType

import indb
from indb.catalog.names import MAX_NAME, checked_column_name, checked_name
from indb.errors import SchemaError


@pytest.mark.parametrize("name", ["t", "Ticks_2026", "_x", "a" * MAX_NAME])
def test_plain_identifiers_are_table_names(name):
    assert checked_name(name) == name.lower()


@pytest.mark.parametrize("name, why", [
    ('a"b', "not a valid table name"), ("a'b", "not a valid"), ("main.victim", "not a valid"),
    ("a;b", "not a valid"), ("t(", "not a valid"), ("..", "not a valid"),
    ("../../../../esc", "not a valid"), ("", "empty"), ("9lives", "not a valid"),
    ("a" * (MAX_NAME + 1), "at most"), ("_indb_stage", "reserved"), ("__indb_tf_0", "reserved"),
])
def test_other_names_are_refused_saying_why(name, why):
    with pytest.raises(SchemaError, match=why):
        checked_name(name)


def test_column_names_may_hold_punctuation_but_not_control_characters():
    assert checked_column_name('my "odd" col;') == 'my "odd" col;'
    for bad in ("", "a\x00b", "_indb_rowid", "x" * 256):
        with pytest.raises(SchemaError):
            checked_column_name(bad)


@pytest.mark.parametrize("statement", [
    'CREATE TABLE "a""b" (x INTEGER)', "CREATE TABLE \"a'b\" (x INTEGER)",
    'CREATE TABLE "main.victim" (x INTEGER)', 'CREATE TABLE "a; b" (x INTEGER)',
    'CREATE TABLE "t(" (x INTEGER)', 'CREATE TABLE ".." (x INTEGER)', 'CREATE TABLE "" (x INTEGER)',
    'CREATE TABLE "../../../../esc" (x INTEGER)', "CREATE TABLE t ()",
    f"CREATE TABLE {'l' * 300} (x INTEGER)", 'CREATE TABLE t ("a\x01" INTEGER)',
    "CREATE TABLE \"a b\" AS SELECT 1 AS x",
    # schemas (issue 13): their names become directories and Iceberg namespaces too
    'CREATE SCHEMA "a""b"', "CREATE SCHEMA \"a'b\"", 'CREATE SCHEMA "a; b"', 'CREATE SCHEMA ".."',
    'CREATE SCHEMA "../../../../esc"', 'CREATE SCHEMA ""', f"CREATE SCHEMA {'s' * 300}",
    "CREATE SCHEMA _indb_x", "CREATE SCHEMA information_schema", 'CREATE SCHEMA "x.y"',
    'CREATE TABLE "../../esc".t (x INTEGER)', 'CREATE TABLE "a;b".t (x INTEGER)',
    'DROP SCHEMA "../../esc" CASCADE',
])
def test_hostile_names_are_refused_and_the_database_stays_usable(fresh, statement, tmp_path):
    fresh.sql("CREATE TABLE victim (x INTEGER)")
    fresh.sql("INSERT INTO victim VALUES (1)")
    with pytest.raises(indb.ProgrammingError) as caught:
        fresh.sql(statement)
    assert not isinstance(caught.value, indb.InternalError)
    assert fresh.sql("SELECT * FROM victim").fetchall() == [(1,)]
    assert [r[0] for r in fresh.sql("SHOW TABLES").fetchall()] == ["victim"]
    assert [r[0] for r in fresh.sql("SHOW SCHEMAS").fetchall()] == ["main"]
    assert [p.name for p in (fresh.path / "warehouse").iterdir()] == ["main"]
    assert not (tmp_path.parent / "esc").exists() and not (fresh.path.parent / "esc").exists()


def test_loads_and_function_outputs_check_new_names_too(fresh):
    import pyarrow as pa
    with pytest.raises(indb.OptionError, match="not a valid table name"):
        fresh.load("a.b", pa.table({"x": [1]}))
    fresh.sql("CREATE TABLE src (x INTEGER)")
    fresh.sql("CREATE FUNCTION f LANGUAGE PYTHON AS $$\ndef f(ctx, t):\n    return t\n$$")
    with pytest.raises(indb.SqlError, match="not a valid table name"):
        fresh.sql("EXECUTE FUNCTION f(INPUT_TABLE_NAMES => INPUT_TABLE(src), "
                  "OUTPUT_TABLE_NAMES => OUTPUT_TABLES('x; DROP TABLE src'))")
    with pytest.raises(indb.SqlError, match="not a valid function name"):
        fresh.sql('CREATE FUNCTION "f.g" LANGUAGE PYTHON AS $$\ndef f(ctx, t):\n    return t\n$$')


def test_a_database_that_holds_a_bad_name_still_opens_and_can_drop_it(tmp_path):
    path = tmp_path / "db"
    with indb.connect(path) as conn:
        conn.sql("CREATE TABLE good (x INTEGER)")
        conn.sql("INSERT INTO good VALUES (7)")
        # made behind indb's back, as an older version or another tool could have
        conn._engine.db.catalog.create_table(("main", 'main.v"ic;tim'),
                                             Schema(NestedField(1, "x", LongType())))
    with indb.connect(path) as conn:
        assert conn.sql("SELECT * FROM good").fetchall() == [(7,)]
        kinds = {r[0]: r[1] for r in conn.sql("SHOW TABLES").fetchall()}
        assert kinds["good"] == "sharded"
        assert kinds['main.v"ic;tim'].startswith("broken")  # not an indb table: no indb facts
        conn.sql('DROP TABLE "main.v""ic;tim"')
        assert [r[0] for r in conn.sql("SHOW TABLES").fetchall()] == ["good"]
