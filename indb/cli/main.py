"""``indb``: run SQL against a database directory, load files, run the demo and the benchmarks."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

import click

from indb.cli import cluster as cluster_commands
from indb.cli.formatting import FORMATS
from indb.errors import IndbError

if TYPE_CHECKING:
    from indb.cli.shell import DatabaseDir
    from indb.connection import Connection
    from indb.server.serve import Service
    from indb.stream.server import TickServer

DEFAULT_DB = os.environ.get("INDB_DB", "./mydb")
CHECKOUT = Path(__file__).resolve().parents[2]  # the source checkout, when indb runs from one
_T = TypeVar("_T")


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--db", "db", default=DEFAULT_DB, show_default=True, metavar="DIR",
              help="Database directory. Also $INDB_DB.")
@click.option("--workers", type=int, default=None, metavar="N",
              help="Dask worker processes for function runs (default: CPU count, at most 8).")
@click.option("--url", envvar="INDB_URL", default=None, metavar="URL",
              help="A database served by `indb serve` (http://host:8765), used instead of "
                   "--db by sql and load. Also $INDB_URL.")
@click.option("--token", envvar="INDB_TOKEN", default=None, metavar="TOKEN",
              help="API token for --url. Also $INDB_TOKEN.")
@click.version_option(package_name="indb")
@click.pass_context
def cli(ctx: click.Context, db: str, workers: int | None, url: str | None,
        token: str | None) -> None:
    """indb: Python UDFs next to sharded Iceberg tables, queried with SQL."""
    ctx.obj = {"db": db, "workers": workers, "url": url, "token": token}


def db_option(command: Callable[..., None]) -> Callable[..., None]:
    """``--db`` on the command as well: ``indb demo --db DIR`` is ``indb --db DIR demo``."""
    return click.option("--db", "db", default=None, metavar="DIR",
                        help="Database directory (as indb --db; this one wins).")(command)


def _database(ctx: click.Context, db: str | None) -> DatabaseDir:
    from indb.cli.shell import DatabaseDir
    if ctx.obj["url"] and db is None:
        return _served(ctx.obj["url"], ctx.obj["token"])
    return DatabaseDir(db or ctx.obj["db"], ctx.obj["workers"])


def _served(url: str, token: str | None) -> DatabaseDir:
    """The database at ``--url``, in the shape of a ``--db`` directory (it always exists)."""
    from indb.cli.shell import DatabaseDir

    class Served(DatabaseDir):
        def exists(self) -> bool:
            return True

        def connect(self, create: bool = False) -> Connection:
            if self._conn is None:
                import indb
                self._conn = indb.connect(url, token=token)
            return self._conn
    return Served(url)


@cli.command()
@click.argument("statement", required=False)
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="table", show_default=True,
              help="How results are printed.")
@click.option("--max-rows", default=100, show_default=True, help="Rows shown by --format table.")
@db_option
@click.pass_context
def sql(ctx: click.Context, statement: str | None, fmt: str, max_rows: int, db: str | None) -> None:
    """Run STATEMENT (several may be separated by ';', each result is printed); with none, read
    statements from the prompt (or from stdin when it is not a terminal).

    At the prompt a statement may span lines and ends with ';'. Ctrl-C stops the statement that
    is running; .help lists the dot-commands; .quit or Ctrl-D leaves.
    """
    from indb.cli.prompt import inputs
    from indb.cli.shell import Shell
    shell = Shell(_database(ctx, db), fmt, max_rows)
    try:
        if statement is not None:
            succeeded = shell.run(statement)
        else:
            succeeded = True
            for text in inputs():
                try:
                    shell.run(text)
                except KeyboardInterrupt:  # between two statements (printing a result): go on
                    click.echo("cancelled", err=True)
                if shell.done:
                    break
    finally:
        shell.close()
    if not succeeded:
        sys.exit(1)


@cli.command()
@click.argument("table")
@click.argument("path", type=click.Path(exists=True, dir_okay=False))
@click.option("--shard-key", default="", help="Comma-separated shard key columns, if the table is new.")
@click.option("--shards", type=int, default=None, help="Shard count, if the table is new.")
@click.option("--replicated", is_flag=True, help="Create the table replicated, if it is new.")
@db_option
@click.pass_context
def load(ctx: click.Context, table: str, path: str, shard_key: str, shards: int | None,
         replicated: bool, db: str | None) -> None:
    """Bulk-load a Parquet or CSV file at PATH into TABLE (created from the file if new; the
    database too). Shows the rows loaded and rows/s as it goes."""
    from indb.cli.progress import load_progress
    database = _database(ctx, db)
    keys = [k.strip() for k in shard_key.split(",") if k.strip()]
    started = time.perf_counter()
    try:
        with load_progress(f"loading {path}") as progress:
            count = database.connect(create=True).load(
                table, path, shard_key=keys, shards=shards, replicated=replicated, progress=progress)
    except IndbError as error:
        raise click.ClickException(str(error)) from None
    finally:
        database.close()
    seconds = time.perf_counter() - started
    click.echo(f"loaded {count:,} rows into {table} in {seconds:.1f} s ({count / seconds:,.0f} rows/s)")


@cli.command()
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address to listen on. Beyond loopback, clients need API tokens.")
@click.option("--port", default=8765, show_default=True, help="HTTP port (the API, /docs).")
@click.option("--pg-port", default=5433, show_default=True,
              help="PostgreSQL protocol port (psql, psycopg, BI tools); 0: none.")
@click.option("--tls-cert", type=click.Path(exists=True, dir_okay=False), default=None,
              help="Certificate file (PEM) for HTTPS; with --tls-key.")
@click.option("--tls-key", type=click.Path(exists=True, dir_okay=False), default=None,
              help="Private key file (PEM) for HTTPS.")
@click.option("--grace", default=30.0, show_default=True,
              help="Seconds runs in flight get to finish on SIGTERM/SIGINT before they are killed.")
@click.option("--connections", default=4, show_default=True,
              help="Connections to the database: function runs at once while queries go on.")
@click.option("--tick", "tick_port", type=int, default=None, metavar="PORT",
              help="Also run a kdb+ tickerplant on PORT (see indb tick; journal in DIR/tick).")
@db_option
@click.pass_context
def serve(ctx: click.Context, host: str, port: int, pg_port: int, tls_cert: str | None,
          tls_key: str | None, grace: float, connections: int, tick_port: int | None,
          db: str | None) -> None:
    """Serve the database (--db) to many clients until SIGTERM or Ctrl-C: an HTTP API (JSON or
    Arrow results, runs with progress; its document at /docs) and the PostgreSQL protocol.
    Connect with indb.connect("http://HOST:PORT"), indb --url, or psql -h HOST -p PG_PORT."""
    path = db or ctx.obj["db"]

    def opener() -> Callable[..., Service]:
        from indb.server.serve import Service
        return Service
    service = _opened(path, opener, "indb serve", "server", host=host, port=port,
                      pg_port=pg_port or None, tls_cert=tls_cert, tls_key=tls_key, grace=grace,
                      pool_size=connections, workers=ctx.obj["workers"])
    ticks = None
    if tick_port is not None:
        authenticate = service.authenticate
        ticks = _tickerplant(path, host=host, port=tick_port, workers=ctx.obj["workers"],
                             authenticate=lambda token: authenticate(token))
        ticks.start()
    scheme = "https" if tls_cert else "http"
    click.echo(f"serving {path} at {scheme}://{host}:{port} (API document: /docs)"
               + (f" and PostgreSQL protocol on port {pg_port}" if pg_port else "")
               + (f", kdb+ tickerplant on port {tick_port}" if tick_port is not None else ""), err=True)
    try:
        service.run()
    finally:
        if ticks is not None:
            ticks.stop()
            ticks.close()


@cli.command()
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address to listen on (beyond loopback, use indb serve --tick: it checks tokens).")
@click.option("--port", default=5010, show_default=True, help="kdb+ IPC port.")
@click.option("--journal", type=click.Path(file_okay=False), default=None,
              help="Directory of the journals (default: DIR/tick).")
@click.option("--fsync", "fsync_ms", default=0, show_default=True,
              help="0: the journal is synced before updates are published or answered; "
                   "N: written first, synced at most N ms later.")
@click.option("--flush", "flush_seconds", default=300.0, show_default=True,
              help="Seconds between flushes of real-time rows into their tables (0: at end of day only).")
@click.option("--subscriber-limit", "subscriber_mb", default=64, show_default=True,
              help="MB a subscriber may leave unread before it is disconnected.")
@click.option("--decoders", default=0, show_default=True,
              help="Processes that decode large reads of updates while the loop journals "
                   "(0: the loop decodes).")
@click.option("--kdb-log/--no-kdb-log", default=True, show_default=True,
              help="Keep the day's kdb+ log beside the journal (.u.L, which q's r.q replays "
                   "with -11!); without it ingest costs less and .u.L names the journal.")
@db_option
@click.pass_context
def tick(ctx: click.Context, host: str, port: int, journal: str | None, fsync_ms: int,
         flush_seconds: float, subscriber_mb: int, decoders: int, kdb_log: bool,
         db: str | None) -> None:
    """Run a kdb+ tickerplant for the database (--db) until SIGTERM or Ctrl-C: feeds publish
    with .u.upd, subscribers call .u.sub, and sync string queries (SQL or q-sql) are answered
    over real-time and stored rows. The guide is docs/streaming.md."""
    path = db or ctx.obj["db"]
    server = _tickerplant(path, host=host, port=port, journal=journal, fsync_ms=fsync_ms,
                          flush_seconds=flush_seconds or None, subscriber_limit=subscriber_mb << 20,
                          workers=ctx.obj["workers"], decoders=decoders, kdb_log=kdb_log)
    click.echo(f"tickerplant for {path} on {host}:{port} (journal {server.plant.journal.path})",
               err=True)
    try:
        server.run_until_signal()
    finally:
        server.close()


def _tickerplant(path: str, **options: object) -> TickServer:
    """The tickerplant server of the database at ``path``, not started yet."""
    def opener() -> Callable[..., TickServer]:
        from indb.stream.server import open_tickerplant
        return open_tickerplant
    return _opened(path, opener, "the tickerplant", "kdb", **options)


def _opened(path: str, opener: Callable[[], Callable[..., _T]], needs: str, extra: str,
            **options: object) -> _T:
    """``opener()(path, **options)``: what serves the database at ``path``, where ``opener``
    imports the part of indb that the ``extra`` installs; a clear error (for ``needs``) when
    there is no database there, the extra is missing, or opening fails."""
    from indb.catalog.database import CATALOG_FILE
    if not (Path(path) / CATALOG_FILE).is_file():
        raise click.ClickException(f"there is no database at {path} (no {CATALOG_FILE} there); "
                                   "check --db, or make one first (indb sql 'CREATE TABLE ...')")
    try:
        open_ = opener()
    except ImportError as error:
        raise click.ClickException(f"{needs} needs the {extra} extra ({error.name} is "
                                   f"missing): pip install 'indb[{extra}]'") from None
    try:
        return open_(path, **options)
    except IndbError as error:
        raise click.ClickException(str(error)) from None


@cli.command()
@db_option
@click.pass_context
def demo(ctx: click.Context, db: str | None) -> None:
    """Build the demo database (--db; replaced if it is a previous demo): load the digits and
    20 years of S&P 500 and NASDAQ days, train and use the models of sql/mnist.sql and
    sql/anomalies.sql where the data is, and print the results."""
    from indb.cli.demo import run_demo
    try:
        run_demo(db or ctx.obj["db"], echo=click.echo, workers=ctx.obj["workers"])
    except IndbError as error:
        raise click.ClickException(str(error)) from None


@cli.command(context_settings={"ignore_unknown_options": True})
@click.argument("names", nargs=-1)
@click.option("--list", "list_only", is_flag=True, help="List the benchmarks and stop.")
@click.option("--dir", "directory", type=click.Path(file_okay=False), default=None,
              help="Where the benchmark scripts are (default: ./benchmarks, else those of the "
                   "checkout indb runs from).")
def bench(names: tuple[str, ...], list_only: bool, directory: str | None) -> None:
    """Run the benchmark scripts (all, or those whose names contain one of NAMES), each in its
    own process. They are benchmarks/bench_*.py in indb's source repository: a checkout, or an
    editable install of one, has them; a wheel does not install them."""
    roots = [Path(directory)] if directory else [Path("benchmarks"), CHECKOUT / "benchmarks"]
    root = next((r for r in roots if any(r.glob("bench_*.py"))), None)
    if root is None:
        raise click.ClickException(
            "no benchmark scripts (bench_*.py) in " + " or ".join(str(r.resolve()) for r in roots)
            + ". They are not installed with indb: they are in benchmarks/ of its source "
            "repository. Run `indb bench` in a checkout, or name their directory with --dir")
    scripts = sorted(root.glob("bench_*.py"))
    chosen = [s for s in scripts if not names or any(n in s.stem for n in names)]
    if list_only or not chosen:
        for script in scripts:
            click.echo(script.stem)
        return
    for script in chosen:
        click.echo(f"== {script.stem}")
        code = subprocess.call([sys.executable, str(script)])
        if code:
            raise click.ClickException(f"{script.stem} failed with exit status {code}")


@cli.command()
@click.argument("directory", type=click.Path(exists=True, file_okay=False))
def relocate(directory: str) -> None:
    """Make a database DIRECTORY that was moved or copied work where it is now (its tables'
    metadata rewritten for this place, history kept, in one step)."""
    from indb.catalog.database import CATALOG_FILE, Database
    if not (Path(directory) / CATALOG_FILE).is_file():
        raise click.ClickException(f"{directory} is not an indb database (it has no {CATALOG_FILE})")
    try:
        before = Database(directory, relocate=False)
        before.close()
        click.echo(f"{directory}: already in place, nothing to do")
        return
    except IndbError:
        pass  # it moved (or is not a database: opening again below says which)
    try:
        Database(directory, relocate=True).close()
    except IndbError as error:
        raise click.ClickException(str(error)) from None
    click.echo(f"{directory}: relocated; its tables now name their files here")


@cli.command()
@click.argument("source", type=click.Path(exists=True, file_okay=False))
@click.argument("target", type=click.Path())
def backup(source: str, target: str) -> None:
    """Copy the database SOURCE to the new directory TARGET, consistently, while it is in use;
    the copy is a database of its own."""
    from indb.catalog.backup import backup as copy
    try:
        count = copy(Path(source), Path(target))
    except IndbError as error:
        raise click.ClickException(str(error)) from None
    click.echo(f"backed up {source} to {target} ({count:,} files)")


@cli.command()
@click.argument("backup_dir", metavar="BACKUP", type=click.Path(exists=True, file_okay=False))
@click.argument("target", type=click.Path())
def restore(backup_dir: str, target: str) -> None:
    """Make a new database at TARGET from BACKUP (a backup is a database; this copies it)."""
    from indb.catalog.backup import backup as copy
    try:
        count = copy(Path(backup_dir), Path(target))
    except IndbError as error:
        raise click.ClickException(str(error)) from None
    click.echo(f"restored {backup_dir} to {target} ({count:,} files)")


# a database described by URLs and its cluster: indb init, scheduler, worker, cluster status
for _command in (cluster_commands.init, cluster_commands.scheduler, cluster_commands.worker,
                 cluster_commands.cluster):
    cli.add_command(_command)


def main() -> None:
    try:
        cli(prog_name="indb")
    except SystemExit as stop:
        code = stop.code if isinstance(stop.code, int) else (0 if stop.code is None else 1)
    else:
        code = 0
    if "indb.sharding.cluster" in sys.modules:  # a cluster may have been started: stop it in order
        sys.modules["indb.sharding.cluster"].close_all()
    # DuckDB 2.0's bindings print "nanobind: leaked ..." during interpreter shutdown; a CLI has
    # nothing left to clean up once its output is flushed, so it leaves without that noise.
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


if __name__ == "__main__":
    main()
