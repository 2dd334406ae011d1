"""The head side of a run: jobs from a plan, one Dask task a shard, then one commit or nothing.

``FunctionRunner.run`` turns an ``ExecuteFunction`` plan into one job per shard (each naming the
shard's data files), records the run, submits each job to the worker that owns its shard, waits
(reporting progress), and when every instance has completed commits all of their output files,
one Iceberg snapshot per output table. If any instance fails, is killed or times out, the others
are told to stop and every file is deleted: the output tables are exactly as before.
"""

from __future__ import annotations

import shutil
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from distributed import Client, Future, wait
from pyiceberg.io import load_file_io

from indb.catalog.database import Database, iceberg_layout
from indb.catalog.tables import TableInfo
from indb.errors import CatalogError, IndbError, RunError
from indb.planner.functions import ExecuteFunction
from indb.registry.functions import FunctionInfo, FunctionStore
from indb.registry.models import ModelStore
from indb.registry.runs import COMPLETED, ERROR, KILLED, TIMED_OUT, RunLog
from indb.sharding.cluster import Cluster, shared_cluster
from indb.sharding.jobs import APPEND, CREATE, RESULT, InputRead, Job, Outcome, OutputWrite, TableRead
from indb.sharding.supervisor import run_instance
from indb.storage import files

RUNS_DIR = "runs"
Progress = Callable[[str, int, int], None]  # (run id, instances finished, instances)


@dataclass
class RunReport:
    run_id: str
    status: str
    message: str
    rows_in: int = 0
    rows_out: int = 0
    results: list[str] = field(default_factory=list)  # RESULT files, for TABLE(f(...))


@dataclass
class _Prepared:
    run_id: str
    jobs: list[Job]
    outputs: tuple[OutputWrite, ...]
    table_uuids: dict[str, str]       # APPEND outputs: the table they were planned against
    max_per_worker: int | None
    work_root: Path
    lineage: dict[str, object]        # what a model saved by the run records about its making


