"""Confinement of users below admin: FILE PATHS only from the directories an admin allows
(``ALTER DATABASE SET file_paths_allowed``), and runs seen and killed by the users who started
them (``docs/security.md``)."""

import os

import pytest

import indb
from indb.errors import CatalogError, PrivilegeError, SqlError

CODE = "def {name}(ctx, t):\n    return t\n"


@pytest.fixture(scope="module")
def owner(tmp_path_factory):
    """A database with a table, a function granted to analysts, two analysts (alice, bob) and a
    developer (dev)."""
    conn = indb.connect(tmp_path_factory.mktemp("confinement") / "db", cluster="threads",
                        workers=1, default_shards=2)
    for sql in [
        "CREATE TABLE prices (id BIGINT, px DOUBLE, SHARD KEY (id))",
        "INSERT INTO prices VALUES (1, 10.0), (2, 20.0)",
        "CREATE FUNCTION ident LANGUAGE PYTHON AS $$\ndef ident(ctx, t):\n    return t\n$$",
        "CREATE USER alice", "CREATE USER bob", "CREATE USER dev",
        "GRANT analyst TO alice, bob", "GRANT developer TO dev",
        "GRANT SELECT ON TABLE prices TO analyst", "GRANT EXECUTE ON FUNCTION ident TO analyst",
    ]:
        conn.sql(sql)
    yield conn
    conn.close()


@pytest.fixture()
def code(tmp_path):
    """An allowed directory holding f_in.py, and a file f_out.py outside it."""
    allowed, outside = tmp_path / "allowed", tmp_path / "outside"
    allowed.mkdir()
    outside.mkdir()
    (allowed / "f_in.py").write_text(CODE.format(name="f_in"))
    (outside / "f_out.py").write_text(CODE.format(name="f_out"))
    return allowed, outside


def run(conn, user, sql):
    with conn._engine.as_user(user):
        return conn.sql(sql)


def create(path, name):
    return f"CREATE OR REPLACE FUNCTION {name} RUN_COMMAND = 'python' FILE PATHS '{path}'"


def refused(conn, user, sql, error=PrivilegeError):
    with pytest.raises(error) as caught:
        run(conn, user, sql)
    return str(caught.value)


def test_below_admin_file_paths_are_refused_until_an_admin_allows_directories(owner, code):
    allowed, _ = code
    owner.sql("ALTER DATABASE RESET file_paths_allowed")
    message = refused(owner, "dev", create(allowed / "f_in.py", "f_in"))
    assert "ALTER DATABASE SET file_paths_allowed" in message
    assert owner._engine.functions.find("f_in") is None


def test_a_developer_reads_code_files_only_inside_the_allowed_directories(owner, code):
    allowed, outside = code
    owner.sql(f"ALTER DATABASE SET file_paths_allowed = '/nonexistent/udfs:{allowed}'")
    assert owner._engine.db.setting("file_paths_allowed") == f"/nonexistent/udfs:{allowed}"
    (allowed / "link_out.py").symlink_to(outside / "f_out.py")
    (allowed / "sub").mkdir()
    escapes = [outside / "f_out.py",                                   # absolute, outside
               f"{allowed}/../outside/f_out.py",                        # .. climbing out
               f"{allowed}/sub/../../outside/f_out.py",
               allowed / "link_out.py",                                 # a link pointing out
               os.path.relpath(outside / "f_out.py")]                  # relative, outside
    for path in escapes:
        message = refused(owner, "dev", create(path, "f_out"))
        assert str(path) in message and "file_paths_allowed" in message, message
        assert str(allowed) in message  # names the directories allowed
        assert owner._engine.functions.find("f_out") is None  # nothing was written
    run(owner, "dev", create(allowed / "f_in.py", "f_in"))
    run(owner, "dev", create(f"{allowed}/sub/../f_in.py", "f_in"))  # .. that stays inside
    assert owner._engine.functions.find("f_in") is not None
    # a link inside the allowed directories to a file inside them is read
    (allowed / "link_in.py").symlink_to(allowed / "f_in.py")
    run(owner, "dev", create(allowed / "link_in.py", "link_in"))
    assert owner._engine.functions.find("link_in").handler is None  # a script: no link_in()
    # admins read any file, as before
    owner.sql(create(outside / "f_out.py", "f_out"))
    assert owner._engine.functions.find("f_out") is not None


def test_only_admins_change_database_settings_and_values_are_checked(owner, code):
    allowed, _ = code
    refused(owner, "dev", f"ALTER DATABASE SET file_paths_allowed = '{allowed}'")
    with pytest.raises(SqlError, match="relative"):
        owner.sql("ALTER DATABASE SET file_paths_allowed = 'udfs'")
    with pytest.raises(SqlError, match="unknown database setting"):
        owner.sql("ALTER DATABASE SET max_memory = '1GB'")
    owner.sql(f"ALTER DATABASE SET file_paths_allowed = '{allowed}'")
    owner.sql("ALTER DATABASE RESET file_paths_allowed")
    assert owner._engine.db.setting("file_paths_allowed") is None


