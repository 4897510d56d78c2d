"""Detect, then classify: real tiny detectors crop real images before a real classifier."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from core.errors import BreedbenchError
from db.database import Database
from db.models import Prediction
from evaluator.compare import compare_runs
from evaluator.detection import crop_pixels
from evaluator.pipeline import evaluate
from evaluator.registry import StoredModel, get_version
from evaluator.spec import ModelSpec, load_spec
from tests.detectorkit import DET_SIZE, detector_spec, encode, scene
from tests.factories import insert_image
from tests.fixtures.detection import CropSet
from tests.fixtures.evaluation import accept, register
from tests.modelkit import DEFAULT_LABELS, graph_with_ops


def crops_of(db: Database, run_id: int) -> dict[int, Any]:
    with db.session() as s:
        rows = s.execute(
            select(Prediction.image_id, Prediction.crop).where(Prediction.run_id == run_id)
        ).all()
    return dict(rows)


def top5_of(db: Database, run_id: int) -> dict[int, Any]:
    with db.session() as s:
        rows = s.execute(
            select(Prediction.image_id, Prediction.top5).where(Prediction.run_id == run_id)
        ).all()
    return dict(rows)


def add_detector(cs: CropSet, path: Path, version: str = "v1", fmt: str = "tflite") -> str:
    return register(cs.db, path, detector_spec(fmt), name="det", version=version).ref


def contains(outer: list[int], inner: tuple[int, int, int, int], slack: int = 2) -> bool:
    return (
        outer[0] <= inner[0] + slack
        and outer[1] <= inner[1] + slack
        and outer[2] >= inner[2] - slack
        and outer[3] >= inner[3] - slack
    )


def test_cropping_to_the_dog_turns_every_wrong_answer_right(crop_set: CropSet) -> None:
    cs = crop_set
    det = add_detector(cs, cs.kit.square)
    whole = evaluate(cs.db, cs.classifier)
    cropped = evaluate(cs.db, cs.classifier, crop=det, crop_margin=0.1)
    assert whole.metrics["top1"]["rate"] == 0.0
    assert cropped.metrics["top1"]["rate"] == 1.0
    n = len(cs.boxes)
    crop = cropped.metrics["crop"]
    assert (crop["detections"], crop["fallbacks"], crop["detector_runs"]) == (n, 0, n)
    assert crop["detector_latency_ms"]["p50"] > 0
    assert cropped.settings["crop"]["detector"] == det
    assert cropped.settings["preprocessing_hash"] != whole.settings["preprocessing_hash"]
    for image_id, stored in crops_of(cs.db, cropped.run_id).items():
        drawn = cs.boxes[image_id]
        side = drawn[2] - drawn[0]
        assert stored["size"] == [160, 120]
        assert contains(stored["box"], drawn), (stored, drawn)
        assert stored["box"][2] - stored["box"][0] <= side * 1.2 + 6  # the box, not the image
    assert all(c is None for c in crops_of(cs.db, whole.run_id).values())
    # "Did the crop help?": every image fixed, none broken, far beyond chance.
    with cs.db.session() as s:
        cmp = compare_runs(s, whole.run_id, cropped.run_id)
    assert (len(cmp.fixed), len(cmp.broken), cmp.shared) == (n, 0, n)
    assert cmp.p_value < 0.001


def test_margin_zero_crops_exactly_to_the_detected_box(crop_set: CropSet) -> None:
    cs = crop_set
    det = add_detector(cs, cs.kit.square)
    tight = evaluate(cs.db, cs.classifier, crop=det, crop_margin=0.0)
    loose = evaluate(cs.db, cs.classifier, crop=det, crop_margin=0.5)
    assert tight.settings["preprocessing_hash"] != loose.settings["preprocessing_hash"]
    for image_id, stored in crops_of(cs.db, tight.run_id).items():
        ymin, xmin, ymax, xmax = stored["dog"]
        assert tuple(stored["box"]) == crop_pixels((ymin, xmin, ymax, xmax), 160, 120, 0.0)
        left, top, right, bottom = cs.boxes[image_id]
        # The detector saw a 64×64 resize: its box is the square to within a resized pixel.
        tol = 160 / DET_SIZE + 1
        assert abs(stored["box"][0] - left) <= tol and abs(stored["box"][2] - right) <= tol
    assert loose.metrics["crop"]["detector_runs"] == 0  # same detector: answers from its cache


def test_an_identity_detector_gives_exactly_the_uncropped_results(crop_set: CropSet) -> None:
    cs = crop_set
    det = add_detector(cs, cs.kit.identity)
    whole = evaluate(cs.db, cs.classifier)
    cropped = evaluate(cs.db, cs.classifier, crop=det, crop_margin=0.25)
    assert top5_of(cs.db, cropped.run_id) == top5_of(cs.db, whole.run_id)
    assert all(c["box"] == [0, 0, 160, 120] for c in crops_of(cs.db, cropped.run_id).values())
    assert cropped.metrics["crop"]["fallbacks"] == 0


def test_a_detector_that_finds_no_dog_falls_back_to_the_whole_image(crop_set: CropSet) -> None:
    cs = crop_set
    det = add_detector(cs, cs.kit.no_dog)
    whole = evaluate(cs.db, cs.classifier)
    cropped = evaluate(cs.db, cs.classifier, crop=det)
    n = len(cs.boxes)
    assert cropped.metrics["crop"]["detections"] == 0
    assert cropped.metrics["crop"]["fallbacks"] == n
    assert all(c is None for c in crops_of(cs.db, cropped.run_id).values())
    assert top5_of(cs.db, cropped.run_id) == top5_of(cs.db, whole.run_id)
    from evaluator.report import crop_summary

    line = crop_summary(cropped.settings, cropped.metrics)
    assert line is not None and f"{n} with no detection classified whole" in line


def test_a_frozen_graph_detector_with_xyxy_boxes_crops_the_same(crop_set: CropSet) -> None:
    cs = crop_set
    det = add_detector(cs, cs.kit.frozen, fmt="pb")
    cropped = evaluate(cs.db, cs.classifier, crop=det)
    assert cropped.metrics["top1"]["rate"] == 1.0
    for image_id, stored in crops_of(cs.db, cropped.run_id).items():
        assert contains(stored["box"], cs.boxes[image_id])


def test_the_detector_runs_once_for_two_classifier_versions(
    crop_set: CropSet, monkeypatch: pytest.MonkeyPatch
) -> None:
    cs = crop_set
    det = add_detector(cs, cs.kit.square)
    second = register(
        cs.db, cs.kit.classifier, {**_classifier_spec(), "runtime": {"batch": 1}}, "chroma", "2"
    ).ref
    calls = {"detect": 0, "load": 0}
    real = StoredModel.detector

    def counting(self: StoredModel, spec: ModelSpec, threads: int | None = None) -> Any:
        calls["load"] += 1
        inner = real(self, spec, threads)
        original = inner.detect

        def detect(item: Any) -> Any:
            calls["detect"] += 1
            return original(item)

        inner.detect = detect  # type: ignore[method-assign]
        return inner

    monkeypatch.setattr(StoredModel, "detector", counting)
    first = evaluate(cs.db, cs.classifier, crop=det)
    again = evaluate(cs.db, second, crop=det)
    n = len(cs.boxes)
    assert calls == {"detect": n, "load": 1}  # the second run never loads the detector
    assert again.metrics["crop"]["detector_cache_hits"] == n
    assert again.metrics["crop"]["detector_runs"] == 0
    # The cached answers still carry the detector's own latency, measured when it ran.
    assert (
        again.metrics["crop"]["detector_latency_ms"] == first.metrics["crop"]["detector_latency_ms"]
    )
    assert again.metrics["top1"]["rate"] == 1.0


def _classifier_spec() -> dict[str, Any]:
    from tests.detectorkit import classifier_spec

    return classifier_spec(DEFAULT_LABELS)


@pytest.mark.parametrize("orientation", [6, 8, 3])
def test_crops_are_in_pixels_of_the_upright_image(
    database: Database, detector_kit: Any, orientation: int
) -> None:
    """The stored image is turned; its EXIF tag turns it upright. Detector and crop both work
    on the upright picture, so the crop holds the square where a person sees it."""
    arr, drawn = scene(2, 7, width=150, height=110)
    image_id = insert_image(database, DEFAULT_LABELS[2], data=encode(arr, orientation=orientation))
    accept(database, image_id)
    ref = register(database, detector_kit.classifier, _classifier_spec(), name="chroma").ref
    det = register(database, detector_kit.square, detector_spec(), name="det", version="v1").ref
    out = evaluate(database, ref, crop=det)
    stored = crops_of(database, out.run_id)[image_id]
    assert stored["size"] == [150, 110]
    assert contains(stored["box"], drawn, slack=3)
    assert out.metrics["top1"]["rate"] == 1.0


@pytest.mark.parametrize(
    ("box", "margin", "expected"),
    [
        ((0.25, 0.25, 0.75, 0.75), 0.0, (25, 50, 75, 150)),  # exactly the box
        ((0.25, 0.25, 0.75, 0.75), 0.1, (20, 40, 80, 160)),  # 10 % of its size on each side
        ((0.0, 0.0, 0.5, 0.5), 0.2, (0, 0, 60, 120)),  # clamped at the top-left corner
        ((0.6, 0.8, 1.0, 1.0), 0.5, (70, 80, 100, 200)),  # clamped at the bottom-right
        ((0.0, 0.0, 1.0, 1.0), 1.0, (0, 0, 100, 200)),  # never beyond the image
        ((0.5, 0.5, 0.5, 0.5), 0.1, (50, 100, 51, 101)),  # a point still crops one pixel
    ],
)
def test_crop_pixels_grows_by_the_margin_and_clamps_to_the_image(
    box: tuple[float, float, float, float], margin: float, expected: tuple[int, ...]
) -> None:
    # (ymin, xmin, ymax, xmax) on a 100×200 image (width 100, height 200)
    assert crop_pixels(box, 100, 200, margin) == expected


def test_a_hostile_detector_graph_is_refused_like_any_model(
    database: Database, tmp_path: Path
) -> None:
    pb = graph_with_ops(tmp_path / "hostile.pb", ["ReadFile", "WriteFile"])
    spec = {**detector_spec("pb"), "input": {"tensor": "filename", "kind": "tensor",
                                              "size": [64, 64]}}  # fmt: skip
    with pytest.raises(BreedbenchError) as err:
        register(database, pb, spec, name="det", version="evil")
    assert "ReadFile" in str(err.value) and "WriteFile" in str(err.value)


def test_a_detector_is_not_a_classifier_and_a_classifier_is_not_a_detector(
    crop_set: CropSet,
) -> None:
    cs = crop_set
    det = add_detector(cs, cs.kit.square)
    with pytest.raises(BreedbenchError, match="is a detector: it finds dogs"):
        evaluate(cs.db, det)
    with pytest.raises(BreedbenchError, match="is a classifier, not a detector"):
        evaluate(cs.db, cs.classifier, crop=cs.classifier)
    with pytest.raises(BreedbenchError, match="--crop-policy"):
        evaluate(cs.db, cs.classifier, crop=det, crop_policy="nearest")


def test_the_postprocess_preset_finds_the_operators_outputs_whatever_their_names(
    database: Database, detector_kit: Any
) -> None:
    """Our converter names the outputs ``PartitionedCall:K``, not ``TFLite_Detection_
    PostProcess:K``: the preset still finds boxes, classes, scores and count by the operator."""
    spec = load_spec(preset="tflite-detection-postprocess", overrides={"input": {"size": [64, 64]}})
    assert spec.detector is not None and spec.detector.dog_classes == (17,)
    info = register(database, detector_kit.square, spec.to_dict(), name="det", version="p")
    assert info.is_detector
    wrong = load_spec(preset="tflite-detection-postprocess")
    with pytest.raises(BreedbenchError, match="takes 64×64 images but the spec says"):
        register(database, detector_kit.square, wrong.to_dict(), name="det", version="q")


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ({"kind": "detector", "input": {"size": [8, 8]}, "detector": {"boxes": "b"}},
         "detector.classes must name"),
        ({**detector_spec(), "detector": {**detector_spec()["detector"], "dog_classes": []}},
         "dog_classes must list"),
        ({**detector_spec(), "detector": {**detector_spec()["detector"], "box_order": "xy"}},
         "box_order"),
        ({**detector_spec(), "detector": {**detector_spec()["detector"], "min_score": 2}},
         "min_score must be in"),
        ({**detector_spec(), "labels": {"names": ["pug"]}}, "a detector has no [labels]"),
        ({"input": {"size": [8, 8]}, "detector": detector_spec()["detector"]},
         'needs kind = "detector"'),
    ],
)  # fmt: skip
def test_detector_specs_are_checked_key_by_key(spec: dict[str, Any], message: str) -> None:
    with pytest.raises(BreedbenchError, match=message.replace("[", r"\[")):
        ModelSpec.from_dict(spec)


def test_a_classifier_spec_reads_back_as_it_did_before_detectors() -> None:
    spec = ModelSpec.from_dict(_classifier_spec())
    assert "kind" not in spec.to_dict() and "detector" not in spec.to_dict()
    det = ModelSpec.from_dict(detector_spec())
    assert ModelSpec.from_dict(det.to_dict()) == det


def test_tradeoff_adds_the_detectors_size_and_latency_to_the_classifiers(
    crop_set: CropSet,
) -> None:
    from evaluator.tradeoff import tradeoff_rows

    cs = crop_set
    det = add_detector(cs, cs.kit.square)
    whole = evaluate(cs.db, cs.classifier)
    cropped = evaluate(cs.db, cs.classifier, crop=det)
    with cs.db.session() as s:
        rows = tradeoff_rows(s, "chroma")
        det_size = get_version(s, det).size_bytes
    plain, paired = rows
    assert (plain.run_id, plain.crop, plain.label) == (whole.run_id, None, "1")
    assert (paired.run_id, paired.label) == (cropped.run_id, f"1 + {det}")
    assert paired.size_bytes == plain.size_bytes + det_size
    det_ms = cropped.metrics["crop"]["detector_latency_ms"]["p50"]
    assert paired.detector_latency_ms == det_ms
    assert paired.latency_p50_ms == pytest.approx(cropped.metrics["latency_ms"]["p50"] + det_ms)
    assert paired.top[1].rate == 1.0 and plain.top[1].rate == 0.0


def test_gallery_captions_say_where_the_classifier_looked() -> None:
    from evaluator.detection import box_on, describe_crop

    crop = {"box": [10, 20, 50, 80], "size": [100, 200], "score": 0.876}
    assert describe_crop(crop, cropped_run=True) == "cropped to the dog (40×60 px, score 0.88)"
    assert describe_crop(None, cropped_run=True) == "no dog found: classified whole"
    assert describe_crop(None, cropped_run=False) is None
    assert box_on(crop, 50, 100) == (5, 10, 25, 40)


@pytest.mark.parametrize("kind", ["jpeg_bytes", "image", "tensor"])
def test_every_input_kind_is_cropped_before_the_classifiers_preprocessing(kind: str) -> None:
    """A graph fed JPEG bytes gets the crop re-encoded; an any-size image gets the crop's
    pixels; a fixed-size tensor is resized from the crop."""
    import io

    import numpy as np
    from PIL import Image as PILImage

    from evaluator.preprocess import prepare
    from evaluator.spec import InputSpec

    arr, (left, top, right, bottom) = scene(1, 3)
    data = encode(arr)
    spec = InputSpec(kind=kind, size=(16, 16) if kind == "tensor" else None)
    out = prepare(data, spec, (left, top, right, bottom))
    if kind == "jpeg_bytes":
        assert isinstance(out, bytes)
        img = PILImage.open(io.BytesIO(out))
        assert img.size == (right - left, bottom - top)
        assert np.asarray(img).min() > 180  # all dog: the pale square, no background
    elif kind == "image":
        assert np.array_equal(out, arr[top:bottom, left:right])
    else:
        assert isinstance(out, np.ndarray) and out.shape == (16, 16, 3) and out.min() > 180


def test_parity_and_convert_refuse_a_detector(crop_set: CropSet) -> None:
    from evaluator.convert import ConversionRequest, convert_version
    from evaluator.parity import plan_parity

    cs = crop_set
    det = add_detector(cs, cs.kit.square)
    with pytest.raises(BreedbenchError, match="is a detector: parity compares"):
        plan_parity(cs.db, cs.classifier, det, None)
    with pytest.raises(BreedbenchError, match="is a detector: convert derives classifiers"):
        convert_version(cs.db, det, ConversionRequest(quantize="dynamic"))


def test_dog_boxes_keep_dogs_above_min_score_and_the_policy_picks_one() -> None:
    import numpy as np

    from evaluator.detection import choose, dog_boxes
    from evaluator.runners.detector import RawDetections
    from evaluator.spec import DetectorSpec

    raw = RawDetections(
        boxes=np.array(
            [
                [0.1, 0.1, 0.3, 0.3],  # a small dog, sure
                [0.2, 0.4, 0.9, 0.95],  # a large dog, less sure
                [0.0, 0.0, 1.0, 1.0],  # a person
                [0.5, 0.5, 0.6, 0.6],  # a dog below min_score
                [0.1, 0.1, 0.2, 0.2],  # beyond count: not a real detection
            ],
            dtype=np.float32,
        ),
        classes=np.array([17, 17, 0, 17, 17], dtype=np.float32),
        scores=np.array([0.95, 0.6, 0.99, 0.2, 0.99], dtype=np.float32),
        count=4,
    )
    spec = DetectorSpec("b", "c", "s", dog_classes=(17,), min_score=0.3)
    dogs = dog_boxes(raw, spec)
    assert [round(d.score, 2) for d in dogs] == [0.95, 0.6]
    largest, best = choose(dogs, "largest"), choose(dogs, "best")
    assert largest is not None and best is not None
    assert largest.box == pytest.approx((0.2, 0.4, 0.9, 0.95))
    assert best.box == pytest.approx((0.1, 0.1, 0.3, 0.3))
    xyxy = DetectorSpec("b", "c", "s", box_order="xyxy", dog_classes=(17,), min_score=0.3)
    assert dog_boxes(raw, xyxy)[1].box == pytest.approx((0.4, 0.2, 0.95, 0.9))
    assert choose([], "largest") is None


def test_crops_are_stored_and_read_back_on_sqlite_and_postgresql(
    any_database: Database, detector_kit: Any
) -> None:
    from tests.fixtures.detection import add_scenes

    made = add_scenes(any_database, per_class=1)
    ref = register(any_database, detector_kit.classifier, _classifier_spec(), name="chroma").ref
    det = register(any_database, detector_kit.square, detector_spec(), name="det", version="1").ref
    out = evaluate(any_database, ref, crop=det)
    stored = crops_of(any_database, out.run_id)
    assert set(stored) == set(made.boxes)
    assert all(contains(c["box"], made.boxes[i]) for i, c in stored.items())
