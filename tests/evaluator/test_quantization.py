"""Quantization read from the ``.tflite`` itself: real converted models of every kind, a file
added by hand (``models add``), a model left partly in float, and what a conversion did not do."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from core.errors import BreedbenchError
from db.database import Database
from evaluator.quantization import Quantization, detect, label, unexpected
from evaluator.tradeoff import tradeoff_rows
from tests.fixtures.evaluation import lite_spec, register
from tests.fixtures.workspace import MODES, Workspace
from tests.modelkit import TinyModels

# MODES key (breedbench's own conversions of the classic graph) → what the file must read as.
EXPECTED = {
    "none": ("float32", "float32"),
    "dynamic": ("dynamic", "dynamic range"),
    "float16": ("float16", "float16"),
    "int8": ("int8", "int8"),
    "int8-int8io": ("int8", "int8 (int8 I/O)"),
    "int8-uint8io": ("int8", "int8 (uint8 I/O)"),
}


@pytest.mark.parametrize("mode", sorted(MODES))
def test_each_conversion_reads_as_what_it_is(workspace: Workspace, mode: str) -> None:
    v = workspace.converted[mode]
    kind, text = EXPECTED[mode]
    assert v.quantization is not None and v.quantization["kind"] == kind
    assert v.quantization_label == text
    stored = v.stored_path(workspace.settings).read_bytes()
    assert detect(stored).to_dict() == v.quantization  # what was stored is what the file says
    q = Quantization.from_dict(v.quantization)
    io = MODES[mode][1]
    assert q.input_type == q.output_type == ("float32" if io == "float" else io)
    assert unexpected(*MODES[mode], q) == []  # each conversion did what it was asked


def test_weights_and_operators_are_counted(workspace: Workspace) -> None:
    """The tiny CNN: two convolutions and a dense layer carry weights."""
    q = {m: Quantization.from_dict(workspace.converted[m].quantization or {}) for m in MODES}
    assert q["none"].weights == {"float32": 3}
    assert q["float16"].weights == {"float16": 3}
    # Dynamic range quantizes only weights of 1024 values or more: one of the three here.
    assert q["dynamic"].weights == {"float32": 2, "int8": 1}
    assert q["int8"].weights == {"int8": 3}
    assert q["int8"].float_ops == 0 and q["int8"].integer_ops > 0
    assert q["none"].integer_ops == 0 and q["none"].float_ops > 0


@pytest.mark.parametrize(
    ("attr", "text"),
    [
        ("sub_float", "float32"),
        ("sub_dynamic", "dynamic range"),
        ("sub_int8", "int8 (int8 I/O)"),
        ("sub_uint8", "int8 (uint8 I/O)"),
    ],
)
def test_a_file_added_by_hand_shows_its_quantization(
    database: Database, tiny_models: TinyModels, attr: str, text: str
) -> None:
    """``models add`` of a .tflite converted elsewhere: no conversion record, yet tables show
    its quantization, not "-"."""
    v = register(database, getattr(tiny_models, attr), lite_spec(tiny_models), version="q")
    assert v.conversion is None and v.quantization_label == text
    with database.session() as s:
        (row,) = tradeoff_rows(s, "tiny")
    assert row.quantization == text


def test_float16_added_by_hand(database: Database, workspace: Workspace) -> None:
    path = workspace.converted["float16"].stored_path(workspace.settings)
    v = register(database, path, lite_spec(workspace.tiny), version="f16")
    assert v.conversion is None and v.quantization_label == "float16"


def test_a_frozen_graph_has_no_quantization_label(workspace: Workspace) -> None:
    assert workspace.parent.quantization is None and workspace.parent.quantization_label == "-"


def _sin_graph(tmp: Path) -> Path:
    """input [1, 16] → dense → sin → dense: SIN has no integer kernel."""
    import tensorflow as tf

    rng = np.random.default_rng(0)
    g = tf.Graph()
    with g.as_default():
        x = tf.compat.v1.placeholder(tf.float32, [1, 16], name="input")
        h = tf.matmul(x, tf.constant(rng.normal(size=(16, 64)).astype(np.float32)))
        h = tf.sin(h)
        tf.identity(
            tf.matmul(h, tf.constant(rng.normal(size=(64, 4)).astype(np.float32))), name="out"
        )
    path = tmp / "sin.pb"
    path.write_bytes(g.as_graph_def().SerializeToString())
    return path


def test_an_integer_model_with_float_fallback(tmp_path: Path) -> None:
    """Full-integer conversion that lets an op without integer kernel stay float: the file is
    int8 with one float operator, and ``convert`` would say it is not fully integer."""
    import tensorflow as tf

    def calibration():  # type: ignore[no-untyped-def]
        rng = np.random.default_rng(1)
        for _ in range(8):
            yield [rng.normal(size=(1, 16)).astype(np.float32)]

    conv = tf.compat.v1.lite.TFLiteConverter.from_frozen_graph(
        str(_sin_graph(tmp_path)), ["input"], ["out"]
    )
    conv.optimizations = [tf.lite.Optimize.DEFAULT]
    conv.representative_dataset = calibration
    q = detect(conv.convert())
    assert q.kind == "int8" and q.float_ops == 1 and q.integer_ops == 2
    assert q.label == "int8 + 1 float op"
    (note,) = unexpected("int8", "float", q)
    assert "1 of 3 operators compute in float" in note


def test_what_a_conversion_did_not_do() -> None:
    plain = Quantization("float32", "float32", "float32", float_ops=3, weights={"float32": 3})
    (note,) = unexpected("dynamic", "float", plain)
    assert "gave a float32 model" in note and "1024 values" in note
    int8 = Quantization("int8", "float32", "float32", integer_ops=3)
    (io_note,) = unexpected("int8", "uint8", int8)
    assert io_note == "--io uint8 gave float32 input and float32 output"
    assert unexpected("int8", "float", int8) == []


def test_labels() -> None:
    assert Quantization("int8", "int8", "float32").label == "int8 (int8 in, float32 out)"
    assert Quantization("int16x8", "float32", "float32").label == "int16x8"
    assert (
        Quantization("int8", "uint8", "uint8", float_ops=2).label
        == "int8 + 2 float ops (uint8 I/O)"
    )
    # An old version without a stored reading: its conversion record, else unknown.
    assert label(None, {"quantize": "float16", "io": "float"}) == "float16"
    assert label(None, None) == "-"
    stored = Quantization("dynamic", "float32", "float32").to_dict()
    assert label(stored, {"quantize": "int8"}) == "dynamic range"  # the file wins


def test_damaged_file_is_one_line(tiny_models: TinyModels) -> None:
    data = tiny_models.sub_int8.read_bytes()
    with pytest.raises(BreedbenchError, match="not a valid LiteRT model"):
        detect(data[:200])
