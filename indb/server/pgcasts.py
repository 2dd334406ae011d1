"""PostgreSQL's casts to its object identifier types (``'t'::regclass``, ``x::regtype``) and
type names in catalog queries, as the pg port's shadow catalogs (``server.pgcatalog``) answer
them."""

from __future__ import annotations

from sqlglot import exp

from indb.server import pgkeys, pgoids, pgvalues

# the catalog tables whose oid a query may compute from a name in it (``x::regclass`` of a
# column): those PostgreSQL's catalog names as classoid (``pg_description.classoid``), few, since
# each is a branch of a CASE in every such cast (a name written, ``'pg_class'::regclass``, may
# be any of pgoids.TABLE_OIDS)
_CLASS_OIDS = {name: pgoids.TABLE_OIDS[name] for name in (
    "pg_type", "pg_attribute", "pg_proc", "pg_class", "pg_database", "pg_constraint",
    "pg_description", "pg_namespace")}
# PostgreSQL's object identifier types that are oids here
OID_TYPES = frozenset({"oid", "regproc", "regprocedure", "regoper", "regoperator",
                       "regnamespace", "regrole", "regcollation", "regconfig", "xid"})


def cast(node: exp.Cast) -> exp.Expr:
    """Casts to PostgreSQL's object identifier types (``'t'::regclass``, ``x::regtype``), its
    names of types (``pg_catalog.text``, ``name``) and of its array literals (``'{a,b}'::text[]``)
    as DuckDB's."""
    to = node.to
    if isinstance(to, exp.DataType) and to.this == exp.DataType.Type.ARRAY:
        return pgvalues.array_literal(node)
    if isinstance(to, exp.ObjectIdentifier):
        name = to.name.lower()
    elif to.this == exp.DataType.Type.NAME:
        name = "name"
    else:
        return node
    operand = node.this
    if name == "regclass":  # a table's name as its oid
        if not operand.is_string and _projected(node):  # an oid shown: as its name (psql's \d)
            return exp.Subquery(this=exp.select("relname").from_(exp.to_table(
                "pg_catalog.pg_class")).where(exp.column("oid").eq(class_oid(operand))).limit(1))
        if not operand.is_string:  # an oid already, or a name computed in the query
            return class_oid(operand)
        if operand.name.isdigit():  # '16385'::regclass, an oid (psql's)
            return exp.Literal.number(operand.name)
        relname = operand.name.split(".")[-1].strip('"')
        if relname in pgoids.TABLE_OIDS:  # a table of the catalog: its oid in PostgreSQL's
            return exp.Literal.number(pgoids.TABLE_OIDS[relname])
        return exp.Subquery(this=exp.select("oid").from_(exp.to_table("pg_catalog.pg_class")).where(
            exp.column("relname").eq(exp.Literal.string(relname))).limit(1))
    if name == "regtype":  # a type's oid as its name
        return exp.func("format_type", operand, exp.null())
    if name in ("regproc", "regprocedure") and operand.is_string and not operand.name.isdigit():
        # a function's name (psql's \\sf f: 'f'::regproc), or its signature, as its oid
        proname = operand.name.split("(")[0].split(".")[-1].strip('"')
        return exp.Subquery(this=exp.select("oid").from_(exp.to_table("pg_catalog.pg_proc")).where(
            exp.column("proname").eq(exp.Literal.string(proname))).limit(1))
    if name in OID_TYPES:
        return exp.cast(operand, exp.DataType.Type.BIGINT)
    if name == "name":
        return exp.cast(operand, exp.DataType.Type.VARCHAR)
    return node


def _projected(node: exp.Expr) -> bool:
    """Whether ``node`` is a column of its SELECT's result (``x AS name``, or ``x``)."""
    parent = node.parent.parent if isinstance(node.parent, exp.Alias) else node.parent
    return isinstance(parent, exp.Select) and node.parent in parent.expressions or node in (
        parent.expressions if isinstance(parent, exp.Select) else [])


def class_oid(operand: exp.Expr) -> exp.Expr:
    """A relation's oid, from its oid or its name (``operand``'s value) as ``::regclass`` has it."""
    return exp.func("coalesce", exp.TryCast(this=operand, to=exp.DataType.build("BIGINT")),
                    exp.Case(this=pgkeys.last_name(operand), ifs=[
                        exp.If(this=exp.Literal.string(relation), true=exp.Literal.number(oid))
                        for relation, oid in _CLASS_OIDS.items()]),
                    exp.Subquery(this=exp.select("oid").from_(
                        exp.to_table("pg_catalog.pg_class")).where(
                        exp.column("relname").eq(pgkeys.last_name(operand))).limit(1)))
