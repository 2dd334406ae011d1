"""Foreign keys: made with a table (a column's REFERENCES, the table's FOREIGN KEY) or added to
it, checked on both sides of every write (``indb.query.references``), and what a referenced
table may not undergo (``indb.engine.references``); the catalog's index of them
(``indb.catalog.references``); their SQLSTATE, psql's ``\\d`` and SQLAlchemy's reflection
through the PostgreSQL port."""

from __future__ import annotations

import subprocess

import psycopg
import pyarrow as pa
import pytest

import indb
from indb.catalog import references as index
from serving import Served


def keys(conn, table):
    """The foreign keys DESCRIBE lists: (name, columns, what they reference)."""
    return [(name[len("# foreign key "):], columns, referenced) for name, columns, referenced
            in conn.sql(f"DESCRIBE {table}").fetchall() if name.startswith("# foreign key ")]


@pytest.fixture()
def shop(fresh):
    fresh.sql("CREATE TABLE customers (id INT PRIMARY KEY, email VARCHAR UNIQUE, name VARCHAR)")
    fresh.sql("CREATE TABLE orders (id INT, customer INT REFERENCES customers, "
              "email VARCHAR, CONSTRAINT by_email FOREIGN KEY (email) REFERENCES customers (email))")
    fresh.sql("INSERT INTO customers VALUES (1, 'a@x', 'Ann'), (2, 'b@x', 'Bob')")
    fresh.sql("INSERT INTO orders VALUES (10, 1, 'a@x'), (11, NULL, NULL)")
    return fresh


def test_keys_are_named_as_postgresql_names_them_and_shown(shop):
    # REFERENCES without columns: the referenced table's primary key
    assert keys(shop, "orders") == [("orders_customer_fkey", "customer", "references customers (id)"),
                                    ("by_email", "email", "references customers (email)")]
    ddl = shop.sql("SHOW CREATE TABLE orders").fetchone()[0]
    assert "CONSTRAINT orders_customer_fkey FOREIGN KEY (customer) REFERENCES customers (id)" in ddl
    assert "CONSTRAINT by_email FOREIGN KEY (email) REFERENCES customers (email)" in ddl


def test_new_rows_must_reference_a_row_and_nothing_is_written_otherwise(shop):
    with pytest.raises(indb.ForeignKeyViolation, match="orders_customer_fkey: key .customer = 3."):
        shop.sql("INSERT INTO orders VALUES (12, 3, NULL)")
    with pytest.raises(indb.ForeignKeyViolation, match="by_email"):
        shop.sql("UPDATE orders SET email = 'zz' WHERE id = 10")
    with pytest.raises(indb.ForeignKeyViolation, match="orders_customer_fkey"):
        shop.load("orders", pa.table({"id": pa.array([13], pa.int32()),
                                      "customer": pa.array([9], pa.int32()), "email": ["b@x"]}))
    with pytest.raises(indb.ForeignKeyViolation, match="orders_customer_fkey"):
        shop.sql("MERGE INTO orders USING (SELECT 10 AS id) AS s ON orders.id = s.id "
                 "WHEN MATCHED THEN UPDATE SET customer = 7")
    assert shop.sql("SELECT id, customer, email FROM orders ORDER BY id").fetchall() == [
        (10, 1, "a@x"), (11, None, None)]
    shop.sql("INSERT INTO orders VALUES (12, 2, NULL)")  # a NULL in the key is not checked
    assert isinstance(indb.ForeignKeyViolation("x"), indb.IntegrityError)


def test_a_referenced_row_is_neither_deleted_nor_changed(shop):
    with pytest.raises(indb.ForeignKeyViolation, match=r"key \(id = 1\) of customers is still "
                                                        "referenced by foreign key orders_customer_fkey"):
        shop.sql("DELETE FROM customers WHERE id = 1")
    with pytest.raises(indb.ForeignKeyViolation, match="by_email"):
        shop.sql("UPDATE customers SET email = 'new@x' WHERE id = 1")
    with pytest.raises(indb.ForeignKeyViolation):
        shop.sql("TRUNCATE customers")
    shop.sql("DELETE FROM customers WHERE id = 2")  # no order references Bob
    shop.sql("UPDATE customers SET name = 'Anna' WHERE id = 1")  # the key stays: allowed
    assert shop.sql("SELECT id, name FROM customers").fetchall() == [(1, "Anna")]
    shop.sql("TRUNCATE customers, orders")  # the referencing table is emptied first
    assert shop.sql("SELECT count(*) FROM customers").fetchone() == (0,)


