"""``convert``: every quantization mode, the derived spec, int8 I/O, calibration, failures."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from sqlalchemy import func, select

from core.errors import BreedbenchError
from db.models import CalibrationImage, Image, ModelVersion
from evaluator.calibration import calibration_image_ids, select_calibration_images
from evaluator.convert import (
    ConversionRequest,
    convert_version,
    explain_converter_error,
)
from evaluator.parity import run_parity
from evaluator.pipeline import evaluate
from evaluator.preprocess import preprocess
from evaluator.registry import register_model
from evaluator.spec import InputSpec, ModelSpec
from tests.factories import breed_id, insert_image
from tests.fixtures.evaluation import jpeg_spec, register
from tests.fixtures.workspace import CALIBRATION, MODES, Workspace
from tests.modelkit import class_jpeg

# Measured on the tiny model (32 images): float, float16 and dynamic range reproduce the frozen
# graph to ~1e-6 (its weight tensors are below the size dynamic range quantizes); full int8 keeps
# every top-1 with a mean |Δp| near 0.001 (max 0.004, one int8 output step). Bounds leave 5-10×.
BOUNDS = {
    "none": (1.0, 1e-4),
    "dynamic": (1.0, 1e-3),
    "float16": (1.0, 1e-3),
    "int8": (0.9, 0.02),
    "int8-int8io": (0.9, 0.02),
    "int8-uint8io": (0.9, 0.02),
}


@pytest.mark.parametrize("mode", list(MODES))
def test_every_mode_gives_a_loadable_tflite_that_agrees_with_its_parent(
    workspace: Workspace, mode: str
) -> None:
    from ai_edge_litert.interpreter import Interpreter

    v = workspace.converted[mode]
    path = v.file(workspace.settings)
    assert path.read_bytes()[4:8] == b"TFL3"
    interp = Interpreter(model_path=str(path))
    interp.allocate_tensors()
    assert v.size_bytes == path.stat().st_size
    min_agreement, max_mean_diff = BOUNDS[mode]
    result = run_parity(workspace.db, "tiny:pb", v.ref)
    assert result.n_images == len(workspace.images.image_ids) + 1 - (
        CALIBRATION if mode.startswith("int8") else 0
    )  # + the accepted image of a breed outside the labels: parity compares outputs anyway
    assert result.agreement >= min_agreement
    assert result.mean_abs_diff <= max_mean_diff
    assert not result.mismatch_suspected
    assert result.quantization == MODES[mode][0]


def test_version_records_parent_settings_and_derived_spec(workspace: Workspace) -> None:
    v = workspace.converted["int8-uint8io"]
    assert v.parent_id == workspace.parent.id and v.format == "tflite"
    conv = v.conversion or {}
    assert conv["quantize"] == "int8" and conv["io"] == "uint8" and conv["input"] == "Sub"
    assert conv["calibration_images"] == CALIBRATION and conv["calibration_breeds"] == 4
    assert conv["parent"] == "tiny:pb" and conv["source_format"] == "frozen_pb"
    assert conv["tflite_io"]["input_dtype"] == "uint8"
    # Cut at Sub: the graph had resized (TF bilinear) and subtracted 128 before that point.
    assert v.spec.input == InputSpec(
        tensor="Sub",
        kind="tensor",
        size=(32, 32),
        resize="tf_bilinear",
        scale=1.0,
        offset=-128.0,
    )
    assert v.spec.output.tensor == "output_node"
    assert list(v.spec.labels.names) == workspace.tiny.labels
    # Stored as before: the JSON column holds the spec's dict form.
    with workspace.db.session() as s:
        stored = s.get(ModelVersion, v.id).spec  # type: ignore[union-attr]
    assert stored["format"] == "tflite"
    assert stored["input"] == {
        "tensor": "Sub",
        "kind": "tensor",
        "size": [32, 32],
        "resize": "tf_bilinear",
        "scale": 1.0,
        "offset": -128.0,
    }
    assert stored["output"] == {"tensor": "output_node", "activation": "probabilities"}
    assert ModelSpec.from_dict(stored) == v.spec
    dyn = workspace.converted["dynamic"].conversion or {}
    assert "calibration" not in dyn and dyn["quantize"] == "dynamic"


def test_cut_at_mul_derives_scale_and_offset(workspace: Workspace) -> None:
    r = convert_version(
        workspace.db, "tiny:pb", ConversionRequest("none", input_tensor="Mul"), new_version="at-mul"
    )
    inp = r.version.spec.input
    assert (inp.tensor, inp.scale, inp.offset) == ("Mul", 0.0078125, -1.0)
    assert run_parity(workspace.db, "tiny:pb", r.version.ref).agreement == 1.0


def test_int8_io_is_quantized_with_the_tensor_parameters(workspace: Workspace) -> None:
    """Quantizing pixels − 128 by hand with the input's (scale, zero point) and dequantizing the
    output gives the float model's probabilities."""
    from ai_edge_litert.interpreter import Interpreter

    db, tiny = workspace.db, workspace.tiny
    spec = workspace.converted["none"].spec
    image = class_jpeg(2, 4, 777)
    x = np.asarray(preprocess(image, spec.input))[None]  # pixels − 128, float
    float_interp = Interpreter(str(workspace.converted["none"].file(db.settings)))
    float_interp.allocate_tensors()
    float_interp.set_tensor(float_interp.get_input_details()[0]["index"], x.astype(np.float32))
    float_interp.invoke()
    expected = float_interp.get_tensor(float_interp.get_output_details()[0]["index"]).ravel()
    for mode, dtype, zero in (("int8-int8io", np.int8, 0), ("int8-uint8io", np.uint8, 128)):
        interp = Interpreter(str(workspace.converted[mode].file(db.settings)))
        interp.allocate_tensors()
        inp, out = interp.get_input_details()[0], interp.get_output_details()[0]
        assert inp["dtype"] == dtype and out["dtype"] == dtype
        scale, zp = inp["quantization"]
        # Calibrated on pixels − 128: the range is about [-128, 127], one step per pixel value.
        assert scale == pytest.approx(1.0, abs=0.05) and abs(zp - zero) <= 2
        info = np.iinfo(dtype)
        q = np.clip(np.round(x / scale + zp), info.min, info.max).astype(dtype)
        interp.set_tensor(inp["index"], q)
        interp.invoke()
        o_scale, o_zp = out["quantization"]
        got = (interp.get_tensor(out["index"]).astype(np.float32).ravel() - o_zp) * o_scale
        assert np.abs(got - expected).max() < 0.03
        assert got.argmax() == expected.argmax() == 2
    assert len(tiny.labels) == expected.size


