"""``.tflite`` operators, read from the flatbuffer with LiteRT's own schema (no TensorFlow).

LiteRT's builtin operators only compute. A ``CUSTOM`` operator runs whatever kernel the process
registered under its name, and ``Flex*`` custom operators are TensorFlow kernels (``FlexWriteFile``
writes files): both are refused, except the custom operators LiteRT itself implements among its
builtins (``TFLite_Detection_PostProcess``, the SSD/EfficientDet post-processing).
"""

from __future__ import annotations

from typing import Any

from core.errors import BreedbenchError
from evaluator.safety.refusal import Refusal, merge

# Custom operators whose kernels ship with LiteRT's builtin resolver and only compute.
LITERT_CUSTOM_OPS = frozenset({"TFLite_Detection_PostProcess"})
FLEX_REASON = "runs a TensorFlow kernel (Flex), which can read and write files"
CUSTOM_REASON = "is a custom operator: its kernel is code outside the model"


def _schema() -> Any:
    from ai_edge_litert import schema_py_generated

    return schema_py_generated


def builtin_names() -> dict[int, str]:
    ops = _schema().BuiltinOperator
    return {v: k for k, v in vars(ops).items() if not k.startswith("_") and isinstance(v, int)}


def operators(data: bytes) -> list[tuple[str, str, str]]:
    """``(op name, where, kind)`` for every operator of every subgraph; ``kind`` is
    ``"builtin"``, ``"custom"`` or ``"unknown"`` (a builtin code this LiteRT does not have)."""
    schema = _schema()
    names = builtin_names()
    try:
        model = schema.Model.GetRootAs(data, 0)
        found = []
        for si in range(model.SubgraphsLength()):
            subgraph = model.Subgraphs(si)
            label = (subgraph.Name() or b"").decode("utf-8", "replace") or str(si)
            for oi in range(subgraph.OperatorsLength()):
                op = subgraph.Operators(oi)
                code = model.OperatorCodes(op.OpcodeIndex())
                builtin = max(code.BuiltinCode(), code.DeprecatedBuiltinCode())
                where = f'operator {oi}{_output(subgraph, op)} of subgraph "{label}"'
                if builtin == schema.BuiltinOperator.CUSTOM:
                    custom = (code.CustomCode() or b"").decode("utf-8", "replace")
                    found.append((custom or "CUSTOM", where, "custom"))
                elif builtin in names:
                    found.append((names[builtin], where, "builtin"))
                else:
                    found.append((f"builtin #{builtin}", where, "unknown"))
    except Exception as exc:  # a damaged flatbuffer fails in many ways (struct, index, ...)
        raise BreedbenchError(
            f"not a valid LiteRT model: its flatbuffer cannot be read ({exc})"
        ) from None
    return found


def _output(subgraph: Any, op: Any) -> str:
    if op.OutputsLength() == 0:
        return ""
    index = op.Outputs(0)
    if index < 0 or index >= subgraph.TensorsLength():
        return ""
    name = (subgraph.Tensors(index).Name() or b"").decode("utf-8", "replace")
    return f' (output "{name}")' if name else ""


def tflite_refusals(data: bytes) -> list[Refusal]:
    found = []
    for name, where, kind in operators(data):
        if kind == "custom" and name not in LITERT_CUSTOM_OPS:
            reason = FLEX_REASON if name.startswith("Flex") else CUSTOM_REASON
            found.append(Refusal(name, where, reason))
        elif kind == "unknown":
            found.append(Refusal(name, where, "is not a builtin operator of this LiteRT"))
    return merge(found)


def operator_outputs(data: bytes, op_name: str) -> list[str]:
    """The output tensor names of the first operator called ``op_name`` (builtin or custom), in
    the operator's own order; empty when the model has none. A detector's post-processing
    outputs are found this way whatever its exporter named them."""
    schema = _schema()
    names = builtin_names()
    try:
        model = schema.Model.GetRootAs(data, 0)
        for si in range(model.SubgraphsLength()):
            subgraph = model.Subgraphs(si)
            for oi in range(subgraph.OperatorsLength()):
                op = subgraph.Operators(oi)
                code = model.OperatorCodes(op.OpcodeIndex())
                builtin = max(code.BuiltinCode(), code.DeprecatedBuiltinCode())
                if builtin == schema.BuiltinOperator.CUSTOM:
                    name = (code.CustomCode() or b"").decode("utf-8", "replace")
                else:
                    name = names.get(builtin, "")
                if name != op_name:
                    continue
                return [
                    (subgraph.Tensors(op.Outputs(k)).Name() or b"").decode("utf-8", "replace")
                    for k in range(op.OutputsLength())
                ]
    except Exception as exc:  # a damaged flatbuffer fails in many ways (struct, index, ...)
        raise BreedbenchError(
            f"not a valid LiteRT model: its flatbuffer cannot be read ({exc})"
        ) from None
    return []