class FunctionRunner:
    """Runs functions of one database on a (shared, lazily started) Dask cluster."""

    def __init__(self, db: Database, functions: FunctionStore, runs: RunLog, models: ModelStore,
                 cluster_options: dict[str, object]) -> None:
        self.db, self.functions, self.runs, self.models = db, functions, runs, models
        self.cluster_options = cluster_options
        self._background: dict[str, threading.Thread] = {}

    def cluster(self) -> Cluster:
        return shared_cluster(**self.cluster_options)

    # -- running ---------------------------------------------------------------------------

    def run(self, plan: ExecuteFunction, *, result: bool = False,
            progress: Progress | None = None) -> RunReport:
        """Run and wait; raises RunError unless every instance completed and the commit landed."""
        prepared = self.prepare(plan, result=result)
        report = self._carry_out(prepared, progress)
        if report.status != COMPLETED:
            raise RunError(report.message, report.run_id, report.status)
        return report

    def start(self, plan: ExecuteFunction) -> str:
        """Run in the background (``nowait``); the run id is returned at once."""
        prepared = self.prepare(plan)
        thread = threading.Thread(target=self._carry_out, args=(prepared, None),
                                  name=f"indb-run-{prepared.run_id}")
        thread.start()
        self._background[prepared.run_id] = thread
        return prepared.run_id

    def wait(self, run_id: str | None = None) -> None:
        """Wait for a run started here with ``nowait`` (None: for all of them)."""
        for key in [run_id] if run_id else list(self._background):
            thread = self._background.pop(key, None)
            if thread is not None:
                thread.join()

    def forget(self, run_id: str) -> None:
        """Delete what a run left in its work directory (the RESULT files of TABLE(f(...)))."""
        shutil.rmtree(self.db.path / RUNS_DIR / run_id, ignore_errors=True)

    def kill(self, run_id: str) -> bool:
        return self.runs.request_kill(run_id, "killed by KILL FUNCTION")

    # -- preparing -------------------------------------------------------------------------

    def prepare(self, plan: ExecuteFunction, *, result: bool = False) -> _Prepared:
        """Resolve the plan against the catalog: which shards, which files each one reads."""
        function = self.functions.get(plan.function)
        options = {**function.options, **dict(plan.options)}
        tables = {name: self.db.load(name) for spec in plan.inputs for name in spec.tables}
        sharded = {info.shards for _, info in tables.values() if not info.replicated}
        if len(sharded) > 1:
            raise CatalogError(f"the inputs of {function.name} have different shard counts "
                               f"({sorted(sharded)}); a distributed function reads co-located "
                               "shards, so its sharded inputs need the same SHARDS")
        shard_count = sharded.pop() if sharded else 1
        instances = range(shard_count) if function.mode == "distributed" else range(1)
        by_shard = {name: _files_by_shard(table, info) for name, (table, info) in tables.items()}

        run_id = uuid.uuid4().hex[:12]
        work_root = self.db.path / RUNS_DIR / run_id
        outputs = (OutputWrite("result", RESULT),) if result else tuple(
            self._output(name, function, tables, shard_count) for name in plan.outputs)
        timeout = options.get("timeout")
        deadline = time.time() + float(timeout) if timeout else None
        jobs = []
        for shard in instances:
            inputs = []
            for spec in plan.inputs:
                reads = tuple(TableRead(name, tables[name][1], tuple(
                    by_shard[name](shard if function.mode == "distributed" else None)))
                    for name in spec.tables)
                inputs.append(InputRead(spec.sql, reads))
            jobs.append(Job(run_id=run_id, function=function,
                            code_dir=str(self.functions.code_dir(function)), shard=shard,
                            shards=len(instances), inputs=tuple(inputs), outputs=outputs,
                            params=dict(plan.params), work_dir=str(work_root / f"shard-{shard}"),
                            db_path=str(self.db.path), io_properties=dict(self.db.catalog.properties),
                            deadline=deadline))
        uuids = {o.name: str(o.metadata.table_uuid) for o in outputs if o.kind == APPEND}
        concurrency = options.get("max_concurrency_per_node")
        self.runs.start(run_id, function.name, function.mode, instances, tag=options.get("run_tag"),
                        outputs=list(plan.outputs), statement=plan.statement)
        lineage = {"run_id": run_id, "function": function.name, "code_hash": function.code_hash,
                   "inputs": [spec.sql or spec.tables[0] for spec in plan.inputs],
                   "snapshots": {name: (table.current_snapshot().snapshot_id
                                        if table.current_snapshot() else None)
                                 for name, (table, _) in tables.items()},
                   "params": dict(plan.params)}
        return _Prepared(run_id, jobs, outputs, uuids,
                         int(concurrency) if concurrency else None, work_root, lineage)

    def _output(self, name: str, function: FunctionInfo, tables: dict, shard_count: int) -> OutputWrite:
        if self.db.exists(name):
            table, info = self.db.load(name)
            return OutputWrite(name, APPEND, info=info, metadata=table.metadata)
        key = next((info.shard_key for _, info in tables.values() if not info.replicated), ())
        returns = TableInfo.checked(name, function.returns, (), shard_count, False) \
            if function.returns else None
        return OutputWrite(name, CREATE, info=returns, location=self.db.table_location(name),
                           shards=shard_count if tables else self.db.default_shards, shard_key=key)

    # -- carrying out ----------------------------------------------------------------------

    def _carry_out(self, prepared: _Prepared, progress: Progress | None) -> RunReport:
        run_id = prepared.run_id
        report = RunReport(run_id, ERROR, "the run did not finish")
        try:
            outcomes = self._execute(prepared, progress)
            report = self._conclude(prepared, outcomes)
        except Exception as error:  # the run must end recorded, whatever happened here
            report = RunReport(run_id, ERROR, f"{type(error).__name__}: {error}")
            self.runs.request_kill(run_id, report.message)
            self.runs.finish(run_id, ERROR, report.message)
        except BaseException:  # Ctrl-C in the head: stop the instances, then let it propagate
            self.runs.request_kill(run_id, "the process that started the run was interrupted")
            self.runs.finish(run_id, KILLED, "the process that started the run was interrupted")
            raise
        finally:
            handed_over = report.status == COMPLETED and report.results
            if not handed_over:  # RESULT files wait for the query that reads them (see forget)
                shutil.rmtree(prepared.work_root, ignore_errors=True)
        return report

    def _execute(self, prepared: _Prepared, progress: Progress | None) -> list[Outcome]:
        """Submit every job to its shard's worker (at most ``max_per_worker`` at a time on one
        worker) and collect the outcomes; the first failure tells the others to stop."""
        cluster = self.cluster()
        workers = cluster.workers()
        if not workers:
            raise IndbError("the Dask cluster has no workers; start some, or connect without "
                            "scheduler= to use a local cluster")
        owner = {job.shard: workers[job.shard % len(workers)][0] for job in prepared.jobs}
        queues: dict[str, list[Job]] = {}
        for job in prepared.jobs:
            queues.setdefault(owner[job.shard], []).append(job)
        addresses = dict(workers)
        limit = prepared.max_per_worker or len(prepared.jobs) or 1
        pending: dict[Future, Job] = {}

        def submit(worker: str) -> None:
            job = queues[worker].pop(0)
            # the job's turn among its worker's shards picks its instance process there
            turn = job.shard // len(workers)
            future = cluster.client.submit(run_instance, job, worker, turn, key=f"indb-{job.run_id}-{job.shard}",
                                           workers=[addresses[worker]], allow_other_workers=False,
                                           pure=False)
            pending[future] = job

        for worker in queues:
            for _ in range(min(limit, len(queues[worker]))):
                submit(worker)
        outcomes: list[Outcome] = []
        total = len(prepared.jobs)
        while pending:
            try:
                done, _ = wait(list(pending), timeout=0.5, return_when="FIRST_COMPLETED")
            except TimeoutError:  # nothing finished in this interval: report progress and go on
                done = set()
            finished = [(future, pending.pop(future)) for future in done]
            for (future, job), outcome in zip(finished, _outcomes_of(cluster.client, finished)):
                if outcome.status != COMPLETED:
                    self.runs.update_instance(job.run_id, job.shard, status=outcome.status,
                                              message=outcome.message, ended=time.time())
                    self.runs.request_kill(job.run_id, f"stopped because shard {job.shard} "
                                           f"{outcome.status}: {outcome.message}"
                                           if outcome.status != KILLED else outcome.message)
                outcomes.append(outcome)
                if queues[owner[job.shard]]:
                    submit(owner[job.shard])
            if progress:
                progress(prepared.run_id, len(outcomes), total)
        return sorted(outcomes, key=lambda o: o.shard)

    def _conclude(self, prepared: _Prepared, outcomes: list[Outcome]) -> RunReport:
        """Commit everything if every instance completed; else discard everything."""
        run_id = prepared.run_id
        rows_in = sum(o.rows_in for o in outcomes)
        rows_out = sum(o.rows_out for o in outcomes)
        failed = [o for o in outcomes if o.status != COMPLETED]
        if failed:
            self._discard(outcomes)
            first = next((o for o in failed if o.status in (ERROR, TIMED_OUT)), failed[0])
            message = first.message if first.status == KILLED else f"shard {first.shard}: {first.message}"
            self.runs.finish(run_id, first.status, message, rows_in, 0)
            return RunReport(run_id, first.status, message, rows_in, 0)
        registered = []
        try:
            for staged in (m for o in outcomes for m in o.models):
                registered.append(self.models.register(staged, prepared.lineage))
            self._commit(prepared, outcomes)
        except IndbError as error:
            self._discard(outcomes)
            for info in registered:  # nothing half-saved: versions of a failed run go too
                self.models.drop(info.name, info.version)
            self.runs.finish(run_id, ERROR, str(error), rows_in, 0)
            return RunReport(run_id, ERROR, str(error), rows_in, 0)
        message = f"{len(outcomes)} instances completed: {rows_in} rows in, {rows_out} rows out" + (
            "; saved " + ", ".join(f"{m.name} v{m.version}" for m in registered) if registered else "")
        self.runs.finish(run_id, COMPLETED, message, rows_in, rows_out)
        return RunReport(run_id, COMPLETED, message, rows_in, rows_out,
                         [o.results["result"] for o in outcomes if "result" in o.results])

    def _commit(self, prepared: _Prepared, outcomes: list[Outcome]) -> None:
        for spec in prepared.outputs:
            added = [f for o in outcomes for f in o.files.get(spec.name, [])]
            if spec.kind == APPEND:
                table, _ = self.db.load(spec.name)
                if str(table.metadata.table_uuid) != prepared.table_uuids[spec.name]:
                    raise CatalogError(f"table {spec.name} was dropped and created again during "
                                       "the run; run the function again")
                if added:
                    files.commit(self.db, spec.name, add=added)
            elif spec.kind == CREATE:
                infos = {o.created[spec.name] for o in outcomes if spec.name in o.created}
                if len(infos) > 1:
                    raise CatalogError(f"the instances returned different columns for the new table "
                                       f"{spec.name}: " + "; ".join(
                                           ", ".join(f"{c.name} {c.sql_type}" for c in i.columns)
                                           for i in infos) + ". Return the same columns from every shard "
                                       "or declare RETURNS TABLE (...)")
                if not infos:
                    continue  # nothing returned for it: no table is created
                info = infos.pop()
                table = self.db.create_table(info)
                expected_schema, expected_spec = iceberg_layout(info)
                if table.schema() != expected_schema or table.spec() != expected_spec:
                    self.db.drop_table(spec.name)
                    raise CatalogError(f"table {spec.name} was created with a different layout "
                                       "than its files were written for")
                try:
                    files.commit(self.db, spec.name, add=added)
                except BaseException:
                    self.db.drop_table(spec.name)
                    raise

    def _discard(self, outcomes: list[Outcome]) -> None:
        io = load_file_io(self.db.catalog.properties)
        for outcome in outcomes:
            for written in outcome.files.values():
                files.discard(io, written)
            for staged in outcome.models:
                if Path(staged.staging).exists():
                    self.models.discard(staged)


