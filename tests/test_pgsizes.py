"""``indb.server.pgsizes``: numeric's modifier and types' lengths as PostgreSQL gives them, and
back for DuckDB's format_type, evaluated by DuckDB (the catalog's queries through them:
tests/test_pgcatalog.py)."""

from __future__ import annotations

import duckdb
from sqlglot import exp

from indb.parser import render
from indb.server import pgsizes


def evaluate(expression: exp.Expr, **columns: int) -> object:
    row = exp.select(*(exp.alias_(exp.Literal.number(v), k) for k, v in columns.items()))
    query = exp.select(expression).from_(row.subquery("r"))
    with duckdb.connect() as duck:
        return duck.execute(render(query)).fetchone()[0]


def test_numeric_s_modifier_goes_to_postgresql_s_and_back():
    ours = evaluate(pgsizes.pg_typmod(), atttypid=1700, atttypmod=10_002)  # DuckDB's DECIMAL(10, 2)
    assert ours == (10 << 16 | 2) + 4
    assert evaluate(pgsizes.duckdb_typmod(), of_type=1700, of_typemod=ours) == 10_002
    assert evaluate(pgsizes.pg_typmod(), atttypid=23, atttypmod=-1) == -1  # others as they are


def test_lengths_of_types_of_variable_length_are_minus_one():
    assert evaluate(pgsizes.type_length(exp.column("oid"), exp.column("typlen")),
                    oid=1043, typlen=16) == -1  # varchar: DuckDB's 16, PostgreSQL's -1
    assert evaluate(pgsizes.type_length(exp.column("oid"), exp.column("typlen")),
                    oid=20, typlen=8) == 8
