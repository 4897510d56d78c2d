"""Turn one registered model version into a ``.tflite`` version: converted, quantized, registered.

The converter is TensorFlow's own (``tf.compat.v1.lite.TFLiteConverter.from_frozen_graph`` for a
frozen ``.pb``, ``tf.lite.TFLiteConverter.from_saved_model`` / ``from_keras_model`` otherwise).
What breedbench adds is everything the original study did by hand and partly got wrong:

* choosing where the mobile model starts (``--input``): the classic ``.lite`` was cut at ``Sub`` to
  skip the JPEG decoder, so it expects pixels − 128 — the derived spec says so, traced from the
  graph's own ops (``derive_input_spec``), instead of being remembered by whoever runs it next;
* full-integer quantization calibrated on accepted images, preprocessed exactly as the derived
  spec expects (``evaluator.calibration``), and recorded so the evaluation can exclude them;
* a converter failure translated into one line naming the op and the fallback
  (``explain_converter_error``).

TensorFlow is imported inside the functions that need it.
"""

from __future__ import annotations

import copy
import re
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from core.errors import BreedbenchError
from db.database import Database
from evaluator.calibration import (
    CalibrationSet,
    preprocess_images,
    record_calibration,
    representative_dataset,
    select_calibration_images,
)
from evaluator.labels import build_label_map
from evaluator.registry import VersionInfo, get_version, list_versions, register_model
from evaluator.runners.frozen_graph import parse_graph_def
from evaluator.spec import ModelSpec, merge

QUANTIZE_MODES = ("none", "dynamic", "float16", "int8")
IO_TYPES = ("float", "int8", "uint8")
DEFAULT_CALIBRATION_IMAGES = 200

RepresentativeDataset = Callable[[], Iterator[list[np.ndarray]]]


@dataclass(frozen=True)
class ConversionRequest:
    """What the user asked for; stored verbatim (plus what was derived) in ``conversion``."""

    quantize: str = "dynamic"
    io: str = "float"
    input_tensor: str | None = None  # frozen graphs only: where the converted model starts
    calibration: int = DEFAULT_CALIBRATION_IMAGES  # images for int8 calibration
    select_tf_ops: bool = False  # keep unsupported ops as TensorFlow kernels (Flex)
    seed: int = 0  # which images calibrate, when a breed has more than needed

    def validate(self) -> None:
        if self.quantize not in QUANTIZE_MODES:
            raise BreedbenchError(
                f"unknown --quantize {self.quantize!r}: choose one of {', '.join(QUANTIZE_MODES)}"
            )
        if self.io not in IO_TYPES:
            raise BreedbenchError(f"unknown --io {self.io!r}: choose one of {', '.join(IO_TYPES)}")
        if self.io != "float" and self.quantize != "int8":
            raise BreedbenchError(
                f"--io {self.io} needs --quantize int8: only a full-integer model has integer "
                "input and output"
            )
        if self.quantize == "int8" and self.calibration < 1:
            raise BreedbenchError("--calibration must be at least 1 image for --quantize int8")

    @property
    def needs_calibration(self) -> bool:
        return self.quantize == "int8"

    def to_json(self) -> dict[str, Any]:
        out = asdict(self)
        if not self.needs_calibration:
            out.pop("calibration")
            out.pop("seed")
        return out


# --- the input of the converted model --------------------------------------------------------

# Ops that pass values through unchanged as far as preprocessing is concerned.
_PASS_THROUGH = {"Identity", "Cast", "ExpandDims", "Reshape", "Squeeze", "StopGradient"}
_AFFINE = {"Sub", "Add", "AddV2", "BiasAdd", "Mul", "RealDiv", "Div"}


