"""The head side of a run: jobs from a plan, one Dask task a shard, then one commit or nothing.

``FunctionRunner.run`` reads the snapshot of every table the plan names, has ``jobs.plan_run``
make one job per shard, records the run, then carries out the scheduling policy
(``scheduling.Schedule``) on the cluster: each job goes to the worker that owns its shard, and
progress is reported while they run. When every instance has completed it commits all of their
output files, one Iceberg snapshot per output table. If any instance fails, is killed or times
out, the others are told to stop and every file is deleted: the output tables are as before.

An instance whose worker died is not a failure of the function: Dask errs its future with
``KilledWorker`` (the scheduler allows no task a second worker, ``cluster.DASK_CONFIG``), or
``NoValidWorkerError`` for one that waited too long for its pinned worker; the schedule then
sends it to a survivor, under a key of its own, until its retries are used up. Whatever the lost
attempt wrote was never reported to the head, so it is never committed.
"""

from __future__ import annotations

import concurrent.futures
import dataclasses
import queue
import shutil
import threading
import time
import uuid
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from distributed import Client, Future
from distributed.scheduler import KilledWorker, NoValidWorkerError
from pyiceberg.io import load_file_io

from indb.catalog.database import Database
from indb.catalog import users
from indb.catalog.filesystems import is_local
from indb.catalog.users import OWNER
from indb.errors import CatalogError, IndbError, RunError
from indb.planner.functions import ExecuteFunction
from indb.query.keys import check_constraints, check_unique, check_uniques, rechecked
from indb.query.references import check_references
from indb.registry.environments import EnvironmentStore
from indb.registry.functions import FunctionStore
from indb.registry.models import ModelInfo, ModelStore
from indb.registry.runs import InstanceProgress, RunLog, RunStatus
from indb.runtime import venvs
from indb.sharding import commit, workdirs
from indb.sharding import distributed as ddp
from indb.sharding.arrivals import Finished, arrived
from indb.sharding.cluster import Cluster, named, shared_cluster, started_cluster
from indb.sharding.jobs import (RESIDENT_FRAMES, RUNS_DIR, AppendOutput, CreateOutput, Job, Outcome,
                                ResultOutput, RunPlan, TableFacts, plan_run)
from indb.sharding.scheduling import Instruction, Schedule, Submit
from indb.sharding.supervisor import run_instance
from indb.storage import files

PROGRESS_INTERVAL = 0.5  # seconds between the head's reads of its run's records for progress
# seconds between the head's looks at its run's futures: a task that ends without an event
# carrying its outcome (it raised, its worker died, a worker of an older indb) is seen within it
POLL_INTERVAL = 0.05
LOST = (KilledWorker, NoValidWorkerError)  # a task's errors that say its worker is gone
# threads that ask the scheduler for its workers while a run is prepared (``FunctionRunner.run``)
_asking = concurrent.futures.ThreadPoolExecutor(4, thread_name_prefix="indb-workers-asked")


@dataclass(frozen=True)
class RunProgress:
    """What a run's progress callback hears: once while the cluster starts (``starting``), then
    about twice a second while the instances run, each as its records stand, and at the end."""

    run_id: str
    finished: int  # instances that ended, however they ended
    instances: int
    shards: tuple[InstanceProgress, ...] = ()
    starting: bool = False


Progress = Callable[[RunProgress], None]


@dataclass
class RunReport:
    run_id: str
    status: RunStatus
    message: str
    rows_in: int = 0
    rows_out: int = 0
    results: list[str] = field(default_factory=list)  # RESULT files, for TABLE(f(...))
    totals: dict[str, object] = field(default_factory=dict)  # as recorded (RunLog.finish)


