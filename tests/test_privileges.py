"""Users, roles, grants and tokens through SQL, and the privilege check on real statements."""

import sqlite3
import time

import pytest

import indb
from indb.catalog import users
from indb.errors import AuthenticationError, CatalogError, PrivilegeError


@pytest.fixture(scope="module")
def owner(tmp_path_factory):
    """A database with a granted and a secret table, a view over each, a function, an analyst
    (alice), a developer (dev) and a user with no role (nobody)."""
    conn = indb.connect(tmp_path_factory.mktemp("privileges") / "db", cluster="threads",
                        workers=1, default_shards=2)
    for sql in [
        "CREATE TABLE prices (id BIGINT, px DOUBLE, SHARD KEY (id))",
        "INSERT INTO prices VALUES (1, 10.0), (2, 20.0)",
        "CREATE TABLE secret (id BIGINT, pw VARCHAR)",
        "INSERT INTO secret VALUES (1, 'hunter2')",
        "CREATE VIEW over_secret AS SELECT id FROM secret",
        "CREATE VIEW over_prices AS SELECT id, px FROM prices",
        "CREATE FUNCTION ident LANGUAGE PYTHON AS $$\ndef ident(ctx, t):\n    return t\n$$",
        "CREATE USER alice PASSWORD 'correct horse'", "CREATE USER dev", "CREATE USER nobody",
        "GRANT analyst TO alice", "GRANT developer TO dev",
        "GRANT SELECT ON TABLE prices TO analyst", "GRANT SELECT ON VIEW over_secret TO alice",
        "GRANT EXECUTE ON FUNCTION ident TO analyst",
    ]:
        conn.sql(sql)
    yield conn
    conn.close()


def run(conn, user, sql):
    with conn._engine.as_user(user):
        return conn.sql(sql)


def refused(conn, user, sql, error=PrivilegeError):
    with pytest.raises(error) as caught:
        run(conn, user, sql)
    return str(caught.value)


def test_the_embedded_connection_is_the_owner_and_an_admin(owner):
    assert owner._engine.user == users.OWNER
    assert owner.sql("SELECT count(*) FROM secret").fetchone() == (1,)
    assert ("owner", "admin") in [(n, r) for n, r, *_ in owner.sql("SHOW USERS").fetchall()]


def test_an_analyst_reads_what_is_granted_and_nothing_else(owner):
    assert run(owner, "alice", "SELECT sum(px) FROM prices").fetchone() == (30.0,)
    assert "SELECT privilege" in refused(owner, "alice", "SELECT * FROM secret")
    refused(owner, "alice", "SELECT * FROM prices JOIN secret USING (id)")
    refused(owner, "alice", "SELECT * FROM prices WHERE id IN (SELECT id FROM secret)")
    refused(owner, "alice", "WITH s AS (SELECT * FROM secret) SELECT * FROM s")
    refused(owner, "alice", "SELECT * FROM (WITH secret AS (SELECT 1) SELECT * FROM secret), secret")
    refused(owner, "alice", "EXPLAIN SELECT * FROM secret")
    refused(owner, "alice", "DESCRIBE secret")
    refused(owner, "nobody", "SELECT * FROM prices")  # the grant went to the analyst role
    # a CTE of the name shadows the table where SQL says it does
    assert run(owner, "alice", "WITH secret AS (SELECT 1 AS x) SELECT * FROM secret").fetchall() == [(1,)]


def test_views_run_with_their_definers_rights(owner):
    # the owner defined over_secret and granted it: alice reads the view, not the table
    assert run(owner, "alice", "SELECT * FROM over_secret").fetchall() == [(1,)]
    refused(owner, "alice", "SELECT * FROM over_prices")  # readable table, but no grant on the view
    # a developer's view over a table the developer cannot read is refused to its readers
    owner.sql("GRANT SELECT ON TABLE prices TO dev")
    run(owner, "dev", "CREATE VIEW dev_prices AS SELECT px FROM prices")
    run(owner, "dev", "GRANT SELECT ON VIEW dev_prices TO alice")
    assert sorted(run(owner, "alice", "SELECT * FROM dev_prices").fetchall()) == [(10.0,), (20.0,)]
    owner.sql("REVOKE SELECT ON TABLE prices FROM dev")
    refused(owner, "alice", "SELECT * FROM dev_prices")  # the definer lost the table
    refused(owner, "dev", "CREATE VIEW v2 AS SELECT * FROM secret")


