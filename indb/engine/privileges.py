"""Users, roles, grants and tokens: the handlers of their statements, and the privilege check
around every statement (``check`` before it is planned, ``owned`` and ``record`` around it)."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import pyarrow as pa
from sqlglot import exp

from indb import planner
from indb.catalog import users
from indb.catalog import sequences as sequence_records
from indb.catalog import views as view_records
from indb.catalog.names import split_name
from indb.catalog.tables import TableInfo
from indb.errors import CatalogError, IndbError, PrivilegeError, not_found
from indb.engine import sequences
from indb.parser import render
from indb.planner import access as rules
from indb.planner import privileges as plans
from indb.planner import sequences as sequence_plans
from indb.planner import settings
from indb.registry.code import FILE_PATHS_ALLOWED, allowed_directories
from indb.registry.named import Definition
from indb.registry.procedures import ProcedureStore
from indb.result import Result

if TYPE_CHECKING:
    from indb.engine.core import Engine

DAY = 86400.0


# -- the check around statements --------------------------------------------------------------

def access(engine: Engine, user: str, needed: Sequence[rules.Need]) -> rules.Access:
    """The grants, owners and objects checking ``needed`` takes, read from the catalog now.
    Which functions and models exist matters only to OWNER needs (a new one is the creator's),
    so they are read only for those."""
    records = engine.db.engine
    owning = {n.kind for n in needed if n.privilege == "OWNER"}
    roles = {p.name: frozenset(p.roles) for p in users.principals(records, "user")}
    return rules.Access(
        user=user, roles=roles,
        grants=frozenset((g.grantee, g.privilege, g.kind, g.name) for g in users.grants(records)),
        owners=_identity_owners(engine, needed, users.owners(records)),
        objects={"table": frozenset(engine.db.metadata_locations()),
                 "function": frozenset(f.name for f in engine.functions.all())
                 if "function" in owning else frozenset(),
                 "model": frozenset(engine.models.names()) if "model" in owning else frozenset(),
                 "procedure": frozenset(p.name for p in ProcedureStore(engine.db).all())
                 if "procedure" in owning else frozenset(),
                 "sequence": frozenset(s.name for s in sequence_records.every(records))
                 if "sequence" in owning else frozenset()},
        views={v.name: v.sql for v in view_records.views(records)})


def _identity_owners(engine: Engine, needed: Sequence[rules.Need],
                     owners: dict[tuple[str, str], str]) -> dict[tuple[str, str], str]:
    """``owners`` with an identity column's sequence owned by its table's owner."""
    out = dict(owners)
    for need in needed:
        if need.kind == "sequence" and ("sequence", need.name) not in owners:
            try:
                target = sequences.found(engine, need.name)
            except CatalogError:
                continue
            if not isinstance(target, sequence_records.SequenceInfo):
                out[("sequence", need.name)] = owners.get(("table", target.table), users.OWNER)
    return out


def confine(engine: Engine, user: str) -> None:
    """An engine opened as ``user``: the user must exist, and below admin its DuckDB reads no
    files but the tables' own, for good (``indb.connect(dir, user=...)``)."""
    if users.kind_of(engine.db.engine, user) != "user":
        engine.close()
        raise CatalogError(f"user {user} does not exist; SHOW USERS lists the users, and an admin "
                           "creates one with CREATE USER")
    if not is_admin(engine, user):
        engine.session.confine([engine.db.warehouse])


def is_admin(engine: Engine, user: str) -> bool:
    return "admin" in users.roles_of(engine.db.engine, user)


def check_creator(engine: Engine, kind: str, info: Definition, verb: str) -> None:
    """Only a definition's creator or an admin may ``verb`` it (run a monitor, drop one or a
    subscription)."""
    if info.definer != engine.user and not is_admin(engine, engine.user):
        raise PrivilegeError(f"only {kind} {info.name}'s creator ({info.definer}) or an admin "
                             f"may {verb} it")


def readable_directories(engine: Engine) -> tuple[Path, ...] | None:
    """Where the statement's user may read host files from (FILE PATHS, CREATE MODEL ... FROM
    FILE): None (anywhere) for an admin, else the directories ``file_paths_allowed`` names."""
    if is_admin(engine, engine.user):
        return None
    return allowed_directories(engine.db.setting(FILE_PATHS_ALLOWED))


def code_readable(engine: Engine) -> Callable[[str, bool], bool]:
    """Whether the engine's user may see a function's code (SHOW FUNCTION), by name: admins and
    developers every function's, who registers code; other users those they may EXECUTE (own,
    or granted to them or their roles). With ``refuse``, a function it may not see raises the
    PrivilegeError that EXECUTE FUNCTION would."""
    user = engine.user
    if user == users.OWNER or users.roles_of(engine.db.engine, user) & {rules.ADMIN, rules.DEVELOPER}:
        return lambda name, refuse: True
    known = access(engine, user, [])

    def readable(name: str, refuse: bool) -> bool:
        if refuse:
            rules.check_needs([rules.Need("EXECUTE", "function", name)], known)
        return known.may(user, "EXECUTE", "function", name)
    return readable


def check(engine: Engine, tree: exp.Expr, user: str, extra: Sequence[rules.Need] = ()) -> None:
    """Refuse a statement ``user`` may not run (PrivilegeError), before it is planned; ``extra``:
    what it needs beyond what its tree shows (a sequence it reads as a table)."""
    if user == users.OWNER:
        return
    roles = users.roles_of(engine.db.engine, user)
    if users.kind_of(engine.db.engine, user) != "user":
        raise PrivilegeError(f"user {user} does not exist (it was dropped?); sign in again")
    needed = [] if "admin" in roles else [*rules.needs(tree), *extra]
    if needed:
        rules.check_needs(needed, access(engine, user, needed))


def check_load(engine: Engine, plan: planner.Load, user: str) -> None:
    """``Connection.load``: creating a table needs developer; loading into one, INSERT."""
    if user == users.OWNER:
        return
    need = rules.Need("ROLE", "role", rules.DEVELOPER, why="creating a table") if plan.create \
        else rules.Need("INSERT", "table", plan.table)
    rules.check_needs([need], access(engine, user, [need]))


def owned(engine: Engine, plan: object) -> list[tuple[str, str]]:
    """The objects a plan is about to create, (kind, name): they will belong to its user."""
    plan = _inner(plan)
    exists = engine.db.exists
    if isinstance(plan, planner.CreateView) and plan.temporary:
        return []  # the session's alone, in no catalog
    if isinstance(plan, planner.CreateTable | planner.CreateView):
        return [] if exists(plan.name) or plan.name in _view_names(engine) else [("table", plan.name)]
    if isinstance(plan, planner.Load):
        return [("table", plan.table)] if plan.create else []
    # a function run's new tables become its user's in the run's own commit (the executor)
    if isinstance(plan, planner.CreateFunction):
        return [] if engine.functions.find(plan.name) else [("function", plan.name)]
    if isinstance(plan, planner.CreateModel):
        return [] if plan.name in engine.models.names() else [("model", plan.name)]
    if isinstance(plan, sequence_plans.CreateSequence):
        known = sequence_records.find(engine.db.engine, plan.info.name) is not None
        return [] if known else [("sequence", plan.info.name)]
    return []


def record(engine: Engine, plan: object, created: list[tuple[str, str]], user: str) -> None:
    """After a statement succeeded: what it created belongs to ``user``; what it dropped takes
    its owner and grants along (a new object of that name starts with none)."""
    for kind, name in created:
        users.set_owner(engine.db.engine, kind, name, user)
    plan = _inner(plan)
    if isinstance(plan, planner.DropTable | sequence_plans.DropSequence):
        for name in plan.names:
            users.forget_object(engine.db.engine, "sequence" if isinstance(
                plan, sequence_plans.DropSequence) else "table", name)
        return
    dropped = {planner.DropView: "table", planner.DropFunction: "function"}.get(type(plan))
    if isinstance(plan, planner.DropModel) and plan.version is None:
        dropped = "model"
    if dropped:
        users.forget_object(engine.db.engine, dropped, plan.name)  # type: ignore[attr-defined]


def _inner(plan: object) -> object:
    while isinstance(plan, planner.WithPredictions | planner.WithSnapshots
                     | sequence_plans.WithSequences):
        plan = plan.plan
    return plan


def _view_names(engine: Engine) -> set[str]:
    return {v.name for v in view_records.views(engine.db.engine)}


# -- the statements ---------------------------------------------------------------------------

def create_principal(engine: Engine, plan: plans.CreatePrincipal, params: object) -> Result:
    users.create_principal(engine.db.engine, plan.name, plan.kind, plan.password)
    return Result(message=f"created {plan.kind} {plan.name}")


def alter_user(engine: Engine, plan: plans.AlterUser, params: object) -> Result:
    if plan.name == users.OWNER:
        raise CatalogError("the database's owner signs in where the files are, with no password")
    _user(engine, plan.name)
    users.set_password(engine.db.engine, plan.name, plan.password)
    return Result(message=f"{'changed' if plan.password else 'removed'} the password of {plan.name}")


def drop_principal(engine: Engine, plan: plans.DropPrincipal, params: object) -> Result:
    kind = users.kind_of(engine.db.engine, plan.name)
    if kind != plan.kind:
        if plan.if_exists and kind is None:
            return Result(message=f"{plan.kind} {plan.name} does not exist")
        raise _missing(plan.kind, plan.name, kind)
    if plan.name == engine.user:
        raise CatalogError(f"{plan.name} is the user running this statement; another admin "
                           "drops it")
    users.drop_principal(engine.db.engine, plan.name)
    return Result(message=f"dropped {plan.kind} {plan.name}")


def grant_roles(engine: Engine, plan: plans.GrantRoles, params: object) -> Result:
    for role in plan.roles:
        kind = users.kind_of(engine.db.engine, role)
        if kind != "role":
            raise _missing("role", role, kind)
    for user in plan.users:
        _user(engine, user)
    for user in plan.users:
        for role in plan.roles:
            if plan.revoke:
                users.remove_member(engine.db.engine, user, role)
            else:
                users.add_member(engine.db.engine, user, role)
    verb, to = ("revoked", "from") if plan.revoke else ("granted", "to")
    return Result(message=f"{verb} {', '.join(plan.roles)} {to} {', '.join(plan.users)}")


def grant_privileges(engine: Engine, plan: plans.GrantPrivileges, params: object) -> Result:
    for grantee in plan.grantees:
        if users.kind_of(engine.db.engine, grantee) is None:
            raise CatalogError(f"{grantee} is neither a user nor a role; SHOW USERS and SHOW "
                               "ROLES list them")
    if not _object_exists(engine, plan.kind, plan.name):
        raise not_found(plan.kind, plan.name)
    grants = [users.Grant(g, p, plan.kind, plan.name) for g in plan.grantees for p in plan.privileges]
    if plan.revoke:
        count = users.revoke(engine.db.engine, grants)
        return Result(message=f"revoked {count} grant{'s' * (count != 1)} on {plan.kind} {plan.name}")
    users.grant(engine.db.engine, grants)
    return Result(message=f"granted {', '.join(plan.privileges)} on {plan.kind} {plan.name} to "
                          f"{', '.join(plan.grantees)}")


def set_owner(engine: Engine, plan: plans.SetOwner, params: object) -> Result:
    """ALTER ... OWNER TO: the object becomes the principal's, as if it had created it."""
    if users.kind_of(engine.db.engine, plan.owner) is None:
        raise CatalogError(f"role {plan.owner} does not exist; SHOW USERS and SHOW ROLES list "
                           "the users and roles (pg_dump -O leaves owners out)")
    if not _object_exists(engine, plan.kind, plan.name):
        raise not_found(plan.kind, plan.name)
    users.set_owner(engine.db.engine, plan.kind, plan.name, plan.owner)
    return Result(message=f"{plan.kind} {plan.name} is {plan.owner}'s")


def create_token(engine: Engine, plan: plans.CreateToken, params: object) -> Result:
    if plan.user == users.OWNER:
        raise CatalogError("the database's owner has no tokens: create a user, GRANT admin TO it "
                           "and make the token for that user")
    _user(engine, plan.user)
    expires = time.time() + plan.days * DAY if plan.days is not None else plan.expires
    if expires is not None and expires <= time.time():
        raise CatalogError(f"the token would expire at {_when(expires)}, which is past")
    token_id, token = users.create_token(engine.db.engine, plan.user, expires)
    table = pa.table({"id": [token_id], "user": [plan.user], "token": [token],
                      "expires": [_when(expires)]}, schema=_schema("id", "user", "token", "expires"))
    return Result(table, message="keep the token now: it is stored only as a hash and shown once")


def show_tokens(engine: Engine, plan: plans.ShowTokens, params: object) -> Result:
    user = plan.user or (None if is_admin(engine, engine.user) else engine.user)
    now = time.time()
    rows = [(t.id, t.user, _when(t.created), _when(t.expires),
             "revoked" if t.revoked else "expired" if t.expires and t.expires <= now else "valid")
            for t in users.tokens(engine.db.engine, user)]
    return _strings(("id", "user", "created", "expires", "status"), rows)


def revoke_token(engine: Engine, plan: plans.RevokeToken, params: object) -> Result:
    token = next((t for t in users.tokens(engine.db.engine) if t.id == plan.id), None)
    if token is None:
        raise CatalogError(f"no token has id {plan.id}; SHOW TOKENS lists them")
    if token.user != engine.user and not is_admin(engine, engine.user):
        raise PrivilegeError(f"token {plan.id} is {token.user}'s; only it or an admin revokes it")
    users.revoke_token(engine.db.engine, plan.id)
    return Result(message=f"revoked token {plan.id} of {token.user}")


def show_grants(engine: Engine, plan: plans.ShowGrants, params: object) -> Result:
    """A principal's roles and grants, with those it has through its roles (``via``)."""
    name = plan.name or engine.user
    kind = users.kind_of(engine.db.engine, name)
    if kind is None:
        raise CatalogError(f"{name} is neither a user nor a role; SHOW USERS and SHOW ROLES "
                           "list them")
    roles = sorted(users.roles_of(engine.db.engine, name)) if kind == "user" else []
    rows: list[tuple[str | None, ...]] = [(name, "MEMBER", "role", role, None) for role in roles]
    rows += [(g.grantee, g.privilege, g.kind, g.name, None if g.grantee == name else g.grantee)
             for g in users.grants(engine.db.engine, [name, *roles])]
    return _strings(("grantee", "privilege", "kind", "name", "via"), rows)


def show_principals(engine: Engine, plan: plans.ShowPrincipals, params: object) -> Result:
    found = users.principals(engine.db.engine, plan.kind)
    if plan.kind == "user":
        return Result(pa.table({"name": [p.name for p in found],
                                "roles": [", ".join(p.roles) for p in found],
                                "password": [p.has_password for p in found],
                                "created": [_when(p.created or None) for p in found]},
                               schema=pa.schema([("name", pa.string()), ("roles", pa.string()),
                                                 ("password", pa.bool_()), ("created", pa.string())])))
    return Result(pa.table({"name": [p.name for p in found],
                            "built_in": [p.name in users.BUILTIN_ROLES for p in found]},
                           schema=pa.schema([("name", pa.string()), ("built_in", pa.bool_())])))


def set_database_setting(engine: Engine, plan: settings.SetDatabaseSetting,
                         params: object) -> Result:
    engine.db.put_setting(plan.name, plan.value)
    if plan.value is None:
        return Result(message=f"reset {plan.name}")
    return Result(message=f"set {plan.name} = {plan.value!r}")


def _user(engine: Engine, name: str) -> None:
    kind = users.kind_of(engine.db.engine, name)
    if kind != "user":
        raise _missing("user", name, kind)


def _missing(wanted: str, name: str, kind: str | None) -> CatalogError:
    if kind is not None:
        return CatalogError(f"{name} is a {kind}, not a {wanted}")
    return CatalogError(f"{wanted} {name} does not exist; SHOW {wanted.upper()}S lists them")


def _object_exists(engine: Engine, kind: str, name: str) -> bool:
    if kind == "table":
        return engine.db.exists(name) or name in _view_names(engine)
    if kind == "function":
        return engine.functions.find(name) is not None
    if kind == "procedure":
        return ProcedureStore(engine.db).find(name) is not None
    if kind == "sequence":
        try:
            return sequences.found(engine, name) is not None
        except CatalogError:
            return False
    return name in engine.models.names()


def _schema(*columns: str) -> pa.Schema:
    return pa.schema([(c, pa.string()) for c in columns])


def _strings(columns: tuple[str, ...], rows: Sequence[Sequence[str | None]]) -> Result:
    """A result of text columns from rows."""
    return Result(pa.table([[row[i] for row in rows] for i in range(len(columns))],
                           schema=_schema(*columns)))


def _when(epoch: float | None) -> str | None:
    return None if epoch is None else time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(epoch))