@dataclass
class _Affine:
    """Per-channel ``x * scale + offset``, composed op by op along the traced path."""

    scale: np.ndarray = field(default_factory=lambda: np.ones(3))
    offset: np.ndarray = field(default_factory=lambda: np.zeros(3))

    @classmethod
    def from_input_spec(cls, inp: dict[str, Any]) -> _Affine:
        if "mean" in inp or "std" in inp:
            mean = np.broadcast_to(np.asarray(inp.get("mean", 0.0), dtype=float), (3,))
            std = np.broadcast_to(np.asarray(inp.get("std", 1.0), dtype=float), (3,))
            return cls(1.0 / std, -mean / std)
        scale = np.broadcast_to(np.asarray(inp.get("scale", 1.0), dtype=float), (3,))
        offset = np.broadcast_to(np.asarray(inp.get("offset", 0.0), dtype=float), (3,))
        return cls(scale.copy(), offset.copy())

    def then(self, op: str, const: np.ndarray, const_first: bool) -> None:
        c = np.broadcast_to(np.asarray(const, dtype=float).reshape(-1), (3,))
        if op == "Sub" and const_first:  # c - x
            self.scale, self.offset = -self.scale, c - self.offset
        elif op == "Sub":
            self.offset = self.offset - c
        elif op in ("Add", "AddV2", "BiasAdd"):
            self.offset = self.offset + c
        elif op == "Mul":
            self.scale, self.offset = self.scale * c, self.offset * c
        elif const_first:  # c / x is not affine
            raise ValueError(op)
        else:
            self.scale, self.offset = self.scale / c, self.offset / c

    def write(self, inp: dict[str, Any]) -> None:
        had = any(key in inp for key in ("scale", "offset", "mean", "std"))
        for key in ("scale", "offset", "mean", "std"):
            inp.pop(key, None)
        if not had and np.allclose(self.scale, 1.0) and np.allclose(self.offset, 0.0):
            return
        if np.allclose(self.scale, self.scale[0]) and np.allclose(self.offset, self.offset[0]):
            inp["scale"] = _clean(self.scale[0])
            inp["offset"] = _clean(self.offset[0])
        else:
            inp["mean"] = [_clean(v) for v in -self.offset / self.scale]
            inp["std"] = [_clean(v) for v in 1.0 / self.scale]


def _clean(v: float) -> float:
    """Round away float noise (1/128 * 128 = 1.0000000000000002) so specs read as written."""
    return float(f"{float(v):.10g}")


def node_name(tensor: str) -> str:
    """``Sub:0`` → ``Sub``; ``^ctrl`` → ``ctrl`` (the converter wants node names)."""
    return tensor.lstrip("^").split(":")[0]


def _const_value(nodes: dict[str, Any], name: str) -> np.ndarray | None:
    from tensorflow.python.framework import tensor_util

    seen = 0
    while name in nodes and nodes[name].op == "Identity" and seen < 10:
        name = node_name(nodes[name].input[0])
        seen += 1
    node = nodes.get(name)
    if node is None or node.op != "Const":
        return None
    return tensor_util.MakeNdarray(node.attr["value"].tensor)


