"""Function environments: virtual environments made with venv and filled with pip, one a
CREATE FUNCTION ENVIRONMENT, that functions run in with SET_ENVIRONMENT.

The package installed is ``inflection`` 0.5.1, a 9 kB pure-Python wheel with no dependencies,
which indb's own environment does not have; the tests that install it are skipped, saying why,
where pip cannot reach the package index.
"""

from __future__ import annotations

import hashlib
import importlib.util
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import indb
from indb.catalog.backup import backup
from indb.errors import CatalogError, FunctionError, PrivilegeError, RunError, SqlError
from indb.runtime import venvs

PACKAGE = "inflection==0.5.1"


@pytest.fixture(scope="module")
def index(tmp_path_factory: pytest.TempPathFactory) -> None:
    """Skip unless pip can fetch the test's package (it then sits in pip's cache)."""
    done = subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "--dest",
                           str(tmp_path_factory.mktemp("wheel")), PACKAGE],
                          capture_output=True, text=True, timeout=300)
    if done.returncode != 0:
        pytest.skip(f"pip cannot fetch {PACKAGE} from the package index (offline?): "
                    f"{done.stderr.strip().splitlines()[-1:]}")


@pytest.fixture(scope="module")
def db(tmp_path_factory: pytest.TempPathFactory, index: None) -> indb.Connection:
    """A database with environment e holding inflection, on a cluster of threads (instances
    still run in host processes of their own)."""
    connection = indb.connect(tmp_path_factory.mktemp("environments") / "db", cluster="threads",
                              workers=1, threads_per_worker=1)
    connection.sql("CREATE FUNCTION ENVIRONMENT e")
    connection.sql(f"ALTER FUNCTION ENVIRONMENT e INSTALL PYTHON PACKAGE '{PACKAGE}'")
    yield connection
    connection.close()


def describe(conn: indb.Connection, name: str) -> dict[str, str]:
    return conn.sql(f"DESCRIBE FUNCTION ENVIRONMENT {name}").arrow().to_pylist()[0]


def imports(python: str, module: str) -> bool:
    done = subprocess.run([python, "-c", f"import {module}"], capture_output=True)
    return done.returncode == 0


INLINE = """CREATE OR REPLACE FUNCTION camel MODE = 'nondistributed' {options} LANGUAGE PYTHON AS $$
def camel(ctx):
    import sys
    import inflection
    return {{"v": [inflection.camelize("in_db")], "python": [sys.executable]}}
$$"""


def test_an_install_records_exactly_what_the_environment_holds_and_its_hash(db):
    row = describe(db, "e")
    assert row["PACKAGES"] == PACKAGE and row["REQUESTED"] == PACKAGE
    assert row["HASH"] == hashlib.sha256(PACKAGE.encode()).hexdigest()
    assert imports(row["PYTHON"], "inflection") and imports(row["PYTHON"], "indb")
    assert importlib.util.find_spec("inflection") is None  # indb's own interpreter lacks it
    (ddl,) = db.sql("SHOW FUNCTION ENVIRONMENT e").fetchone()
    assert ddl == ("CREATE FUNCTION ENVIRONMENT e;\n"
                   f"ALTER FUNCTION ENVIRONMENT e INSTALL PYTHON PACKAGE '{PACKAGE}';")
    listing = db.sql("SHOW FUNCTION ENVIRONMENTS").arrow().to_pylist()
    assert [(r["ENVIRONMENT_NAME"], r["PACKAGES"], r["HASH"]) for r in listing] == \
        [("e", 1, row["HASH"])]


def test_a_failed_install_leaves_the_environment_as_it_was_with_pips_message(db):
    before = describe(db, "e")
    home = Path(before["PYTHON"]).parents[2]
    directories = sorted(p.name for p in home.iterdir())
    with pytest.raises(FunctionError, match="No matching distribution found for "
                                            "indb-no-such-package-k3") as caught:
        db.sql("ALTER FUNCTION ENVIRONMENT e INSTALL PYTHON PACKAGE 'indb-no-such-package-k3==1.0'")
    assert "left as it was" in str(caught.value)
    assert describe(db, "e") == before
    assert sorted(p.name for p in home.iterdir()) == directories


def test_install_then_remove(tmp_path, index):
    with indb.connect(tmp_path / "db") as conn:
        conn.sql("CREATE FUNCTION ENVIRONMENT scratch")
        empty = describe(conn, "scratch")
        assert empty["PACKAGES"] == "" and not imports(empty["PYTHON"], "inflection")
        conn.sql(f"ALTER FUNCTION ENVIRONMENT scratch INSTALL PYTHON PACKAGE '{PACKAGE}'")
        assert imports(describe(conn, "scratch")["PYTHON"], "inflection")
        conn.sql("ALTER FUNCTION ENVIRONMENT scratch REMOVE PYTHON PACKAGE 'inflection'")
        removed = describe(conn, "scratch")
        assert removed["PACKAGES"] == "" and removed["REQUESTED"] == ""
        assert removed["HASH"] == empty["HASH"] and not imports(removed["PYTHON"], "inflection")
        with pytest.raises(SqlError, match="holds no package inflection"):
            conn.sql("ALTER FUNCTION ENVIRONMENT scratch UNINSTALL PYTHON PACKAGE 'inflection'")


