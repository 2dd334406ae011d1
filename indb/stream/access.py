"""Who a client of the tick port is, and what it may do there.

kdb+'s handshake carries ``user:password``. The password is an API token (``CREATE TOKEN FOR
user``; the user part may then be left empty) or the user's own password (``CREATE USER u
PASSWORD '...'``); a client without one is the database's owner while the database has no users
and the port is on loopback (``indb tick``'s default), and is refused otherwise.

What it asks is checked as SQL checks statements (``planner.access`` over the catalog's grants,
``engine/privileges.py``): ``.u.upd`` into a table needs INSERT on it, ``.u.sub`` SELECT on each
table it names (every table for `` ` ``), ``.u.endofday`` the admin role; a sync query is a
statement, checked as one. The answers are kept while the catalog is unchanged (SQLite's
``data_version``, as the fast path keeps plans), so a feed's updates do not read the grants
each: a GRANT or REVOKE from any connection applies from the next message.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING

from indb.catalog import users
from indb.catalog.database import Database
from indb.engine import privileges
from indb.errors import AuthenticationError, IndbError
from indb.planner import access as rules

if TYPE_CHECKING:
    from indb.engine.core import Engine
    from indb.stream.tickerplant import Subscriber

# the user a token names, or AuthenticationError (the server's authenticator fits)
Authenticate = Callable[[str | None], str]
TOKEN = users.TOKEN_PREFIX + "_"  # how an API token starts

log = logging.getLogger("indb.stream")


def owner_while_no_users(db: Database) -> Authenticate:
    """A loopback port's check: a token names its user; without one, the owner while the
    database has no users."""
    def authenticate(token: str | None) -> str:
        if token is not None:
            return users.authenticate_token(db, token)
        if users.owner_only(db.engine):
            return users.OWNER
        raise AuthenticationError("this database has users: sign in with user:password (the "
                                  "user's password, or an API token: CREATE TOKEN FOR user)")
    return authenticate


def sign_in(db: Database, authenticate: Authenticate, user: str, password: str) -> str:
    """The user of a handshake's ``user:password``; AuthenticationError if it is refused."""
    if password.startswith(TOKEN):
        named = authenticate(password)
        if user and user != named:
            raise AuthenticationError(f"the token is {named}'s, not {user}'s")
        return named
    if password:
        if not user:
            raise AuthenticationError("a password needs its user name (user:password)")
        users.check_password(db, user, password)
        return user
    return authenticate(None)


class Grants:
    """The privilege checks of one tickerplant's clients, kept while the catalog is unchanged."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._lock = threading.Lock()
        self._stamp: int | None = None
        self._allowed: set[tuple[str, str, str]] = set()  # (user, privilege, name) checked

    def check(self, user: str, privilege: str, tables: Iterable[str]) -> None:
        """PrivilegeError naming the grant ``user`` lacks (``privilege`` on a table, or ROLE
        admin), CatalogError for a table that does not exist; nothing if it may."""
        if user == users.OWNER:
            return
        names = list(tables)
        stamp = self.engine.shortcuts.stamp()
        with self._lock:
            if stamp is None or stamp != self._stamp:
                self._allowed.clear()
                self._stamp = stamp
            if all((user, privilege, name) in self._allowed for name in names):
                return
        needs = [rules.Need("ROLE", "role", name, why=_WHY.get(name, "")) if privilege == "ROLE"
                 else rules.Need(privilege, "table", name) for name in names]
        rules.check_needs(needs, privileges.access(self.engine, user, needs))
        if stamp is not None:
            with self._lock:
                if stamp == self._stamp:
                    self._allowed.update((user, privilege, name) for name in names)


_WHY = {rules.ADMIN: ".u.endofday (flushing every table and rolling the journal)"}


def reader(grants: Grants, user: str, subscriber: Subscriber) -> Callable[[str], bool]:
    """A subscriber's check before each publication of a table (``Subscriber.may_read``): a
    REVOKE of its SELECT (or of the role that gave it) unsubscribes it from that table, logged;
    its connection and its other tables stay, and subscribing again gets the privilege error.
    A user dropped since it signed in is disconnected."""
    def may_read(table: str) -> bool:
        try:
            grants.check(user, "SELECT", [table])
            return True
        except IndbError as error:
            subscriber.tables.pop(table, None)
            if users.kind_of(grants.engine.db.engine, user) != "user":
                log.warning("subscriber %s: its user %s was dropped: disconnected",
                            subscriber.name, user)
                subscriber.close()
            else:
                log.warning("subscriber %s (user %s) unsubscribed from %s: %s", subscriber.name,
                            user, table, error)
            return False
    return may_read
