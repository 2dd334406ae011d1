"""The model registry, its flavors, PREDICT, and models saved and loaded by UDFs."""

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
import torch

import indb
from indb.catalog.database import Database
from indb.errors import CatalogError, ModelError, RunError, SqlError
from indb.runtime.predictors import Predictor, save_model
from indb.registry.models import ModelStore, StagedModel, staging_dir


def tiny_model(seed: int = 0) -> torch.nn.Module:
    torch.manual_seed(seed)
    return torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.ReLU(), torch.nn.Linear(8, 3))


def stage(db, name, model, flavor="torch", output="class"):
    with staging_dir(db.path) as directory:
        shape, dtype, width = save_model(model, torch.randn(5, 4), flavor, directory)
    return StagedModel(name, flavor, str(directory), shape, dtype, output, width, {"loss": 0.5})


@pytest.fixture
def store(tmp_path):
    db = Database(tmp_path / "db")
    yield ModelStore(db)
    db.close()


@pytest.mark.parametrize("flavor", ["torch", "onnx"])
def test_saved_flavors_predict_like_the_model(store, flavor):
    model = tiny_model()
    info = store.register(stage(store.db, "m", model, flavor), {"run_id": "r"})
    x = np.random.default_rng(0).normal(size=(100, 4)).astype(np.float32)
    predictor = Predictor(info)
    expected = model(torch.from_numpy(x)).detach().numpy()
    np.testing.assert_allclose(predictor.scores(x), expected, rtol=1e-5, atol=1e-5)
    assert (predictor.predict(x) == expected.argmax(1)).all()
    assert (info.input_shape, info.output_width, info.flavor) == ((4,), 3, flavor)


def test_outputs_stay_torch_tensors_and_are_for_torch_models_only(store):
    model = tiny_model()
    x = np.random.default_rng(1).normal(size=(10, 4)).astype(np.float32)
    torch_info = store.register(stage(store.db, "t", model), {})
    outputs = Predictor(torch_info).outputs(torch.from_numpy(x))
    assert isinstance(outputs, torch.Tensor) and outputs.shape == (10, 3)
    np.testing.assert_allclose(outputs.numpy(), model(torch.from_numpy(x)).detach().numpy(), rtol=1e-5)
    onnx_info = store.register(stage(store.db, "o", model, "onnx"), {})
    with pytest.raises(ModelError, match="outputs\\(\\) is for torch models.*use scores"):
        Predictor(onnx_info).outputs(x)


@pytest.mark.slow  # a PostgreSQL server of its own: about a minute on 2 loaded cores
def test_a_version_number_a_racer_took_on_postgresql_is_followed_by_the_next(tmp_path, monkeypatch):
    """A run's commit (one PostgreSQL transaction: commit.together) that read the latest version
    before another head recorded the same number loses the insert, and records the next number
    in the same transaction (PostgreSQL aborts the whole transaction at a failed statement)."""
    from stores import new_database, postgres_server

    from indb.sharding.commit import together
    with postgres_server() as pg:
        conn = indb.connect(catalog=new_database(pg), warehouse=str(tmp_path / "shared"),
                            cluster="threads")
        try:
            engine = conn._engine
            published = []
            for k in range(2):  # in place, as in an object store (``_record`` moves nothing)
                staged = stage(engine.db, "m", tiny_model(k))
                place = Path(engine.db.shared_root) / "models" / "m" / f"upload{k}"
                place.parent.mkdir(parents=True, exist_ok=True)
                os.rename(staged.staging, place)
                published.append(StagedModel(**{**staged.__dict__, "staging": str(place)}))
            assert engine.models._record(published[0], {}).version == 1
            latest = ModelStore._latest
            reads = []

            def stale_once(store, name):  # the racer's read: before the other head's commit
                reads.append(name)
                return 0 if len(reads) == 1 else latest(store, name)
            monkeypatch.setattr(ModelStore, "_latest", stale_once)
            with together(engine.db, engine.runs, engine.models) as (_, _, models):
                assert models._record(published[1], {}).version == 2
                # the transaction goes on (no "current transaction is aborted"), and sees both
                assert [v.version for v in models.versions("m")] == [1, 2]
            monkeypatch.undo()
            assert len(reads) == 2
            assert [(v.version, Path(v.path).parent.name) for v in engine.models.versions("m")] == \
                [(1, "upload0"), (2, "upload1")]
        finally:
            conn.close()