def test_an_inline_function_imports_the_package_only_inside_its_environment(db):
    db.sql(INLINE.format(options=""))
    with pytest.raises(RunError, match="No module named 'inflection'"):
        db.sql("SELECT * FROM TABLE(camel())").fetchall()
    db.sql(INLINE.format(options="WITH OPTIONS (SET_ENVIRONMENT = 'e')"))
    value, python = db.sql("SELECT v, python FROM TABLE(camel())").fetchone()
    assert value == "InDb" and python == describe(db, "e")["PYTHON"]
    # the same code again without the environment: the host that ran it in e is not reused
    db.sql(INLINE.format(options=""))
    with pytest.raises(RunError, match="No module named 'inflection'"):
        db.sql("SELECT * FROM TABLE(camel())").fetchall()


def test_a_script_function_runs_with_the_environments_interpreter(db, tmp_path):
    script = tmp_path / "udf" / "camel_script.py"
    script.parent.mkdir()
    script.write_text("import inflection\nfrom kinetica_proc import ProcData\n\n"
                      "proc_data = ProcData()\n"
                      "out = proc_data.output_data[0]\n"
                      "out.size = 1\n"
                      "out['n'][0] = len(inflection.camelize('in_db_of_k3'))\n"
                      "proc_data.complete()\n")
    db.sql("CREATE FUNCTION camel_script MODE = 'nondistributed' RETURNS TABLE (n BIGINT) "
           "RUN_COMMAND = 'python' RUN_COMMAND_ARGS = 'camel_script.py' "
           f"FILE PATHS '{script}' WITH OPTIONS (SET_ENVIRONMENT = 'e')")
    (run_id, status, *_), = db.sql(
        "EXECUTE FUNCTION camel_script(OUTPUT_TABLE_NAMES => OUTPUT_TABLES('camels'))").fetchall()
    assert status == "completed"
    assert db.sql("SELECT n FROM camels").fetchall() == [(len("InDbOfK3"),)]
    run = db.sql(f"SHOW FUNCTION STATUS FOR '{run_id}'").arrow().to_pylist()[0]
    assert (run["environment"], run["environment_hash"]) == ("e", describe(db, "e")["HASH"])
    shard = db.sql(f"SHOW FUNCTION STATUS VERBOSE FOR '{run_id}'").arrow().to_pylist()[0]
    assert (shard["environment"], shard["environment_hash"]) == ("e", describe(db, "e")["HASH"])


def test_drop_is_refused_while_a_function_uses_the_environment(db):
    db.sql("CREATE FUNCTION ENVIRONMENT used")
    db.sql("CREATE FUNCTION user_of_used LANGUAGE PYTHON WITH OPTIONS (SET_ENVIRONMENT = 'used') "
           "AS $$\ndef user_of_used(ctx):\n    return None\n$$")
    with pytest.raises(CatalogError, match="used by function user_of_used"):
        db.sql("DROP FUNCTION ENVIRONMENT used")
    assert describe(db, "used")["FUNCTIONS"] == "user_of_used"
    home = Path(describe(db, "used")["PYTHON"]).parents[2]
    db.sql("DROP FUNCTION user_of_used")
    db.sql("DROP FUNCTION ENVIRONMENT used")
    assert not home.exists()
    with pytest.raises(CatalogError, match="function environment used does not exist"):
        db.sql("DESCRIBE FUNCTION ENVIRONMENT used")
    db.sql("DROP FUNCTION ENVIRONMENT IF EXISTS used")  # no error


def test_a_backup_rebuilds_the_environment_from_its_freeze_list(db, tmp_path):
    db.sql(INLINE.format(options="WITH OPTIONS (SET_ENVIRONMENT = 'e')"))
    source = db._engine.db.path
    backup(source, tmp_path / "bak")
    assert not (tmp_path / "bak" / "environments").exists()  # rebuilt, never copied
    with indb.connect(tmp_path / "bak", cluster="threads", workers=1) as copy:
        recorded = describe(copy, "e")
        assert not Path(recorded["PYTHON"]).exists()
        assert copy.sql("SELECT v FROM TABLE(camel())").fetchone() == ("InDb",)
        rebuilt = describe(copy, "e")
        assert Path(rebuilt["PYTHON"]).is_relative_to(tmp_path / "bak")
        assert (rebuilt["PACKAGES"], rebuilt["HASH"]) == (recorded["PACKAGES"], recorded["HASH"])


