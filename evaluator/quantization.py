"""What a ``.tflite`` file computes in, read from its own tensors and operators (no TensorFlow).

Only conversions made by breedbench record what they asked the converter for; a file added with
``models add`` says nothing about itself. Its tensors do: the weights each compute operator
(convolution, fully connected, ...) takes, and the type its activations come out in.

* **full integer** (``int8``; ``uint8`` for the old TF1 quantized models; ``int16x8``): compute
  operators produce integer activations. Its I/O type is the model's input and output tensors'
  (float I/O keeps ``QUANTIZE``/``DEQUANTIZE`` at the ends). Compute operators left in float
  (the converter's float fallback) are counted.
* **dynamic range**: activations are float but some weights are stored as int8 (hybrid kernels,
  or ``DEQUANTIZE`` of int8 constants).
* **float16**: float activations, weights stored as float16 and ``DEQUANTIZE``-d when loaded.
* **float32**: nothing quantized.

The flatbuffer is read with LiteRT's schema, as ``evaluator.safety.tflite_ops`` reads the
operators (imported on first use: listing models stays light).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import asdict, dataclass, field
from typing import Any

from core.errors import BreedbenchError
from evaluator.safety.tflite_ops import builtin_names

KINDS = ("float32", "float16", "dynamic", "int8", "uint8", "int16x8")
INTEGER_KINDS = frozenset({"int8", "uint8", "int16x8"})
NAMES = {
    "float32": "float32",
    "float16": "float16",
    "dynamic": "dynamic range",
    "int8": "int8",
    "uint8": "uint8",
    "int16x8": "int16x8",
}
# ``--quantize`` of a conversion, for versions stored before the file was read at registration.
FROM_CONVERSION = {"none": "float32", "dynamic": "dynamic", "float16": "float16", "int8": "int8"}

# Operators that only change the representation; their outputs say nothing about the model.
_CONVERTING_OPS = frozenset({"QUANTIZE", "DEQUANTIZE", "CAST"})
_ACTIVATION_KINDS = {"INT8": "int8", "UINT8": "uint8", "INT16": "int16x8"}
_QUANTIZED_WEIGHTS = frozenset({"INT8", "UINT8", "INT4", "INT2", "UINT4"})
_WEIGHT_TYPES = _QUANTIZED_WEIGHTS | {"FLOAT32", "FLOAT16", "BFLOAT16", "INT16"}


@dataclass(frozen=True)
class Quantization:
    """What the file's numbers are; stored as JSON on the version (``to_dict``)."""

    kind: str  # one of KINDS
    input_type: str  # the model's input tensor type(s), e.g. "float32", "uint8"
    output_type: str
    integer_ops: int = 0  # operators computing on integer activations
    float_ops: int = 0  # operators computing in float (in an integer model: the float fallback)
    weights: dict[str, int] = field(default_factory=dict)  # weight tensors by stored type

    @property
    def label(self) -> str:
        """``int8 (uint8 I/O)``, ``dynamic range``, ``float16``, ...: what tables show."""
        text = NAMES.get(self.kind, self.kind)
        if self.kind not in INTEGER_KINDS:
            return text
        if self.float_ops:
            text += f" + {self.float_ops} float op{'s' if self.float_ops != 1 else ''}"
        if self.input_type == self.output_type:
            io = "" if self.input_type == "float32" else f" ({self.input_type} I/O)"
        else:
            io = f" ({self.input_type} in, {self.output_type} out)"
        return text + io

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Quantization:
        return cls(
            kind=str(data.get("kind", "float32")),
            input_type=str(data.get("input_type", "float32")),
            output_type=str(data.get("output_type", "float32")),
            integer_ops=int(data.get("integer_ops", 0)),
            float_ops=int(data.get("float_ops", 0)),
            weights={str(k): int(v) for k, v in (data.get("weights") or {}).items()},
        )


def label(stored: dict[str, Any] | None, conversion: dict[str, Any] | None = None) -> str:
    """What a version's quantization column shows: read from its file at registration; for a
    version stored before that, what its conversion asked for; else ``-`` (not a ``.tflite``,
    or not known)."""
    if stored:
        return Quantization.from_dict(stored).label
    if not conversion:
        return "-"
    kind = FROM_CONVERSION.get(str(conversion.get("quantize", "none")), "float32")
    io = str(conversion.get("io", "float"))
    io_type = "float32" if io == "float" else io
    return Quantization(kind, io_type, io_type).label


def _schema() -> Any:
    from ai_edge_litert import schema_py_generated

    return schema_py_generated


def detect(data: bytes) -> Quantization:
    """Read the quantization of the ``.tflite`` flatbuffer ``data``."""
    schema = _schema()
    ops = builtin_names()
    types = {v: k for k, v in vars(schema.TensorType).items() if isinstance(v, int)}
    try:
        model = schema.Model.GetRootAs(data, 0)
        return _classify(model, ops, types)
    except BreedbenchError:
        raise
    except Exception as exc:  # a damaged flatbuffer fails in many ways (struct, index, ...)
        raise BreedbenchError(
            f"not a valid LiteRT model: its tensors cannot be read ({exc})"
        ) from None


