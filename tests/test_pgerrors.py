"""``indb.server.pgerrors``: the SQLSTATE of each kind of error, as PostgreSQL's class of it
(drivers raise by it: psycopg's ``UndefinedTable``, ODBC's SQLSTATE)."""

from __future__ import annotations

import pytest

from indb import errors
from indb.server.pgerrors import sqlstate


@pytest.mark.parametrize(("error", "state"), [
    (errors.SqlError('Binder Error: Referenced column "nope" not found in FROM clause!'), "42703"),
    (errors.SqlError('Binder Error: Ambiguous reference to column name "x"'), "42702"),
    (errors.SqlError('Binder Error: column "id" must appear in the GROUP BY clause or must be '
                     'part of an aggregate function.'), "42803"),
    (errors.SqlError("Catalog Error: Table with name nope does not exist!"), "42P01"),
    (errors.SqlError("Catalog Error: Scalar Function with name nofn does not exist!"), "42883"),
    (errors.SqlError("Catalog Error: Schema with name s does not exist!"), "3F000"),
    (errors.SqlError("Catalog Error: Type with name t does not exist!"), "42704"),
    (errors.SqlError("Conversion Error: Could not convert string 'abc' to INT32"), "22P02"),
    (errors.SqlError("Conversion Error: Type INT32 with value 1000000 can't be cast because the "
                     "value is out of range for the destination type INT8"), "22003"),
    (errors.SqlError("Parser Error: syntax error at or near \")\""), "42601"),
    (errors.CatalogError("table t already exists; DROP TABLE t first"), "42P07"),
    (errors.CatalogError("table t does not exist"), "42P01"),
    (errors.UniqueViolation("duplicate key"), "23505"),
    (RuntimeError("anything else"), "XX000"),
])
def test_each_error_has_postgresql_s_sqlstate(error, state):
    assert sqlstate(error) == state
