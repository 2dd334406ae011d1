"""What PostgreSQL's catalog says of a table's keys, defaults and identity columns, as the
pg port's shadow catalogs (``server.pgcatalog``) say it: each table made there with its NOT
NULLs, DEFAULTs and PRIMARY KEY (DuckDB's catalog then lists them), and what DuckDB's lacks or
says otherwise, as columns and rows of the shadow's macros:

- an identity column (``SERIAL``, ``GENERATED ... AS IDENTITY``) has a sequence
  ``<table>_<column>_seq`` and no DEFAULT, and ``pg_attribute.attidentity`` ``a`` (ALWAYS) or
  ``d``; ``information_schema.columns`` says ``is_identity``, its generation, start and step;
  ``pg_get_serial_sequence`` names its sequence (``indb_identities()`` lists them);
- a primary key is the constraint ``<table>_pkey`` with its columns numbered from 1, as
  PostgreSQL numbers them (DuckDB from 0), and a unique index of that name (``pg_index``,
  ``pg_class``, ``pg_get_indexdef``), which SQLAlchemy's reflection and psql's ``\\d`` read.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlglot
from sqlglot import exp
from sqlglot.errors import ParseError

from indb.catalog import generated
from indb.catalog.names import split_name
from indb.catalog.sequences import SequenceInfo, default_sequence, properties
from indb.catalog.tables import ForeignKey, TableInfo
from indb.engine.privileges import Relation
from indb.planner.constraints import foreign_key_tree

IDENTITIES = "indb_identities"  # the shadow's table macro of its identity columns
CONSTRAINTS = "indb_constraints"  # and of its tables' CHECK and UNIQUE constraints' names
INDEXES = "indb_indexes"  # and of its tables' indexes, a row a column
REFERENCES = "indb_references"  # and of its tables' foreign keys
BTREE = 403  # pg_am's oid of btree, PostgreSQL's


def last_name(name: exp.Expr) -> exp.Expr:
    """A relation's name without its schema or quotes: ``'public."t"'`` -> ``t``."""
    return exp.func("list_last", exp.func("string_split", exp.func(
        "replace", exp.cast(name, "VARCHAR"), exp.Literal.string('"'), exp.Literal.string("")),
        exp.Literal.string(".")))


def _description(number: exp.Expr, oid: str = "of_object") -> exp.Subquery:
    """A comment from ``pg_description``: the relation's (``number`` 0) or its column's."""
    return exp.Subquery(this=exp.select("description").from_("pg_catalog.pg_description").where(
        exp.and_(exp.column("objoid").eq(exp.column(oid)),
                 exp.column("objsubid").eq(number))).limit(1))


# the macros of PostgreSQL's functions that answer from these (pgcatalog's _MACROS)
MACROS: dict[str, tuple[tuple[str, ...], exp.Expr]] = {
    # an index's definition (psql's \d prints what follows USING)
    "pg_get_indexdef": (("of_index",), exp.Subquery(this=sqlglot.parse_one(
        "SELECT 'CREATE ' || CASE WHEN bool_or(index_unique) THEN 'UNIQUE ' ELSE '' END || 'INDEX ' "
        "|| first(index_name) || ' ON ' || first(index_schema) || '.' || first(index_table) || "
        "' USING btree (' || string_agg(index_column, ', ' ORDER BY index_position) || ')' "
        f"FROM {INDEXES}() WHERE index_oid = of_index", read="duckdb"))),
    # comments, as COMMENT ON gave them (``comments``)
    "obj_description": (("of_object", "of_catalog"), _description(exp.Literal.number(0))),
    "col_description": (("of_relation", "of_column"), _description(exp.column("of_column"),
                                                                   "of_relation")),
    # an identity column's sequence, by its table's name or oid (SQLAlchemy passes
    # attrelid::regclass::text, which is the oid here) and its column's name
    "pg_get_serial_sequence": (("relation", "column_name"), exp.Subquery(this=exp.select(
        exp.column("identity_sequence")).from_(exp.Table(this=exp.Anonymous(this=IDENTITIES))).where(
        exp.and_(exp.column("identity_column").eq(exp.column("column_name")), exp.or_(
            exp.cast(exp.column("identity_relid"), "VARCHAR").eq(exp.column("relation")),
            exp.column("identity_table").eq(last_name(exp.column("relation")))))).limit(1))),
}


def index_column(index: exp.Expr, number: exp.Expr) -> exp.Subquery:
    """The name of an index's ``number``-th column (from 1), as ``pg_get_indexdef(index, number,
    pretty)`` gives it."""
    return exp.Subquery(this=exp.select("index_column").from_(
        exp.Table(this=exp.Anonymous(this=INDEXES))).where(exp.and_(
            exp.column("index_oid").eq(index), exp.column("index_position").eq(number))).limit(1))