def derive_input_spec(graph_def: Any, parent_spec: dict[str, Any], cut: str) -> dict[str, Any]:
    """The parent's ``[input]`` section rewritten for a model that starts at tensor ``cut``.

    Walks from ``cut`` back to the parent's input through the graph's data inputs and composes
    what those ops do: ``ResizeBilinear`` fixes the size (``tf_bilinear``), ``Sub``/``Add``/``Mul``
    /``RealDiv`` by constants become ``scale``/``offset``, ``Cast``/``ExpandDims``/``Identity``
    change nothing. An op it cannot describe stops it with a message naming the op.
    """
    nodes = {n.name: n for n in graph_def.node}
    inp = copy.deepcopy(parent_spec.get("input", {}))
    start = node_name(str(inp.get("tensor", "")))
    cut = node_name(cut)
    if cut not in nodes:
        raise BreedbenchError(f"no tensor {cut!r} in the graph; {_describe_inputs(graph_def)}")
    path: list[Any] = []
    name = cut
    while name != start:
        node = nodes[name]
        path.append(node)
        data_inputs = [
            node_name(i)
            for i in node.input
            if not i.startswith("^") and _const_value(nodes, node_name(i)) is None
        ]
        if node.op == "Placeholder" or not data_inputs:
            raise BreedbenchError(
                f"tensor {cut!r} does not depend on the parent's input {start!r}: convert "
                f"from a tensor after it, e.g. {_downstream(nodes, start)}"
            )
        name = data_inputs[0]
    path.reverse()

    affine = _Affine.from_input_spec(inp)
    for node in path:
        op = node.op
        if op in _PASS_THROUGH:
            continue
        if op == "DecodeJpeg" or op == "DecodeImage":
            if inp.get("kind") != "jpeg_bytes":
                raise BreedbenchError(
                    f"op {node.name} ({op}) decodes JPEG bytes, but the parent's "
                    "input is not JPEG bytes"
                )
            inp["kind"] = "image"
            continue
        if op == "ResizeBilinear":
            if node.attr["align_corners"].b or node.attr["half_pixel_centers"].b:
                raise BreedbenchError(
                    f"op {node.name} resizes with align_corners/half_pixel_centers, which the spec "
                    "cannot describe: give the derived spec with --spec"
                )
            size = _const_value(nodes, node_name(node.input[1]))
            if size is None:
                raise BreedbenchError(f"op {node.name} resizes to a size that is not a constant")
            inp["kind"] = "tensor"
            inp["size"] = [int(size[0]), int(size[1])]
            inp["resize"] = "tf_bilinear"
            inp.pop("resize_shorter", None)
            continue
        if op in _AFFINE:
            consts = [
                (pos, _const_value(nodes, node_name(i))) for pos, i in enumerate(node.input[:2])
            ]
            const = [(pos, v) for pos, v in consts if v is not None]
            if len(const) == 1 and const[0][1].size in (1, 3):
                try:
                    affine.then(op, const[0][1], const_first=const[0][0] == 0)
                    continue
                except ValueError:
                    pass
        raise BreedbenchError(
            f"cannot derive the preprocessing across op {node.name} ({op}) between "
            f"{start!r} and {cut!r}: choose an --input before it, or give the derived spec "
            "with --spec"
        )
    affine.write(inp)
    inp["tensor"] = cut
    return inp


def _downstream(nodes: dict[str, Any], start: str) -> str:
    after = [n.name for n in nodes.values() if any(node_name(i) == start for i in n.input)]
    return ", ".join(after[:3]) or start


def _describe_inputs(graph_def: Any) -> str:
    """Placeholders and the first ops after them: where a conversion can sensibly start."""
    placeholders = [n.name for n in graph_def.node if n.op == "Placeholder"]
    chain = [
        f"{n.name} ({n.op})" for n in graph_def.node if n.op not in ("Const", "Placeholder", "NoOp")
    ][:8]
    return f"inputs: {', '.join(placeholders) or 'none'}; first ops: {', '.join(chain)}"


def static_input_shape(graph_def: Any, tensor: str) -> list[int] | None:
    """The cut tensor's shape with the batch dimension set to 1, or None when H/W are dynamic
    (the converted model then keeps a dynamic signature and is resized per input)."""
    import tensorflow as tf

    with tf.Graph().as_default() as g:
        tf.import_graph_def(graph_def, name="")
        shape = g.get_tensor_by_name(f"{node_name(tensor)}:0").shape
    if shape.rank is None:
        return None
    dims = shape.as_list()
    if len(dims) == 4 and dims[0] is None:
        dims[0] = 1
    return dims if all(d is not None for d in dims) else None


# --- the conversion itself -------------------------------------------------------------------


@dataclass(frozen=True)
class ConversionSource:
    """What to convert: a frozen graph (with input and output node names), a SavedModel
    directory, or a ``.keras`` file."""

    format: str  # frozen_pb | saved_model | keras
    path: Path
    input_node: str | None = None
    output_node: str | None = None
    input_shape: list[int] | None = None


def _converter(source: ConversionSource) -> Any:
    import tensorflow as tf

    if source.format == "frozen_pb":
        assert source.input_node and source.output_node
        shapes = {source.input_node: source.input_shape} if source.input_shape else None
        return tf.compat.v1.lite.TFLiteConverter.from_frozen_graph(
            str(source.path), [source.input_node], [source.output_node], shapes
        )
    if source.format == "saved_model":
        return tf.lite.TFLiteConverter.from_saved_model(str(source.path))
    if source.format == "keras":
        import keras

        return tf.lite.TFLiteConverter.from_keras_model(keras.models.load_model(source.path))
    raise BreedbenchError(
        f"cannot convert a {source.format} model: convert a frozen .pb, a SavedModel or a "
        ".keras model"
    )


