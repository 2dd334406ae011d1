"""The embedded database against databases described by URLs, on one machine, in one run: a
small query and a one-row write (a commit through the catalog), for the embedded directory
(SQLite), a PostgreSQL catalog with a warehouse on a path, and a PostgreSQL catalog with an S3
warehouse (moto's server, in this process). Reported: median and p90 latency in ms, and each
layout's median against the embedded one's.

    python benchmarks/bench_cluster.py [--rows 100000] [--repeat 50] [--json out.json]

Needs Debian's PostgreSQL 15 server and the dev extra (moto): the servers are started the way
tests/test_urls.py starts them (tests/stores.py).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import indb
from common import machine, report

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from stores import new_bucket, new_database, postgres_server, s3_server  # noqa: E402

QUERY = "SELECT count(*), sum(v) FROM t WHERE k = ?"


def latencies(repeat: int, fn: Callable[[int], object]) -> list[float]:
    times = []
    for i in range(repeat):
        started = time.perf_counter()
        fn(i)
        times.append((time.perf_counter() - started) * 1000)
    return times


def measure(conn: indb.Connection, rows: int, repeat: int) -> dict[str, float]:
    conn.sql("CREATE TABLE t (k INTEGER, v DOUBLE, SHARD KEY (k)) WITH (SHARDS = 8)")
    conn.sql(f"INSERT INTO t SELECT range % 1000, range * 0.5 FROM range({rows})")
    conn.sql(QUERY, [1]).fetchall()  # views built, caches warm
    query = latencies(repeat, lambda i: conn.sql(QUERY, [i % 1000]).fetchall())
    write = latencies(max(5, repeat // 5), lambda i: conn.sql("INSERT INTO t VALUES (?, 1.0)", [i]))
    return {"query_ms_p50": statistics.median(query),
            "query_ms_p90": statistics.quantiles(query, n=10)[-1],
            "insert_ms_p50": statistics.median(write)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=50)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    figures: dict[str, object] = {"machine": machine(), "rows": args.rows}
    with tempfile.TemporaryDirectory() as scratch, postgres_server() as pg, s3_server() as s3:
        layouts = {
            "embedded": lambda: indb.connect(Path(scratch) / "db", cluster="threads"),
            "postgres+path": lambda: indb.connect(catalog=new_database(pg),
                                                  warehouse=str(Path(scratch) / "shared"),
                                                  cluster="threads"),
            "postgres+s3": lambda: indb.connect(catalog=new_database(pg),
                                                warehouse=f"s3://{new_bucket(s3)}/db",
                                                properties=s3, cluster="threads"),
        }
        for name, open_ in layouts.items():
            started = time.perf_counter()
            conn = open_()
            figures[f"{name}.connect_ms"] = (time.perf_counter() - started) * 1000
            for key, value in measure(conn, args.rows, args.repeat).items():
                figures[f"{name}.{key}"] = value
            conn.close()
    for name in ("postgres+path", "postgres+s3"):
        for key in ("query_ms_p50", "insert_ms_p50"):
            figures[f"{name}.{key}_vs_embedded"] = \
                figures[f"{name}.{key}"] / figures[f"embedded.{key}"]  # type: ignore[operator]
    report({k: round(v, 2) if isinstance(v, float) else v for k, v in figures.items()}, args.json)


if __name__ == "__main__":
    main()