def from_one(column: exp.Expr) -> exp.Expr:
    """A constraint's column numbers (``conkey``) as PostgreSQL's, which count from 1."""
    return exp.func("list_transform", column, exp.Lambda(
        this=exp.Add(this=exp.column("k"), expression=exp.Literal.number(1)),
        expressions=[exp.to_identifier("k")]))


def pkey_of(table: exp.Expr) -> exp.Expr:
    """``<table>_pkey``: PostgreSQL's name of a table's primary key and of its index."""
    return exp.DPipe(this=table, expression=exp.Literal.string("_pkey"))


def pkey_name(relid: exp.Expr) -> exp.Expr:
    """``pkey_of`` the table of oid ``relid``."""
    return pkey_of(exp.Subquery(this=exp.select("relname").from_(
        exp.to_table("pg_catalog.pg_class")).where(exp.column("oid").eq(relid)).limit(1)))


def constraint_name(rank: exp.Expr) -> exp.Expr:
    """A CHECK's or a UNIQUE's name as the table has it (DuckDB names them by their text): the
    ``rank``-th (from 1) of the table's constraints of its kind (``conrelid``, ``contype``),
    which DuckDB lists in the order the table made them (its oids count up across tables)."""
    names = exp.Subquery(this=exp.select(exp.WithinGroup(
        this=exp.func("list", exp.column("constraint_name")), expression=exp.Order(
            expressions=[exp.Ordered(this=exp.column("constraint_rank"))]))).from_(
        exp.Table(this=exp.Anonymous(this=CONSTRAINTS))).where(exp.and_(
            exp.column("constraint_relid").eq(exp.column("conrelid")),
            exp.column("constraint_kind").eq(exp.column("contype")))))
    return exp.func("list_extract", names, rank)  # (from 1)


def kind_rank() -> exp.Expr:
    """A pg_constraint row's rank among its table's constraints of its kind, from 1."""
    return exp.Window(this=exp.RowNumber(), partition_by=[exp.column("conrelid"), exp.column("contype")],
                      order=exp.Order(expressions=[exp.Ordered(this=exp.column("oid"))]))


def _of_foreign_key(column: str, otherwise: exp.Expr) -> exp.Expr:
    """A pg_constraint row's ``column`` of ``indb_references()`` where it is a foreign key
    (its table's and its rank among the table's keys), else ``otherwise``."""
    listed = exp.Subquery(this=exp.select(exp.WithinGroup(
        this=exp.func("list", exp.column(column)), expression=exp.Order(
            expressions=[exp.Ordered(this=exp.column("reference_rank"))]))).from_(
        exp.Table(this=exp.Anonymous(this=REFERENCES))).where(
        exp.column("reference_relid").eq(exp.column("conrelid"))))
    return exp.If(this=exp.column("contype").eq(exp.Literal.string("f")),
                  true=exp.func("list_extract", listed, kind_rank()), false=otherwise)


def constraints(relations: Sequence[Relation], shown: Shown) -> exp.Query:
    """The body of ``indb_constraints()``: each table's UNIQUE (kind u), CHECK (c) and FOREIGN
    KEY (f, those ``shown``) constraints' names by their rank among the table's of their kind,
    as ``table`` makes them, with the table's oid."""
    rows = [(relation.schema, relation.name, kind, rank, name)
            for relation in relations if relation.table is not None
            for kind, named in (("u", relation.table.uniques), ("c", relation.table.checks),
                                ("f", [(k.name, k) for k in shown.get(relation.name_key, ())]))
            for rank, (name, _) in enumerate(named, start=1)]
    return of_relations(("schema", "table", "kind", "rank", "name"), rows, ("", "", "", 0, ""), [
        exp.alias_(exp.column("oid", "c"), "constraint_relid"),
        *(exp.alias_(exp.column(n, "v"), f"constraint_{n}") for n in ("kind", "rank", "name"))])


def of_relations(names: tuple[str, ...], rows: Sequence[tuple[object, ...]],
                 typed: tuple[object, ...], selected: list[exp.Expr]) -> exp.Query:
    """``selected`` of rows about relations (``names``, the first two their schema and table),
    each joined with its relation's ``pg_class`` row (``c``; the row itself is ``v``). No rows:
    none, of the types of ``typed``."""
    values = exp.Values(expressions=[exp.Tuple(expressions=[exp.convert(v) for v in row])
                                     for row in rows or [typed]],
                        alias=exp.TableAlias(this=exp.to_identifier("v"),
                                             columns=[exp.to_identifier(n) for n in names]))
    found = exp.select(*selected).from_(values).join(
        exp.to_table("pg_catalog.pg_class").as_("c"),
        on=exp.column("relname", "c").eq(exp.column("table", "v"))).join(
        exp.to_table("pg_catalog.pg_namespace").as_("n"), on=exp.and_(
            exp.column("oid", "n").eq(exp.column("relnamespace", "c")),
            exp.column("nspname", "n").eq(exp.column("schema", "v"))))
    return found if rows else found.where(exp.false())


