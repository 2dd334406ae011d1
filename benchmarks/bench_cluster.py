"""The embedded database against databases described by URLs, on one machine, in one run: a
small query and a one-row write (a commit through the catalog), for the embedded directory
(SQLite), a PostgreSQL catalog with a warehouse on a path, and a PostgreSQL catalog with an S3
warehouse (moto's server, in this process). Reported: median and p90 latency in ms, and each
layout's median against the embedded one's.

    python benchmarks/bench_cluster.py [--rows 100000] [--repeat 50] [--json out.json]
        [--function-rows 1000000] [--hosts 1,2,4] [--runs 3]

Then EXECUTE FUNCTION of a CPU-heavy UDF (8 shards) on 1, 2 and 4 worker "hosts" (``indb
worker`` processes under ``indb scheduler``, PostgreSQL catalog) against the embedded database's
local cluster of as many workers, on the same data: the overhead of the cluster layout, since
processes on one 2-core machine share its cores (no speed-up to see).

Needs Debian's PostgreSQL 15 server and the dev extra (moto): the servers are started the way
tests/test_urls.py starts them (tests/stores.py).
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import indb
from common import machine, report
from indb.sharding.cluster import close_cluster

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from stores import new_bucket, new_database, postgres_server, s3_server  # noqa: E402

QUERY = "SELECT count(*), sum(v) FROM t WHERE k = ?"
HEAVY = """CREATE FUNCTION heavy LANGUAGE PYTHON AS $$
import numpy as np
def heavy(ctx, t):
    v = t["v"].to_numpy()
    for _ in range(20):
        v = np.sin(v) + 1.0
    return {"k": t["k"], "w": v}
$$"""
RUN = ("EXECUTE FUNCTION heavy(INPUT_TABLE_NAMES => INPUT_TABLE(t), "
       "OUTPUT_TABLE_NAMES => OUTPUT_TABLES('{out}'))")
INDB = str(Path(sys.executable).parent / "indb")


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


def function_runs(conn: indb.Connection, runs: int) -> float:
    """Seconds of the fastest of ``runs`` EXECUTE FUNCTIONs of the CPU-heavy UDF (after one
    that starts the cluster and the instance processes)."""
    conn.sql(HEAVY)
    conn.sql(RUN.format(out="warm"))
    times = []
    for i in range(runs):
        started = time.perf_counter()
        conn.sql(RUN.format(out=f"out{i}"))
        times.append(time.perf_counter() - started)
    return min(times)


def hosts(count: int, pg: str, scratch: Path, rows: int, runs: int) -> float:
    """The function runs on ``count`` worker processes started by ``indb worker`` (one
    "host" each, on this machine) under ``indb scheduler``."""
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        address = f"tcp://127.0.0.1:{s.getsockname()[1]}"
    processes = [subprocess.Popen([INDB, "scheduler", "--address", address],
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)]
    processes += [subprocess.Popen([INDB, "worker", "--scheduler", address, "--gpus", "0",
                                    "--name", f"host{i}"],
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                  for i in range(count)]
    try:
        from distributed import Client
        with Client(address, timeout=120) as client:
            client.wait_for_workers(count, timeout=120)
        conn = indb.connect(catalog=new_database(pg), warehouse=str(scratch / f"hosts{count}"),
                            scheduler=address)
        conn.sql("CREATE TABLE t (k INTEGER, v DOUBLE, SHARD KEY (k)) WITH (SHARDS = 8)")
        conn.sql(f"INSERT INTO t SELECT range, range * 0.001 FROM range({rows})")
        seconds = function_runs(conn, runs)
        conn.close()
        close_cluster(scheduler=address, tls=None)  # its client, before the scheduler goes
        return seconds
    finally:
        for process in reversed(processes):
            process.terminate()
            process.wait()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=50)
    parser.add_argument("--json", type=Path, default=None)
    parser.add_argument("--function-rows", type=int, default=1_000_000)
    parser.add_argument("--hosts", default="1,2,4", help="worker host counts for the function runs")
    parser.add_argument("--runs", type=int, default=3)
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
        for count in (int(n) for n in args.hosts.split(",")):
            local = indb.connect(Path(scratch) / f"embedded{count}", workers=count)
            local.sql("CREATE TABLE t (k INTEGER, v DOUBLE, SHARD KEY (k)) WITH (SHARDS = 8)")
            local.sql(f"INSERT INTO t SELECT range, range * 0.001 FROM range({args.function_rows})")
            figures[f"function.embedded_{count}_workers_s"] = function_runs(local, args.runs)
            local.close()
            figures[f"function.{count}_hosts_s"] = hosts(count, pg, Path(scratch),
                                                         args.function_rows, args.runs)
            figures[f"function.{count}_hosts_overhead_s"] = \
                figures[f"function.{count}_hosts_s"] - figures[f"function.embedded_{count}_workers_s"]  # type: ignore[operator]
    for name in ("postgres+path", "postgres+s3"):
        for key in ("query_ms_p50", "insert_ms_p50"):
            figures[f"{name}.{key}_vs_embedded"] = \
                figures[f"{name}.{key}"] / figures[f"embedded.{key}"]  # type: ignore[operator]
    report({k: round(v, 2) if isinstance(v, float) else v for k, v in figures.items()}, args.json)


if __name__ == "__main__":
    main()
