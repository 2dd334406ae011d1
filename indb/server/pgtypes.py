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
from indb.server import pgparams, pgsizes
from indb.server.pgroles import OWNER_OID

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
                      exp.alias_(exp.Literal.string("pg_catalog"), "nspname"),
                      exp.alias_(exp.Literal.number(OWNER_OID), "nspowner"))


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


# the array type of each type: its oid and its array's (varchar's and json's too, which DuckDB's
# lack)
ARRAYS = {**pgparams.ARRAYS, 1043: 1015, 114: 199}
# pg_type's rows of the base types DuckDB's lacks: text, and json (DuckDB's JSON columns)
_BASE_TYPES = [{"oid": oid, "typname": name, "typnamespace": CATALOG_OID, "typowner": OWNER_OID,
                "typtype": "b", "typcategory": category, "typlen": -1, "typbyval": False,
                "typdelim": ",", "typelem": 0, "typarray": array, "typbasetype": 0, "typrelid": 0,
                "typisdefined": True, "typtypmod": -1, "typstorage": "x"}
               for oid, name, category, array in ((25, "text", "S", 1009), (114, "json", "U", 199))]


def types_added() -> exp.Query:
    """pg_type's rows DuckDB's lacks: ``_BASE_TYPES``, and an array type for each type of
    ``ARRAYS``."""
    arrays = exp.select(
        exp.alias_(exp.column("array_oid", "a"), "oid"),
        exp.alias_(exp.DPipe(this=exp.Literal.string("_"), expression=exp.column("typname", "t")),
                   "typname"),
        exp.alias_(catalog_namespace(), "typnamespace"),
        exp.alias_(exp.Literal.number(OWNER_OID), "typowner"),
        *(exp.alias_(value, name) for name, value in (
            ("typtype", exp.Literal.string("b")), ("typcategory", exp.Literal.string("A")),
            ("typlen", exp.Literal.number(-1)), ("typbyval", exp.false()),
            ("typdelim", exp.Literal.string(",")), ("typarray", exp.Literal.number(0)),
            ("typbasetype", exp.Literal.number(0)), ("typrelid", exp.Literal.number(0)),
            ("typisdefined", exp.true()), ("typtypmod", exp.Literal.number(-1)),
            ("typstorage", exp.Literal.string("x")),
            ("typreceive", exp.Literal.number(ARRAY_RECV)))),  # (Npgsql: an array's)
        exp.alias_(exp.column("item_oid", "a"), "typelem"),
    ).from_(exp.Subquery(this=exp.union(exp.select("oid", "typname").from_(
        exp.to_table("pg_catalog.pg_type")), *(exp.select(
            exp.alias_(exp.Literal.number(row["oid"]), "oid"),
            exp.alias_(exp.Literal.string(str(row["typname"])), "typname")) for row in _BASE_TYPES),
            distinct=False),
        alias=exp.TableAlias(this=exp.to_identifier("t")))).join(
        exp.Values(expressions=[exp.Tuple(expressions=[exp.Literal.number(item),
                                                       exp.Literal.number(array)])
                                for item, array in ARRAYS.items()],
                   alias=exp.TableAlias(this=exp.to_identifier("a"), columns=[
                       exp.to_identifier("item_oid"), exp.to_identifier("array_oid")])),
        on=exp.column("oid", "t").eq(exp.column("item_oid", "a")))
    bases = exp.union(*(exp.select(*(exp.alias_(exp.convert(v), n) for n, v in row.items()))
                        for row in _BASE_TYPES), distinct=False)  # (of the same columns)
    added = arrays.union(exp.select("*").from_(exp.Subquery(this=bases)), distinct=False)
    added.set("by_name", True)
    return added


# the names of the types of ARRAYS' items, as format_type writes them
_ITEM_NAMES = {16: "boolean", 17: "bytea", 20: "bigint", 21: "smallint", 23: "integer", 25: "text",
               114: "json", 700: "real", 701: "double precision", 1043: "character varying",
               1082: "date", 1083: "time without time zone", 1114: "timestamp without time zone",
               1184: "timestamp with time zone", 1186: "interval", 1700: "numeric"}


def format_type() -> tuple[tuple[str, ...], exp.Expr]:
    """The shadow's macro ``format_type(of_type, of_typemod)``: a type's name as PostgreSQL's
    (``character varying``, ``numeric(10,2)``, an array's ``bigint[]``), ``text`` for a type no
    pg_type row has."""
    of_type = exp.column("of_type")
    named = exp.Subquery(this=exp.select(exp.func("coalesce", exp.Case(
        this=exp.column("typname"), ifs=[
            exp.If(this=exp.Literal.string(duck), true=exp.Literal.string(pg))
            for duck, pg in FORMAT_NAMES.items()]), exp.Dot(
        this=exp.to_identifier("pg_catalog"), expression=exp.func(
            "format_type", of_type.copy(), pgsizes.duckdb_typmod())))).from_(
        exp.to_table("pg_catalog.pg_type")).where(exp.column("oid").eq(of_type.copy())).limit(1))
    added = exp.Case(this=of_type, ifs=[  # (the types types_added adds)
        *(exp.If(this=exp.Literal.number(array), true=exp.Literal.string(f"{_ITEM_NAMES[item]}[]"))
          for item, array in ARRAYS.items()),
        *(exp.If(this=exp.Literal.number(row["oid"]), true=exp.Literal.string(str(row["typname"])))
          for row in _BASE_TYPES)])
    return ("of_type", "of_typemod"), exp.func("coalesce", added, named, exp.Literal.string("text"))
