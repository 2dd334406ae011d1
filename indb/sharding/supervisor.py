"""The worker side of a run: a Dask task per shard that hands the job to a host process and
watches it, relaying reports to the run records and stopping it on KILL or timeout.

Hosts (``indb.sharding.host``) are started on demand and kept between jobs, one per task slot in
use, so a run pays no interpreter start-up; a host that is killed or dies is replaced by a new one.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from multiprocessing.connection import Connection
from pathlib import Path

from distributed import get_worker

from indb.catalog.database import Database
from indb.catalog.location import Location
from indb.errors import IndbError, OperationalError
from indb.registry.environments import EnvironmentStore
from indb.registry.functions import FunctionStore
from indb.registry.models import ModelStore
from indb.registry.runs import RunLog, RunStatus, tail
from indb.runtime import venvs
from indb.sharding import sandbox
from indb.sharding.arrivals import announce
from indb.sharding.jobs import Job, Outcome
from indb.sharding.messages import (Done, ModelWanted, ProgressReport, Question, RowidsWanted,
                                    StatusLine)
from indb.udf.distributed import NCCL_VARIABLES

POLL = 0.1           # seconds between looks at the host, the kill flag and the deadline
TAIL_REFRESH = 2.0   # seconds between copies of the log tails into the run record
PACKAGE_ROOT = str(Path(__file__).resolve().parents[2])


class Host:
    """One host process and the two channels to it (jobs/reports, and the watch pipe);
    ``identity`` is the code it runs (a host serves one function's code only), ``python`` the
    interpreter it runs in: a function environment's ("" for the one indb runs in); ``rules``
    its sandbox (None: unconfined), in which only its ``staging`` directory is writable."""

    def __init__(self, identity: str = "", python: str = "",
                 rules: sandbox.Policy | None = None) -> None:
        self.identity, self.python, self.rules = identity, python, rules
        self.staging = sandbox.staging_dir(rules) if rules is not None else None
        parent, child = socket.socketpair()
        watch_read, self._watch_write = os.pipe()
        env = {**os.environ, **NCCL_VARIABLES, "PYTHONPATH": os.pathsep.join(
            filter(None, [PACKAGE_ROOT, os.environ.get("PYTHONPATH")]))}
        argv = [python or sys.executable, "-m", "indb.sharding.host", str(child.fileno()),
                str(watch_read)]
        if rules is not None and self.staging is not None:
            env.update(sandbox.environment(self.staging))
            argv = sandbox.command(rules, self.staging, argv)
        self.process = subprocess.Popen(
            argv, pass_fds=(child.fileno(), watch_read), env=env, start_new_session=True,
            cwd=self.staging)
        child.close()
        os.close(watch_read)
        self.channel = Connection(parent.detach())

    @property
    def alive(self) -> bool:
        return self.process.poll() is None

    def kill(self) -> None:
        """Kill the host and everything it started (its own process group)."""
        try:
            os.killpg(self.process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.process.wait()
        self.close()

    def close(self) -> None:
        """Close both channels (once): the host, if still alive, then exits by itself."""
        if not self.channel.closed:
            self.channel.close()
            os.close(self._watch_write)

    def forget(self) -> None:
        """Close the channels and remove the staging directory (the host is done with it)."""
        self.close()
        if self.staging is not None:
            shutil.rmtree(self.staging, ignore_errors=True)


class HostPool:
    """The hosts of this worker process, one per slot; the worker's i-th shard (its turn) always
    runs in slot i mod slots.

    A fixed slot keeps a shard's resident frames (and its models) in the one process that built
    them, so a second run over an unchanged table finds them; with several slots a GPU is shared
    by as many processes, one computing while another reads or writes its files.

    A host runs one function's code only (``identity``, its code hash): a job of other code gets
    a fresh process in the slot, so no run inherits the environment variables, working directory,
    resource limits or patched modules an earlier, different function left behind.
    """

    def __init__(self) -> None:
        self._hosts: dict[int, Host] = {}
        self._locks: dict[int, threading.Lock] = {}
        self._guard = threading.Lock()

    def acquire(self, turn: int, identity: str = "", python: str = "",
                rules: sandbox.Policy | None = None) -> tuple[int, Host]:
        """The slot and its host for code ``identity`` in interpreter ``python`` and sandbox
        ``rules``, once no other instance uses that slot (a dead host, or one that ran other
        code, in another function environment or sandbox, is replaced)."""
        slot = turn % _slots()
        with self._guard:
            lock = self._locks.setdefault(slot, threading.Lock())
        lock.acquire()
        try:
            host = self._hosts.get(slot)
            if host is not None and host.alive and \
                    (host.identity, host.python, host.rules) != (identity, python, rules):
                host.kill()
            if host is None or not host.alive:
                if host is not None:
                    host.forget()
                host = self._hosts[slot] = Host(identity, python, rules)
        except BaseException:  # no host could be started: the slot is free for the next try
            self._hosts.pop(slot, None)
            lock.release()
            raise
        return slot, host

    def release(self, slot: int, host: Host) -> None:
        """Give the slot back; a host that was killed is forgotten (the next job starts another)."""
        if not host.alive and self._hosts.get(slot) is host:
            del self._hosts[slot]
            host.forget()
        self._locks[slot].release()


def _slots() -> int:
    """Task slots of this Dask worker (its threads); 1 outside a worker."""
    try:
        return max(1, get_worker().state.nthreads)
    except ValueError:
        return 1


_pool = HostPool()
_record_writer = ThreadPoolExecutor(1, thread_name_prefix="indb-instance-record")


class _Records:
    """One database's catalog as this worker process uses it: run records, row id sequences,
    model versions (opened once per database and kept)."""

    def __init__(self, database: str | Location, db_id: str) -> None:
        self.db = Database(database)
        if self.db.id != db_id:  # deleted and made again at the same path since the run began
            self.db.close()
            raise OperationalError(f"the database at {database} was replaced while the run was "
                                   "starting; the run's database is gone, nothing was written")
        self.log = RunLog(self.db.engine)
        self.models = ModelStore(self.db)
        self.functions = FunctionStore(self.db)
        self.environments = EnvironmentStore(self.db)

    def answer(self, question: Question) -> object:
        """A host's question, answered (errors are answered, not raised)."""
        try:
            if isinstance(question, RowidsWanted):
                return self.db.allocate_rowids(question.table, question.count)
            return self.models.local(self.models.get(question.name, question.version))
        except (IndbError, OSError) as error:
            return error if isinstance(error, IndbError) else OperationalError(
                f"the model's files could not be read from the warehouse: {error}")


@functools.cache
def _records(database: str | Location, db_id: str) -> _Records:
    """One database's records, by path (or Location) AND identity: a database made again at the
    same path is another database, with a catalog of its own (the old one's file may be gone)."""
    return _Records(database, db_id)


def run_instance(job: Job, worker: str = "", turn: int = 0, rank: int = 0) -> Outcome:
    """The Dask task of one shard instance; always returns an Outcome (never raises for the UDF),
    and publishes it to the head as it returns (``arrivals``).

    ``turn``: the shard's place among the shards of its worker; it picks the instance slot and
    is the instance's TOM within ``rank``, its worker's place among the workers from 1."""
    return announce(_run_instance(dataclasses.replace(job, rank=rank, tom=turn), worker, turn))


def _run_instance(job: Job, worker: str, turn: int) -> Outcome:
    try:
        records = _records(job.location or job.db_path, job.db_id)
    except IndbError as error:
        return Outcome(job.shard, RunStatus.ERROR, str(error))
    log = records.log
    stopped = _stop_reason(job, log)
    if stopped:
        log.update_instance(job.run_id, job.shard, status=stopped[0], message=stopped[1],
                            ended=time.time())
        return Outcome(job.shard, stopped[0], stopped[1])
    try:  # code in an object store runs from this host's verified copy, in an environment of
        # this host's own built from its record
        job = dataclasses.replace(job, code_dir=records.functions.local_code(
            job.code_dir, job.function.code_hash))
        if job.environment is not None and records.db.local_root is None:
            job = dataclasses.replace(job, python=str(venvs.interpreter(venvs.verified_copy(
                records.environments.root, job.environment))))
    except (IndbError, OSError) as error:
        message = f"the function's code or environment could not be made on this host: {error}"
        log.update_instance(job.run_id, job.shard, status=RunStatus.ERROR, message=message,
                            ended=time.time())
        return Outcome(job.shard, RunStatus.ERROR, message)
    rules, refusal = sandbox.decide(job)
    if refusal:
        log.update_instance(job.run_id, job.shard, status=RunStatus.ERROR, message=refusal,
                            ended=time.time())
        return Outcome(job.shard, RunStatus.ERROR, refusal)
    slot, host = _pool.acquire(turn, job.function.code_hash, job.python, rules)
    try:
        running = dict(status=RunStatus.RUNNING, worker=worker, device=instance_device(),
                       pid=host.process.pid, started=time.time(), rank=job.rank, tom=job.tom)
        if host.staging is None:
            outcome = _supervise(job, host, records, running)
        else:  # the instance writes in its host's staging directory; moved into place after
            staged = sandbox.staged(job, host.staging)
            outcome = sandbox.delivered(staged, job, _supervise(staged, host, records, running))
    finally:
        _pool.release(slot, host)
    _publish_models(outcome, records.models)
    work = Path(job.work_dir)
    # written by the head as the outcome reaches it (executor): the last instance's end does
    # not wait for a catalog write here before the head hears of it
    outcome.record = dict(status=outcome.status, message=outcome.message,
                          ended=time.time(), rows_in=outcome.rows_in, rows_out=outcome.rows_out,
                          traceback=outcome.traceback, stdout_tail=tail(work / "stdout.log"),
                          stderr_tail=tail(work / "stderr.log"), cache_hits=outcome.cache_hits,
                          cache_misses=outcome.cache_misses, bytes_read=outcome.bytes_read,
                          from_cache=outcome.from_cache, **outcome.seconds,
                          results=json.dumps(outcome.proc_results) if outcome.proc_results else None,
                          bin_results=json.dumps({k: v.decode(errors="backslashreplace") for k, v
                                                  in outcome.proc_bin_results.items()})
                          if outcome.proc_bin_results else None)
    return outcome


def _publish_models(outcome: Outcome, models: ModelStore) -> None:
    """Put the models an instance saved where the head registers them from (an object-store
    warehouse: uploaded from this host); a failed upload fails the instance."""
    try:
        outcome.models = [models.publish(staged) for staged in outcome.models]
    except (IndbError, OSError) as error:
        for staged in outcome.models:
            models.discard(staged)
        outcome.models = []
        outcome.status = RunStatus.ERROR
        outcome.message = f"the models it saved could not be written to the warehouse: {error}"


def instance_device() -> str:
    """What this worker's instances run on: "cpu", or "cuda:N" with N the GPU its environment
    pins it to (``gpus.worker_environment``: the device index as the machine numbers it)."""
    if os.environ.get("INDB_DEVICE") != "cuda":
        return "cpu"
    return f"cuda:{os.environ.get('CUDA_VISIBLE_DEVICES', '0')}"


def _supervise(job: Job, host: Host, records: _Records, running: dict[str, object]) -> Outcome:
    """Hand ``job`` to ``host`` and relay its reports until it is done; ``running`` is its
    record as it starts, written once the host has the job, on a thread of its own: the write
    can wait for other writers of the catalog, and neither the instance's start nor the
    answers to its first questions (its model, asked for as it starts) wait for it. It has
    landed before the outcome goes to the head, which writes the instance's last record."""
    try:
        host.channel.send(job)
        sent = True
    except OSError:
        sent = False
    written = _record_writer.submit(records.log.update_instance, job.run_id, job.shard, **running)
    try:
        if not sent:
            host.kill()
            return Outcome(job.shard, RunStatus.ERROR, "the instance process could not be reached")
        return _relay(job, host, records)
    finally:
        written.result()


def _relay(job: Job, host: Host, records: _Records) -> Outcome:
    """Answer a running host's questions and record its reports until it is done."""
    log = records.log
    work = Path(job.work_dir)
    last_tails, last_status = time.monotonic(), None
    while True:
        try:
            ready = host.channel.poll(POLL)
            message = host.channel.recv() if ready else None
        except (EOFError, OSError):
            message = None
        if isinstance(message, Done):
            outcome = message.outcome
            if outcome.status == RunStatus.COMPLETED and last_status:  # the UDF's last word stays
                outcome.message = last_status
            return outcome
        if isinstance(message, StatusLine):
            last_status = message.text
            log.update_instance(job.run_id, job.shard, message=last_status)
            continue
        if isinstance(message, ProgressReport):
            log.update_instance(job.run_id, job.shard, progress_done=message.done,
                                progress_total=message.total)
            continue
        if isinstance(message, RowidsWanted | ModelWanted):
            host.channel.send(records.answer(message))
            continue
        if not host.alive:
            code = host.process.returncode
            host.close()
            how = f"killed by {signal.Signals(-code).name}" if code < 0 else f"exit code {code}"
            return Outcome(job.shard, RunStatus.ERROR, f"the instance process died ({how}); "
                                                       "nothing it wrote was kept")
        stopped = _stop_reason(job, log)
        if stopped:
            host.kill()
            return Outcome(job.shard, *stopped)
        if time.monotonic() - last_tails > TAIL_REFRESH:
            last_tails = time.monotonic()
            log.update_instance(job.run_id, job.shard, stdout_tail=tail(work / "stdout.log"),
                                stderr_tail=tail(work / "stderr.log"))


def _stop_reason(job: Job, log: RunLog) -> tuple[RunStatus, str] | None:
    """(status, message) if the instance must stop now: the run was killed or timed out."""
    reason = log.kill_reason(job.run_id)
    if reason:
        return RunStatus.KILLED, reason
    if job.deadline is not None and time.time() > job.deadline:
        return RunStatus.TIMED_OUT, "the run's timeout passed; the instance was stopped"
    return None
