"""pg_depend's rows in the pg port's catalog (``server.pgcatalog``): what depends on what, by
which pg_dump orders the statements it writes. A view depends on the relations its query reads,
a table on the sequences its columns' DEFAULTs number from (``nextval('s')``), each made before
it; an identity column's sequence is its column's (``deptype`` 'i', which pg_dump writes as the
column's ``GENERATED ... AS IDENTITY``). The database's macros are internal to their schema
(``deptype`` 'i', which pg_dump does not dump on its own): they are DuckDB's SQL, which no
PostgreSQL function could be made of."""

from __future__ import annotations

from collections.abc import Sequence

import sqlglot
from sqlglot import exp
from sqlglot.errors import SqlglotError

from indb.catalog.names import DEFAULT_SCHEMA, split_name
from indb.catalog.sequences import default_sequence
from indb.engine.privileges import Relation
from indb.server.pgkeys import of_relations, sequence
from indb.server.pgoids import TABLE_OIDS

DEPENDS = "indb_depends"  # the shadow's table macro of these rows
_NAMES = ("schema", "table", "ref_schema", "ref_table", "ref_column", "deptype")


def depends(relations: Sequence[Relation], macros: Sequence[str]) -> exp.Query:
    """The body of ``DEPENDS``: pg_depend's columns, a row a dependency between relations, or
    of a macro (of those names) on its schema."""
    rows: list[tuple[str, ...]] = []
    for relation in relations:
        if relation.view and relation.definition:
            rows.extend((relation.schema, relation.name, schema, name, "", "n")
                        for schema, name in _read(relation.definition))
        for column in relation.table.columns if relation.table is not None else ():
            numbered = default_sequence(column.default)
            if numbered is not None:
                rows.append((relation.schema, relation.name, *split_name(numbered), "", "n"))
            if column.identity is not None:
                rows.append((relation.schema, sequence(relation.name, column.name), relation.schema,
                             relation.name, column.name, "i"))
    pg_class = exp.Literal.number(TABLE_OIDS["pg_class"])
    found = of_relations(_NAMES, rows, ("",) * len(_NAMES), [
        exp.alias_(pg_class, "classid"), exp.alias_(exp.column("oid", "c"), "objid"),
        exp.alias_(exp.Literal.number(0), "objsubid"), exp.alias_(pg_class.copy(), "refclassid"),
        exp.alias_(exp.column("oid", "r"), "refobjid"),
        exp.alias_(exp.func("coalesce", exp.column("attnum", "a"), exp.Literal.number(0)),
                   "refobjsubid"),
        exp.alias_(exp.column("deptype", "v"), "deptype")])
    assert isinstance(found, exp.Select)
    between = found.join(exp.to_table("pg_catalog.pg_namespace").as_("rn"), on=exp.column(
        "nspname", "rn").eq(exp.column("ref_schema", "v"))).join(
        exp.to_table("pg_catalog.pg_class").as_("r"), on=exp.and_(
            exp.column("relnamespace", "r").eq(exp.column("oid", "rn")),
            exp.func("lower", exp.column("relname", "r")).eq(
                exp.func("lower", exp.column("ref_table", "v"))))).join(
        exp.to_table("pg_catalog.pg_attribute").as_("a"), join_type="left", on=exp.and_(
            exp.column("attrelid", "a").eq(exp.column("oid", "r")),
            exp.column("attname", "a").eq(exp.column("ref_column", "v"))))
    of_macros = exp.select(
        exp.alias_(exp.Literal.number(TABLE_OIDS["pg_proc"]), "classid"),
        exp.alias_(exp.column("oid"), "objid"), exp.alias_(exp.Literal.number(0), "objsubid"),
        exp.alias_(exp.Literal.number(TABLE_OIDS["pg_namespace"]), "refclassid"),
        exp.alias_(exp.column("pronamespace"), "refobjid"),
        exp.alias_(exp.Literal.number(0), "refobjsubid"),
        exp.alias_(exp.Literal.string("i"), "deptype")).from_("pg_catalog.pg_proc").where(
        exp.column("proname").isin(*map(exp.Literal.string, macros)) if macros else exp.false())
    return between.union(of_macros, distinct=False)


def added() -> exp.Query:
    """pg_depend's rows added to DuckDB's (pgcatalog's ``_ADDED_ROWS``): ``DEPENDS``'."""
    return exp.select("*").from_(exp.Table(this=exp.Anonymous(this=DEPENDS)))


def _read(definition: str) -> list[tuple[str, str]]:
    """The relations a view's query reads by name (schema, name): its tables and views, not
    its CTEs."""
    try:
        tree = sqlglot.parse_one(definition, read="duckdb")
    except SqlglotError:  # (indb's own forms: the view is then made in name order)
        return []
    ctes = {cte.alias_or_name.lower() for cte in tree.find_all(exp.CTE)}
    return sorted({(table.db.lower() or DEFAULT_SCHEMA, table.name if table.this.quoted
                    else table.name.lower()) for table in tree.find_all(exp.Table)
                   if isinstance(table.this, exp.Identifier) and not table.args.get("catalog")
                   and (table.db or table.name.lower() not in ctes)})
