"""PostgreSQL's sizes of types in the pg port's catalog (pgcatalog's shadows): ``typlen``,
``attlen`` and numeric's modifier as PostgreSQL gives them, where DuckDB's differ, and back
again for DuckDB's ``format_type``. ODBC's and JDBC's drivers read columns' sizes from them
(psqlODBC's SQLColumns reads ``attlen`` and ``typtypmod`` into numbers that cannot be NULL)."""

from __future__ import annotations

from sqlglot import exp

NUMERIC = 1700  # numeric's oid: the one type whose modifier DuckDB writes its own way
SHIFT = 65536  # PostgreSQL's numeric modifier: (precision << 16 | scale) + 4


def pg_typmod() -> exp.Expr:
    """A pg_attribute row's ``atttypmod`` as PostgreSQL's: DuckDB's of a ``DECIMAL(p, s)`` is
    ``p * 1000 + s``, from which ODBC's and JDBC's drivers read nonsense sizes."""
    mod = exp.column("atttypmod")
    return exp.If(this=exp.and_(exp.column("atttypid").eq(NUMERIC), mod > 0),
                  true=mod.copy() // 1000 * SHIFT + mod.copy() % 1000 + 4, false=mod.copy())


def duckdb_typmod() -> exp.Expr:
    """``format_type``'s modifier (PostgreSQL's, ``pg_typmod``) as DuckDB's format_type reads it."""
    mod = exp.column("of_typemod")
    return exp.If(this=exp.and_(exp.column("of_type").eq(NUMERIC), mod >= 4),
                  true=(mod.copy() - 4) // SHIFT * 1000 + (mod.copy() - 4) % SHIFT,
                  false=mod.copy())


# PostgreSQL's lengths of types whose DuckDB's differ (16, its string's, for those of variable
# length: -1 in PostgreSQL)
LENGTHS = {17: -1, 1043: -1, 1560: -1, 1266: 12, NUMERIC: -1}


def type_length(oid: exp.Expr, length: exp.Expr) -> exp.Expr:
    """A type's ``typlen`` as PostgreSQL's (ODBC's column sizes come from it)."""
    return exp.cast(exp.Case(this=oid, ifs=[exp.If(this=exp.Literal.number(k), true=exp.Literal.number(v))
                                            for k, v in LENGTHS.items()],
                             default=exp.func("coalesce", length, exp.Literal.number(-1))), "SMALLINT")


def attribute_length() -> exp.Expr:
    """A column's ``attlen``: its type's length, which DuckDB leaves NULL and psqlODBC's
    SQLColumns reads into a number that cannot be NULL."""
    return exp.func("coalesce", exp.Subquery(this=exp.select(type_length(
        exp.column("oid", "indb_lt"), exp.column("typlen", "indb_lt"))).from_(
        exp.to_table("pg_catalog.pg_type").as_("indb_lt")).where(
        exp.column("oid", "indb_lt").eq(exp.column("atttypid")))), exp.cast(exp.Literal.number(-1), "SMALLINT"))