def convert_to_tflite(
    source: ConversionSource,
    request: ConversionRequest,
    representative: RepresentativeDataset | None = None,
) -> bytes:
    """The ``.tflite`` bytes for ``source`` converted as ``request`` says."""
    import tensorflow as tf

    request.validate()
    conv = _converter(source)
    if request.quantize != "none":
        conv.optimizations = [tf.lite.Optimize.DEFAULT]
    if request.quantize == "float16":
        conv.target_spec.supported_types = [tf.float16]
    ops = [tf.lite.OpsSet.TFLITE_BUILTINS]
    if request.quantize == "int8":
        if representative is None:
            raise BreedbenchError("--quantize int8 needs calibration images")
        conv.representative_dataset = representative
        # Integer-only kernels unless Flex was asked for; float I/O keeps float in/out tensors.
        ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
        io_type = {"float": tf.float32, "int8": tf.int8, "uint8": tf.uint8}[request.io]
        conv.inference_input_type = io_type
        conv.inference_output_type = io_type
    if request.select_tf_ops:
        ops = [*ops, tf.lite.OpsSet.TFLITE_BUILTINS, tf.lite.OpsSet.SELECT_TF_OPS]
    conv.target_spec.supported_ops = ops
    try:
        return bytes(conv.convert())
    except Exception as exc:  # the converter raises ConverterError, ValueError, RuntimeError
        raise BreedbenchError(explain_converter_error(exc, request)) from exc


_UNSUPPORTED_OP = re.compile(r"'tf\.(\w+)' op is neither a custom op nor a flex op")
_SELECT_OPS = re.compile(r"TF Select ops: ([\w, ]+)")
_LOCATION = re.compile(r'loc\(fused\["(\w+):", "([^"]+)"\]\)')
_QUANT_OP = re.compile(r"'tfl\.(\w+)' op (?:is not|does not|quantization|requires|operand)")


def explain_converter_error(exc: BaseException, request: ConversionRequest) -> str:
    """One message naming what failed and the fallback to try, from the converter's error text."""
    text = str(exc)
    ops = sorted(set(_UNSUPPORTED_OP.findall(text)))
    for group in _SELECT_OPS.findall(text):
        ops += [o.strip() for o in group.split(",") if o.strip() and o.strip() not in ops]
    nodes = sorted({name for op, name in _LOCATION.findall(text) if op in ops})
    if ops:
        where = f" (node {', '.join(nodes)})" if nodes else ""
        msg = (
            f"the TFLite converter does not support op {', '.join(ops)}{where} as a built-in "
            f"op (--quantize {request.quantize}). Fallbacks: start the model after it with "
            "--input (the classic .lite started at Sub, skipping DecodeJpeg), or convert again "
            "with --select-tf-ops (SELECT_TF_OPS keeps it as a TensorFlow kernel; the runtime then "
            "needs the Flex delegate, which breedbench's LiteRT evaluator does not have)"
        )
        return msg
    quant_ops = sorted(set(_QUANT_OP.findall(text)))
    first_line = next((line.strip() for line in text.splitlines() if line.strip()), repr(exc))
    if request.quantize == "int8":
        what = f" at op {', '.join(quant_ops)}" if quant_ops else ""
        return (
            f"full-integer conversion failed{what}: {first_line[:300]}. Fallbacks: --io float "
            "(integer kernels inside, float input and output), --select-tf-ops, or "
            "--quantize dynamic"
        )
    return (
        f"the TFLite converter failed (--quantize {request.quantize}): {first_line[:300]}. "
        "Fallbacks: --select-tf-ops (SELECT_TF_OPS), or another --input"
    )


# --- checking the result ---------------------------------------------------------------------


