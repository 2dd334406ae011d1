"""The host's side of one instance, run in this process: input read, handler called, output
files written (or deleted on failure), reports and questions sent to the supervisor."""

import dataclasses
import multiprocessing
import threading
from contextlib import contextmanager
from pathlib import Path

import pyarrow as pa
import pytest

from indb.catalog.database import Database
from indb.catalog.tables import TableInfo
from indb.catalog.types import Column
from indb.planner import ExecuteFunction, InputSpec, RunOptions
from indb.registry.code import code_hash, inspect_code
from indb.registry.functions import FunctionInfo, FunctionStore
from indb.errors import CatalogError
from indb.registry.runs import RunLog, RunStatus
from indb.runtime.cache import ResidentCache
from indb.sharding import host
from indb.sharding.jobs import TableFacts, plan_run
from indb.sharding.messages import RowidsWanted, StatusLine
from indb.storage import files, read_threads
from indb.storage.placement import rowids_in_runs


@pytest.fixture
def db(tmp_path):
    database = Database(tmp_path / "db")
    info = TableInfo("src", (Column("id", "BIGINT"), Column("x", "DOUBLE")), ("id",), 2)
    table = database.create_table(info)
    stored = files.to_stored(pa.table({"id": range(10), "x": [i * 1.5 for i in range(10)]}), info,
                             rowids_in_runs(lambda n: 0, 8))
    files.commit(database, "src", add=files.write_data_files(table.io, table.metadata, info, stored))
    yield database
    database.close()


def job_of(db, code, outputs=("out",), shard=0):
    """Register ``code`` (a handler named f) and plan a run of it over src; one shard's job."""
    sources = {"f.py": code.encode()}
    code_facts = inspect_code(sources, "f.py", "f", must_have_handler=True)
    function = FunctionInfo("f", "distributed", code_facts.style, "f.py", code_facts.handler,
                            code_facts.frame, code_facts.params, (), "python", (), ("f.py",),
                            code_hash=code_hash(sources))
    store = FunctionStore(db)
    store.create(function, sources, replace=True)
    plan = ExecuteFunction(function, (InputSpec(None, ("src",)),), outputs, (), RunOptions(), "")
    run = plan_run(plan, run_id="r1", now=0, db_path=db.path, db_id=db.id,
                   code_dir=str(store.code_dir(function)),
                   io_properties=db.catalog.properties, inputs={"src": facts(db, "src")},
                   existing_outputs={name: facts(db, name) for name in outputs if db.exists(name)},
                   location=db.table_location, default_shards=8)
    return run.jobs[shard]


def facts(db, name):
    table, info = db.load(name)
    by_shard = {}
    for data_file in files.data_files(table):
        by_shard.setdefault(files.shard_of(data_file), []).append(files.local_path(data_file.file_path))
    return TableFacts(info, table.metadata, {k: tuple(v) for k, v in by_shard.items()}, None)


def run_in_this_process(db, job):
    """run_job with a supervisor thread on the other end of its channel: it answers row id
    questions from the catalog and keeps what it is told."""
    ours, theirs = multiprocessing.Pipe()
    heard = []

    def supervise():
        while True:
            try:
                message = ours.recv()
            except EOFError:
                return
            heard.append(message)
            if isinstance(message, RowidsWanted):
                ours.send(db.allocate_rowids(message.table, message.count))

    listener = threading.Thread(target=supervise)
    listener.start()
    try:
        outcome = host.run_job(job, theirs)
    finally:
        theirs.close()
        listener.join()
    return outcome, heard


def written(db, name):
    return sorted((Path(db.path) / "warehouse" / "main" / name).rglob("*.parquet"))


def test_an_instance_reads_its_shard_calls_the_handler_and_writes_invisible_files(db):
    job = job_of(db, "def f(ctx, t):\n    ctx.status('half way')\n"
                     "    return {'id': t['id'], 'y': [v * 2 for v in t['x'].to_pylist()]}\n")
    outcome, heard = run_in_this_process(db, job)
    assert outcome.status == RunStatus.COMPLETED, outcome.traceback
    read = job.inputs[0].tables[0]
    assert outcome.rows_in == files.read_stored(read.paths, read.info).num_rows == outcome.rows_out > 0
    assert StatusLine("half way") in heard
    created = outcome.created["out"]
    assert [c.name for c in created.columns] == ["id", "y"] and created.shard_key == ("id",)
    assert {files.shard_of(f) for f in outcome.files["out"]} == {0}  # shard 0's rows stay in 0
    assert len(written(db, "out")) == len(outcome.files["out"]) and not db.exists("out")
    assert set(outcome.seconds) == {"input_s", "function_s", "output_s"}


