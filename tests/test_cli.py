"""The indb command: SQL, the prompt, dot-commands, Ctrl-C, output that fits, errors, progress,
--help everywhere, and docs/cli.md that names exactly what exists."""

import io
import json
import os
import pty
import queue
import re
import select
import signal
import subprocess
import sys
import threading
from pathlib import Path

import pyarrow as pa
import pytest
from click.testing import CliRunner
from rich.console import Console

from indb.cli import main
from indb.cli.formatting import MIN_WIDTH, render
from indb.cli.main import cli
from indb.cli.progress import RunDisplay, load_progress, run_progress
from indb.cli.shell import DOT_COMMANDS, DatabaseDir, Shell
from indb.registry.runs import InstanceProgress, RunStatus
from indb.sharding.executor import RunProgress

ROOT = Path(__file__).parent.parent
COMMANDS = sorted(cli.commands)
INDB = [sys.executable, "-m", "indb.cli.main"]


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
    assert status[0]["RUN_ID"] == row["run_id"] and status[0]["completed"] == 2
    assert run("--db", db, "sql", "--format", "csv", "SELECT sum(a) FROM u").output.splitlines()[1] == "55"


# -- helpers ----------------------------------------------------------------------------------

class Lines:
    """A process's output stream, read on a thread; ``expect`` waits for a line."""

    def __init__(self, stream) -> None:
        self.queue: queue.Queue = queue.Queue()
        self.seen: list[str] = []
        threading.Thread(target=self._read, args=(stream,), daemon=True).start()

    def _read(self, stream) -> None:
        for line in stream:
            self.queue.put(line)
        self.queue.put(None)

    def expect(self, pattern: str, timeout: float = 180) -> str:
        while True:
            line = self.queue.get(timeout=timeout)
            assert line is not None, f"{pattern!r} never came; the stream said: {''.join(self.seen)}"
            self.seen.append(line)
            if re.search(pattern, line):
                return line

    def rest(self) -> str:
        while (line := self.queue.get(timeout=180)) is not None:
            self.seen.append(line)
        return "".join(self.seen)


class Terminal:
    """A process on a pseudo-terminal of 120 columns, driven as a person at a keyboard."""

    def __init__(self, args: list[str], env: dict[str, str]) -> None:
        import fcntl
        import struct
        import termios
        self.master, slave = pty.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 120, 0, 0))
        self.proc = subprocess.Popen(args, stdin=slave, stdout=slave, stderr=slave, env=env)
        os.close(slave)
        self.output, self.seen = b"", 0

    def _read(self, timeout: float) -> bytes:
        ready, _, _ = select.select([self.master], [], [], timeout)
        assert ready, f"nothing came for {timeout} s; the terminal shows: {self.output[-3000:]!r}"
        try:
            return os.read(self.master, 4096)
        except OSError:  # the process closed the terminal
            return b""

    def expect(self, text: bytes, timeout: float = 60) -> None:
        while text not in self.output[self.seen:]:
            chunk = self._read(timeout)
            assert chunk, f"{text!r} never came; the terminal shows: {self.output[-3000:]!r}"
            self.output += chunk
        self.seen = self.output.index(text, self.seen) + len(text)

    def send(self, keys: bytes) -> None:
        os.write(self.master, keys)

    def wait(self) -> int:
        while chunk := self._read(60):
            self.output += chunk
        os.close(self.master)
        return self.proc.wait(timeout=60)


def terminal_console() -> Console:
    return Console(file=io.StringIO(), force_terminal=True, width=100, color_system=None)


def frame(progress) -> str:
    """What a rich Progress shows now, as text."""
    console = Console(file=io.StringIO(), width=100, color_system=None)
    console.print(progress.get_renderable())
    return console.file.getvalue()


# -- statements and the prompt ----------------------------------------------------------------

def test_statements_are_split_by_the_tokenizer_and_every_result_prints(tmp_path):
    db = str(tmp_path / "db")
    out = run("--db", db, "sql", "--format", "csv",
              "CREATE TABLE t (s VARCHAR); INSERT INTO t VALUES ('x;y'); SELECT 'a;b' AS s; "
              "SELECT s FROM t; SELECT 2 AS n").output
    assert out.splitlines() == ["created table t", "rows_inserted", "1", "s", "a;b", "s", "x;y", "n", "2"]
    failed = run("--db", db, "sql", "--format", "csv", "SELECT 1 AS one; SELECT nope; SELECT 3 AS three")
    assert failed.exit_code == 1 and "one\n1" in failed.output and "three" not in failed.output


