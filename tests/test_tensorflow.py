"""TensorFlow models: SavedModels from tf.Module and from Keras on its TensorFlow backend, served
by PREDICT and by UDFs; the TensorFlow MNIST pipeline (sql/mnist_tf.sql, udfs/mnist_tf_*.py)."""

import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import indb
from indb.catalog.database import Database
from indb.cli.demo import resources, run_script, working_directory
from indb.datasets import digits
from indb.errors import ModelError
from indb.registry.models import ModelStore, StagedModel, staging_dir
from indb.runtime.predictors import Predictor, save_model

os.environ.setdefault("KERAS_BACKEND", "torch")  # as indb sets it: TF's import would pick its own
tf = pytest.importorskip("tensorflow")  # the [tf] extra (tensorflow-cpu, in [dev])


class Affine(tf.Module):
    """A model written with TensorFlow alone: relu(x W + b) V."""

    def __init__(self) -> None:
        generator = tf.random.Generator.from_seed(0)
        self.w = tf.Variable(generator.normal((4, 8)))
        self.b = tf.Variable(generator.normal((8,)))
        self.v = tf.Variable(generator.normal((8, 3)))

    def __call__(self, x):
        return tf.matmul(tf.nn.relu(tf.matmul(x, self.w) + self.b), self.v)


@pytest.fixture
def store(tmp_path):
    db = Database(tmp_path / "db")
    yield ModelStore(db)
    db.close()


def test_a_tf_module_is_saved_as_a_saved_model_and_predicts_like_itself(store):
    module = Affine()
    x = np.random.default_rng(0).normal(size=(300, 4)).astype(np.float32)
    with staging_dir(store.db.path) as directory:
        shape, dtype, width = save_model(module, x[:2], "tensorflow", directory)
    assert (shape, dtype, width) == ((4,), "float32", 3)
    info = store.register(StagedModel("affine", "tensorflow", str(directory), shape, dtype, "class",
                                      width, {}), {})
    assert (next(iter(store.root.glob("affine/v1/saved_model/saved_model.pb"))).is_file())
    predictor = Predictor(info)
    expected = module(tf.constant(x)).numpy()
    np.testing.assert_allclose(predictor.scores(x), expected, rtol=1e-6)
    np.testing.assert_array_equal(predictor.predict(x), expected.argmax(axis=1))
    with pytest.raises(ModelError, match="saving a tf.Module needs example="):
        save_model(module, None, "tensorflow", store.db.path)


def test_a_saved_model_without_a_serving_signature_is_refused(tmp_path):
    tf.saved_model.save(Affine(), str(tmp_path / "bare"))  # no signatures: nothing to call
    with pytest.raises(ModelError, match="has no serving_default signature"):
        Predictor.from_file("tensorflow", tmp_path / "bare")


@pytest.fixture(scope="module")
def pipeline(tmp_path_factory):
    """sql/mnist_tf.sql run over the digits: trained with Keras on TensorFlow in a UDF."""
    conn = indb.connect(tmp_path_factory.mktemp("tf") / "db", workers=2, threads_per_worker=2)
    conn.sql("CREATE TABLE digits (id BIGINT, pixels FLOAT[64], label INTEGER, split VARCHAR, "
             "SHARD KEY (id)) WITH (SHARDS = 2)")
    conn.load("digits", digits())
    printed: list[str] = []
    with working_directory(resources()):
        run_script(conn, (resources() / "sql" / "mnist_tf.sql").read_text(), printed.append)
    yield conn, "\n".join(printed)
    conn.close()


def test_the_tensorflow_mnist_pipeline_trains_and_serves(pipeline):
    conn, printed = pipeline
    assert "mnist_tf (PREDICT)" in printed
    shown = conn.sql("SHOW MODELS").df().set_index("name")
    assert shown.loc["mnist_tf", "flavor"] == "tensorflow"  # a Keras model saved so on TF's backend only
    by_udf = conn.sql("SELECT p.id, p.digit, d.label FROM digit_tf_predictions p "
                      "JOIN digits d ON d.id = p.id ORDER BY p.id").df()
    by_sql = conn.sql("SELECT id, PREDICT('mnist_tf', [p / 16 FOR p IN pixels]::FLOAT[64]) AS digit "
                      "FROM digits WHERE split = 'test' ORDER BY id").df()
    assert len(by_udf) == 442
    np.testing.assert_array_equal(by_udf["id"], by_sql["id"])
    np.testing.assert_array_equal(by_udf["digit"], by_sql["digit"])  # the same model both ways
    assert (by_udf["digit"] == by_udf["label"]).mean() >= 0.95


def test_a_saved_model_directory_imports_with_create_model(pipeline, tmp_path):
    conn, _ = pipeline
    source = conn._engine.models.get("mnist_tf").path
    assert conn.sql(f"CREATE MODEL tf_copy FROM FILE '{source}'").fetchone() == ("tf_copy", 1)
    same = conn.sql("SELECT count(*) FROM digits WHERE PREDICT('tf_copy', [p / 16 FOR p IN pixels]::FLOAT[64]) "
                    "= PREDICT('mnist_tf', [p / 16 FOR p IN pixels]::FLOAT[64])").fetchone()[0]
    assert same == 1797
    assert conn.sql("SHOW MODELS").df().set_index("name").loc["tf_copy", "output"] == "class"


def test_a_keras_model_on_another_backend_is_not_saved_as_a_saved_model(tmp_path, monkeypatch):
    monkeypatch.setenv("KERAS_BACKEND", "torch")  # this process's Keras (the suite's default)
    keras = pytest.importorskip("keras")
    if keras.backend.backend() == "tensorflow":
        pytest.skip("this process's Keras runs on TensorFlow")
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3)])
    with pytest.raises(ModelError, match="KERAS_BACKEND=tensorflow"):
        save_model(model, np.zeros((2, 4), np.float32), "tensorflow", tmp_path)


def test_a_keras_file_saved_on_tensorflow_s_backend_loads_on_torch_s(tmp_path):
    """A .keras file is backend-neutral: made on TensorFlow's backend (another process), it is
    served on this process's (torch's) with the same outputs."""
    script = textwrap.dedent(f"""
        import os
        os.environ["KERAS_BACKEND"] = "tensorflow"
        import keras, numpy as np
        keras.utils.set_random_seed(0)
        model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(8, activation="relu"),
                                  keras.layers.Dense(3)])
        assert keras.backend.backend() == "tensorflow"
        x = np.random.default_rng(0).normal(size=(50, 4)).astype("float32")
        model.save({str(tmp_path / 'm.keras')!r})
        np.save({str(tmp_path / 'x.npy')!r}, x)
        np.save({str(tmp_path / 'y.npy')!r}, model.predict(x, verbose=0))
    """)
    import keras
    if keras.backend.backend() != "torch":
        pytest.skip("this process's Keras is not on torch's backend")
    made = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=240)
    assert made.returncode == 0, made.stderr[-2000:]
    predictor = Predictor.from_file("keras", tmp_path / "m.keras")
    np.testing.assert_allclose(predictor.scores(np.load(tmp_path / "x.npy")), np.load(tmp_path / "y.npy"),
                               rtol=1e-5, atol=1e-6)