def test_calibration_images_are_recorded_stratified_and_left_out(workspace: Workspace) -> None:
    db = workspace.db
    v = workspace.converted["int8"]
    with db.session() as s:
        calib = calibration_image_ids(s, v.id)
        breeds = s.scalars(select(Image.breed_id).where(Image.id.in_(calib))).all()
    assert len(calib) == CALIBRATION
    assert sorted({b: breeds.count(b) for b in breeds}.values()) == [2, 2, 2, 2]
    excluded = evaluate(db, v.ref)
    n_covered = len(workspace.images.image_ids)
    assert excluded.metrics["n_images"] == n_covered - CALIBRATION
    assert excluded.metrics["excluded"]["calibration_images"] == CALIBRATION
    assert not excluded.metrics["excluded"]["calibration_included"]
    kept = evaluate(db, v.ref, include_calibration=True)
    assert kept.metrics["n_images"] == n_covered
    assert kept.metrics["excluded"]["calibration_images"] == CALIBRATION
    assert kept.metrics["excluded"]["calibration_included"]
    # Versions that needed no calibration record none.
    with db.session() as s:
        assert not calibration_image_ids(s, workspace.converted["dynamic"].id)


def test_calibration_selection_takes_breeds_in_turn(workspace: Workspace) -> None:
    with workspace.db.session() as s:
        chosen = select_calibration_images(s, 6, seed=0)
        again = select_calibration_images(s, 6, seed=0)
        other = select_calibration_images(s, 6, seed=1)
        breeds = [s.get(Image, i).breed_id for i in chosen.image_ids]  # type: ignore[union-attr]
        everything = select_calibration_images(s, 10_000)
        n_accepted = s.scalar(
            select(func.count()).select_from(Image).where(Image.status == "accepted")
        )
    # Five breeds have accepted images (four classes and one outside them): a full round first.
    assert len(set(breeds[:5])) == 5 and len(chosen) == 6
    assert chosen.image_ids == again.image_ids and chosen.image_ids != other.image_ids
    assert len(everything) == n_accepted  # fewer than asked: all of them