def test_a_table_that_references_itself(fresh):
    fresh.sql("CREATE TABLE staff (id INT PRIMARY KEY, boss INT REFERENCES staff (id))")
    fresh.sql("INSERT INTO staff VALUES (1, NULL), (2, 1), (3, 2)")  # rows of one statement
    with pytest.raises(indb.ForeignKeyViolation):
        fresh.sql("INSERT INTO staff VALUES (4, 9)")
    with pytest.raises(indb.ForeignKeyViolation, match="still referenced"):
        fresh.sql("DELETE FROM staff WHERE id = 2")
    fresh.sql("DELETE FROM staff WHERE id >= 2")  # the row and the one referencing it go together
    with pytest.raises(indb.SqlError, match="cannot rename main.staff|cannot rename staff"):
        fresh.sql("ALTER TABLE staff RENAME TO people")


@pytest.mark.parametrize("statement, message", [
    ("CREATE TABLE x (a INT REFERENCES nowhere)", "references nowhere, which is not a table"),
    ("CREATE TABLE x (a VARCHAR REFERENCES customers (name))", "not its primary key or UNIQUE"),
    ("CREATE TABLE x (a INT REFERENCES plain)", "has no primary key"),
    ("CREATE TABLE x (a VARCHAR REFERENCES customers)", "column a is VARCHAR and customers.id INTEGER"),
    ("CREATE TABLE x (a INT REFERENCES customers ON DELETE CASCADE)", "ON DELETE CASCADE"),
    ("CREATE TABLE x (a INT REFERENCES customers ON UPDATE SET NULL)", "ON UPDATE SET NULL"),
    ("CREATE TEMP TABLE x (a INT REFERENCES customers)", "temporary table"),
])
def test_keys_indb_cannot_hold_are_refused_where_they_are_written(shop, statement, message):
    shop.sql("CREATE TABLE IF NOT EXISTS plain (a INT)")
    with pytest.raises(indb.SqlError, match=message) as caught:
        shop.sql(statement)
    assert caught.value.line == 1 and caught.value.col is not None
    assert not any(name == "x" for name, *_ in shop.sql("SHOW TABLES").fetchall())


def test_a_referenced_table_is_not_dropped_renamed_or_replaced(shop):
    for statement, doing in (("DROP TABLE customers", "drop"),
                             ("ALTER TABLE customers RENAME TO clients", "rename"),
                             ("ALTER TABLE customers RENAME COLUMN id TO ident", "rename column id"),
                             ("ALTER TABLE customers DROP CONSTRAINT customers_email_key",
                              "drop customers_email_key"),
                             ("CREATE OR REPLACE TABLE customers (id INT PRIMARY KEY)", "replace")):
        with pytest.raises(indb.SqlError, match=f"cannot {doing}"):
            shop.sql(statement)
    shop.sql("DROP TABLE customers, orders")  # both at once: no key is left without its table
    assert shop.sql("SHOW TABLES").fetchall() == []
    assert index.referencing(shop._engine.db.engine, "customers") == []


def test_drop_cascade_drops_the_keys_that_reference_a_table(shop):
    shop.sql("DROP TABLE customers CASCADE")
    assert keys(shop, "orders") == []
    shop.sql("INSERT INTO orders VALUES (12, 99, 'nobody')")  # nothing to reference any more


def test_alter_table_adds_a_key_the_rows_hold_drops_and_renames_it(shop):
    shop.sql("CREATE TABLE refunds (order_id INT, customer INT)")
    shop.sql("INSERT INTO refunds VALUES (1, 5)")
    with pytest.raises(indb.ForeignKeyViolation, match="refunds_customer_fkey"):
        shop.sql("ALTER TABLE refunds ADD FOREIGN KEY (customer) REFERENCES customers")
    assert keys(shop, "refunds") == []
    shop.sql("UPDATE refunds SET customer = 2")
    shop.sql("ALTER TABLE refunds ADD CONSTRAINT r_c FOREIGN KEY (customer) REFERENCES customers (id)")
    shop.sql("ALTER TABLE refunds RENAME CONSTRAINT r_c TO refund_customer")
    shop.sql("ALTER TABLE refunds RENAME COLUMN customer TO client")  # the key follows
    assert keys(shop, "refunds") == [("refund_customer", "client", "references customers (id)")]
    shop.sql("ALTER TABLE refunds RENAME TO returns")  # a referencing table may be renamed
    with pytest.raises(indb.ForeignKeyViolation, match="refund_customer of returns"):
        shop.sql("DELETE FROM customers WHERE id = 2")
    shop.sql("ALTER TABLE returns DROP CONSTRAINT refund_customer")
    shop.sql("DELETE FROM customers WHERE id = 2")
    shop.sql("ALTER TABLE orders DROP COLUMN email")  # its key goes with it, as in PostgreSQL
    assert [k[0] for k in keys(shop, "orders")] == ["orders_customer_fkey"]


def test_truncate_cascade_empties_the_referencing_tables(shop):
    shop.sql("TRUNCATE customers CASCADE")
    assert shop.sql("SELECT (SELECT count(*) FROM customers) + (SELECT count(*) FROM orders)"
                    ).fetchone() == (0,)


