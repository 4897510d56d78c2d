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

import re
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field, replace
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
from evaluator.registry import (
    StoredModel,
    VersionInfo,
    get_version,
    is_registered,
    register_model,
)
from evaluator.runners.base import node_name, tensor_name
from evaluator.safety.graph_ops import parse_graph_def
from evaluator.spec import InputSpec, ModelSpec

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
    # int8 only: float built-in kernels where integer ones are missing (and TensorFlow kernels,
    # Flex, for ops TFLite lacks: a result that keeps one is refused, LiteRT here cannot run it)
    select_tf_ops: bool = False
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
        if self.select_tf_ops and self.quantize != "int8":
            raise BreedbenchError(
                f"--select-tf-ops does nothing usable with --quantize {self.quantize}: it only "
                "adds TensorFlow kernels (Flex), which LiteRT here cannot run, so such a model "
                "is refused; start the model after the unsupported op with --input instead "
                "(with --quantize int8 it also allows float built-in kernels)"
            )

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
_DECODERS = {"DecodeJpeg", "DecodeImage"}
_AFFINE = {"Sub", "Add", "AddV2", "BiasAdd", "Mul", "RealDiv", "Div"}


def _per_channel(value: Any) -> np.ndarray:
    """A scalar or per-channel value as three floats (read-only: never changed in place)."""
    return np.broadcast_to(np.asarray(value, dtype=float).reshape(-1), (3,))


@dataclass(frozen=True, eq=False)
class _Affine:
    """Per-channel ``x * scale + offset``, composed op by op along the traced path."""

    scale: np.ndarray
    offset: np.ndarray

    @classmethod
    def of(cls, inp: InputSpec) -> _Affine:
        """What the spec's own normalisation does to a pixel (mean/std or scale/offset)."""
        if inp.mean is not None or inp.std is not None:
            mean = _per_channel(0.0 if inp.mean is None else inp.mean)
            std = _per_channel(1.0 if inp.std is None else inp.std)
            return cls(1.0 / std, -mean / std)
        scale = _per_channel(1.0 if inp.scale is None else inp.scale)
        offset = _per_channel(0.0 if inp.offset is None else inp.offset)
        return cls(scale, offset)

    def then(self, op: str, const: np.ndarray, const_first: bool) -> _Affine:
        """This affine followed by ``op`` with a constant; ``ValueError`` when the result is not
        affine (a constant divided by the pixel)."""
        c = _per_channel(const)
        if op == "Sub" and const_first:  # c - x
            return _Affine(-self.scale, c - self.offset)
        if op == "Sub":
            return _Affine(self.scale, self.offset - c)
        if op in ("Add", "AddV2", "BiasAdd"):
            return _Affine(self.scale, self.offset + c)
        if op == "Mul":
            return _Affine(self.scale * c, self.offset * c)
        if const_first:  # c / x is not affine
            raise ValueError(op)
        return _Affine(self.scale / c, self.offset / c)

    def written_into(self, inp: InputSpec) -> InputSpec:
        """``inp`` normalising as this affine does: one ``scale``/``offset`` when the channels
        agree, else ``mean``/``std``; none at all when the spec had none and the path added none."""
        had = any(v is not None for v in (inp.scale, inp.offset, inp.mean, inp.std))
        bare = replace(inp, scale=None, offset=None, mean=None, std=None)
        if not had and np.allclose(self.scale, 1.0) and np.allclose(self.offset, 0.0):
            return bare
        if np.allclose(self.scale, self.scale[0]) and np.allclose(self.offset, self.offset[0]):
            return replace(bare, scale=_clean(self.scale[0]), offset=_clean(self.offset[0]))
        return replace(
            bare,
            mean=tuple(_clean(v) for v in -self.offset / self.scale),
            std=tuple(_clean(v) for v in 1.0 / self.scale),
        )


def _clean(v: float) -> float:
    """Round away float noise (1/128 * 128 = 1.0000000000000002) so specs read as written."""
    return float(f"{float(v):.10g}")


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


