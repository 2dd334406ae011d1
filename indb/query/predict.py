"""PREDICT inside DuckDB: one vectorized Arrow function per model version, in the query's process.

DuckDB hands the function its argument columns a vector (2,048 rows) at a time; the rows become
one ``(rows, width)`` matrix (a fixed-size array column without a copy) and go to the model in one
call. The model is the engine's served one (``served_model``: loaded once, kept).
"""

from __future__ import annotations

import duckdb
import numpy as np
from duckdb.func import FunctionNullHandling, PythonUDFType
import pyarrow as pa

from indb.errors import DataError
from indb.runtime.predictors import Predictor
from indb.registry.models import ModelInfo


def return_type(info: ModelInfo) -> str:
    return {"class": "BIGINT", "value": "DOUBLE"}.get(info.output, f"FLOAT[{info.output_width}]")


def register(duck: duckdb.DuckDBPyConnection, function: str, predictor: Predictor) -> None:
    """Make ``function(col, ...)`` return the model's prediction for each row."""
    info = predictor.info
    assert info is not None  # served models come from the registry

    def predict(*columns: pa.ChunkedArray | pa.Array) -> pa.Array:
        return as_arrow(info, predictor.predict(feature_matrix(columns)))

    duck.create_function(function, predict, None, return_type(info), type=PythonUDFType.ARROW,
                         null_handling=FunctionNullHandling.SPECIAL, side_effects=False)


def as_arrow(info: ModelInfo, predictions: np.ndarray) -> pa.Array:
    """A model's predictions as the column PREDICT returns (``return_type``)."""
    if info.output == "vector":
        return pa.FixedSizeListArray.from_arrays(pa.array(predictions.ravel()), info.output_width)
    return pa.array(predictions)


def feature_matrix(columns: tuple) -> np.ndarray:
    """Argument columns as a ``(rows, width)`` float matrix: one array column, or one value a column."""
    arrays = [c.combine_chunks() if isinstance(c, pa.ChunkedArray) else c for c in columns]
    if any(a.null_count for a in arrays):
        raise DataError("PREDICT got a NULL input; filter NULL rows out or COALESCE them first")
    if len(arrays) == 1 and pa.types.is_fixed_size_list(arrays[0].type):
        array = arrays[0]
        return array.flatten().to_numpy(zero_copy_only=False).reshape(len(array), array.type.list_size)
    if len(arrays) == 1 and pa.types.is_list(arrays[0].type):
        return np.stack([np.asarray(v, dtype=np.float32) for v in arrays[0].to_pylist()])
    return np.column_stack([a.to_numpy(zero_copy_only=False) for a in arrays])