@pytest.mark.slow  # (a function run starts the database's cluster)
def test_a_function_run_s_rows_are_checked(shop):
    shop.sql("CREATE TABLE new_orders (id INT, customer INT)")
    shop.sql("INSERT INTO new_orders VALUES (20, 1), (21, 8)")
    shop.sql("CREATE FUNCTION ident LANGUAGE PYTHON AS $$\ndef ident(ctx, t):\n    return t\n$$")
    shop.sql("CREATE TABLE placed (id INT, customer INT REFERENCES customers)")
    with pytest.raises(indb.RunError, match="placed_customer_fkey"):
        shop.sql("EXECUTE FUNCTION ident(INPUT_TABLE_NAMES => new_orders, "
                 "OUTPUT_TABLE_NAMES => OUTPUT_TABLES('placed'))")
    assert shop.sql("SELECT count(*) FROM placed").fetchone() == (0,)


def test_export_writes_a_referenced_table_first_and_import_reads_it_back(shop, tmp_path):
    duckdb = pytest.importorskip("duckdb")
    shop.sql("CREATE TABLE a_first (id INT PRIMARY KEY, c INT REFERENCES customers)")
    shop.sql("INSERT INTO a_first VALUES (1, 1)")
    shop.sql(f"EXPORT DATABASE '{tmp_path / 'out'}'")
    made = (tmp_path / "out" / "schema.sql").read_text()
    assert made.index("CREATE TABLE customers") < made.index("CREATE TABLE a_first")
    duck = duckdb.connect()
    duck.sql(f"IMPORT DATABASE '{tmp_path / 'out'}'")  # DuckDB's own IMPORT keeps the keys
    with pytest.raises(duckdb.ConstraintException):
        duck.sql("DELETE FROM customers WHERE id = 1")
    with indb.connect(tmp_path / "again") as again:
        again.sql(f"IMPORT DATABASE '{tmp_path / 'out'}'")
        with pytest.raises(indb.ForeignKeyViolation):
            again.sql("DELETE FROM customers WHERE id = 1")


def test_the_tickerplant_refuses_a_table_with_foreign_keys(shop, tmp_path):
    pytest.importorskip("pykx")
    from indb.stream.tickerplant import Tickerplant
    plant = Tickerplant(shop._engine, flush_seconds=None)
    try:
        with pytest.raises(indb.DataError, match="table orders has foreign keys"):
            plant.table("orders")
    finally:
        plant.close()


def test_postgresql_clients_see_and_hear_foreign_keys(tmp_path):
    sqlalchemy = pytest.importorskip("sqlalchemy")
    path = tmp_path / "db"
    with indb.connect(path) as conn:
        conn.sql("CREATE TABLE p (id INT PRIMARY KEY, code VARCHAR UNIQUE)")
        conn.sql("CREATE TABLE c (z INT, pid INT REFERENCES p, code VARCHAR, "
                 "CONSTRAINT by_code FOREIGN KEY (code) REFERENCES p (code))")
        conn.sql("INSERT INTO p VALUES (1, 'one')")
    served = Served(path)
    try:
        url = f"host=127.0.0.1 port={served.pg_port} dbname=indb user=admin"
        with psycopg.connect(url, autocommit=True) as conn:
            with pytest.raises(psycopg.errors.ForeignKeyViolation):  # 23503
                conn.execute("INSERT INTO c VALUES (1, 5, NULL)")
            assert conn.execute(  # PostgreSQL numbers a key's columns from 1
                "SELECT conname, conkey, confkey, confrelid = 'p'::regclass, confdeltype "
                "FROM pg_catalog.pg_constraint WHERE contype = 'f' ORDER BY conname").fetchall() == [
                ("by_code", [3], [2], True, "a"), ("c_pid_fkey", [2], [1], True, "a")]
        engine = sqlalchemy.create_engine(f"postgresql+psycopg://admin@127.0.0.1:{served.pg_port}/indb")
        reflected = sqlalchemy.inspect(engine).get_foreign_keys("c")
        engine.dispose()
        assert sorted((k["name"], k["constrained_columns"], k["referred_table"], k["referred_columns"])
                      for k in reflected) == [("by_code", ["code"], "p", ["code"]),
                                              ("c_pid_fkey", ["pid"], "p", ["id"])]
        shown = subprocess.run(["psql", "-h", "127.0.0.1", "-p", str(served.pg_port), "-U", "admin",
                                "-d", "indb", "-X", "-c", r"\d c", "-c", r"\d p"],
                               capture_output=True, text=True, check=True).stdout
        assert '"c_pid_fkey" FOREIGN KEY (pid) REFERENCES p(id)' in shown  # as PostgreSQL's psql
        assert 'TABLE "c" CONSTRAINT "by_code" FOREIGN KEY (code) REFERENCES p(code)' in shown
    finally:
        served.stop()