def test_users_below_admin_see_and_kill_only_their_own_runs(owner):
    execute = ("EXECUTE FUNCTION ident(INPUT_TABLE_NAMES => INPUT_TABLE(prices), "
               "OUTPUT_TABLE_NAMES => OUTPUT_TABLES('{}'))")
    alices = run(owner, "alice", execute.format("alice_out")).fetchone()[0]
    bobs = run(owner, "bob", execute.format("bob_out")).fetchone()[0]
    owners = owner.sql(execute.format("owner_out")).fetchone()[0]

    def status(user, sql="SHOW FUNCTION STATUS"):
        return {row["RUN_ID"]: row["user"] for row in run(owner, user, sql).arrow().to_pylist()}

    assert status("alice") == {alices: "alice"}
    assert status("bob") == {bobs: "bob"}
    assert {alices: "alice", bobs: "bob", owners: "owner"}.items() <= status("owner").items()
    assert set(status("alice", "SHOW FUNCTION STATUS VERBOSE")) == {alices}
    assert set(status("alice", f"SHOW FUNCTION STATUS VERBOSE FOR '{alices}'")) == {alices}
    for sql in (f"SHOW FUNCTION STATUS FOR '{bobs}'", f"SHOW FUNCTION STATUS VERBOSE FOR '{bobs}'"):
        refused(owner, "alice", sql, CatalogError)

    assert "started by bob" in refused(owner, "alice", f"KILL FUNCTION '{bobs}'")
    refused(owner, "alice", f"KILL FUNCTION '{owners}'")
    # its starter and an admin may: both runs finished, so KILL says so
    assert run(owner, "alice", f"KILL FUNCTION '{alices}'").fetchone() == (alices, "completed")
    assert owner.sql(f"KILL FUNCTION '{bobs}'").fetchone() == (bobs, "completed")


def test_alter_database_parses_and_renders_back():
    from indb.parser import parse, render_indb
    from indb.parser.settings import AlterDatabase
    for sql in ("ALTER DATABASE SET file_paths_allowed = '/a:/b'",
                "ALTER DATABASE RESET file_paths_allowed"):
        tree = parse(sql)[0]
        assert isinstance(tree, AlterDatabase) and render_indb(tree) == sql
    with pytest.raises(SqlError, match="expected = 'value'"):
        parse("ALTER DATABASE SET file_paths_allowed")
    assert not isinstance(parse("ALTER TABLE t ADD COLUMN x INT")[0], AlterDatabase)


BLOCKER = """
def blocker(ctx, t):
    if ctx.shard == 0:
        with open(ctx.params["ready"], "w") as ready:     # the test is waiting to read this
            ready.write("running")
        with open(ctx.params["go"]) as go:               # blocks: nobody ever writes to it
            go.read()
    return t
"""


def test_a_running_run_is_killed_by_its_starter_not_by_another_user(owner, pipe_dir):
    ready, go = pipe_dir / "ready", pipe_dir / "go"
    os.mkfifo(ready)
    os.mkfifo(go)
    owner.sql(f"CREATE OR REPLACE FUNCTION blocker LANGUAGE PYTHON AS $${BLOCKER}$$")
    owner.sql("GRANT EXECUTE ON FUNCTION blocker TO analyst")
    run_id = run(owner, "alice", "EXECUTE FUNCTION blocker(INPUT_TABLE_NAMES => INPUT_TABLE(prices), "
                 "OUTPUT_TABLE_NAMES => OUTPUT_TABLES('blocked'), "
                 f"PARAMS => KV_PAIRS(ready = '{ready}', go = '{go}'), "
                 "OPTIONS => KV_PAIRS(nowait = 'true'))").fetchone()[0]
    assert ready.read_text() == "running"
    refused(owner, "bob", f"KILL FUNCTION '{run_id}'")
    assert owner.sql(f"SHOW FUNCTION STATUS FOR '{run_id}'").fetchone()[2] == "running"
    assert run(owner, "alice", f"KILL FUNCTION '{run_id}'").fetchone() == (run_id, "killing")
    assert owner.wait(run_id).arrow().to_pylist()[0]["status"] == "killed"
    assert not owner._engine.db.exists("blocked")


def test_a_developer_imports_model_files_only_inside_the_allowed_directories(owner, code):
    allowed, outside = code
    (outside / "m.onnx").write_bytes(b"not a model")
    (allowed / "m.onnx").write_bytes(b"not a model")
    owner.sql(f"ALTER DATABASE SET file_paths_allowed = '{allowed}'")
    try:
        message = refused(owner, "dev", f"CREATE MODEL m FROM FILE '{outside / 'm.onnx'}'")
        assert "CREATE MODEL ... FROM FILE" in message and "file_paths_allowed" in message, message
        # inside, the file is read: what stops it now is that it is no model
        message = refused(owner, "dev", f"CREATE MODEL m FROM FILE '{allowed / 'm.onnx'}'",
                          error=indb.errors.ModelError)
        assert "m.onnx" in message
        assert "m" not in owner._engine.models.names()
    finally:
        owner.sql("ALTER DATABASE RESET file_paths_allowed")
