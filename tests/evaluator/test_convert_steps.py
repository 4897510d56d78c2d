"""The steps of a conversion that need no converter: the draft spec, the spec of the converted
file, the refusals on the parent, the rank of the calibration inputs."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from core.errors import BreedbenchError
from evaluator.convert import (
    ConversionRequest,
    ConversionSource,
    TfliteIO,
    check_convertible,
    converted_spec,
    draft_spec,
    input_rank,
)
from evaluator.registry import VersionInfo
from evaluator.spec import InputSpec, ModelSpec

PARENT = ModelSpec.from_dict(
    {
        "format": "frozen_pb",
        "input": {"tensor": "Cast:0", "kind": "image"},
        "output": {"tensor": "output_node:0", "activation": "logits"},
        "labels": {"names": ["pug", "beagle"], "order": "sorted"},
        "runtime": {"batch": 8},
    }
)
AT_SUB = InputSpec(
    tensor="Sub", kind="tensor", size=(32, 32), resize="tf_bilinear", scale=1.0, offset=-128.0
)


def version(fmt: str) -> VersionInfo:
    return VersionInfo(
        id=1,
        model_id=1,
        model_name="tiny",
        version="1",
        format=fmt,
        path="models/x",
        sha256="0" * 64,
        size_bytes=1,
        spec=PARENT,
        parent_id=None,
        conversion=None,
        created_at=datetime.now(UTC),
    )


def test_the_draft_is_the_parent_fed_at_the_new_input() -> None:
    draft = draft_spec(PARENT, AT_SUB)
    assert draft.format == "tflite" and draft.input == AT_SUB
    assert (draft.output, draft.labels, draft.runtime) == (
        PARENT.output,
        PARENT.labels,
        PARENT.runtime,
    )


def test_an_override_wins_table_by_table_and_is_checked() -> None:
    draft = draft_spec(PARENT, AT_SUB, {"input": {"offset": -127.5}, "labels": {"order": "file"}})
    assert draft.input == InputSpec(
        tensor="Sub", kind="tensor", size=(32, 32), resize="tf_bilinear", scale=1.0, offset=-127.5
    )
    assert draft.labels.order == "file" and draft.labels.names == ("pug", "beagle")
    with pytest.raises(BreedbenchError, match="input.scale/offset or input.mean/std, not both"):
        draft_spec(PARENT, AT_SUB, {"input": {"mean": [1.0], "std": [2.0]}})


def test_the_converted_spec_takes_litert_tensor_names() -> None:
    io = TfliteIO(
        input_name="serving_default_x:0",
        input_shape=[1, 32, 32, 3],
        input_dtype="uint8",
        input_quantization=(1.0, 128),
        output_name="StatefulPartitionedCall:0",
        output_shape=[1, 2],
        output_dtype="uint8",
        output_quantization=(0.004, 0),
    )
    spec = converted_spec(draft_spec(PARENT, AT_SUB), io)
    assert spec.input.tensor == "serving_default_x:0"
    assert spec.output.tensor == "StatefulPartitionedCall:0"
    assert spec.output.activation == "logits" and spec.input.offset == -128.0
    # What the registry stores and reads back.
    assert ModelSpec.from_dict(spec.to_dict()) == spec


@pytest.mark.parametrize(
    ("fmt", "request_", "message"),
    [
        ("tflite", ConversionRequest("dynamic"), "tiny:1 is already a .tflite model"),
        ("keras", ConversionRequest("none", input_tensor="x"), "--input chooses a tensor"),
    ],
)
def test_parents_that_cannot_be_converted_so(
    fmt: str, request_: ConversionRequest, message: str
) -> None:
    with pytest.raises(BreedbenchError, match=message):
        check_convertible(version(fmt), request_)


def test_parents_that_can_be_converted() -> None:
    check_convertible(version("frozen_pb"), ConversionRequest("none", input_tensor="Sub"))
    check_convertible(version("saved_model"), ConversionRequest("int8"))


def test_calibration_inputs_get_the_rank_of_the_converted_input() -> None:
    graph = ConversionSource("frozen_pb", Path("m.pb"), "Cast", "out", [5, 7, 3])
    assert input_rank(graph, AT_SUB) == 3  # the cut tensor's own shape wins
    signature = ConversionSource("keras", Path("m.keras"))
    assert input_rank(signature, AT_SUB) == 4  # an NHWC signature: [None, H, W, 3]
    assert input_rank(signature, InputSpec(kind="image")) is None