class FunctionRunner:
    """Runs functions of one database on a (shared, lazily started) Dask cluster."""

    def __init__(self, db: Database, functions: FunctionStore, runs: RunLog, models: ModelStore,
                 cluster_options: dict[str, object]) -> None:
        self.db, self.functions, self.runs, self.models = db, functions, runs, models
        self.cluster_options = cluster_options
        self.environments = EnvironmentStore(db)
        self._background: dict[str, threading.Thread] = {}

    def cluster(self) -> Cluster:
        return shared_cluster(**self.cluster_options)

    # -- running ---------------------------------------------------------------------------

    def run(self, plan: ExecuteFunction, *, result: bool = False,
            progress: Progress | None = None, user: str | None = None) -> RunReport:
        """Run and wait; raises RunError unless every instance completed and the commit landed.
        ``user`` is who started it, for the run's record."""
        # a cluster that is up is asked for its workers while the run is prepared and recorded
        # (a round trip of 1.3-2 ms on the H200 host: docs/benchmarks.md, "One clock"); one that
        # is not is started where the run's progress can say so (_execute)
        cluster = started_cluster(**self.cluster_options)
        asked = _asking.submit(cluster.worker_info) if cluster is not None else None
        run = self.prepare(plan, result=result, user=user)
        report = self._carry_out(run, progress, asked)
        if report.status != RunStatus.COMPLETED:
            raise RunError(report.message, report.run_id, report.status)
        return report

    def start(self, plan: ExecuteFunction, user: str | None = None) -> str:
        """Run in the background (``nowait``); the run id is returned at once."""
        run = self.prepare(plan, user=user)
        thread = threading.Thread(target=self._carry_out, args=(run, None),
                                  name=f"indb-run-{run.run_id}")
        thread.start()
        self._background[run.run_id] = thread
        return run.run_id

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

    def prepare(self, plan: ExecuteFunction, *, result: bool = False,
                user: str | None = None) -> RunPlan:
        """The run's jobs over the tables as they are now, and the run recorded as started."""
        names = [name for spec in plan.inputs for name in spec.tables]
        # a missing virtual environment (a copied database) is rebuilt from the record first
        environment = venvs.ensure(self.environments, plan.environment) if plan.environment else None
        run = plan_run(plan, run_id=uuid.uuid4().hex[:12], now=time.time(), db_path=self.db.path,
                       db_id=self.db.id, db_location=self.db.location,
                       code_dir=str(self.functions.code_dir(plan.function)),
                       io_properties=self.db.io_properties,
                       inputs={name: self._facts(name) for name in names},
                       existing_outputs={name: self._facts(name) for name in plan.outputs
                                         if self.db.exists(name)},
                       location=self.db.table_location, default_shards=self.db.default_shards,
                       result=result, python=str(venvs.interpreter(
                           self.environments.directory(environment))) if environment else "",
                       environment=environment, models_state=self.models.state(),
                       user=user or OWNER)
        function = plan.function
        self.runs.start(run.run_id, function.name, function.mode, run.shards,
                        tag=plan.options.run_tag, outputs=list(plan.outputs),
                        statement=plan.statement, environment=environment, user=user)
        return run

    def _facts(self, name: str) -> TableFacts:
        table, info = self.db.load(name)
        by_shard: dict[int, list[str]] = {}
        for data_file in files.data_files(table):
            by_shard.setdefault(files.shard_of(data_file), []).append(files.local_path(data_file.file_path))
        snapshot = table.current_snapshot()
        return TableFacts(info, table.metadata, {k: tuple(v) for k, v in by_shard.items()},
                          snapshot.snapshot_id if snapshot else None)

    # -- carrying out ----------------------------------------------------------------------

    def _carry_out(self, run: RunPlan, progress: Progress | None,
                   asked: concurrent.futures.Future[dict[str, dict[str, Any]]] | None = None
                   ) -> RunReport:
        """Run it and commit; ``asked``: ``Cluster.worker_info``'s answer, if it was asked for
        already."""
        report = RunReport(run.run_id, RunStatus.ERROR, "the run did not finish")
        try:
            report = self._conclude(run, self._execute(run, progress, asked))
        except Exception as error:  # the run must end recorded, whatever happened here
            report = RunReport(run.run_id, RunStatus.ERROR, f"{type(error).__name__}: {error}")
            self.runs.request_kill(run.run_id, report.message)
            self.runs.finish(run.run_id, RunStatus.ERROR, report.message)
        except BaseException:  # Ctrl-C in the head: stop the instances, then let it propagate
            message = "the process that started the run was interrupted"
            self.runs.request_kill(run.run_id, message)
            self.runs.finish(run.run_id, RunStatus.KILLED, message)
            raise
        finally:
            handed_over = report.status == RunStatus.COMPLETED and report.results
            if not handed_over:  # RESULT files wait for the query that reads them (see forget)
                workdirs.remove_later(run.work_root, self.db.path)  # after the answer
        return report

    def _execute(self, run: RunPlan, progress: Progress | None,
                 asked: concurrent.futures.Future[dict[str, dict[str, Any]]] | None
                 ) -> list[Outcome]:
        """Carry out the scheduling policy on the cluster and collect every outcome."""
        if progress:
            progress(RunProgress(run.run_id, 0, len(run.jobs), starting=True))
        cluster = self.cluster()
        # one round trip to the scheduler for all it tells
        info = asked.result() if asked is not None else cluster.worker_info()
        workers = named(info)
        addresses = dict(workers)
        names = [name for name, _ in workers]
        # GPU frames: one instance a slot at a time, the freed slot's next shard sent when it
        # comes free (its host has read it ahead); elsewhere the workers queue every shard
        slots = _slots(info, addresses) if _reads_ahead(run) else {}
        _store = None  # a DDP run's rendezvous, kept open (by this reference) while it runs
        if run.distributed:
            run, _store = ddp.prepared(run, workers, _slots(info, addresses),
                                       bool(self.cluster_options.get("gpus")))
        schedule = Schedule(run.shards, names, run.max_per_worker, slots, run.max_retries,
                            _kinds(info, addresses))
        jobs = {job.shard: job for job in run.jobs}
        pending: dict[str, tuple[Future, Job]] = {}  # by task key
        submitted: list[str] = []  # task keys, forgotten by the arrivals when the run ends
        inbox: queue.SimpleQueue[Finished] = queue.SimpleQueue()
        outcomes: dict[int, Outcome] = {}

        def carry_out(instructions: list[Instruction]) -> None:
            for instruction in instructions:
                if isinstance(instruction, Submit):
                    job = jobs[instruction.shard]
                    follower = schedule.next_in_slot(instruction.shard, slots[instruction.worker]) \
                        if instruction.worker in slots else None
                    if follower is not None:  # its host reads the next shard while this one runs
                        job = dataclasses.replace(job, read_ahead=jobs[follower].inputs)
                    rank = names.index(instruction.worker) + 1 if job.function.mode == "distributed" else 0
                    attempt = f"-retry{instruction.attempt}" if instruction.attempt else ""
                    key = f"indb-{job.run_id}-{job.shard}{attempt}"
                    cluster.arrivals.expect(key, inbox)
                    future = cluster.client.submit(
                        run_instance, job, instruction.worker, instruction.turn, rank, key=key,
                        workers=[addresses[instruction.worker]], allow_other_workers=False, pure=False)
                    pending[key] = future, job
                    submitted.append(key)
                else:  # Stop: the first instance that did not complete stops the others
                    failed = outcomes[instruction.shard]
                    if instruction.reason:  # a lost instance that was not retried: say why
                        failed.message += f"; not retried: {instruction.reason}"
                        self.runs.update_instance(run.run_id, failed.shard, message=failed.message)
                    reason = failed.message if failed.status == RunStatus.KILLED else (
                        f"stopped because shard {failed.shard} {failed.status}: {failed.message}")
                    self.runs.request_kill(run.run_id, reason)

        carry_out(schedule.start())
        reported = 0.0
        try:
            while pending:
                finished = _ended(cluster.client, inbox, pending)
                for _, outcome, _ in finished:  # one that ended without its supervisor (its
                    if not outcome.record and outcome.status != RunStatus.COMPLETED:  # worker died)
                        outcome.record = dict(status=outcome.status, message=outcome.message,
                                              ended=time.time())
                # the instances' records as they arrive, but the run's last ones in its commit
                ended = [*outcomes.values(), *(outcome for _, outcome, _ in finished)]
                if progress or len(ended) < len(run.jobs) or \
                        any(outcome.status != RunStatus.COMPLETED for outcome in ended):
                    _write_records(self.runs, run.run_id, [outcome for _, outcome, _ in finished])
                    for _, outcome, _ in finished:
                        outcome.record = {}  # written
                for job, outcome, lost in finished:
                    outcomes[job.shard] = outcome
                    if not lost:
                        carry_out(schedule.done(job.shard, outcome.status))
                        continue
                    info = cluster.worker_info()  # who is left (a restarted worker has a new address)
                    workers = named(info)
                    addresses.update(workers)
                    names[:] = [name for name, _ in workers]
                    schedule.kinds.update(_kinds(info, dict(workers)))  # of any that joined since
                    instructions = schedule.lost(job.shard, names)
                    if job.shard not in schedule.finished:
                        del outcomes[job.shard]  # it runs again: its new attempt gives the outcome
                        self.runs.update_instance(
                            job.run_id, job.shard, status=RunStatus.QUEUED,
                            retried=", ".join(schedule.retries[job.shard]),
                            message=f"retried on {schedule.owner[job.shard]}: {outcome.message}")
                    carry_out(instructions)
                if progress and (not pending or time.monotonic() - reported >= PROGRESS_INTERVAL):
                    reported = time.monotonic()
                    progress(RunProgress(run.run_id, len(outcomes), len(run.jobs),
                                         tuple(self.runs.progress(run.run_id))))
        finally:
            cluster.arrivals.forget(submitted)
        return [outcomes[shard] for shard in sorted(outcomes)]

    def _conclude(self, run: RunPlan, outcomes: list[Outcome]) -> RunReport:
        """Commit everything if every instance completed; else discard everything."""
        rows_in = sum(o.rows_in for o in outcomes)
        rows_out = sum(o.rows_out for o in outcomes)
        failed = [o for o in outcomes if o.status != RunStatus.COMPLETED]
        io = load_file_io(self.db.catalog.properties)
        with ExitStack() as stack:  # each output's files, deleted unless committed
            staged = {spec.name: stack.enter_context(files.staged(io, spec.location))
                      for spec in run.outputs if not isinstance(spec, ResultOutput)}
            for outcome in outcomes:
                for name, written in outcome.files.items():
                    staged[name].extend(written)
            if failed:
                self._discard_models(outcomes)
                first = next((o for o in failed if o.status in (RunStatus.ERROR, RunStatus.TIMED_OUT)),
                             failed[0])
                message = first.message if first.status == RunStatus.KILLED \
                    else f"shard {first.shard}: {first.message}"
                _write_records(self.runs, run.run_id, outcomes)
                self.runs.finish(run.run_id, first.status, message, rows_in, 0)
                return RunReport(run.run_id, first.status, message, rows_in, 0)
            registered: list[ModelInfo] = []
            users.ensure_tables(self.db.engine)  # (it may commit: not inside the transaction)
            try:  # tables, their owners, model versions and the run's record: one transaction
                with commit.together(self.db, self.runs, self.models) as (db, runs, models):
                    message = (f"{len(outcomes)} instances completed: {rows_in} rows in, "
                               f"{rows_out} rows out")
                    # the run's records are the first write (commit.py): the last instances'
                    # (which its totals count), then its own, again only if the run saved
                    # models, whose versions its message then names
                    _write_records(runs, run.run_id, outcomes)
                    totals = runs.finish(run.run_id, RunStatus.COMPLETED, message, rows_in, rows_out)
                    for model in (m for o in outcomes for m in o.models):
                        registered.append(models.register(model, run.lineage))
                    committed = self._commit(db, run, outcomes, staged)
                    if registered:
                        message += "; saved " + ", ".join(f"{m.name} v{m.version}" for m in registered)
                        totals = runs.finish(run.run_id, RunStatus.COMPLETED, message, rows_in,
                                             rows_out)
            except Exception as error:  # rolled back: nothing of the commit is visible
                self._discard_models(outcomes)
                for info in registered:  # artifacts moved into place go too (those in an
                    if is_local(info.path):  # object store stay behind, unreferenced)
                        shutil.rmtree(Path(info.path).parent, ignore_errors=True)
                text = str(error) if isinstance(error, IndbError) else \
                    f"{type(error).__name__}: {error}"
                _write_records(self.runs, run.run_id, outcomes)  # (rolled back with the rest)
                self.runs.finish(run.run_id, RunStatus.ERROR, text, rows_in, 0)
                return RunReport(run.run_id, RunStatus.ERROR, text, rows_in, 0)
            for name in committed:
                staged[name].keep()
        return RunReport(run.run_id, RunStatus.COMPLETED, message, rows_in, rows_out,
                         [o.results["result"] for o in outcomes if "result" in o.results], totals)

    @staticmethod
    def _commit(db: Database, run: RunPlan, outcomes: list[Outcome],
                staged: dict[str, files.StagedFiles]) -> list[str]:
        """Commit each output table's files in one snapshot (creating new tables first) in
        ``db`` (the run's commit transaction); the names of the outputs whose files it took."""
        committed: list[str] = []
        # in name order: two heads' transactions lock the tables' catalog rows (PostgreSQL) in
        # the same order, so neither waits for a row the other holds while holding its own
        for spec in sorted(run.outputs, key=lambda output: output.name):
            if isinstance(spec, AppendOutput):
                table, _ = db.load(spec.name)
                if table.metadata.table_uuid != spec.metadata.table_uuid:
                    raise CatalogError(f"table {spec.name} was dropped and created again during "
                                       "the run; run the function again")
                if staged[spec.name]:
                    kept = files.data_files(table)
                    check_unique(spec.info, kept, staged[spec.name], db.io_properties)
                    check_uniques(spec.info, kept, staged[spec.name], db.io_properties)
                    check_constraints(spec.info, staged[spec.name], db.io_properties)
                    check_references(db, spec.info, kept, staged[spec.name])
                    files.commit(db, spec.name, add=staged[spec.name], written_for=spec.metadata,
                                 verify=rechecked(spec.info, staged[spec.name],
                                                  io_properties=db.io_properties))
                committed.append(spec.name)
            elif isinstance(spec, CreateOutput):
                infos = {o.created[spec.name] for o in outcomes if spec.name in o.created}
                if len(infos) > 1:
                    raise CatalogError(f"the instances returned different columns for the new table "
                                       f"{spec.name}: " + "; ".join(
                                           ", ".join(f"{c.name} {c.sql_type}" for c in i.columns)
                                           for i in infos) + ". Return the same columns from every shard "
                                       "or declare RETURNS TABLE (...)")
                if not infos:
                    continue  # nothing returned for it: no table is created
                # created with its files in one catalog commit: whole, or not at all; the
                # instances wrote them with the layout create_table gives (iceberg_layout)
                db.create_table(infos.pop(), add=staged[spec.name], location=spec.location)
                with db.engine.begin() as conn:  # the transaction's connection: theirs with it
                    users.record_owner(conn, "table", spec.name, run.user)
                committed.append(spec.name)
        return committed

    def _discard_models(self, outcomes: list[Outcome]) -> None:
        for outcome in outcomes:
            for model in outcome.models:
                self.models.discard(model)


