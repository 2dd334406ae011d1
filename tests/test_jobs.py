"""Planning a run's jobs, on its own: a plan and table facts in, jobs out, nothing read or written."""

from pathlib import Path

import pytest

from indb.catalog.database import provisional_metadata
from indb.catalog.tables import TableInfo
from indb.catalog.types import Column
from indb.errors import CatalogError
from indb.planner import ExecuteFunction, InputSpec, RunOptions
from indb.registry.functions import FunctionInfo
from indb.sharding.jobs import AppendOutput, CreateOutput, ResultOutput, TableFacts, plan_run

COLUMNS = (Column("sym", "VARCHAR"), Column("px", "DOUBLE"))


def function(mode="distributed", returns=()):
    return FunctionInfo("f", mode, "handler", "f.py", "f", "arrow", None, returns, "python",
                        ("f.py",), ("f.py",), code_hash="abc")


def facts(name, shards=4, replicated=False, files=None):
    info = TableInfo(name, COLUMNS, () if replicated else ("sym",), 1 if replicated else shards,
                     replicated)
    files = files if files is not None else {k: (f"/w/{name}/{k}.parquet",) for k in range(info.shards)}
    return TableFacts(info, provisional_metadata(info, f"file:///w/{name}"), files, 7)


def plan(fn=None, inputs=("ticks",), outputs=("out",), options=RunOptions()):
    return ExecuteFunction(fn or function(), tuple(InputSpec(None, (t,)) for t in inputs), outputs,
                           (("k", "v"),), options, "EXECUTE FUNCTION f(...)")


def run(p, inputs, existing=None, **kw):
    return plan_run(p, run_id="r1", now=100.0, db_path=Path("/db"), db_id="d1", code_dir="/db/code/abc",
                    io_properties={}, inputs=inputs, existing_outputs=existing or {},
                    location=lambda name: f"file:///db/warehouse/main/{name}", default_shards=8, **kw)


def test_one_job_a_shard_each_reading_its_own_files_and_the_replicated_table_whole():
    inputs = {"ticks": facts("ticks", 4), "params": facts("params", replicated=True,
                                                           files={0: ("/w/params/a.parquet",)})}
    r = run(plan(inputs=("ticks", "params")), inputs)
    assert r.shards == (0, 1, 2, 3) and [j.shard for j in r.jobs] == [0, 1, 2, 3]
    for job in r.jobs:
        ticks, params = (read.tables[0] for read in job.inputs)
        assert ticks.paths == (f"/w/ticks/{job.shard}.parquet",)
        assert params.paths == ("/w/params/a.parquet",)
        assert job.work_dir == f"/db/runs/r1/shard-{job.shard}" and job.shards == 4
        assert job.params == {"k": "v"} and job.deadline is None


def test_a_shard_without_files_reads_nothing():
    r = run(plan(), {"ticks": facts("ticks", 4, files={1: ("/w/ticks/x.parquet",)})})
    assert [j.inputs[0].tables[0].paths for j in r.jobs] == [(), ("/w/ticks/x.parquet",), (), ()]


def test_nondistributed_is_one_job_reading_every_file():
    r = run(plan(function("nondistributed")), {"ticks": facts("ticks", 3)})
    assert r.shards == (0,) and len(r.jobs) == 1
    assert len(r.jobs[0].inputs[0].tables[0].paths) == 3


def test_outputs_append_to_existing_tables_and_create_new_ones_placed_like_the_input():
    r = run(plan(outputs=("old", "new")), {"ticks": facts("ticks", 4)}, {"old": facts("old", 2)})
    old, new = r.outputs
    assert isinstance(old, AppendOutput) and old.info.shards == 2
    assert isinstance(new, CreateOutput) and (new.shards, new.shard_key, new.returns) == (4, ("sym",), None)
    assert new.location == "file:///db/warehouse/main/new"
    assert all(job.outputs == r.outputs for job in r.jobs)


def test_returns_table_types_a_new_output():
    fn = function(returns=(Column("sym", "VARCHAR"), Column("score", "FLOAT")))
    (out,) = run(plan(fn), {"ticks": facts("ticks", 2)}).outputs
    assert [c.sql_type for c in out.returns.columns] == ["VARCHAR", "FLOAT"]


def test_a_table_function_hands_its_rows_back():
    r = run(plan(outputs=()), {"ticks": facts("ticks", 2)}, result=True)
    assert r.outputs == (ResultOutput("result"),)


def test_options_become_the_deadline_and_the_per_worker_limit():
    options = RunOptions(timeout=2.5, max_concurrency_per_node=3)
    r = run(plan(options=options), {"ticks": facts("ticks", 2)})
    assert {job.deadline for job in r.jobs} == {102.5} and r.max_per_worker == 3


def test_lineage_names_the_snapshots_read():
    r = run(plan(), {"ticks": facts("ticks", 2)})
    assert r.lineage["snapshots"] == {"ticks": 7} and r.lineage["code_hash"] == "abc"


def test_sharded_inputs_must_have_one_shard_count():
    with pytest.raises(CatalogError, match="different shard counts"):
        run(plan(inputs=("a", "b")), {"a": facts("a", 4), "b": facts("b", 8)})


def test_without_input_a_distributed_run_has_an_instance_per_shard():
    """As Kinetica runs an input-less UDF once per TOM: here once per shard of the default count."""
    r = run(plan(inputs=()), {})
    assert r.shards == tuple(range(8)) and [j.shards for j in r.jobs] == [8] * 8
    (out,) = r.outputs
    assert isinstance(out, CreateOutput) and out.shards == 8
    assert run(plan(function("nondistributed"), inputs=()), {}).shards == (0,)
    replicated_only = run(plan(inputs=("params",)), {"params": facts("params", replicated=True)})
    assert replicated_only.shards == (0,)  # a replicated table is whole on every shard: read once