def derive_input_spec(graph_def: Any, parent: InputSpec, cut: str) -> InputSpec:
    """The parent's input rewritten for a model that starts at tensor ``cut``.

    Walks from ``cut`` back to the parent's input through the graph's data inputs and composes
    what those ops do: ``ResizeBilinear`` fixes the size (``tf_bilinear``), ``Sub``/``Add``/``Mul``
    /``RealDiv`` by constants become ``scale``/``offset``, ``Cast``/``ExpandDims``/``Identity``
    change nothing. An op it cannot describe stops it with a message naming the op.
    """
    nodes = {n.name: n for n in graph_def.node}
    start, cut = node_name(parent.tensor or ""), node_name(cut)
    inp, affine = parent, _Affine.of(parent)
    for node in trace_path(nodes, start, cut):
        if node.op in _PASS_THROUGH:
            continue
        if node.op in _DECODERS:
            inp = through_decoder(node, inp)
        elif node.op == "ResizeBilinear":
            inp = through_resize(node, nodes, inp)
        else:
            affine = through_arithmetic(node, nodes, affine, start, cut)
    return replace(affine.written_into(inp), tensor=cut)


def trace_path(nodes: dict[str, Any], start: str, cut: str) -> list[Any]:
    """The ops from ``start`` (left out) to ``cut`` in the order data flows, found by following
    each op's first input that is not a constant back from ``cut``."""
    if cut not in nodes:
        raise BreedbenchError(f"no tensor {cut!r} in the graph; {_describe_inputs(nodes)}")
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
    return path


def through_decoder(node: Any, inp: InputSpec) -> InputSpec:
    """After a JPEG decoder the model takes a decoded image, if it took JPEG bytes before."""
    if inp.kind != "jpeg_bytes":
        raise BreedbenchError(
            f"op {node.name} ({node.op}) decodes JPEG bytes, but the parent's "
            "input is not JPEG bytes"
        )
    return replace(inp, kind="image")


def through_resize(node: Any, nodes: dict[str, Any], inp: InputSpec) -> InputSpec:
    """After ``ResizeBilinear`` to a constant size the model takes a tensor of that size,
    resized TensorFlow's way (the only resize the spec can say exactly)."""
    if node.attr["align_corners"].b or node.attr["half_pixel_centers"].b:
        raise BreedbenchError(
            f"op {node.name} resizes with align_corners/half_pixel_centers, which the spec "
            "cannot describe: give the derived spec with --spec"
        )
    size = _const_value(nodes, node_name(node.input[1]))
    if size is None:
        raise BreedbenchError(f"op {node.name} resizes to a size that is not a constant")
    return replace(
        inp,
        kind="tensor",
        size=(int(size[0]), int(size[1])),
        resize="tf_bilinear",
        resize_shorter=None,
    )


def through_arithmetic(
    node: Any, nodes: dict[str, Any], affine: _Affine, start: str, cut: str
) -> _Affine:
    """``affine`` followed by the op's arithmetic with one constant (a scalar or one value per
    channel); any other op is one the spec cannot describe."""
    if node.op in _AFFINE:
        consts = [(pos, _const_value(nodes, node_name(i))) for pos, i in enumerate(node.input[:2])]
        const = [(pos, v) for pos, v in consts if v is not None]
        if len(const) == 1 and const[0][1].size in (1, 3):
            try:
                return affine.then(node.op, const[0][1], const_first=const[0][0] == 0)
            except ValueError:
                pass
    raise BreedbenchError(
        f"cannot derive the preprocessing across op {node.name} ({node.op}) between "
        f"{start!r} and {cut!r}: choose an --input before it, or give the derived spec "
        "with --spec"
    )


def _downstream(nodes: dict[str, Any], start: str) -> str:
    after = [n.name for n in nodes.values() if any(node_name(i) == start for i in n.input)]
    return ", ".join(after[:3]) or start


