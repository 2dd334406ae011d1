"""The engine: parses statements, plans them, and carries the plans out.

Each plan type has a ``run_<PlanType>`` method here, found by name; writes go through
``write_rows``, which writes data files and commits them in one Iceberg snapshot.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

import numpy as np
import pyarrow as pa
from sqlglot import exp

from indb import planner
from indb.catalog.database import Database
from indb.catalog.tables import TableInfo
from indb.catalog.types import Column, inferred_sql_type
from indb.errors import CatalogError, SqlError
from indb.parser import parse, render
from indb.query.session import QuerySession
from indb.function_statements import FunctionStatements
from indb.model_statements import ModelStatements
from indb.registry.flavors import Predictor
from indb.registry.models import ModelInfo, ModelStore
from indb.registry.functions import FunctionInfo, FunctionStore
from indb.registry.runs import RunLog
from indb.result import Result
from indb.sharding.cluster import default_workers
from indb.sharding.gpus import visible_gpus
from indb.sharding.executor import FunctionRunner, Progress
from indb.sharding.placement import consecutive_rowids
from indb.storage import files

LOAD_CHUNK_ROWS = 4_000_000  # rows written per round of shard files while streaming a load


# instance processes sharing one GPU, taking turns at it: while one computes, the others read or
# write their files (measured on an H100, 1M rows warm, docs/benchmarks.md: 1 -> 0.89-1.02M
# rows/s, 2 -> 1.23-1.28M, 4 -> 1.31-1.36M, 8 -> 1.34M; eight are no faster than four, and
# would leave each process half the share of the GPU's memory)
GPU_SLOTS = 4


class Engine(FunctionStatements, ModelStatements):
    """One open database: its catalog, its DuckDB session, the writers and the function runner.

    ``workers``/``threads_per_worker`` size the local Dask cluster started on the first function
    run (``cluster="threads"`` runs its workers as threads of this process, for fast tests);
    ``scheduler`` uses an existing Dask scheduler instead.
    """

    def __init__(self, path: str | Path, *, default_shards: int | None = None,
                 workers: int | None = None, threads_per_worker: int | None = None,
                 scheduler: str | None = None, cluster: str = "processes",
                 gpus: int | None = None) -> None:
        if cluster not in ("processes", "threads"):
            raise SqlError(f"cluster is 'processes' or 'threads', not {cluster!r}")
        self.db = Database(path, default_shards=default_shards, workers=workers)
        self.session = QuerySession(self.db)
        self.functions = FunctionStore(self.db)
        self.runs = RunLog(self.db.engine)
        self.models = ModelStore(self.db)
        self._predictors: dict[tuple[str, float, str | None], Predictor] = {}
        gpus = (visible_gpus() if gpus is None else gpus) if cluster == "processes" else 0
        options = {"scheduler": scheduler} if scheduler else {
            # with GPUs, one worker per GPU unless told otherwise
            "workers": workers or self.db.workers or gpus or default_workers(),
            "threads_per_worker": threads_per_worker or (GPU_SLOTS if gpus else 2),
            "processes": cluster == "processes", "gpus": gpus}
        self.predict_device = "cuda" if gpus else "cpu"  # where PREDICT runs its torch models
        self.runner = FunctionRunner(self.db, self.functions, self.runs, self.models, options)
        self.progress: Progress | None = None  # called while a function runs (the CLI's bar)
        self._facts = _CatalogFacts(self.db, self.functions, self.models)

    # -- statements -------------------------------------------------------------------------

    def execute(self, sql: str, params: object = None) -> Result:
        """Run every statement in ``sql``; returns the last one's result."""
        trees = parse(sql)
        if params is not None and len(trees) != 1:
            raise SqlError("parameters go with exactly one statement")
        result = Result(message="no statement")
        for tree in trees:
            self.session.refresh()
            result = self.run(planner.plan(tree, self._facts, sql), params)
        return result

    def run(self, plan: planner.Plan, params: object = None) -> Result:
        return getattr(self, f"run_{type(plan).__name__}")(plan, params)

    def run_Query(self, plan: planner.Query, params: object) -> Result:
        return Result(self.session.query(plan.sql, params))

    def run_CreateTable(self, plan: planner.CreateTable, params: object) -> Result:
        if plan.if_not_exists and self.db.exists(plan.name):
            return Result(message=f"table {plan.name} already exists")
        if plan.query is None:
            self.db.create_table(self._table_info(plan, plan.columns))
            return Result(message=f"created table {plan.name}")
        rows, sql_types = self.session.typed_query(plan.query, params)
        columns = tuple(Column(name, sql_type)
                        for name, sql_type in zip(rows.column_names, sql_types, strict=True))
        self.db.create_table(self._table_info(plan, columns))
        try:
            count = self.write_rows(plan.name, [rows])
        except BaseException:
            self.db.drop_table(plan.name)  # a failed CREATE TABLE AS leaves no table behind
            raise
        return Result(pa.table({"rows_inserted": [count]}), f"created table {plan.name}", count)

    @staticmethod
    def _table_info(plan: planner.CreateTable, columns: tuple[Column, ...]) -> TableInfo:
        return TableInfo.checked(plan.name, columns, plan.shard_key, plan.shards, plan.replicated)

    def run_Insert(self, plan: planner.Insert, params: object) -> Result:
        _, info = self.db.load(plan.table)
        stage = exp.to_table(planner.STAGE_TABLE)
        self.session.query(render(_stage_definition(stage, info)))
        try:
            self.session.query(plan.staged_sql, params)  # DuckDB checks column counts and types
            rows = self.session.query(render(exp.select("*").from_(stage)))
        except SqlError as error:  # name the user's table, not the staging table, in DuckDB's words
            raise SqlError(error.message.replace(planner.STAGE_TABLE, plan.table)) from None
        finally:
            self.session.query(render(exp.Drop(tables=[stage], kind="TABLE", exists=True)))
        count = self.write_rows(plan.table, [rows])
        return Result(pa.table({"rows_inserted": [count]}), f"inserted {count} rows", count)

    def run_Delete(self, plan: planner.Delete, params: object) -> Result:
        table, info = self.db.load(plan.table)
        current = files.data_files(table)
        if plan.where is None:
            count = sum(f.record_count for f in current)
            if current:
                files.commit(self.db, plan.table, add=[], remove=current)
            return Result(pa.table({"rows_deleted": [count]}), f"deleted {count} rows", count)
        by_path = {files.local_path(f.file_path): f for f in current}
        scan = self.session.scans.scan(info, list(by_path), extra=("filename", "file_row_number"))
        matches = (exp.select("filename", "list(file_row_number)").from_(scan.subquery("t"))
                   .where(plan.where.copy()).group_by("filename"))
        hits = self.session.query(render(matches), params).to_pydict() if by_path else {}
        removed, added, count = [], [], 0
        try:
            for path, positions in zip(*hits.values(), strict=True) if hits else []:
                stored = files.read_stored([path], info)
                keep = np.ones(stored.num_rows, dtype=bool)
                keep[np.asarray(positions, dtype=np.int64)] = False
                count += len(positions)
                removed.append(by_path[path])
                if keep.any():
                    added += files.write_data_files(table.io, table.metadata, info,
                                                    stored.filter(pa.array(keep)))
            if removed:
                files.commit(self.db, plan.table, add=added, remove=removed)
        except BaseException:
            files.discard(table.io, added)
            raise
        return Result(pa.table({"rows_deleted": [count]}), f"deleted {count} rows", count)

    def run_DropTable(self, plan: planner.DropTable, params: object) -> Result:
        if plan.if_exists and not self.db.exists(plan.name):
            return Result(message=f"table {plan.name} does not exist")
        self.db.drop_table(plan.name)
        return Result(message=f"dropped table {plan.name}")

    def run_ShowTables(self, plan: planner.ShowTables, params: object) -> Result:
        rows = [self.describe_table(name) for name in sorted(self.db.metadata_locations())]
        keys = ["name", "kind", "shard_key", "shards", "rows", "files", "snapshot_id"]
        return Result(pa.table({k: [r[k] for r in rows] for k in keys},
                               schema=pa.schema([("name", pa.string()), ("kind", pa.string()),
                                                 ("shard_key", pa.string()), ("shards", pa.int64()),
                                                 ("rows", pa.int64()), ("files", pa.int64()),
                                                 ("snapshot_id", pa.int64())])))

    def run_DescribeTable(self, plan: planner.DescribeTable, params: object) -> Result:
        table, info = self.db.load(plan.name)
        facts = self.describe_table(plan.name)
        key = set(info.shard_key)
        rows = [(c.name, c.sql_type, ", ".join(filter(None, ["shard key" if c.name in key else "",
                                                            "" if c.nullable else "not null"])))
                for c in info.columns]
        rows += [(f"# {k.replace('_', ' ')}", "" if facts[k] is None else str(facts[k]), "")
                 for k in ("kind", "shard_key", "shards", "rows", "files", "snapshot_id")]
        return Result(pa.table({"name": [r[0] for r in rows], "type": [r[1] for r in rows],
                                "detail": [r[2] for r in rows]}))

    def describe_table(self, name: str) -> dict[str, object]:
        """A table's facts: kind, shard key, shard count, rows, files and snapshot id."""
        table, info = self.db.load(name)
        snapshot = table.current_snapshot()
        return {
            "name": name,
            "kind": "replicated" if info.replicated else "sharded",
            "shard_key": ", ".join(info.shard_key) if info.shard_key else
            (None if info.replicated else "(none: spread by row id)"),
            "shards": info.shards,
            "rows": int(snapshot.summary["total-records"]) if snapshot else 0,
            "files": int(snapshot.summary["total-data-files"]) if snapshot else 0,
            "snapshot_id": snapshot.snapshot_id if snapshot else None,
        }

    # -- bulk paths -------------------------------------------------------------------------

    def write_rows(self, name: str, chunks: Iterable[pa.Table],
                   progress: Callable[[int], None] | None = None) -> int:
        """Write row chunks (SQL or castable types) to a table in ONE snapshot; returns the row count."""
        table, info = self.db.load(name)
        rowids = consecutive_rowids(lambda n: self.db.allocate_rowids(name, n))
        written, count = [], 0
        try:
            for chunk in chunks:
                stored = files.to_stored(chunk, info, rowids)
                written += files.write_data_files(table.io, table.metadata, info, stored)
                count += chunk.num_rows
                if progress:
                    progress(count)
            if written:
                files.commit(self.db, name, add=written)
        except BaseException:
            files.discard(table.io, written)
            raise
        return count

    def load(self, name: str, data: object, *, shard_key: Iterable[str] = (),
             shards: int | None = None, replicated: bool = False,
             progress: Callable[[int], None] | None = None) -> int:
        """Bulk-load Arrow, pandas, Parquet or CSV into a table, creating it if it does not exist.

        ``progress`` is called with the running row count after each chunk is written.
        """
        name = name.lower()
        reader = self._reader(data)
        created = False
        if not self.db.exists(name):
            columns = tuple(Column(f.name, inferred_sql_type(f.type)) for f in reader.schema)
            self.db.create_table(TableInfo.checked(name, columns, tuple(shard_key), 1 if replicated
                                                   else (shards or self.db.default_shards), replicated))
            created = True
        try:
            return self.write_rows(name, _chunks(reader, LOAD_CHUNK_ROWS), progress)
        except BaseException:
            if created:
                self.db.drop_table(name)
            raise

    def _reader(self, data: object) -> pa.RecordBatchReader:
        if isinstance(data, pa.RecordBatchReader):
            return data
        if isinstance(data, pa.Table):
            return data.to_reader()
        if isinstance(data, (str, Path)):
            path = Path(data)
            if not path.exists():
                raise CatalogError(f"no such file: {path}")
            reader = {".parquet": self.session.duck.read_parquet,
                      ".csv": self.session.duck.read_csv}.get(path.suffix.lower())
            if reader is None:
                raise SqlError(f"cannot load {path}: indb loads .parquet and .csv files")
            return reader(str(path)).to_arrow_reader(LOAD_CHUNK_ROWS)
        if type(data).__module__.startswith("pandas"):
            return pa.Table.from_pandas(data, preserve_index=False).to_reader()
        raise SqlError(f"cannot load a {type(data).__name__}: pass a pyarrow Table or "
                       "RecordBatchReader, a pandas DataFrame, or a .parquet/.csv path")

    def shard(self, name: str, shard: int) -> pa.Table:
        """One shard's rows of a table, in SQL types."""
        table, info = self.db.load(name.lower())
        return files.read_shard(table, info, shard)

    def close(self) -> None:
        """Close the database, after runs started with ``nowait`` have finished."""
        self.runner.wait()
        self.session.close()
        self.db.close()


