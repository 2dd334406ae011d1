"""Run records: one row a run of a function and one a shard instance, in the catalog file.

The head writes the run's row, each instance's supervisor (on a worker) writes its instance's
row, and any connection reads them (``SHOW FUNCTION STATUS``) or asks for a kill (``KILL
FUNCTION``), which supervisors notice and act on. SQLite in WAL mode lets all of them do this at
once across processes.
"""

from __future__ import annotations

import json
import os
import socket
import time
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING

import pyarrow as pa
import sqlalchemy as sa

from indb.catalog.database import create_tables
from indb.catalog.users import OWNER
from indb.errors import not_found

if TYPE_CHECKING:
    from indb.registry.environments import EnvironmentInfo


class RunStatus(StrEnum):
    """Where a run, or one of its shard instances, stands; the values are what SQL shows."""

    QUEUED = "queued"
    RUNNING = "running"
    COMPLETED = "completed"
    ERROR = "error"
    KILLED = "killed"
    TIMED_OUT = "timed out"

    @property
    def finished(self) -> bool:
        return self not in (RunStatus.QUEUED, RunStatus.RUNNING)


@dataclass(frozen=True)
class InstanceProgress:
    """Where one shard instance stands while its run goes on (``RunLog.progress``): rows are
    known when it ends; ``done``/``total`` are what its UDF last said with ``ctx.progress``."""

    shard: int
    status: RunStatus
    rows_in: int | None
    rows_out: int | None
    done: float | None
    total: float | None


TAIL_LINES = 20
WRITE_ATTEMPTS = 30

_metadata = sa.MetaData()
_runs = sa.Table(
    "indb_runs", _metadata,
    sa.Column("run_id", sa.String, primary_key=True),
    sa.Column("function", sa.String, nullable=False),
    sa.Column("tag", sa.String),
    sa.Column("mode", sa.String, nullable=False),
    sa.Column("status", sa.String, nullable=False),
    sa.Column("instances", sa.Integer, nullable=False),
    sa.Column("rows_in", sa.BigInteger),
    sa.Column("rows_out", sa.BigInteger),
    sa.Column("started", sa.Float, nullable=False),
    sa.Column("ended", sa.Float),
    sa.Column("message", sa.Text),
    sa.Column("outputs", sa.Text),          # JSON list of output table names
    sa.Column("statement", sa.Text),
    sa.Column("head", sa.String),           # host:pid of the process that waits for the run
    sa.Column("kill_reason", sa.Text),      # set by KILL FUNCTION, a timeout or a failed shard
    sa.Column("environment", sa.String),    # the function environment it ran in, if any
    sa.Column("environment_hash", sa.String),  # ... and the hash of its pip freeze then
    sa.Column("user", sa.String),           # who started it; NULL: the owner (older databases)
    sa.Column("bytes_read", sa.BigInteger),  # of data files, by all its instances (at its end)
    sa.Column("workers", sa.Text),          # JSON: per worker, what ``worker_summary`` says
)
_instances = sa.Table(
    "indb_run_instances", _metadata,
    sa.Column("run_id", sa.String, primary_key=True),
    sa.Column("shard", sa.Integer, primary_key=True),
    sa.Column("status", sa.String, nullable=False),
    sa.Column("worker", sa.String),
    sa.Column("device", sa.String),          # what ran it: "cpu", or "cuda:N" (the worker's GPU)
    sa.Column("pid", sa.Integer),
    sa.Column("started", sa.Float),
    sa.Column("ended", sa.Float),
    sa.Column("rows_in", sa.BigInteger),
    sa.Column("rows_out", sa.BigInteger),
    sa.Column("message", sa.Text),
    sa.Column("progress_done", sa.Float),
    sa.Column("progress_total", sa.Float),
    sa.Column("stdout_tail", sa.Text),
    sa.Column("stderr_tail", sa.Text),
    sa.Column("traceback", sa.Text),
    sa.Column("cache_hits", sa.Integer),     # GPU: inputs found resident
    sa.Column("cache_misses", sa.Integer),   # GPU: inputs read from the files
    sa.Column("input_s", sa.Float),          # seconds reading the inputs (into frames)
    sa.Column("function_s", sa.Float),       # seconds in the UDF (or its script)
    sa.Column("output_s", sa.Float),         # seconds writing the output files
    sa.Column("rank", sa.Integer),           # Kinetica's rank and TOM of the instance
    sa.Column("tom", sa.Integer),
    sa.Column("results", sa.Text),           # a ProcData script's results (JSON)
    sa.Column("bin_results", sa.Text),       # ... and its bin_results (JSON)
    sa.Column("retried", sa.Text),           # workers it was lost with, then retried elsewhere
    sa.Column("bytes_read", sa.BigInteger),  # of the data files it read
    sa.Column("from_cache", sa.Boolean),     # every input found resident in its worker's cache
)

