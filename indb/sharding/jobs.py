"""A run's jobs: what the head sends to each shard instance and what comes back (plain picklable
dataclasses), and ``plan_run``, which makes them from a plan and the facts of its tables.

``plan_run`` is pure: the executor reads the tables' snapshots (``TableFacts``) first, records the
run after, and talks to the cluster; this module only decides.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from pyiceberg.manifest import DataFile
from pyiceberg.table.metadata import TableMetadata

from indb.catalog.location import Location
from indb.catalog.tables import TableInfo
from indb.catalog.users import OWNER
from indb.errors import CatalogError
from indb.planner.functions import ExecuteFunction
from indb.registry.environments import EnvironmentInfo
from indb.registry.functions import FunctionInfo
from indb.registry.models import StagedModel
from indb.registry.runs import RunStatus
from indb.udf.distributed import Rendezvous

RUNS_DIR = "runs"  # in the database directory: each run's work directories, by run id
RESIDENT_FRAMES = ("torch", "cupy")  # frames a GPU instance keeps resident (and reads ahead)


@dataclass(frozen=True)
class TableRead:
    """One table as an instance reads it: its description and this shard's data files."""

    name: str
    info: TableInfo
    paths: tuple[str, ...]
    io_properties: tuple[tuple[str, str], ...] = ()  # how to reach files in an object store


@dataclass(frozen=True)
class InputRead:
    """One input of the function: a whole table (``sql`` None) or a query run over the tables."""

    sql: str | None
    tables: tuple[TableRead, ...]


@dataclass(frozen=True)
class AppendOutput:
    """Rows for an existing table, written with its current metadata."""

    name: str
    info: TableInfo
    metadata: TableMetadata

    @property
    def location(self) -> str:
        return self.metadata.location


@dataclass(frozen=True)
class CreateOutput:
    """Rows for a table the run creates at ``location``: its columns are RETURNS TABLE's
    (``returns``) or what the instances return; its placement is inherited from the input."""

    name: str
    location: str
    shards: int
    shard_key: tuple[str, ...]
    returns: TableInfo | None


@dataclass(frozen=True)
class ResultOutput:
    """Rows handed back to the query that called ``TABLE(f(...))``, as a Parquet file."""

    name: str


Output = AppendOutput | CreateOutput | ResultOutput


@dataclass(frozen=True)
class Job:
    """One shard instance of a run."""

    run_id: str
    function: FunctionInfo
    code_dir: str
    shard: int
    shards: int
    inputs: tuple[InputRead, ...]
    outputs: tuple[Output, ...]
    params: dict[str, str]
    work_dir: str                 # logs, scratch space and RESULT files of this instance
    db_path: str
    db_id: str                    # the database at db_path the run belongs to (Database.id)
    io_properties: dict[str, str]
    deadline: float | None        # time.time() after which the instance is stopped
    rank: int = 0                 # Kinetica's numbering of the instance, set where it is placed:
    tom: int = 0                  # rank 0 the head, workers from 1; TOMs from 0 within a rank
    python: str = ""              # its function environment's interpreter ("": indb's own)
    environment: EnvironmentInfo | None = None  # that environment's record: a host without
    # the interpreter (an object-store warehouse's) builds its own copy from it
    location: Location | None = None  # a database described by URLs: what workers open
    # the inputs of the shard that runs next in this instance's slot: a GPU host reads them
    # while this instance takes its turns at the GPU
    read_ahead: tuple[InputRead, ...] = ()
    rendezvous: Rendezvous | None = None  # a DDP run: where its process group meets
    # the model registry's state as the run began (``ModelStore.state``): the host keeps its
    # answers about models by it, so a warm run's instances need not ask again ("": ask)
    models_state: str = ""


@dataclass
class Outcome:
    """How an instance ended, and what it wrote (files are committed by the head, or discarded)."""

    shard: int
    status: RunStatus
    message: str = ""
    rows_in: int = 0
    rows_out: int = 0
    files: dict[str, list[DataFile]] = field(default_factory=dict)
    created: dict[str, TableInfo] = field(default_factory=dict)  # CREATE outputs: what was inferred
    results: dict[str, str] = field(default_factory=dict)        # RESULT outputs: Parquet file paths
    models: list[StagedModel] = field(default_factory=list)      # registered if the run succeeds
    traceback: str | None = None
    cache_hits: int = 0      # inputs found resident on the GPU
    cache_misses: int = 0    # inputs read from the files (and then kept)
    bytes_read: int = 0      # of the data files it read (nothing for inputs found resident)
    from_cache: bool = False  # every input was found resident: the shard was served from cache
    seconds: dict[str, float] = field(default_factory=dict)  # input_s, function_s, output_s
    proc_results: dict[str, str] = field(default_factory=dict)      # a script's results
    proc_bin_results: dict[str, bytes] = field(default_factory=dict)  # and its bin_results
    # the instance's record as it ended (``RunLog.update_instance``'s values), which the head
    # writes: the last instances' in the run's commit, not each in a write of its own first
    record: dict[str, object] = field(default_factory=dict)


