"""What ``indb sql`` does with each piece of its input: a dot-command, or statements run one by
one, each result printed.

A statement runs on a thread of its own while the main thread waits for it, because Python
delivers Ctrl-C to the main thread only: there it stops the statement, never the shell. DuckDB's
query is interrupted; a function run hears it through its progress callback and is recorded as
killed, with nothing written (its instances are stopped by their supervisors).

While a statement runs, Ctrl-C (SIGINT) sets a flag, through a handler of the shell's, instead
of raising KeyboardInterrupt wherever the main thread happens to be: raised between handing the
statement to its thread and waiting for it, it escaped the shell and left the statement running
unstopped. The main thread looks at the flag at least every INTERRUPT_INTERVAL, so it also acts on
a SIGINT the kernel handed to another thread (one that never wakes a main thread blocked on a lock).
"""

from __future__ import annotations

import io
import shlex
import signal
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from concurrent.futures import Future, ThreadPoolExecutor, wait
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

import click
import pyarrow as pa
from rich.console import Console
from sqlglot import exp

from indb.catalog.database import CATALOG_FILE
from indb.catalog.location import is_config
from indb.cli.formatting import render
from indb.cli.progress import RunDisplay, run_progress
from indb.cli.prompt import QUIT_WORDS, pieces
from indb.errors import DirectoryError, IndbError
from indb.parser import CreateFunction, CreateModel, parse, render_indb, split, table_ref

if TYPE_CHECKING:
    from indb.connection import Connection
    from indb.sharding.executor import RunProgress

T = TypeVar("T")
INTERRUPT_INTERVAL = 0.2  # seconds between looks at Ctrl-C, and DuckDB interrupts once it came
CREATES = (exp.Create, CreateFunction, CreateModel)  # statements that may make a new database


class Cancelled(Exception):
    """The statement was stopped by Ctrl-C."""


class CommandError(Exception):
    """A dot-command that cannot be carried out as typed."""


class DatabaseDir:
    """The ``--db`` directory, opened when first needed. Only what creates something makes a new
    database there, so a mistyped ``--db`` is reported instead of becoming an empty database."""

    def __init__(self, path: str, workers: int | None = None) -> None:
        self.path, self.workers = path, workers
        self._conn: Connection | None = None

    def exists(self) -> bool:
        return self._conn is not None or (Path(self.path) / CATALOG_FILE).exists() \
            or (is_config(self.path) and Path(self.path).is_file())  # described by URLs

    def connect(self, create: bool = False) -> Connection:
        if self._conn is None:
            if not create and not self.exists():
                raise DirectoryError(
                    f"there is no database at {self.path} (no {CATALOG_FILE} there); check --db "
                    "(or $INDB_DB). A CREATE statement, `indb load` or `indb demo` makes a new one")
            import indb  # here, so that --help does not load the engine
            self._conn = indb.connect(self.path, workers=self.workers)
        return self._conn

    def interrupt(self) -> None:
        if self._conn is not None:
            self._conn.interrupt()

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None


def _creates(statement: str) -> bool:
    return any(isinstance(tree, CREATES) for tree in parse(statement))


