"""CHECK and UNIQUE constraints: made with a table or added to it, enforced by every write (INSERT,
UPDATE, loads, function runs), dropped, and following a renamed column; ``indb.engine.constraints``
and ``indb.query.keys.check_constraints`` / ``check_uniques``; their violations' SQLSTATEs
through the PostgreSQL port."""

from __future__ import annotations

import psycopg
import pyarrow as pa
import pytest

import indb
from serving import Served


def described(conn, table, kind="check"):
    """The constraints of a kind DESCRIBE lists: (name, condition or columns)."""
    return [(name[len(f"# {kind} "):], value) for name, value, _ in
            conn.sql(f"DESCRIBE {table}").fetchall() if name.startswith(f"# {kind} ")]


def test_checks_made_with_a_table_are_named_as_postgresql_names_them(fresh):
    # (the names PostgreSQL 15 gives this table: a check of one column is named by it,
    # wherever it is written; one of several columns is the table's)
    fresh.sql("CREATE TABLE items (id INT, price DOUBLE CHECK (price > 0), "
              "qty INT CONSTRAINT qty_pos CHECK (qty >= 0), CHECK (qty < 1000), CHECK (id <> 7), "
              "y INT CHECK (y > id))")
    assert described(fresh, "items") == [
        ("items_price_check", "price > 0"), ("qty_pos", "qty >= 0"), ("items_qty_check", "qty < 1000"),
        ("items_id_check", "id <> 7"), ("items_check", "y > id")]
    fresh.sql("ALTER TABLE items ADD CHECK (qty > -5)")  # no CONSTRAINT name, as PostgreSQL's
    fresh.sql("ALTER TABLE items ADD CHECK (qty > id)")
    assert described(fresh, "items")[-2:] == [("items_qty_check1", "qty > -5"),
                                              ("items_check1", "qty > id")]


def test_every_write_is_checked_and_a_null_passes(fresh):
    fresh.sql("CREATE TABLE items (id INT, price DOUBLE CHECK (price > 0), qty INT "
              "CONSTRAINT qty_pos CHECK (qty >= 0))")
    fresh.sql("INSERT INTO items VALUES (1, 1.5, 2), (2, NULL, 3)")  # NULL is not false
    with pytest.raises(indb.DataError, match=r"violates check constraint items_price_check "
                                             r"\(price > 0\); nothing was written"):
        fresh.sql("INSERT INTO items VALUES (3, 2.0, 1), (4, -1.0, 1)")
    with pytest.raises(indb.DataError, match="qty_pos"):
        fresh.sql("UPDATE items SET qty = qty - 3")
    with pytest.raises(indb.DataError, match="qty_pos"):
        fresh.load("items", pa.table({"id": pa.array([5], pa.int32()), "price": [1.0],
                                      "qty": pa.array([-1], pa.int32())}))
    with pytest.raises(indb.DataError, match="qty_pos"):
        fresh.sql("MERGE INTO items USING (SELECT 1 AS id) AS s ON items.id = s.id "
                  "WHEN MATCHED THEN UPDATE SET qty = -5")
    assert fresh.sql("SELECT id, price, qty FROM items ORDER BY id").fetchall() == [
        (1, 1.5, 2), (2, None, 3)]  # none of the refused writes left a row


def test_a_function_run_s_rows_are_checked(fresh):
    fresh.sql("CREATE TABLE src (id BIGINT, SHARD KEY (id)) WITH (SHARDS = 2)")
    fresh.sql("INSERT INTO src SELECT range FROM range(10)")
    fresh.sql("CREATE TABLE small (id BIGINT CHECK (id < 5)) WITH (SHARDS = 2)")
    fresh.sql("CREATE FUNCTION ident LANGUAGE PYTHON AS $$\ndef ident(ctx, t):\n    return t\n$$")
    with pytest.raises(indb.RunError, match="violates check constraint small_id_check"):
        fresh.sql("EXECUTE FUNCTION ident(INPUT_TABLE_NAMES => src, "
                  "OUTPUT_TABLE_NAMES => OUTPUT_TABLES('small'))")
    assert fresh.sql("SELECT count(*) FROM small").fetchone() == (0,)