def test_calibration_needs_accepted_images(workspace: Workspace) -> None:
    with workspace.db.session() as s, pytest.raises(BreedbenchError, match="no accepted images"):
        select_calibration_images(s, 5, breed_ids=[999_999])


def test_unsupported_op_names_the_op_and_the_fallback(workspace: Workspace) -> None:
    """Converting the classic graph from its JPEG input hits DecodeJpeg, which TFLite lacks."""
    db = workspace.db
    register(db, workspace.tiny.classic_pb, jpeg_spec(workspace.tiny), version="jpeg")
    with db.session() as s:
        before = s.scalar(select(func.count()).select_from(ModelVersion))
        calib_before = s.scalar(select(func.count()).select_from(CalibrationImage))
    with pytest.raises(BreedbenchError) as err:
        convert_version(db, "tiny:jpeg", ConversionRequest("dynamic"))
    msg = str(err.value)
    assert "does not support op DecodeJpeg" in msg
    # Flex kernels are refused (LiteRT here cannot run them), so they are not offered.
    assert "--input" in msg and "--select-tf-ops" not in msg and "Flex" not in msg
    # Without int8, --select-tf-ops could only add Flex kernels: said before converting.
    with pytest.raises(BreedbenchError, match="--select-tf-ops does nothing usable"):
        convert_version(db, "tiny:jpeg", ConversionRequest("dynamic", select_tf_ops=True))
    with db.session() as s:
        assert s.scalar(select(func.count()).select_from(ModelVersion)) == before
        assert s.scalar(select(func.count()).select_from(CalibrationImage)) == calib_before
    # The fallback the message names works: start after the decoder, as the classic .lite did.
    r = convert_version(db, "tiny:jpeg", ConversionRequest("dynamic", input_tensor="Sub"))
    assert r.version.spec.input == workspace.converted["dynamic"].spec.input
    assert run_parity(db, "tiny:jpeg", r.version.ref, limit=8).agreement == 1.0


def test_int8_failure_suggests_float_io() -> None:
    exc = RuntimeError("Quantization failed: 'tfl.custom_thing' op is not quantizable\nmore")
    msg = explain_converter_error(exc, ConversionRequest("int8", io="int8"))
    assert "full-integer conversion failed at op custom_thing" in msg
    assert "--io float" in msg and "--select-tf-ops (float built-in kernels" in msg


def test_a_converted_model_that_keeps_flex_kernels_is_refused() -> None:
    """What SELECT_TF_OPS gives when it is used: a model LiteRT here cannot prepare."""
    import tensorflow as tf

    from evaluator.convert import inspect_tflite

    @tf.function(input_signature=[tf.TensorSpec([], tf.string)])
    def decode(x: Any) -> Any:
        return tf.cast(tf.io.decode_jpeg(x), tf.float32)

    conv = tf.lite.TFLiteConverter.from_concrete_functions([decode.get_concrete_function()])
    conv.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS, tf.lite.OpsSet.SELECT_TF_OPS]
    with pytest.raises(BreedbenchError, match="keeps FlexDecodeJpeg .*Flex delegate.*--input"):
        inspect_tflite(conv.convert())


@pytest.mark.parametrize(
    ("request_", "match"),
    [
        (ConversionRequest("int4"), "unknown --quantize 'int4'"),
        (ConversionRequest("dynamic", io="uint8"), "--io uint8 needs --quantize int8"),
        (ConversionRequest("int8", io="int16"), "unknown --io 'int16'"),
        (ConversionRequest("none", input_tensor="Nope"), "no tensor 'Nope'.*DecodeJpeg/contents"),
        (ConversionRequest("none", input_tensor="DecodeJpeg"), "does not depend on the parent"),
    ],
)
def test_bad_requests_are_refused_before_converting(
    workspace: Workspace, request_: ConversionRequest, match: str
) -> None:
    with pytest.raises(BreedbenchError, match=match):
        convert_version(workspace.db, "tiny:pb", request_)


