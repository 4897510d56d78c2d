"""Detectors (``kind = "detector"``): one image in, its boxes, classes and scores out.

A detector is fed like a classifier (the spec's ``[input]``, ``evaluator.preprocess``) but
answers with the four outputs of the ``[detector]`` table. ``detect`` returns them raw, as
``RawDetections`` (boxes normalised, in the model's own order); which of them is a dog, and
which box is cropped, is ``evaluator.detection``'s business.

A detector runs one image per call: the detection post-processing of SSD and EfficientDet-Lite
exports takes a batch of one. ``.tflite`` runs in LiteRT (never importing TensorFlow) and the
``TFLite_Detection_PostProcess`` operator runs there: LiteRT ships its kernel among its builtins,
and the op check (``evaluator.safety.tflite_ops``) allows that one custom operator and no other.
A frozen ``.pb`` runs in a TF1 session, TensorFlow imported only then.

``TFLite_Detection_PostProcess:K`` in a spec names the K-th output of that operator when no
output tensor has that exact name: exporters name and order the outputs differently, the
operator's own order (boxes, classes, scores, count) never changes.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from core.errors import BreedbenchError
from evaluator.runners.base import check_dtype, dtype_problem, size_problem, tensor_name
from evaluator.spec import DetectorSpec, ModelSpec

POSTPROCESS_OP = "TFLite_Detection_PostProcess"
_POSTPROCESS_REF = re.compile(rf"^{POSTPROCESS_OP}(?::(\d+))?$")
OUTPUT_KEYS = ("boxes", "classes", "scores", "count")


@dataclass(frozen=True)
class RawDetections:
    """A detector's answer for one image: ``boxes`` ``(n, 4)`` normalised, in the model's box
    order; ``classes`` and ``scores`` ``(n,)``; only the first ``count`` are real."""

    boxes: np.ndarray
    classes: np.ndarray
    scores: np.ndarray
    count: int


class DetectorRunner(Protocol):
    def detect(self, item: np.ndarray) -> RawDetections: ...

    def close(self) -> None: ...


def output_names(spec: ModelSpec) -> dict[str, str]:
    """``{"boxes": name, ...}`` for the outputs the spec names (``count`` may be absent)."""
    det = _detector(spec)
    named = {key: getattr(det, key) for key in OUTPUT_KEYS}
    return {key: name for key, name in named.items() if name is not None}


def _detector(spec: ModelSpec) -> DetectorSpec:
    if spec.detector is None:
        raise BreedbenchError('not a detector spec: it needs kind = "detector" and [detector]')
    return spec.detector


def raw_detections(outputs: dict[str, np.ndarray]) -> RawDetections:
    """The four outputs as one image's detections; shapes that are not ``[1, N, 4]`` /
    ``[1, N]`` are said in one line (a spec naming the wrong tensors)."""
    boxes = np.asarray(outputs["boxes"], dtype=np.float32)
    classes = np.asarray(outputs["classes"], dtype=np.float32).reshape(-1)
    scores = np.asarray(outputs["scores"], dtype=np.float32).reshape(-1)
    if boxes.size % 4 or boxes.shape[-1] != 4:
        raise BreedbenchError(
            f"the detector's boxes output has shape {list(boxes.shape)}, not [1, N, 4]: "
            "check detector.boxes"
        )
    boxes = boxes.reshape(-1, 4)
    if not (len(boxes) == len(classes) == len(scores)):
        raise BreedbenchError(
            f"the detector gives {len(boxes)} boxes, {len(classes)} classes and {len(scores)} "
            "scores: detector.boxes, classes and scores must name outputs of one detection"
        )
    count = len(boxes)
    if "count" in outputs:
        count = max(0, min(count, int(np.asarray(outputs["count"]).reshape(-1)[0])))
    return RawDetections(boxes, classes, scores, count)


# --- LiteRT -------------------------------------------------------------------------------------


def _tflite_outputs(interp: Any, content: bytes, spec: ModelSpec) -> dict[str, dict[str, Any]]:
    """The output details each ``[detector]`` key names (see the module's docstring)."""
    from evaluator.runners.litert import describe_io
    from evaluator.safety.tflite_ops import operator_outputs

    details = interp.get_output_details() + interp.get_input_details()
    by_name = {d["name"]: d for d in details}
    for d in details:
        by_name.setdefault(d["name"].removesuffix(":0"), d)
    op_outputs: list[str] | None = None
    found = {}
    for key, name in output_names(spec).items():
        detail = by_name.get(name) or by_name.get(name.removesuffix(":0"))
        match = _POSTPROCESS_REF.match(name)
        if detail is None and match:
            if op_outputs is None:
                op_outputs = operator_outputs(content, POSTPROCESS_OP)
            k = int(match.group(1) or 0)
            if k < len(op_outputs):
                detail = by_name.get(op_outputs[k])
        if detail is None:
            raise BreedbenchError(
                f"detector.{key} tensor {name!r} is not in the model; {describe_io(interp)}"
            )
        found[key] = detail
    return found


class LiteRTDetector:
    def __init__(
        self, path: Path, spec: ModelSpec, content: bytes | None, threads: int | None = None
    ) -> None:
        from evaluator.runners.litert import find_detail, open_interpreter

        content = Path(path).read_bytes() if content is None else content
        self.interp = open_interpreter(Path(path), content, threads=threads)
        inp = find_detail(self.interp.get_input_details(), spec.input.tensor, self.interp, "input")
        self.in_index = inp["index"]
        self.in_dtype = np.dtype(inp["dtype"])
        self.in_quant = inp["quantization"]
        self.in_shape = [int(d) for d in inp["shape"]]
        self.in_name = inp["name"]
        i = spec.input
        # No scale/offset/mean/std: pixels go in as they are (a uint8 input of these exports
        # takes the image bytes); else the spec's real values, quantized as classifiers' are.
        self.raw_pixels = i.scale is None and i.offset is None and i.mean is None
        check_dtype(spec.input.dtype, self.in_dtype.name, inp["name"])
        self.outputs = _tflite_outputs(self.interp, content, spec)
        try:
            self.interp.allocate_tensors()
        except (ValueError, RuntimeError) as exc:
            raise BreedbenchError(f"{path}: LiteRT cannot prepare the detector: {exc}") from None

    def _quantize(self, x: np.ndarray) -> np.ndarray:
        if self.in_dtype.kind == "f":
            return x.astype(self.in_dtype, copy=False)
        scale, zero_point = self.in_quant
        info = np.iinfo(self.in_dtype)
        if scale and not self.raw_pixels:
            x = np.round(x.astype(np.float32) / np.float32(scale) + zero_point)
        return np.clip(np.rint(x), info.min, info.max).astype(self.in_dtype)

    def _value(self, detail: dict[str, Any]) -> np.ndarray:
        y = self.interp.get_tensor(detail["index"])
        scale, zero_point = detail["quantization"]
        if np.dtype(detail["dtype"]).kind == "f" or not scale:
            return y.astype(np.float32)
        return (y.astype(np.float32) - zero_point) * np.float32(scale)

    def detect(self, item: np.ndarray) -> RawDetections:
        x = np.asarray(item)
        if x.ndim == len(self.in_shape) - 1:
            x = x[None]
        self.interp.set_tensor(self.in_index, self._quantize(x))
        self.interp.invoke()
        return raw_detections({k: self._value(d) for k, d in self.outputs.items()})

    def close(self) -> None:
        self.interp = None


def check_tflite(path: Path, spec: ModelSpec, content: bytes | None) -> list[str]:
    """Registration: LiteRT prepares it, the tensors exist, one trial run on a blank image
    gives outputs of detection shapes (a spec naming the wrong tensors is caught here)."""
    try:
        det = LiteRTDetector(path, spec, content)
    except BreedbenchError as exc:
        return [str(exc)]
    signature = det.in_shape
    problems = [
        dtype_problem(spec.input.dtype, det.in_dtype.name, det.in_name),
        size_problem(spec, signature, det.in_name),
    ]
    problems = [p for p in problems if p is not None]
    if problems:
        return problems
    try:
        det.detect(np.zeros(det.in_shape, np.float32))
    except BreedbenchError as exc:
        return [str(exc)]
    except (ValueError, RuntimeError) as exc:
        return [f"{path}: LiteRT cannot run the detector: {exc}"]
    return []


# --- frozen graph -------------------------------------------------------------------------------


def check_graph(path: Path, spec: ModelSpec, content: bytes | None) -> list[str]:
    """Registration: a GraphDef that has the input and every output the spec names."""
    from evaluator.runners.frozen_graph import _shape, read_graph, tensor_name_problem

    try:
        graph_def = read_graph(path, content)
    except BreedbenchError as exc:
        return [str(exc)]
    if not spec.input.tensor:
        return ["the spec of a frozen graph needs input.tensor"]
    names = [spec.input.tensor, *output_names(spec).values()]
    missing = tensor_name_problem(graph_def, names, str(path))
    if missing is not None:
        return [missing]
    wanted = spec.input.tensor.split(":")[0]
    for node in graph_def.node:
        if node.name == wanted and node.op == "Placeholder":
            problem = size_problem(spec, _shape(node), spec.input.tensor)
            return [] if problem is None else [problem]
    return []


class GraphDetector:
    """A frozen detection graph in a TF1 session, one image per run."""

    def __init__(
        self, path: Path, spec: ModelSpec, content: bytes | None, threads: int | None = None
    ) -> None:
        import tensorflow as tf

        from evaluator.runners.frozen_graph import read_graph

        problems = check_graph(path, spec, content)
        if problems:
            raise BreedbenchError("; ".join(problems))
        graph = tf.Graph()
        with graph.as_default():
            tf.import_graph_def(read_graph(path, content), name="")
        self.input = graph.get_tensor_by_name(tensor_name(spec.input.tensor or ""))
        check_dtype(spec.input.dtype, self.input.dtype.name, self.input.name)
        self.dtype = self.input.dtype.as_numpy_dtype
        self.fetch = {
            k: graph.get_tensor_by_name(tensor_name(n)) for k, n in output_names(spec).items()
        }
        config = tf.compat.v1.ConfigProto()
        if threads:
            config.intra_op_parallelism_threads = threads
            config.inter_op_parallelism_threads = 1
        self.session = tf.compat.v1.Session(graph=graph, config=config)

    def detect(self, item: np.ndarray) -> RawDetections:
        x = np.asarray(item)
        if x.ndim == 3:
            x = x[None]
        out = self.session.run(self.fetch, {self.input: x.astype(self.dtype, copy=False)})
        return raw_detections(out)

    def close(self) -> None:
        self.session.close()


# --- picked by format ---------------------------------------------------------------------------


def check_detector_file(path: Path, fmt: str, spec: ModelSpec, content: bytes | None) -> list[str]:
    """The problems that make the detector at ``path`` unusable as ``spec`` says (empty: fine)."""
    if fmt == "tflite":
        return check_tflite(path, spec, content)
    if fmt == "frozen_pb":
        return check_graph(path, spec, content)
    return [f"a detector must be a .tflite or a frozen .pb, not {fmt}"]


def load_detector(
    path: Path, fmt: str, spec: ModelSpec, content: bytes | None, threads: int | None = None
) -> DetectorRunner:
    if fmt == "tflite":
        return LiteRTDetector(path, spec, content, threads)
    if fmt == "frozen_pb":
        return GraphDetector(path, spec, content, threads)
    raise BreedbenchError(f"a detector must be a .tflite or a frozen .pb, not {fmt}")