def test_dot_commands(tmp_path):
    db = str(tmp_path / "db")
    run("--db", db, "sql", "CREATE TABLE prices (sym VARCHAR, px DOUBLE, SHARD KEY (sym)); "
                           "CREATE TABLE ticks (a INTEGER)")
    result = CliRunner().invoke(cli, ["--db", db, "sql", "--format", "csv"], input=(
        ".tables\n.schema prices\n.schema \"ticks\"\n.timer on\nSELECT 1 AS x;\n.timer off\n"
        ".schema\n.nonsense\n.timer maybe\n.help\n.quit\nSELECT 'after quit';\n"))
    assert result.exit_code == 0
    out, err = result.stdout, result.stderr
    assert "name,kind,shard_key" in out and "\nprices,sharded,sym," in out and "\nticks," in out
    assert "sym,VARCHAR,shard key" in out and "a,INTEGER," in out  # .schema t is DESCRIBE t
    assert "-- prices" in out and "-- ticks" in out  # .schema alone: every table
    assert re.findall(r"^\(\d+\.\d{3} s\)$", err, re.M) and len(re.findall(r" s\)$", err, re.M)) == 1
    assert "there is no command .nonsense" in err and ".timer takes on or off" in err
    for name in DOT_COMMANDS:
        assert name in out  # .help lists them all
    assert "after quit" not in out


def test_tables_fit_the_terminal_without_slivers():
    wide = pa.table({f"column_{i}": ["x" * (10 + 7 * i)] * 3 for i in range(12)})
    text = render(wide, width=60)
    assert max(map(len, text.splitlines())) <= 60
    header = next(line for line in text.splitlines() if "column_0" in line)
    assert all(len(cell) - 2 >= MIN_WIDTH for cell in header.strip("┃").split("┃"))
    assert "of 12 columns shown" in " ".join(text.split())
    long = render(pa.table({"k": [1], "text": ["y" * 500]}), width=40)  # a long value wraps
    assert max(map(len, long.splitlines())) <= 40 and long.count("y") == 500


def test_sql_output_fits_columns(tmp_path):
    result = CliRunner(env={"COLUMNS": "50"}).invoke(cli, [
        "--db", str(tmp_path / "db"), "sql",
        "CREATE TABLE t (a VARCHAR, b VARCHAR, c VARCHAR); "
        "INSERT INTO t VALUES (repeat('a', 80), repeat('b', 80), repeat('c', 80)); SELECT * FROM t"])
    assert result.exit_code == 0 and max(map(len, result.output.splitlines())) <= 50
    assert result.output.count("a") >= 80 and result.output.count("c") >= 80


def test_prompt_on_a_terminal(tmp_path):
    """History is written as each statement is entered, a statement of several lines comes back
    whole with the up arrow, and Ctrl-C drops what is being typed and stays."""
    from prompt_toolkit.history import FileHistory
    history = tmp_path / "history"
    run("--db", str(tmp_path / "db"), "sql", "CREATE TABLE t (a INTEGER)")
    terminal = Terminal(INDB + ["--db", str(tmp_path / "db"), "sql", "--format", "csv"],
                        {**os.environ, "INDB_HISTORY": str(history), "TERM": "xterm",
                         "PROMPT_TOOLKIT_NO_CPR": "1"})  # the test answers no cursor queries
    terminal.expect(b"indb>")
    terminal.send(b"SELECT 40 +\r")
    terminal.expect(b"...>")
    terminal.send(b"2 AS answer;\r")
    terminal.expect(b"answer\r\n42")
    assert list(FileHistory(str(history)).load_history_strings()) == ["SELECT 40 +\n2 AS answer;"]
    terminal.send(b"\x1b[A")  # up: the statement, both lines
    terminal.send(b"\r")
    terminal.expect(b"answer\r\n42")
    terminal.send(b"SELECT 'xyz' || 'zy' AS word")
    terminal.send(b"\x03")  # Ctrl-C
    terminal.expect(b"indb>")
    terminal.send(b".quit\r")
    assert terminal.wait() == 0
    assert b"xyzzy" not in terminal.output and b"Traceback" not in terminal.output


