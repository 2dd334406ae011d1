"""The records of users, roles, grants, owners and tokens (indb.catalog.users)."""

import pytest

from indb.catalog import users
from indb.catalog.database import Database
from indb.errors import AuthenticationError, CatalogError


@pytest.fixture
def db(tmp_path):
    database = Database(tmp_path / "db")
    yield database
    database.close()


def test_principals_share_one_namespace(db):
    users.create_principal(db.engine, "alice", "user", "pw")
    users.create_principal(db.engine, "quants", "role")
    assert users.kind_of(db.engine, "alice") == "user" and users.kind_of(db.engine, "quants") == "role"
    assert users.kind_of(db.engine, "admin") == "role" and users.kind_of(db.engine, users.OWNER) == "user"
    for name in ("alice", "quants", "admin", users.OWNER):
        with pytest.raises(CatalogError):
            users.create_principal(db.engine, name, "role")


def test_dropping_a_user_takes_its_memberships_grants_tokens_and_ownerships(db):
    users.create_principal(db.engine, "alice", "user")
    users.add_member(db.engine, "alice", "analyst")
    users.grant(db.engine, [users.Grant("alice", "SELECT", "table", "t")])
    users.set_owner(db.engine, "table", "out", "alice")
    _, token = users.create_token(db.engine, "alice", None)
    users.drop_principal(db.engine, "alice")
    assert users.roles_of(db.engine, "alice") == frozenset()
    assert users.grants(db.engine) == [] and users.owners(db.engine) == {}
    with pytest.raises(AuthenticationError):
        users.authenticate_token(db, token)


def test_grants_are_idempotent_and_revoke_counts(db):
    grant = users.Grant("alice", "SELECT", "table", "t")
    users.grant(db.engine, [grant, grant])
    users.grant(db.engine, [grant])
    assert users.grants(db.engine, ["alice"]) == [grant]
    assert users.revoke(db.engine, [grant]) == 1 and users.revoke(db.engine, [grant]) == 0


def test_forgetting_an_object_drops_its_owner_and_grants(db):
    users.set_owner(db.engine, "table", "t", "alice")
    users.grant(db.engine, [users.Grant("bob", "SELECT", "table", "t"),
                            users.Grant("bob", "SELECT", "table", "u")])
    users.forget_object(db.engine, "table", "t")
    assert users.owners(db.engine) == {}
    assert users.grants(db.engine) == [users.Grant("bob", "SELECT", "table", "u")]
    users.set_owner(db.engine, "table", "u", users.OWNER)  # the owner: no record
    assert users.owners(db.engine) == {}


def test_a_token_is_its_id_and_a_secret_kept_only_as_sha256(db):
    token_id, token = users.create_token(db.engine, "alice", None)
    assert token.startswith(f"indb_{token_id}_") and len(token.split("_", 2)[2]) >= 43
    assert users.authenticate_token(db, token) == "alice"
    (record,) = users.tokens(db.engine, "alice")
    assert record.id == token_id and record.revoked is None
    assert users.revoke_token(db.engine, token_id).revoked is not None
    assert users.revoke_token(db.engine, "nope") is None
