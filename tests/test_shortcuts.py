"""The cached-plan fast path of single-row PREDICT: same results as the ordinary path, taken only
while nothing changed (a new version, a moved alias, a revoked grant), and only for its shape."""

from __future__ import annotations

import pytest
import torch

import indb
from indb.errors import PrivilegeError
from indb.registry.models import StagedModel, staging_dir
from indb.runtime.predictors import save_model

QUERY = "SELECT PREDICT('m', 'production', 0.5::FLOAT, -1.5::FLOAT, 2::DOUBLE, 0.25::FLOAT) AS y"


def register(conn: indb.Connection, seed: int) -> int:
    torch.manual_seed(seed)
    model = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.ReLU(), torch.nn.Linear(8, 1))
    with staging_dir(conn.path) as directory:
        shape, dtype, width = save_model(model, torch.randn(5, 4), "torch", directory)
        info = conn._engine.models.register(
            StagedModel("m", "torch", str(directory), shape, dtype, "value", width, {}), {})
    return info.version


def bare(conn: indb.Connection, version: int, row: list[float]) -> float:
    import numpy as np
    return float(conn.model("m", version).predict(np.asarray([row], dtype=np.float64))[0])


@pytest.fixture
def models(fresh):
    register(fresh, 1)
    register(fresh, 2)
    fresh.sql("ALTER MODEL m SET ALIAS production = 1")
    return fresh


def taken(conn: indb.Connection, sql: str, params: object = None) -> bool:
    return conn._engine.shortcuts.run(conn._engine, sql, params) is not None


def test_the_fast_path_answers_like_the_ordinary_one(models):
    cursor = models.cursor()
    cursor.execute(QUERY)
    first = (cursor.description, cursor.fetchall())
    assert taken(models, QUERY)  # learnt from that first run
    cursor.execute(QUERY)
    assert (cursor.description, cursor.fetchall()) == first
    assert first[1][0][0] == pytest.approx(bare(models, 1, [0.5, -1.5, 2.0, 0.25]), abs=1e-6)
    with_params = "SELECT PREDICT('m', ?, ?, ?, ?)"
    slow = models.execute(with_params, [0.5, -1.5, 2, 0.25]).fetchall()
    assert taken(models, with_params, [0.5, -1.5, 2, 0.25])
    assert models.execute(with_params, [0.5, -1.5, 2, 0.25]).fetchall() == slow
    assert models.execute(with_params, [1.0, 1.0, 1.0, 1.0]).fetchone()[0] == pytest.approx(
        bare(models, 2, [1.0, 1.0, 1.0, 1.0]), abs=1e-6)
    assert not taken(models, with_params, ["a", 1, 1, 1])  # not a number: the ordinary path


def test_a_moved_alias_or_a_new_version_sends_it_back_to_planning(models):
    before = models.sql(QUERY).fetchone()[0]
    assert taken(models, QUERY)
    models.sql("ALTER MODEL m SET ALIAS production = 2")
    assert not taken(models, QUERY)
    moved = models.sql(QUERY).fetchone()[0]
    assert moved == pytest.approx(bare(models, 2, [0.5, -1.5, 2.0, 0.25]), abs=1e-6)
    assert moved != before
    latest = "SELECT PREDICT('m', 1::FLOAT, 1::FLOAT, 1::FLOAT, 1::FLOAT)"
    models.sql(latest)
    register(models, 3)  # another connection of the catalog commits: the stamp moves
    assert not taken(models, latest)
    assert models.sql(latest).fetchone()[0] == pytest.approx(bare(models, 3, [1.0] * 4), abs=1e-6)


def test_only_table_free_predict_of_literals_and_parameters_is_kept(models):
    models.sql("CREATE TABLE t (a FLOAT)")
    models.sql("INSERT INTO t VALUES (1)")
    for sql in ["SELECT PREDICT('m', a, a, a, a) FROM t", "SELECT 1",
                "SELECT PREDICT('m', 1, 0.5, 0.5, 0.5, 0.5)",  # DECIMAL literals: DuckDB's own types
                "SELECT PREDICT('m', 0.5::FLOAT, 0.5::FLOAT, 0.5::FLOAT, 0.5::FLOAT) + 1"]:
        models.sql(sql).fetchall()
        assert not taken(models, sql), sql


def test_privileges_are_checked_on_every_run(models):
    models.sql("CREATE USER alice")
    models.sql("GRANT USAGE ON MODEL m TO alice")
    alice = indb.connect(models.path, user="alice", cluster="threads", workers=1)
    try:
        assert alice.sql(QUERY).fetchone()
        assert taken(alice, QUERY)
        models.sql("REVOKE USAGE ON MODEL m FROM alice")
        with pytest.raises(PrivilegeError):
            alice.sql(QUERY)
        alice._engine.shortcuts._kept.clear()  # even with the stamp unchanged, the check runs
        models.sql("GRANT USAGE ON MODEL m TO alice")
        alice.sql(QUERY)
        shortcut = alice._engine.shortcuts._kept[QUERY]
        models.sql("REVOKE USAGE ON MODEL m FROM alice")
        alice._engine.shortcuts._kept[QUERY] = shortcut.__class__(
            **{**shortcut.__dict__, "stamp": alice._engine.shortcuts.stamp()})
        with pytest.raises(PrivilegeError):
            alice.sql(QUERY)
    finally:
        alice.close()