LONG_QUERY = "SELECT sum(a * b) FROM range(100000000000) r(a), range(10) s(b)"  # minutes


@pytest.mark.parametrize("to_whom", [
    lambda: os.kill(os.getpid(), signal.SIGINT),  # the process: the kernel picks a thread
    # a thread other than the main one: what the kernel does when the main thread blocks SIGINT
    # or has a signal pending; it never wakes a main thread blocked on a lock
    lambda: signal.pthread_kill(threading.get_ident(), signal.SIGINT),
], ids=["process", "another thread"])
def test_ctrl_c_interrupts_a_query_and_the_shell_goes_on(tmp_path, capsys, monkeypatch, to_whom):
    shell = Shell(DatabaseDir(str(tmp_path / "db")), fmt="csv")
    try:
        assert shell.run("CREATE TABLE t (a INTEGER)")
        running = threading.Event()
        execute = shell._execute
        monkeypatch.setattr(shell, "_execute", lambda *args: (running.set(), execute(*args))[1])

        def ctrl_c() -> None:  # once the statement is on its thread: it is stopped until it ends
            running.wait(60)
            to_whom()
        threading.Thread(target=ctrl_c, daemon=True).start()
        assert not shell.run(f"{LONG_QUERY}; SELECT 'no'")
        assert shell.run("SELECT 42 AS answer")
    finally:
        shell.close()
    out, err = capsys.readouterr()
    assert err.strip() == "cancelled" and out.splitlines() == ["created table t", "answer", "42"]


def test_ctrl_c_before_the_shell_waits_for_the_statement_stops_it_all_the_same(tmp_path, capsys,
                                                                              monkeypatch):
    """A Ctrl-C that comes after the statement is handed to its thread and before the main
    thread waits for it (a loaded machine makes that likely) used to raise KeyboardInterrupt out
    of the shell and leave the statement running, unstopped."""
    shell = Shell(DatabaseDir(str(tmp_path / "db")), fmt="csv")
    submit, armed = shell._worker.submit, []

    def submit_then_ctrl_c(*args):
        future = submit(*args)
        if armed:
            armed.clear()
            signal.raise_signal(signal.SIGINT)  # handled here, on the main thread, at once
        return future
    monkeypatch.setattr(shell._worker, "submit", submit_then_ctrl_c)
    try:
        assert shell.run("CREATE TABLE t (a INTEGER)")
        armed.append(True)
        try:
            assert not shell.run(LONG_QUERY)
        except KeyboardInterrupt:
            pytest.fail("Ctrl-C escaped the shell; the query still runs")
        assert shell.run("SELECT 42 AS answer")
    finally:
        shell.close()
    out, err = capsys.readouterr()
    assert err.strip() == "cancelled" and out.splitlines() == ["created table t", "answer", "42"]


def test_ctrl_c_stops_a_function_run_and_the_prompt_goes_on(tmp_path, pipe_dir):
    """Ctrl-C (SIGINT to the process group, as a terminal sends it) during EXECUTE FUNCTION: the
    run is killed and writes nothing; the prompt, its database and the cluster carry on."""
    fifo = pipe_dir / "started"
    os.mkfifo(fifo)
    db = str(tmp_path / "db")
    run("--db", db, "sql", "CREATE TABLE t (a BIGINT, SHARD KEY (a)) WITH (SHARDS = 1); "
                           "INSERT INTO t SELECT range FROM range(10)")
    proc = subprocess.Popen(INDB + ["--db", db, "--workers", "1", "sql", "--format", "csv"],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, start_new_session=True)
    out, err = Lines(proc.stdout), Lines(proc.stderr)
    proc.stdin.write("CREATE FUNCTION stuck LANGUAGE PYTHON AS $$\nimport time\ndef stuck(ctx, t):\n"
                     f"    with open({str(fifo)!r}, 'w') as f:\n"
                     "        f.write('started\\n')\n    time.sleep(600)\n    return {'a': [1]}\n$$;\n"
                     "EXECUTE FUNCTION stuck(INPUT_TABLE_NAMES => INPUT_TABLE(t), "
                     "OUTPUT_TABLE_NAMES => OUTPUT_TABLES('out'));\n")
    proc.stdin.flush()
    started: queue.Queue = queue.Queue()
    threading.Thread(target=lambda: started.put(open(fifo).readline()), daemon=True).start()
    assert started.get(timeout=180) == "started\n"  # the instance runs
    os.killpg(proc.pid, signal.SIGINT)
    err.expect("^cancelled$")
    proc.stdin.write("SELECT 40 + 2 AS answer;\nSHOW FUNCTION STATUS;\n"
                     "CREATE FUNCTION quick LANGUAGE PYTHON AS $$\ndef quick(ctx, t):\n"
                     "    return {'a': [v.as_py() for v in t['a']]}\n$$;\n"
                     "EXECUTE FUNCTION quick(INPUT_TABLE_NAMES => INPUT_TABLE(t), "
                     "OUTPUT_TABLE_NAMES => OUTPUT_TABLES('out'));\nSELECT count(*) AS n FROM out;\n")
    proc.stdin.close()
    assert proc.wait(timeout=180) == 0
    printed, complaints = out.rest(), err.rest()
    assert "answer\n42" in printed
    (stuck,) = [line for line in printed.splitlines() if line.startswith("stuck,")]  # FUNCTION_NAME first
    assert ",killed," in stuck and "interrupted" in stuck
    assert "n\n10" in printed  # a fresh table of the second run's rows: the first wrote nothing
    assert "Traceback" not in complaints and "leaked" not in complaints, complaints