_RUN_COLUMNS = ("run_id", "function", "tag", "status", "instances", "completed", "rows_in",
                "rows_out", "started", "ended", "seconds", "message", "environment",
                "environment_hash", "user", "bytes_read", "workers")
_INSTANCE_COLUMNS = ("run_id", "function", "shard", "status", "worker", "device", "rows_in", "rows_out",
                     "progress", "started", "ended", "message", "cache_hits", "cache_misses",
                     "input_s", "function_s", "output_s", "stdout_tail", "stderr_tail", "traceback",
                     "environment", "environment_hash", "user", "retried", "bytes_read",
                     "from_cache")

_SCRIPT_COLUMNS = ("rank", "tom", "results", "bin_results")


class RunLog:
    """Reads and writes run records through a SQLAlchemy engine on the catalog file."""

    def __init__(self, engine: sa.Engine) -> None:
        self.engine = engine
        create_tables(engine, _metadata)
        for table in (_runs, _instances):
            present = {c["name"] for c in sa.inspect(engine).get_columns(table.name)}
            for column in table.columns:  # columns added since a database was created
                if column.name not in present:
                    with engine.begin() as conn:
                        conn.exec_driver_sql(f'ALTER TABLE {table.name} ADD COLUMN "{column.name}" '
                                             f"{column.type.compile(engine.dialect)}")

    # -- the head --------------------------------------------------------------------------

    def start(self, run_id: str, function: str, mode: str, shards: Iterable[int], *,
              tag: str | None, outputs: list[str], statement: str,
              environment: EnvironmentInfo | None = None, user: str | None = None) -> None:
        shards = list(shards)
        queued = [{"run_id": run_id, "shard": k, "status": RunStatus.QUEUED} for k in shards]
        self._write(_runs.insert().values(
            run_id=run_id, function=function, tag=tag, mode=mode, status=RunStatus.RUNNING,
            instances=len(shards), started=time.time(), outputs=json.dumps(outputs),
            statement=statement, head=f"{socket.gethostname()}:{os.getpid()}",
            environment=environment.name if environment else None,
            environment_hash=environment.hash if environment else None, user=user),
            *([(_instances.insert(), queued)] if queued else []))

    def finish(self, run_id: str, status: RunStatus, message: str, rows_in: int | None = None,
               rows_out: int | None = None) -> dict[str, object]:
        """Record how a run ended; returns the totals written with it (``bytes_read``, and
        ``workers``: ``worker_summary`` as JSON), as ``run()`` would read them back."""
        workers = self.worker_summary(run_id)
        totals: dict[str, object] = {"bytes_read": sum(w["bytes_read"] for w in workers.values()),
                                     "workers": json.dumps(workers)}
        self._write(
            _runs.update().where(_runs.c.run_id == run_id).values(
                status=status, message=message, rows_in=rows_in, rows_out=rows_out, ended=time.time(),
                **totals),
            # instances the run never reached (queued when it stopped) say why they did not run
            _instances.update().where(_instances.c.run_id == run_id,
                                      _instances.c.status.in_([RunStatus.QUEUED, RunStatus.RUNNING]))
            .values(status=RunStatus.KILLED if status != RunStatus.COMPLETED else status,
                    message=sa.func.coalesce(_instances.c.message, message)))
        return totals

    def worker_summary(self, run_id: str) -> dict[str, dict[str, int]]:
        """Per worker that ran instances of the run: ``shards`` it ran, ``bytes_read`` of data
        files, ``cached_shards`` served wholly from its resident cache, ``cache_hits`` (frames
        and models found resident)."""
        columns = (_instances.c.worker, sa.func.count(),
                   sa.func.coalesce(sa.func.sum(_instances.c.bytes_read), 0),
                   sa.func.count().filter(_instances.c.from_cache.is_(True)),
                   sa.func.coalesce(sa.func.sum(_instances.c.cache_hits), 0))
        with self.engine.connect() as conn:
            rows = conn.execute(sa.select(*columns).where(_instances.c.run_id == run_id,
                                                          _instances.c.worker.is_not(None))
                                .group_by(_instances.c.worker).order_by(_instances.c.worker)).all()
        return {worker: {"shards": int(shards), "bytes_read": int(read),
                         "cached_shards": int(cached), "cache_hits": int(hits)}
                for worker, shards, read, cached, hits in rows}

    def request_kill(self, run_id: str, reason: str) -> bool:
        """Ask a run to stop; False if it had already finished. Unknown ids raise CatalogError."""
        if RunStatus(str(self.run(run_id)["status"])).finished:
            return False
        self._write(_runs.update().where(_runs.c.run_id == run_id, _runs.c.kill_reason.is_(None))
                    .values(kill_reason=reason))
        return True

    def kill_reason(self, run_id: str) -> str | None:
        with self.engine.connect() as conn:
            return conn.execute(sa.select(_runs.c.kill_reason).where(_runs.c.run_id == run_id)).scalar()

    # -- the supervisors -------------------------------------------------------------------

    def update_instance(self, run_id: str, shard: int, **values: object) -> None:
        self.update_instances(run_id, {shard: values})

    def update_instances(self, run_id: str, values: dict[int, dict[str, object]]) -> None:
        """Several instances' records (by shard) in one write."""
        if values:
            self._write(*(_instances.update().where(_instances.c.run_id == run_id,
                                                    _instances.c.shard == shard).values(**changed)
                          for shard, changed in values.items()))

    def _write(self, *statements: sa.Executable | tuple[sa.Executable, list[dict[str, object]]]
               ) -> None:
        """Run statements in one transaction, again if SQLite reports the file busy: many
        supervisors write at once, and SQLite can refuse a writer without waiting. A statement
        with a list of parameter sets runs once a set (one statement compiled, not one a row)."""
        for attempt in range(WRITE_ATTEMPTS):
            try:
                with self.engine.begin() as conn:
                    for statement in statements:
                        if isinstance(statement, tuple):
                            conn.execute(*statement)
                        else:
                            conn.execute(statement)
                return
            except sa.exc.OperationalError as error:
                if "locked" not in str(error) or attempt == WRITE_ATTEMPTS - 1:
                    raise
                time.sleep(0.01 * (attempt + 1))

    # -- readers ---------------------------------------------------------------------------

    def run(self, run_id: str) -> dict[str, object]:
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(_runs).where(_runs.c.run_id == run_id)).mappings().first()
        if row is None:
            raise not_found("run", run_id)
        return dict(row)

    def runs(self, run_id: str | None = None, limit: int = 100, user: str | None = None) -> pa.Table:
        """One row a run, newest first: status, instances completed, rows, times, message, who
        started it; with ``user``, only that user's runs (another's run id is not found)."""
        self._close_abandoned()
        completed = (sa.select(sa.func.count()).where(_instances.c.run_id == _runs.c.run_id,
                                                      _instances.c.status == RunStatus.COMPLETED)
                     .scalar_subquery())
        query = sa.select(_runs, completed.label("completed")).order_by(_runs.c.started.desc())
        query = query.where(_runs.c.run_id == run_id) if run_id else query.limit(limit)
        query = query.where(_started_by(user)) if user else query
        with self.engine.connect() as conn:
            rows = [dict(r) for r in conn.execute(query).mappings()]
        if run_id and not rows:
            raise not_found("run", run_id)
        for row in rows:
            row["user"] = row["user"] or OWNER
            row["seconds"] = round((row["ended"] or time.time()) - row["started"], 3)
        return _table(rows, _RUN_COLUMNS)

    def progress(self, run_id: str) -> list[InstanceProgress]:
        """A run's instances as they stand: the head's poll while it waits, so one query on the
        primary key and no logs."""
        columns = (_instances.c.shard, _instances.c.status, _instances.c.rows_in,
                   _instances.c.rows_out, _instances.c.progress_done, _instances.c.progress_total)
        with self.engine.connect() as conn:
            rows = conn.execute(sa.select(*columns).where(_instances.c.run_id == run_id)
                                .order_by(_instances.c.shard)).all()
        return [InstanceProgress(shard, RunStatus(status), *rest) for shard, status, *rest in rows]

    def instances(self, run_id: str | None = None, limit: int = 20,
                  user: str | None = None) -> pa.Table:
        """One row a shard instance of the newest runs (or of one run), with logs and tracebacks;
        with ``user``, of that user's runs only."""
        self._close_abandoned()
        if run_id and user:
            self.runs(run_id, user=user)  # raises for a run of another user's, as for none
        runs = sa.select(_runs.c.run_id).order_by(_runs.c.started.desc()).limit(limit)
        runs = runs.where(_started_by(user)) if user else runs
        query = (sa.select(_instances, _runs.c.function, _runs.c.started.label("run_started"),
                           _runs.c.environment, _runs.c.environment_hash, _runs.c.user)
                 .join(_runs, _runs.c.run_id == _instances.c.run_id)
                 .order_by(_runs.c.started.desc(), _instances.c.shard))
        query = query.where(_instances.c.run_id == run_id) if run_id else \
            query.where(_instances.c.run_id.in_(runs))
        with self.engine.connect() as conn:
            rows = [dict(r) for r in conn.execute(query).mappings()]
        if run_id and not rows:
            self.run(run_id)  # raises for an unknown id; a run of no instances has no rows
        for row in rows:
            row["user"] = row["user"] or OWNER
            done, total = row["progress_done"], row["progress_total"]
            row["progress"] = None if done is None else (f"{done:g}/{total:g}" if total else f"{done:g}")
        return _table(rows, _INSTANCE_COLUMNS + _SCRIPT_COLUMNS)

    def _close_abandoned(self) -> None:
        """Runs whose head process on this host has exited can never finish: say so."""
        host = socket.gethostname()
        with self.engine.connect() as conn:
            running = conn.execute(sa.select(_runs.c.run_id, _runs.c.head)
                                   .where(_runs.c.status == RunStatus.RUNNING)).all()
        for run_id, head in running:
            head_host, _, pid = (head or "").rpartition(":")
            if head_host == host and pid.isdigit() and not _alive(int(pid)):
                self.finish(run_id, RunStatus.ERROR, "the process that started this run exited "
                                                     "before it finished; nothing was written")