def test_versions_aliases_and_drop(store):
    first = store.register(stage(store.db, "m", tiny_model(0)), {})
    second = store.register(stage(store.db, "m", tiny_model(1)), {})
    assert (first.version, second.version) == (1, 2)
    assert store.get("m").version == 2
    store.set_alias("m", "production", 1)
    assert store.get("m", "production").version == 1
    assert store.drop("m", 1) == 1
    with pytest.raises(CatalogError, match="has no alias production"):
        store.get("m", "production")  # the alias went with its version
    with pytest.raises(CatalogError, match="has no version 1"):
        store.get("m", 1)
    store.drop("m")
    with pytest.raises(CatalogError, match="model m does not exist"):
        store.get("m")
    assert not (store.root / "m" / "v2").exists()


def test_the_registry_state_changes_with_every_version_and_alias_and_only_then(store, tmp_path):
    """``state`` (what hosts keep their answers by) is drawn anew by each change, in its
    transaction: a restored backup's older token is never reached again by counting."""
    states = [store.state()]
    first = store.register(stage(store.db, "m", tiny_model(0)), {})
    states.append(store.state())
    store.get("m")
    store.versions("m")
    assert store.state() == states[-1]  # reads change nothing
    store.register(stage(store.db, "m", tiny_model(1)), {})
    states.append(store.state())
    store.set_alias("m", "production", first.version)
    states.append(store.state())
    store.drop("m", first.version)
    states.append(store.state())
    assert len(set(states)) == len(states)
    store.db.close()
    reopened = ModelStore(Database(store.db.path))  # kept across opens
    assert reopened.state() == states[-1]
    reopened.db.close()


def test_a_catalog_without_the_state_row_gets_one_when_opened(tmp_path):
    """A database made before the registry kept a state: its table and row are made on open."""
    import sqlalchemy as sa
    db = Database(tmp_path / "db")
    ModelStore(db)
    with db.engine.begin() as conn:
        conn.execute(sa.text("DROP TABLE indb_model_changes"))
    db.close()
    db = Database(tmp_path / "db")
    store = ModelStore(db)
    before = store.state()
    store.register(stage(db, "m", tiny_model(0)), {})
    assert store.state() != before
    db.close()


def test_a_torch_archive_with_pickled_weights_is_refused(tmp_path):
    import zipfile
    path = tmp_path / "model.pt2"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("m/data/weights/model_weights_config.json",
                         '{"config": {"w": {"path_name": "w", "use_pickle": true}}}')
    with pytest.raises(ModelError, match="holds pickled tensors"):
        Predictor.from_file("torch", path)


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A database where a UDF trained a classifier on 2-feature rows and saved it in both flavors."""
    conn = indb.connect(tmp_path_factory.mktemp("models") / "db", workers=2, threads_per_worker=2)
    conn.sql("CREATE TABLE pts (id BIGINT, f FLOAT[2], label INTEGER, SHARD KEY (id)) WITH (SHARDS = 2)")
    conn.sql("INSERT INTO pts SELECT range, [range % 10, (range * 7) % 10]::FLOAT[2], "
             "(range % 10 > 4)::INTEGER FROM range(400)")
    conn.sql("""CREATE FUNCTION fit LANGUAGE PYTHON MODE = 'nondistributed' AS $$
import torch
from indb import udf
@udf.function(frame="numpy")
def fit(ctx, t):
    if len(t["f"]) == 0:
        raise ValueError("fit got no rows")
    x, y = torch.tensor(t["f"]), torch.tensor(t["label"]).long()
    torch.manual_seed(0)
    m = torch.nn.Sequential(torch.nn.Linear(2, 16), torch.nn.ReLU(), torch.nn.Linear(16, 2))
    opt = torch.optim.Adam(m.parameters(), 0.05)
    for _ in range(150):
        opt.zero_grad(); torch.nn.functional.cross_entropy(m(x), y).backward(); opt.step()
    ctx.models.save("clf", m, example=x[:4], metrics={"accuracy": (m(x).argmax(1) == y).float().mean().item()})
    ctx.models.save("clf_onnx", m, example=x[:4], flavor="onnx")
