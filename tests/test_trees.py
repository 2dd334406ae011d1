"""XGBoost and LightGBM models: saved in their own files, served by PREDICT and ctx.models with the
library's own predictions."""

import numpy as np
import pytest

import indb
from indb.catalog.database import Database
from indb.errors import ModelError
from indb.registry.models import ModelStore, StagedModel, staging_dir
from indb.runtime.predictors import Predictor, save_model
from indb.runtime.trees import tree_flavor

xgboost = pytest.importorskip("xgboost")  # the [trees] extra (in [dev])
lightgbm = pytest.importorskip("lightgbm")


def data(rows: int = 600, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Rows with three classes that depend on the first two features (a third is noise)."""
    x = np.random.default_rng(seed).normal(size=(rows, 3)).astype(np.float32)
    return x, (x[:, 0] > 0).astype(int) + (x[:, 1] > 0.5).astype(int)


def boosters() -> dict[str, tuple[object, str]]:
    """Fitted models of each library and objective, with the output kind each predicts."""
    x, y = data()
    binary = (y > 0).astype(int)
    return {
        "xgb_binary": (xgboost.train({"objective": "binary:logistic", "max_depth": 3},
                                     xgboost.DMatrix(x, binary), 20), "value"),
        "xgb_multi": (xgboost.train({"objective": "multi:softprob", "num_class": 3},
                                    xgboost.DMatrix(x, y), 10), "class"),
        "xgb_sklearn": (xgboost.XGBRegressor(n_estimators=15).fit(x, x[:, 0] * 2 + x[:, 2]), "value"),
        "lgb_regression": (lightgbm.train({"objective": "regression", "verbose": -1},
                                          lightgbm.Dataset(x, x[:, 0] * 2 + x[:, 2]), 20), "value"),
        "lgb_multi": (lightgbm.LGBMClassifier(n_estimators=10, verbose=-1).fit(x, y), "class"),
    }


def library_predict(model: object, x: np.ndarray) -> np.ndarray:
    """What the library itself predicts for the rows (probabilities, values)."""
    if tree_flavor(model) == "xgboost":
        booster = model.get_booster() if hasattr(model, "get_booster") else model
        return booster.predict(xgboost.DMatrix(x))
    booster = getattr(model, "booster_", model)
    return booster.predict(x)


@pytest.fixture
def store(tmp_path):
    db = Database(tmp_path / "db")
    yield ModelStore(db)
    db.close()


@pytest.mark.parametrize("case", ["xgb_binary", "xgb_multi", "xgb_sklearn", "lgb_regression", "lgb_multi"])
def test_saved_trees_predict_what_the_library_predicts(store, case):
    model, output = boosters()[case]
    flavor = tree_flavor(model)
    with staging_dir(store.db.path) as directory:
        shape, dtype, width = save_model(model, None, flavor, directory)
    info = store.register(StagedModel(case, flavor, str(directory), shape, dtype, output, width, {}), {})
    assert info.path.endswith({"xgboost": "model.ubj", "lightgbm": "model.txt"}[flavor])
    x, _ = data(500, seed=1)
    expected = library_predict(model, x)
    predictor = Predictor(info)
    np.testing.assert_array_equal(predictor.scores(x).reshape(expected.shape), expected)
    if output == "class":
        assert expected.ndim == 2 and width == expected.shape[1]
        np.testing.assert_array_equal(predictor.predict(x), expected.argmax(axis=1))
    else:
        assert width == 1
        np.testing.assert_array_equal(predictor.predict(x), expected.astype(np.float64))


def test_a_model_of_another_kind_is_refused_by_a_tree_flavor(tmp_path):
    with pytest.raises(ModelError, match="flavor='xgboost' takes a fitted xgboost booster"):
        save_model(boosters()["lgb_regression"][0], None, "xgboost", tmp_path)
    with pytest.raises(ModelError, match="could not save the lightgbm model"):
        save_model(lightgbm.LGBMRegressor(), None, "lightgbm", tmp_path)  # never fitted


@pytest.fixture(scope="module")
def trees(tmp_path_factory):
    """A database where UDFs trained an XGBoost and a LightGBM model on a table's rows."""
    conn = indb.connect(tmp_path_factory.mktemp("trees") / "db", workers=2, threads_per_worker=2)
    conn.sql("CREATE TABLE obs (id BIGINT, a REAL, b REAL, c REAL, y INTEGER, SHARD KEY (id)) "
             "WITH (SHARDS = 2)")
    conn.sql("INSERT INTO obs SELECT range, sin(range * 1.3), cos(range * 0.7), sin(range * 0.11), "
             "(sin(range * 1.3) > 0)::INTEGER + (cos(range * 0.7) > 0.5)::INTEGER FROM range(800)")
    conn.sql("""CREATE FUNCTION fit_trees LANGUAGE PYTHON MODE = 'nondistributed' AS $$
import numpy as np, xgboost, lightgbm
def fit_trees(ctx, t):
    x = np.column_stack([t[c].to_numpy() for c in ("a", "b", "c")])
    y = t["y"].to_numpy()
    ctx.models.save("xgb", xgboost.train({"objective": "multi:softprob", "num_class": 3},
                                         xgboost.DMatrix(x, y), 10), metrics={"rows": len(y)})
    ctx.models.save("lgb", lightgbm.train({"objective": "regression", "verbose": -1},
                                          lightgbm.Dataset(x, x[:, 0] * 2 + x[:, 2]), 20))
$$""")
    conn.sql("EXECUTE FUNCTION fit_trees(INPUT_TABLE_NAMES => INPUT_TABLE(obs))")
    yield conn
    conn.close()


def test_predict_and_ctx_models_give_the_library_s_predictions(trees):
    rows = trees.sql("SELECT a, b, c, y, PREDICT('xgb', a, b, c) AS cls, PREDICT('lgb', a, b, c) AS v "
                     "FROM obs ORDER BY id").df()
    x = rows[["a", "b", "c"]].to_numpy(np.float32)
    xgb = xgboost.Booster(model_file=trees._engine.models.get("xgb").path)
    lgb = lightgbm.Booster(model_file=trees._engine.models.get("lgb").path)
    np.testing.assert_array_equal(rows["cls"], xgb.predict(xgboost.DMatrix(x)).argmax(axis=1))
    np.testing.assert_array_equal(rows["v"], lgb.predict(x))
    assert (rows["cls"] == rows["y"]).mean() > 0.9  # and it learned something
    shown = trees.sql("SHOW MODELS").df().set_index("name")
    assert (shown.loc["xgb", "flavor"], shown.loc["lgb", "flavor"]) == ("xgboost", "lightgbm")
    # output by default: class for several outputs a row (3 probabilities), value for one
    assert (shown.loc["xgb", "output"], shown.loc["lgb", "output"]) == ("class", "value")
    trees.sql("""CREATE OR REPLACE FUNCTION use_trees LANGUAGE PYTHON AS $$
import numpy as np
def use_trees(ctx, t):
    x = np.column_stack([t[c].to_numpy() for c in ("a", "b", "c")])
    return {"id": t["id"], "cls": ctx.models.load("xgb").predict(x), "v": ctx.models.load("lgb").predict(x)}
$$""")
    trees.sql("EXECUTE FUNCTION use_trees(INPUT_TABLE_NAMES => INPUT_TABLE(obs), "
              "OUTPUT_TABLE_NAMES => OUTPUT_TABLES('tree_predictions'))")
    there = trees.sql("SELECT cls, v FROM tree_predictions ORDER BY id").df()
    np.testing.assert_array_equal(there["cls"], rows["cls"])
    np.testing.assert_array_equal(there["v"], rows["v"])


@pytest.mark.parametrize("suffix", [".ubj", ".json", ".txt"])
def test_create_model_from_the_libraries_files(trees, tmp_path, suffix):
    x, y = data()
    if suffix == ".txt":
        model = lightgbm.train({"objective": "binary", "verbose": -1}, lightgbm.Dataset(x, y > 0), 10)
    else:
        model = xgboost.train({"objective": "binary:logistic"}, xgboost.DMatrix(x, y > 0), 10)
    path = tmp_path / f"model{suffix}"
    model.save_model(str(path))
    name = f"imported_{suffix[1:]}"
    assert trees.sql(f"CREATE MODEL {name} FROM FILE '{path}'").fetchone() == (name, 1)
    got = trees.sql(f"SELECT a, b, c, PREDICT('{name}', a, b, c) AS p FROM obs ORDER BY id").df()
    rows = got[["a", "b", "c"]].to_numpy(np.float32)
    expected = model.predict(xgboost.DMatrix(rows) if suffix != ".txt" else rows)
    np.testing.assert_array_equal(got["p"], expected)  # a value (the probability) per row


def test_a_file_that_is_not_a_tree_model_is_refused_and_nothing_registered(trees, tmp_path):
    for suffix in (".txt", ".ubj"):
        (tmp_path / f"junk{suffix}").write_text("not a model")
        with pytest.raises(ModelError, match="is not a model indb can load"):
            trees.sql(f"CREATE MODEL junk FROM FILE '{tmp_path / f'junk{suffix}'}'")
    assert "junk" not in trees.sql("SHOW MODELS").df()["name"].tolist()
    with pytest.raises(ModelError, match="not a model file indb reads"):
        trees.sql(f"CREATE MODEL junk FROM FILE '{tmp_path}'")  # a directory, not a SavedModel
