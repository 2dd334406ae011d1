"""The offline data sets: real digits and prices, synthetic markets with known anomalies, IDX files."""

import gzip

import numpy as np
import pyarrow.compute as pc

from indb.datasets import digits, market_history, mnist_idx, synthetic_market


def test_digits_are_the_real_8x8_set_with_a_fixed_split():
    table = digits()
    assert table.num_rows == 1797 and table.schema.field("pixels").type.list_size == 64
    assert set(table["split"].to_pylist()) == {"train", "test"}
    assert table["split"].equals(digits()["split"])  # the same split every time
    assert pc.max(pc.list_flatten(table["pixels"])).as_py() == 16


def test_mnist_idx_files_read_into_the_same_shape(tmp_path):
    images = np.arange(3 * 28 * 28, dtype=np.uint32).astype(np.uint8).reshape(3, 28, 28)
    with gzip.open(tmp_path / "images.gz", "wb") as f:
        f.write(b"\0\0\x08\x03" + (3).to_bytes(4, "big") + (28).to_bytes(4, "big") * 2 + images.tobytes())
    (tmp_path / "labels").write_bytes(b"\0\0\x08\x01" + (3).to_bytes(4, "big") + bytes([7, 1, 4]))
    table = mnist_idx(str(tmp_path / "images.gz"), str(tmp_path / "labels"))
    assert table["label"].to_pylist() == [7, 1, 4]
    assert table.schema.field("pixels").type.list_size == 784
    assert table["pixels"][1].as_py()[:2] == [float(images[1, 0, 0]), float(images[1, 0, 1])]


def test_market_history_is_two_indices_of_daily_rows():
    table = market_history()
    counts = dict(zip(*np.unique(table["sym"].to_numpy(zero_copy_only=False), return_counts=True)))
    assert counts == {"NASDAQ": 5031, "SP500": 5031}
    assert str(pc.min(table["date"]).as_py()) == "1999-01-04"


def test_synthetic_market_marks_its_anomalies():
    prices, truth = synthetic_market(symbols=3, days=200, anomalies_per_symbol=2, seed=1)
    assert prices.num_rows == 600 and truth.num_rows == 6
    rows = prices.to_pandas().set_index(["sym", "date"])
    returns = np.log(rows["close"]).groupby(level=0).diff().abs()
    for sym, date in zip(truth["sym"].to_pylist(), truth["date"].to_pylist()):
        assert returns.loc[(sym, date)] > 4 * returns.loc[sym].median()  # a jump on that day
