"""Plans for the identity statements: users, roles, grants and tokens (``indb.parser.privileges``).

Names are checked here (a user or role name is a plain identifier, as a table's); whether they
exist is the handler's to say, from the catalog's records.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlglot import exp

from indb.catalog.names import checked_name
from indb.catalog.users import OWNER, RESERVED
from indb.errors import SchemaError
from indb.parser import error_at
from indb.parser import privileges as trees
from indb.planner.access import PRIVILEGES
from indb.planner.durations import moment
from indb.planner.tables import CatalogFacts, table_name


@dataclass(frozen=True)
class CreatePrincipal:
    name: str
    kind: str                 # user or role
    password: str | None = None


@dataclass(frozen=True)
class AlterUser:
    name: str
    password: str | None      # None: no password (tokens only)


@dataclass(frozen=True)
class DropPrincipal:
    name: str
    kind: str
    if_exists: bool


@dataclass(frozen=True)
class GrantRoles:
    roles: tuple[str, ...]
    users: tuple[str, ...]
    revoke: bool


@dataclass(frozen=True)
class GrantPrivileges:
    privileges: tuple[str, ...]
    kind: str                 # table (views too), function, model
    name: str
    grantees: tuple[str, ...]
    revoke: bool


@dataclass(frozen=True)
class SetOwner:
    kind: str                 # table (views too), sequence, function, model, procedure
    name: str
    owner: str


@dataclass(frozen=True)
class CreateToken:
    user: str
    expires: float | None     # seconds since the epoch, UTC
    days: float | None        # EXPIRES IN n DAYS: counted from when it runs


@dataclass(frozen=True)
class ShowTokens:
    user: str | None


@dataclass(frozen=True)
class RevokeToken:
    id: str


@dataclass(frozen=True)
class ShowGrants:
    name: str | None          # None: the calling user's


@dataclass(frozen=True)
class ShowPrincipals:
    kind: str


def _name(node: exp.Expr, kind: str = "user") -> str:
    try:
        return checked_name(node.name, kind)
    except SchemaError as error:
        raise error_at(node, str(error)) from None


def plan_create_principal(tree: trees.CreatePrincipal, catalog: CatalogFacts) -> CreatePrincipal:
    kind = tree.args["kind"].lower()
    name = _name(tree.this, kind)
    if name in RESERVED:
        raise error_at(tree.this, f"{name} is built in ({', '.join(RESERVED)} are reserved); "
                                  "choose another name")
    password = tree.args.get("password")
    return CreatePrincipal(name, kind, _password(password) if password is not None else None)


def plan_alter_user(tree: trees.AlterUser, catalog: CatalogFacts) -> AlterUser:
    password = tree.args["password"]
    return AlterUser(_name(tree.this), None if isinstance(password, exp.Null) else _password(password))


def plan_drop_principal(tree: trees.DropPrincipal, catalog: CatalogFacts) -> DropPrincipal:
    kind = tree.args["kind"].lower()
    name = _name(tree.this, kind)
    if name in RESERVED:
        raise error_at(tree.this, f"{name} is built in and cannot be dropped")
    return DropPrincipal(name, kind, bool(tree.args.get("exists")))


def plan_grant_role(tree: trees.GrantRole, catalog: CatalogFacts) -> GrantRoles:
    return GrantRoles(tuple(_name(r, "role") for r in tree.args["roles"]),
                      tuple(_name(u) for u in tree.args["users"]), bool(tree.args.get("revoke")))


def plan_grant_on(tree: trees.GrantOn, catalog: CatalogFacts) -> GrantPrivileges:
    kind = "table" if tree.args["kind"] == "VIEW" else tree.args["kind"].lower()
    allowed = PRIVILEGES[kind]
    privileges: list[str] = []
    for node in tree.args["privileges"]:
        privilege = node.name.upper()
        if privilege == "ALL":
            privileges += allowed
        elif privilege in allowed:
            privileges.append(privilege)
        else:
            raise error_at(tree, f"{privilege} is not a privilege on a {kind}; a {kind} has "
                                 f"{', '.join(allowed)} (or ALL)")
    grantees = tuple(_name(g, "grantee") for g in tree.args["grantees"])
    for grantee in grantees:
        if grantee in ("admin", OWNER):
            raise error_at(tree, f"{grantee} may do everything already; grant to another user or role")
    name = table_name(tree.this) if kind in ("table", "sequence") else _name(tree.this, kind)  # s.t
    return GrantPrivileges(tuple(dict.fromkeys(privileges)), kind, name, grantees,
                           bool(tree.args.get("revoke")))


def plan_set_owner(tree: trees.SetOwner, catalog: CatalogFacts) -> SetOwner:
    kind = "table" if tree.args["kind"] == "VIEW" else tree.args["kind"].lower()
    name = table_name(tree.this) if kind in ("table", "sequence") else _name(tree.this, kind)
    return SetOwner(kind, name, _name(tree.args["owner"]))


def plan_create_token(tree: trees.CreateToken, catalog: CatalogFacts) -> CreateToken:
    expires = days = None
    if tree.args.get("expires") is not None:
        expires = moment(tree.args["expires"], "EXPIRES")
    if tree.args.get("days") is not None:
        days = float(tree.args["days"].name)
        if days <= 0:
            raise error_at(tree.args["days"], "EXPIRES IN takes a positive number of days")
    return CreateToken(_name(tree.this), expires, days)


def plan_show_tokens(tree: trees.ShowTokens, catalog: CatalogFacts) -> ShowTokens:
    return ShowTokens(_name(tree.this) if tree.this else None)


def plan_revoke_token(tree: trees.RevokeToken, catalog: CatalogFacts) -> RevokeToken:
    return RevokeToken(tree.this.name)


def plan_show_grants(tree: trees.ShowGrants, catalog: CatalogFacts) -> ShowGrants:
    return ShowGrants(_name(tree.this, "grantee") if tree.this else None)


def plan_show_principals(tree: trees.ShowPrincipals, catalog: CatalogFacts) -> ShowPrincipals:
    return ShowPrincipals(tree.args["kind"].lower())


def _password(node: exp.Expr) -> str:
    if not node.name:
        raise error_at(node, "a password cannot be empty; PASSWORD NULL removes it")
    return node.name


PLANNERS: dict[type[exp.Expr], Any] = {
    trees.CreatePrincipal: plan_create_principal,
    trees.AlterUser: plan_alter_user,
    trees.DropPrincipal: plan_drop_principal,
    trees.GrantRole: plan_grant_role,
    trees.GrantOn: plan_grant_on,
    trees.CreateToken: plan_create_token,
    trees.ShowTokens: plan_show_tokens,
    trees.RevokeToken: plan_revoke_token,
    trees.ShowGrants: plan_show_grants,
    trees.ShowPrincipals: plan_show_principals,
    trees.SetOwner: plan_set_owner,
}
PLANS = (CreatePrincipal, AlterUser, DropPrincipal, GrantRoles, GrantPrivileges, CreateToken,
         ShowTokens, RevokeToken, ShowGrants, ShowPrincipals, SetOwner)