# -- the database directory, load, demo, bench ------------------------------------------------

def test_a_mistyped_db_is_reported_not_created(tmp_path):
    typo = tmp_path / "mydbb"
    once = CliRunner().invoke(cli, ["--db", str(typo), "sql", "SHOW TABLES"])
    prompt = CliRunner().invoke(cli, ["--db", str(typo), "sql"], input=".tables\nSELECT 1;\n")
    assert once.exit_code == 1
    assert "there is no database at" in once.output and prompt.output.count("there is no database at") == 2
    assert not typo.exists()
    assert run("--db", str(typo), "sql", "CREATE TABLE t (a INTEGER)").exit_code == 0  # a CREATE makes it
    assert (typo / "catalog.db").exists()


@pytest.mark.parametrize("command", [["serve"], ["tick"], ["serve", "--tick", "0"]])
def test_serve_and_tick_refuse_a_directory_that_is_not_a_database(tmp_path, command):
    result = CliRunner().invoke(cli, command + ["--db", str(tmp_path / "nowhere"), "--port", "0"])
    assert result.exit_code == 1
    assert f"there is no database at {tmp_path / 'nowhere'}" in result.output
    assert not (tmp_path / "nowhere").exists()


@pytest.mark.parametrize("command, module, says", [
    (["serve"], "indb.server.serve", "indb serve needs the server extra"),
    (["tick"], "indb.stream.server", "the tickerplant needs the kdb extra")])
def test_serve_and_tick_name_the_extra_they_miss(tmp_path, monkeypatch, command, module, says):
    run("--db", str(tmp_path / "db"), "sql", "CREATE TABLE t (a INTEGER)")
    monkeypatch.setitem(sys.modules, module, None)  # importing it fails as if not installed
    result = CliRunner().invoke(cli, command + ["--db", str(tmp_path / "db"), "--port", "0"])
    assert result.exit_code == 1
    extra = says.split()[-2]
    assert f"{says} ({module} is missing): pip install 'indb[{extra}]'" in result.output


def test_the_db_option_goes_after_the_command_too(tmp_path):
    (tmp_path / "precious.txt").write_text("keep me")
    refused = CliRunner().invoke(cli, ["--db", str(tmp_path / "unused"), "demo", "--db", str(tmp_path)])
    assert refused.exit_code == 1 and "not a database the demo made" in refused.output
    assert not (tmp_path / "unused").exists()
    assert run("sql", "--db", str(tmp_path / "db"), "CREATE TABLE t (a INTEGER)").exit_code == 0
    assert "\nt," in run("sql", "--format", "csv", "--db", str(tmp_path / "db"), "SHOW TABLES").output


def test_load_shows_rows_and_rows_per_second_as_it_goes(tmp_path):
    console = terminal_console()
    with load_progress("loading ticks.parquet", console) as progress:
        progress(1_000_000)
        progress(2_000_000)
    drawn = console.file.getvalue()
    assert "loading ticks.parquet" in drawn and "2,000,000 rows" in drawn and "rows/s" in drawn
    csv = tmp_path / "x.csv"
    csv.write_text("sym,px\nA,1.5\nB,2.5\n")
    assert re.search(r"loaded 2 rows into x in [\d.]+ s \([\d,]+ rows/s\)",
                     run("--db", str(tmp_path / "db"), "load", "x", str(csv)).output)