def test_alter_table_adds_checks_the_rows_have_and_drops_them(fresh):
    fresh.sql("CREATE TABLE t (a INT, b INT)")
    fresh.sql("INSERT INTO t VALUES (1, 10), (2, 20)")
    with pytest.raises(indb.DataError, match="violates check constraint b_small"):
        fresh.sql("ALTER TABLE t ADD CONSTRAINT b_small CHECK (b < 15)")  # a row has b = 20
    assert described(fresh, "t") == []
    fresh.sql("ALTER TABLE t ADD CONSTRAINT b_small CHECK (b < 50)")
    with pytest.raises(indb.SqlError, match="has a constraint b_small already"):
        fresh.sql("ALTER TABLE t ADD CONSTRAINT b_small CHECK (b < 60)")
    with pytest.raises(indb.DataError, match="b_small"):
        fresh.sql("INSERT INTO t VALUES (3, 99)")
    fresh.sql("ALTER TABLE t RENAME COLUMN b TO bee")  # the check says the new name
    assert described(fresh, "t") == [("b_small", "bee < 50")]
    fresh.sql("ALTER TABLE t DROP CONSTRAINT b_small")
    fresh.sql("INSERT INTO t VALUES (3, 99)")
    fresh.sql("ALTER TABLE t DROP CONSTRAINT IF EXISTS b_small")
    with pytest.raises(indb.SqlError, match="has no CHECK, UNIQUE or FOREIGN KEY constraint b_small"):
        fresh.sql("ALTER TABLE t DROP CONSTRAINT b_small")


def test_a_check_is_a_condition_on_the_row(fresh):
    with pytest.raises(indb.SqlError, match="CHECK names b, which is not a column"):
        fresh.sql("CREATE TABLE t (a INT CHECK (b > 0))")
    with pytest.raises(indb.SqlError, match="no subquery, aggregate or window"):
        fresh.sql("CREATE TABLE t (a INT CHECK (a > (SELECT 1)))")
    fresh.sql("CREATE TABLE t (a INT)")
    with pytest.raises(indb.SqlError, match="no subquery, aggregate or window"):
        fresh.sql("ALTER TABLE t ADD CONSTRAINT c CHECK (a > max(a))")


def test_unique_values_across_shards_and_nulls_that_never_clash(fresh):
    fresh.sql("CREATE TABLE users (id INT PRIMARY KEY, name TEXT NOT NULL UNIQUE, email TEXT, "
              "region TEXT, CONSTRAINT mail UNIQUE (email, region)) WITH (SHARDS = 4)")
    assert described(fresh, "users", "unique") == [("users_name_key", "name"), ("mail", "email, region")]
    fresh.sql("INSERT INTO users VALUES (1, 'ann', NULL, 'eu'), (2, 'bob', NULL, 'eu')")  # NULLs
    with pytest.raises(indb.UniqueViolation, match="users_name_key: more than one row has "
                                                   "name = 'ann'; nothing was written"):
        fresh.sql("INSERT INTO users VALUES (3, 'ann', 'a@x', 'us')")  # another shard's id
    assert isinstance(indb.UniqueViolation("x"), indb.IntegrityError | indb.DataError)
    with pytest.raises(indb.UniqueViolation, match="mail"):
        fresh.sql("INSERT INTO users VALUES (3, 'cy', 'a@x', 'us'), (4, 'dee', 'a@x', 'us')")
    with pytest.raises(indb.UniqueViolation, match="users_name_key"):
        fresh.sql("UPDATE users SET name = 'ann' WHERE id = 2")
    fresh.sql("INSERT INTO users VALUES (3, 'cy', 'a@x', 'us'), (4, 'dee', 'a@x', 'eu')")
    assert fresh.sql("SELECT count(*) FROM users").fetchone() == (4,)


def test_a_float_or_boolean_primary_key_spreads_rows_and_is_checked_across_shards(fresh):
    """Iceberg's bucket() takes neither, so the key is no shard key (CREATE TABLE failed
    before): rows spread by row id, and a duplicate is found in whichever shard it lies."""
    fresh.sql("CREATE TABLE prices (px DOUBLE PRIMARY KEY, n INT) WITH (SHARDS = 4)")
    fresh.sql("INSERT INTO prices SELECT range + 0.5, range FROM range(5000)")
    (listed,) = [row for row in fresh.sql("SHOW TABLES").fetchall() if row[0] == "prices"]
    assert listed[2].startswith("(none: spread by row id)") and listed[5] == 4  # a file a shard
    for value in (0.5, 2017.5, 4999.5):  # whichever shard holds it
        with pytest.raises(indb.UniqueViolation, match=f"px = {value}"):
            fresh.sql("INSERT INTO prices VALUES (?, 99)", [value])
    fresh.sql("CREATE TABLE flags (on_ BOOLEAN PRIMARY KEY)")
    fresh.sql("INSERT INTO flags VALUES (true), (false)")
    with pytest.raises(indb.UniqueViolation):
        fresh.sql("INSERT INTO flags VALUES (true)")
    assert fresh.sql("SELECT count(*) FROM prices").fetchone() == (5000,)


