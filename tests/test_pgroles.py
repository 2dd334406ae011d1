"""``indb.server.pgroles``: the users and roles, and each relation's owner, as the pg port's
catalog lists them (psql's ``\\du``, ``\\dt``, ``\\l``; ``pg_roles``, ``pg_user``,
``pg_auth_members``), each user seeing the principals SHOW USERS and SHOW ROLES would show it."""

from __future__ import annotations

import os
import shutil
import subprocess

import psycopg
import pytest

import indb
from indb.server.pgroles import OWNER_OID, role_oid
from serving import Served

pytestmark = pytest.mark.skipif(shutil.which("psql") is None, reason="psql is not installed")
PASSWORDS = {"ann": "ann's password", "root": "root's password"}


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    """ann, an analyst holding the role quants, who owns ann_t; root, an admin; owner_t is the
    owner's."""
    path = tmp_path_factory.mktemp("pgroles") / "db"
    with indb.connect(path) as conn:
        conn.sql("CREATE TABLE owner_t AS SELECT 1 AS x")
        conn.sql("CREATE TABLE ann_t AS SELECT 2 AS y")
        conn.sql("CREATE ROLE quants")
        for user, roles in (("ann", ("analyst", "quants")), ("root", ("admin",))):
            conn.sql(f"CREATE USER {user} PASSWORD '{PASSWORDS[user].replace(chr(39), chr(39) * 2)}'")
            for role in roles:
                conn.sql(f"GRANT {role} TO {user}")
        conn.sql("GRANT SELECT ON TABLE owner_t TO ann")
        conn.sql("ALTER TABLE ann_t OWNER TO ann")
    server = Served(path)
    yield server
    server.stop()


def psql(served, user, command):
    """psql's rows of ``command`` (unaligned), signed in with ``user``'s password."""
    run = subprocess.run(["psql", "-h", "127.0.0.1", "-p", str(served.pg_port), "-U", user, "-d",
                          "indb", "-X", "-A", "-t", "-c", command], capture_output=True, text=True,
                         timeout=60, env={**os.environ, "PGPASSWORD": PASSWORDS[user]})
    assert run.returncode == 0, run.stderr
    return [line.split("|") for line in run.stdout.splitlines()]


def test_an_admin_sees_every_user_and_role_with_what_it_may_do(served):
    listed = {name: (attributes, member_of) for name, attributes, member_of in psql(served, "root", r"\du")}
    assert set(listed) == {"owner", "root", "ann", "admin", "developer", "analyst", "quants"}
    assert listed["owner"][0].startswith("Superuser") and listed["root"][0].startswith("Superuser")
    assert listed["ann"] == ("", "{analyst,quants}")
    assert listed["root"][1] == "{admin}"
    assert listed["quants"][0] == "Cannot login"


def test_anyone_else_sees_itself_its_roles_the_built_in_ones_and_its_relations_owners(served):
    names = {row[0] for row in psql(served, "ann", r"\du")}
    assert names == {"ann", "quants", "admin", "developer", "analyst", "owner"}  # (owner_t's)
    assert psql(served, "ann", "SELECT usename, usesuper FROM pg_user") == [["ann", "f"]]
    held = psql(served, "ann", "SELECT r.rolname FROM pg_auth_members m JOIN pg_roles r "
                               "ON r.oid = m.roleid ORDER BY 1")
    assert held == [["analyst"], ["quants"]]


def test_relations_and_the_database_are_listed_with_their_owners(served):
    assert sorted(psql(served, "root", r"\dt")) == [["main", "ann_t", "table", "ann"],
                                                    ["main", "owner_t", "table", "owner"]]
    # ann reads owner_t (granted) and ann_t (its own): each listed with its owner
    assert sorted(row[3] for row in psql(served, "ann", r"\dt")) == ["ann", "owner"]
    assert [row[:2] for row in psql(served, "ann", r"\l")] == [["indb", "owner"]]  # not DuckDB's others
    assert psql(served, "ann", "SELECT relowner FROM pg_class WHERE relname = 'ann_t'") == \
        [[str(role_oid("ann"))]]
    assert psql(served, "ann", f"SELECT pg_get_userbyid({OWNER_OID}), pg_get_userbyid(0)") == \
        [["owner", "owner"]]


def test_psql_s_other_listings_answer(served):
    for command in (r"\db", r"\dO", r"\drds", r"\dy", r"\dg"):
        psql(served, "root", command)  # (psql's status is checked there: no error)


def test_a_role_s_oid_stays_the_same_between_sessions_and_users(served):
    dsn = f"host=127.0.0.1 port={served.pg_port} dbname=indb"
    seen = []
    for user in ("ann", "root", "ann"):
        with psycopg.connect(f"{dsn} user={user}", password=PASSWORDS[user]) as conn:
            seen.append(conn.execute("SELECT oid FROM pg_roles WHERE rolname = 'quants'").fetchone())
    assert seen == [(role_oid("quants"),)] * 3
