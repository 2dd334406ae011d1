"""``indb``: run SQL against a database directory, load files, run the demo and the benchmarks."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import click

from indb.cli.formatting import FORMATS, render
from indb.cli.prompt import statements
from indb.errors import IndbError

DEFAULT_DB = os.environ.get("INDB_DB", "./mydb")


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--db", "db", default=DEFAULT_DB, show_default=True, metavar="DIR",
              help="Database directory (created if new). Also $INDB_DB.")
@click.option("--workers", type=int, default=None, metavar="N",
              help="Dask worker processes for function runs (default: CPU count, at most 8).")
@click.version_option(package_name="indb")
@click.pass_context
def cli(ctx: click.Context, db: str, workers: int | None) -> None:
    """indb: Python UDFs next to sharded Iceberg tables, queried with SQL."""
    ctx.obj = {"db": db, "workers": workers}


def _connect(ctx: click.Context):  # noqa: ANN202 (Connection, imported lazily for a fast --help)
    import indb
    try:
        return indb.connect(ctx.obj["db"], workers=ctx.obj["workers"])
    except IndbError as error:
        raise click.ClickException(str(error)) from None


@cli.command()
@click.argument("statement", required=False)
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="table", show_default=True,
              help="How results are printed.")
@click.option("--max-rows", default=100, show_default=True, help="Rows shown by --format table.")
@click.pass_context
def sql(ctx: click.Context, statement: str | None, fmt: str, max_rows: int) -> None:
    """Run STATEMENT (several may be separated by ';'); with none, an interactive prompt.

    At the prompt a statement may span lines and ends with ';'. Type .quit or press Ctrl-D to leave.
    """
    from rich.progress import (BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn,
                               TimeElapsedColumn)
    conn = _connect(ctx)
    failed = False
    for text in ([statement] if statement is not None else statements()):
        started = time.perf_counter()
        # a function run shows a bar of finished shard instances while it executes
        with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                      TimeElapsedColumn(), transient=True, disable=not sys.stderr.isatty()) as bar:
            tasks: dict[str, TaskID] = {}

            def progress(run_id: str, done: int, total: int) -> None:
                if run_id not in tasks:
                    tasks[run_id] = bar.add_task(f"run {run_id}", total=total)
                bar.update(tasks[run_id], completed=done)
            conn.progress = progress
            try:
                result = conn.sql(text)
            except IndbError as error:
                bar.stop()
                click.echo(f"Error: {error}", err=True)
                failed = True
                continue
        if result.columns:
            click.echo(render(result.arrow(), fmt, max_rows))
        else:
            click.echo(result.message or "OK")
        if fmt == "table" and statement is None:
            click.echo(f"({time.perf_counter() - started:.3f} s)", err=True)
    conn.close()
    if failed and statement is not None:
        sys.exit(1)


@cli.command()
@click.argument("table")
@click.argument("path", type=click.Path(exists=True, dir_okay=False))
@click.option("--shard-key", default="", help="Comma-separated shard key columns, if the table is new.")
@click.option("--shards", type=int, default=None, help="Shard count, if the table is new.")
@click.option("--replicated", is_flag=True, help="Create the table replicated, if it is new.")
@click.pass_context
def load(ctx: click.Context, table: str, path: str, shard_key: str, shards: int | None,
         replicated: bool) -> None:
    """Bulk-load a Parquet or CSV file at PATH into TABLE (created from the file if new)."""
    from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
    conn = _connect(ctx)
    keys = [k.strip() for k in shard_key.split(",") if k.strip()]
    with Progress(SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn(),
                  transient=True, disable=not sys.stderr.isatty()) as progress:
        task = progress.add_task(f"loading {path}", total=None)
        try:
            count = conn.load(table, path, shard_key=keys, shards=shards, replicated=replicated,
                              progress=lambda rows: progress.update(task, description=f"{rows:,} rows"))
        except IndbError as error:
            raise click.ClickException(str(error)) from None
    click.echo(f"loaded {count:,} rows into {table}")
    conn.close()


@cli.command()
@click.pass_context
def demo(ctx: click.Context) -> None:
    """Build the demo database (--db; replaced if it is a previous demo): load the digits and
    20 years of S&P 500 and NASDAQ days, train and use the models of sql/mnist.sql and
    sql/anomalies.sql where the data is, and print the results."""
    from indb.cli.demo import run_demo
    try:
        run_demo(ctx.obj["db"], echo=click.echo, workers=ctx.obj["workers"])
    except IndbError as error:
        raise click.ClickException(str(error)) from None


@cli.command(context_settings={"ignore_unknown_options": True})
@click.argument("names", nargs=-1)
@click.option("--list", "list_only", is_flag=True, help="List the benchmarks and stop.")
@click.option("--dir", "directory", type=click.Path(file_okay=False), default=None,
              help="Where the benchmark scripts are (default: ./benchmarks).")
def bench(names: tuple[str, ...], list_only: bool, directory: str | None) -> None:
    """Run the benchmark scripts in benchmarks/ (all, or those NAMES), each in its own process."""
    root = Path(directory or "benchmarks")
    scripts = sorted(root.glob("bench_*.py"))
    if not scripts:
        raise click.ClickException(f"no bench_*.py scripts in {root.resolve()}; run from a checkout")
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


def main() -> None:
    try:
        cli(prog_name="indb")
    except SystemExit as stop:
        code = stop.code if isinstance(stop.code, int) else (0 if stop.code is None else 1)
    else:
        code = 0
    # DuckDB 2.0's bindings print "nanobind: leaked ..." during interpreter shutdown; a CLI has
    # nothing left to clean up once its output is flushed, so it leaves without that noise.
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


if __name__ == "__main__":
    main()
