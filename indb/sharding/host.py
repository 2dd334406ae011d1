"""The process a UDF instance runs in: ``python -m indb.sharding.host SOCKET_FD WATCH_FD``.

A supervisor on a worker starts it, sends it jobs over a socket and reads its reports. For each
job it reads the shard's input (DuckDB runs the input query next to the data), calls the handler
or runs the Kinetica-style script, and writes the output files. Its stdout and stderr are the
instance's log files. It exits when its supervisor's process dies (the watch pipe closes), taking
any script it started with it, so a killed worker leaves no stray processes.
"""

from __future__ import annotations

import importlib.util
import os
import signal
import subprocess
import sys
import threading
import time
import traceback
from collections.abc import Callable, Hashable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import ExitStack, closing, contextmanager
from functools import partial
from multiprocessing.connection import Connection
from pathlib import Path
from types import ModuleType
from typing import Any

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from pyiceberg.io import load_file_io

from indb.catalog import filesystems, generated
from indb.catalog.database import provisional_metadata
from indb.catalog.tables import ROWID, TableInfo
from indb.catalog.types import Column, inferred_sql_type
from indb.errors import DataError, FunctionError, IndbError, SchemaError, SqlError
from indb.parser import render
from indb.query.scan import Scans, table_view
from indb.registry.models import ModelInfo
from indb.registry.runs import RunStatus
from indb.runtime.cache import process_cache
from indb.runtime.gpus import keep_turns, read_turn
from indb.sharding.jobs import (RESIDENT_FRAMES, AppendOutput, CreateOutput, InputRead, Job,
                                Outcome, Output, ResultOutput)
from indb.sharding.messages import (Done, ModelWanted, ProgressReport, Question, RowidsWanted,
                                    StatusLine)
from indb.sharding import placed, scripts
from indb.storage import files, read_threads
from indb.storage.placement import rowids_in_runs, rowids_in_shard
from indb.udf.context import Context
from indb.udf.distributed import process_group
from indb.udf import kinetica_files as kf
from indb.udf.frames import to_frame, to_outputs
from indb.udf.models import Models

SHIM_DIR = str(Path(__file__).resolve().parent.parent / "udf" / "shims")  # kinetica_proc lives here
SCRIPT_POLL = 0.2  # seconds between looks at a running script's status file
# a GPU worker's environment pins it to one GPU (CUDA_VISIBLE_DEVICES) and says so
DEVICE = "cuda" if os.environ.get("INDB_DEVICE") == "cuda" else "cpu"


def main(argv: list[str]) -> None:
    channel = Connection(int(argv[1]))
    threading.Thread(target=_exit_with_parent, args=(int(argv[2]),), daemon=True).start()
    sys.path.insert(0, SHIM_DIR)
    while True:
        try:
            job = channel.recv()
        except (EOFError, OSError):
            return
        channel.send(Done(run_job(job, channel)))


def _exit_with_parent(watch_fd: int) -> None:
    """Block on the watch pipe; it reads EOF exactly when the supervisor's process is gone."""
    os.read(watch_fd, 1)
    os.killpg(0, signal.SIGKILL)  # this process group: the host and any script it runs


# -- one job ----------------------------------------------------------------------------------

def run_job(job: Job, channel: Connection) -> Outcome:
    """Run one instance; failures become an ERROR outcome with the traceback, files discarded."""
    work = Path(job.work_dir)
    (work / "scratch").mkdir(parents=True, exist_ok=True)
    # models saved are staged in the work directory: the one place a sandboxed instance writes
    models = Models(partial(_model_info, job, channel), str(work), DEVICE)
    with _logs_in(work):
        try:
            read_threads.use_read_threads()  # its share of the machine's cores decodes its files
            with ExitStack() as stack:
                writes = _Writes(stack)  # every output's files, deleted unless the run ends well
                outcome = _run(job, channel, models, writes)
                writes.keep()  # handed to the head, which commits or discards them
            return outcome
        except Exception as error:
            models.discard()
            if isinstance(error, scripts.ScriptFailed):  # its own traceback, not the runner's
                text = error.trace or str(error)
            else:
                text = traceback.format_exc()
                print(text, file=sys.stderr, flush=True)
            message = str(error) if isinstance(error, IndbError) else f"{type(error).__name__}: {error}"
            return Outcome(job.shard, RunStatus.ERROR, message=message, traceback=text)