def _reads_ahead(run: RunPlan) -> bool:
    """Whether a run's hosts read their next shard ahead: a handler's GPU frames, which a GPU
    host keeps resident (a CPU host ignores the hint), of a distributed run with inputs."""
    function = run.function
    return (function.style != "script" and function.frame in RESIDENT_FRAMES
            and len(run.jobs) > 1 and any(job.inputs for job in run.jobs))


def _slots(info: dict[str, dict[str, Any]], addresses: dict[str, str]) -> dict[str, int]:
    """Each worker's instance slots (its Dask threads: ``supervisor.HostPool``), by name, from
    ``Cluster.worker_info``."""
    return {name: int(info[address]["nthreads"]) if address in info else 1
            for name, address in addresses.items()}


def _kinds(info: dict[str, dict[str, Any]], addresses: dict[str, str]) -> dict[str, str]:
    """Each worker's kind, by name: "GPU" if it declares the GPU resource (``indb worker``
    with GPUs), else "CPU"; a lost shard is retried on a worker of its kind only."""
    return {name: "GPU" if "GPU" in (info.get(address, {}).get("resources") or {}) else "CPU"
            for name, address in addresses.items()}


def _write_records(runs: RunLog, run_id: str, outcomes: list[Outcome]) -> None:
    """The records of instances that ended (``Outcome.record``) not written yet, in one write."""
    runs.update_instances(run_id, {outcome.shard: outcome.record for outcome in outcomes
                                   if outcome.record})