def indexes(relations: Sequence[Relation]) -> exp.Query:
    """The body of ``indb_indexes()``: a row for each column of each index, with the index's
    oid, name and table, whether it is the primary key and unique, and the column's position in
    it, name and number. The indexes are those of the primary keys (``<table>_pkey``) and the
    UNIQUE constraints (of their names), from DuckDB's constraints, and those ``CREATE INDEX``
    recorded, numbered after their table's oid (as DuckDB numbers constraints) from 500,000."""
    rows = [(relation.schema, relation.name, name, number, unique, position, column,
             [c for c, _ in relation.columns].index(column) + 1)
            for relation in relations if relation.table is not None
            for number, (name, columns, unique) in enumerate(relation.table.indexes)
            for position, column in enumerate(columns, start=1)]
    recorded = of_relations(("schema", "table", "name", "number", "unique", "position", "column",
                             "attnum"), rows, ("", "", "", 0, False, 0, "", 0), [
        exp.alias_(exp.Add(this=exp.Mul(this=exp.column("oid", "c"), expression=exp.Literal.number(
            1_000_000)), expression=exp.Add(this=exp.Literal.number(500_000),
                                            expression=exp.column("number", "v"))), "index_oid"),
        exp.alias_(exp.column("oid", "c"), "index_relid"),
        exp.alias_(exp.column("relnamespace", "c"), "index_namespace"),
        exp.alias_(exp.column("name", "v"), "index_name"),
        exp.alias_(exp.column("schema", "v"), "index_schema"),
        exp.alias_(exp.column("table", "v"), "index_table"),
        exp.alias_(exp.false(), "index_primary"),
        *(exp.alias_(exp.column(n, "v"), f"index_{n}") for n in ("unique", "position", "column",
                                                                 "attnum"))])
    return exp.union(_CONSTRAINT_INDEXES.copy(), recorded, distinct=False)


# the indexes of the primary keys and UNIQUE constraints, named as PostgreSQL names them
_CONSTRAINT_INDEXES = sqlglot.parse_one(
    "SELECT k.oid AS index_oid, k.conrelid AS index_relid, c.relnamespace AS index_namespace, "
    "CASE WHEN k.contype = 'p' THEN c.relname || '_pkey' ELSE coalesce((SELECT constraint_name "
    f"FROM {CONSTRAINTS}() WHERE constraint_relid = k.conrelid AND constraint_kind = 'u' "
    "AND constraint_rank = k.rank), k.conname) END AS index_name, "
    "n.nspname AS index_schema, c.relname AS index_table, k.contype = 'p' AS index_primary, "
    "TRUE AS index_unique, k.position AS index_position, a.attname AS index_column, "
    "a.attnum AS index_attnum FROM (SELECT oid, conrelid, contype, conname, rank, "
    "unnest(conkey) + 1 AS attnum, generate_subscripts(conkey, 1) AS position "
    "FROM (SELECT *, row_number() OVER (PARTITION BY conrelid, contype ORDER BY oid) AS rank "
    "FROM pg_catalog.pg_constraint WHERE contype IN ('p', 'u'))) AS k "
    "JOIN pg_catalog.pg_attribute AS a ON a.attrelid = k.conrelid AND a.attnum = k.attnum "
    "JOIN pg_catalog.pg_class AS c ON c.oid = k.conrelid "
    "JOIN pg_catalog.pg_namespace AS n ON n.oid = c.relnamespace", read="duckdb")


def _per_column(value: exp.Expr, kind: str) -> exp.Expr:
    """An index's list of ``value`` a column, in its columns' order."""
    return exp.cast(exp.WithinGroup(this=exp.func("list", value), expression=exp.Order(
        expressions=[exp.Ordered(this=exp.column("index_position"))])), kind)


