"""The demo: a sharded tick table and a replicated reference table, loaded and queried with SQL."""

from __future__ import annotations

import time
from collections.abc import Callable

import pyarrow as pa
import pyarrow.compute as pc

import indb
from indb.cli.formatting import render
from indb.datasets import synthetic_ticks

QUERIES = {
    "Tables": "SHOW TABLES",
    "Volume-weighted price by sector (sharded JOIN replicated, GROUP BY)": """
        SELECT s.sector, count(*) AS ticks, round(sum(t.px * t.size) / sum(t.size), 2) AS vwap
        FROM ticks t JOIN sectors s ON t.sym = s.sym
        GROUP BY s.sector ORDER BY s.sector""",
    "Five most traded symbols (CTE, window function)": """
        WITH per_sym AS (SELECT sym, sum(size) AS volume, max(px) AS high, min(px) AS low
                         FROM ticks GROUP BY sym)
        SELECT sym, volume, high, low, rank() OVER (ORDER BY volume DESC) AS rank
        FROM per_sym ORDER BY rank LIMIT 5""",
}


def run_demo(path: str, rows: int = 2_000_000, echo: Callable[[str], None] = print) -> None:
    """Create (or refresh) the demo tables in database ``path``, then print SQL results."""
    conn = indb.connect(path)
    for table in ("ticks", "sectors"):
        conn.sql(f"DROP TABLE IF EXISTS {table}")
    conn.sql("CREATE TABLE ticks (sym VARCHAR, ts TIMESTAMP, px DOUBLE, size INTEGER, "
             "SHARD KEY (sym)) WITH (SHARDS = 8)")
    conn.sql("CREATE REPLICATED TABLE sectors (sym VARCHAR, sector VARCHAR)")
    ticks = synthetic_ticks(rows)
    started = time.perf_counter()
    conn.load("ticks", ticks, progress=lambda n: echo(f"  loaded {n:,} of {rows:,} ticks"))
    seconds = time.perf_counter() - started
    echo(f"loaded {rows:,} ticks into 8 shards in {seconds:.2f} s ({rows / seconds:,.0f} rows/s)")
    symbols = pc.unique(ticks["sym"]).to_pylist()
    conn.load("sectors", pa.table({"sym": symbols,
                                   "sector": [("energy", "tech", "health", "finance")[i % 4]
                                              for i in range(len(symbols))]}))
    shard_rows = [conn.table("ticks").shard(k).num_rows for k in range(8)]
    echo(f"rows per shard (Iceberg bucket(8, sym)): {shard_rows}")
    for title, sql in QUERIES.items():
        started = time.perf_counter()
        result = conn.sql(sql).arrow()
        echo(f"\n{title} ({time.perf_counter() - started:.3f} s)\n{render(result)}")
    conn.close()