def test_alter_table_adds_uniques_the_rows_have_and_renames_them(fresh):
    fresh.sql("CREATE TABLE t (a INT, b INT)")
    fresh.sql("INSERT INTO t VALUES (1, 10), (2, 10)")
    with pytest.raises(indb.UniqueViolation, match="t_b_key"):
        fresh.sql("ALTER TABLE t ADD CONSTRAINT t_b_key UNIQUE (b)")  # b = 10 twice
    fresh.sql("ALTER TABLE t ADD CONSTRAINT t_a_key UNIQUE (a)")
    fresh.sql("ALTER TABLE t RENAME COLUMN a TO aa")
    assert described(fresh, "t", "unique") == [("t_a_key", "aa")]
    with pytest.raises(indb.UniqueViolation):
        fresh.sql("INSERT INTO t VALUES (1, 30)")
    fresh.sql("ALTER TABLE t DROP CONSTRAINT t_a_key")
    fresh.sql("INSERT INTO t VALUES (1, 30)")


def test_postgresql_clients_hear_postgresql_s_sqlstates(tmp_path):
    path = tmp_path / "db"
    with indb.connect(path) as conn:
        conn.sql("CREATE TABLE u (id INT PRIMARY KEY, name TEXT UNIQUE, age INT CHECK (age >= 0))")
        conn.sql("INSERT INTO u VALUES (1, 'a', 1)")
    served = Served(path)
    try:
        with psycopg.connect(f"host=127.0.0.1 port={served.pg_port} dbname=indb user=admin",
                             autocommit=True) as conn:
            with pytest.raises(psycopg.errors.UniqueViolation):  # 23505, an IntegrityError
                conn.execute("INSERT INTO u VALUES (2, 'a', 1)")
            with pytest.raises(psycopg.errors.UniqueViolation):
                conn.execute("INSERT INTO u VALUES (1, 'b', 1)")  # the primary key's too
            with pytest.raises(psycopg.errors.CheckViolation):  # 23514
                conn.execute("INSERT INTO u VALUES (3, 'c', -1)")
            # the catalog names a check as the table does (SQLAlchemy's get_check_constraints)
            assert conn.execute("SELECT conname FROM pg_catalog.pg_constraint WHERE contype = 'c' "
                                "AND conrelid = 'u'::regclass").fetchall() == [("u_age_check",)]
    finally:
        served.stop()


def test_dropping_a_column_drops_the_constraints_and_indexes_that_name_it(fresh):
    """As PostgreSQL's DROP COLUMN does (Django's RemoveField counts on it)."""
    fresh.sql("CREATE TABLE t (a INT UNIQUE, b INT CHECK (b > 0), c INT, CHECK (b > c), "
              "CONSTRAINT bc UNIQUE (b, c))")
    fresh.sql("CREATE INDEX t_c ON t (c)")
    fresh.sql("CREATE UNIQUE INDEX t_ac ON t (a, c)")
    fresh.sql("ALTER TABLE t DROP COLUMN c")
    assert described(fresh, "t") == [("t_b_check", "b > 0")]
    assert described(fresh, "t", "unique") == [("t_a_key", "a")]
    assert described(fresh, "t", "index") == []
    fresh.sql("INSERT INTO t VALUES (1, 5), (2, 5)")  # bc went with c
    with pytest.raises(indb.UniqueViolation, match="t_a_key"):
        fresh.sql("INSERT INTO t VALUES (1, 6)")