# -- what a user may see ----------------------------------------------------------------------

@dataclass(frozen=True)
class Relation:
    """A table or view a user may read, with its columns (name, DuckDB type), in its schema;
    ``table``: a table's description (its columns' NOT NULL, DEFAULT and identity, its PRIMARY
    KEY), for the catalog a client reflects; or a sequence the user may use."""

    schema: str
    name: str
    view: bool
    columns: tuple[tuple[str, str], ...]
    table: TableInfo | None = None
    sequence: sequence_records.SequenceInfo | None = None  # a sequence (no columns)
    owner: str = users.OWNER
    definition: str | None = None  # a view's query (SQL)

    @property
    def name_key(self) -> tuple[str, str]:
        """(schema, name), as ``split_name`` gives a catalog name (``name`` is a table's as it
        was spelled: ``TableInfo.shown``)."""
        return self.schema, self.name.lower()


def readable_relations(engine: Engine) -> list[Relation]:
    """The tables and views the engine's user may read, decided by the privilege check itself
    (a view its owner can no longer read is left out), with their columns as DuckDB has them:
    what a PostgreSQL client's catalog (``pg_class``, ``information_schema``) shows the user."""
    tables = set(engine.db.metadata_locations())
    defined = {v.name: v.sql for v in view_records.views(engine.db.engine)}
    views = set(defined) - tables  # a table hides a view of the same name
    names = sorted(tables | views)
    if engine.user != users.OWNER and not is_admin(engine, engine.user):
        wanted = [rules.Need("SELECT", "table", name) for name in names]
        known = access(engine, engine.user, wanted)
        names = [need.name for need in wanted if _holds(need, known)]
    with engine.session.statement() as duck:
        engine.session.refresh()
        described = duck.execute(_COLUMNS).fetchall()
    columns: dict[tuple[str, str], list[tuple[str, str]]] = {}
    for schema, table, column, kind in described:
        columns.setdefault((schema, table), []).append((column, kind))
    owners = users.owners(engine.db.engine)
    out = []
    for name in names:
        schema, table = split_name(name)  # a view's name is a table's: ``v`` or ``s.v``
        if (schema, table) in columns:  # a table DuckDB could not read (damaged) is left out
            info = None if name in views else engine.session.infos.get(name)
            out.append(Relation(schema, table if info is None else info.shown, name in views,
                                tuple(columns[schema, table]), info,
                                owner=owners.get(("table", name), users.OWNER),
                                definition=defined.get(name) if name in views else None))
    return _usable_sequences(engine, owners) + out + _temporary_views(engine)


