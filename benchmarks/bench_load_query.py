"""Bulk load into an 8-shard table (and one without a shard key), then a group-by: indb vs plain
DuckDB on the same files.

Run: ``indb bench load_query`` or ``python benchmarks/bench_load_query.py [--rows N]``.
Targets (issue 2): load >= 2M rows/s on a 2-core machine; group-by within 1.3x of plain DuckDB.
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from pathlib import Path

import duckdb
from common import best_of, machine, report

import indb
from indb.datasets import synthetic_ticks
from indb.storage.files import data_files, local_path

GROUP_BY = ("SELECT sym, count(*) AS n, avg(px) AS px, sum(size) AS volume, max(ts) AS last "
            "FROM ticks GROUP BY sym ORDER BY sym")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--runs", type=int, default=5, help="query repetitions (best is kept)")
    parser.add_argument("--json", type=Path, default=None, help="also write the figures here")
    args = parser.parse_args()

    ticks = synthetic_ticks(args.rows)
    workdir = Path(tempfile.mkdtemp(prefix="indb-bench-"))
    try:
        conn = indb.connect(workdir / "db")
        conn.sql("CREATE TABLE ticks (sym VARCHAR, ts TIMESTAMP, px DOUBLE, size INTEGER, "
                 "SHARD KEY (sym)) WITH (SHARDS = 8)")
        started = time.perf_counter()
        conn.load("ticks", ticks)
        load_s = time.perf_counter() - started
        # the same rows into a table without a shard key: row ids drawn in runs, one a shard
        conn.sql("CREATE TABLE keyless (sym VARCHAR, ts TIMESTAMP, px DOUBLE, size INTEGER) "
                 "WITH (SHARDS = 8)")
        started = time.perf_counter()
        conn.load("keyless", ticks)
        keyless_s = time.perf_counter() - started

        conn.sql(GROUP_BY)  # warm: views built, files in the page cache
        indb_s, ours = best_of(args.runs, lambda: conn.sql(GROUP_BY).arrow())

        table, _ = conn.table("ticks")._engine.db.load("ticks")
        paths = [local_path(f.file_path) for f in data_files(table)]
        plain = duckdb.connect()
        plain.sql("CREATE VIEW ticks AS SELECT * FROM read_parquet(" + repr(paths) + ")")
        plain.sql(GROUP_BY).to_arrow_table()
        duck_s, theirs = best_of(args.runs, lambda: plain.sql(GROUP_BY).to_arrow_table())
        assert ours.num_rows == theirs.num_rows and ours["n"].equals(theirs["n"])
        conn.close()
    finally:
        shutil.rmtree(workdir, ignore_errors=True)

    figures = {
        "machine": machine(),
        "rows": args.rows,
        "load_seconds": round(load_s, 3),
        "load_rows_per_second": round(args.rows / load_s),
        "load_keyless_seconds": round(keyless_s, 3),
        "load_keyless_rows_per_second": round(args.rows / keyless_s),
        "group_by_indb_seconds": round(indb_s, 4),
        "group_by_duckdb_seconds": round(duck_s, 4),
        "group_by_ratio_indb_over_duckdb": round(indb_s / duck_s, 3),
    }
    report(figures, args.json)


if __name__ == "__main__":
    main()