def _describe_inputs(nodes: dict[str, Any]) -> str:
    """Placeholders and the first ops after them: where a conversion can sensibly start."""
    placeholders = [n.name for n in nodes.values() if n.op == "Placeholder"]
    chain = [
        f"{n.name} ({n.op})" for n in nodes.values() if n.op not in ("Const", "Placeholder", "NoOp")
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
    directory, or a ``.keras`` file. ``graph_def`` is the frozen graph as parsed from the
    verified bytes (``VersionInfo.open``): the converter gets it, not the file again."""

    format: str  # frozen_pb | saved_model | keras
    path: Path
    input_node: str | None = None
    output_node: str | None = None
    input_shape: list[int] | None = None
    graph_def: Any = None


def _converter(source: ConversionSource) -> Any:
    import tensorflow as tf

    if source.format == "frozen_pb":
        return _frozen_graph_converter(source)
    # A SavedModel folder and a .keras file are read again from their path (the converter and
    # Keras take no bytes for them): verified just before, but not these very reads.
    if source.format == "saved_model":
        return tf.lite.TFLiteConverter.from_saved_model(str(source.path))
    if source.format == "keras":
        from evaluator.runners.keras_model import load_keras

        return tf.lite.TFLiteConverter.from_keras_model(load_keras(source.path))
    raise BreedbenchError(
        f"cannot convert a {source.format} model: convert a frozen .pb, a SavedModel or a "
        ".keras model"
    )


def _frozen_graph_converter(source: ConversionSource) -> Any:
    """``TFLiteConverter.from_frozen_graph`` on the parsed graph instead of a file: the graph
    imported, its input and output tensors looked up, the input's shape set."""
    import tensorflow as tf

    if not source.input_node or not source.output_node:
        raise BreedbenchError("a frozen graph converts from an input to an output tensor")
    graph_def = source.graph_def if source.graph_def is not None else read_graph_def(source.path)
    with tf.Graph().as_default() as graph:
        try:
            tf.import_graph_def(graph_def, name="")
        except (ValueError, tf.errors.NotFoundError) as exc:
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else repr(exc)
            raise BreedbenchError(f"TensorFlow cannot import {source.path}: {first}") from None
        variables = [
            op.type
            for op in graph.get_operations()
            if op.type.startswith("Variable") or op.type.endswith("VariableOp")
        ]
        if variables:
            raise BreedbenchError(
                f"{source.path} still has variables (op {variables[0]}): freeze the graph "
                "before converting it"
            )
        inp = graph.get_tensor_by_name(tensor_name(source.input_node))
        out = graph.get_tensor_by_name(tensor_name(source.output_node))
        if source.input_shape:
            inp.set_shape(source.input_shape)
        return tf.compat.v1.lite.TFLiteConverter(graph.as_graph_def(), [inp], [out])


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
        # Integer-only kernels unless --select-tf-ops; float I/O keeps float in/out tensors.
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
            f"op (--quantize {request.quantize}). Fallback: start the model after it with "
            "--input (the classic .lite started at Sub, skipping DecodeJpeg)"
        )
        return msg
    quant_ops = sorted(set(_QUANT_OP.findall(text)))
    first_line = next((line.strip() for line in text.splitlines() if line.strip()), repr(exc))
    if request.quantize == "int8":
        what = f" at op {', '.join(quant_ops)}" if quant_ops else ""
        return (
            f"full-integer conversion failed{what}: {first_line[:300]}. Fallbacks: --io float "
            "(integer kernels inside, float input and output), --select-tf-ops (float built-in "
            "kernels where integer ones are missing), or --quantize dynamic"
        )
    return (
        f"the TFLite converter failed (--quantize {request.quantize}): {first_line[:300]}. "
        "Fallback: start the model after the op that fails with another --input"
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


def converted_spec(draft: ModelSpec, io: TfliteIO) -> ModelSpec:
    """The converted version's spec: the draft (the parent's labels and activation, the new
    input preprocessing) with the tensor names as LiteRT reports them."""
    return replace(
        draft,
        format="tflite",
        input=replace(draft.input, tensor=io.input_name),
        output=replace(draft.output, tensor=io.output_name),
    )


def read_graph_def(path: Path, content: bytes | None = None) -> Any:
    """The GraphDef in ``content`` (verified bytes), or else in the file at ``path``; errors
    name ``path``."""
    try:
        return parse_graph_def(Path(path).read_bytes() if content is None else content)
    except OSError as exc:
        raise BreedbenchError(f"cannot read {path}: {exc.strerror}") from None
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


@dataclass(frozen=True)
class ConversionPlan:
    """A request checked against its parent, before the converter runs: what to convert, the
    new version's name, and the spec the converted model is fed by (``draft``: its tensor names
    are the parent's until the converted file says what LiteRT calls them)."""

    parent: VersionInfo
    version_name: str
    source: ConversionSource
    draft: ModelSpec


@dataclass(frozen=True)
class Calibration:
    """The images that calibrate a full-integer conversion, and the converter's feed of them
    (none for the other modes)."""

    images: CalibrationSet = field(default_factory=lambda: CalibrationSet([], {}))
    representative: RepresentativeDataset | None = None


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
    plan = plan_conversion(db, ref, request, new_version=new_version, spec_override=spec_override)
    started = time.perf_counter()
    calibration = calibrate(db, plan, request)
    calibration_seconds = time.perf_counter() - started
    data = convert_to_tflite(plan.source, request, calibration.representative)
    seconds = time.perf_counter() - started
    io = inspect_tflite(data)
    conversion = conversion_record(
        plan, request, io, calibration.images, seconds, calibration_seconds
    )
    version = record_version(
        db, plan, data, converted_spec(plan.draft, io), conversion, calibration.images
    )
    return ConversionResult(
        parent=plan.parent,
        version=version,
        seconds=seconds,
        calibration_images=len(calibration.images),
        calibration_breeds=calibration.images.breeds,
        calibration_seconds=calibration_seconds,
    )


def plan_conversion(
    db: Database,
    ref: str,
    request: ConversionRequest,
    *,
    new_version: str | None = None,
    spec_override: dict[str, Any] | None = None,
) -> ConversionPlan:
    """Every refusal that needs no converter, in the order a person fixes them: the request
    itself, a parent that cannot be converted so, a version name already taken, an input the
    derivation cannot follow, an override that is no valid spec."""
    request.validate()
    with db.session() as s:
        parent = get_version(s, ref)
    if parent.is_detector:
        raise BreedbenchError(
            f"{parent.ref} is a detector: convert derives classifiers (register a converted "
            'detector with models add and a kind = "detector" spec)'
        )
    check_convertible(parent, request)
    version_name = new_version or default_version_name(parent.version, request)
    with db.session() as s:
        if is_registered(s, parent.model_name, version_name):
            raise BreedbenchError(
                f"{parent.model_name}:{version_name} is already registered: choose --version"
            )
    source, new_input = _source_and_input(parent, parent.open(db.settings), request)
    draft = draft_spec(parent.spec, new_input, spec_override)
    return ConversionPlan(parent, version_name, source, draft)


def check_convertible(parent: VersionInfo, request: ConversionRequest) -> None:
    """A ``.tflite`` is converted already; ``--input`` names a tensor of a frozen graph only."""
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


def draft_spec(
    parent: ModelSpec, new_input: InputSpec, override: dict[str, Any] | None = None
) -> ModelSpec:
    """The parent's spec for a ``.tflite`` that starts at ``new_input``, with a person's
    ``override`` (a partial spec) on top: it wins over anything derived."""
    draft = replace(parent, format="tflite", input=new_input)
    return draft.with_overrides(override) if override else draft


def calibrate(db: Database, plan: ConversionPlan, request: ConversionRequest) -> Calibration:
    """For ``--quantize int8``: accepted images of the breeds the model predicts, preprocessed as
    the draft spec feeds the converted model (an image that no longer decodes is left out)."""
    if not request.needs_calibration:
        return Calibration()
    with db.session() as s:
        label_map = build_label_map(s, plan.draft)
        breeds = {b for b in label_map.breed_ids if b is not None}
        chosen = select_calibration_images(
            s, request.calibration, seed=request.seed, breed_ids=breeds
        )
    used, inputs = preprocess_images(db, chosen.image_ids, plan.draft.input)
    rank = input_rank(plan.source, plan.draft.input)
    return Calibration(chosen.only(used), representative_dataset(inputs, rank))


def input_rank(source: ConversionSource, inp: InputSpec) -> int | None:
    """The rank of the converted model's input: the cut tensor's when its shape is known, else 4
    for an NHWC tensor (a SavedModel or Keras signature is ``[None, H, W, 3]``)."""
    if source.input_shape:
        return len(source.input_shape)
    return 4 if inp.kind == "tensor" else None


def conversion_record(
    plan: ConversionPlan,
    request: ConversionRequest,
    io: TfliteIO,
    calibration: CalibrationSet,
    seconds: float,
    calibration_seconds: float,
) -> dict[str, Any]:
    """What the new version stores in ``conversion``: the request as given, what was derived
    from it, and what the converter produced."""
    conversion = {
        **request.to_json(),
        "input": plan.source.input_node,
        "output": plan.source.output_node,
        "source_format": plan.parent.format,
        "parent": plan.parent.ref,
        "tflite_io": io.to_json(),
        "seconds": round(seconds, 3),
        "tensorflow": _tf_version(),
    }
    if request.needs_calibration:
        conversion["calibration_images"] = len(calibration)
        conversion["calibration_breeds"] = calibration.breeds
        conversion["calibration_seconds"] = round(calibration_seconds, 3)
    return conversion


def record_version(
    db: Database,
    plan: ConversionPlan,
    data: bytes,
    spec: ModelSpec,
    conversion: dict[str, Any],
    calibration: CalibrationSet,
) -> VersionInfo:
    """Register the converted bytes as the new version of the parent's model (the registry
    checks the file against ``spec`` like any other model), then which images calibrated it."""
    tmp = write_tflite(data)
    try:
        version = register_model(
            db,
            tmp,
            plan.parent.model_name,
            plan.version_name,
            spec,
            parent_id=plan.parent.id,
            conversion=conversion,
        )
    finally:
        tmp.unlink(missing_ok=True)
    if calibration.image_ids:
        with db.session() as s:
            record_calibration(s, version.id, calibration.image_ids)
    return version


def _source_and_input(
    parent: VersionInfo, stored: StoredModel, request: ConversionRequest
) -> tuple[ConversionSource, InputSpec]:
    """Where the converted model starts, and what its input then expects."""
    path = stored.path
    if parent.format != "frozen_pb":
        return ConversionSource(parent.format, path), parent.spec.input
    graph_def = read_graph_def(path, stored.content)
    cut = node_name(request.input_tensor or parent.spec.input.tensor or "")
    new_input = derive_input_spec(graph_def, parent.spec.input, cut)
    if new_input.kind == "image" and not _affine_free(new_input):
        raise BreedbenchError(
            f"the model would start at {cut!r}, after a normalisation but before the resize: "
            "an image of any size cannot be normalised by the spec; choose an --input after "
            "the resize (e.g. Sub)"
        )
    output = node_name(parent.spec.output.tensor or "")
    shape = static_input_shape(graph_def, cut)
    return ConversionSource("frozen_pb", path, cut, output, shape, graph_def), new_input


def _affine_free(inp: InputSpec) -> bool:
    """The input is fed as it comes: no scaling, no offset, no mean/std."""
    return inp.scale in (None, 1.0) and inp.offset in (None, 0.0) and inp.mean is None


def _tf_version() -> str:
    import tensorflow as tf

    return str(tf.__version__)