def test_a_run_shows_the_cluster_starting_then_its_shards():
    with run_progress(terminal_console()) as progress:
        display = RunDisplay(progress)
        display(RunProgress("r1", 0, 2, starting=True))
        starting = frame(progress)
        display(RunProgress("r1", 1, 2, (InstanceProgress(0, RunStatus.COMPLETED, 500, 500, None, None),
                                         InstanceProgress(1, RunStatus.RUNNING, None, None, 40, 100))))
        running = frame(progress)
        display(RunProgress("r1", 2, 2, (InstanceProgress(0, RunStatus.COMPLETED, 500, 500, None, None),
                                         InstanceProgress(1, RunStatus.COMPLETED, 700, 7, 100, 100))))
        done = frame(progress)
    assert "run r1: starting the Dask cluster" in starting
    assert "500 rows read" in running and "1/2" in running and "shard 1" in running and "40/100" in running
    assert "1,200 rows read" in done and "2/2" in done and "shard 1" not in done


def test_bench_finds_the_checkouts_scripts_or_says_where_they_are(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # not the checkout: its benchmarks are found all the same
    listed = run("bench", "--list").output.split()
    assert listed == sorted(p.stem for p in (ROOT / "benchmarks").glob("bench_*.py")) and listed
    monkeypatch.setattr(main, "CHECKOUT", tmp_path)  # as from a wheel: no checkout around it
    missing = CliRunner().invoke(cli, ["bench", "--list"])
    assert missing.exit_code == 1 and "not installed with indb" in missing.output
    assert "benchmarks/ of its source repository" in missing.output


# -- the guide --------------------------------------------------------------------------------

def test_the_cli_guide_documents_what_exists():
    """docs/cli.md names every command, option and dot-command, and nothing that is not one."""
    guide = (ROOT / "docs" / "cli.md").read_text()
    options = {opt for param in cli.params for opt in param.opts if opt.startswith("--")}
    for name, command in cli.commands.items():
        assert f"indb {name}" in guide or f"## {name}" in guide, name
        documented = {opt for param in command.params for opt in param.opts if opt.startswith("--")}
        assert all(f"`{opt}" in guide for opt in documented), (name, documented)
        options |= documented
    assert set(re.findall(r"`(--[a-z-]+)", guide)) <= options | {"--help", "--version"}
    # q's names (`.u.upd`) are not dot-commands: a dot-command is not followed by another dot
    assert set(re.findall(r"`(\.[a-z]+)(?![a-z.])", guide)) == set(DOT_COMMANDS)


def test_duckdb_s_dot_commands_for_output_modes_files_and_scripts(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "inner.sql").write_text("INSERT INTO t VALUES (3, 'c');\n.mode json\n"
                                        "SELECT v FROM t WHERE id = 3;\n")
    script = ("CREATE TABLE t (id INTEGER, v VARCHAR);\nINSERT INTO t VALUES (1, 'a'), (2, 'b');\n"
              ".mode csv\nSELECT * FROM t ORDER BY id;\n.output out.csv\nSELECT * FROM t ORDER BY id;\n"
              "SELECT count(*) AS n FROM t;\n.output\n.read inner.sql\n.once once.json\n"
              "SELECT max(id) AS m FROM t;\n.mode box\n.maxrows 1\nSELECT * FROM t ORDER BY id;\n"
              ".mode\n.mode line\n.read missing.sql\n")
    result = CliRunner().invoke(cli, ["--db", str(tmp_path / "db"), "sql"], input=script)
    out, err = result.stdout, result.stderr
    assert "id,v\n1,a\n2,b\n" in out  # .mode csv
    assert (tmp_path / "out.csv").read_text() == "id,v\n1,a\n2,b\nn\n2\n"
    assert '"v": "c"' in out  # .read ran inner.sql, whose .mode json stays
    assert json.loads((tmp_path / "once.json").read_text()) == [{"m": 3}]
    assert "2 not shown" in out and "\ntable\n" in out  # box is a table; .maxrows 1
    assert ".mode takes table, box, duckbox, csv, json, not line" in err
    assert "cannot read missing.sql" in err
