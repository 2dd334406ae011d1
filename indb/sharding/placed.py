"""Output rows whose shard is known without hashing them (issue 18).

An instance's output rows go to the partitions ``bucket(N, key)`` of their shard key, which
pyiceberg computes row by row (its murmur3 of 125k ids took 5-15 ms of the last instance's write
on the developers' VM, with nothing else to do beside it). When a function returns its input's
shard key column itself (``mnist_infer``'s ``{"id": images["id"], ...}``), every output row's key
is a key of this instance's shard, so every row's bucket is the shard's number, and nothing needs
hashing. That is only known when:

- the input is a whole table (not a query, which could compute the column), not replicated,
  sharded by that one column, read for this shard by a distributed function's instance (so its every key buckets to the shard, or is
  NULL: the output's key must then have no NULLs, which the write checks);
- the output table is sharded by a column of that name, of the same type, into as many shards;
- the returned column is the very object handed to the function, and cannot have changed since:
  a read-only numpy array (Arrow's memory, as the numpy frame gives it), or a torch tensor whose
  in-place write counter (``_version``, shared with its views) is what it was at the hand-off.

Anything else (a pandas frame, a copy, a tensor written in place) is hashed as before.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from indb.catalog.tables import TableInfo
from indb.sharding.jobs import Job


@dataclass(frozen=True)
class KeyColumn:
    """A shard key column as handed to the function: every value buckets to the job's shard."""

    name: str
    shards: int
    sql_type: str
    value: object
    version: int | None  # a torch tensor's in-place write counter at the hand-off


def handed(job: Job, frames: Sequence[object]) -> list[KeyColumn]:
    """The shard key columns of ``frames`` (the function's inputs, in ``job.inputs`` order) that
    hold only keys of this instance's shard and cannot change unseen (module docstring)."""
    keys: list[KeyColumn] = []
    if job.function.mode != "distributed":  # one instance reads every shard
        return keys
    for spec, frame in zip(job.inputs, frames, strict=True):
        if spec.sql is not None or len(spec.tables) != 1 or not isinstance(frame, Mapping):
            continue
        info = spec.tables[0].info
        source = _key_source(info)
        column = info.column(source) if source else None
        if source is None or column is None or job.shard >= info.shards:
            continue
        value = _named(frame, source)
        state = _unchanging(value)
        if state is not False:
            keys.append(KeyColumn(source, info.shards, column.sql_type, value,
                                  None if state is True else state))
    return keys


def known_shard(job: Job, keys: Sequence[KeyColumn], result: object, names: Sequence[str],
                output: str, info: TableInfo) -> int | None:
    """``job.shard`` when the rows the function returned for ``output`` (of a run writing the
    outputs ``names``) carry one of ``keys``, unchanged, as ``info``'s shard key; else None."""
    source = _key_source(info)
    column = info.column(source) if source else None
    columns = _columns_of(result, names, output)
    if source is None or column is None or columns is None:
        return None
    value = _named(columns, source)
    for key in keys:
        if value is key.value and key.name.lower() == source.lower() \
                and key.shards == info.shards and key.sql_type == column.sql_type \
                and _unchanging(value) == (True if key.version is None else key.version):
            return job.shard
    return None


def _key_source(info: TableInfo) -> str | None:
    """The one column a table is sharded by; None for a row id, a composite key or replicas."""
    return info.shard_key[0] if len(info.shard_key) == 1 and not info.replicated else None


def _named(columns: Mapping[object, object], name: str) -> object:
    return next((v for k, v in columns.items() if str(k).lower() == name.lower()), None)


def _unchanging(value: object) -> bool | int:
    """True for a read-only numpy array, a torch tensor's write counter, else False."""
    if isinstance(value, np.ndarray):
        return not value.flags.writeable
    version = getattr(value, "_version", None)
    return version if type(value).__module__.startswith("torch") and isinstance(version, int) \
        else False


def _columns_of(result: object, names: Sequence[str], output: str) -> Mapping[object, object] | None:
    """The dict of columns the function returned for ``output``, as ``frames.to_outputs`` reads
    its return value (one output's dict, or a dict of them keyed by output name)."""
    if not isinstance(result, Mapping):
        return None
    lowered = [n.lower() for n in names]
    if result and all(str(k).lower() in lowered for k in result):
        inner = _named(result, output)
        return inner if isinstance(inner, Mapping) else None
    return result if len(names) == 1 else None
