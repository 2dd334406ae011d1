"""TensorFlow models as SavedModel directories: saved from a ``tf.Module`` or a Keras model on
Keras's TensorFlow backend, run through the SavedModel's ``serving_default`` signature.

A SavedModel is a graph (protocol buffers) and its variables (a checkpoint of raw tensors):
``tf.saved_model.load`` rebuilds the graph's functions without the Python code that made them and
without unpickling anything. TensorFlow (``indb[tf]``: ``tensorflow-cpu``) is imported only when a
model of this flavor is saved or loaded; it runs on the CPU.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from indb.errors import ModelError

DIRECTORY = "saved_model"  # the flavor's artifact (registry FLAVORS): a directory
SIGNATURE = "serving_default"


def _tensorflow() -> Any:
    """TensorFlow, imported as indb imports Keras: importing TensorFlow imports Keras, which
    would otherwise pick the TensorFlow backend for the whole process (see ``predictors._keras``)."""
    os.environ.setdefault("KERAS_BACKEND", "torch")
    import tensorflow
    return tensorflow


def is_saved_model(path: Path) -> bool:
    return path.is_dir() and (path / "saved_model.pb").is_file()


def is_tensorflow(model: Any) -> bool:
    """A ``tf.Module`` (and anything built on one, Keras models on the TensorFlow backend too)."""
    return any(c.__module__.startswith("tensorflow.") for c in type(model).__mro__)


def save_tensorflow(model: Any, example: Any, directory: Path) -> tuple[tuple[int, ...], str, int]:
    """Write ``model`` as a SavedModel whose ``serving_default`` takes a batch shaped like
    ``example`` with any number of rows. Returns the row shape, its dtype and the output width."""
    tf = _tensorflow()

    path = directory / DIRECTORY
    if type(model).__module__.startswith("keras"):
        import keras
        if keras.backend.backend() != "tensorflow":
            raise ModelError("a Keras model is saved as a TensorFlow SavedModel from Keras's "
                             "TensorFlow backend: set KERAS_BACKEND=tensorflow before importing "
                             "keras, or save it with flavor='keras'")
        model.export(str(path), format="tf_saved_model", verbose=False)
    elif isinstance(model, tf.Module):
        if example is None:
            raise ModelError("saving a tf.Module needs example= (an input batch, rows first)")
        example = np.asarray(example)
        spec = tf.TensorSpec((None, *example.shape[1:]), tf.as_dtype(example.dtype))
        function = tf.function(model.__call__, input_signature=[spec])
        tf.saved_model.save(model, str(path), signatures={SIGNATURE: function})
    else:
        raise ModelError(f"flavor='tensorflow' takes a tf.Module or a Keras model, not a "
                         f"{type(model).__name__}")
    return _described(path)


def import_saved_model(source: Path, directory: Path) -> tuple[tuple[int, ...], str, int]:
    """Copy a SavedModel directory in as the flavor's artifact, checked by running it on zeros.
    Returns its row shape, dtype and output width."""
    target = directory / DIRECTORY
    shutil.copytree(source, target)
    return _described(target)


def _described(path: Path) -> tuple[tuple[int, ...], str, int]:
    _, run, shape, dtype = load_saved_model(path)
    out = run(np.zeros((2, *shape), dtype=dtype))
    return shape, dtype, int(np.prod(out.shape[1:])) if out.ndim > 1 else 1


def load_saved_model(path: Path) -> tuple[Any, Callable[[np.ndarray], np.ndarray], tuple[int, ...], str]:
    """The loaded SavedModel (kept: its functions hold its variables), a function from a batch to
    the signature's output, the row shape and dtype the signature takes."""
    tf = _tensorflow()

    loaded = tf.saved_model.load(str(path))
    signature = loaded.signatures.get(SIGNATURE)
    if signature is None:
        raise ModelError(f"{path.name} has no {SIGNATURE} signature; save it with "
                         f"tf.saved_model.save(module, path, signatures={{'{SIGNATURE}': f}})")
    inputs = signature.structured_input_signature[1]
    outputs = sorted(signature.structured_outputs)
    if len(inputs) != 1 or len(outputs) != 1:
        raise ModelError(f"{path.name}: indb runs signatures of one input and one output, not "
                         f"{len(inputs)} and {len(outputs)}")
    (name, spec), = inputs.items()
    if spec.shape.rank is None or None in spec.shape[1:]:
        raise ModelError(f"{path.name}: the input's row shape must be fixed, not {spec.shape}")
    output = outputs[0]

    def run(x: np.ndarray) -> np.ndarray:
        return signature(**{name: tf.constant(x)})[output].numpy()

    return loaded, run, tuple(int(s) for s in spec.shape[1:]), spec.dtype.name