$$""")
    conn.sql("EXECUTE FUNCTION fit(INPUT_TABLE_NAMES => INPUT_TABLE(pts))")
    yield conn
    conn.close()


def test_predict_in_sql(trained):
    rows = trained.sql("SELECT label, PREDICT('clf', f) AS p, count(*) FROM pts GROUP BY ALL ORDER BY ALL").fetchall()
    assert rows == [(0, 0, 200), (1, 1, 200)]
    same = trained.sql("SELECT count(*) FROM pts WHERE PREDICT('clf', 1, f[1], f[2]) = PREDICT('clf_onnx', f)").fetchone()
    assert same == (400,)  # in WHERE, with a version, by columns, and across flavors


def test_the_serving_path_keeps_one_loaded_model_and_predicts_like_predict(trained):
    served = trained.model("clf")
    assert trained.model("clf") is served  # loaded once, kept resident
    assert trained.model("clf", precision="bf16") is not served
    rows = trained.sql("SELECT id, f, PREDICT('clf', f) AS p FROM pts ORDER BY id LIMIT 20").df()
    for f, p in zip(rows["f"], rows["p"]):
        assert served.predict(np.asarray([f], dtype=np.float32))[0] == p  # one row at a time
    with pytest.raises(CatalogError, match="has no version 9"):
        trained.model("clf", 9)


@pytest.mark.parametrize("sql, error, message", [
    ("SELECT PREDICT('nope', f) FROM pts", CatalogError, "model nope does not exist"),
    ("SELECT PREDICT('clf', 7, f) FROM pts", CatalogError, "has no version 7"),
    ("SELECT PREDICT('clf', 'staging', f) FROM pts", CatalogError, "has no alias staging"),
    ("SELECT PREDICT('clf', f[1], f[2], id) FROM pts", SqlError, "takes 2 values a row; PREDICT gave it 3"),
    ("SELECT PREDICT('clf', f[1]) FROM pts", SqlError, "takes 2 values a row, not 1"),
    ("SELECT PREDICT(f) FROM pts", SqlError, "model name first"),
])
def test_predict_errors(trained, sql, error, message):
    with pytest.raises(error, match=message):
        trained.sql(sql)


def test_models_statements(trained, tmp_path):
    shown = trained.sql("SHOW MODELS").df().set_index("name")
    assert shown.loc["clf", "flavor"] == "torch" and shown.loc["clf_onnx", "flavor"] == "onnx"
    described = trained.sql("DESCRIBE MODEL clf").df()
    assert described["input"][0] == "float32[2]" and '"function": "fit"' in described["lineage"][0]
    trained.sql("ALTER MODEL clf SET ALIAS production = 1")
    assert trained.sql("SELECT count(*) FROM pts WHERE PREDICT('clf', 'production', f) = label").fetchone() == (400,)
    onnx_file = trained._engine.models.get("clf_onnx").path
    assert trained.sql(f"CREATE MODEL imported FROM FILE '{onnx_file}'").fetchone() == ("imported", 1)
    assert trained.sql("SELECT count(*) FROM pts WHERE PREDICT('imported', f) = label").fetchone() == (400,)
    (tmp_path / "junk.onnx").write_text("not a model")
    with pytest.raises(ModelError, match="is not a model indb can load"):
        trained.sql(f"CREATE MODEL junk FROM FILE '{tmp_path / 'junk.onnx'}'")
    assert "junk" not in trained.sql("SHOW MODELS").df()["name"].tolist()
    trained.sql("DROP MODEL imported")
    with pytest.raises(CatalogError, match="does not exist"):
        trained.sql("DESCRIBE MODEL imported")
    trained.sql("DROP MODEL IF EXISTS imported")


def test_a_failed_training_run_saves_nothing(trained):
    before = trained._engine.models.versions("clf")
    with pytest.raises(RunError, match="fit got no rows"):
        trained.sql("EXECUTE FUNCTION fit(INPUT_TABLE_NAMES => INPUT_TABLE(SELECT * FROM pts WHERE id < 0))")
    assert trained._engine.models.versions("clf") == before
    staging = trained.path / "models" / ".staging"
    assert not staging.exists() or not any(staging.iterdir())


def test_a_model_loads_in_another_process_and_on_a_worker_with_identical_predictions(trained):
    here = trained.sql("SELECT id, PREDICT('clf', f) AS p FROM pts ORDER BY id").fetchall()
    script = textwrap.dedent(f"""
        import indb
        conn = indb.connect({str(trained.path)!r})
        print(conn.sql("SELECT id, PREDICT('clf', f) FROM pts ORDER BY id").fetchall())
    """)
    there = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert there.returncode == 0, there.stderr[-2000:]
    assert there.stdout.strip() == str(here)
    trained.sql("""CREATE OR REPLACE FUNCTION use_clf LANGUAGE PYTHON AS $$