class _CatalogFacts:
    """What the planner may ask the catalog: table names, the default shard count, functions."""

    def __init__(self, db: Database, functions: FunctionStore, models: ModelStore) -> None:
        self.db, self.functions, self.models = db, functions, models
        self.default_shards = db.default_shards

    def exists(self, name: str) -> bool:
        return self.db.exists(name)

    def function(self, name: str) -> FunctionInfo | None:
        return self.functions.find(name)

    def model(self, name: str, version: int | str | None) -> ModelInfo:
        return self.models.get(name, version)


def _stage_definition(stage: exp.Table, info: TableInfo) -> exp.Create:
    """CREATE TEMPORARY TABLE for an INSERT's staging table: the target's columns and NOT NULLs."""
    not_null = [exp.ColumnConstraint(kind=exp.NotNullColumnConstraint())]
    columns = [exp.ColumnDef(this=exp.to_identifier(c.name, quoted=True),
                             kind=exp.DataType.build(c.sql_type, dialect="duckdb"),
                             constraints=[] if c.nullable else not_null)
               for c in info.columns]
    return exp.Create(this=exp.Schema(this=stage, expressions=columns), kind="TABLE",
                      properties=exp.Properties(expressions=[exp.TemporaryProperty()]))


def _chunks(reader: pa.RecordBatchReader, rows: int) -> Iterator[pa.Table]:
    """Batches of a reader regrouped into tables of about ``rows`` rows."""
    pending, size = [], 0
    for batch in reader:
        pending.append(batch)
        size += batch.num_rows
        if size >= rows:
            yield pa.Table.from_batches(pending)
            pending, size = [], 0
    if pending:
        yield pa.Table.from_batches(pending)
