"""The one interface every runner shares: load in the constructor, then ``predict`` a batch.

``predict`` takes a list of prepared inputs (arrays of the spec's size, or JPEG bytes) and returns
the model's raw outputs as float32 ``(batch, classes)``: quantized outputs are dequantized, an
``(n, 1)`` head is flattened, but no softmax is applied (the pipeline does that from the spec).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

import numpy as np

from evaluator.spec import ModelSpec

Item = np.ndarray | bytes


class Runner(Protocol):
    #: The largest batch ``predict`` accepts in one call (1: the model takes one image at a time).
    max_batch: int

    def predict(self, batch: Sequence[Item]) -> np.ndarray: ...

    def close(self) -> None: ...


def as_rows(out: np.ndarray, batch: int) -> np.ndarray:
    """Outputs as ``(batch, classes)`` float32, whatever the head's shape ((n, 1), (1, n))."""
    arr = np.asarray(out, dtype=np.float32)
    if arr.size % batch:
        raise ValueError(f"output of {arr.size} values cannot be split into {batch} rows")
    return arr.reshape(batch, -1)


def stack(batch: Sequence[Item]) -> np.ndarray:
    """A batch as one array (no copy when it already is one)."""
    if isinstance(batch, np.ndarray):
        return batch
    return np.stack([np.asarray(b) for b in batch])


def dtype_problem(expected: str | None, actual: str, tensor: str) -> str | None:
    """``input.dtype`` in a spec is a check: the model's input must take that type."""
    if expected is not None and expected != actual:
        return (
            f"the spec says input.dtype = {expected!r} but the model's input {tensor} is {actual}"
        )
    return None


def check_dtype(expected: str | None, actual: str, tensor: str) -> None:
    """``dtype_problem`` as an error, for a runner that finds the type only when it loads."""
    from core.errors import BreedbenchError

    problem = dtype_problem(expected, actual, tensor)
    if problem is not None:
        raise BreedbenchError(problem)


def size_problem(spec: ModelSpec, shape: Sequence[int | None] | None, tensor: str) -> str | None:
    """A fixed NHWC input must be the spec's size: say both instead of failing mid-run."""
    size = spec.input.size
    if spec.input.kind != "tensor" or size is None or shape is None or len(shape) != 4:
        return None
    h, w = shape[1], shape[2]
    if h is not None and w is not None and h > 0 and w > 0 and (h, w) != tuple(size):
        return (
            f"the model's input {tensor} takes {h}×{w} images but the spec says "
            f"input.size = [{size[0]}, {size[1]}]"
        )
    return None


def tensor_name(name: str) -> str:
    """``Sub`` → ``Sub:0``: TensorFlow tensor names carry the output index."""
    return name if ":" in name else f"{name}:0"


def node_name(tensor: str) -> str:
    """``Sub:0`` → ``Sub``; ``^ctrl`` → ``ctrl``: the node a tensor name (or a node's input,
    control inputs included) refers to."""
    return tensor.lstrip("^").split(":")[0]
