"""Who the pg port's catalog says there is, and who owns what: indb's users and roles as
PostgreSQL's ``pg_roles``, ``pg_user`` and ``pg_auth_members`` (psql's ``\\du``, the role lists
of BI tools), and each relation's owner as ``pg_class.relowner`` (the Owner of psql's ``\\dt``).

A user's catalog lists the principals SHOW USERS and SHOW ROLES would show it: all of them to the
database's owner and to admins; to anyone else itself, the built-in roles and the roles it holds.
(PostgreSQL lists every role to everyone; indb's list of users is for admins.)
"""

from __future__ import annotations

import zlib
from collections.abc import Sequence

from sqlglot import exp

from indb.catalog.users import OWNER, Principal
from indb.engine.privileges import Relation
from indb.planner.access import ADMIN
from indb.server.pgkeys import column_type, of_relations

OWNER_OID = 10  # PostgreSQL's bootstrap superuser's oid: the database's owner here
FIRST_OID = 16384  # the first oid PostgreSQL gives what users make
# the catalog relations made here, which a query reads through the shadow's table macros
# ``indb_<relation>`` (pgcatalog's naming of them)
MACROS = frozenset({"pg_roles", "pg_user", "pg_auth_members", "pg_authid"})
ROLES, USERS, MEMBERS = "indb_pg_roles", "indb_pg_user", "indb_pg_auth_members"
AUTHID = "indb_pg_authid"
OWNERS = "indb_owners"  # and of each relation's owner: (relation_oid, owner_oid)


def role_oid(name: str) -> int:
    """A principal's oid: the owner's is 10; another's comes from its name, so it stays the same
    from query to query, and from one user's catalog to another's."""
    return OWNER_OID if name == OWNER else FIRST_OID + zlib.crc32(name.encode()) % (1 << 30)


def superuser(principal: Principal) -> bool:
    return principal.name == OWNER or ADMIN in principal.roles


# pg_roles' columns and their types (PostgreSQL 15's view), with each one's value of a principal
_ROLE_COLUMNS: dict[str, str] = {
    "oid": "BIGINT", "rolname": "VARCHAR", "rolsuper": "BOOLEAN", "rolinherit": "BOOLEAN",
    "rolcreaterole": "BOOLEAN", "rolcreatedb": "BOOLEAN", "rolcanlogin": "BOOLEAN",
    "rolreplication": "BOOLEAN", "rolconnlimit": "BIGINT", "rolpassword": "VARCHAR",
    "rolvaliduntil": "TIMESTAMP WITH TIME ZONE", "rolbypassrls": "BOOLEAN", "rolconfig": "VARCHAR[]"}


def _role_row(principal: Principal) -> tuple[object, ...]:
    admin = superuser(principal)
    return (role_oid(principal.name), principal.name, admin, True, admin, admin,
            principal.kind == "user", False, -1, "********", None, admin, None)


def roles(principals: Sequence[Principal], owners: Sequence[str]) -> exp.Query:
    """The body of ``indb_pg_roles()``: a row a principal, and one for each owner of a relation
    the user sees that is none of them (its name alone: pg_dump stops on an owner it cannot
    name)."""
    shown = {p.name for p in principals}
    named = [Principal(name, "role", False, 0.0, ()) for name in sorted(set(owners) - shown)]
    return _typed(_ROLE_COLUMNS, [_role_row(p) for p in [*principals, *named]])


def users() -> exp.Query:
    """The body of ``indb_pg_user()``: pg_roles' rows of users, as PostgreSQL's pg_user has
    them."""
    columns = {"usename": "rolname", "usesysid": "oid", "usecreatedb": "rolcreatedb",
               "usesuper": "rolsuper", "userepl": "rolreplication", "usebypassrls": "rolbypassrls",
               "passwd": "rolpassword", "valuntil": "rolvaliduntil", "useconfig": "rolconfig"}
    return exp.select(*(exp.alias_(exp.column(role), user) for user, role in columns.items())).from_(
        exp.Table(this=exp.Anonymous(this=ROLES))).where(exp.column("rolcanlogin"))


def authid() -> exp.Query:
    """The body of ``indb_pg_authid()``: pg_roles' rows, with no password (pg_dumpall reads the
    roles from pg_authid; an indb password's hash is indb's own, of no use to PostgreSQL)."""
    return exp.select(exp.Star(replace=[exp.alias_(exp.cast(exp.null(), "VARCHAR"), "rolpassword")])
                      ).from_(exp.Table(this=exp.Anonymous(this=ROLES)))


def members(principals: Sequence[Principal]) -> exp.Query:
    """The body of ``indb_pg_auth_members()``: a row a role a principal holds (granted by the
    owner)."""
    shown = {p.name for p in principals}
    return _typed({"oid": "BIGINT", "roleid": "BIGINT", "member": "BIGINT", "grantor": "BIGINT",
                   "admin_option": "BOOLEAN", "inherit_option": "BOOLEAN", "set_option": "BOOLEAN"},
                  [(role_oid(f"{role}/{p.name}"), role_oid(role), role_oid(p.name), OWNER_OID,
                    False, True, True)
                   for p in principals for role in p.roles if role in shown])


def owners(relations: Sequence[Relation]) -> exp.Query:
    """The body of ``indb_owners()``: each relation's oid and its owner's."""
    rows = [(r.schema, r.name, role_oid(r.owner)) for r in relations]
    return of_relations(("schema", "table", "owner_oid"), rows, ("", "", 0), [
        exp.alias_(exp.column("oid", "c"), "relation_oid"), exp.column("owner_oid", "v")])


def userbyid(oid: exp.Expr) -> exp.Expr:
    """``pg_get_userbyid(oid)``: the name of the principal of that oid; an object of no
    recorded owner (0 in DuckDB's catalog) is the database owner's."""
    return exp.func("coalesce", exp.Subquery(this=exp.select("rolname").from_(
        exp.Table(this=exp.Anonymous(this=ROLES))).where(exp.column("oid").eq(oid))),
        exp.Literal.string(OWNER))


def relowner() -> exp.Expr:
    """``pg_class.relowner``: the owner's oid recorded for the relation, else the owner's."""
    return exp.func("coalesce", exp.Subquery(this=exp.select("owner_oid").from_(
        exp.Table(this=exp.Anonymous(this=OWNERS))).where(
        exp.column("relation_oid").eq(exp.column("oid")))), exp.Literal.number(OWNER_OID))


def _typed(columns: dict[str, str], rows: list[tuple[object, ...]]) -> exp.Query:
    """``rows`` with ``columns``' names and types (none: no rows of those types)."""
    names = list(columns)
    values = exp.Values(expressions=[
        exp.Tuple(expressions=[exp.convert(v) for v in row]) for row in rows or [(None,) * len(names)]],
        alias=exp.TableAlias(this=exp.to_identifier("v"), columns=[exp.to_identifier(n) for n in names]))
    query = exp.select(*(exp.alias_(exp.cast(exp.column(n, "v"), column_type(kind)), n)
                         for n, kind in columns.items())).from_(values)
    return query if rows else query.where(exp.false())
