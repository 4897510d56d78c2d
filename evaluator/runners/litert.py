"""``.tflite`` / ``.lite`` with LiteRT (``ai_edge_litert``): never imports TensorFlow.

Quantized inputs and outputs are converted with the tensor's own ``(scale, zero_point)``: the spec
describes the real values the model expects (e.g. pixels − 128 at ``Sub``), and
``q = clip(round(x / scale + zero_point))`` turns them into int8/uint8. Batches use
``resize_tensor_input`` when the model accepts it (checked once with a trial run); the last,
smaller batch is padded so the interpreter is never re-allocated.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from core.errors import BreedbenchError
from evaluator.runners.base import (
    Item,
    as_rows,
    check_dtype,
    dtype_problem,
    size_problem,
    stack,
)
from evaluator.spec import ModelSpec


def open_interpreter(
    path: Path | None = None, content: bytes | None = None, threads: int | None = None
) -> Any:
    from ai_edge_litert.interpreter import Interpreter

    try:
        if content is not None:
            return Interpreter(model_content=content, num_threads=threads)
        return Interpreter(model_path=str(path), num_threads=threads)
    except (ValueError, RuntimeError) as exc:
        raise BreedbenchError(f"not a valid LiteRT model: {str(exc).strip()}") from None


def describe_io(interp: Any) -> str:
    def fmt(d: dict[str, Any]) -> str:
        shape = [int(x) for x in d["shape"]]
        return f"{d['name']} ({np.dtype(d['dtype']).name} {shape})"

    return (
        f"its inputs: {', '.join(fmt(d) for d in interp.get_input_details())}; "
        f"its outputs: {', '.join(fmt(d) for d in interp.get_output_details())}"
    )


def find_detail(details: list[dict[str, Any]], name: str | None, interp: Any, what: str) -> dict:
    """The input/output called ``name`` (``Sub`` and ``Sub:0`` both match); None: the first."""
    if name is None:
        return details[0]
    wanted = {name, name.removesuffix(":0")}
    for d in details:
        if d["name"] in wanted or d["name"].removesuffix(":0") in wanted:
            return d
    raise BreedbenchError(f"{what} tensor {name!r} is not in the model; {describe_io(interp)}")


def check(path: Path, spec: ModelSpec, content: bytes | None = None) -> list[str]:
    """What makes the ``.tflite`` at ``path`` (or ``content``, its checked bytes) unusable as
    ``spec`` says, read from its tensors (no inference): LiteRT cannot prepare it, tensor names
    it lacks, another input type or size, or an output whose size per image is not the number
    of labels. Empty: it can be registered. The registry has refused custom and ``Flex*``
    operators before this prepares the model (unless the person trusts it)."""
    try:
        interp = open_interpreter(Path(path), content)
    except BreedbenchError as exc:
        return [str(exc)]
    try:
        interp.allocate_tensors()
    except (ValueError, RuntimeError) as exc:
        return [f"{path}: LiteRT cannot prepare the model: {exc}"]
    try:
        inp = find_detail(interp.get_input_details(), spec.input.tensor, interp, "input")
        out = find_detail(interp.get_output_details(), spec.output.tensor, interp, "output")
    except BreedbenchError as exc:
        return [str(exc)]
    signature = [None if int(d) < 0 else int(d) for d in inp.get("shape_signature", inp["shape"])]
    found = [
        dtype_problem(spec.input.dtype, np.dtype(inp["dtype"]).name, inp["name"]),
        size_problem(spec, signature, inp["name"]),
        _labels_problem(inp, out, len(spec.class_labels)),
    ]
    return [p for p in found if p is not None]


def _labels_problem(inp: dict[str, Any], out: dict[str, Any], n_labels: int) -> str | None:
    """One output value per label and image (a batched input's output holds every image's)."""
    shape = [int(d) for d in out["shape"]]
    in_shape = [int(d) for d in inp["shape"]]
    in_batch = in_shape[0] if len(in_shape) == 4 and in_shape[0] > 0 else 1
    per_image = int(np.prod(shape)) // in_batch
    if per_image != n_labels:
        return (
            f"the model's output {out['name']} has {per_image} values per image "
            f"(shape {shape}) but the labels list {n_labels} classes"
        )
    return None


class LiteRTRunner:
    def __init__(
        self,
        path: Path,
        spec: ModelSpec,
        threads: int | None = None,
        batch: int = 32,
        content: bytes | None = None,
    ) -> None:
        self.interp = open_interpreter(Path(path), content, threads=threads)
        inp = find_detail(self.interp.get_input_details(), spec.input.tensor, self.interp, "input")
        out = find_detail(
            self.interp.get_output_details(), spec.output.tensor, self.interp, "output"
        )
        self.in_index, self.out_index = inp["index"], out["index"]
        self.in_dtype = np.dtype(inp["dtype"])
        check_dtype(spec.input.dtype, self.in_dtype.name, inp["name"])
        self.in_quant = inp["quantization"]
        self.out_quant = out["quantization"]
        self.out_dtype = np.dtype(out["dtype"])
        self.in_shape = list(inp["shape"])
        self.variable_size = spec.input.kind == "image"
        self.interp.allocate_tensors()
        self.max_batch = 1
        self.allocated = 1
        if batch > 1 and spec.input.kind == "tensor" and len(self.in_shape) == 4:
            self.max_batch = self._try_batch(batch)

    def _try_batch(self, batch: int) -> int:
        """Resize the input to ``batch`` and run once; fall back to 1 if the model refuses."""
        shape = [batch, *self.in_shape[1:]]
        try:
            self.interp.resize_tensor_input(self.in_index, shape, strict=False)
            self.interp.allocate_tensors()
            self.interp.set_tensor(self.in_index, np.zeros(shape, self.in_dtype))
            self.interp.invoke()
            as_rows(self.interp.get_tensor(self.out_index), batch)
        except (ValueError, RuntimeError):
            self.interp.resize_tensor_input(self.in_index, self.in_shape, strict=False)
            self.interp.allocate_tensors()
            return 1
        self.allocated = batch
        return batch

    def quantize(self, x: np.ndarray) -> np.ndarray:
        if self.in_dtype.kind == "f":
            return x.astype(self.in_dtype, copy=False)
        scale, zero_point = self.in_quant
        info = np.iinfo(self.in_dtype)
        if scale:
            x = np.round(x.astype(np.float32) / np.float32(scale) + zero_point)
        return np.clip(x, info.min, info.max).astype(self.in_dtype)

    def dequantize(self, y: np.ndarray) -> np.ndarray:
        scale, zero_point = self.out_quant
        if self.out_dtype.kind == "f" or not scale:
            return y.astype(np.float32)
        return (y.astype(np.float32) - zero_point) * np.float32(scale)

    def predict(self, batch: Sequence[Item]) -> np.ndarray:
        if self.variable_size:
            return np.concatenate([self._predict_one_any_size(np.asarray(b)) for b in batch])
        n = len(batch)
        x = stack(batch)
        if x.ndim == len(self.in_shape) - 1:
            x = x[:, None] if n > 1 else x[None]
        if self.allocated > n:
            pad = np.zeros((self.allocated - n, *x.shape[1:]), x.dtype)
            x = np.concatenate([x, pad])
        self.interp.set_tensor(self.in_index, self.quantize(x))
        self.interp.invoke()
        rows = as_rows(self.dequantize(self.interp.get_tensor(self.out_index)), self.allocated)
        return rows[:n]

    def _predict_one_any_size(self, img: np.ndarray) -> np.ndarray:
        # A graph converted from ``Cast`` takes ``[H, W, 3]`` (no batch dimension).
        x = img if len(self.in_shape) == img.ndim else img[None]
        if list(self.interp.get_tensor(self.in_index).shape) != list(x.shape):
            self.interp.resize_tensor_input(self.in_index, list(x.shape), strict=False)
            self.interp.allocate_tensors()
        self.interp.set_tensor(self.in_index, self.quantize(x))
        self.interp.invoke()
        return as_rows(self.dequantize(self.interp.get_tensor(self.out_index)), 1)

    def close(self) -> None:
        self.interp = None