def indexes_added() -> exp.Query:
    """pg_index's row of each index (DuckDB's lists none of a table)."""
    count = exp.Count(this=exp.Star())
    return exp.select(*(exp.alias_(value, name) for name, value in (
        ("indexrelid", exp.column("index_oid")), ("indrelid", exp.func("first", exp.column("index_relid"))),
        ("indnatts", count), ("indnkeyatts", count.copy()),
        ("indisunique", exp.func("bool_or", exp.column("index_unique"))),
        ("indisprimary", exp.func("bool_or", exp.column("index_primary"))),
        ("indisexclusion", exp.false()), ("indimmediate", exp.true()),
        ("indisclustered", exp.false()), ("indisvalid", exp.true()), ("indcheckxmin", exp.false()),
        ("indisready", exp.true()), ("indislive", exp.true()), ("indisreplident", exp.false()),
        ("indnullsnotdistinct", exp.false()),
        ("indkey", _per_column(exp.column("index_attnum"), "INTEGER[]")),
        ("indclass", _per_column(exp.Literal.number(0), "BIGINT[]")),  # the default operators
        ("indcollation", _per_column(exp.Literal.number(0), "BIGINT[]")),
        ("indoption", _per_column(exp.Literal.number(0), "INTEGER[]"))))).from_(  # ascending
        exp.Table(this=exp.Anonymous(this=INDEXES))).group_by(exp.column("index_oid"))


def index_relations_added() -> exp.Query:
    """pg_class's row of each index (``relkind`` i, of btree)."""
    return exp.select(*(exp.alias_(value, name) for name, value in (
        ("oid", exp.column("index_oid")), ("relname", exp.func("first", exp.column("index_name"))),
        ("relnamespace", exp.func("first", exp.column("index_namespace"))),
        ("relkind", exp.Literal.string("i")), ("relam", exp.Literal.number(BTREE)),
        ("relpersistence", exp.Literal.string("p")), ("relispopulated", exp.true()),
        # PostgreSQL's are never NULL (psqlODBC's SQLStatistics reads relhasrules into a bool)
        *((flag, exp.false()) for flag in (
            "relhasindex", "relhasrules", "relhastriggers", "relhassubclass", "relrowsecurity",
            "relforcerowsecurity", "relispartition", "relisshared", "relhasoids", "relhaspkey"))))).from_(
        exp.Table(this=exp.Anonymous(this=INDEXES))).group_by(exp.column("index_oid"))


def index_attributes_added() -> exp.Query:
    """pg_attribute's rows of each index's columns, numbered in it, of its table's columns'
    types (psql's \\d of an index lists them)."""
    return exp.select(*(exp.alias_(value, name) for name, value in (
        ("attrelid", exp.column("index_oid", "x")), ("attname", exp.column("index_column", "x")),
        ("attnum", exp.column("index_position", "x")), ("atttypid", exp.column("atttypid", "a")),
        ("atttypmod", exp.column("atttypmod", "a")), ("attnotnull", exp.false()),
        ("atthasdef", exp.false()), ("attisdropped", exp.false()),
        ("attidentity", exp.Literal.string(""))))).from_(
        exp.Table(this=exp.Anonymous(this=INDEXES), alias=exp.TableAlias(this=exp.to_identifier("x")))
    ).join(exp.to_table("pg_catalog.pg_attribute").as_("a"), on=exp.and_(
        exp.column("attrelid", "a").eq(exp.column("index_relid", "x")),
        exp.column("attnum", "a").eq(exp.column("index_attnum", "x"))))


def access_methods_added() -> exp.Query:
    """pg_am's btree, which every index is (SQLAlchemy's reflection asks for its oid)."""
    return exp.select(exp.alias_(exp.Literal.number(BTREE), "oid"),
                      exp.alias_(exp.Literal.string("btree"), "amname"),
                      exp.alias_(exp.Literal.string("i"), "amtype"))


def identity(value: exp.Expr, otherwise: exp.Expr, *where: exp.Expr) -> exp.Expr:
    """``value`` (of ``indb_identities()``' columns) for the identity column its ``where``
    finds, else ``otherwise``."""
    return exp.func("coalesce", exp.Subquery(this=exp.select(value).from_(
        exp.Table(this=exp.Anonymous(this=IDENTITIES))).where(exp.and_(*where)).limit(1)),
        otherwise)


def of_attribute() -> list[exp.Expr]:
    """The identity of a pg_attribute row's column."""
    return [exp.column("identity_relid").eq(exp.column("attrelid")),
            exp.column("identity_column").eq(exp.column("attname"))]


def of_information() -> list[exp.Expr]:
    """The identity of an information_schema.columns row's column."""
    return [exp.column(f"identity_{name}").eq(exp.column(of)) for name, of in (
        ("schema", "table_schema"), ("table", "table_name"), ("column", "column_name"))]