def use_clf(ctx, t):
    model = ctx.models.load("clf")
    return {"id": t["id"], "p": model.predict(t["f"].to_numpy(zero_copy_only=False).tolist())}
$$""")
    trained.sql("DROP TABLE IF EXISTS worker_predictions")
    trained.sql("EXECUTE FUNCTION use_clf(INPUT_TABLE_NAMES => INPUT_TABLE(pts), "
                "OUTPUT_TABLE_NAMES => OUTPUT_TABLES('worker_predictions'))")
    assert trained.sql("SELECT id, p FROM worker_predictions ORDER BY id").fetchall() == here


def test_warm_runs_load_the_version_the_registry_names_as_each_run_begins(trained):
    """Hosts keep what a model's name and version meant, by the registry's state: a version or
    an alias changed between two runs is what the second run loads."""
    store = trained._engine.models
    store.register(stage(store.db, "probe", tiny_model(0)), {})
    trained.sql("""CREATE OR REPLACE FUNCTION probe_version LANGUAGE PYTHON AS $$
def probe_version(ctx, t):
    return {"latest": [ctx.models.load("probe").info.version],
            "best": [ctx.models.load("probe", "best").info.version]}
$$""")

    def seen():
        trained.sql("DROP TABLE IF EXISTS probe_seen")
        trained.sql("EXECUTE FUNCTION probe_version(INPUT_TABLE_NAMES => INPUT_TABLE(pts), "
                    "OUTPUT_TABLE_NAMES => OUTPUT_TABLES('probe_seen'))")
        return set(trained.sql("SELECT latest, best FROM probe_seen").fetchall())

    store.set_alias("probe", "best", 1)
    assert seen() == seen() == {(1, 1)}  # the second run warm: its hosts knew the answers
    store.register(stage(store.db, "probe", tiny_model(1)), {})
    assert seen() == {(2, 1)}
    store.set_alias("probe", "best", 2)
    assert seen() == {(2, 2)}
    store.drop("probe", 2)
    with pytest.raises(RunError, match="model probe has no alias best"):
        seen()
    store.drop("probe")


def test_keras_models_are_a_flavor(trained, tmp_path, monkeypatch):
    monkeypatch.setenv("KERAS_BACKEND", os.environ.get("KERAS_BACKEND", "torch"))
    pytest.importorskip("keras")  # the [keras] extra (in [dev]): without it there is nothing to test
    trained.sql("""CREATE OR REPLACE FUNCTION fit_keras LANGUAGE PYTHON MODE = 'nondistributed' AS $$