def test_file_reading_functions_and_copy_need_admin(owner, tmp_path):
    for sql in ["SELECT * FROM read_text('/etc/hostname')",
                "SELECT * FROM read_parquet('/etc/passwd')",
                "SELECT * FROM read_csv('/etc/passwd')",
                "SELECT * FROM glob('/etc/*')",
                "SELECT * FROM query_table('secret')",
                "SELECT * FROM information_schema.tables",
                f"COPY prices TO '{tmp_path / 'out.csv'}'"]:
        assert "admin" in refused(owner, "alice", sql), sql
    assert not (tmp_path / "out.csv").exists()
    # a file path as a table name is never handed to DuckDB's replacement scans
    (tmp_path / "x.csv").write_text("a\n1\n")
    refused(owner, "alice", f"SELECT * FROM '{tmp_path / 'x.csv'}'", CatalogError)


def test_a_connection_opened_as_a_user_has_duckdb_confined(owner, tmp_path):
    conn = indb.connect(owner.path, user="alice", cluster="threads", workers=1)
    try:
        assert conn.sql("SELECT count(*) FROM prices").fetchone() == (2,)
        with pytest.raises(indb.Error):  # refused by DuckDB itself, below the privilege check
            conn._engine.session.query("SELECT * FROM read_text('/etc/hostname')")
        with pytest.raises(PrivilegeError):
            conn.sql("SELECT * FROM secret")
    finally:
        conn.close()
    with pytest.raises(CatalogError, match="does not exist"):
        indb.connect(owner.path, user="mallory", cluster="threads")


def test_registering_code_needs_developer(owner):
    inline = "FUNCTION f2 LANGUAGE PYTHON AS $$\ndef f2(ctx, t):\n    return t\n$$"
    assert "developer role" in refused(owner, "alice", f"CREATE {inline}")
    refused(owner, "alice", "CREATE MODEL m FROM FILE 'x.onnx'")
    refused(owner, "alice", "CREATE TABLE t_alice (a INT)")
    run(owner, "dev", f"CREATE {inline}")
    assert [r[0] for r in owner.sql("SHOW FUNCTION f2").fetchall()] == ["f2"]
    # replacing someone else's function needs its ownership
    refused(owner, "dev", "CREATE OR REPLACE FUNCTION ident LANGUAGE PYTHON AS $$\ndef ident(ctx, t):\n"
                          "    return t\n$$")


def test_user_and_grant_management_needs_admin(owner):
    for sql in ["CREATE USER eve", "CREATE ROLE quants", "GRANT admin TO alice",
                "DROP USER dev", "SHOW USERS", "SHOW GRANTS FOR dev", "CREATE TOKEN FOR dev",
                "GRANT SELECT ON TABLE secret TO alice"]:
        refused(owner, "alice", sql)
    assert "admin" not in users.roles_of(owner._engine.db.engine, "alice")


def test_execute_is_checked_with_its_input_query(owner):
    execute = ("EXECUTE FUNCTION ident(INPUT_TABLE_NAMES => INPUT_TABLE({}), "
               "OUTPUT_TABLE_NAMES => OUTPUT_TABLES('{}'))")
    refused(owner, "alice", execute.format("secret", "alice_a"))
    refused(owner, "alice", execute.format("(SELECT p.* FROM prices p JOIN secret s USING (id))", "alice_b"))
    refused(owner, "alice", "SELECT * FROM TABLE(ident(INPUT_TABLE_NAMES => INPUT_TABLE(secret)))")
    refused(owner, "nobody", execute.format("prices", "nobody_out"))  # no EXECUTE
    refused(owner, "alice", execute.format("prices", "secret"))  # an existing output: INSERT
    for name in ("alice_a", "alice_b", "nobody_out"):
        assert not owner._engine.db.exists(name)
    # the output of a run belongs to who ran it
    assert run(owner, "alice", execute.format("prices", "alice_out")).fetchone()[1] == "completed"
    assert owner.sql("SELECT count(*) FROM alice_out").fetchone() == (2,)
    assert users.owners(owner._engine.db.engine)[("table", "alice_out")] == "alice"
    assert run(owner, "alice", "SELECT count(*) FROM alice_out").fetchone() == (2,)
    refused(owner, "nobody", "SELECT * FROM alice_out")
    run(owner, "alice", "GRANT SELECT ON TABLE alice_out TO nobody")  # its owner grants it
    assert run(owner, "nobody", "SELECT count(*) FROM alice_out").fetchone() == (2,)
    run(owner, "alice", "DROP TABLE alice_out")
    assert ("table", "alice_out") not in users.owners(owner._engine.db.engine)


