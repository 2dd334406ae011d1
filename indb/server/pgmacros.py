"""The database's macros in the pg port's catalog (pgcatalog's shadows): each ``CREATE MACRO``
the database has is made in the shadow too, so DuckDB's ``pg_proc`` lists it (psql's ``\\df``),
``'m'::regproc`` gives its oid and ``pg_get_functiondef(oid)`` the statement that makes it
(psql's ``\\sf m``), as SHOW MACROS gives it.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlglot import exp

DEFINITIONS = "indb_macro_definitions"  # the shadow's table macro: (name, definition) a macro


def definitions(macros: Sequence[tuple[str, str]]) -> exp.Query:
    """The body of ``DEFINITIONS``: each macro's name and its CREATE MACRO (as SHOW MACROS
    gives it)."""
    rows = [exp.Tuple(expressions=[exp.Literal.string(name), exp.Literal.string(definition)])
            for name, definition in macros] or [exp.Tuple(expressions=[exp.Literal.string("")] * 2)]
    named = exp.TableAlias(this=exp.to_identifier("m"), columns=[
        exp.to_identifier("name"), exp.to_identifier("definition")])
    found = exp.select("name", "definition").from_(exp.Values(expressions=rows, alias=named))
    return found if macros else found.where(exp.false())


def functiondef(of_function: exp.Expr) -> exp.Expr:
    """``pg_get_functiondef(oid)``: the CREATE MACRO of the macro of that oid (NULL for any
    other function: DuckDB's own have no definition of SQL)."""
    return exp.Subquery(this=exp.select(exp.column("definition", "d")).from_(
        exp.Table(this=exp.Anonymous(this=DEFINITIONS)).as_("d")).join(
        exp.to_table("pg_catalog.pg_proc").as_("p"), on=exp.column("proname", "p").eq(
            exp.column("name", "d"))).where(exp.column("oid", "p").eq(of_function)).limit(1))


MACROS: dict[str, tuple[tuple[str, ...], exp.Expr]] = {
    "pg_get_functiondef": (("of_function",), functiondef(exp.column("of_function")))}
