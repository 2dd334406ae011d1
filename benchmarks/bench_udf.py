"""EXECUTE FUNCTION overhead and scaling: an identity UDF over an 8-shard table vs plain DuckDB
reading the same rows, and a numpy-heavy UDF's rows/s on 1 and 2 workers.

Run: ``indb bench udf`` or ``python benchmarks/bench_udf.py [--rows N]``.
Targets (issue 12): the identity run (read, return, write a new sharded table) at most 1.5x plain
DuckDB reading the rows, and at most 1.0x DuckDB's own COPY of them to Parquet.

``--fixed`` measures instead what a warm run costs besides its function (issue 18): a function
as cheap as can be over --rows rows (default 1M) in 8 shards, on one worker of four instance
slots (a GPU worker's shape), with mnist_infer's output (id, digit, confidence, model_version: a
new table each run) and without one; per statement its milliseconds, the time before its first
instance starts and after its last one ends, the last instance's output write, and the head's
CPU milliseconds, as medians and minima of --runs statements. ``--last-write`` measures one
instance's share of that output written with every row's key bucketed and with its shard known.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import tempfile
import time
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa
from common import best_of, machine, report
from pyiceberg.io import load_file_io
from pyiceberg.transforms import BucketTransform
from pyiceberg.types import LongType

import indb
from indb.catalog.database import PARQUET_CODEC, provisional_metadata
from indb.catalog.tables import TableInfo
from indb.catalog.types import Column
from indb.datasets import synthetic_ticks
from indb.storage import files
from indb.storage.files import data_files, local_path

DEFAULT_ROWS = 10_000_000
FUNCTIONS = """
CREATE FUNCTION ident LANGUAGE PYTHON AS $$
def ident(ctx, t):
    return t
$$;
CREATE FUNCTION touch LANGUAGE PYTHON AS $$
def touch(ctx, t):
    return None
$$;
CREATE FUNCTION crunch LANGUAGE PYTHON AS $$
import numpy as np
from indb import udf

@udf.function(frame="numpy")
def crunch(ctx, t):
    y = t["px"]
    for _ in range(int(ctx.params.get("rounds", "20"))):
        y = np.sin(y) * 1.0001 + np.cos(y)
    return None
$$;
"""


INFER_LIKE = """
CREATE FUNCTION infer_like LANGUAGE PYTHON AS $$
import numpy as np
from indb import udf

@udf.function(frame="numpy")
def infer_like(ctx, t):
    ids = t["id"]
    return {"id": ids, "digit": (ids % 10).astype(np.int32),
            "confidence": np.full(len(ids), 0.5, np.float32),
            "model_version": np.ones(len(ids), np.int32)}