def test_refusals_on_the_version_itself(workspace: Workspace) -> None:
    db = workspace.db
    with pytest.raises(BreedbenchError, match="already a .tflite"):
        convert_version(db, workspace.converted["none"].ref, ConversionRequest("dynamic"))
    with pytest.raises(BreedbenchError, match="tiny:none is already registered"):
        convert_version(db, "tiny:pb", ConversionRequest("none"), new_version="none")
    with pytest.raises(BreedbenchError, match="no model version 'ghost:1'"):
        convert_version(db, "ghost:1", ConversionRequest("none"))


def _keras_spec(tiny: Any) -> dict[str, Any]:
    return {
        "input": {
            "kind": "tensor",
            "size": [tiny.size, tiny.size],
            "resize": "tf_bilinear",
            "scale": 1 / 128,
            "offset": -1.0,
        },
        "labels": {"names": tiny.labels},
    }


def test_keras_model_converts_with_its_signature(workspace: Workspace) -> None:
    db, tiny = workspace.db, workspace.tiny
    spec = _keras_spec(tiny)
    register_model(db, tiny.keras, "tinykeras", "k", ModelSpec.from_dict(spec))
    with pytest.raises(BreedbenchError, match="--input chooses a tensor inside a frozen graph"):
        convert_version(db, "tinykeras:k", ConversionRequest("none", input_tensor="x"))
    r = convert_version(db, "tinykeras:k", ConversionRequest("int8", io="int8", calibration=8))
    assert r.version.spec.input.scale == spec["input"]["scale"]
    assert r.version.spec.input.tensor == (r.version.conversion or {})["tflite_io"]["input_name"]
    result = run_parity(db, "tinykeras:k", r.version.ref)
    assert result.agreement >= 0.9 and not result.mismatch_suspected


def test_new_images_do_not_change_recorded_calibration(workspace: Workspace) -> None:
    """The record is what calibrated the file: adding images later leaves it alone."""
    db = workspace.db
    v = workspace.converted["int8-int8io"]
    with db.session() as s:
        before = calibration_image_ids(s, v.id)
    insert_image(db, "pug", data=class_jpeg(1, 4, 31337))
    with db.session() as s:
        assert calibration_image_ids(s, v.id) == before


def test_spec_override_wins_over_the_derived_spec(workspace: Workspace) -> None:
    r = convert_version(
        workspace.db,
        "tiny:pb",
        ConversionRequest("none", input_tensor="Sub"),
        new_version="override",
        spec_override={"input": {"offset": -127.5}, "runtime": {"batch": 4}},
    )
    assert r.version.spec.input.offset == -127.5
    assert r.version.spec.input.size == (32, 32)  # the rest still derived
    assert r.version.spec.runtime.batch == 4


def test_saved_model_converts_from_its_serving_signature(workspace: Workspace, tmp_path) -> None:  # type: ignore[no-untyped-def]
    import keras

    db, tiny = workspace.db, workspace.tiny
    exported = tmp_path / "saved"
    keras.models.load_model(tiny.keras).export(exported, verbose=False)
    register_model(db, exported, "tinysaved", "s", ModelSpec.from_dict(_keras_spec(tiny)))
    r = convert_version(db, "tinysaved:s", ConversionRequest("float16"))
    assert (r.version.conversion or {})["source_format"] == "saved_model"
    result = run_parity(db, "tinysaved:s", r.version.ref)
    assert result.agreement == 1.0 and result.mean_abs_diff < 1e-3


def test_an_unreadable_calibration_image_is_skipped_and_not_recorded(
    workspace: Workspace,
) -> None:
    """A stored file that no longer decodes is left out of calibration, like evaluation does."""
    db = workspace.db
    model_breeds = [breed_id(db, slug) for slug in workspace.tiny.labels]
    with db.session() as s:
        first = select_calibration_images(s, 3, seed=7, breed_ids=model_breeds)
        path = s.get(Image, first.image_ids[0]).path  # type: ignore[union-attr]
    target = db.store.absolute(path)
    original = target.read_bytes()
    target.write_bytes(original[:40])  # truncated: cannot be decoded any more
    try:
        r = convert_version(
            db,
            "tiny:pb",
            ConversionRequest("int8", input_tensor="Sub", calibration=3, seed=7),
            new_version="skip-broken",
        )
    finally:
        target.write_bytes(original)
    with db.session() as s:
        recorded = calibration_image_ids(s, r.version.id)
    assert recorded == set(first.image_ids[1:])
    assert r.calibration_images == 2 and r.calibration_breeds == 2
    assert (r.version.conversion or {})["calibration_images"] == 2
