"""Plans of the identity statements (indb.planner.privileges): names, privileges and expiries
checked before anything is recorded."""

import datetime

import pytest

from indb import planner
from indb.errors import SqlError
from indb.parser import parse
from indb.planner import privileges as plans


class Catalog:
    default_shards = 8

    def exists(self, name):
        return False


def plan(sql):
    return planner.plan(parse(sql)[0], Catalog())


def test_names_are_folded_and_checked():
    assert plan("CREATE USER Alice PASSWORD 'x'") == plans.CreatePrincipal("alice", "user", "x")
    assert plan("CREATE ROLE Quants") == plans.CreatePrincipal("quants", "role")
    for sql, message in [("CREATE USER admin", "built in"), ("CREATE ROLE owner", "built in"),
                         ("DROP ROLE analyst", "built in"), ("CREATE USER _indb_x", "reserved"),
                         ("CREATE USER alice PASSWORD ''", "empty")]:
        with pytest.raises(SqlError, match=message):
            plan(sql)


def test_all_expands_to_the_privileges_of_the_kind():
    assert plan("GRANT ALL ON TABLE t TO a, b") == plans.GrantPrivileges(
        ("SELECT", "INSERT", "UPDATE", "DELETE"), "table", "t", ("a", "b"), False)
    assert plan("REVOKE ALL ON FUNCTION f FROM a").privileges == ("EXECUTE",)
    assert plan("GRANT SELECT ON VIEW v TO a").kind == "table"  # views share the tables' names
    for sql in ["GRANT EXECUTE ON TABLE t TO a", "GRANT SELECT ON MODEL m TO a",
                "GRANT USAGE ON FUNCTION f TO a", "GRANT SELECT ON TABLE t TO admin"]:
        with pytest.raises(SqlError):
            plan(sql)


def test_token_expiries():
    assert plan("CREATE TOKEN FOR alice EXPIRES IN 30 DAYS") == plans.CreateToken("alice", None, 30.0)
    at = plan("CREATE TOKEN FOR alice EXPIRES '2027-01-31 18:00:00'").expires
    assert at == datetime.datetime(2027, 1, 31, 18, tzinfo=datetime.UTC).timestamp()
    offset = plan("CREATE TOKEN FOR alice EXPIRES '2027-01-31 18:00:00+02:00'").expires
    assert at - offset == 7200
    for sql in ["CREATE TOKEN FOR alice EXPIRES 'next tuesday'", "CREATE TOKEN FOR alice EXPIRES IN 0 DAYS"]:
        with pytest.raises(SqlError):
            plan(sql)


def test_show_and_revoke():
    assert plan("SHOW GRANTS") == plans.ShowGrants(None)
    assert plan("SHOW TOKENS FOR Bob") == plans.ShowTokens("bob")
    assert plan("DROP TOKEN 'abc'") == plan("REVOKE TOKEN 'abc'") == plans.RevokeToken("abc")
    assert plan("GRANT analyst TO alice") == plans.GrantRoles(("analyst",), ("alice",), False)
