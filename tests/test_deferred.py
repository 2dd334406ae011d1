"""Deferrable foreign keys (``DEFERRABLE [INITIALLY DEFERRED]``, ``SET CONSTRAINTS``): inside a
transaction a deferred key is checked at COMMIT over what the transaction leaves
(``indb.query.references.check_deferred``, from ``indb.engine.transactions``), as PostgreSQL
checks it; Django's loaddata writes rows in any order and relies on it."""

from __future__ import annotations

import psycopg
import pytest

import indb
from indb.errors import ForeignKeyViolation, SqlError, TransactionAborted
from serving import Served


@pytest.fixture()
def shop(tmp_path):
    with indb.connect(tmp_path / "db") as conn:
        conn.sql("CREATE TABLE authors (id INT PRIMARY KEY)")
        conn.sql("CREATE TABLE books (id INT, author INT REFERENCES authors (id) DEFERRABLE INITIALLY DEFERRED)")
        conn.sql("CREATE TABLE reviews (id INT, book_author INT)")
        # Django's form: the key added after the table, DEFERRABLE only (checked as each
        # statement runs until SET CONSTRAINTS defers it)
        conn.sql("ALTER TABLE reviews ADD CONSTRAINT reviews_author FOREIGN KEY (book_author) "
                 "REFERENCES authors (id) DEFERRABLE")
        yield conn


def count(conn, table):
    return conn.sql(f"SELECT count(*) FROM {table}").fetchone()[0]


def test_a_deferred_key_is_checked_at_commit_over_what_the_transaction_leaves(shop):
    shop.sql("BEGIN")
    shop.sql("INSERT INTO books VALUES (1, 7)")  # its author comes later
    shop.sql("INSERT INTO authors VALUES (7)")
    shop.sql("COMMIT")
    assert count(shop, "books") == 1
    shop.sql("BEGIN")
    shop.sql("INSERT INTO books VALUES (2, 8)")
    with pytest.raises(ForeignKeyViolation, match=r"books_author_fkey: key \(author = 8\) is not in authors.*nothing was committed"):
        shop.sql("COMMIT")
    assert count(shop, "books") == 1 and shop.sql("SELECT 1").fetchone() == (1,)  # rolled back, over
    shop.sql("BEGIN")  # a referenced row deleted and put back before the end: no violation
    shop.sql("DELETE FROM authors WHERE id = 7")
    shop.sql("INSERT INTO authors VALUES (7)")
    shop.sql("COMMIT")
    with pytest.raises(ForeignKeyViolation):  # outside a transaction: as the statement runs
        shop.sql("INSERT INTO books VALUES (3, 9)")


def test_set_constraints_defers_and_checks_now(shop):
    shop.sql("BEGIN")
    with pytest.raises(ForeignKeyViolation):  # DEFERRABLE alone: immediate until deferred
        shop.sql("INSERT INTO reviews VALUES (1, 5)")
    shop.sql("ROLLBACK")
    shop.sql("BEGIN")
    shop.sql("SET CONSTRAINTS ALL DEFERRED")
    shop.sql("INSERT INTO reviews VALUES (1, 5)")
    shop.sql("INSERT INTO books VALUES (1, 6)")
    # IMMEDIATE checks what was deferred, now (PostgreSQL's retroactive check): Django's
    # check_constraints after loaddata
    with pytest.raises(ForeignKeyViolation, match="reviews_author|books_author_fkey") as caught:
        shop.sql("SET CONSTRAINTS ALL IMMEDIATE")
    assert "transaction is aborted" in str(caught.value)
    with pytest.raises(TransactionAborted):
        shop.sql("SELECT 1")
    shop.sql("ROLLBACK")
    shop.sql("BEGIN")
    shop.sql("SET CONSTRAINTS reviews_author DEFERRED")  # by name: the other keeps its own
    shop.sql("INSERT INTO reviews VALUES (1, 5)")
    shop.sql("INSERT INTO authors VALUES (5)")
    shop.sql("SET CONSTRAINTS ALL IMMEDIATE")
    shop.sql("COMMIT")
    assert count(shop, "reviews") == 1


def test_what_set_constraints_refuses_and_the_key_s_ddl(shop):
    shop.sql("SET CONSTRAINTS ALL DEFERRED")  # outside a transaction: changes nothing
    with pytest.raises(ForeignKeyViolation):
        shop.sql("INSERT INTO books VALUES (1, 404)")
    shop.sql("CREATE TABLE plain (a INT REFERENCES authors (id))")
    shop.sql("BEGIN")
    for statement, message in (("SET CONSTRAINTS nope DEFERRED", "no such constraint"),
                               ("SET CONSTRAINTS plain_a_fkey DEFERRED", "not DEFERRABLE"),
                               ("SET CONSTRAINTS ALL LATER", "DEFERRED or IMMEDIATE")):
        with pytest.raises(SqlError, match=message):
            shop.sql(statement)
        shop.sql("ROLLBACK")
        shop.sql("BEGIN")
    shop.sql("SET CONSTRAINTS ALL DEFERRED")
    with pytest.raises(ForeignKeyViolation):  # NOT DEFERRABLE: as each statement runs, always
        shop.sql("INSERT INTO plain VALUES (99)")
    shop.sql("ROLLBACK")
    ddl = shop.sql("SHOW CREATE TABLE books").fetchone()[0]
    assert "REFERENCES authors (id) DEFERRABLE INITIALLY DEFERRED" in ddl
    assert "REFERENCES authors (id) DEFERRABLE" in shop.sql("SHOW CREATE TABLE reviews").fetchone()[0]


def test_through_the_pg_port_as_django_loads_fixtures(tmp_path, shop):
    server = Served(shop.path)
    try:
        with psycopg.connect(host="127.0.0.1", port=server.pg_port, user="admin", dbname="indb") as pg:
            pg.execute("INSERT INTO books VALUES (10, 70)")  # psycopg's transaction: deferred
            pg.execute("INSERT INTO authors VALUES (70)")
            pg.execute("SET CONSTRAINTS ALL IMMEDIATE")
            pg.execute("SET CONSTRAINTS ALL DEFERRED")
            pg.commit()
            pg.execute("INSERT INTO books VALUES (11, 71)")
            with pytest.raises(psycopg.errors.ForeignKeyViolation):
                pg.commit()
        assert count(shop, "books") == 1
    finally:
        server.stop()
