"""The indb command: SQL, the prompt, output formats, errors, --help everywhere."""

import json
import subprocess
import sys

import pytest
from click.testing import CliRunner

from indb.cli.main import cli

COMMANDS = ["sql", "load", "demo", "bench"]


def run(*args, input=None):
    return CliRunner().invoke(cli, list(args), input=input, catch_exceptions=False)


@pytest.mark.parametrize("command", [[]] + [[c] for c in COMMANDS])
def test_every_command_has_help(command):
    result = run(*command, "--help")
    assert result.exit_code == 0 and "Usage:" in result.output


def test_sql_formats(tmp_path):
    db = str(tmp_path / "db")
    assert run("--db", db, "sql", "CREATE TABLE t (a INTEGER, b VARCHAR, SHARD KEY (a))").exit_code == 0
    run("--db", db, "sql", "INSERT INTO t VALUES (1, 'x'), (2, NULL)")
    table = run("--db", db, "sql", "SELECT * FROM t ORDER BY a").output
    assert " a ┃ b " in table and "INTEGER ┃ VARCHAR" in table and "NULL" in table and "2 rows" in table
    csv = run("--db", db, "sql", "--format", "csv", "SELECT * FROM t ORDER BY a").output
    assert csv.splitlines() == ["a,b", "1,x", "2,"]
    rows = json.loads(run("--db", db, "sql", "--format", "json", "SELECT * FROM t ORDER BY a").output)
    assert rows == [{"a": 1, "b": "x"}, {"a": 2, "b": None}]


def test_sql_error_exits_nonzero_with_position(tmp_path):
    result = CliRunner().invoke(cli, ["--db", str(tmp_path / "db"), "sql", "SELECT * FORM t"])
    assert result.exit_code == 1
    assert "Line 1, Col: 15" in result.output and "^" in result.output


def test_prompt_reads_multiline_statements(tmp_path):
    db = str(tmp_path / "db")
    script = "CREATE TABLE t (a INTEGER);\nINSERT INTO t\n  VALUES (41),\n  (1);\nSELECT bad syntax here;\nSELECT sum(a)\nAS total FROM t;\n.quit\nSELECT 'not run';\n"
    done = subprocess.run([sys.executable, "-m", "indb.cli.main", "--db", db, "sql", "--format", "csv"],
                          input=script, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0
    assert "total\n42" in done.stdout and "not run" not in done.stdout
    assert "Error" in done.stderr  # the bad statement is reported, the session goes on


def test_load_command(tmp_path):
    csv = tmp_path / "x.csv"
    csv.write_text("sym,px\nA,1.5\nB,2.5\n")
    db = str(tmp_path / "db")
    result = run("--db", db, "load", "prices", str(csv), "--shard-key", "sym", "--shards", "2")
    assert "loaded 2 rows" in result.output
    described = run("--db", db, "sql", "--format", "csv", "DESCRIBE prices").output
    assert "sym,VARCHAR,shard key" in described and "# shards,2," in described


def test_demo_refuses_a_directory_that_is_not_a_database(tmp_path):
    (tmp_path / "precious.txt").write_text("keep me")
    result = run("--db", str(tmp_path), "demo")
    assert result.exit_code == 1 and "not a database the demo made" in result.output
    assert (tmp_path / "precious.txt").exists()
    real = tmp_path / "real"
    run("--db", str(real), "sql", "CREATE TABLE keep (a INTEGER)")  # a user's database
    assert run("--db", str(real), "demo").exit_code == 1
    assert run("--db", str(real), "sql", "SHOW TABLES").output.count("keep") == 1


def test_bench_lists_scripts(tmp_path):
    (tmp_path / "bench_x.py").write_text("print('hi')\n")
    assert run("bench", "--dir", str(tmp_path), "--list").output.split() == ["bench_x"]


def test_prompt_on_a_terminal_keeps_history(tmp_path):
    import os
    import pty
    import select
    history = tmp_path / "history"
    master, slave = pty.openpty()
    proc = subprocess.Popen([sys.executable, "-m", "indb.cli.main", "--db", str(tmp_path / "db"), "sql"],
                            stdin=slave, stdout=slave, stderr=slave, close_fds=True,
                            env={**os.environ, "INDB_HISTORY": str(history)})
    os.close(slave)
    os.write(master, b"SELECT 40 +\n2 AS answer;\n.quit\n")
    output = b""
    while True:  # read until the process closes the terminal
        ready, _, _ = select.select([master], [], [], 60)
        if not ready:
            break
        try:
            chunk = os.read(master, 4096)
        except OSError:
            break
        if not chunk:
            break
        output += chunk
    assert proc.wait(timeout=60) == 0
    os.close(master)
    assert b"indb> " in output and b"...> " in output and b"42" in output
    assert "SELECT 40 +" in history.read_text()


def test_functions_from_the_command_line(tmp_path):
    """Registered, run and inspected through `indb sql`; the run prints its status row."""
    db = str(tmp_path / "db")
    run("--db", db, "--workers", "2", "sql", "CREATE TABLE t (a BIGINT, SHARD KEY (a)) WITH (SHARDS = 2); "
        "INSERT INTO t SELECT range FROM range(10)")
    created = run("--db", db, "sql", "CREATE FUNCTION inc LANGUAGE PYTHON AS $$\n"
                                     "def inc(ctx, t):\n    return {'a': [v.as_py() + 1 for v in t['a']]}\n$$")
    assert "created function inc" in created.output
    ran = run("--db", db, "--workers", "2", "sql", "--format", "json",
              "EXECUTE FUNCTION inc(INPUT_TABLE_NAMES => INPUT_TABLE(t), OUTPUT_TABLE_NAMES => OUTPUT_TABLES('u'))")
    row = json.loads(ran.output)[0]
    assert (row["status"], row["rows_in"], row["rows_out"]) == ("completed", 10, 10)
    status = json.loads(run("--db", db, "sql", "--format", "json", "SHOW FUNCTION STATUS").output)
    assert status[0]["run_id"] == row["run_id"] and status[0]["completed"] == 2
    assert run("--db", db, "sql", "--format", "csv", "SELECT sum(a) FROM u").output.splitlines()[1] == "55"
