"""EXECUTE FUNCTION overhead and scaling: an identity UDF over an 8-shard table vs plain DuckDB
reading the same rows, and a numpy-heavy UDF's rows/s on 1 and 2 workers.

Run: ``indb bench udf`` or ``python benchmarks/bench_udf.py [--rows N]``.
Targets (issue 12): the identity run (read, return, write a new sharded table) at most 1.5x plain
DuckDB reading the rows, and at most 1.0x DuckDB's own COPY of them to Parquet.
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
from indb.catalog.database import PARQUET_CODEC
from indb.datasets import synthetic_ticks
from indb.storage.files import data_files, local_path

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


def execute(conn: indb.Connection, function: str, output: str | None = None, params: str = "") -> None:
    outputs = f", OUTPUT_TABLE_NAMES => OUTPUT_TABLES('{output}')" if output else ""
    conn.sql(f"EXECUTE FUNCTION {function}(INPUT_TABLE_NAMES => INPUT_TABLE(ticks){outputs}{params})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--runs", type=int, default=3, help="repetitions (best is kept)")
    parser.add_argument("--json", type=Path, default=None, help="also write the figures here")
    args = parser.parse_args()

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