def test_a_keyless_output_asks_for_row_ids_that_land_in_the_instances_shard(db):
    job = job_of(db, "def f(ctx, t):\n    return {'y': t['x']}\n", shard=1)
    outcome, heard = run_in_this_process(db, job)
    assert outcome.status == RunStatus.COMPLETED, outcome.traceback
    assert any(isinstance(m, RowidsWanted) and m.table == "out" for m in heard)
    assert {files.shard_of(f) for f in outcome.files["out"]} == {1}


def test_a_failing_handler_leaves_no_files_and_says_why(db):
    code = ("def f(ctx, t):\n    if ctx.shard == 0:\n        raise ValueError('bad shard')\n"
            "    return t\n")
    job = job_of(db, code, outputs=("out", "other"))
    outcome, _ = run_in_this_process(db, job)
    assert outcome.status == RunStatus.ERROR and outcome.message == "ValueError: bad shard"
    assert "raise ValueError('bad shard')" in outcome.traceback
    assert written(db, "out") == [] and outcome.files == {}


def test_an_instance_decodes_its_files_with_its_share_of_the_cores(db, monkeypatch):
    # (a Dask nanny's OMP_NUM_THREADS=1 had left every instance process one decoding thread)
    monkeypatch.delenv("INDB_READ_THREADS", raising=False)
    monkeypatch.setenv(read_threads.MACHINE_SLOTS_VARIABLE, "4")
    monkeypatch.setattr(read_threads, "available_cores", lambda: 16)
    size = pa.cpu_count()
    job = job_of(db, "import pyarrow\ndef f(ctx, t):\n    ctx.status(str(pyarrow.cpu_count()))\n")
    try:
        outcome, heard = run_in_this_process(db, job)
        assert outcome.status == RunStatus.COMPLETED, outcome.traceback
        assert StatusLine("4") in heard
        monkeypatch.setenv("INDB_READ_THREADS", "none")
        outcome, _ = run_in_this_process(db, job)
    finally:
        pa.set_cpu_count(size)
    assert outcome.status == RunStatus.ERROR
    assert outcome.message.startswith("INDB_READ_THREADS='none' is not a positive whole number")


def test_an_output_that_fails_after_another_was_written_deletes_both(db):
    db.create_table(TableInfo("other", (Column("a", "INTEGER", nullable=False),), (), 2))
    code = "def f(ctx, t):\n    return {'out': t, 'other': {'a': [1, None]}}\n"
    job = job_of(db, code, outputs=("out", "other"))
    outcome, _ = run_in_this_process(db, job)
    assert outcome.status == RunStatus.ERROR
    assert outcome.message == ("the output does not fit table other: column a is NOT NULL but 1 "
                               "value(s) are NULL")
    assert "write_output" in outcome.traceback  # out's files had been written when it failed
    assert written(db, "out") == [] and written(db, "other") == []


def test_a_gpu_host_reads_the_next_shard_ahead_and_its_instance_takes_it(db, monkeypatch):
    """read_ahead reads on its thread; the next instance's input_frame takes that frame (one
    read in all, none on the instance's own thread) and keeps it resident."""
    second = job_of(db, "def f(ctx, t):\n    return None\n", shard=1)
    cache = ResidentCache(1 << 30)
    reads = []
    real_read = host.read_input

    def counted_read(spec):
        reads.append(threading.current_thread().name)
        return real_read(spec)
    monkeypatch.setattr(host, "DEVICE", "cuda")  # a GPU host, whose frames here stay Arrow tables
    monkeypatch.setattr(host, "process_cache", lambda device: cache)
    monkeypatch.setattr(host, "to_frame", lambda table, frame, device: table)
    monkeypatch.setattr(host, "read_input", counted_read)
    host.read_ahead(second.inputs, "torch")      # while shard 0's instance runs
    outcome = host.Outcome(1, RunStatus.RUNNING)
    frame = host.input_frame(second.inputs[0], "torch", outcome)
    expected = files.read_stored(second.inputs[0].tables[0].paths, second.inputs[0].tables[0].info)
    assert frame.num_rows == outcome.rows_in == expected.num_rows > 0
    assert len(reads) == 1 and reads[0].startswith("indb-read-ahead")
    assert cache.get(host._frame_key(second.inputs[0], "torch"))[0] is frame
    host.read_ahead(second.inputs, "torch")      # resident already: nothing is read again
    assert host.input_frame(second.inputs[0], "torch", outcome) is frame and len(reads) == 1
    host.read_ahead(second.inputs, "numpy")       # frames a host does not keep: not read ahead
    assert len(reads) == 1