def _generated_column() -> exp.Select:
    """The information_schema.columns row of a pg_attribute row's column if it is generated
    (DuckDB's pg_attribute says no column is)."""
    def of(column: str, table: str) -> exp.Column:
        return exp.column(column, table)
    return exp.select("1").from_(exp.to_table("information_schema.columns").as_("indb_ic")).join(
        exp.Table(this=exp.Anonymous(this="duckdb_tables")).as_("indb_dt"), on=exp.and_(
            of("schema_name", "indb_dt").eq(of("table_schema", "indb_ic")),
            of("table_name", "indb_dt").eq(of("table_name", "indb_ic")))).where(exp.and_(
                of("table_oid", "indb_dt").eq(exp.column("attrelid")),
                of("column_name", "indb_ic").eq(exp.column("attname")),
                of("is_generated", "indb_ic").eq(exp.Literal.string("ALWAYS"))))


def always(yes: str, no: str) -> exp.Expr:
    return exp.If(this=exp.column("identity_always"), true=exp.Literal.string(yes),
                  false=exp.Literal.string(no))


# columns of pg_catalog's tables (pgcatalog's _EXTRA_COLUMNS)
EXTRA_COLUMNS: dict[str, dict[str, exp.Expr]] = {
    # 'a' ALWAYS, 'd' BY DEFAULT, '' no identity
    "pg_attribute": {"attidentity": identity(always("a", "d"), exp.Literal.string(""),
                                             *of_attribute()),
                     # 's' a generated column (stored, as indb's are), '' another
                     "attgenerated": exp.If(this=exp.Exists(this=_generated_column()),
                                            true=exp.Literal.string("s"),
                                            false=exp.Literal.string(""))},
    # every comment is of a relation or its column: pg_class's (its oid in PostgreSQL)
    "pg_description": {"classoid": exp.Literal.number(1259)},
    # DuckDB numbers a constraint's columns from 0 and names a primary key by its columns
    "pg_constraint": {
        "tableoid": exp.Literal.number(2606),  # pg_constraint's own oid (psql's \dd joins by it)
        "conkey": from_one(exp.column("conkey")),
        "conname": exp.Case(ifs=[
            exp.If(this=exp.column("contype").eq(exp.Literal.string("p")),
                   true=pkey_name(exp.column("conrelid"))),
            exp.If(this=exp.column("contype").isin(*map(exp.Literal.string, "cuf")),
                   true=exp.func("coalesce", constraint_name(kind_rank()), exp.column("conname")))],
            default=exp.column("conname")),
        # a foreign key's referenced table and columns, and its actions: no action, MATCH SIMPLE
        "confrelid": _of_foreign_key("reference_parent", exp.column("confrelid")),
        "confkey": _of_foreign_key("reference_columns", exp.column("confkey")),
        **{kind: exp.If(this=exp.column("contype").eq(exp.Literal.string("f")),
                        true=exp.Literal.string(code), false=exp.null())
           for kind, code in (("confupdtype", "a"), ("confdeltype", "a"), ("confmatchtype", "s"))},
        "conindid": exp.Case(ifs=[exp.If(this=exp.column("contype").isin(
            exp.Literal.string("p"), exp.Literal.string("u")), true=exp.column("oid"))],
            default=exp.column("conindid"))},
    # whether a table has an index (psql's \d lists them only then)
    "pg_class": {"relhasindex": exp.func("coalesce", exp.column("relhasindex"), exp.false()).or_(
        exp.Exists(this=exp.select("1").from_(exp.Table(this=exp.Anonymous(this=INDEXES))).where(
            exp.column("index_relid").eq(exp.column("oid"))))),
        # a table with a foreign key or referenced by one (PostgreSQL's keys are triggers: psql's
        # \d lists a table's keys and the keys referencing it only then)
        "relhastriggers": exp.Exists(this=exp.select("1").from_(exp.Table(
            this=exp.Anonymous(this=REFERENCES))).where(exp.column("oid").isin(
                exp.column("reference_relid"), exp.column("reference_parent"))))},
}
# rows of pg_catalog's tables (pgcatalog's _ADDED_ROWS)
ADDED_ROWS = {"pg_index": indexes_added, "pg_class": index_relations_added,
              "pg_attribute": index_attributes_added, "pg_am": access_methods_added}
BIGGEST = {"SMALLINT": 2**15 - 1, "INTEGER": 2**31 - 1}  # an identity's maximum by its type


def biggest(kind: str) -> int:
    return BIGGEST.get(kind, 2**63 - 1)  # BIGINT's, else