def test_a_run_s_new_table_becomes_its_user_s_in_the_run_s_commit(owner):
    owner.sql("CREATE FUNCTION boom LANGUAGE PYTHON AS $$\ndef boom(ctx, t):\n"
              "    if ctx.shard == 1:\n        raise ValueError('no')\n    return t\n$$")
    owner.sql("GRANT EXECUTE ON FUNCTION boom TO analyst")
    execute = ("EXECUTE FUNCTION {}(INPUT_TABLE_NAMES => INPUT_TABLE(prices), "
               "OUTPUT_TABLE_NAMES => OUTPUT_TABLES('{}'), OPTIONS => KV_PAIRS(nowait = 'true'))")
    # in the background: the statement has ended long before the commit
    for function, table in (("ident", "alice_later"), ("boom", "alice_never")):
        run_id = run(owner, "alice", execute.format(function, table)).fetchone()[0]
        owner._engine.runner.wait(run_id)
    assert owner.sql("SELECT count(*) FROM alice_later").fetchone() == (2,)
    assert users.owners(owner._engine.db.engine)[("table", "alice_later")] == "alice"
    # a run that failed created nothing, and nobody owns what it did not create
    assert not owner._engine.db.exists("alice_never")
    assert ("table", "alice_never") not in users.owners(owner._engine.db.engine)


def test_current_user_is_who_runs_the_statement(owner):
    """DuckDB's current_user (and current_role) is its own name (duckdb); a statement's is the
    indb user it runs as, in its projection (named as PostgreSQL names it) and anywhere else."""
    rows = run(owner, "alice", "SELECT current_user, session_user, upper(current_user) AS up, "
                               "count(*) FILTER (WHERE current_user = 'alice') AS mine FROM prices")
    assert rows.columns == ["current_user", "session_user", "up", "mine"]
    assert rows.fetchall() == [("alice", "alice", "ALICE", 2)]
    assert owner.sql("SELECT current_user").fetchone() == ("owner",)
    roles = run(owner, "alice", "SELECT current_role, upper(current_role) AS up FROM prices LIMIT 1")
    assert roles.columns == ["current_role", "up"] and roles.fetchall() == [("alice", "ALICE")]


def test_predict_on_an_ungranted_model_is_refused(owner):
    assert "USAGE" in refused(owner, "alice", "SELECT PREDICT('cnn', px) FROM prices")


def test_revoking_takes_effect_at_the_next_statement(owner):
    owner.sql("CREATE TABLE briefly (a INT)")
    owner.sql("GRANT SELECT ON TABLE briefly TO alice")
    assert run(owner, "alice", "SELECT count(*) FROM briefly").fetchone() == (0,)
    owner.sql("REVOKE SELECT ON TABLE briefly FROM alice")
    refused(owner, "alice", "SELECT count(*) FROM briefly")
    owner.sql("GRANT SELECT ON TABLE briefly TO nobody")
    owner.sql("DROP TABLE briefly")
    owner.sql("CREATE TABLE briefly (a INT)")  # a new table of the name starts with no grants
    refused(owner, "nobody", "SELECT count(*) FROM briefly")


def test_passwords_are_stored_as_argon2_hashes_only(owner):
    catalog = owner.path / "catalog.db"
    with sqlite3.connect(catalog) as db:
        (stored,) = db.execute("SELECT password_hash FROM indb_principals WHERE name = 'alice'").fetchone()
        dump = "\n".join(db.iterdump())
    assert stored.startswith("$argon2id$") and "correct horse" not in dump
    users.check_password(owner._engine.db, "alice", "correct horse")
    for user, password in [("alice", "wrong"), ("nobody", "x"), ("mallory", "x")]:
        with pytest.raises(AuthenticationError, match="wrong user name or password"):
            users.check_password(owner._engine.db, user, password)
    owner.sql("ALTER USER alice PASSWORD 'battery staple'")
    with pytest.raises(AuthenticationError):
        users.check_password(owner._engine.db, "alice", "correct horse")
    users.check_password(owner._engine.db, "alice", "battery staple")
    run(owner, "alice", "ALTER USER alice PASSWORD 'correct horse'")  # users change their own
    users.check_password(owner._engine.db, "alice", "correct horse")