import os
os.environ.setdefault("KERAS_BACKEND", "torch")
import keras
import numpy as np
def fit_keras(ctx, t):
    x, y = np.asarray(t["f"].to_numpy(zero_copy_only=False).tolist(), dtype="float32"), t["label"].to_numpy()
    keras.utils.set_random_seed(0)
    m = keras.Sequential([keras.Input((2,)), keras.layers.Dense(16, activation="relu"), keras.layers.Dense(2)])
    m.compile(optimizer=keras.optimizers.Adam(0.05),
              loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    m.fit(x, y, epochs=60, batch_size=400, verbose=0)
    ctx.models.save("clf_keras", m, example=x[:4])
$$""")
    trained.sql("EXECUTE FUNCTION fit_keras(INPUT_TABLE_NAMES => INPUT_TABLE(pts))")
    assert trained.sql("SHOW MODELS").df().set_index("name").loc["clf_keras", "flavor"] == "keras"
    correct = trained.sql("SELECT avg((PREDICT('clf_keras', f) = label)::INTEGER) FROM pts").fetchone()[0]
    assert correct >= 0.95
    path = trained._engine.models.get("clf_keras").path
    assert trained.sql(f"CREATE MODEL keras_copy FROM FILE '{path}'").fetchone() == ("keras_copy", 1)


def test_a_pt2_file_made_elsewhere_imports(trained, tmp_path):
    model = tiny_model()
    program = torch.export.export(model, (torch.randn(3, 4),), dynamic_shapes=({0: torch.export.Dim("rows")},))
    program.example_inputs = None
    torch.export.save(program, str(tmp_path / "tiny.pt2"))
    assert trained.sql(f"CREATE MODEL tiny FROM FILE '{tmp_path / 'tiny.pt2'}'").fetchone() == ("tiny", 1)
    shown = trained.sql("SHOW MODELS").df().set_index("name")
    assert (shown.loc["tiny", "flavor"], shown.loc["tiny", "output"]) == ("torch", "class")


def test_loaded_models_stay_in_the_instance_process_between_runs(trained):
    trained.sql("""CREATE OR REPLACE FUNCTION use_clf2 LANGUAGE PYTHON MODE = 'nondistributed' AS $$
def use_clf2(ctx, t):
    ctx.models.load("clf")
$$""")
    statuses = []
    for _ in range(2):
        run_id = trained.sql("EXECUTE FUNCTION use_clf2(INPUT_TABLE_NAMES => INPUT_TABLE(pts))").fetchone()[0]
        statuses.append(trained.sql(f"SHOW FUNCTION STATUS VERBOSE FOR '{run_id}'").df())
    # the one instance (shard 0) runs on worker 0, slot 0 both times: in the host that kept the model
    assert (int(statuses[1]["cache_hits"].sum()), int(statuses[1]["cache_misses"].sum())) == (1, 0)


def test_short_gpu_batches_are_padded_only_where_padding_costs_little():
    from indb.runtime.predictors import PAD_SHARE, batch_shape
    assert batch_shape(8192, compiled=False) == (8192, True)  # full and power-of-two batches: tuned
    assert batch_shape(2048, compiled=False) == (2048, True)
    assert batch_shape(0, compiled=False) == (0, True)
    # padding 1,900 rows to 2,048 adds under PAD_SHARE of them; 2,120 to 4,096 nearly doubles them
    assert 2048 - 1900 <= 1900 * PAD_SHARE and batch_shape(1900, compiled=False) == (2048, True)
    assert batch_shape(2120, compiled=False) == (2120, False)
    assert batch_shape(3, compiled=False) == (3, False)
    # a compiled model gets one graph a shape: always a power of two
    assert batch_shape(2120, compiled=True) == (4096, True)
    assert batch_shape(3, compiled=True) == (4, True)


def test_an_untuned_call_turns_the_autotuner_off_for_that_call_only():
    from indb.runtime.predictors import untuned
    seen = []
    torch.backends.cudnn.benchmark = True
    try:
        assert untuned(lambda batch: seen.append(torch.backends.cudnn.benchmark) or batch * 2, 3) == 6
        assert seen == [False] and torch.backends.cudnn.benchmark is True
        with pytest.raises(ZeroDivisionError):  # and back on after a call that fails
            untuned(lambda batch: 1 / 0, 3)
        assert torch.backends.cudnn.benchmark is True
    finally:
        torch.backends.cudnn.benchmark = False
