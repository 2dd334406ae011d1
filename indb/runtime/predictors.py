"""Saving a model as a flavor's artifact and loading it back as a ``Predictor``.

torch, onnxruntime and keras are imported only when a model of theirs is saved or loaded. Keras
runs on its torch backend unless ``KERAS_BACKEND`` says otherwise (TensorFlow is then optional).
"""

from __future__ import annotations

import contextlib
import copy
import json
import os
import shutil
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from indb.errors import ModelError
from indb.registry.models import FLAVORS, OUTPUTS, ModelInfo
from indb.runtime.gpus import gpu_turn, last_batch, to_device
from indb.runtime.graphs import MAX_ROWS as MAX_GRAPH_ROWS
from indb.runtime.graphs import CudaGraphs, bucket
from indb.runtime.tf_models import import_saved_model, is_saved_model, load_saved_model, save_tensorflow
from indb.runtime.trees import FILES as TREE_FILES
from indb.runtime.trees import SUFFIXES as TREE_SUFFIXES
from indb.runtime.trees import import_tree, load_tree, save_tree

BATCH_ROWS = 8192  # rows per model call when predicting many
# A short batch of an eager model on a GPU is padded to the next power of two only when that adds
# at most this share of its rows; otherwise it runs as it is, on cuDNN's heuristic choice of
# kernels (docs/design.md, "No host wait between batches")
PAD_SHARE = 1 / 8


def is_keras(model: Any) -> bool:
    return type(model).__module__.startswith("keras")


def save_model(model: Any, example: Any, flavor: str, directory: Path) -> tuple[tuple[int, ...], str, int]:
    """Write ``model`` (a torch module, or a Keras model) as the flavor's artifact in ``directory``.

    ``example`` is an input batch (rows first); the row dimension is saved as dynamic. Returns the
    shape of one row, its dtype and the width of one row of output.
    """
    if flavor not in FLAVORS:
        raise ModelError(f"unknown model flavor {flavor!r}; indb saves {', '.join(FLAVORS)}")
    if flavor in TREE_FILES:
        return save_tree(model, flavor, directory)
    if flavor == "tensorflow":
        return save_tensorflow(model, example, directory)
    if example is None:
        raise ModelError("saving a torch or Keras model needs example= (an input batch, rows first)")
    if flavor == "keras" or is_keras(model):
        return _save_keras(model, example, directory)
    import torch

    if not isinstance(model, torch.nn.Module):
        raise ModelError(f"ctx.models.save takes a torch.nn.Module, not a {type(model).__name__}")
    example = torch.as_tensor(example)
    if example.ndim < 2 or example.shape[0] < 2:
        raise ModelError("the example input must be a batch of at least 2 rows (rows first)")
    model = copy.deepcopy(model).eval().cpu()  # exported on the CPU; the caller's model stays put
    example = example.cpu()
    with torch.no_grad():
        output = model(example)
    path = directory / FLAVORS[flavor]
    batch = torch.export.Dim("rows", min=1)
    if flavor == "torch":
        program = torch.export.export(model, (example,), dynamic_shapes=({0: batch},))
        program.example_inputs = None  # keep no pickled sample inputs in the archive
        torch.export.save(program, str(path))
    else:
        torch.onnx.export(model, (example,), str(path), input_names=["input"], output_names=["output"],
                          dynamic_axes={"input": {0: "rows"}, "output": {0: "rows"}}, dynamo=False)
    width = int(np.prod(output.shape[1:])) if output.ndim > 1 else 1
    return tuple(int(s) for s in example.shape[1:]), str(example.dtype).removeprefix("torch."), width


def _save_keras(model: Any, example: Any, directory: Path) -> tuple[tuple[int, ...], str, int]:
    if not is_keras(model):
        raise ModelError(f"flavor='keras' takes a Keras model, not a {type(model).__name__}")
    example = np.asarray(example)
    output = np.asarray(_keras().ops.convert_to_numpy(model(example, training=False)))
    model.save(str(directory / FLAVORS["keras"]))
    width = int(np.prod(output.shape[1:])) if output.ndim > 1 else 1
    return tuple(int(s) for s in example.shape[1:]), str(example.dtype), width


def _keras() -> Any:
    os.environ.setdefault("KERAS_BACKEND", "torch")
    import keras
    return keras


