"""Names: what indb accepts for what it creates, and that no name can reach outside it."""

import pytest
from pyiceberg.schema import NestedField, Schema
from pyiceberg.types import LongType

import indb
from indb.catalog.names import (MAX_NAME, checked_column_name, checked_name, directory_name,
                                split_name)
from indb.errors import SchemaError


@pytest.mark.parametrize("name", ["t", "Ticks_2026", "_x", "a" * MAX_NAME])
def test_plain_identifiers_are_table_names(name):
    assert checked_name(name) == name.lower()


@pytest.mark.parametrize("name", ["sales data", "Sales-2024", "Umsätze", "_a - b", "a  b"])
def test_table_and_view_names_may_hold_spaces_and_dashes(name):
    assert checked_name(name) == checked_name(name, "view") == name.lower()
    with pytest.raises(SchemaError, match="not a valid function name: use letters, digits and _"):
        checked_name(name, "function")  # other names stay plain identifiers
    assert split_name(f"s.{name.lower()}") == ("s", name.lower())


@pytest.mark.parametrize("name", [" lead", "trail ", "-dash", "9 lives", "a\tb", "a.b"])
def test_a_table_name_starts_with_a_letter_and_ends_in_no_space(name):
    with pytest.raises(SchemaError, match="starting with a letter or _ and not ending in a space"):
        checked_name(name)


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
    "CREATE TABLE \"a b;\" AS SELECT 1 AS x",
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


def test_a_table_of_spaces_and_dashes_is_used_as_any_other(fresh):
    """Names as pandas' to_sql and spreadsheets make them: every statement on them, and each a
    directory of its own in the warehouse (two names of one cleaned directory included)."""
    fresh.sql('CREATE TABLE "Sales Data" (id INTEGER, "unit price" DOUBLE)')
    fresh.sql('INSERT INTO "sales data" VALUES (1, 2.5), (2, 4.0)')
    fresh.sql('CREATE TABLE sales_data (id INTEGER)')
    fresh.sql('UPDATE "Sales Data" SET "unit price" = 3.0 WHERE id = 1')
    fresh.sql('CREATE SCHEMA s')
    fresh.sql('CREATE TABLE s."Umsätze-2024" AS SELECT * FROM "sales data"')
    fresh.sql('ALTER TABLE s."umsätze-2024" RENAME TO "year end"')
    fresh.sql('ALTER TABLE s."year end" ADD COLUMN "in stock" BOOLEAN DEFAULT true')
    fresh.sql('CREATE VIEW "cheap ones" AS SELECT id FROM s."year end" WHERE "unit price" < 3.5')
    assert fresh.sql('SELECT * FROM "cheap ones"').fetchall() == [(1,)]
    assert fresh.sql('SELECT * FROM s."year end" ORDER BY id').fetchall() == [
        (1, 3.0, True), (2, 4.0, True)]
    assert sorted(r[0] for r in fresh.sql("SHOW TABLES").fetchall()) == [
        "s.year end", "sales data", "sales_data"]
    directories = sorted(p.name for p in (fresh.path / "warehouse" / "main").iterdir())
    assert directories[0] == "sales_data" and directories[1].startswith("sales_data-")
    assert [p.name for p in (fresh.path / "warehouse" / "s").iterdir()] == [
        directory_name("umsätze-2024")]  # a rename keeps the directory
    fresh.sql('DROP VIEW "cheap ones"')
    fresh.sql('DROP TABLE "sales data"')
    fresh.sql('DROP TABLE s."year end"')
    assert [r[0] for r in fresh.sql("SHOW TABLES").fetchall()] == ["sales_data"]


def spelling(conn, name):
    return conn._engine.db.load(name)[1].spelling


def test_a_quoted_name_keeps_its_spelling_and_is_matched_in_any_case(fresh):
    """PostgreSQL's clients look a table up by its name as they quoted it (SQLAlchemy's
    has_table, pandas' to_sql): the spelling is kept, beside the lower-case catalog name."""
    fresh.sql('CREATE TABLE "MyFrame" (x INTEGER)')
    fresh.sql('CREATE TABLE Unquoted (x INTEGER)')  # folds to lower case, as in PostgreSQL
    fresh.sql('CREATE TABLE "Made As" AS SELECT 1 AS x')
    assert spelling(fresh, "myframe") == "MyFrame" and spelling(fresh, "made as") == "Made As"
    assert spelling(fresh, "unquoted") is None
    # SHOW CREATE TABLE (and EXPORT DATABASE) write it quoted, so that it comes back spelled
    ddl = fresh.sql('SHOW CREATE TABLE myframe').fetchall()[0][0]
    assert ddl.startswith('CREATE TABLE "MyFrame" (')
    fresh.sql("INSERT INTO MYFRAME VALUES (1)")
    assert fresh.sql('SELECT x FROM "myframe"').fetchall() == [(1,)]
    fresh.sql('ALTER TABLE myframe ADD COLUMN y INTEGER')  # a rewrite keeps it
    assert spelling(fresh, "myframe") == "MyFrame"
    fresh.sql('ALTER TABLE myframe RENAME TO "NewName"')
    assert spelling(fresh, "newname") == "NewName"
    fresh.sql('ALTER TABLE newname RENAME TO myframe')  # unquoted: no spelling, none left behind
    assert spelling(fresh, "myframe") is None
    assert "indb.spelling" not in fresh._engine.db.load("myframe")[0].properties
    with pytest.raises(indb.CatalogError, match="already exists"):
        fresh.sql('CREATE TABLE "MYFRAME" (x INTEGER)')
    # the constraints it names are named after it as spelled, as PostgreSQL names them
    fresh.sql('CREATE TABLE parent (x INTEGER PRIMARY KEY)')
    fresh.sql('CREATE TABLE "Child Tab" (id INT PRIMARY KEY, up INT REFERENCES parent (x), '
              'v INT UNIQUE, CHECK (v > 0))')
    child = fresh._engine.db.load("child tab")[1]
    assert [child.checks[0][0], child.uniques[0][0], child.foreign_keys[0].name] == [
        "Child Tab_v_check", "Child Tab_v_key", "Child Tab_up_fkey"]