# what the supervisors said each ``ctx.models.load(name, version)`` means, by database and the
# model registry's state then: a warm run's first instance loads its model without asking (a
# round trip through its supervisor, 1.1-2 ms on the H200 host before its first GPU turn)
_models_known: files.Kept[tuple[str, str, str, int | str | None], ModelInfo] = \
    files.Kept(64)


def _model_info(job: Job, channel: Connection, name: str, version: int | str | None) -> ModelInfo:
    """The model version ``name``/``version`` means in the job's database, asked of the
    supervisor unless known for the registry's state the run began in."""
    if not job.models_state:
        return ask(channel, ModelWanted(name, version))
    key = (job.db_id, job.models_state, name.lower(), version)
    info = _models_known.get(key)
    if info is None:
        info = ask(channel, ModelWanted(name, version))
        _models_known.put(key, info)
    return info


class _Writes:
    """The files an instance writes, staged per output table (each under its own location)."""

    def __init__(self, stack: ExitStack) -> None:
        self._stack = stack
        self._sets: list[files.StagedFiles] = []

    def staged(self, io: Any, location: str) -> files.StagedFiles:
        staged = self._stack.enter_context(files.staged(io, location))
        self._sets.append(staged)
        return staged

    def keep(self) -> None:
        for staged in self._sets:
            staged.keep()


def _run(job: Job, channel: Connection, models: Models, writes: _Writes) -> Outcome:
    """Read the inputs, call the handler (or run the script) and write its outputs."""
    work = Path(job.work_dir)
    names = [o.name for o in job.outputs]
    outcome = Outcome(job.shard, RunStatus.COMPLETED)
    clock = _PhaseClock(outcome.seconds)
    outputs: list[pa.Table | None]
    result: object = None
    keys: list[placed.KeyColumn] = []
    if job.function.style == "script":
        tables = [read_input(spec) for spec in job.inputs]
        outcome.bytes_read = sum(input_bytes(spec) for spec in job.inputs)
        outcome.rows_in = sum(t.num_rows for t in tables)
        clock.lap("input_s")
        outputs = run_script(job, tables, channel, outcome)
    else:
        frames = [input_frame(spec, job.function.frame, outcome) for spec in job.inputs]
        outcome.from_cache = bool(frames) and outcome.cache_hits == len(frames)
        clock.lap("input_s")
        read_ahead(job.read_ahead, job.function.frame)
        keys = placed.handed(job, frames)
        ctx = Context(run_id=job.run_id, function=job.function.name, shard=job.shard,
                      shards=job.shards, mode=job.function.mode, params=job.params,
                      scratch=work / "scratch", outputs=tuple(names), models=models, device=DEVICE,
                      on_status=lambda text: channel.send(StatusLine(text)),
                      on_progress=lambda done, total: channel.send(ProgressReport(done, total)))
        # its model calls keep their GPU turn until it returns: the instances sharing the GPU
        # finish one after another, each writing its output while the next computes
        with process_group(job.rendezvous, job.shard, job.shards, DEVICE) as ctx.distributed, \
                keep_turns():
            result = load_handler(job)(ctx, *frames)
        if result is not None and not names:
            ctx.logger.warning("the function returned rows, but the run has no output table; "
                               "name one with OUTPUT_TABLE_NAMES => OUTPUT_TABLES('t')")
        outputs = to_outputs(result, names)
    clock.lap("function_s")  # includes copying device outputs back
    for spec, rows in zip(job.outputs, outputs, strict=True):
        # an empty shard's rows have no say in a new table's columns (their types may be
        # unknowable: an empty list of strings is a column of nulls to Arrow)
        if rows is not None and rows.num_rows:
            write_output(job, spec, rows, channel, outcome, writes,
                         partial(placed.known_shard, job, keys, result, names, spec.name))
    clock.lap("output_s")
    outcome.message = f"{outcome.rows_in} rows in, {outcome.rows_out} rows out"
    outcome.models = list(models.staged)
    outcome.cache_hits += models.hits
    outcome.cache_misses += models.misses
    return outcome