class Shell:
    """Runs the input of ``indb sql`` against a database, printing each result."""

    def __init__(self, database: DatabaseDir, fmt: str = "table", max_rows: int = 100,
                 console: Console | None = None) -> None:
        self.database, self.fmt, self.max_rows = database, fmt, max_rows
        self.console = console or Console(stderr=True)  # where progress is drawn
        self.timer = False  # .timer on: each statement's time is printed after it
        self.done = False  # .quit was typed
        self.output: Path | None = None  # .output FILE: where results go (None: stdout)
        self.once = False  # .once FILE: the next result only
        self._worker = ThreadPoolExecutor(1, thread_name_prefix="indb-statement")
        self._cancel = threading.Event()

    def run(self, text: str) -> bool:
        """Run a dot-command, or each statement of ``text`` in turn; False once one fails or is
        cancelled (the statements after it in ``text`` are not run)."""
        stripped = text.strip()
        try:
            if stripped.startswith(".") or stripped in QUIT_WORDS:
                self._dot_command(stripped)
            else:
                for statement in split(text):
                    self._statement(statement)
        except (IndbError, CommandError) as error:
            click.echo(f"Error: {error}", err=True)
            return False
        except Cancelled:
            click.echo("cancelled", err=True)
            return False
        return True

    def close(self) -> None:
        self._worker.shutdown()
        self.database.close()

    # -- statements ---------------------------------------------------------------------------

    def _statement(self, statement: str) -> None:
        conn = self.database.connect(create=not self.database.exists() and _creates(statement))
        started = time.perf_counter()
        with self._ctrl_c_cancels(), run_progress(self.console) as progress:
            display = RunDisplay(progress)

            def report(run: RunProgress) -> None:
                if self._cancel.is_set():  # in the run: it is killed and writes nothing
                    raise KeyboardInterrupt
                display(run)
            conn.progress = report
            rows, total, message = self._wait(self._worker.submit(self._execute, conn, statement))
        seconds = time.perf_counter() - started
        self._print(message if rows is None else render(rows, self.fmt, self.max_rows,
                                                        total_rows=total))
        if self.timer:
            click.echo(f"({seconds:.3f} s)", err=True)

    def _execute(self, conn: Connection, statement: str) -> tuple[pa.Table | None, int, str]:
        """On the statement thread: run it and read its rows (for a table, the first max_rows;
        the rest are counted, not kept)."""
        result = conn.sql(statement)
        try:
            if not result.columns:
                return None, 0, result.message or "OK"
            if self.fmt != "table":
                rows = result.arrow()
                return rows, rows.num_rows, ""
            kept, total = [], 0
            for batch in result.fetch_record_batch():
                kept.append(batch.slice(0, max(0, self.max_rows - total)))
                total += batch.num_rows
            return pa.Table.from_batches(kept, schema=result.schema), total, ""
        finally:
            result.close()

    def _print(self, text: str) -> None:
        """A result, on stdout or appended to the file ``.output`` or ``.once`` named."""
        if self.output is None:
            click.echo(text)
            return
        with self.output.open("a") as file:
            click.echo(text, file=file)
        if self.once:
            self.output, self.once = None, False

    @contextmanager
    def _ctrl_c_cancels(self) -> Iterator[None]:
        """Ctrl-C sets ``_cancel`` inside (on the main thread, where Python runs signal handlers;
        a SIGINT ignored from the start stays ignored)."""
        if threading.current_thread() is not threading.main_thread() or \
                signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
            yield
            return
        previous = signal.signal(signal.SIGINT, lambda number, frame: self._cancel.set())
        try:
            yield
        finally:
            signal.signal(signal.SIGINT, previous)

    def _wait(self, future: Future[T]) -> T:
        """The statement's outcome. A Ctrl-C while it runs stops it (again and again, until it
        ends: it may have been between two DuckDB queries) and raises Cancelled."""
        try:
            while not future.done():
                if self._cancel.is_set():
                    self.database.interrupt()
                wait([future], timeout=INTERRUPT_INTERVAL)
        finally:
            cancelled = self._cancel.is_set()
            self._cancel.clear()
        if cancelled and future.exception() is not None:
            raise Cancelled
        return future.result()  # it ended (before a Ctrl-C could stop it)

    # -- dot-commands -------------------------------------------------------------------------

    def _dot_command(self, line: str) -> None:
        try:
            name, *args = shlex.split(line)
        except ValueError as error:
            raise CommandError(f"{line}: {error}") from None
        name = f".{name}" if name in QUIT_WORDS else name
        if name not in DOT_COMMANDS:
            raise CommandError(f"there is no command {name}; .help lists them")
        command, usage, _ = DOT_COMMANDS[name]
        if len(args) > len(usage.split()):
            raise CommandError(f"{name} takes {usage or 'nothing'}, not {' '.join(args)}")
        command(self, args)


