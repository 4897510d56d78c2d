"""Deriving a cut model's input spec from the graph's own ops (no conversion needed)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from core.errors import BreedbenchError
from evaluator.convert import derive_input_spec, static_input_shape, through_resize, trace_path
from evaluator.spec import InputSpec, ModelSpec

MEAN = [0.485, 0.456, 0.406]
STD = [0.229, 0.224, 0.225]


@pytest.fixture(scope="module")
def torchvision_style_graph() -> Any:
    """``input`` 0–255 float → /255 → − mean → × 1/std → Square → 10 − x → output."""
    import tensorflow as tf

    g = tf.Graph()
    with g.as_default():
        x = tf.compat.v1.placeholder(tf.float32, [None, 8, 8, 3], name="input")
        x = tf.math.truediv(x, 255.0, name="Div255")
        x = tf.subtract(x, tf.constant(MEAN), name="SubMean")
        x = tf.multiply(x, tf.constant(1.0 / np.array(STD, np.float32)), name="MulStd")
        sq = tf.square(x, name="Square")
        flipped = tf.subtract(10.0, x, name="Flip")
        tf.identity(sq + flipped, name="output")
    return g.as_graph_def()


def parent(**extra: Any) -> InputSpec:
    return InputSpec(**{"tensor": "input:0", "kind": "tensor", "size": (8, 8), **extra})


def test_per_channel_normalisation_becomes_mean_and_std(torchvision_style_graph: Any) -> None:
    inp = derive_input_spec(torchvision_style_graph, parent(), "MulStd")
    assert inp.tensor == "MulStd" and inp.size == (8, 8)
    assert list(inp.mean or ()) == pytest.approx([m * 255 for m in MEAN])
    assert list(inp.std or ()) == pytest.approx([s * 255 for s in STD])
    assert inp.scale is None and inp.offset is None
    assert static_input_shape(torchvision_style_graph, "MulStd") == [1, 8, 8, 3]


def test_composes_with_the_parent_normalisation(torchvision_style_graph: Any) -> None:
    # The parent was fed pixels × 2 (a contrived spec): the cut input sees (2x) / 255.
    inp = derive_input_spec(torchvision_style_graph, parent(scale=2.0), "Div255")
    assert inp.scale == pytest.approx(2 / 255) and inp.offset == 0.0


def test_constant_first_subtraction_flips_the_sign(torchvision_style_graph: Any) -> None:
    inp = derive_input_spec(torchvision_style_graph, parent(), "Flip")
    values = np.array([0.0, 255.0])
    # What Flip computes for those pixels, by the graph's arithmetic, channel 0:
    expected = 10.0 - (values / 255 - MEAN[0]) / STD[0]
    assert inp.mean is not None and inp.std is not None
    got = (values - inp.mean[0]) / inp.std[0]
    assert got == pytest.approx(expected)


def test_an_op_it_cannot_describe_is_named(torchvision_style_graph: Any) -> None:
    with pytest.raises(BreedbenchError, match=r"across op Square \(Square\).*--spec"):
        derive_input_spec(torchvision_style_graph, parent(), "Square")


def test_classic_graph_cut_at_sub_gives_the_study_lite_preset(
    tiny_models: Any, tmp_path: Any
) -> None:
    """At the real Inception size, the derivation reproduces the shipped ``.lite`` preset."""
    from evaluator.convert import read_graph_def
    from evaluator.spec import preset_path, read_toml
    from tests.modelkit import freeze_classic

    graph = read_graph_def(freeze_classic(tiny_models.keras, tmp_path / "c299.pb", size=299))
    pb_preset = read_toml(preset_path("inception-breeds-pb"))
    lite_preset = read_toml(preset_path("inception-breeds-lite"))
    derived = derive_input_spec(graph, ModelSpec.from_dict(pb_preset).input, "Sub")
    assert derived == ModelSpec.from_dict(lite_preset).input
    assert ModelSpec(input=derived).to_dict()["input"] == lite_preset["input"]


def test_a_parent_file_that_is_no_graph_is_named(tmp_path: Any) -> None:
    from evaluator.convert import read_graph_def

    bad = tmp_path / "broken.pb"
    bad.write_bytes(b"\xff\x00 not a protobuf")
    with pytest.raises(BreedbenchError, match=r"broken\.pb: not a TensorFlow GraphDef"):
        read_graph_def(bad)


def test_the_traced_path_runs_from_the_parent_input_to_the_cut(
    torchvision_style_graph: Any,
) -> None:
    nodes = {n.name: n for n in torchvision_style_graph.node}
    path = trace_path(nodes, "input", "MulStd")
    assert [n.name for n in path] == ["Div255", "SubMean", "MulStd"]
    assert trace_path(nodes, "input", "input") == []


def test_a_cut_at_the_parent_input_keeps_its_normalisation(torchvision_style_graph: Any) -> None:
    """Nothing between: one value per channel is written as scale/offset, a spec without any
    normalisation gets none."""
    assert derive_input_spec(torchvision_style_graph, parent(), "input") == parent(tensor="input")
    same = derive_input_spec(
        torchvision_style_graph, parent(mean=(127.5,), std=(127.5,)), "input:0"
    )
    assert same == parent(tensor="input", scale=pytest.approx(1 / 127.5), offset=-1.0)


def test_the_classic_graph_decodes_then_resizes(tiny_models: Any) -> None:
    from evaluator.convert import read_graph_def

    graph = read_graph_def(tiny_models.classic_pb)
    jpeg = InputSpec(tensor="DecodeJpeg/contents:0", kind="jpeg_bytes")
    assert derive_input_spec(graph, jpeg, "Cast") == InputSpec(tensor="Cast", kind="image")
    resized = derive_input_spec(graph, jpeg, "ResizeBilinear")
    assert (resized.kind, resized.size, resized.resize) == ("tensor", (32, 32), "tf_bilinear")
    decoded = InputSpec(tensor="DecodeJpeg/contents:0", kind="image")
    with pytest.raises(BreedbenchError, match=r"op DecodeJpeg \(DecodeJpeg\) decodes JPEG bytes"):
        derive_input_spec(graph, decoded, "Cast")


def test_a_resize_the_spec_cannot_describe_is_refused() -> None:
    import tensorflow as tf

    g = tf.Graph()
    with g.as_default():
        x = tf.compat.v1.placeholder(tf.float32, [1, 16, 16, 3], name="input")
        tf.compat.v1.image.resize_bilinear(x, [8, 8], align_corners=True, name="Resize")
    nodes = {n.name: n for n in g.as_graph_def().node}
    with pytest.raises(BreedbenchError, match="op Resize resizes with align_corners"):
        through_resize(nodes["Resize"], nodes, parent())
