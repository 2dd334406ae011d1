"""indb serve under load: many clients at once sending small queries for a bounded time, over
HTTP (JSON) and the PostgreSQL protocol, against the same query through the embedded connection
from as many threads; then several EXECUTE FUNCTIONs at once over HTTP, none lost.

    python benchmarks/bench_serve.py [--clients 50] [--seconds 10] [--rows 100000] [--runs 4]

The server runs in a process of its own (``indb serve``), the clients in threads of this one,
all over loopback.
"""

from __future__ import annotations

import argparse
import random
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import psycopg

import indb
from common import machine, report

QUERY = "SELECT count(*), avg(px) FROM ticks WHERE id = ?"


def free_port() -> int:
    import socket
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def hammer(clients: int, seconds: float, rows: int,
           open_client: Callable[[], tuple[Callable[[int], object], Callable[[], None]]]) -> dict[str, float]:
    """``clients`` threads, each sending the query with random ids until ``seconds`` pass;
    queries a second and latency percentiles (ms)."""
    start = threading.Barrier(clients + 1)
    latencies: list[list[float]] = [[] for _ in range(clients)]
    errors: list[BaseException] = []

    def client(k: int) -> None:
        ask, close = open_client()
        rng = random.Random(k)
        try:
            start.wait()
            end = time.perf_counter() + seconds
            while (now := time.perf_counter()) < end:
                ask(rng.randrange(rows))
                latencies[k].append(time.perf_counter() - now)
        except BaseException as error:  # counted, and the figures say so
            errors.append(error)
        finally:
            close()

    with ThreadPoolExecutor(clients) as pool:
        futures = [pool.submit(client, k) for k in range(clients)]
        start.wait()
        began = time.perf_counter()
        for future in futures:
            future.result()
        took = time.perf_counter() - began
    every = sorted(x for each in latencies for x in each)
    quantiles = statistics.quantiles(every, n=100)
    return {"queries": len(every), "errors": len(errors), "qps": round(len(every) / took, 1),
            "p50_ms": round(quantiles[49] * 1000, 2), "p99_ms": round(quantiles[98] * 1000, 2)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=4, help="EXECUTE FUNCTIONs at once")
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()

    directory = Path(tempfile.mkdtemp(prefix="indb-bench-serve-"))
    path = directory / "db"
    with indb.connect(path) as conn:
        conn.sql("CREATE TABLE ticks (id BIGINT, sym VARCHAR, px DOUBLE, SHARD KEY (id)) "
                 "WITH (SHARDS = 4)")
        conn.sql("INSERT INTO ticks SELECT range, 'S' || (range % 100), range * 0.01 "
                 f"FROM range({args.rows})")
        conn.sql("CREATE FUNCTION touch LANGUAGE PYTHON AS $$\n"
                 "def touch(ctx, t):\n    return {'shard': [ctx.shard], 'rows': [t.num_rows]}\n$$")

    figures: dict[str, object] = {"machine": machine(), "clients": args.clients,
                                  "seconds": args.seconds, "rows": args.rows}

    embedded = indb.connect(path)

    def embedded_client() -> tuple[Callable[[int], object], Callable[[], None]]:
        return (lambda i: embedded.execute(QUERY, [i]).fetchall()), (lambda: None)

    for key, value in hammer(args.clients, args.seconds, args.rows, embedded_client).items():
        figures[f"embedded_{key}"] = value
    embedded.close()

    port, pg_port = free_port(), free_port()
    server = subprocess.Popen([sys.executable, "-m", "indb.cli.main", "--workers", "2", "serve",
                               "--db", str(path), "--port", str(port), "--pg-port", str(pg_port),
                               "--grace", "60"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{url}/v1/health").status_code == 200:
                    break
            except httpx.HTTPError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)  # the server is starting: nothing to wait on but its answer

        def http_client() -> tuple[Callable[[int], object], Callable[[], None]]:
            client = httpx.Client(base_url=url, timeout=60)
            return (lambda i: client.post("/v1/sql", json={"sql": QUERY, "params": [i]})
                    .raise_for_status().json()), client.close

        def pg_client() -> tuple[Callable[[int], object], Callable[[], None]]:
            conn = psycopg.connect(f"host=127.0.0.1 port={pg_port} dbname=indb", autocommit=True)
            pg_query = QUERY.replace("?", "%s")
            return (lambda i: conn.execute(pg_query, [i]).fetchall()), conn.close

        for name, client in (("http", http_client), ("pg", pg_client)):
            for key, value in hammer(args.clients, args.seconds, args.rows, client).items():
                figures[f"{name}_{key}"] = value
        for name in ("http", "pg"):
            figures[f"{name}_p50_over_embedded"] = round(
                figures[f"{name}_p50_ms"] / figures["embedded_p50_ms"], 2)  # type: ignore[operator]

        def run(k: int) -> str:
            response = httpx.post(f"{url}/v1/sql", timeout=600, json={
                "sql": "EXECUTE FUNCTION touch(INPUT_TABLE_NAMES => INPUT_TABLE(ticks), "
                       f"OUTPUT_TABLE_NAMES => OUTPUT_TABLES('touched_{k}'))"})
            if response.status_code != 200:
                raise RuntimeError(f"run {k}: {response.status_code} {response.text}")
            return response.json()["rows"][0][0]

        started = time.perf_counter()
        with ThreadPoolExecutor(args.runs) as pool:
            run_ids = list(pool.map(run, range(args.runs)))
        figures["runs_at_once"] = args.runs
        figures["runs_seconds"] = round(time.perf_counter() - started, 2)
        completed = 0
        for k, run_id in enumerate(run_ids):
            status = httpx.get(f"{url}/v1/runs/{run_id}").json()
            row = dict(zip(status["columns"], status["rows"][0]))
            counted = httpx.post(f"{url}/v1/sql", json={
                "sql": f"SELECT sum(rows)::BIGINT FROM touched_{k}"}).json()["rows"][0][0]
            completed += row["status"] == "completed" and counted == args.rows
        figures["runs_completed_with_all_rows"] = completed
    finally:
        server.terminate()
        server.wait(timeout=300)
    report(figures, args.json)
    if completed != args.runs or figures["http_errors"] or figures["pg_errors"]:
        sys.exit("some queries or runs failed: see the figures")


if __name__ == "__main__":
    main()