def import_model(source: Path, directory: Path) -> tuple[str, tuple[int, ...], str, int]:
    """Copy a model made elsewhere (an ``.onnx``, ``.pt2``, ``.keras`` file, an XGBoost ``.ubj``
    or ``.json``, a LightGBM ``.txt``, or a TensorFlow SavedModel directory) in, after checking
    it loads. Returns its flavor, row shape, dtype and output width.
    """
    suffix = source.suffix.lower()
    flavor = {".onnx": "onnx", ".pt2": "torch", ".keras": "keras"}.get(suffix)
    if flavor is None and suffix not in TREE_SUFFIXES and not is_saved_model(source):
        raise ModelError(f"{source.name} is not a model file indb reads: .onnx, .pt2, .keras, "
                         ".ubj or .json (XGBoost), .txt (LightGBM), or a SavedModel directory")
    try:
        if flavor is None:
            return _import_other(source, directory)
        target = directory / FLAVORS[flavor]
        shutil.copyfile(source, target)
        predictor = Predictor.from_file(flavor, target)
    except Exception as error:
        raise ModelError(f"{source} is not a model indb can load ({type(error).__name__}: "
                       f"{str(error).splitlines()[0] if str(error) else ''})") from None
    shape, dtype = predictor.input_shape, predictor.input_dtype
    probe = np.zeros((2, *shape), dtype=dtype)
    out = predictor.scores(probe)
    return flavor, shape, dtype, int(np.prod(out.shape[1:])) if out.ndim > 1 else 1


def _import_other(source: Path, directory: Path) -> tuple[str, tuple[int, ...], str, int]:
    """A tree ensemble's file or a SavedModel directory, each brought in by its own module."""
    if source.suffix.lower() in TREE_SUFFIXES:
        return import_tree(source, directory)
    return ("tensorflow", *import_saved_model(source, directory))