def _ended(client: Client, inbox: queue.SimpleQueue[Finished],
           pending: dict[str, tuple[Future, Job]]) -> list[tuple[Job, Outcome, bool]]:
    """The instances that ended (taken out of ``pending``), each with its outcome and whether
    it was lost with its worker, after waiting up to ``POLL_INTERVAL`` for the first: those
    whose outcome came with its event (``inbox``), then those whose future ended without one,
    fetched. An event comes before its task's future ends (the same way, ahead of it), so the
    inbox is read again after the futures are looked at: a task is fetched only if it sent none.

    The futures are looked at, not called back: a callback (Dask's ``add_done_callback``) of a
    task whose outcome came first can fire after the run, as the interpreter exits, on Dask's
    callback thread pool already shut down (a traceback at exit)."""
    came = arrived(inbox, POLL_INTERVAL)
    done = [key for key, (future, _) in pending.items() if future.done()]
    came += arrived(inbox, 0)
    carried = [(pending.pop(finished.key)[1], finished.outcome, False) for finished in came
               if finished.key in pending]
    fetched = [pending.pop(key) for key in done if key in pending]
    if not fetched:  # the usual case: no round trip to Dask's loop (milliseconds while it is busy)
        return carried
    return carried + [(job, outcome, lost) for (_, job), (outcome, lost)
                      in zip(fetched, _outcomes_of(client, fetched), strict=True)]


def _outcomes_of(client: Client, finished: list[tuple[Future, Job]]) -> list[tuple[Outcome, bool]]:
    """Finished tasks' Outcomes, fetched in one round trip (one each was a round trip each),
    each with whether it was lost with its worker (``_outcome_of``)."""
    try:
        return [(outcome, False) for outcome in client.gather([future for future, _ in finished])]
    except Exception:  # some task raised: look at each
        return [_outcome_of(future, job) for future, job in finished]


def _outcome_of(future: Future, job: Job) -> tuple[Outcome, bool]:
    """A finished task's Outcome, and whether it was lost with its worker; a task that raised
    (its worker died) becomes an ERROR one."""
    try:
        return future.result(), False
    except LOST as error:  # Dask's word that the worker died (its message names the task)
        return Outcome(job.shard, RunStatus.ERROR,
                       f"the worker running shard {job.shard} died ({type(error).__name__}); "
                       "nothing it wrote was kept"), True
    except Exception as error:
        return Outcome(job.shard, RunStatus.ERROR,
                       f"the worker running shard {job.shard} failed ({type(error).__name__}: "
                       f"{error}); nothing it wrote was kept"), False
