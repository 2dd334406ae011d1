"""Output rows whose shard is known without hashing them (``indb.sharding.placed``)."""

import dataclasses

import pyarrow as pa
import pytest
from pyiceberg.transforms import BucketTransform
from pyiceberg.types import LongType
from test_host import db, job_of, run_in_this_process  # noqa: F401 (db: the fixture)

from indb.catalog.tables import TableInfo
from indb.catalog.types import Column
from indb.registry.runs import RunStatus
from indb.sharding import placed
from indb.sharding.jobs import InputRead
from indb.storage import files

NUMPY = """from indb import udf

@udf.function(frame="numpy")
def f(ctx, t):
    return {"id": %s, "y": t["x"] * 2}
"""
TORCH = """from indb import udf

@udf.function(frame="torch")
def f(ctx, t):
    ids = t["id"]
    %s
    return {"id": ids, "y": t["x"] * 2}
"""


@pytest.fixture
def splits(monkeypatch):
    """The calls that bucketed rows one by one (``placement.split_by_partition``)."""
    calls = []
    split = files.split_by_partition
    monkeypatch.setattr(files, "split_by_partition", lambda *a: calls.append(a) or split(*a))
    return calls


def rows_in_right_buckets(outcome):
    """Each written file's rows all have its partition's bucket (2 shards, keyed by id)."""
    bucket = BucketTransform(2).pyarrow_transform(LongType())
    for data_file in outcome.files["out"]:
        ids = files.read_stored([data_file.file_path], outcome.created["out"])["id"]
        if set(bucket(ids).to_pylist()) != {files.shard_of(data_file)}:
            return False
    return True


@pytest.mark.parametrize("code", [NUMPY % 't["id"]', TORCH % "pass"])
def test_an_input_key_column_returned_as_it_came_is_written_without_bucketing_a_row(db, splits, code):
    if "torch" in code:
        pytest.importorskip("torch")
    outcome, _ = run_in_this_process(db, job_of(db, code, shard=1))
    assert outcome.status == RunStatus.COMPLETED, outcome.traceback
    assert splits == [] and outcome.rows_out > 0
    assert {files.shard_of(f) for f in outcome.files["out"]} == {1} and rows_in_right_buckets(outcome)


@pytest.mark.parametrize("code", [NUMPY % 't["id"].copy()', NUMPY % 't["id"] + 0',
                                  TORCH % "ids.add_(0)", TORCH % "ids[:1].mul_(1)"])
def test_a_key_column_copied_or_written_in_place_is_bucketed(db, splits, code):
    if "torch" in code:
        pytest.importorskip("torch")
    outcome, _ = run_in_this_process(db, job_of(db, code, shard=1))
    assert outcome.status == RunStatus.COMPLETED, outcome.traceback
    assert len(splits) == 1 and rows_in_right_buckets(outcome)


def test_only_a_whole_table_read_by_a_distributed_instance_has_known_keys(db):
    job = job_of(db, NUMPY % 't["id"]', shard=1)
    read = job.inputs[0].tables[0]
    frame = {"id": pa.array([1, 2]).to_numpy(), "x": pa.array([1.0, 2.0]).to_numpy()}
    out = TableInfo("out", (Column("id", "BIGINT"), Column("y", "DOUBLE")), ("id",), 2)
    result = {"id": frame["id"], "y": frame["x"]}
    keys = placed.handed(job, [frame])
    assert placed.known_shard(job, keys, result, ["out"], "out", out) == 1
    assert placed.known_shard(job, keys, {"out": result}, ["out"], "out", out) == 1
    others = {  # each one thing different: the key's shard is not known
        "query": dataclasses.replace(job, inputs=(InputRead("SELECT id + 1 AS id FROM src", (read,)),)),
        "one instance": dataclasses.replace(job, function=dataclasses.replace(job.function,
                                                                              mode="nondistributed"))}
    for what, other in others.items():
        assert placed.handed(other, [frame]) == [], what
    for what, table in {"shards": dataclasses.replace(out, shards=4),
                        "type": dataclasses.replace(out, columns=(Column("id", "INTEGER"), out.columns[1])),
                        "key": dataclasses.replace(out, shard_key=("y",)),
                        "no key": dataclasses.replace(out, shard_key=())}.items():
        assert placed.known_shard(job, keys, result, ["out"], "out", table) is None, what
    writable = {"id": frame["id"].copy(), "x": frame["x"]}
    assert placed.handed(job, [writable]) == []