def _pkey_named(view: str) -> exp.Expr:
    """A row's ``constraint_name`` in information_schema's ``view``: ``pkey_of`` its table if
    table_constraints says that constraint is the table's primary key, else DuckDB's."""
    def of_view(column: str) -> exp.Column:
        return exp.column(column, view)
    primary = exp.Exists(this=exp.select("1").from_(exp.to_table(
        "information_schema.table_constraints").as_("indb_tc")).where(exp.and_(
            exp.column("constraint_type", "indb_tc").eq(exp.Literal.string("PRIMARY KEY")),
            *(exp.column(c, "indb_tc").eq(of_view(c))
              for c in ("constraint_name", "table_name", "table_schema")))))
    return exp.If(this=primary, true=pkey_of(of_view("table_name")), false=of_view("constraint_name"))


# columns of information_schema's (PostgreSQL's is_identity is YES or NO, DuckDB's NULL)
INFORMATION_COLUMNS: dict[str, dict[str, exp.Expr]] = {"columns": {
    # a generated column has no default in PostgreSQL's (DuckDB's gives its expression)
    "column_default": exp.If(this=exp.column("is_generated").eq(exp.Literal.string("ALWAYS")),
                             true=exp.null(), false=exp.column("column_default")),
    "is_identity": identity(exp.Literal.string("YES"), exp.Literal.string("NO"), *of_information()),
    "identity_generation": identity(always("ALWAYS", "BY DEFAULT"), exp.null(), *of_information()),
    **{f"identity_{name}": identity(exp.cast(exp.column(f"identity_{name}"), "VARCHAR"), exp.null(),
                                     *of_information()) for name in ("start", "increment")},
    "identity_maximum": identity(exp.Case(this=exp.column("data_type"), ifs=[
        exp.If(this=exp.Literal.string(kind), true=exp.Literal.string(str(largest)))
        for kind, largest in BIGGEST.items()], default=exp.Literal.string(str(biggest("BIGINT")))),
        exp.null(), *of_information()),
    "identity_minimum": identity(exp.Literal.string("1"), exp.null(), *of_information()),
    "identity_cycle": identity(exp.Literal.string("NO"), exp.null(), *of_information())},
    # a primary key is <table>_pkey, as pg_constraint names it (DuckDB's: <table>_<columns>_pkey)
    "table_constraints": {"constraint_name": exp.If(
        this=exp.column("constraint_type").eq(exp.Literal.string("PRIMARY KEY")),
        true=pkey_of(exp.column("table_name")), false=exp.column("constraint_name"))},
    **{view: {"constraint_name": _pkey_named(view)} for view in (
        "key_column_usage", "constraint_column_usage", "constraint_table_usage")},
    # a CHECK's condition as PostgreSQL gives it, "((a > 0))" (DuckDB's: "CHECK((a > 0))")
    "check_constraints": {"check_clause": exp.RegexpReplace(
        this=exp.column("check_clause"), expression=exp.Literal.string(r"^CHECK\((.*)\)$"),
        replacement=exp.Literal.string(r"(\1)"))}}


def information_sequences(database: str) -> exp.Query:
    """``information_schema.sequences`` (DuckDB's lacks it; Hibernate reads it as it starts):
    the shadow's sequences (its user's own, identity columns' and SERIALs'), their type told by
    their maximum (as ``table`` makes an identity's), their numbers as text, as PostgreSQL's."""
    kind = exp.Case(this=exp.column("max_value"), ifs=[
        exp.If(this=exp.Literal.number(largest), true=exp.Literal.string(name.lower()))
        for name, largest in BIGGEST.items()], default=exp.Literal.string("bigint"))
    bits = exp.Case(this=exp.column("max_value"), ifs=[
        exp.If(this=exp.Literal.number(largest), true=exp.Literal.number(bits))
        for largest, bits in ((2**15 - 1, 16), (2**31 - 1, 32))], default=exp.Literal.number(64))
    return exp.select(*(exp.alias_(value, name) for name, value in (
        ("sequence_catalog", exp.Literal.string(database)),
        ("sequence_schema", exp.column("schema_name")),
        ("sequence_name", exp.column("sequence_name")), ("data_type", kind),
        ("numeric_precision", bits), ("numeric_precision_radix", exp.Literal.number(2)),
        ("numeric_scale", exp.Literal.number(0)),
        *((pg, exp.cast(exp.column(duck), "VARCHAR")) for pg, duck in (
            ("start_value", "start_value"), ("minimum_value", "min_value"),
            ("maximum_value", "max_value"), ("increment", "increment_by"))),
        ("cycle_option", exp.If(this=exp.column("cycle"), true=exp.Literal.string("YES"),
                                false=exp.Literal.string("NO")))))).from_(
        exp.Table(this=exp.Anonymous(this="duckdb_sequences"))).where(
        exp.column("database_name").eq(exp.Literal.string(database)))