@dataclass(frozen=True)
class TfliteIO:
    """The converted file's input and output as LiteRT sees them."""

    input_name: str
    input_shape: list[int]
    input_dtype: str
    input_quantization: tuple[float, int]
    output_name: str
    output_shape: list[int]
    output_dtype: str
    output_quantization: tuple[float, int]

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def inspect_tflite(data: bytes) -> TfliteIO:
    """Load the bytes with LiteRT (what evaluation uses) and read the I/O tensors. A model that
    kept TensorFlow ops (SELECT_TF_OPS) cannot be prepared here: say so instead of registering
    a version nobody can evaluate."""
    from evaluator.runners.litert import open_interpreter

    interp = open_interpreter(content=data)
    try:
        interp.allocate_tensors()
    except RuntimeError as exc:
        text = str(exc)
        if "Flex" in text or "Select TensorFlow" in text:
            ops = sorted(set(re.findall(r"\((Flex\w+)\)", text))) or ["TensorFlow ops"]
            raise BreedbenchError(
                f"the converted model keeps {', '.join(ops)} as TensorFlow kernels "
                "(SELECT_TF_OPS): it needs the Flex delegate, which LiteRT here does not have, so "
                "it cannot be evaluated or registered. Start the model after those ops with "
                "--input instead"
            ) from exc
        raise BreedbenchError(f"the converted model does not run in LiteRT: {text}") from exc
    inp = interp.get_input_details()[0]
    out = interp.get_output_details()[0]
    return TfliteIO(
        input_name=inp["name"],
        input_shape=[int(d) for d in inp["shape_signature"]],
        input_dtype=np.dtype(inp["dtype"]).name,
        input_quantization=(float(inp["quantization"][0]), int(inp["quantization"][1])),
        output_name=out["name"],
        output_shape=[int(d) for d in out["shape_signature"]],
        output_dtype=np.dtype(out["dtype"]).name,
        output_quantization=(float(out["quantization"][0]), int(out["quantization"][1])),
    )


def derive_spec(
    parent_spec: dict[str, Any], new_input: dict[str, Any], io: TfliteIO
) -> dict[str, Any]:
    """The converted version's spec: the parent's labels and activation, the new input
    preprocessing, and the tensor names as LiteRT reports them."""
    spec = copy.deepcopy(parent_spec)
    spec["format"] = "tflite"
    spec["input"] = {**new_input, "tensor": io.input_name}
    spec["output"] = {**spec.get("output", {}), "tensor": io.output_name}
    return spec


def read_graph_def(path: Path) -> Any:
    try:
        return parse_graph_def(Path(path).read_bytes())
    except BreedbenchError as exc:
        raise BreedbenchError(f"{path}: {exc}") from None


def write_tflite(data: bytes, directory: Path | None = None) -> Path:
    """Write converted bytes to a temporary file (the registry copies it into the data dir)."""
    fd, name = tempfile.mkstemp(suffix=".tflite", dir=directory)
    with open(fd, "wb") as fh:
        fh.write(data)
    return Path(name)


# --- one registered version in, one registered version out -----------------------------------


@dataclass(frozen=True)
class ConversionResult:
    parent: VersionInfo
    version: VersionInfo
    seconds: float  # the whole conversion: calibration inputs and converter
    calibration_images: int
    calibration_breeds: int
    calibration_seconds: float = 0.0  # choosing and preprocessing the calibration images

    @property
    def size_ratio(self) -> float:
        return self.version.size_bytes / max(1, self.parent.size_bytes)


def default_version_name(parent_version: str, request: ConversionRequest) -> str:
    """``v1`` → ``v1-int8-uint8io``: readable, and distinct per setting."""
    name = f"{parent_version}-{request.quantize}"
    if request.io != "float":
        name += f"-{request.io}io"
    if request.input_tensor:
        name += f"-at-{node_name(request.input_tensor).replace('/', '_')}"
    return name