def test_tokens_are_shown_once_stored_hashed_and_can_expire_or_be_revoked(owner):
    db = owner._engine.db
    token_id, user, token, expires = owner.sql("CREATE TOKEN FOR alice EXPIRES IN 1 DAYS").fetchone()
    assert user == "alice" and expires is not None
    assert users.authenticate_token(db, token) == "alice"
    with sqlite3.connect(owner.path / "catalog.db") as sql:
        assert token.split("_", 2)[2] not in "\n".join(sql.iterdump())
    for wrong in ["", "nonsense", f"indb_{token_id}_x", token[:-1] + ("A" if token[-1] != "A" else "B")]:
        with pytest.raises(AuthenticationError):
            users.authenticate_token(db, wrong)
    # SHOW TOKENS lists it without the secret; alice sees her own only
    rows = run(owner, "alice", "SHOW TOKENS").fetchall()
    assert (token_id, "alice") in [r[:2] for r in rows] and all(token not in r for r in rows)
    assert {r[1] for r in rows} == {"alice"}
    refused(owner, "nobody", f"REVOKE TOKEN '{token_id}'")
    run(owner, "alice", f"REVOKE TOKEN '{token_id}'")
    with pytest.raises(AuthenticationError, match="revoked"):
        users.authenticate_token(db, token)
    # an expired token: its expiry moved into the past in the records
    token_id, _, token, _ = owner.sql("CREATE TOKEN FOR alice EXPIRES IN 1 DAYS").fetchone()
    with sqlite3.connect(owner.path / "catalog.db") as sql:
        sql.execute("UPDATE indb_tokens SET expires = ? WHERE id = ?", (time.time() - 1, token_id))
    with pytest.raises(AuthenticationError, match="expired"):
        users.authenticate_token(db, token)
    with pytest.raises(CatalogError, match="past"):
        owner.sql("CREATE TOKEN FOR alice EXPIRES '2001-01-01 00:00:00'")
    # a dropped user's tokens go with it
    owner.sql("CREATE USER temp")
    _, _, token, _ = owner.sql("CREATE TOKEN FOR temp").fetchone()
    owner.sql("DROP USER temp")
    with pytest.raises(AuthenticationError):
        users.authenticate_token(db, token)


def test_roles_and_users_are_managed_in_sql(owner):
    owner.sql("CREATE ROLE quants")
    owner.sql("CREATE USER carol")
    owner.sql("GRANT quants TO carol")
    owner.sql("GRANT SELECT ON TABLE prices TO quants")
    assert run(owner, "carol", "SELECT count(*) FROM prices").fetchone() == (2,)
    assert ("quants", "SELECT", "table", "prices", "quants") in run(owner, "carol", "SHOW GRANTS").fetchall()
    owner.sql("REVOKE quants FROM carol")
    refused(owner, "carol", "SELECT count(*) FROM prices")
    with pytest.raises(CatalogError, match="already exists"):
        owner.sql("CREATE USER quants")
    with pytest.raises(indb.SqlError, match="built in"):
        owner.sql("CREATE ROLE admin")
    with pytest.raises(CatalogError, match="not a role"):
        owner.sql("GRANT carol TO alice")
    owner.sql("DROP ROLE quants")
    assert "quants" not in [r[0] for r in owner.sql("SHOW ROLES").fetchall()]
    owner.sql("DROP USER carol")
    with pytest.raises(PrivilegeError, match="does not exist"):
        run(owner, "carol", "SELECT 1")
    assert "does not exist" in owner.sql("DROP USER IF EXISTS carol").message


