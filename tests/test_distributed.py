"""DDP runs (``OPTIONS => KV_PAIRS(distributed = 'ddp')``) on the CPU, with the gloo backend:
every shard's instance is a rank of one process group; rank 0 saves the model; a failing rank
fails the run with nothing saved and nothing written."""

from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pyarrow as pa
import pytest

from indb.errors import IndbError, NotSupportedError, OptionError, RunError
from indb.sharding.distributed import check_local, check_room

ROOT = Path(__file__).parent.parent
UDFS = ROOT / "udfs"

FAILS = """
import torch
import torch.distributed as dist
def ddp_fails(ctx, t):
    model = ctx.distributed.wrap(torch.nn.Linear(1, 1))
    if ctx.distributed.rank == 1:
        raise ValueError("rank 1 gives up")
    ones = torch.ones(1)
    dist.all_reduce(ones)  # rank 0 waits here for rank 1, which never comes
    ctx.models.save("ddp_never", model.module, example=torch.zeros(2, 1))
    return {"x": [1]}
"""


def digits(rows: int, seed: int = 0) -> pa.Table:
    """MNIST-shaped rows at a toy size: 64 pixels in 0..1, the label's own pixels brightest."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 10, rows)
    pixels = rng.random((rows, 64), dtype=np.float32) * 0.3
    pixels[np.arange(rows), labels * 6] += 0.7
    return pa.table({"id": np.arange(rows), "label": labels.astype(np.int32),
                     "pixels": pa.FixedSizeListArray.from_arrays(pa.array(pixels.ravel()), 64)})


@pytest.fixture
def shards2(conn, table_name):
    conn.sql(f"CREATE TABLE {table_name} (id BIGINT, pixels FLOAT[64], label INTEGER, "
             "SHARD KEY (id)) WITH (SHARDS = 2)")
    conn.load(table_name, digits(240))
    return table_name


def test_ddp_training_gives_every_rank_the_same_weights_and_one_model_version(conn, shards2):
    conn.sql(f"CREATE OR REPLACE FUNCTION mnist_train_ddp MODE = 'distributed' RUN_COMMAND = 'python' "
             f"RUN_COMMAND_ARGS = 'mnist_train_ddp.py' FILE PATHS '{UDFS / 'mnist_train_ddp.py'}', "
             f"'{UDFS / 'mnist_model.py'}'")
    out, model = f"{shards2}_ranks", f"{shards2}_ddp"
    conn.sql(f"EXECUTE FUNCTION mnist_train_ddp(INPUT_TABLE_NAMES => INPUT_TABLE({shards2}), "
             f"OUTPUT_TABLE_NAMES => OUTPUT_TABLES('{out}'), "
             f"PARAMS => KV_PAIRS(epochs = '12', batch_size = '16', model = '{model}'), "
             "OPTIONS => KV_PAIRS(distributed = 'ddp'))")
    ranks = conn.sql(f"SELECT shard, rows, weights_sha256 FROM {out} ORDER BY shard").fetchall()
    assert [r[0] for r in ranks] == [0, 1]
    assert sum(r[1] for r in ranks) == 240 and all(r[1] > 0 for r in ranks)
    assert ranks[0][2] == ranks[1][2]  # gradients averaged at every step: the same weights
    models = {name: version for name, version, *_ in conn.sql("SHOW MODELS").fetchall()}
    assert models[model] == 1  # saved once, by rank 0
    accuracy = conn.sql(f"SELECT avg((PREDICT('{model}', pixels) = label)::INTEGER) "
                        f"FROM {shards2}").fetchone()[0]
    assert accuracy > 0.5  # ten classes: chance is 0.1


def test_a_failing_rank_fails_the_run_with_no_model_and_no_output(conn, shards2):
    conn.sql(f"CREATE OR REPLACE FUNCTION ddp_fails LANGUAGE PYTHON AS $${FAILS}$$")
    out = f"{shards2}_never"
    with pytest.raises(RunError, match="rank 1 gives up"):
        conn.sql(f"EXECUTE FUNCTION ddp_fails(INPUT_TABLE_NAMES => INPUT_TABLE({shards2}), "
                 f"OUTPUT_TABLE_NAMES => OUTPUT_TABLES('{out}'), "
                 "OPTIONS => KV_PAIRS(distributed = 'ddp'))")
    tables = {row[0] for row in conn.sql("SHOW TABLES").fetchall()}
    assert out not in tables
    assert "ddp_never" not in {row[0] for row in conn.sql("SHOW MODELS").fetchall()}


def test_ddp_refuses_more_instances_than_can_run_at_once(conn, table_name):
    # the session cluster: 2 workers of 2 slots; 8 shards would leave ranks waiting for a slot
    conn.sql(f"CREATE TABLE {table_name} (id BIGINT, SHARD KEY (id)) WITH (SHARDS = 8)")
    conn.sql(f"INSERT INTO {table_name} SELECT range FROM range(80)")
    conn.sql(f"CREATE OR REPLACE FUNCTION ddp_fails LANGUAGE PYTHON AS $${FAILS}$$")
    with pytest.raises(RunError, match="runs 2 at a time"):
        conn.sql(f"EXECUTE FUNCTION ddp_fails(INPUT_TABLE_NAMES => INPUT_TABLE({table_name}), "
                 "OPTIONS => KV_PAIRS(distributed = 'ddp'))")


def test_an_unknown_distributed_option_is_refused(conn, shards2):
    conn.sql(f"CREATE OR REPLACE FUNCTION ddp_fails LANGUAGE PYTHON AS $${FAILS}$$")
    with pytest.raises(IndbError, match="'ddp'"):
        conn.sql(f"EXECUTE FUNCTION ddp_fails(INPUT_TABLE_NAMES => INPUT_TABLE({shards2}), "
                 "OPTIONS => KV_PAIRS(distributed = 'fsdp'))")


PROBE = """
import socket
def ddp_probe(ctx, t):
    def outcome(action):
        try:
            action()
            return "done"
        except Exception as error:
            return type(error).__name__
    def listen():
        with socket.socket() as server:
            server.bind(("127.0.0.1", 0))
    def catalog():
        open(ctx.params["catalog"], "rb").read(1)
    return {"listen": [outcome(listen)], "catalog": [outcome(catalog)]}