def _tables(shell: Shell, args: list[str]) -> None:
    shell._statement("SHOW TABLES")


def _schema(shell: Shell, args: list[str]) -> None:
    names = args or shell.database.connect().sql("SHOW TABLES").arrow()["name"].to_pylist()
    for name in names:
        if not args:
            click.echo(f"-- {name}")
        shell._statement(render_indb(exp.Describe(this=table_ref(name))))


def _timer(shell: Shell, args: list[str]) -> None:
    if args not in (["on"], ["off"]):
        raise CommandError(".timer takes on or off")
    shell.timer = args == ["on"]


def _mode(shell: Shell, args: list[str]) -> None:
    if not args:
        click.echo(shell.fmt)
        return
    if args[0].lower() not in MODES:
        raise CommandError(f".mode takes {', '.join(MODES)}, not {args[0]}")
    shell.fmt = MODES[args[0].lower()]


def _output(shell: Shell, args: list[str], once: bool = False) -> None:
    """Results to a file (emptied first, as DuckDB's CLI does), or back to stdout."""
    if once and not args:
        raise CommandError(".once takes a file")
    shell.output, shell.once = (Path(args[0]) if args else None), once
    if shell.output is not None:
        try:
            shell.output.write_text("")
        except OSError as error:
            shell.output = None
            raise CommandError(f"cannot write {args[0]}: {error.strerror}") from None


def _read(shell: Shell, args: list[str]) -> None:
    """Run a file's statements and dot-commands, in order, until one fails."""
    if not args:
        raise CommandError(".read takes a file")
    try:
        text = Path(args[0]).read_text()
    except OSError as error:
        raise CommandError(f"cannot read {args[0]}: {error.strerror}") from None
    for piece in pieces(io.StringIO(text)):
        if not shell.run(piece):
            raise CommandError(f"{args[0]}: stopped at the statement that failed")
        if shell.done:
            return


def _max_rows(shell: Shell, args: list[str]) -> None:
    if len(args) != 1 or not args[0].isdigit():
        raise CommandError(".maxrows takes a number of rows")
    shell.max_rows = int(args[0])


def _help(shell: Shell, args: list[str]) -> None:
    for name, (_, usage, text) in DOT_COMMANDS.items():
        click.echo(f"{name + ' ' + usage:<16} {text}")
    click.echo("Statements end with ';' and may span lines; Ctrl-C stops the statement running "
               "(or drops what is typed); Ctrl-D leaves.")


def _quit(shell: Shell, args: list[str]) -> None:
    shell.done = True


# .mode's names (DuckDB's CLI's box and duckbox are its tables)
MODES = {"table": "table", "box": "table", "duckbox": "table", "csv": "csv", "json": "json"}
# name: (what it does, its arguments, what .help says)
DOT_COMMANDS: dict[str, tuple[Callable[[Shell, list[str]], None], str, str]] = {
    ".tables": (_tables, "", "the tables: kind, shard key, shards, rows (SHOW TABLES)"),
    ".schema": (_schema, "[TABLE]", "a table's columns and facts (DESCRIBE), or every table's"),
    ".timer": (_timer, "on|off", "print how long each statement took"),
    ".mode": (_mode, "[MODE]", "print results as table (box), csv or json; alone: the mode"),
    ".maxrows": (_max_rows, "N", "rows a table shows"),
    ".output": (_output, "[FILE]", "results to FILE (emptied first); alone: to the terminal"),
    ".once": (lambda shell, args: _output(shell, args, once=True), "FILE",
              "the next result to FILE"),
    ".read": (_read, "FILE", "run FILE's statements and dot-commands"),
    ".help": (_help, "", "this list"),
    ".quit": (_quit, "", "leave (also .exit, quit, exit, Ctrl-D)"),
    ".exit": (_quit, "", "leave"),
}