class _PhaseClock:
    """Seconds spent in each phase of an instance, noted as each one ends."""

    def __init__(self, into: dict[str, float]) -> None:
        self._into, self._last = into, time.perf_counter()

    def lap(self, phase: str) -> None:
        now = time.perf_counter()
        self._into[phase] = now - self._last
        self._last = now


@contextmanager
def _logs_in(work: Path) -> Iterator[None]:
    """Point this process's stdout and stderr (file descriptors 1 and 2) at the job's log files."""
    sys.stdout.flush()
    sys.stderr.flush()
    saved = os.dup(1), os.dup(2)
    with open(work / "stdout.log", "ab") as out, open(work / "stderr.log", "ab") as err:
        os.dup2(out.fileno(), 1)
        os.dup2(err.fileno(), 2)
        try:
            yield
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os.dup2(saved[0], 1)
            os.dup2(saved[1], 2)
            os.close(saved[0])
            os.close(saved[1])


# -- input ------------------------------------------------------------------------------------

def read_input(spec: InputRead) -> pa.Table:
    """This shard's rows of one input; a query runs in DuckDB over views of the shard's files."""
    if spec.sql is None:
        table = spec.tables[0]
        io = load_file_io(dict(table.io_properties), table.paths[0]) if table.paths else None
        return files.to_user(files.read_stored(table.paths, table.info, io), table.info)
    duck = duckdb.connect()
    try:
        scans = Scans(duck)
        for table in spec.tables:
            if table.paths:  # files in an object store: read through the warehouse's properties
                filesystems.register(duck, table.paths[0], dict(table.io_properties))
            for statement in table_view(table.name, scans.scan(table.info, list(table.paths))):
                duck.execute(render(statement))
        return duck.sql(spec.sql).to_arrow_table()
    except duckdb.Error as error:
        raise SqlError(f"the input query failed on shard data: {error}") from None
    finally:
        duck.close()


def input_bytes(spec: InputRead) -> int:
    """The bytes of the data files one input reads."""
    return sum(filesystems.total_size(table.paths, dict(table.io_properties))
               for table in spec.tables)


def input_frame(spec: InputRead, frame: str, outcome: Outcome) -> object:
    """One input in the handler's frame; a GPU frame is kept resident and reused while its
    data files (and so its table's snapshot) are unchanged, and may have been read ahead."""
    resident = DEVICE != "cpu" and frame in RESIDENT_FRAMES
    key = _frame_key(spec, frame)
    if resident:
        cached = process_cache(DEVICE).get(key)
        if cached is not None:
            outcome.cache_hits += 1
            outcome.rows_in += cached[1]
            return cached[0]
        outcome.cache_misses += 1
        ahead = _ahead.pop(key, None)
        try:
            converted, rows = ahead.result() if ahead is not None else (None, 0)
        except Exception:  # noqa: BLE001 (read again below: the error is this instance's to report)
            converted = None
        if converted is not None:
            outcome.rows_in += rows
            outcome.bytes_read += input_bytes(spec)
            process_cache(DEVICE).put(key, converted, rows)
            return converted
    if resident:
        converted, rows = _read_frame(spec, frame)
        process_cache(DEVICE).put(key, converted, rows)
    else:
        table = read_input(spec)
        converted, rows = to_frame(table, frame, DEVICE), table.num_rows
    outcome.rows_in += rows
    outcome.bytes_read += input_bytes(spec)
    return converted


