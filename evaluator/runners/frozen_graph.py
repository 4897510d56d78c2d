"""Frozen TensorFlow GraphDef (``.pb``): graph import and a TF1 session.

The only module that imports TensorFlow to run a model (lazily: ``import tensorflow`` costs
seconds and half a gigabyte). Batches are fed in one ``run`` when the input tensor has a free batch
dimension (``[None, H, W, 3]``); classic single-image graphs (``Cast:0`` of shape
``[None, None, 3]``, ``DecodeJpeg/contents:0``, ``[1, H, W, 3]``) get one image per call.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from core.errors import BreedbenchError
from evaluator.runners.base import (
    Item,
    as_rows,
    check_dtype,
    node_name,
    size_problem,
    stack,
    tensor_name,
)
from evaluator.safety.graph_ops import parse_graph_def
from evaluator.spec import ModelSpec

NOT_OUTPUTS = frozenset({"Const", "NoOp", "Assert", "Placeholder", "VarHandleOp", "VariableV2"})


@dataclass(frozen=True)
class TensorInfo:
    name: str
    dtype: str
    shape: list[int | None] | None

    def __str__(self) -> str:
        shape = (
            "?"
            if self.shape is None
            else "[" + ", ".join("None" if d is None else str(d) for d in self.shape) + "]"
        )
        return f"{self.name} ({self.dtype} {shape})"


def graph_io(graph_def: Any) -> tuple[list[TensorInfo], list[TensorInfo]]:
    """The graph's feedable inputs (placeholders) and outputs (ops nobody consumes)."""
    consumed = {node_name(inp) for n in graph_def.node for inp in n.input}
    inputs, outputs = [], []
    for n in graph_def.node:
        if n.op == "Placeholder":
            inputs.append(TensorInfo(f"{n.name}:0", _dtype_name(n), _shape(n)))
        elif n.name not in consumed and n.op not in NOT_OUTPUTS:
            outputs.append(TensorInfo(f"{n.name}:0", _dtype_name(n), None))
    return inputs, outputs


def _dtype_name(node: Any) -> str:
    from tensorflow.core.framework import types_pb2

    for key in ("dtype", "T", "DstT", "out_type"):
        if key in node.attr:
            return types_pb2.DataType.Name(node.attr[key].type).removeprefix("DT_").lower()
    return "?"


def _shape(node: Any) -> list[int | None] | None:
    if "shape" not in node.attr or node.attr["shape"].shape.unknown_rank:
        return None
    return [None if d.size < 0 else d.size for d in node.attr["shape"].shape.dim]


def describe_io(graph_def: Any) -> str:
    inputs, outputs = graph_io(graph_def)
    return (
        f"its inputs: {', '.join(map(str, inputs)) or 'none'}; "
        f"its outputs: {', '.join(map(str, outputs)) or 'none'}"
    )


def tensor_name_problem(graph_def: Any, names: Sequence[str], source: str) -> str | None:
    """The first name missing from the graph, said with the real inputs and outputs."""
    nodes = {n.name for n in graph_def.node}
    for name in names:
        if node_name(name) not in nodes:
            return f"tensor {name!r} is not in the graph {source}; {describe_io(graph_def)}"
    return None


def read_graph(path: Path, content: bytes | None = None) -> Any:
    """The GraphDef in ``content`` (the checked bytes), or else in the file at ``path``."""
    try:
        data = Path(path).read_bytes() if content is None else content
    except OSError as exc:
        raise BreedbenchError(f"cannot read {path}: {exc.strerror}") from None
    return parse_graph_def(data)


def check(path: Path, spec: ModelSpec, content: bytes | None = None) -> list[str]:
    """What makes the graph at ``path`` unusable as ``spec`` says, without running it: not a
    GraphDef, tensor names it lacks, a fixed input size other than the spec's. Empty: it can
    be registered."""
    try:
        graph_def = read_graph(path, content)
    except BreedbenchError as exc:
        return [str(exc)]
    problem = _io_problem(graph_def, spec, path)
    return [] if problem is None else [problem]


def _io_problem(graph_def: Any, spec: ModelSpec, path: Path) -> str | None:
    """The spec's input and output must name tensors of the graph, the input at its size."""
    if not spec.input.tensor or not spec.output.tensor:
        return (
            "the spec of a frozen graph needs input.tensor and output.tensor; "
            f"{describe_io(graph_def)}"
        )
    names = [spec.input.tensor, spec.output.tensor]
    missing = tensor_name_problem(graph_def, names, str(path))
    if missing is not None:
        return missing
    name = node_name(spec.input.tensor)
    for node in graph_def.node:
        if node.name == name and node.op == "Placeholder":
            return size_problem(spec, _shape(node), spec.input.tensor)
    return None


class FrozenGraphRunner:
    """A frozen graph in a TF1 session (threads: intra-op parallelism)."""

    def __init__(
        self,
        path: Path,
        spec: ModelSpec,
        threads: int | None = None,
        batch: int = 32,
        content: bytes | None = None,
    ) -> None:
        import tensorflow as tf

        self.tf = tf
        gd = read_graph(path, content)
        problem = _io_problem(gd, spec, path)
        if problem is not None:
            raise BreedbenchError(problem)
        self.graph = tf.Graph()
        with self.graph.as_default():
            tf.import_graph_def(gd, name="")
        self.input = self.graph.get_tensor_by_name(tensor_name(spec.input.tensor or ""))
        self.output = self.graph.get_tensor_by_name(tensor_name(spec.output.tensor or ""))
        config = tf.compat.v1.ConfigProto()
        if threads:
            config.intra_op_parallelism_threads = threads
            config.inter_op_parallelism_threads = 1
        self.session = tf.compat.v1.Session(graph=self.graph, config=config)
        shape = self.input.shape
        self.rank = shape.rank
        self.dtype = None if self.input.dtype == tf.string else self.input.dtype.as_numpy_dtype
        check_dtype(spec.input.dtype, self.input.dtype.name, self.input.name)
        free_batch = self.rank == 4 and shape[0] is None
        self.max_batch = max(1, batch) if free_batch and spec.input.kind == "tensor" else 1

    def _feed(self, item: Item) -> Any:
        if isinstance(item, bytes):
            return item
        arr = np.asarray(item)
        if self.rank is not None and arr.ndim == self.rank - 1:
            arr = arr[None]
        return arr.astype(self.dtype, copy=False) if self.dtype is not None else arr

    def predict(self, batch: Sequence[Item]) -> np.ndarray:
        if len(batch) > 1:
            stacked = stack(batch)
            feed = stacked.astype(self.dtype, copy=False) if self.dtype is not None else stacked
            out = self.session.run(self.output, {self.input: feed})
            return as_rows(out, len(batch))
        out = self.session.run(self.output, {self.input: self._feed(batch[0])})
        return as_rows(out, 1)

    def close(self) -> None:
        self.session.close()
