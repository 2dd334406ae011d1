"""The demo: digits and market data loaded, models trained and used where the data is, results in SQL.

It builds a fresh database, loads the 1,797 real handwritten digits (8 shards) and 20 years of
daily S&P 500 and NASDAQ prices, then runs ``sql/mnist.sql`` and ``sql/anomalies.sql``: the UDFs
in ``udfs/`` are registered, trained, and used for inference, and the results are queried with SQL.
"""

from __future__ import annotations

import os
import re
import shutil
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import indb
from indb.cli.formatting import render
from indb.datasets import digits, market_history
from indb.errors import DirectoryError

SCRIPTS = ("mnist.sql", "anomalies.sql")
MARKER = ".indb-demo"  # in a database the demo made: only such a directory is replaced


def resources() -> Path:
    """The directory holding ``udfs/`` and ``sql/``: the source checkout, or where a wheel put them."""
    for root in (Path(__file__).resolve().parents[2], Path(sys.prefix) / "share" / "indb"):
        if (root / "udfs").is_dir() and (root / "sql").is_dir():
            return root
    raise DirectoryError("cannot find indb's udfs/ and sql/ directories (reinstall indb)")


@contextmanager
def working_directory(path: Path) -> Iterator[None]:
    """FILE PATHS in the scripts are relative: run them from where udfs/ is."""
    previous = Path.cwd()
    os.chdir(path)
    try:
        yield
    finally:
        os.chdir(previous)


def cells(script: str) -> Iterator[tuple[str, str]]:
    """A script's blank-line separated cells as (title from its leading comment, SQL)."""
    for cell in re.split(r"\n\s*\n", script):
        lines = cell.strip().splitlines()
        comments = [line.removeprefix("--").strip() for line in lines if line.startswith("--")]
        sql = "\n".join(line for line in lines if not line.startswith("--")).strip()
        if sql:
            yield " ".join(comments), sql


def run_script(conn: indb.Connection, script: str, echo: Callable[[str], None]) -> None:
    """Run each cell; print its title first, then its outcome (the rows of a final query)."""
    for title, sql in cells(script):
        if title:
            echo(f"\n-- {title}")
        started = time.perf_counter()
        result = conn.sql(sql)
        seconds = time.perf_counter() - started
        if result.columns and sql.split(None, 1)[0].upper() in ("SELECT", "SHOW", "WITH"):
            echo(render(result.arrow()))
        elif result.message:
            echo(f"   {result.message} ({seconds:.1f} s)")


def run_demo(path: str, echo: Callable[[str], None] = print, workers: int | None = None) -> None:
    """Build the demo database at ``path`` (replacing a previous demo there) and print its results."""
    target = Path(path)
    if target.exists() and any(target.iterdir()):
        if not (target / MARKER).exists():
            raise DirectoryError(f"{target} is not empty and not a database the demo made; the demo "
                                "replaces its database each time, so pick another --db")
        shutil.rmtree(target)  # a fresh database each time: the demo shows versions 1, 2, 3
    started = time.perf_counter()
    conn = indb.connect(target, workers=workers)
    (target / MARKER).write_text("made by `indb demo`, which replaces this directory when run again\n")
    conn.sql("CREATE TABLE digits (id BIGINT, pixels FLOAT[64], label INTEGER, split VARCHAR, "
             "SHARD KEY (id)) WITH (SHARDS = 8)")
    conn.load("digits", digits())
    conn.sql("CREATE TABLE prices (sym VARCHAR, date DATE, close DOUBLE, volume DOUBLE, "
             "SHARD KEY (sym)) WITH (SHARDS = 2)")
    conn.load("prices", market_history())
    echo(render(conn.sql("SHOW TABLES").arrow()))
    with working_directory(resources()):
        for name in SCRIPTS:
            echo(f"\n== sql/{name}")
            run_script(conn, (Path("sql") / name).read_text(), echo)
    echo("\n-- Models in the registry")
    echo(render(conn.sql("SHOW MODELS").arrow()))
    conn.close()
    echo(f"\ndemo finished in {time.perf_counter() - started:.0f} s; explore it with: "
         f"indb --db {path} sql")