def _started_by(user: str) -> sa.ColumnElement[bool]:
    """Runs ``user`` started; the owner's include those recorded before runs named their user."""
    if user == OWNER:
        return sa.or_(_runs.c.user == user, _runs.c.user.is_(None))
    return _runs.c.user == user


def tail(path: os.PathLike | str, lines: int = TAIL_LINES) -> str | None:
    """The last lines of a log file; None if it is missing or empty."""
    try:
        with open(path, "rb") as f:
            f.seek(0, os.SEEK_END)
            f.seek(max(0, f.tell() - 16384))
            text = f.read().decode(errors="replace")
    except FileNotFoundError:
        return None
    return "\n".join(text.splitlines()[-lines:]) or None


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _table(rows: list[dict[str, object]], columns: tuple[str, ...]) -> pa.Table:
    types = {"instances": pa.int64(), "completed": pa.int64(), "shard": pa.int64(),
             "rank": pa.int64(), "tom": pa.int64(),
             "cache_hits": pa.int64(), "cache_misses": pa.int64(), "bytes_read": pa.int64(),
             "from_cache": pa.bool_(),
             "rows_in": pa.int64(), "rows_out": pa.int64(), "seconds": pa.float64(),
             "input_s": pa.float64(), "function_s": pa.float64(), "output_s": pa.float64(),
             "started": pa.timestamp("ms", tz="UTC"), "ended": pa.timestamp("ms", tz="UTC")}
    data = {}
    for name in columns:
        values = [r.get(name) for r in rows]
        if name in ("started", "ended"):
            values = [None if v is None else int(float(v) * 1000) for v in values]  # type: ignore[arg-type]
        data[name] = pa.array(values, type=types.get(name, pa.string()))
    return pa.table(data)