def table(relation: Relation, name: exp.Table, keys: Sequence[ForeignKey] = ()) -> list[exp.Expr]:
    """A table of no rows with the relation's columns, their NOT NULL and DEFAULT, its PRIMARY
    KEY, UNIQUEs, CHECKs and foreign ``keys`` (``shown_keys``), so that the catalog describes
    them as PostgreSQL's does; and a sequence of each
    identity column (``<table>_<column>_seq``, as PostgreSQL names it), which
    ``indb_identities`` describes (the column has no DEFAULT, as in PostgreSQL's catalog)."""
    info = relation.table
    made: list[exp.Expr] = []
    items: list[exp.Expr] = []
    for column, kind in relation.columns:
        described = info.column(column) if info else None
        constraints = []
        if described is not None and described.generated is not None:  # DuckDB's VIRTUAL one:
            constraints.append(generated.constraint(described))  # information_schema says so
        elif described is not None and not described.nullable:
            constraints.append(exp.ColumnConstraint(kind=exp.NotNullColumnConstraint()))
        if described is not None and described.default is not None:
            constraints.append(exp.ColumnConstraint(kind=exp.DefaultColumnConstraint(
                this=sqlglot.parse_one(described.default, read="duckdb"))))
            numbered = default_sequence(described.default)
            if numbered is not None:  # a sequence the user may not see is there, unnamed
                made.append(exp.Create(this=exp.Table(
                    this=exp.to_identifier(split_name(numbered)[1], quoted=True),
                    db=exp.to_identifier(split_name(numbered)[0], quoted=True)),
                    kind="SEQUENCE", exists=True))
        if described is not None and described.identity is not None:
            numbering = described.identity
            made.append(exp.Create(this=exp.Table(
                this=exp.to_identifier(sequence(relation.name, column), quoted=True),
                db=name.args["db"]), kind="SEQUENCE", properties=exp.Properties(expressions=[
                    exp.SequenceProperties(start=exp.Literal.number(numbering.start),
                                           increment=exp.Literal.number(numbering.increment),
                                           maxvalue=exp.Literal.number(biggest(kind)))])))
        items.append(exp.ColumnDef(this=exp.to_identifier(column, quoted=True), kind=column_type(kind),
                                   constraints=constraints))
    if info is not None and info.primary_key:
        items.append(exp.PrimaryKey(expressions=[exp.to_identifier(c, quoted=True)
                                                 for c in info.primary_key]))
    for _, unique in info.uniques if info is not None else ():  # pg_constraint's 'u' rows
        items.append(exp.UniqueColumnConstraint(this=exp.Schema(expressions=[
            exp.to_identifier(c, quoted=True) for c in unique])))
    for check, condition in info.checks if info is not None else ():  # pg_constraint's 'c' rows
        items.append(exp.Constraint(this=exp.to_identifier(check, quoted=True), expressions=[
            exp.CheckColumnConstraint(this=sqlglot.parse_one(condition, read="duckdb"))]))
    items += [foreign_key_tree(key) for key in keys]  # pg_constraint's 'f' rows
    return [*made, exp.Create(this=exp.Schema(this=name, expressions=items), kind="TABLE"),
            *comments(info, name)]


# the foreign keys a shadow's tables are made with, by (schema, table)
Shown = dict[tuple[str, str], tuple[ForeignKey, ...]]


def in_order(relations: Sequence[Relation]) -> tuple[list[Relation], Shown]:
    """The relations in the order a shadow makes them, a table another's foreign key
    references first, and each table's keys the shadow shows: those whose referenced table the
    user sees (made before, or itself) by its primary key or a UNIQUE constraint (DuckDB's
    catalog holds them so); in a cycle, the key that closes it is left out."""
    by_name = {r.name_key: r for r in relations}
    ordered: list[Relation] = []
    shown: Shown = {}

    def place(relation: Relation, seen: frozenset[tuple[str, str]]) -> None:
        if relation in ordered:
            return
        keys = relation.table.foreign_keys if relation.table is not None else ()
        for key in keys:
            parent = by_name.get(split_name(key.table))
            if parent is not None and parent is not relation and parent.name_key not in seen:
                place(parent, seen | {relation.name_key})
        shown[relation.name_key] = tuple(k for k in keys if _shown(k, relation, by_name, ordered))
        ordered.append(relation)
    for relation in relations:
        place(relation, frozenset())
    return ordered, shown


def _shown(key: ForeignKey, relation: Relation, by_name: dict[tuple[str, str], Relation],
           made: list[Relation]) -> bool:
    parent = by_name.get(split_name(key.table))
    if parent is None or parent.table is None or (parent is not relation and parent not in made):
        return False
    unique = [set(parent.table.primary_key), *(set(c) for _, c in parent.table.uniques)]
    return set(key.referenced) in unique


