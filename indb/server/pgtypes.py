"""Named types in the pg port's catalog (pgcatalog's shadows): each ``CREATE TYPE`` the database
has is made in the shadow too, so DuckDB's ``pg_type`` lists it (``typtype`` ``e`` for an ENUM)
and ``pg_enum`` its values (psql's ``\\dT``, SQLAlchemy's and psycopg's enum lookups); a column
whose type is a named ENUM's definition says the type's oid in ``pg_attribute.atttypid`` and
``USER-DEFINED`` / the type's name in ``information_schema.columns``, as PostgreSQL's does
(DuckDB's own catalog gives every ENUM column one anonymous ``enum`` type).
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlglot import exp

from indb.parser.named_types import CreateType

NAMED = "indb_named_types"  # the shadow's table macro: (name, oid, definition) a named type

# names PostgreSQL's format_type() gives types (which SQLAlchemy and BI tools map), by the
# pg_type.typname of DuckDB's; a type of neither is text, as the pg port sends it
FORMAT_NAMES = {"int2": "smallint", "int4": "integer", "int8": "bigint", "float4": "real",
                "float8": "double precision", "bool": "boolean", "varchar": "character varying",
                "timestamp": "timestamp without time zone",
                "timestamptz": "timestamp with time zone",
                "time": "time without time zone", "timetz": "time with time zone",
                "tinyint": "smallint", "utinyint": "smallint", "usmallint": "integer",
                "uinteger": "bigint", "ubigint": "numeric", "hugeint": "numeric",
                "uhugeint": "numeric", "timestamp_s": "timestamp without time zone",
                "timestamp_ms": "timestamp without time zone",
                "timestamp_ns": "timestamp without time zone",
                "timestamptz_ns": "timestamp with time zone", "time_ns": "time without time zone",
                "struct": "json", "map": "json"}


def made(types: Sequence[tuple[str, str]]) -> list[exp.Expr]:
    """The shadow's CREATE TYPE for each (name, definition), in its main schema (types live in
    no schema of indb's: PostgreSQL's clients find them in the search path)."""
    return [CreateType(this=exp.to_identifier(name, quoted=True),
                       kind=exp.DataType.build(definition, dialect="duckdb"))
            for name, definition in types]


def listed(types: Sequence[tuple[str, str]]) -> exp.Query:
    """The body of ``NAMED``: each named type's name, its oid in the shadow, its definition."""
    rows = exp.Values(expressions=[exp.Tuple(expressions=[exp.Literal.string(name),
                                                          exp.Literal.string(definition)])
                                   for name, definition in types] or [exp.Tuple(expressions=[
                                       exp.Literal.string(""), exp.Literal.string("")])],
                      alias=exp.TableAlias(this=exp.to_identifier("v"), columns=[
                          exp.to_identifier("name"), exp.to_identifier("definition")]))
    return exp.select(exp.column("name", "v"), exp.alias_(exp.column("type_oid", "t"), "oid"),
                      exp.column("definition", "v")).from_(rows).join(
        exp.Table(this=exp.Anonymous(this="duckdb_types"), alias=exp.TableAlias(
            this=exp.to_identifier("t"))),
        on=exp.and_(exp.column("type_name", "t").eq(exp.column("name", "v")),
                    exp.Not(this=exp.column("internal", "t"))))


def named(kind: exp.Expr, column: str) -> exp.Subquery:
    """``column`` (name or oid) of the named type whose definition is the type ``kind``, a
    column's DuckDB type; NULL for a type no named type defines."""
    return exp.Subquery(this=exp.select(column).from_(exp.Table(this=exp.Anonymous(this=NAMED)))
                        .where(exp.column("definition").eq(kind)).limit(1))


CATALOG_OID = 11  # pg_catalog's oid in PostgreSQL's pg_namespace
ARRAY_RECV = 2400  # array_recv's oid in PostgreSQL's pg_proc: an array type's typreceive


def catalog_namespace() -> exp.Expr:
    """pg_catalog's oid in ``pg_namespace`` (``catalog_added``'s row)."""
    return exp.Literal.number(CATALOG_OID)


def catalog_added() -> exp.Query:
    """pg_namespace's row of pg_catalog, which DuckDB's lacks (its types are there)."""
    return exp.select(exp.alias_(exp.Literal.number(CATALOG_OID), "oid"),
                      exp.alias_(exp.Literal.string("pg_catalog"), "nspname"))


def procedures_added() -> exp.Query:
    """pg_proc's row of ``array_recv``, the receive function of every array type, by which
    clients (Npgsql) tell an array type from a base type."""
    return exp.select(exp.alias_(exp.Literal.number(ARRAY_RECV), "oid"),
                      exp.alias_(exp.Literal.string("array_recv"), "proname"),
                      exp.alias_(exp.Literal.number(CATALOG_OID), "pronamespace"))


def namespace(oid: exp.Expr, own: exp.Expr) -> exp.Expr:
    """A pg_type row's ``typnamespace``: ``own`` for a named type, pg_catalog's for the others
    (DuckDB's built-in types, which its catalog puts in main: psql's ``\\dT`` lists a schema's
    types but pg_catalog's)."""
    mine = exp.In(this=oid, query=exp.Subquery(this=exp.select("oid").from_(
        exp.Table(this=exp.Anonymous(this=NAMED)))))
    return exp.If(this=mine, true=own, false=catalog_namespace())
