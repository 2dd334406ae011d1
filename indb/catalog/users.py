"""Users, roles, grants, object owners and API tokens: records in the catalog file.

A *principal* is a user (who signs in) or a role (a name grants are given to, granted to users).
Names share one namespace, as in PostgreSQL. The roles ``admin``, ``developer`` and ``analyst``
are built in (never stored); the database's owner ``owner`` is the identity of the embedded
``indb.connect(dir)`` and always has ``admin``. Objects (tables and views, functions, models) have
an owner recorded when a user other than the database owner creates them; an object without a
record belongs to the database owner.

Passwords are stored as argon2id hashes (argon2-cffi); API tokens as the SHA-256 of their secret
part. A token is ``indb_<id>_<secret>``, 256 random bits of secret: a slow hash guards guessable
passwords, while a random secret of that size cannot be guessed, and hashing it with SHA-256 lets
every request be checked in microseconds rather than tens of milliseconds.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
import weakref
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import sqlalchemy as sa
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from indb.catalog.database import create_tables
from indb.errors import AuthenticationError, CatalogError

if TYPE_CHECKING:
    from indb.catalog.database import Database

OWNER = "owner"  # the database's owner: the embedded connection's identity
BUILTIN_ROLES = ("admin", "developer", "analyst")
RESERVED = (OWNER, *BUILTIN_ROLES)
TOKEN_PREFIX = "indb"

_hasher = PasswordHasher()  # argon2id with argon2-cffi's recommended parameters (RFC 9106)
_metadata = sa.MetaData()
_principals = sa.Table("indb_principals", _metadata,
                       sa.Column("name", sa.String, primary_key=True),
                       sa.Column("kind", sa.String, nullable=False),  # 'user' or 'role'
                       sa.Column("password_hash", sa.String),
                       sa.Column("created", sa.Float, nullable=False))
_members = sa.Table("indb_role_members", _metadata,
                    sa.Column("member", sa.String, primary_key=True),
                    sa.Column("role", sa.String, primary_key=True))
_grants = sa.Table("indb_grants", _metadata,
                   sa.Column("grantee", sa.String, primary_key=True),
                   sa.Column("privilege", sa.String, primary_key=True),
                   sa.Column("kind", sa.String, primary_key=True),  # table, function, model
                   sa.Column("object", sa.String, primary_key=True))
_owners = sa.Table("indb_owners", _metadata,
                   sa.Column("kind", sa.String, primary_key=True),
                   sa.Column("object", sa.String, primary_key=True),
                   sa.Column("owner", sa.String, nullable=False))
_tokens = sa.Table("indb_tokens", _metadata,
                   sa.Column("id", sa.String, primary_key=True),
                   sa.Column("user", sa.String, nullable=False),
                   sa.Column("digest", sa.String, nullable=False),
                   sa.Column("created", sa.Float, nullable=False),
                   sa.Column("expires", sa.Float),
                   sa.Column("revoked", sa.Float))
_ready: weakref.WeakSet[sa.Engine] = weakref.WeakSet()  # engines whose file has these tables


@dataclass(frozen=True)
class Grant:
    grantee: str
    privilege: str  # SELECT, INSERT, UPDATE, DELETE, EXECUTE, USAGE
    kind: str       # table (views too), function, model
    name: str


@dataclass(frozen=True)
class Token:
    id: str
    user: str
    created: float
    expires: float | None
    revoked: float | None


@dataclass(frozen=True)
class Principal:
    name: str
    kind: str
    has_password: bool
    created: float
    roles: tuple[str, ...]


# -- principals -------------------------------------------------------------------------------

def kind_of(engine: sa.Engine, name: str) -> str | None:
    """'user' or 'role' for a principal of that name (built-ins included), else None."""
    if name == OWNER:
        return "user"
    if name in BUILTIN_ROLES:
        return "role"
    ensure_tables(engine)
    with engine.connect() as conn:
        return conn.execute(sa.select(_principals.c.kind).where(_principals.c.name == name)).scalar()


def create_principal(engine: sa.Engine, name: str, kind: str, password: str | None = None) -> None:
    """Record a new user or role; CatalogError if the name is taken (by a user or a role)."""
    if name in RESERVED or kind_of(engine, name) is not None:
        raise CatalogError(f"{name} already exists (users and roles share names); SHOW USERS and "
                           "SHOW ROLES list them")
    try:
        with engine.begin() as conn:
            conn.execute(_principals.insert().values(
                name=name, kind=kind, created=time.time(),
                password_hash=None if password is None else _hasher.hash(password)))
    except sa.exc.IntegrityError:
        raise CatalogError(f"{name} already exists") from None


def set_password(engine: sa.Engine, user: str, password: str | None) -> None:
    """Give a user a new password (None: the user signs in with tokens only)."""
    ensure_tables(engine)
    with engine.begin() as conn:
        conn.execute(_principals.update().where(_principals.c.name == user).values(
            password_hash=None if password is None else _hasher.hash(password)))


def drop_principal(engine: sa.Engine, name: str) -> None:
    """Forget a user or role with its memberships, its grants and (a user's) tokens. Objects it
    owns go back to the database's owner."""
    ensure_tables(engine)
    with engine.begin() as conn:
        conn.execute(_principals.delete().where(_principals.c.name == name))
        conn.execute(_members.delete().where(sa.or_(_members.c.member == name, _members.c.role == name)))
        conn.execute(_grants.delete().where(_grants.c.grantee == name))
        conn.execute(_tokens.delete().where(_tokens.c.user == name))
        conn.execute(_owners.delete().where(_owners.c.owner == name))


def owner_only(engine: sa.Engine) -> bool:
    """Whether the owner is the database's only user (a loopback port then needs no sign-in)."""
    return not any(p.name != OWNER for p in principals(engine, "user"))


def principals(engine: sa.Engine, kind: str) -> list[Principal]:
    """Every user (the owner first) or every role (the built-in ones first), with their roles."""
    ensure_tables(engine)
    with engine.connect() as conn:
        rows = conn.execute(sa.select(_principals.c.name, _principals.c.password_hash.is_not(None),
                                      _principals.c.created)
                            .where(_principals.c.kind == kind).order_by(_principals.c.name)).all()
        members = conn.execute(sa.select(_members.c.member, _members.c.role)
                               .order_by(_members.c.role)).all()
    roles: dict[str, list[str]] = {}
    for member, role in members:
        roles.setdefault(member, []).append(role)
    builtin = [Principal(OWNER, "user", False, 0.0, ("admin",))] if kind == "user" else \
        [Principal(r, "role", False, 0.0, ()) for r in BUILTIN_ROLES]
    return builtin + [Principal(name, kind, bool(has), created, tuple(roles.get(name, ())))
                      for name, has, created in rows]


def add_member(engine: sa.Engine, user: str, role: str) -> None:
    """Grant a role to a user (again: nothing changes)."""
    ensure_tables(engine)
    with engine.begin() as conn:
        exists = conn.execute(sa.select(_members.c.role).where(
            _members.c.member == user, _members.c.role == role)).first()
        if not exists:
            conn.execute(_members.insert().values(member=user, role=role))


def remove_member(engine: sa.Engine, user: str, role: str) -> bool:
    ensure_tables(engine)
    with engine.begin() as conn:
        return bool(conn.execute(_members.delete().where(
            _members.c.member == user, _members.c.role == role)).rowcount)


def roles_of(engine: sa.Engine, user: str) -> frozenset[str]:
    """The roles granted to a user (the owner has admin)."""
    if user == OWNER:
        return frozenset({"admin"})
    ensure_tables(engine)
    with engine.connect() as conn:
        return frozenset(conn.execute(sa.select(_members.c.role).where(_members.c.member == user))
                         .scalars())


# -- grants and owners ------------------------------------------------------------------------

def grant(engine: sa.Engine, grants: Iterable[Grant]) -> None:
    ensure_tables(engine)
    with engine.begin() as conn:
        for g in grants:
            where = _grant_row(g)
            if not conn.execute(sa.select(_grants.c.grantee).where(*where)).first():
                conn.execute(_grants.insert().values(grantee=g.grantee, privilege=g.privilege,
                                                     kind=g.kind, object=g.name))


def revoke(engine: sa.Engine, grants: Iterable[Grant]) -> int:
    """Take grants away; returns how many there were."""
    ensure_tables(engine)
    with engine.begin() as conn:
        return sum(conn.execute(_grants.delete().where(*_grant_row(g))).rowcount for g in grants)


def grants(engine: sa.Engine, grantees: Iterable[str] | None = None) -> list[Grant]:
    """The grants given to ``grantees`` (every grant with None)."""
    ensure_tables(engine)
    query = sa.select(_grants.c.grantee, _grants.c.privilege, _grants.c.kind, _grants.c.object)
    if grantees is not None:
        query = query.where(_grants.c.grantee.in_(list(grantees)))
    with engine.connect() as conn:
        rows = conn.execute(query.order_by(_grants.c.grantee, _grants.c.kind, _grants.c.object,
                                           _grants.c.privilege)).all()
    return [Grant(*row) for row in rows]


def set_owner(engine: sa.Engine, kind: str, name: str, owner: str) -> None:
    """Record who owns an object (the database's owner: no record)."""
    ensure_tables(engine)
    with engine.begin() as conn:
        record_owner(conn, kind, name, owner)


def record_owner(conn: sa.Connection, kind: str, name: str, owner: str) -> None:
    """``set_owner`` in a transaction of the caller's (a function run's commit), in a database
    whose tables ``ensure_tables`` made ready first, outside it."""
    conn.execute(_owners.delete().where(_owners.c.kind == kind, _owners.c.object == name))
    if owner != OWNER:
        conn.execute(_owners.insert().values(kind=kind, object=name, owner=owner))


def renamed(conn: sa.Connection, kind: str, old: str, new: str) -> None:
    """In the caller's transaction (``ensure_tables`` first): the owner and grants of object
    ``old`` are ``new``'s (a renamed table's)."""
    for table in (_owners, _grants):
        conn.execute(table.update().where(table.c.kind == kind, table.c.object == old)
                     .values(object=new))


def owners(engine: sa.Engine) -> dict[tuple[str, str], str]:
    """Every recorded owner, by (kind, name)."""
    ensure_tables(engine)
    with engine.connect() as conn:
        return {(kind, name): owner for kind, name, owner in conn.execute(
            sa.select(_owners.c.kind, _owners.c.object, _owners.c.owner)).all()}


def forget_object(engine: sa.Engine, kind: str, name: str) -> None:
    """An object was dropped: its owner and the grants on it go (a new one of that name starts
    with none)."""
    ensure_tables(engine)
    with engine.begin() as conn:
        conn.execute(_owners.delete().where(_owners.c.kind == kind, _owners.c.object == name))
        conn.execute(_grants.delete().where(_grants.c.kind == kind, _grants.c.object == name))


def _grant_row(g: Grant) -> tuple[sa.ColumnElement[bool], ...]:
    return (_grants.c.grantee == g.grantee, _grants.c.privilege == g.privilege,
            _grants.c.kind == g.kind, _grants.c.object == g.name)


# -- tokens -----------------------------------------------------------------------------------

def create_token(engine: sa.Engine, user: str, expires: float | None) -> tuple[str, str]:
    """A new API token for ``user``: (its id, the token). Only its hash is kept, so the token
    is shown this once."""
    ensure_tables(engine)
    token_id, secret = secrets.token_hex(8), secrets.token_urlsafe(32)
    with engine.begin() as conn:
        conn.execute(_tokens.insert().values(id=token_id, user=user, digest=_digest(secret),
                                             created=time.time(), expires=expires))
    return token_id, f"{TOKEN_PREFIX}_{token_id}_{secret}"


def tokens(engine: sa.Engine, user: str | None = None) -> list[Token]:
    """Tokens (of ``user``, or all), oldest first; revoked ones included, with when."""
    ensure_tables(engine)
    query = sa.select(_tokens.c.id, _tokens.c.user, _tokens.c.created, _tokens.c.expires,
                      _tokens.c.revoked)
    if user is not None:
        query = query.where(_tokens.c.user == user)
    with engine.connect() as conn:
        return [Token(*row) for row in conn.execute(query.order_by(_tokens.c.created)).all()]


def revoke_token(engine: sa.Engine, token_id: str) -> Token | None:
    """Mark a token revoked from now on; the token (None if no such id)."""
    ensure_tables(engine)
    with engine.begin() as conn:
        conn.execute(_tokens.update().where(_tokens.c.id == token_id, _tokens.c.revoked.is_(None))
                     .values(revoked=time.time()))
    return next((t for t in tokens(engine) if t.id == token_id), None)


def authenticate_token(db: Database, token: str) -> str:
    """The user an API token belongs to; AuthenticationError if it is malformed, unknown,
    revoked or expired, or its user was dropped."""
    parts = token.split("_", 2) if isinstance(token, str) else []
    if len(parts) != 3 or parts[0] != TOKEN_PREFIX:
        raise AuthenticationError("not an indb token: tokens look like indb_<id>_<secret>, as "
                                  "CREATE TOKEN FOR user returned it")
    ensure_tables(db.engine)
    with db.engine.connect() as conn:
        row = conn.execute(sa.select(_tokens.c.user, _tokens.c.digest, _tokens.c.expires,
                                     _tokens.c.revoked).where(_tokens.c.id == parts[1])).first()
    if row is None or not hmac.compare_digest(row.digest, _digest(parts[2])):
        raise AuthenticationError("invalid token: no token of this id and secret exists "
                                  "(SHOW TOKENS lists them; CREATE TOKEN FOR user makes one)")
    if row.revoked is not None:
        raise AuthenticationError(f"token {parts[1]} was revoked; ask an admin for a new one")
    if row.expires is not None and row.expires <= time.time():
        raise AuthenticationError(f"token {parts[1]} expired at {_when(row.expires)}; ask an "
                                  "admin for a new one (CREATE TOKEN FOR user)")
    return str(row.user)


def check_password(db: Database, user: str, password: str) -> None:
    """Nothing if ``password`` is ``user``'s; AuthenticationError otherwise (one message for an
    unknown user and a wrong password, so names cannot be probed)."""
    ensure_tables(db.engine)
    with db.engine.connect() as conn:
        stored = conn.execute(sa.select(_principals.c.password_hash).where(
            _principals.c.name == user, _principals.c.kind == "user")).scalar()
    wrong = AuthenticationError("wrong user name or password")
    if stored is None:
        _hasher.hash(password if isinstance(password, str) else "")  # as slow as a real check
        raise wrong
    try:
        _hasher.verify(stored, password)
    except (VerificationError, InvalidHashError, TypeError):
        raise wrong from None


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def _when(epoch: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(epoch))


def ensure_tables(engine: sa.Engine) -> None:
    """Create the tables in a database made before users existed (once a process; it commits,
    so never inside a transaction that must stay open)."""
    if engine not in _ready:
        create_tables(engine, _metadata)
        _ready.add(engine)