def test_a_backup_keeps_users_grants_and_tokens(owner, tmp_path):
    from indb.catalog.backup import backup
    _, _, token, _ = owner.sql("CREATE TOKEN FOR alice").fetchone()
    backup(owner.path, tmp_path / "copy")
    copy = indb.connect(tmp_path / "copy", cluster="threads", workers=1)
    try:
        assert users.authenticate_token(copy._engine.db, token) == "alice"
        users.check_password(copy._engine.db, "alice", "correct horse")
        with copy._engine.as_user("alice"):
            assert copy.sql("SELECT count(*) FROM prices").fetchone() == (2,)
            with pytest.raises(PrivilegeError):
                copy.sql("SELECT * FROM secret")
    finally:
        copy.close()


def test_a_developers_model_is_used_by_whom_it_grants(owner, tmp_path):
    torch = pytest.importorskip("torch")
    program = torch.export.export(torch.nn.Linear(2, 3).eval(), (torch.randn(3, 2),),
                                  dynamic_shapes=({0: torch.export.Dim("rows")},))
    program.example_inputs = None
    torch.export.save(program, str(tmp_path / "lin.pt2"))
    refused(owner, "alice", f"CREATE MODEL lin FROM FILE '{tmp_path / 'lin.pt2'}'")
    owner.sql(f"ALTER DATABASE SET file_paths_allowed = '{tmp_path}'")  # where dev may read files
    try:
        run(owner, "dev", f"CREATE MODEL lin FROM FILE '{tmp_path / 'lin.pt2'}'")
    finally:
        owner.sql("ALTER DATABASE RESET file_paths_allowed")
    assert users.owners(owner._engine.db.engine)[("model", "lin")] == "dev"
    predict = "SELECT count(PREDICT('lin', id::FLOAT, px::FLOAT)) FROM prices"
    assert "USAGE" in refused(owner, "alice", predict)
    refused(owner, "alice", "DESCRIBE MODEL lin")
    run(owner, "dev", "GRANT USAGE ON MODEL lin TO alice")
    assert run(owner, "alice", predict).fetchone() == (2,)
    refused(owner, "alice", "DROP MODEL lin")  # using is not owning
    run(owner, "dev", "DROP MODEL lin")
    assert ("model", "lin") not in users.owners(owner._engine.db.engine)


def test_executemany_and_load_are_checked_too(owner):
    import pyarrow as pa
    with owner._engine.as_user("alice"), pytest.raises(PrivilegeError):
        owner.executemany("INSERT INTO prices VALUES (?, ?)", [(3, 30.0), (4, 40.0)])
    rows = pa.table({"id": [1, 2], "px": [1.0, 2.0]})
    with owner._engine.as_user("alice"), pytest.raises(PrivilegeError, match="developer"):
        owner.load("alice_loaded", rows)
    with owner._engine.as_user("alice"), pytest.raises(PrivilegeError, match="INSERT"):
        owner.load("prices", rows)
    assert owner.sql("SELECT count(*) FROM prices").fetchone() == (2,)
    assert not owner._engine.db.exists("alice_loaded")
    with owner._engine.as_user("dev"):
        assert owner.load("dev_loaded", rows) == 2
    assert users.owners(owner._engine.db.engine)[("table", "dev_loaded")] == "dev"


def test_show_function_shows_code_to_who_may_execute_it_developers_and_admins(owner):
    owner.sql("CREATE FUNCTION hidden_fn LANGUAGE PYTHON AS $$\ndef hidden_fn(ctx, t):\n"
              "    return t  # the secret sauce\n$$")
    ddl = run(owner, "alice", "SHOW FUNCTION ident").fetchall()[0][2]  # granted to analyst
    assert "def ident" in ddl
    message = refused(owner, "alice", "SHOW FUNCTION hidden_fn")
    assert "EXECUTE" in message and "secret sauce" not in message
    assert refused(owner, "alice", "SHOW FUNCTION nope", CatalogError)
    names = [row[0] for row in run(owner, "alice", "SHOW FUNCTION *").fetchall()]
    assert "ident" in names and "hidden_fn" not in names
    assert "secret sauce" not in str(run(owner, "alice", "SHOW FUNCTION *").fetchall())
    assert run(owner, "nobody", "SHOW FUNCTION *").fetchall() == []
    refused(owner, "nobody", "SHOW FUNCTION ident")
    assert "secret sauce" in run(owner, "dev", "SHOW FUNCTION hidden_fn").fetchall()[0][2]
    assert {"ident", "hidden_fn"} <= {row[0] for row in run(owner, "dev", "SHOW FUNCTION *").fetchall()}
    owner.sql("GRANT EXECUTE ON FUNCTION hidden_fn TO nobody")  # a grant shows it at once
    assert "secret sauce" in run(owner, "nobody", "SHOW FUNCTION hidden_fn").fetchall()[0][2]
    owner.sql("REVOKE EXECUTE ON FUNCTION hidden_fn FROM nobody")
    refused(owner, "nobody", "SHOW FUNCTION hidden_fn")