$$;
"""


def fixed_costs(conn: indb.Connection, function: str, output: str | None, runs: int) -> dict[str, float]:
    """Medians and minima over ``runs`` warm statements of ``function`` over ``ticks``' ids:
    statement ms, ms before the first instance started (``start``) and after the last one ended
    (``end``), the last instance's output write and the head's CPU ms."""
    outputs = f", OUTPUT_TABLE_NAMES => OUTPUT_TABLES('{output}')" if output else ""
    # the whole table, as mnist_infer reads its images (a query would run in DuckDB per shard)
    sql = f"EXECUTE FUNCTION {function}(INPUT_TABLE_NAMES => INPUT_TABLE(ticks){outputs})"
    figures: dict[str, list[float]] = {}
    for run in range(runs + 2):  # the first two warm the instance processes up
        if output:
            conn.sql(f"DROP TABLE IF EXISTS {output}")
        began, cpu = time.time(), time.process_time()
        run_id = conn.sql(sql).fetchone()[0]
        ended, cpu = time.time(), time.process_time() - cpu
        status = conn.sql(f"SHOW FUNCTION STATUS VERBOSE FOR '{run_id}'").arrow()
        started = min(t.timestamp() for t in status["started"].to_pylist())
        last = max(range(status.num_rows), key=lambda i: status["ended"][i].as_py())
        if run < 2:
            continue
        for name, ms in (("statement", ended - began), ("start", started - began),
                         ("end", ended - status["ended"][last].as_py().timestamp()),
                         ("last_output", status["output_s"][last].as_py() or 0.0),
                         ("head_cpu", cpu)):
            figures.setdefault(name, []).append(1000 * ms)
    return {f"{function}_{name}_ms_{how}": round(fn(values), 1) for name, values in figures.items()
            for how, fn in (("median", statistics.median), ("min", min))}


def fixed(args: argparse.Namespace) -> None:
    """The ``--fixed`` figures (module docstring)."""
    rows = args.rows if args.rows != DEFAULT_ROWS else 1_000_000
    workdir = Path(tempfile.mkdtemp(prefix="indb-bench-fixed-"))
    try:
        with indb.connect(workdir / "db", workers=1, threads_per_worker=4) as conn:
            conn.sql("CREATE TABLE ticks (id BIGINT, px DOUBLE, SHARD KEY (id)) WITH (SHARDS = 8)")
            conn.load("ticks", pa.table({"id": np.arange(rows), "px": np.random.default_rng(0).random(rows)}))
            conn.sql(FUNCTIONS + INFER_LIKE)
            figures: dict[str, object] = {"machine": machine(), "rows": rows,
                                          "load_average": round(os.getloadavg()[0], 1)}
            figures.update(fixed_costs(conn, "infer_like", "predictions", args.runs))
            figures.update(fixed_costs(conn, "touch", None, args.runs))
            figures["load_average_after"] = round(os.getloadavg()[0], 1)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    report(figures, args.json)


def last_write(args: argparse.Namespace) -> None:
    """The ``--last-write`` figures: one instance's output write (its shard's share of --rows rows,
    default 1M in 8 shards, of mnist_infer's four columns into a new table) with every row's key
    bucketed, and with the shard known (``sharding.placed``), alternating, in CPU ms."""
    rows = args.rows if args.rows != DEFAULT_ROWS else 1_000_000
    info = TableInfo.checked("predictions", (Column("id", "BIGINT"), Column("digit", "INTEGER"),
                                             Column("confidence", "REAL"),
                                             Column("model_version", "INTEGER")), ("id",), 8, False)
    ids = np.arange(rows)
    ids = ids[np.asarray(BucketTransform(8).pyarrow_transform(LongType())(pa.array(ids))) == 3]
    shard = pa.table({"id": ids, "digit": (ids % 10).astype(np.int32),
                      "confidence": np.full(len(ids), 0.5, np.float32),
                      "model_version": np.ones(len(ids), np.int32)})
    workdir = Path(tempfile.mkdtemp(prefix="indb-bench-write-"))
    try:
        location = f"file://{workdir}/predictions"
        metadata, io = provisional_metadata(info, location), load_file_io({}, location)
        stored = files.to_stored(shard, info, lambda n: np.arange(n))
        cpu: dict[str, list[float]] = {"bucketed": [], "known": []}
        figures: dict[str, object] = {"machine": machine(), "rows": shard.num_rows,
                                      "load_average": round(os.getloadavg()[0], 1)}
        for _ in range(args.runs):
            for how, known in (("bucketed", None), ("known", 3)):
                began = time.process_time()
                written = files.write_data_files(io, metadata, info, stored, known)
                cpu[how].append(1000 * (time.process_time() - began))
                files.discard(io, written, location)
        figures.update({f"last_write_{how}_cpu_ms_{name}": round(fn(values), 2)
                        for how, values in cpu.items()
                        for name, fn in (("median", statistics.median), ("min", min))})
        figures["load_average_after"] = round(os.getloadavg()[0], 1)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    report(figures, args.json)


def execute(conn: indb.Connection, function: str, output: str | None = None, params: str = "") -> None:
    outputs = f", OUTPUT_TABLE_NAMES => OUTPUT_TABLES('{output}')" if output else ""
    conn.sql(f"EXECUTE FUNCTION {function}(INPUT_TABLE_NAMES => INPUT_TABLE(ticks){outputs}{params})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=DEFAULT_ROWS)
    parser.add_argument("--runs", type=int, default=3, help="repetitions (best is kept)")
    parser.add_argument("--json", type=Path, default=None, help="also write the figures here")
    parser.add_argument("--fixed", action="store_true", help="a warm run's fixed costs (issue 18)")
    parser.add_argument("--last-write", action="store_true",
                        help="one instance's output write, bucketed and with its shard known")
    args = parser.parse_args()
    if args.last_write:
        last_write(args)
        return
    if args.fixed:
        fixed(args)
        return

    workdir = Path(tempfile.mkdtemp(prefix="indb-bench-"))
    try:
        path = workdir / "db"
        conn = indb.connect(path, workers=2, threads_per_worker=2)
        conn.sql("CREATE TABLE ticks (sym VARCHAR, ts TIMESTAMP, px DOUBLE, size INTEGER, "
                 "SHARD KEY (sym)) WITH (SHARDS = 8)")
        conn.load("ticks", synthetic_ticks(args.rows))
        conn.sql(FUNCTIONS)

        started = time.perf_counter()
        execute(conn, "touch")  # the first run starts the cluster and the instance processes
        cold_s = time.perf_counter() - started

        def identity() -> None:
            conn.sql("DROP TABLE IF EXISTS ident_out")
            execute(conn, "ident", "ident_out")
        ident_s, _ = best_of(args.runs, identity)
        assert conn.sql("SELECT count(*) FROM ident_out").fetchone()[0] == args.rows
        touch_s, _ = best_of(args.runs, lambda: execute(conn, "touch"))

        table, _ = conn._engine.db.load("ticks")
        paths = [local_path(f.file_path) for f in data_files(table)]
        plain = duckdb.connect()
        read = f"SELECT * FROM read_parquet({paths!r})"
        plain.sql(read).to_arrow_table()
        read_s, rows = best_of(args.runs, lambda: plain.sql(read).to_arrow_table())
        assert rows.num_rows == args.rows
        target = workdir / "copy"

        def copy(options: str = "") -> None:
            shutil.rmtree(target, ignore_errors=True)
            plain.sql(f"COPY ({read}) TO '{target}' (FORMAT parquet, PER_THREAD_OUTPUT{options})")
        copy_s, _ = best_of(args.runs, copy)
        # the same with the codec of indb's tables: like for like with the identity run's files
        copy_codec_s, _ = best_of(args.runs, lambda: copy(f", COMPRESSION {PARQUET_CODEC}"))
        conn.close()

        scaling = {}
        for workers in (1, 2):
            with indb.connect(path, workers=workers, threads_per_worker=1) as scaled:
                execute(scaled, "crunch", params=", PARAMS => KV_PAIRS(rounds = '1')")  # warm
                seconds, _ = best_of(args.runs, lambda: execute(scaled, "crunch"))
                scaling[workers] = args.rows / seconds
    finally:
        shutil.rmtree(workdir, ignore_errors=True)

    report({
        "machine": machine(),
        "rows": args.rows,
        "first_run_seconds (cluster start)": round(cold_s, 3),
        "identity_udf_seconds (read, return, write table)": round(ident_s, 3),
        "touch_udf_seconds (read, return nothing)": round(touch_s, 3),
        "duckdb_read_seconds": round(read_s, 3),
        "duckdb_copy_seconds (read, write parquet)": round(copy_s, 3),
        f"duckdb_copy_{PARQUET_CODEC}_seconds (the same, the tables' codec)": round(copy_codec_s, 3),
        "ratio_identity_over_duckdb_read": round(ident_s / read_s, 2),
        "ratio_touch_over_duckdb_read": round(touch_s / read_s, 2),
        "ratio_identity_over_duckdb_copy": round(ident_s / copy_s, 2),
        f"ratio_identity_over_duckdb_copy_{PARQUET_CODEC}": round(ident_s / copy_codec_s, 2),
        "numpy_udf_rows_per_second_1_worker": round(scaling[1]),
        "numpy_udf_rows_per_second_2_workers": round(scaling[2]),
        "scaling_2_over_1": round(scaling[2] / scaling[1], 2),
    }, args.json)


if __name__ == "__main__":
    main()
