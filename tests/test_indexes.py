"""CREATE [UNIQUE] INDEX and DROP INDEX (``indb.planner.indexes``, ``indb.engine.indexes``):
indexes recorded with their table, unique ones held on every write, names as PostgreSQL gives
them, the table owner's to make and drop. How clients read them back through the PostgreSQL port
is tested in test_pgcatalog.py."""

from __future__ import annotations

import pytest

import indb
from indb.errors import PrivilegeError


def test_unique_indexes_hold_as_unique_constraints_and_drop_index_removes_them(fresh):
    fresh.sql("CREATE TABLE users (id INT, email TEXT, org INT, name TEXT) WITH (SHARDS = 4)")
    fresh.sql("INSERT INTO users VALUES (1, 'a@x', 1, 'ann'), (2, 'b@x', 2, 'ann')")
    with pytest.raises(indb.UniqueViolation, match="ix_name"):  # the rows there are checked
        fresh.sql("CREATE UNIQUE INDEX ix_name ON users (name)")
    fresh.sql("CREATE UNIQUE INDEX ix_users_email ON users USING btree (email)")
    fresh.sql("CREATE UNIQUE INDEX ON users (org, name DESC)")  # named as PostgreSQL names it
    fresh.sql("CREATE INDEX ON users (org)")
    fresh.sql("CREATE INDEX ON users (org)")
    assert [(n, c, d) for n, c, d in fresh.sql("DESCRIBE users").fetchall() if n.startswith("# index")] \
        == [("# index ix_users_email", "email", "unique"), ("# index users_org_name_idx", "org, name",
                                                            "unique"),
            ("# index users_org_idx", "org", ""), ("# index users_org_idx1", "org", "")]
    with pytest.raises(indb.UniqueViolation, match="ix_users_email: more than one row has "
                                                   "email = 'a@x'; nothing was written"):
        fresh.sql("INSERT INTO users VALUES (3, 'a@x', 2, 'cy')")  # another shard's id
    with pytest.raises(indb.UniqueViolation, match="users_org_name_idx"):
        fresh.sql("UPDATE users SET org = 1 WHERE id = 2")
    assert fresh.sql("SELECT count(*) FROM users").fetchone() == (2,)
    with pytest.raises(indb.CatalogError, match="ix_users_email names an index of users already"):
        fresh.sql("CREATE INDEX ix_users_email ON users (org)")
    assert "skipped" in fresh.sql("CREATE UNIQUE INDEX IF NOT EXISTS ix_users_email ON users (org)").message
    with pytest.raises(indb.CatalogError, match="names the table users"):
        fresh.sql("CREATE INDEX users ON users (org)")
    with pytest.raises(indb.SqlError, match="is an index, which DROP INDEX ix_users_email drops"):
        fresh.sql("ALTER TABLE users DROP CONSTRAINT ix_users_email")
    fresh.sql("DROP INDEX ix_users_email, users_org_idx1")
    fresh.sql("INSERT INTO users VALUES (3, 'a@x', 2, 'cy')")
    assert [n for n, _, _ in fresh.sql("DESCRIBE users").fetchall() if n.startswith("# index")] \
        == ["# index users_org_name_idx", "# index users_org_idx"]
    assert "dropped nothing" in fresh.sql("DROP INDEX IF EXISTS ix_gone").message


def test_unique_indexes_indb_cannot_keep_are_refused(fresh):
    fresh.sql("CREATE TABLE t (a INT, b TEXT)")
    for statement, message in [
            ("CREATE UNIQUE INDEX u ON t (lower(b))", "a unique index of LOWER"),
            ("CREATE UNIQUE INDEX u ON t (a) WHERE a > 0", "a partial unique index"),
            ("CREATE UNIQUE INDEX u ON t (a) INCLUDE (b)", "INCLUDE is not supported"),
            ("CREATE UNIQUE INDEX u ON t USING hash (a)", "a unique index is a btree"),
            ("CREATE UNIQUE INDEX u ON t (nope)", "has no column nope")]:
        with pytest.raises(indb.SqlError, match=message):
            fresh.sql(statement)
    # an index that changes no result is accepted, and not recorded
    assert "changed nothing" in fresh.sql("CREATE INDEX t_lower ON t (lower(b))").message
    assert "changed nothing" in fresh.sql("CREATE INDEX t_some ON t (a) WHERE a > 0").message
    assert not [n for n, _, _ in fresh.sql("DESCRIBE t").fetchall() if n.startswith("# index")]


def test_an_index_is_its_table_owners_to_make_and_drop(fresh):
    """As in PostgreSQL: a user who may write a table but does not own it makes no index on it."""
    fresh.sql("CREATE TABLE t (a INT)")
    fresh.sql("CREATE USER dev")
    fresh.sql("GRANT developer TO dev")
    fresh.sql("GRANT SELECT, INSERT ON t TO dev")
    fresh.sql("CREATE INDEX t_a ON t (a)")
    with fresh._engine.as_user("dev"):
        with pytest.raises(PrivilegeError, match="t"):
            fresh.sql("CREATE INDEX t_a2 ON t (a)")
        with pytest.raises(PrivilegeError, match="t"):
            fresh.sql("DROP INDEX t_a")
        fresh.sql("CREATE TABLE mine (a INT)")
        fresh.sql("CREATE UNIQUE INDEX mine_a ON mine (a)")
        fresh.sql("DROP INDEX mine_a")
    assert [n for n, _, _ in fresh.sql("DESCRIBE t").fetchall() if n.startswith("# index")] == \
        ["# index t_a"]


def test_alter_index_renames_an_index_or_a_unique_constraint_s(fresh):
    """Django's RenameIndex; a UNIQUE constraint's index renames the constraint, as in
    PostgreSQL."""
    fresh.sql("CREATE TABLE t (a INT PRIMARY KEY, b INT, c INT UNIQUE)")
    fresh.sql("CREATE INDEX t_b_old ON t (b)")
    assert fresh.sql("ALTER INDEX t_b_old RENAME TO t_b_new").message == "renamed index t_b_old to t_b_new"
    assert fresh.sql("ALTER INDEX t_c_key RENAME TO t_c_unique").message.endswith("t_c_unique")
    described = [(n, c) for n, c, _ in fresh.sql("DESCRIBE t").fetchall() if n.startswith("# ")]
    assert ("# index t_b_new", "b") in described and ("# unique t_c_unique", "c") in described
    with pytest.raises(indb.UniqueViolation, match="t_c_unique"):
        fresh.sql("INSERT INTO t VALUES (1, 1, 1), (2, 2, 1)")
    for statement, error, message in [
            ("ALTER INDEX t_pkey RENAME TO t_key", indb.SqlError, "whose name follows its table's"),
            ("ALTER INDEX t RENAME TO u", indb.SqlError, "t is a table"),
            ("ALTER INDEX t_b_new RENAME TO t_c_unique", indb.CatalogError, "names a constraint of t"),
            ("ALTER INDEX nope RENAME TO n2", indb.CatalogError, "index nope does not exist"),
            ("DROP INDEX t_c_unique", indb.SqlError, "DROP CONSTRAINT t_c_unique does that")]:
        with pytest.raises(error, match=message):
            fresh.sql(statement)
    assert "nothing renamed" in fresh.sql("ALTER INDEX IF EXISTS nope RENAME TO n2").message