@dataclass
class _Tally:
    integer: Counter[str] = field(default_factory=Counter)  # activation kind → compute ops
    float_ops: int = 0
    weights: Counter[str] = field(default_factory=Counter)  # stored type → weight tensors
    float_weights: Counter[str] = field(default_factory=Counter)  # of float compute ops only


def _classify(model: Any, ops: dict[int, str], types: dict[int, str]) -> Quantization:
    tally = _Tally()  # the operators that take weights: what the kind is read from
    every = _Tally()  # every computing operator: counted, and the kind of a weightless model
    for si in range(model.SubgraphsLength()):
        _tally_subgraph(model, model.Subgraphs(si), ops, types, tally, every)
    main = model.Subgraphs(0)
    input_type = _io_type(main, [main.Inputs(i) for i in range(main.InputsLength())], types)
    output_type = _io_type(main, [main.Outputs(i) for i in range(main.OutputsLength())], types)
    used = tally if (tally.integer or tally.float_ops) else every
    if used.integer:
        kind = used.integer.most_common(1)[0][0]
    elif _QUANTIZED_WEIGHTS & set(used.float_weights):
        kind = "dynamic"
    elif "FLOAT16" in used.float_weights:
        kind = "float16"
    else:
        kind = "float32"
    return Quantization(
        kind=kind,
        input_type=input_type,
        output_type=output_type,
        integer_ops=sum(every.integer.values()),
        float_ops=every.float_ops,
        weights={t.lower(): n for t, n in sorted(tally.weights.items())},
    )


def _tally_subgraph(
    model: Any, sg: Any, ops: dict[int, str], types: dict[int, str], tally: _Tally, every: _Tally
) -> None:
    def constant(index: int) -> bool:
        if index < 0:
            return False
        buffer_index = sg.Tensors(index).Buffer()
        if buffer_index <= 0 or buffer_index >= model.BuffersLength():
            return False
        buf = model.Buffers(buffer_index)
        return buf.DataLength() > 0 or buf.Size() > 0  # inline, or stored after the flatbuffer

    def type_of(index: int) -> str:
        return types.get(sg.Tensors(index).Type(), "?")

    # A DEQUANTIZE of a constant hands on a stored weight (float16, or int8 kept for speed).
    dequantized: dict[int, int] = {}
    for oi in range(sg.OperatorsLength()):
        op = sg.Operators(oi)
        if (
            _op_name(model, op, ops) == "DEQUANTIZE"
            and op.InputsLength()
            and op.OutputsLength()
            and constant(op.Inputs(0))
        ):
            dequantized[op.Outputs(0)] = op.Inputs(0)

    for oi in range(sg.OperatorsLength()):
        op = sg.Operators(oi)
        if _op_name(model, op, ops) in _CONVERTING_OPS or op.OutputsLength() == 0:
            continue
        out = op.Outputs(0)
        if out < 0:
            continue
        activation = type_of(out)
        weights = []
        for ii in range(op.InputsLength()):
            index = op.Inputs(ii)
            source = dequantized.get(index, index)
            if source < 0 or not constant(source):
                continue
            stored = type_of(source)
            if stored in _WEIGHT_TYPES and sg.Tensors(source).ShapeLength() >= 2:
                weights.append(stored)
        _count(every, activation, weights)
        if weights:
            _count(tally, activation, weights)
            tally.weights.update(weights)


def _count(tally: _Tally, activation: str, weights: list[str]) -> None:
    if activation in _ACTIVATION_KINDS:
        tally.integer[_ACTIVATION_KINDS[activation]] += 1
    elif activation in ("FLOAT32", "FLOAT16"):
        tally.float_ops += 1
        tally.float_weights.update(weights)


def _op_name(model: Any, op: Any, ops: dict[int, str]) -> str:
    code = model.OperatorCodes(op.OpcodeIndex())
    return ops.get(max(code.BuiltinCode(), code.DeprecatedBuiltinCode()), "?")


def _io_type(sg: Any, indices: list[int], types: dict[int, str]) -> str:
    found = sorted({types.get(sg.Tensors(i).Type(), "?").lower() for i in indices if i >= 0})
    return "/".join(found) or "none"


def unexpected(quantize: str, io: str, found: Quantization) -> list[str]:
    """Where a converted file is not what ``--quantize``/``--io`` asked for, in plain words:
    the converter says so only in its own log lines, if at all."""
    notes = []
    wanted = FROM_CONVERSION.get(quantize, quantize)
    if found.kind != wanted:
        why = ""
        if wanted == "dynamic" and found.kind == "float32":
            why = " (the converter quantizes only weights of 1024 values or more)"
        notes.append(
            f"--quantize {quantize} gave a {found.label} model{why}: its size and latency are "
            f"those of {NAMES.get(found.kind, found.kind)}"
        )
    if found.kind in INTEGER_KINDS and found.float_ops:
        notes.append(
            f"{found.float_ops} of {found.float_ops + found.integer_ops} operators compute in "
            "float (no integer kernel): the model is not fully integer and needs float support "
            "on the device"
        )
    io_type = "float32" if io == "float" else io
    if wanted in INTEGER_KINDS and (found.input_type, found.output_type) != (io_type, io_type):
        notes.append(f"--io {io} gave {found.input_type} input and {found.output_type} output")
    return notes