def test_a_gpu_hosts_reads_its_own_and_ahead_take_the_gpus_read_turns(db, monkeypatch):
    """Both ways a GPU frame is read (the instance's own shard, and the next one read ahead) read
    and stage it inside a read turn of the GPU, and give the turn back after."""
    first, second = (job_of(db, "def f(ctx, t):\n    return None\n", shard=s) for s in (0, 1))
    events = []
    real_read = host.read_input

    @contextmanager
    def turn():
        events.append("turn taken")
        yield
        events.append("turn given back")

    def read(spec):
        events.append(f"read {spec.tables[0].paths}")
        return real_read(spec)
    monkeypatch.setattr(host, "DEVICE", "cuda")
    monkeypatch.setattr(host, "process_cache", lambda device: ResidentCache(1 << 30))
    monkeypatch.setattr(host, "to_frame", lambda table, frame, device: events.append("staged") or table)
    monkeypatch.setattr(host, "read_input", read)
    monkeypatch.setattr(host, "read_turn", lambda device: turn)
    host.input_frame(first.inputs[0], "torch", host.Outcome(0, RunStatus.RUNNING))
    host.read_ahead(second.inputs, "torch")
    host.input_frame(second.inputs[0], "torch", host.Outcome(1, RunStatus.RUNNING))
    reads = [f"read {job.inputs[0].tables[0].paths}" for job in (first, second)]
    assert events == ["turn taken", reads[0], "staged", "turn given back",
                      "turn taken", reads[1], "staged", "turn given back"]


def test_an_instance_counts_the_bytes_it_read_and_none_for_a_resident_shard(db, monkeypatch):
    """A GPU host (frames kept as Arrow tables here) reads the shard's files once: the first
    instance reports their bytes, the second is served from the cache and reads none."""
    job = job_of(db, "def f(ctx, t):\n    return None\n", outputs=())
    cache = ResidentCache(1 << 30)
    monkeypatch.setattr(host, "DEVICE", "cuda")
    monkeypatch.setattr(host, "process_cache", lambda device: cache)
    monkeypatch.setattr(host, "to_frame", lambda table, frame, device: table)
    job = dataclasses.replace(job, function=dataclasses.replace(job.function, frame="torch"))
    paths = job.inputs[0].tables[0].paths
    first, _ = run_in_this_process(db, job)
    assert first.status == RunStatus.COMPLETED, first.traceback
    assert first.bytes_read == sum(Path(p).stat().st_size for p in paths) > 0
    assert not first.from_cache and first.cache_misses == 1
    second, _ = run_in_this_process(db, job)
    assert (second.bytes_read, second.from_cache, second.cache_hits) == (0, True, 1)
    assert second.rows_in == first.rows_in > 0


class _Supervisor:
    """A channel whose other end answers every question with ``answer`` and counts them."""

    def __init__(self, answer):
        self.answer, self.asked = answer, []

    def send(self, question):
        self.asked.append(question)

    def recv(self):
        return self.answer


def test_a_hosts_answers_about_models_are_kept_by_the_registrys_state(db):
    """A warm run's instance loads its model without asking its supervisor while the registry's
    state is the one its run began in; another state, or none, asks; errors are not kept."""
    job = job_of(db, "def f(ctx, t):\n    return None\n")
    warm = dataclasses.replace(job, models_state="s1")
    supervisor = _Supervisor(answer := object())
    assert host._model_info(warm, supervisor, "m", None) is answer
    assert host._model_info(dataclasses.replace(warm, run_id="r2"), supervisor, "M", None) is answer
    assert len(supervisor.asked) == 1  # the second run's instance knew it
    host._model_info(warm, supervisor, "m", "production")  # another version asked for
    host._model_info(dataclasses.replace(warm, models_state="s2"), supervisor, "m", None)
    host._model_info(dataclasses.replace(warm, db_id="another"), supervisor, "m", None)
    host._model_info(dataclasses.replace(warm, models_state=""), supervisor, "m", None)
    assert len(supervisor.asked) == 5
    failing = _Supervisor(CatalogError("model n does not exist"))
    for _ in range(2):
        with pytest.raises(CatalogError):
            host._model_info(warm, failing, "n", None)
    assert len(failing.asked) == 2


def test_a_runs_jobs_carry_the_model_registrys_state_as_it_began(db):
    from indb.registry.models import ModelStore
    from indb.sharding.executor import FunctionRunner
    store = ModelStore(db)
    runner = FunctionRunner(db, FunctionStore(db), RunLog(db.engine), store, {})  # no cluster started
    job = job_of(db, "def f(ctx, t):\n    return None\n")
    plan = ExecuteFunction(job.function, (InputSpec(None, ("src",)),), (), (), RunOptions(), "")
    run = runner.prepare(plan)
    assert {j.models_state for j in run.jobs} == {store.state()}