def references(relations: Sequence[Relation], shown: Shown) -> exp.Query:
    """The body of ``indb_references()``: each foreign key the shadow shows, by its table's oid
    and its rank among the table's keys, with the oid of the table it references and the
    numbers (from 1) of the columns it references there."""
    by_name = {r.name_key: r for r in relations}
    rows = []
    for relation in relations:
        for rank, key in enumerate(shown.get(relation.name_key, ()), start=1):
            parent = by_name[split_name(key.table)]
            numbers = [[c for c, _ in parent.columns].index(r) + 1 for r in key.referenced]
            rows.append((relation.schema, relation.name, rank, parent.schema, parent.name,
                         ",".join(map(str, numbers))))
    referenced = exp.func("list_transform", exp.func(
        "string_split", exp.column("columns", "v"), exp.Literal.string(",")), exp.Lambda(
            this=exp.cast(exp.column("number"), "INTEGER"), expressions=[exp.to_identifier("number")]))
    return of_relations(("schema", "table", "rank", "parent_schema", "parent_table", "columns"),
                        rows, ("", "", 0, "", "", ""), [
                            exp.alias_(exp.column("oid", "c"), "reference_relid"),
                            exp.alias_(exp.column("rank", "v"), "reference_rank"),
                            exp.alias_(_parent_oid(), "reference_parent"),
                            exp.alias_(referenced, "reference_columns")])


def _parent_oid() -> exp.Subquery:
    """The pg_class oid of the relation named by columns ``parent_schema`` and ``parent_table``
    of ``v`` (``of_relations``' rows)."""
    return exp.Subquery(this=exp.select(exp.column("oid", "pc")).from_(
        exp.to_table("pg_catalog.pg_class").as_("pc")).join(
        exp.to_table("pg_catalog.pg_namespace").as_("pn"), on=exp.and_(
            exp.column("oid", "pn").eq(exp.column("relnamespace", "pc")),
            exp.column("nspname", "pn").eq(exp.column("parent_schema", "v")))).where(
        exp.column("relname", "pc").eq(exp.column("parent_table", "v"))).limit(1))


def comments(info: TableInfo | None, name: exp.Table) -> list[exp.Comment]:
    """COMMENT ON the shadow's table and its columns, as the table has them (DuckDB's
    ``pg_description`` then lists them)."""
    if info is None:
        return []
    made = [exp.Comment(this=name.copy(), kind="TABLE", expression=exp.Literal.string(info.comment))
            ] if info.comment is not None else []
    return made + [exp.Comment(this=exp.column(c.name, name.name, name.args["db"].name, quoted=True),
                               kind="COLUMN", expression=exp.Literal.string(c.comment))
                   for c in info.columns if c.comment is not None]


def sequence_made(info: SequenceInfo, name: exp.Table) -> exp.Create:
    """A sequence of the shadow made as ``info`` defines it (pg_class lists it, relkind S)."""
    return exp.Create(this=name, kind="SEQUENCE", exists=True, properties=exp.Properties(
        expressions=[properties(info, info.start)]))


def sequence(table: str, column: str) -> str:
    return f"{table}_{column}_seq"


def identities(relations: Sequence[Relation]) -> exp.Query:
    """The body of ``indb_identities()``: a row for each identity column of the relations, with
    its table's oid, schema and name, the column's name, whether it is ALWAYS, its START and
    INCREMENT, and its sequence's qualified name (``pg_get_serial_sequence``'s answer)."""
    names = ("schema", "table", "column", "always", "start", "increment")
    rows = [(relation.schema, relation.name, column.name, column.identity.always,
             column.identity.start, column.identity.increment)
            for relation in relations if relation.table is not None
            for column in relation.table.columns if column.identity is not None]
    return of_relations(names, rows, ("", "", "", False, 0, 0), [
        exp.alias_(exp.column("oid", "c"), "identity_relid"),
        *(exp.alias_(exp.column(n, "v"), f"identity_{n}") for n in names),
        exp.alias_(exp.func("concat", exp.column("schema", "v"), exp.Literal.string("."),
                            exp.column("table", "v"), exp.Literal.string("_"),
                            exp.column("column", "v"), exp.Literal.string("_seq")),
                   "identity_sequence")])


def column_type(kind: str) -> exp.DataType:
    """A column's DuckDB type as a tree (text where sqlglot does not know it)."""
    try:
        return exp.DataType.build(kind, dialect="duckdb")
    except ParseError:  # a type sqlglot does not know: shown as text
        return exp.DataType.build("VARCHAR")
