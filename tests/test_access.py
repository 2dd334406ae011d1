"""The privilege check as a pure function of a syntax tree and the grants (no DuckDB, no catalog)."""

import pytest

from indb.catalog.users import OWNER
from indb.errors import CatalogError, PrivilegeError
from indb.parser import parse
from indb.planner.access import Access, check, needs

ACCESS = Access(
    user="alice", roles={"alice": frozenset({"analyst"}), "dev": frozenset({"developer"})},
    grants=frozenset({("analyst", "SELECT", "table", "t"), ("alice", "EXECUTE", "function", "f"),
                      ("alice", "SELECT", "table", "open_view"), ("alice", "SELECT", "table", "dev_view"),
                      ("alice", "USAGE", "model", "m")}),
    owners={("table", "dev_view"): "dev", ("table", "mine"): "alice"},
    objects={"table": frozenset({"t", "secret", "mine"}), "function": frozenset({"f"}),
             "model": frozenset({"m", "other"})},
    views={"open_view": "SELECT * FROM secret", "dev_view": "SELECT * FROM secret"})

ALLOWED = [
    "SELECT * FROM t", "SELECT * FROM main.t", "SELECT * FROM t AT (VERSION => 1)",
    "WITH secret AS (SELECT 1) SELECT * FROM secret",
    "WITH RECURSIVE r AS (SELECT 1 AS n UNION ALL SELECT n + 1 FROM r WHERE n < 3) SELECT * FROM r",
    "SELECT * FROM range(3), unnest([1, 2]), (VALUES (1)) v(a)",
    "SELECT PREDICT('m', a) FROM t", "SELECT * FROM open_view",
    "EXECUTE FUNCTION f(INPUT_TABLE_NAMES => INPUT_TABLE(t), OUTPUT_TABLE_NAMES => OUTPUT_TABLES('new'))",
    "SELECT * FROM TABLE(f(INPUT_TABLE_NAMES => INPUT_TABLE(SELECT * FROM t)))",
    "DROP TABLE mine", "INSERT INTO mine SELECT * FROM t", "GRANT SELECT ON TABLE mine TO bob",
    "DELETE FROM mine USING t WHERE mine.a = t.a",
    "SHOW TABLES", "SHOW SCHEMAS", "SHOW FUNCTION ENVIRONMENTS", "SHOW GRANTS", "CREATE TOKEN FOR alice", "ALTER USER alice PASSWORD 'x'",
    "SET threads = 2", "PRAGMA memory_limit = '1GB'", "RESET threads",  # the connection's own
    "SHOW CREATE TABLE t", "SHOW TABLE main.t",
]
REFUSED = [
    "SELECT * FROM secret", "SELECT * FROM t JOIN secret USING (a)",
    "SELECT * FROM t WHERE a IN (SELECT a FROM secret)", "SELECT (SELECT max(a) FROM secret)",
    "WITH x AS (SELECT * FROM secret) SELECT * FROM x",
    "SELECT * FROM (WITH secret AS (SELECT 1) SELECT * FROM secret), secret",
    "WITH a AS (SELECT * FROM secret), secret AS (SELECT 1) SELECT * FROM a",
    "SELECT * FROM t, LATERAL (SELECT * FROM secret)", "SELECT * FROM t UNION SELECT * FROM secret",
    "SELECT * FROM dev_view",  # granted, but its definer cannot read secret
    "SELECT PREDICT('other', a) FROM t",
    "SELECT * FROM read_parquet('/etc/passwd')", "SELECT * FROM read_text('/etc/hostname')",
    "SELECT * FROM glob('/*')", "SELECT * FROM query_table('secret')", "SELECT * FROM sqlite_scan('x', 'y')",
    "SELECT * FROM information_schema.tables", "SELECT __indb_predict_other_v1(a) FROM t", "SELECT * FROM other_db.main.t",
    "COPY t TO '/tmp/x.csv'", "COPY t FROM '/etc/passwd'", "ATTACH '/tmp/x.db'", "SET enable_external_access = true",
    "SET threads = 2, allowed_directories = ['/']", "PRAGMA enable_external_access = true",
    "SHOW CREATE TABLE secret",
    "CREATE TABLE x (a INT)", "CREATE VIEW v AS SELECT * FROM t", "CREATE FUNCTION g AS $$x$$",
    "CREATE MODEL mm FROM FILE 'x.onnx'", "DROP TABLE t", "DELETE FROM t", "UPDATE t SET a = 1",
    "INSERT INTO t VALUES (1)", "ALTER TABLE t ADD COLUMN b INT", "VACUUM", "OPTIMIZE t",
    "EXECUTE FUNCTION f(INPUT_TABLE_NAMES => INPUT_TABLE(secret))",
    "EXECUTE FUNCTION f(INPUT_TABLE_NAMES => INPUT_TABLE(SELECT * FROM t JOIN secret USING (a)))",
    "EXECUTE FUNCTION f(INPUT_TABLE_NAMES => INPUT_TABLE(t), OUTPUT_TABLE_NAMES => OUTPUT_TABLES('secret'))",
    "SELECT * FROM TABLE(f(INPUT_TABLE_NAMES => INPUT_TABLE(secret)))",
    "EXPLAIN SELECT * FROM secret", "DESCRIBE secret", "SHOW SNAPSHOTS secret",
    "CREATE USER bob", "GRANT admin TO alice", "GRANT SELECT ON TABLE t TO alice",
    "CREATE TOKEN FOR bob", "ALTER USER bob PASSWORD 'x'", "SHOW GRANTS FOR bob", "SHOW USERS",
    "DELETE FROM mine USING secret WHERE mine.a = secret.a",
]