def _temporary_views(engine: Engine) -> list[Relation]:
    """The session's temporary views, in its temporary schema (as PostgreSQL's catalog lists a
    session's), with the columns a query of each gives."""
    temporaries = engine.temporaries
    if temporaries is None or not temporaries.views:
        return []
    out = []
    for name in sorted(temporaries.views):
        try:
            rows = engine.execute(render(exp.select(exp.Star()).from_(exp.to_table(name)).limit(0)))
        except IndbError:  # a view that no longer reads (its table dropped): not listed
            continue
        out.append(Relation(temporaries.schema, name, True, tuple(zip(
            rows.columns, (str(t) for t in rows.types or ()), strict=True)), owner=engine.user))
        rows.close()
    return out


def _usable_sequences(engine: Engine, owners: dict[tuple[str, str], str]) -> list[Relation]:
    """The sequences (made with CREATE SEQUENCE) the engine's user owns or holds a privilege on."""
    every = sequence_records.every(engine.db.engine)
    if every and engine.user != users.OWNER and not is_admin(engine, engine.user):
        wanted = [rules.Need(p, "sequence", s.name) for s in every for p in rules.PRIVILEGES["sequence"]]
        known = access(engine, engine.user, wanted)
        held = {need.name for need in wanted if _holds(need, known)}
        every = [s for s in every if s.name in held]
    return [Relation(*split_name(s.name), False, (), sequence=s,
                     owner=owners.get(("sequence", s.name), users.OWNER)) for s in every]


def visible_principals(engine: Engine) -> list[users.Principal]:
    """The users and roles the engine's user may see (a PostgreSQL client's ``pg_roles``):
    every one for the owner and admins, as SHOW USERS and SHOW ROLES list them; for anyone else
    itself, the built-in roles and the roles it holds."""
    every = users.principals(engine.db.engine, "user") + users.principals(engine.db.engine, "role")
    user = engine.user
    if user == users.OWNER or is_admin(engine, user):
        return every
    mine = next((p for p in every if p.name == user), None)
    held = set(mine.roles) if mine else set()
    return [p for p in every if p.name == user or p.name in users.BUILTIN_ROLES or p.name in held]


# every column of the session's DuckDB views (the tables' and the database's views), in order
_COLUMNS = ("SELECT schema_name, table_name, column_name, data_type FROM duckdb_columns() "
            "WHERE database_name = current_database() ORDER BY schema_name, table_name, column_index")


def _holds(need: rules.Need, known: rules.Access) -> bool:
    try:
        rules.check_needs([need], known)
    except (PrivilegeError, CatalogError):
        return False
    return True
