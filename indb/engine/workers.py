"""``SHOW WORKERS``: the cluster's workers as ``indb cluster status`` shows them (the same
data: ``sharding.workers.cluster_status``), on the local cluster of an embedded database or on
the scheduler a database names. Asking starts the local cluster if it is not running yet."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pyarrow as pa

from indb.planner import workers as plans
from indb.result import Result
from indb.sharding.workers import GPU_RESOURCE, cluster_status

if TYPE_CHECKING:
    from indb.engine.core import Engine


def show_workers(engine: Engine, plan: plans.ShowWorkers, params: object) -> Result:
    shards = engine.db.load(plan.table)[1].shards if plan.table else engine.db.default_shards
    rows = cluster_status(engine.runner.cluster().client, shards)
    table = pa.table({
        "worker": pa.array([r.name for r in rows], pa.string()),
        "address": pa.array([r.address for r in rows], pa.string()),
        "host": pa.array([r.host for r in rows], pa.string()),
        "threads": pa.array([r.threads for r in rows], pa.int64()),
        "gpus": pa.array([int(r.resources.get(GPU_RESOURCE, 0)) for r in rows], pa.int64()),
        "resources": pa.array([",".join(f"{k}={v:g}" for k, v in sorted(r.resources.items()))
                               for r in rows], pa.string()),
        "shards": pa.array([list(r.shards) for r in rows], pa.list_(pa.int64())),
        "memory_bytes": pa.array([r.memory for r in rows], pa.int64()),
        "health": pa.array([r.health for r in rows], pa.string()),
    })
    return Result(table, f"{len(rows)} workers; shards of a table of {shards} shards")
