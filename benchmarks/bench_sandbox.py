"""What the sandbox of UDF instances costs: starting a process in it (confine.py, then an empty
Python), a run that starts a fresh host process (new code each time), and a run on a warm host,
with INDB_SANDBOX=off and with the sandbox, alternated.

Run: ``indb bench sandbox`` or ``python benchmarks/bench_sandbox.py [--runs N]``. The workers
are threads of this process (``cluster="threads"``), so the setting, read by the worker at each
instance, changes between runs; each instance is still a host process of its own.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from common import machine, report

import indb
from indb.sharding import sandbox

FUNCTION = """CREATE OR REPLACE FUNCTION probe LANGUAGE PYTHON MODE = 'nondistributed' AS $$
# version {version}: other code, so the run needs a new host process
def probe(ctx, t):
    return t
$$"""


def timed(conn: indb.Connection, mode: str) -> float:
    os.environ["INDB_SANDBOX"] = mode
    started = time.perf_counter()
    conn.sql("EXECUTE FUNCTION probe(INPUT_TABLE_NAMES => INPUT_TABLE(t), "
             "OUTPUT_TABLE_NAMES => OUTPUT_TABLES('out'))")
    return time.perf_counter() - started


def process_start(confined: bool, staging: Path) -> float:
    """Seconds to start and end ``python -c pass``, in the sandbox or not."""
    argv = [sys.executable, "-c", "pass"]
    if confined:
        rules = sandbox.Policy(str(staging), tuple(sandbox.SYSTEM_READ) + tuple(sandbox._python("")),
                               (), ())
        argv = sandbox.command(rules, staging, argv)
    started = time.perf_counter()
    subprocess.run(argv, check=True)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10, help="runs of each kind and mode")
    parser.add_argument("--json", type=Path, default=None, help="also write the figures here")
    args = parser.parse_args()
    if sandbox.unavailable():
        raise SystemExit(f"no sandbox on this machine: {sandbox.unavailable()}")
    workdir = Path(tempfile.mkdtemp(prefix="indb-bench-"))
    start: dict[str, list[float]] = {"off": [], "auto": []}
    for _ in range(4 * args.runs):
        for mode in ("off", "auto"):
            start[mode].append(process_start(mode == "auto", workdir))
    cold: dict[str, list[float]] = {"off": [], "auto": []}
    warm: dict[str, list[float]] = {"off": [], "auto": []}
    try:
        with indb.connect(workdir / "db", cluster="threads") as conn:
            conn.sql("CREATE TABLE t AS SELECT range AS x FROM range(1000)")
            version = 0
            for _ in range(args.runs):
                for mode in ("off", "auto"):
                    version += 1
                    conn.sql(FUNCTION.format(version=version))
                    cold[mode].append(timed(conn, mode))   # a new host starts
                    warm[mode].append(timed(conn, mode))   # the same host again
    finally:
        os.environ.pop("INDB_SANDBOX", None)
        shutil.rmtree(workdir, ignore_errors=True)
    figures: dict[str, object] = {"machine": machine(), "runs": args.runs}
    for kind, times in (("process start", start), ("cold run", cold), ("warm run", warm)):
        for mode in ("off", "auto"):
            figures[f"{kind}, sandbox {mode}, median ms"] = round(1000 * statistics.median(times[mode]), 1)
        figures[f"{kind}, sandbox's cost, ms"] = round(
            1000 * (statistics.median(times["auto"]) - statistics.median(times["off"])), 1)
    report(figures, args.json)


if __name__ == "__main__":
    main()