def test_a_virtual_environment_made_for_other_packages_is_not_used(db):
    directory = Path(describe(db, "e")["PYTHON"]).parents[1]
    assert venvs.works(directory)
    pth = next(directory.rglob(venvs.BASE_PTH))
    kept = pth.read_text()
    try:
        pth.write_text("import site; site.addsitedir('/elsewhere/site-packages')\n")
        assert not venvs.works(directory)  # a copy from another machine: ensure() rebuilds it
    finally:
        pth.write_text(kept)


def test_a_moved_database_keeps_its_environments_working(tmp_path):
    """A venv names its base interpreter and indb's packages, never its own directory: moved
    with the database on the same machine, it is used where it now is, not rebuilt."""
    with indb.connect(tmp_path / "a") as conn:
        conn.sql("CREATE TABLE t (id BIGINT)")  # a table, so that the move is noticed
        conn.sql("CREATE FUNCTION ENVIRONMENT e")
        conn.sql("CREATE FUNCTION where_am_i MODE = 'nondistributed' LANGUAGE PYTHON "
                 "WITH OPTIONS (SET_ENVIRONMENT = 'e') AS $$\ndef where_am_i(ctx):\n"
                 "    import sys\n    return {'python': [sys.executable]}\n$$")
        before = describe(conn, "e")
    shutil.move(tmp_path / "a", tmp_path / "b")
    with indb.connect(tmp_path / "b", relocate=True, cluster="threads", workers=1) as moved:
        (python,) = moved.sql("SELECT python FROM TABLE(where_am_i())").fetchone()
        after = describe(moved, "e")
    assert python == after["PYTHON"] and Path(python).is_relative_to(tmp_path / "b")
    assert after == {**before, "PYTHON": python}  # the same generation: nothing was rebuilt


# -- statements refused before anything is built (no package index needed) ------------------

def test_statements_refused_with_their_reasons(fresh):
    with pytest.raises(CatalogError, match="function environment nope does not exist"):
        fresh.sql("CREATE FUNCTION f LANGUAGE PYTHON WITH OPTIONS (SET_ENVIRONMENT = 'nope') "
                  "AS $$\ndef f(ctx):\n    return None\n$$")
    with pytest.raises(CatalogError, match="function environment nope does not exist"):
        fresh.sql("ALTER FUNCTION ENVIRONMENT nope INSTALL PYTHON PACKAGE 'x'")
    fresh.sql("CREATE FUNCTION ENVIRONMENT e")
    with pytest.raises(CatalogError, match="already exists"):
        fresh.sql("CREATE FUNCTION ENVIRONMENT e")
    with pytest.raises(SqlError, match="not a package requirement"):
        fresh.sql("ALTER FUNCTION ENVIRONMENT e INSTALL PYTHON PACKAGE '--index-url=http://x'")
    with pytest.raises(SqlError, match="takes package names"):
        fresh.sql("ALTER FUNCTION ENVIRONMENT e UNINSTALL PYTHON PACKAGE 'x==1.0'")
    with pytest.raises(SqlError, match="unknown OPTIONS key set_environment"):
        fresh.sql("CREATE FUNCTION g LANGUAGE PYTHON AS $$\ndef g(ctx):\n    return None\n$$")
        fresh.sql("EXECUTE FUNCTION g(OPTIONS => KV_PAIRS(set_environment = 'e'))")
    with pytest.raises(SqlError, match="not a valid function environment name"):
        fresh.sql('CREATE FUNCTION ENVIRONMENT "a-b"')
    assert describe(fresh, "e")["PACKAGES"] == ""


def test_changing_an_environment_is_for_admins(tmp_path):
    """pip runs a package's own build code with the engine's rights: a developer may not."""
    with indb.connect(tmp_path / "db") as owner:
        owner.sql("CREATE USER alice PASSWORD 'correct horse'")
        owner.sql("GRANT developer TO alice")
        owner.sql("CREATE FUNCTION ENVIRONMENT e")
        with indb.connect(tmp_path / "db", user="alice") as alice:
            for statement in ("CREATE FUNCTION ENVIRONMENT mine",
                              "ALTER FUNCTION ENVIRONMENT e INSTALL PYTHON PACKAGE 'x'",
                              "DROP FUNCTION ENVIRONMENT e"):
                with pytest.raises(PrivilegeError, match="admin"):
                    alice.sql(statement)
        assert [r[0] for r in owner.sql("SHOW FUNCTION ENVIRONMENTS").fetchall()] == ["e"]


def test_a_function_called_environment_is_still_a_function(fresh):
    fresh.sql("CREATE FUNCTION environment LANGUAGE PYTHON AS $$\ndef environment(ctx):\n"
              "    return None\n$$")
    fresh.sql("DROP FUNCTION environment")
    assert fresh.sql("SHOW FUNCTION *").fetchall() == []