@dataclass(frozen=True)
class TableFacts:
    """A table at the snapshot a run reads or appends to: what planning the run needs of it."""

    info: TableInfo
    metadata: TableMetadata
    files: Mapping[int, tuple[str, ...]]  # shard -> data file paths of the current snapshot
    snapshot_id: int | None

    def paths(self, shard: int | None) -> tuple[str, ...]:
        """The data files an instance of ``shard`` reads (None, or a replicated table: all)."""
        if shard is None or self.info.replicated:
            return tuple(p for group in self.files.values() for p in group)
        return self.files.get(shard, ())


@dataclass(frozen=True)
class RunPlan:
    """Everything a run will do, decided before any of it happens."""

    run_id: str
    function: FunctionInfo
    shards: tuple[int, ...]           # the instances: shard numbers
    jobs: tuple[Job, ...]
    outputs: tuple[Output, ...]
    max_per_worker: int | None        # instances one worker runs at a time (None: all)
    work_root: Path
    lineage: dict[str, object]        # what a model saved by the run records about its making
    distributed: str | None = None    # 'ddp': every instance at once, as one process group
    max_retries: int = 0              # tries more of a shard whose worker died (not for 'ddp')
    user: str = OWNER                 # who started it: the tables it creates are theirs


def plan_run(plan: ExecuteFunction, *, run_id: str, now: float, db_path: Path, db_id: str, code_dir: str,
             io_properties: Mapping[str, str], inputs: Mapping[str, TableFacts],
             existing_outputs: Mapping[str, TableFacts], location: Callable[[str], str],
             default_shards: int, result: bool = False, python: str = "",
             db_location: Location | None = None,
             environment: EnvironmentInfo | None = None, models_state: str = "",
             user: str = OWNER) -> RunPlan:
    """The jobs of a run of ``plan`` over the ``inputs`` tables as they are now.

    ``existing_outputs`` are the output tables that exist (appended to); the others are created
    at ``location(name)``. ``result`` hands the rows back to a query instead (``TABLE(f(...))``).
    ``python`` is the interpreter of the function's environment ("": the one indb runs in).
    ``user`` started it: the tables it creates become theirs in its commit.
    """
    function = plan.function
    sharded = {facts.info.shards for facts in inputs.values() if not facts.info.replicated}
    if len(sharded) > 1:
        raise CatalogError(f"the inputs of {function.name} have different shard counts "
                           f"({sorted(sharded)}); a distributed function reads co-located "
                           "shards, so its sharded inputs need the same SHARDS")
    distributed = function.mode == "distributed"
    # no input: a distributed run still has an instance per shard (Kinetica's: one per TOM)
    shard_count = sharded.pop() if sharded else (1 if inputs or not distributed else default_shards)
    shards = tuple(range(shard_count)) if distributed else (0,)
    work_root = db_path / RUNS_DIR / run_id
    key = next((f.info.shard_key for f in inputs.values() if not f.info.replicated), ())

    def output(name: str) -> Output:
        if name in existing_outputs:
            return AppendOutput(name, existing_outputs[name].info, existing_outputs[name].metadata)
        returns = TableInfo.checked(name, function.returns, (), shard_count, False) \
            if function.returns else None
        return CreateOutput(name, location(name), shard_count if inputs else default_shards, key,
                            returns)

    outputs: tuple[Output, ...] = (ResultOutput("result"),) if result else tuple(
        output(name) for name in plan.outputs)
    deadline = now + plan.options.timeout if plan.options.timeout else None
    jobs = tuple(
        Job(run_id=run_id, function=function, code_dir=code_dir, shard=shard, shards=len(shards),
            inputs=tuple(InputRead(spec.sql, tuple(
                TableRead(name, inputs[name].info, inputs[name].paths(shard if distributed else None),
                          tuple(io_properties.items()))
                for name in spec.tables)) for spec in plan.inputs),
            outputs=outputs, params=dict(plan.params), work_dir=str(work_root / f"shard-{shard}"),
            db_path=str(db_path), db_id=db_id, io_properties=dict(io_properties), deadline=deadline,
            python=python, location=db_location, environment=environment,
            models_state=models_state)
        for shard in shards)
    lineage: dict[str, object] = {
        "run_id": run_id, "function": function.name, "code_hash": function.code_hash,
        "inputs": [spec.sql or spec.tables[0] for spec in plan.inputs],
        "snapshots": {name: facts.snapshot_id for name, facts in inputs.items()},
        "params": dict(plan.params)}
    return RunPlan(run_id, function, shards, jobs, outputs, plan.options.max_concurrency_per_node,
                   work_root, lineage, plan.options.distributed,
                   0 if plan.options.distributed else plan.options.max_retries, user)
