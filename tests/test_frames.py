import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from indb.errors import FunctionError
from indb.udf import Params
from indb.udf.frames import to_frame, to_outputs, to_table

ROWS = pa.table({"id": [1, 2], "px": pa.FixedSizeListArray.from_arrays(pa.array([1.0, 2, 3, 4], pa.float32()), 2)})


def test_numpy_frame_gives_fixed_arrays_as_2d_without_copying():
    frame = to_frame(ROWS, "numpy")
    assert frame["px"].shape == (2, 2) and frame["px"].dtype == np.float32
    assert frame["px"].ctypes.data == ROWS["px"].chunk(0).values.buffers()[1].address


def test_pandas_and_arrow_frames():
    assert isinstance(to_frame(ROWS, "pandas"), pd.DataFrame)
    assert to_frame(ROWS, "arrow") is ROWS


def test_dict_of_arrays_with_a_2d_array_becomes_a_fixed_size_list():
    table = to_table({"id": np.arange(3), "v": np.ones((3, 4), dtype=np.float32)}, "out")
    assert table.schema.field("v").type == pa.list_(pa.float32(), 4)


def test_outputs_by_position_or_by_table_name():
    a, b = pa.table({"x": [1]}), pa.table({"y": [2]})
    assert to_outputs((a, b), ["ta", "tb"]) == [a, b]
    assert to_outputs({"tb": b, "ta": None}, ["ta", "tb"]) == [None, b]
    assert to_outputs(None, ["ta"]) == [None]
    assert to_outputs(a, []) == []  # a run without output tables ignores what is returned
    single = to_outputs({"ta": [1, 2]}, ["ta"])[0]  # one output: a dict is its columns
    assert single.column_names == ["ta"]


@pytest.mark.parametrize("value, names, message", [
    ((pa.table({"x": [1]}),), ["a", "b"], "return a tuple of 2 tables"),
    (42, ["a"], "is a int"),
])
def test_bad_return_values_say_what_to_return(value, names, message):
    with pytest.raises(FunctionError, match=message):
        to_outputs(value, names)


def test_missing_parameter_lists_the_given_ones():
    with pytest.raises(KeyError, match="given: epochs"):
        Params({"epochs": "3"})["lr"]


def test_torch_frame_on_the_cpu_is_zero_copy_and_outputs_come_back():
    torch = pytest.importorskip("torch")
    frame = to_frame(ROWS, "torch")
    assert isinstance(frame["px"], torch.Tensor) and frame["px"].shape == (2, 2)
    assert frame["px"].data_ptr() == ROWS["px"].chunk(0).values.buffers()[1].address
    table = to_table({"id": frame["id"], "doubled": frame["px"] * 2}, "out")
    assert table["doubled"].to_pylist() == [[2.0, 4.0], [6.0, 8.0]]


def test_cupy_frame_needs_a_gpu():
    with pytest.raises(FunctionError, match="needs a GPU"):
        to_frame(ROWS, "cupy", "cpu")


def test_torch_frames_stack_a_columns_chunks_in_order():
    import torch

    parts = [np.arange(i * 12, (i + 1) * 12, dtype=np.float32).reshape(4, 3) for i in range(3)]
    column = pa.chunked_array([pa.FixedSizeListArray.from_arrays(pa.array(p.ravel()), 3) for p in parts])
    ids = pa.chunked_array([pa.array(np.arange(4) + 4 * i) for i in range(3)])
    frame = to_frame(pa.table({"id": ids, "px": column}), "torch")
    assert isinstance(frame["px"], torch.Tensor) and frame["px"].shape == (12, 3)
    np.testing.assert_array_equal(frame["px"].numpy(), np.concatenate(parts))
    np.testing.assert_array_equal(frame["id"].numpy(), np.arange(12))
    with_nulls = pa.chunked_array([pa.array([[1.0, 2.0]], pa.list_(pa.float32(), 2)),
                                   pa.array([None], pa.list_(pa.float32(), 2))])
    assert to_frame(pa.table({"px": with_nulls}), "numpy")["px"].dtype == object


def test_every_frame_a_function_may_declare_has_a_converter():
    from indb.registry.code import FRAMES
    from indb.udf.frames import CONVERTERS
    assert tuple(CONVERTERS) == FRAMES