def convert_version(
    db: Database,
    ref: str,
    request: ConversionRequest,
    *,
    new_version: str | None = None,
    spec_override: dict[str, Any] | None = None,
) -> ConversionResult:
    """Convert the version ``ref`` (``NAME:VERSION``) and register the result as a new version
    of the same model, with its parent, the conversion settings and its derived spec."""
    request.validate()
    with db.session() as s:
        parent = get_version(s, ref)
    if parent.format == "tflite":
        raise BreedbenchError(
            f"{parent.ref} is already a .tflite model: convert the model it came from "
            "(a frozen .pb, SavedModel or .keras)"
        )
    if request.input_tensor and parent.format != "frozen_pb":
        raise BreedbenchError(
            f"--input chooses a tensor inside a frozen graph; {parent.ref} is a {parent.format} "
            "model and is converted from its signature"
        )
    version_name = new_version or default_version_name(parent.version, request)
    with db.session() as s:
        if any(v.version == version_name for v in list_versions(s, parent.model_name)):
            raise BreedbenchError(
                f"{parent.model_name}:{version_name} is already registered: choose --version"
            )
    path = parent.file(db.settings)
    source, new_input = _source_and_input(parent, path, request)
    draft = copy.deepcopy(parent.spec)
    draft["input"] = new_input
    draft["format"] = "tflite"
    if spec_override:
        draft = merge(draft, spec_override)
    draft_spec = ModelSpec.from_dict(draft)

    calibration = CalibrationSet([], {})
    representative = None
    started = time.perf_counter()
    calibration_seconds = 0.0
    if request.needs_calibration:
        with db.session() as s:
            label_map = build_label_map(s, draft_spec)
            breeds = {b for b in label_map.breed_ids if b is not None}
            calibration = select_calibration_images(
                s, request.calibration, seed=request.seed, breed_ids=breeds
            )
        used, inputs = preprocess_images(db, calibration.image_ids, draft_spec.input)
        calibration = calibration.only(used)
        # A batch dimension for NHWC inputs (a SavedModel or Keras signature is [None, H, W, 3]).
        rank = len(source.input_shape) if source.input_shape else None
        if rank is None and draft_spec.input.kind == "tensor":
            rank = 4
        representative = representative_dataset(inputs, rank)
    calibration_seconds = time.perf_counter() - started
    data = convert_to_tflite(source, request, representative)
    seconds = time.perf_counter() - started
    io = inspect_tflite(data)
    spec = derive_spec(draft, draft["input"], io)
    conversion = {
        **request.to_json(),
        "input": source.input_node,
        "output": source.output_node,
        "source_format": parent.format,
        "parent": parent.ref,
        "tflite_io": io.to_json(),
        "seconds": round(seconds, 3),
        "tensorflow": _tf_version(),
    }
    if request.needs_calibration:
        conversion["calibration_images"] = len(calibration)
        conversion["calibration_breeds"] = calibration.breeds
        conversion["calibration_seconds"] = round(calibration_seconds, 3)
    tmp = write_tflite(data)
    try:
        version = register_model(
            db,
            tmp,
            parent.model_name,
            version_name,
            ModelSpec.from_dict(spec),
            parent_id=parent.id,
            conversion=conversion,
        )
    finally:
        tmp.unlink(missing_ok=True)
    if calibration.image_ids:
        with db.session() as s:
            record_calibration(s, version.id, calibration.image_ids)
    return ConversionResult(
        parent=parent,
        version=version,
        seconds=seconds,
        calibration_images=len(calibration),
        calibration_breeds=calibration.breeds,
        calibration_seconds=calibration_seconds,
    )


def _source_and_input(
    parent: VersionInfo, path: Path, request: ConversionRequest
) -> tuple[ConversionSource, dict[str, Any]]:
    """Where the converted model starts, and what its input then expects."""
    if parent.format != "frozen_pb":
        return ConversionSource(parent.format, path), copy.deepcopy(parent.spec.get("input", {}))
    graph_def = read_graph_def(path)
    parent_input = str(parent.spec.get("input", {}).get("tensor", ""))
    cut = node_name(request.input_tensor or parent_input)
    new_input = derive_input_spec(graph_def, parent.spec, cut)
    affine_free = (
        all(new_input.get(k, d) == d for k, d in (("scale", 1.0), ("offset", 0.0)))
        and "mean" not in new_input
    )
    if new_input.get("kind") == "image" and not affine_free:
        raise BreedbenchError(
            f"the model would start at {cut!r}, after a normalisation but before the resize: "
            "an image of any size cannot be normalised by the spec; choose an --input after "
            "the resize (e.g. Sub)"
        )
    output = node_name(str(parent.spec.get("output", {}).get("tensor", "")))
    shape = static_input_shape(graph_def, cut)
    return ConversionSource("frozen_pb", path, cut, output, shape), new_input


def _tf_version() -> str:
    import tensorflow as tf

    return str(tf.__version__)