def _frame_key(spec: InputRead, frame: str) -> Hashable:
    return (spec.sql, frame, tuple((t.name, t.paths) for t in spec.tables))


_ahead: dict[Hashable, Future[tuple[object, int]]] = {}  # frames being read ahead, by key
_reader = ThreadPoolExecutor(1, thread_name_prefix="indb-read-ahead")


def read_ahead(specs: tuple[InputRead, ...], frame: str) -> None:
    """Start reading the inputs of this slot's next shard into GPU frames, on a thread, so that
    reading the files overlaps this instance's turns at the GPU (``input_frame`` takes them).
    Frames read ahead for a shard that did not come are dropped."""
    if DEVICE == "cpu" or frame not in RESIDENT_FRAMES:
        return
    _ahead.clear()
    for spec in specs:
        key = _frame_key(spec, frame)
        if process_cache(DEVICE).get(key) is None:
            _ahead[key] = _reader.submit(_read_frame, spec, frame)


def _read_frame(spec: InputRead, frame: str) -> tuple[object, int]:
    """One input read into a GPU frame in this GPU's read turns (``gpus.ReadTurns``): the
    first shards of a run's instances reach the GPU one after another, not all late together."""
    with read_turn(DEVICE)():
        table = read_input(spec)
        return to_frame(table, frame, DEVICE), table.num_rows


# -- the function -----------------------------------------------------------------------------

_modules: dict[str, ModuleType] = {}


def load_handler(job: Job) -> Callable[..., Any]:
    """The handler function, its module imported once per code version in this process."""
    code_dir = job.code_dir
    module = _modules.get(code_dir)
    if module is None:
        # another version's helper modules must not shadow this version's
        code_root = str(Path(code_dir).parent)
        for name, loaded in list(sys.modules.items()):
            origin = getattr(loaded, "__file__", None) or ""
            if origin.startswith(code_root) and not origin.startswith(code_dir):
                del sys.modules[name]
        sys.path[:] = [p for p in sys.path if not p.startswith(code_root)]
        sys.path.insert(0, code_dir)
        entry_dir = str((Path(code_dir) / job.function.entry).parent)
        if entry_dir != code_dir:  # its siblings import as a script's do (FILE PATHS' folders)
            sys.path.insert(0, entry_dir)
        spec = importlib.util.spec_from_file_location(
            f"indb_udf_{Path(code_dir).name[:16]}", Path(code_dir) / job.function.entry)
        assert spec is not None and spec.loader is not None  # a .py file always has both
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        _modules[code_dir] = module
    handler = getattr(module, job.function.handler or "", None)
    if not callable(handler):
        raise FunctionError(f"{job.function.entry} has no function {job.function.handler}")
    return handler


def run_script(job: Job, tables: list[pa.Table], channel: Connection,
               outcome: Outcome) -> list[pa.Table | None]:
    """Run a Kinetica-style script as its own process; ``kinetica_proc.ProcData`` (indb's, or
    Kinetica's own shipped in FILE PATHS) reads the inputs and writes the outputs through the
    files of Kinetica's protocol in the instance's ``proc`` directory."""
    proc_dir = Path(job.work_dir) / "proc"
    proc_dir.mkdir(exist_ok=True)
    control = scripts.prepare(job, tables, proc_dir)
    script = Path(job.code_dir) / job.function.entry
    env = {**os.environ, "KINETICA_PCF": str(proc_dir / "control"),
           # a kinetica_proc.py shipped in FILE PATHS comes before indb's
           "PYTHONPATH": os.pathsep.join([job.code_dir, SHIM_DIR, os.environ.get("PYTHONPATH", "")])}
    stderr_log = Path(job.work_dir) / "stderr.log"
    stderr_start = stderr_log.stat().st_size if stderr_log.exists() else 0
    process = subprocess.Popen([sys.executable, str(script), *job.function.run_command_args[1:]],
                               cwd=job.code_dir, env=env)
    last_status = None
    while True:
        try:
            returncode = process.wait(timeout=SCRIPT_POLL)
        except subprocess.TimeoutExpired:
            returncode = None
        status = kf.read_status(control.status)
        if status is not None and status != last_status:
            last_status = status
            channel.send(StatusLine(status))
        if returncode is not None:
            break
    if returncode != 0:
        sys.stderr.flush()
        with open(stderr_log, "rb") as log:
            log.seek(stderr_start)
            raise scripts.ScriptFailed(*scripts.failure(job, log.read().decode(errors="replace"),
                                                        returncode))
    completion = kf.read_completion(control.output_control)
    if completion is None:
        raise FunctionError(f"{job.function.entry} exited without calling proc_data.complete()")
    outcome.proc_results = completion.results
    outcome.proc_bin_results = completion.bin_results
    return list(scripts.read_outputs(control, [scripts.declared_columns(job, o) for o in job.outputs]))