@pytest.mark.parametrize("sql", ALLOWED)
def test_allowed(sql):
    check(parse(sql)[0], ACCESS)


@pytest.mark.parametrize("sql", REFUSED)
def test_refused(sql):
    with pytest.raises(PrivilegeError):
        check(parse(sql)[0], ACCESS)


@pytest.mark.parametrize("sql", ["SELECT * FROM nowhere", "SELECT * FROM '/etc/x.csv'"])
def test_unknown_names_are_refused_before_duckdb_could_read_them_as_files(sql):
    with pytest.raises(CatalogError):
        check(parse(sql)[0], ACCESS)


@pytest.mark.parametrize("sql", REFUSED + ["SELECT * FROM nowhere"])
def test_admins_and_the_owner_pass_every_check(sql):
    for user, roles in [(OWNER, {}), ("root", {"root": frozenset({"admin"})})]:
        check(parse(sql)[0], Access(user, roles, frozenset(), {}, {}))


def test_needs_lists_every_object_of_a_statement():
    found = {(n.privilege, n.kind, n.name) for n in needs(parse(
        "INSERT INTO out SELECT PREDICT('m', a) FROM t JOIN u USING (k) WHERE k IN (SELECT k FROM w)")[0])}
    assert found == {("INSERT", "table", "out"), ("SELECT", "table", "t"), ("SELECT", "table", "u"),
                     ("SELECT", "table", "w"), ("USAGE", "model", "m")}


def test_a_revoked_grant_is_gone_from_the_next_check():
    sql = parse("SELECT * FROM t")[0]
    check(sql, ACCESS)
    revoked = Access(ACCESS.user, ACCESS.roles, ACCESS.grants - {("analyst", "SELECT", "table", "t")},
                     ACCESS.owners, ACCESS.objects, ACCESS.views)
    with pytest.raises(PrivilegeError):
        check(sql, revoked)


def test_refusals_of_views_say_whose_rights_are_missing():
    with pytest.raises(PrivilegeError, match="may not read view other_view"):
        check(parse("SELECT * FROM other_view")[0],
              Access("alice", {}, frozenset(), {}, {}, {"other_view": "SELECT 1"}))
    with pytest.raises(PrivilegeError, match="rights of its owner, dev"):
        check(parse("SELECT * FROM dev_view")[0], ACCESS)


def test_insert_overwrite_needs_delete_too():
    """It deletes every row it does not write."""
    (tree,) = parse("INSERT OVERWRITE TABLE t SELECT * FROM mine")
    assert {(n.privilege, n.name) for n in needs(tree)} == {
        ("INSERT", "t"), ("DELETE", "t"), ("SELECT", "mine")}