def test_a_new_column_s_check_and_unique_hold_from_the_change_on(fresh):
    """As Django adds a PositiveIntegerField: ADD COLUMN c INT CHECK (c >= 0); the rows there
    are checked with the column's DEFAULT (or NULL) in them."""
    fresh.sql("CREATE TABLE t (id INT, b INT)")
    fresh.sql("INSERT INTO t VALUES (1, 5), (2, 6)")
    fresh.sql("ALTER TABLE t ADD COLUMN age INT NULL CHECK (age >= 0)")
    with pytest.raises(indb.CheckViolation, match="t_lvl_check"):
        fresh.sql("ALTER TABLE t ADD COLUMN lvl INT NOT NULL DEFAULT -1 CHECK (lvl >= 0)")
    with pytest.raises(indb.CheckViolation, match="lvl_above"):  # b is 6 in a row: 3 > 4 fails
        fresh.sql("ALTER TABLE t ADD COLUMN lvl INT DEFAULT 3 CONSTRAINT lvl_above CHECK (lvl > b - 2)")
    with pytest.raises(indb.UniqueViolation, match="t_code_key"):  # 'x' in both rows
        fresh.sql("ALTER TABLE t ADD COLUMN code TEXT DEFAULT 'x' UNIQUE")
    fresh.sql("ALTER TABLE t ADD COLUMN code TEXT UNIQUE")  # NULLs never clash
    assert described(fresh, "t") == [("t_age_check", "age >= 0")]
    assert described(fresh, "t", "unique") == [("t_code_key", "code")]
    assert [c.name for c in fresh.table("t").info.columns] == ["id", "b", "age", "code"]
    with pytest.raises(indb.CheckViolation, match="t_age_check"):
        fresh.sql("INSERT INTO t (id, age) VALUES (3, -1)")
    with pytest.raises(indb.UniqueViolation, match="t_code_key"):
        fresh.sql("INSERT INTO t (id, code) VALUES (3, 'a'), (4, 'a')")
    # a name given to the new column's constraint must be new to the table, as ADD CONSTRAINT's
    for taken in ("ALTER TABLE t ADD COLUMN n INT CONSTRAINT t_age_check CHECK (n > 0)",
                  "ALTER TABLE t ADD COLUMN n INT CONSTRAINT t_code_key UNIQUE",
                  "ALTER TABLE t ADD COLUMN n INT CONSTRAINT twice CHECK (n > 0) CONSTRAINT twice UNIQUE"):
        with pytest.raises(indb.SqlError, match="has a constraint (t_age_check|t_code_key|twice) "
                                                "already") as refused:
            fresh.sql(taken)
        assert (refused.value.line, refused.value.col) == (1, 26)  # at the new column
    assert [c.name for c in fresh.table("t").info.columns] == ["id", "b", "age", "code"]


def test_a_constraint_is_renamed_and_holds_as_before(fresh):
    """PostgreSQL's ALTER TABLE ... RENAME CONSTRAINT, of a CHECK and of a UNIQUE."""
    fresh.sql("CREATE TABLE t (id INT PRIMARY KEY, qty INT CHECK (qty >= 0), code TEXT UNIQUE)")
    fresh.sql("INSERT INTO t VALUES (1, 5, 'a')")
    assert fresh.sql("ALTER TABLE t RENAME CONSTRAINT t_qty_check TO qty_not_negative").message == \
        "altered table t: constraint t_qty_check is now qty_not_negative"
    fresh.sql("ALTER TABLE t RENAME CONSTRAINT t_code_key TO one_code")
    assert described(fresh, "t") == [("qty_not_negative", "qty >= 0")]
    assert described(fresh, "t", "unique") == [("one_code", "code")]
    with pytest.raises(indb.CheckViolation, match="qty_not_negative"):
        fresh.sql("INSERT INTO t VALUES (2, -1, 'b')")
    with pytest.raises(indb.UniqueViolation, match="one_code"):
        fresh.sql("INSERT INTO t VALUES (2, 1, 'a')")
    assert fresh.sql("SELECT count(*) FROM t").fetchone() == (1,)
    for statement, message in (
            ("ALTER TABLE t RENAME CONSTRAINT t_qty_check TO x",
             "no CHECK, UNIQUE or FOREIGN KEY constraint t_qty_check"),
            ("ALTER TABLE t RENAME CONSTRAINT one_code TO qty_not_negative",
             "has a constraint qty_not_negative already"),
            ("ALTER TABLE t RENAME CONSTRAINT one_code TO one_code", "has a constraint one_code already"),
            ("ALTER TABLE t RENAME CONSTRAINT t_pkey TO t_pk", "always called t_pkey")):
        with pytest.raises(indb.SqlError, match=message) as refused:
            fresh.sql(statement)
        assert (refused.value.line, refused.value.col) == (1, 33)  # at the constraint's name
    assert described(fresh, "t") == [("qty_not_negative", "qty >= 0")]
