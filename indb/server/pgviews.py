"""What PostgreSQL's catalog says of a view's definition, as the pg port's shadow catalogs
(``server.pgcatalog``) say it: ``pg_views.definition`` and ``pg_get_viewdef(oid)`` give the
view's query (psql's ``\\d+ v``, SQLAlchemy's ``get_view_definition``, DBeaver's view editor
read them). The shadow's own view of each name is a stand-in of no rows with the view's
columns, whose SQL DuckDB would otherwise give.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlglot import exp

from indb.engine.privileges import Relation
from indb.server.pgkeys import of_relations

DEFINITIONS = "indb_view_definitions"  # the shadow's table macro of the views' queries


def definitions(relations: Sequence[Relation]) -> exp.Query:
    """The body of ``indb_view_definitions()``: each view's oid, schema, name and query (ending in
    ``;``, as PostgreSQL's do)."""
    rows = [(r.schema, r.name, f"{r.definition};") for r in relations
            if r.view and r.definition is not None]
    return of_relations(("schema", "table", "definition"), rows, ("", "", ""), [
        exp.alias_(exp.column("oid", "c"), "view_oid"), exp.column("schema", "v"),
        exp.column("table", "v"), exp.column("definition", "v")])


def viewdef(view_oid: exp.Expr) -> exp.Expr:
    """``pg_get_viewdef(oid)``: the query of the view of that oid (NULL for another relation,
    as PostgreSQL gives for one that is not a view)."""
    return exp.Subquery(this=exp.select("definition").from_(
        exp.Table(this=exp.Anonymous(this=DEFINITIONS)).as_("d")).where(
        exp.column("view_oid", "d").eq(view_oid)))


MACROS: dict[str, tuple[tuple[str, ...], exp.Expr]] = {
    "pg_get_viewdef": (("of_view",), viewdef(exp.column("of_view"))),
    "pg_get_viewdef_pretty": (("of_view", "pretty"), viewdef(exp.column("of_view"))),
    # PostgreSQL's array_remove (DuckDB's list_filter): psql's \\sv takes a view's check option
    # out of its reloptions with it
    "array_remove": (("of_array", "element"), exp.func(
        "list_filter", exp.column("of_array"), exp.Lambda(this=exp.column("item").neq(
            exp.column("element")), expressions=[exp.to_identifier("item")]))),
}
# pg_views' own column: the query of the view of the row's schema and name
PG_VIEWS_COLUMNS: dict[str, exp.Expr] = {"definition": exp.Subquery(
    this=exp.select("definition").from_(exp.Table(this=exp.Anonymous(this=DEFINITIONS)).as_("d"))
    .where(exp.and_(exp.column("schema", "d").eq(exp.column("schemaname", "pg_views")),
                    exp.column("table", "d").eq(exp.column("viewname", "pg_views")))))}