"""


def test_a_ddp_instance_gets_tcp_but_stays_confined_otherwise(conn, shards2):
    conn.sql(f"CREATE OR REPLACE FUNCTION ddp_probe LANGUAGE PYTHON AS $${PROBE}$$")
    out = f"{shards2}_probe"
    for options, listen in (("distributed = 'ddp'", "done"), ("run_tag = 'plain'", "PermissionError")):
        conn.sql(f"DROP TABLE IF EXISTS {out}")
        conn.sql(f"EXECUTE FUNCTION ddp_probe(INPUT_TABLE_NAMES => INPUT_TABLE({shards2}), "
                 f"OUTPUT_TABLE_NAMES => OUTPUT_TABLES('{out}'), "
                 f"PARAMS => KV_PAIRS(catalog = '{conn.path / 'catalog.db'}'), "
                 f"OPTIONS => KV_PAIRS({options}))")
        assert conn.sql(f"SELECT DISTINCT listen, catalog FROM {out}").fetchall() == [
            (listen, "PermissionError")]  # the catalog stays out of reach either way


def planned(shards: int, max_per_worker: int | None = None) -> SimpleNamespace:
    """What check_room reads of a RunPlan."""
    return SimpleNamespace(function=SimpleNamespace(name="f", style="handler"),
                           shards=tuple(range(shards)), max_per_worker=max_per_worker)


@pytest.mark.parametrize(("shards", "workers", "slots", "limit", "gpus", "fits"), [
    (4, 2, 2, None, False, True),    # two ranks a worker, two slots each
    (5, 2, 2, None, False, False),   # worker 0 gets three
    (4, 2, 2, 1, False, False),      # max_concurrency_per_node = 1
    (4, 4, 4, None, True, True),     # a rank a GPU worker
    (8, 4, 4, None, True, False),    # two ranks on one GPU: NCCL refuses it
])
def test_a_ddp_run_must_fit_its_workers_at_once(shards, workers, slots, limit, gpus, fits):
    names = [str(i) for i in range(workers)]
    check = lambda: check_room(planned(shards, limit), names, dict.fromkeys(names, slots), gpus)  # noqa: E731
    if fits:
        check()
    else:
        with pytest.raises(OptionError, match="at once"):
            check()


def test_the_rendezvous_is_on_loopback_so_every_worker_must_be_local():
    check_local(["tcp://127.0.0.1:4001", "tls://127.0.0.1:4002", "inproc://10.0.0.5/1/2"])
    with pytest.raises(NotSupportedError, match="10.0.0.7"):
        check_local(["tcp://127.0.0.1:4001", "tcp://10.0.0.7:4002"])
