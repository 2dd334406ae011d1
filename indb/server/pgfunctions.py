"""PostgreSQL's functions of names, texts and arrays that DuckDB lacks, as macros of the pg
port's shadow catalogs (``server.pgcatalog``): what psql, JDBC and pg_dump call in their
catalog queries."""

from __future__ import annotations

import sqlglot
from sqlglot import exp

from indb.parser.pgforms import array_bound, quote_ident, quote_literal


MACROS: dict[str, tuple[tuple[str, ...], exp.Expr]] = {
    # a name as an identifier of SQL, a value as a literal (every statement's, parser.pgforms)
    "quote_ident": (("of_name",), quote_ident(exp.column("of_name"))),
    "quote_literal": (("of_text",), quote_literal(exp.column("of_text"))),
    # an object's privileges when no GRANT changed them: none here, since indb's grants are its
    # own (SHOW GRANTS), not PostgreSQL's access lists (pg_dump then writes no GRANT)
    "acldefault": (("object_kind", "owner_oid"), exp.null()),
    # a shared object's comment (a database's, a role's): indb keeps none
    "shobj_description": (("object_oid", "catalog_name"), exp.null()),
    # information_schema._pg_expandarray(array): a row (x, n) for each item, as PostgreSQL's
    # set-returning function gives them in a select list (JDBC's getPrimaryKeys over pg_index)
    "_pg_expandarray": (("items",), sqlglot.parse_one(
        "unnest(list_transform(range(1, len(items) + 1), lambda i: {'x': items[i], 'n': i}))",
        read="duckdb")),
    **{name: (("indb_items", "indb_dimension"), array_bound(
        exp.column("indb_items"), exp.column("indb_dimension"), upper=name == "array_upper"))
       for name in ("array_lower", "array_upper")},
}
# pg_options_to_table(options): a row (option_name, option_value) for each "name=value" of an
# object's options (pg_dump's listing of columns), a table macro of this parameter and body
_OPTION = exp.column("o")
OPTIONS_TABLE: tuple[str, exp.Query] = ("options", exp.select(
    exp.alias_(exp.func("split_part", _OPTION, exp.Literal.string("="), exp.Literal.number(1)),
               "option_name"),
    exp.alias_(exp.func("substr", _OPTION.copy(), exp.Add(this=exp.func(
        "strpos", _OPTION.copy(), exp.Literal.string("=")), expression=exp.Literal.number(1))),
        "option_value")).from_(exp.Subquery(this=exp.select(
            exp.alias_(exp.func("unnest", exp.column("options")), "o")))))
