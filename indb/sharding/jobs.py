"""What the head sends to a shard instance and what comes back: plain picklable dataclasses."""

from __future__ import annotations

from dataclasses import dataclass, field

from pyiceberg.manifest import DataFile
from pyiceberg.table.metadata import TableMetadata

from indb.catalog.tables import TableInfo
from indb.registry.functions import FunctionInfo
from indb.registry.models import StagedModel

APPEND, CREATE, RESULT = "append", "create", "result"


@dataclass(frozen=True)
class TableRead:
    """One table as an instance reads it: its description and this shard's data files."""

    name: str
    info: TableInfo
    paths: tuple[str, ...]


@dataclass(frozen=True)
class InputRead:
    """One input of the function: a whole table (``sql`` None) or a query run over the tables."""

    sql: str | None
    tables: tuple[TableRead, ...]


@dataclass(frozen=True)
class OutputWrite:
    """Where one output goes: an existing table (APPEND), a table the run creates (CREATE, with
    the placement it inherits from the input), or rows handed back to a query (RESULT)."""

    name: str
    kind: str
    info: TableInfo | None = None          # APPEND: the table; CREATE: from RETURNS TABLE, if given
    metadata: TableMetadata | None = None  # APPEND: to write files with
    location: str | None = None            # CREATE: where the table will live
    shards: int = 1                        # CREATE: shard count and key inherited from the input
    shard_key: tuple[str, ...] = ()


@dataclass(frozen=True)
class Job:
    """One shard instance of a run."""

    run_id: str
    function: FunctionInfo
    code_dir: str
    shard: int
    shards: int
    inputs: tuple[InputRead, ...]
    outputs: tuple[OutputWrite, ...]
    params: dict[str, str]
    work_dir: str                 # logs, scratch space and RESULT files of this instance
    db_path: str
    io_properties: dict[str, str]
    deadline: float | None        # time.time() after which the instance is stopped


@dataclass
class Outcome:
    """How an instance ended, and what it wrote (files are committed by the head, or discarded)."""

    shard: int
    status: str
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
    seconds: dict[str, float] = field(default_factory=dict)  # input_s, function_s, output_s