class Predictor:
    """A loaded model: ``scores`` gives its raw output, ``predict`` what PREDICT returns."""

    def __init__(self, info: ModelInfo, device: str = "cpu", precision: str | None = None,
                 *, compile: bool = False, cuda_graphs: bool = False) -> None:
        self._load(info.flavor, Path(info.path), device, precision, compile, cuda_graphs)
        self.info: ModelInfo | None = info

    @classmethod
    def from_file(cls, flavor: str, path: Path, device: str = "cpu", precision: str | None = None,
                  *, compile: bool = False, cuda_graphs: bool = False) -> Predictor:
        """A model file loaded without registry facts (``predict`` needs them; ``scores`` not).

        A torch model is placed on ``device``; ``precision="bf16"`` runs it in bfloat16,
        ``compile=True`` through ``torch.compile``, ``cuda_graphs=True`` (on a GPU) from CUDA
        graphs captured per batch size. The other flavors run on the CPU and ignore these.
        """
        self = cls.__new__(cls)
        self._load(flavor, path, device, precision, compile, cuda_graphs)
        self.info = None
        return self

    def _load(self, flavor: str, path: Path, device: str, precision: str | None, compile: bool,
              cuda_graphs: bool) -> None:
        self.module: Any = None
        self.name, self.flavor, self.device = path.name, flavor, device
        self.input_shape: tuple[int, ...] = ()
        self.input_dtype = "float32"
        self._forward: Callable[[Any], Any] | None = None  # torch: all batches on the device
        self._serve: Callable[[np.ndarray], np.ndarray] | None = None  # torch: from CUDA graphs
        self._run: Callable[[np.ndarray], np.ndarray] | None = None  # the other flavors
        self._graphs: CudaGraphs | None = None
        if precision not in (None, "fp32", "bf16"):
            raise ModelError(f"precision is fp32 or bf16, not {precision!r}")
        if flavor == "torch":
            self._load_torch(path, precision, compile, cuda_graphs)
        elif flavor == "keras":
            keras = _keras()
            self.module = keras.saving.load_model(str(path), safe_mode=True)
            self.input_shape = tuple(int(s) for s in self.module.inputs[0].shape[1:])
            self.input_dtype = "float32"
            self._run = lambda x: np.asarray(keras.ops.convert_to_numpy(self.module(x, training=False)))
        elif flavor in TREE_FILES:
            tree = load_tree(flavor, path, device)
            self.module, self._run = tree.booster, tree.run
            self.input_shape, self.input_dtype = tree.input_shape, tree.input_dtype
        elif flavor == "tensorflow":
            self.module, self._run, self.input_shape, self.input_dtype = load_saved_model(path)
        else:
            import onnxruntime
            session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
            signature = session.get_inputs()[0]
            self.input_shape = tuple(int(s) for s in signature.shape[1:])
            self.input_dtype = {"tensor(float)": "float32", "tensor(double)": "float64",
                                "tensor(int64)": "int64"}.get(signature.type, "float32")
            self._run = lambda x: session.run(None, {signature.name: x})[0]

    def _load_torch(self, path: Path, precision: str | None, compile: bool, cuda_graphs: bool) -> None:
        import torch
        _refuse_pickles(path)
        module: Any = torch.export.load(str(path)).module().to(self.device)
        # torch.export's check of every call's inputs against the exported ones took a third of
        # a small batch's call (CPU, 30 rows: 63 -> 42 us); ``_shaped`` checks the shape and
        # ``forward`` converts the dtype already
        module.validate_inputs = False
        placeholder = next(n for n in module.graph.nodes if n.op == "placeholder")
        value = placeholder.meta["val"]
        self.input_shape = tuple(int(s) for s in value.shape[1:])
        self.input_dtype = str(value.dtype).removeprefix("torch.")
        dtype = torch.bfloat16 if precision == "bf16" else value.dtype
        if precision == "bf16":
            module = module.to(dtype)
        self.module = module
        if self.device != "cpu":
            torch.backends.cudnn.benchmark = True  # the fastest convolution kernels for each shape
        if compile:
            # one static graph a batch size (powers of two up to BATCH_ROWS: 14 at most): after a
            # second size torch.compile would otherwise switch to one graph with a dynamic batch
            # size, whose kernels ran 20% slower on full 8,192-row batches (H200, the 28x28 CNN)
            dynamo = torch._dynamo.config
            dynamo.recompile_limit = max(dynamo.recompile_limit, BATCH_ROWS.bit_length() + 1)
            module = torch.compile(module, dynamic=False)
        graphs = CudaGraphs(module, self.input_shape, dtype, self.device) \
            if cuda_graphs and self.device != "cpu" else None
        self._graphs = graphs

        turn = gpu_turn(self.device) if self.device != "cpu" else contextlib.nullcontext

        def forward(x: Any) -> Any:
            """All batches on the device, one after another, with no wait on the host between.
            On a GPU in turns (DuckDB calls PREDICT from several threads, graphs and staging
            buffers are shared; and see ``gpus.Turns``)."""
            with turn(), torch.inference_mode():
                x = x.to(self.device, dtype=dtype, non_blocking=True)
                if graphs is not None and len(x):
                    return graphs(x)
                # (no rows: one call on the empty batch still gives the output's shape)
                starts = range(0, max(len(x), 1), BATCH_ROWS)
                parts = []
                for start in starts:
                    if start == starts[-1]:
                        last_batch(self.device)
                    parts.append(call(x[start:start + BATCH_ROWS]))
                return torch.cat(parts) if len(parts) != 1 else parts[0]

        def call(batch: Any) -> Any:
            """One batch. On a GPU a short one is padded to a power of two, so the shapes that
            cuDNN's autotuner times (or torch.compile compiles), once each, are few; an eager
            model runs one that padding would swell by more than PAD_SHARE as it is, untuned."""
            rows = len(batch)
            size, tuned = batch_shape(rows, compiled=compile) if self.device != "cpu" else (rows, True)
            if not tuned:
                return untuned(module, batch)
            if size == rows:
                return module(batch)
            padding = batch.new_zeros((size - rows, *batch.shape[1:]))
            return module(torch.cat([batch, padding]))[:rows]

        def serve(rows: np.ndarray) -> np.ndarray:
            assert graphs is not None  # served only when there are graphs
            with turn():
                return graphs.numpy(rows)

        self._forward, self._serve = forward, serve

    @property
    def cuda_graphs(self) -> CudaGraphs | None:
        """The captured graphs of a torch model loaded with ``cuda_graphs=True`` on a GPU."""
        return self._graphs

    def outputs(self, rows: Any) -> Any:
        """A torch model's output as a tensor on its device, for a UDF that goes on there (rows:
        a tensor, anywhere, or a numpy array; shaped as for ``scores``)."""
        if self._forward is None:
            raise ModelError(f"outputs() is for torch models; {self.name} is a {self.flavor} "
                             "model: use scores()")
        if not hasattr(rows, "detach"):
            rows = to_device(np.ascontiguousarray(rows, dtype=self.input_dtype), self.device)
        return self._forward(self._shaped(rows))

    def scores(self, rows: Any) -> np.ndarray:
        """The model's output for rows given as ``(n, width)`` or ``(n, *shape)``, as numpy.

        ``rows`` is a numpy array, or a torch tensor (on the GPU, say): a torch model takes it as
        it is, the other flavors as numpy.
        """
        if self._forward is not None:
            if not hasattr(rows, "detach") and self._serve is not None and self._graphs is not None \
                    and len(rows) <= MAX_GRAPH_ROWS:
                rows = np.ascontiguousarray(rows, dtype=self.input_dtype)
                return self._serve(self._shaped(rows))  # the serving path: one wait
            return self.outputs(rows).float().cpu().numpy()
        assert self._run is not None  # every flavor but torch runs through _run
        if hasattr(rows, "detach"):
            rows = rows.detach().cpu().numpy()
        rows = self._shaped(np.ascontiguousarray(rows, dtype=self.input_dtype))
        # a tree ensemble takes all the rows in one call: the libraries spread rows over their
        # threads, and XGBoost ran 4x slower in calls of 8,192 rows (benchmarks/bench_trees.py)
        step = max(len(rows), 1) if self.flavor in TREE_FILES else BATCH_ROWS
        parts = [self._run(rows[i:i + step]) for i in range(0, len(rows), step)]
        return np.concatenate(parts) if parts else \
            np.empty((0, self.info.output_width if self.info else 1))

    def _shaped(self, rows: Any) -> Any:
        try:
            return rows.reshape(len(rows), *self.input_shape)
        except (ValueError, RuntimeError):  # numpy's and torch's word for a shape that does not fit
            raise ModelError(f"model {self.info.name if self.info else self.name} takes "
                             f"{int(np.prod(self.input_shape))} values a row, not "
                             f"{int(np.prod(tuple(rows.shape[1:])))}") from None

    def predict(self, rows: np.ndarray) -> np.ndarray:
        """Per row: the class (argmax), the value, or the output vector, by the model's output kind."""
        if self.info is None:
            raise ModelError(f"{self.name} was loaded from a file, without the registry's facts "
                             "that predict() needs (its output kind); use scores()")
        scores = self.scores(rows)
        kind = self.info.output
        if kind == "class":
            return scores.reshape(len(scores), -1).argmax(axis=1).astype(np.int64)
        if kind == "value":
            return scores.reshape(len(scores)).astype(np.float64)
        return scores.reshape(len(scores), -1).astype(np.float32)