def test_grants_name_tables_of_other_schemas(owner):
    owner.sql("CREATE SCHEMA desk")
    owner.sql("CREATE TABLE desk.fills AS SELECT 1 AS id, 9.5 AS px")
    owner.sql("CREATE TABLE desk.prices AS SELECT 7 AS other")  # same name as main's prices
    assert "SELECT privilege" in refused(owner, "alice", "SELECT * FROM desk.fills")
    refused(owner, "alice", "SELECT * FROM desk.prices")  # main.prices' grant is not this one's
    owner.sql("GRANT SELECT ON TABLE desk.fills TO alice")
    assert run(owner, "alice", "SELECT * FROM desk.fills").fetchall() == [(1, 9.5)]
    refused(owner, "alice", "SELECT * FROM desk.fills JOIN desk.prices ON true")
    refused(owner, "alice", "INSERT INTO desk.fills VALUES (2, 1.0)")
    assert ("alice", "SELECT", "table", "desk.fills", None) in run(owner, "alice", "SHOW GRANTS").fetchall()
    assert run(owner, "alice", "SELECT count(*) FROM prices").fetchone() == (2,)  # main's, still
    owner.sql("GRANT INSERT ON desk.fills TO alice")
    run(owner, "alice", "INSERT INTO desk.fills VALUES (2, 1.0)")
    assert run(owner, "alice", "SELECT count(*) FROM desk.fills").fetchone() == (2,)
    owner.sql("REVOKE SELECT, INSERT ON TABLE desk.fills FROM alice")
    refused(owner, "alice", "SELECT * FROM desk.fills")
    assert not [g for g in run(owner, "alice", "SHOW GRANTS").fetchall() if g[3] == "desk.fills"]
    # the table's owner grants it; another developer may not
    owner.sql("GRANT SELECT ON TABLE prices TO dev")
    run(owner, "dev", "CREATE TABLE desk.devs AS SELECT 1 AS a")
    run(owner, "dev", "GRANT SELECT ON TABLE desk.devs TO alice")
    assert run(owner, "alice", "SELECT a FROM desk.devs").fetchall() == [(1,)]
    assert "owner of table desk.fills" in refused(owner, "dev", "GRANT SELECT ON TABLE desk.fills TO dev")
    refused(owner, "dev", "GRANT SELECT ON TABLE desk.nowhere TO alice", CatalogError)
    refused(owner, "alice", "SELECT * FROM information_schema.tables")  # DuckDB's: every table


def test_an_admin_gives_an_object_to_another_owner(tmp_path):
    with indb.connect(tmp_path / "db") as conn:
        conn.sql("CREATE TABLE t (x INT)")
        conn.sql("CREATE SEQUENCE s")
        conn.sql("CREATE USER bob")
        with pytest.raises(CatalogError, match="role postgres does not exist"):
            conn.sql("ALTER TABLE public.t OWNER TO postgres")  # pg_dump's, without -O
        with pytest.raises(CatalogError, match="table nope does not exist"):
            conn.sql("ALTER TABLE nope OWNER TO bob")
        conn.sql("ALTER TABLE ONLY public.t OWNER TO bob")
        conn.sql("ALTER SEQUENCE s OWNER TO bob")
        assert users.owners(conn._engine.db.engine) == {("table", "t"): "bob",
                                                       ("sequence", "s"): "bob"}
        with conn._engine.as_user("bob"):  # bob owns them now: he may drop them
            conn.sql("DROP SEQUENCE s")
            with pytest.raises(PrivilegeError, match="admin"):  # but give nothing away
                conn.sql("ALTER TABLE t OWNER TO owner")
            conn.sql("DROP TABLE t")
