"""``indb.server.pgkeys``: what a shadow catalog says of a table's keys, defaults and identity
columns, asked in-process (tests/test_pgcatalog.py asks through the pg port, as clients do)."""

from __future__ import annotations

import pytest

from indb.catalog.tables import TableInfo
from indb.catalog.types import Column, Identity
from indb.engine.privileges import Relation
from indb.server import pgcatalog


@pytest.fixture()
def shadows():
    made = pgcatalog.Shadows()
    yield made
    made.close()


INFO = TableInfo("orders", (Column("id", "INTEGER", False, identity=Identity("id", 5, 3, True)),
                            Column("region", "VARCHAR", False, default="'eu'"),
                            Column("qty", "SMALLINT")), primary_key=("region", "id"))
ORDERS = Relation("main", "orders", False, (("id", "INTEGER"), ("region", "VARCHAR"),
                                            ("qty", "SMALLINT")), INFO)
PLAIN = Relation("main", "plain", False, (("x", "BIGINT"),))  # described by no TableInfo


def ask(shadows, sql):
    return shadows.answer([ORDERS, PLAIN], [], pgcatalog.catalog_query(sql, None), None).fetchall()


def test_identity_columns_are_described_by_their_sequence(shadows):
    assert ask(shadows, "SELECT c.relname, c.relkind FROM pg_class c JOIN pg_sequence s "
                        "ON s.seqrelid = c.oid") == [("orders_id_seq", "S")]
    assert ask(shadows, "SELECT seqstart, seqincrement, seqmax FROM pg_sequence") == [(5, 3, 2**31 - 1)]
    assert ask(shadows, "SELECT pg_get_serial_sequence('public.orders', 'id') AS s, "
                        "pg_get_serial_sequence('orders', 'qty') AS t") == [("main.orders_id_seq", None)]


def test_columns_say_not_null_default_and_identity(shadows):
    assert ask(shadows, "SELECT table_name, column_name, column_default, is_nullable, is_identity, "
                        "identity_generation, identity_maximum FROM information_schema.columns "
                        "ORDER BY table_name, ordinal_position") == [
        ("orders", "id", None, "NO", "YES", "ALWAYS", str(2**31 - 1)),
        ("orders", "region", "'eu'", "NO", "NO", None, None),
        ("orders", "qty", None, "YES", "NO", None, None),
        ("plain", "x", None, "YES", "NO", None, None)]
    assert ask(shadows, "SELECT attname, attidentity, atthasdef FROM pg_attribute WHERE attrelid "
                        "= 'orders'::regclass ORDER BY attnum") == [
        ("id", "a", False), ("region", "", True), ("qty", "", False)]


def test_a_primary_key_is_a_constraint_and_its_index(shadows):
    assert ask(shadows, "SELECT conname, contype, conkey, conindid = oid FROM pg_constraint") == [
        ("orders_pkey", "p", [2, 1], True)]  # its columns in key order, counted from 1
    assert ask(shadows, "SELECT c.relname, c.relkind, i.indisprimary, i.indkey FROM pg_index i "
                        "JOIN pg_class c ON c.oid = i.indexrelid") == [("orders_pkey", "i", True, [2, 1])]
    assert ask(shadows, "SELECT pg_get_indexdef(indexrelid) FROM pg_index") == [
        ("CREATE UNIQUE INDEX orders_pkey ON main.orders USING btree (region, id)",)]


def test_information_schema_names_a_primary_key_and_gives_a_check_as_postgresql_does(shadows):
    checked = Relation("main", "stock", False, (("sku", "VARCHAR"), ("qty", "INTEGER")),
                       TableInfo("stock", (Column("sku", "VARCHAR", False), Column("qty", "INTEGER")),
                                 primary_key=("sku",), checks=(("stock_qty_check", "qty >= 0"),)))

    def answer(sql):
        return shadows.answer([ORDERS, checked], [], pgcatalog.catalog_query(sql, None), None).fetchall()
    assert answer("SELECT table_name, constraint_name FROM information_schema.table_constraints "
                  "WHERE constraint_type = 'PRIMARY KEY' ORDER BY 1") == \
        [("orders", "orders_pkey"), ("stock", "stock_pkey")]
    # the usual join of a key's columns finds them by that name
    assert answer("SELECT kcu.column_name FROM information_schema.table_constraints tc JOIN "
                  "information_schema.key_column_usage kcu ON kcu.constraint_name = tc.constraint_name "
                  "AND kcu.table_name = tc.table_name WHERE tc.constraint_name = 'orders_pkey' "
                  "ORDER BY kcu.ordinal_position") == [("region",), ("id",)]
    assert ("stock_pkey", "sku") in answer(
        "SELECT constraint_name, column_name FROM information_schema.constraint_column_usage")
    assert ("((qty >= 0))",) in answer(
        "SELECT check_clause FROM information_schema.check_constraints WHERE check_clause LIKE '%qty%'")