def batch_shape(rows: int, compiled: bool) -> tuple[int, bool]:
    """The rows a batch of ``rows`` runs as on a GPU, and whether cuDNN's autotuner picks its
    kernels. Padded to a power of two and tuned, as every full batch is, unless the model is
    eager and the padding would add more than PAD_SHARE of the rows: then as it is and untuned.
    (A 2,120-row last batch ran in 2.33 ms padded to 4,096 rows, 1.44 ms as it is on the
    heuristic's kernels; a new shape costs the autotuner about 100 ms in each process that meets
    it, the heuristic nothing: H200, the 28x28 CNN, docs/benchmarks.md.)"""
    if rows == 0:
        return 0, True
    size = bucket(rows)
    if compiled or rows * (1 + PAD_SHARE) >= size:
        return size, True
    return rows, False


def untuned(module: Any, batch: Any) -> Any:
    """``module(batch)`` with cuDNN's autotuner off: its kernels are the heuristic's choice, with
    nothing timed for a shape that may never come again. (The flag is read as each convolution is
    queued, and the calls of a GPU turn come from one thread at a time.)"""
    import torch
    cudnn = torch.backends.cudnn
    tuned, cudnn.benchmark = cudnn.benchmark, False
    try:
        return module(batch)
    finally:
        cudnn.benchmark = tuned


def _refuse_pickles(path: Path) -> None:
    """A .pt2 archive whose weights or constants are pickled is refused before torch reads it."""
    try:
        archive = zipfile.ZipFile(path)
    except zipfile.BadZipFile:
        raise ModelError(f"{path.name} is not a torch.export archive") from None
    with archive:
        for name in archive.namelist():
            if name.endswith(("model_weights_config.json", "model_constants_config.json")):
                config = json.loads(archive.read(name))
                payloads = config.get("config", {}).values()
                if any(p.get("use_pickle") for p in payloads):
                    raise ModelError(f"{path.name} holds pickled tensors; indb loads models "
                                   "without unpickling: export it again with torch.export.save")


def check_output(kind: str) -> str:
    if kind not in OUTPUTS:
        raise ModelError(f"a model's output is one of {', '.join(OUTPUTS)}, not {kind!r}")
    return kind