# -- output -----------------------------------------------------------------------------------

def write_output(job: Job, spec: Output, rows: pa.Table, channel: Connection, outcome: Outcome,
                 writes: _Writes,
                 known: Callable[[TableInfo], int | None] = lambda info: None) -> None:
    """Write one output's rows as invisible data files (or a RESULT file) and note them; the
    files are staged in ``writes`` (deleted if the instance fails before it ends). ``known``
    gives the shard every row belongs to, where the engine knows it (``placed.known_shard``)."""
    outcome.rows_out += rows.num_rows
    if isinstance(spec, ResultOutput):
        path = Path(job.work_dir) / f"result-{spec.name}.parquet"
        pq.write_table(rows, path)
        outcome.results[spec.name] = str(path)
        return
    if isinstance(spec, AppendOutput):
        info, metadata = spec.info, spec.metadata
        if info.generated_columns:  # computed here, as a write on the head computes them
            # (no files, no environment: the expression is the table's, not this host's)
            with closing(duckdb.connect(config={"enable_external_access": False})) as duck:
                try:
                    rows = generated.computed(rows, info, duck)
                except DataError as error:
                    raise DataError(f"the output does not fit table {spec.name}: {error}") from None
    else:
        info = new_table_info(job, spec, rows)
        metadata = provisional_metadata(info, spec.location)
        outcome.created[spec.name] = info
    try:
        stored = files.to_stored(rows, info, _rowids(job, info, channel))
    except (SchemaError, DataError) as error:
        raise type(error)(f"the output does not fit table {spec.name}: {error}") from None
    io = load_file_io(job.io_properties, metadata.location)
    staged = writes.staged(io, metadata.location)
    staged.extend(files.write_data_files(io, metadata, info, stored, known(info), pieces=True))
    outcome.files.setdefault(spec.name, []).extend(staged)


def new_table_info(job: Job, spec: CreateOutput, rows: pa.Table) -> TableInfo:
    """A new output table: RETURNS TABLE's columns or the returned ones; the input's shard key
    when the output carries its columns, else rows stay in the shard they were made on."""
    columns = spec.returns.columns if spec.returns else tuple(
        Column(f.name, inferred_sql_type(f.type)) for f in rows.schema)
    names = {c.name.lower() for c in columns}
    key = spec.shard_key if all(k.lower() in names for k in spec.shard_key) else ()
    return TableInfo.checked(spec.name, columns, key, spec.shards, False)


def ask(channel: Connection, question: Question) -> Any:
    """Ask the supervisor (which can read the catalog) and wait for its answer."""
    channel.send(question)
    reply = channel.recv()
    if isinstance(reply, Exception):
        raise reply
    return reply


def _rowids(job: Job, info: TableInfo, channel: Connection) -> Callable[[int], np.ndarray]:
    def allocate(count: int) -> int:
        return int(ask(channel, RowidsWanted(info.name, count)))
    if info.shard_source == ROWID and job.function.mode == "distributed" and job.shard < info.shards:
        return rowids_in_shard(allocate, info.shards, job.shard)
    return rowids_in_runs(allocate, info.shards)


if __name__ == "__main__":
    main(sys.argv)