def _outcomes_of(client: Client, finished: list[tuple[Future, Job]]) -> list[Outcome]:
    """Finished tasks' Outcomes, fetched in one round trip (one each was a round trip each); a
    task that raised (its worker died) becomes an ERROR one."""
    try:
        return client.gather([future for future, _ in finished])
    except Exception:  # some task raised: look at each
        return [_outcome_of(future, job) for future, job in finished]


def _outcome_of(future: Future, job: Job) -> Outcome:
    """A finished task's Outcome; a task that raised (its worker died) becomes an ERROR one."""
    try:
        return future.result()
    except Exception as error:
        return Outcome(job.shard, ERROR, f"the worker running shard {job.shard} failed "
                                         f"({type(error).__name__}: {error}); nothing it wrote was kept")


def _files_by_shard(table, info: TableInfo) -> Callable[[int | None], list[str]]:
    """A lookup from a shard number (None: every shard) to the table's data file paths."""
    paths: dict[int, list[str]] = {}
    for data_file in files.data_files(table):
        paths.setdefault(files.shard_of(data_file), []).append(files.local_path(data_file.file_path))

    def lookup(shard: int | None) -> list[str]:
        if shard is None or info.replicated:
            return [p for group in paths.values() for p in group]
        return paths.get(shard, [])
    return lookup
