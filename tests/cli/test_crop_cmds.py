"""``models add`` of a detector, ``evaluate --crop``, and ``compare`` answering "did the crop
help?", as a user types them."""

from __future__ import annotations

from pathlib import Path

from tests.cli.helpers import cli
from tests.detectorkit import DET_SIZE
from tests.fixtures.detection import CropSet
from tests.modelkit import graph_with_ops


def detector_toml(tmp_path: Path) -> Path:
    """The brief's spec of a detector, written as a person would (on top of nothing)."""
    path = tmp_path / "det.toml"
    path.write_text(
        'format = "tflite"\nkind = "detector"\n'
        f'[input]\nsize = [{DET_SIZE}, {DET_SIZE}]\nresize = "bilinear"\n'
        '[detector]\nboxes = "TFLite_Detection_PostProcess:0"\n'
        'classes = "TFLite_Detection_PostProcess:1"\n'
        'scores = "TFLite_Detection_PostProcess:2"\ncount = "TFLite_Detection_PostProcess:3"\n'
        'box_order = "yxyx"\ndog_classes = [17]\nmin_score = 0.3\n'
    )
    return path


def test_add_a_detector_crop_with_it_and_ask_whether_it_helped(
    crop_set: CropSet, tmp_path: Path
) -> None:
    cs = crop_set
    spec = detector_toml(tmp_path)
    code, out = cli(
        cs.db, "models", "add", cs.kit.square, "--name", "det", "--version", "v1",
        "--spec", spec, width=200,
    )  # fmt: skip
    assert code == 0, out
    assert "Registered det:v1 (tflite" in out and "detector of classes [17] as dogs" in out
    code, out = cli(cs.db, "models", "list", width=200)
    assert code == 0 and "detector" in out

    code, out = cli(cs.db, "evaluate", "det:v1")
    assert code == 1
    assert "det:v1 is a detector: it finds dogs" in out and "Traceback" not in out

    code, out = cli(cs.db, "evaluate", cs.classifier)
    assert code == 0, out
    code, out = cli(
        cs.db, "evaluate", cs.classifier, "--crop", "det:v1", "--crop-margin", "0.1",
        "--crop-policy", "best", width=200,
    )  # fmt: skip
    assert code == 0, out
    n = len(cs.boxes)
    assert f"Cropped by det:v1 (margin 0.1, best box, min score 0.3): {n} images cropped" in out
    assert "0 with no detection classified whole" in out and "detector latency p50" in out

    code, out = cli(cs.db, "compare", "1", "2", width=200)
    assert code == 0, out
    assert "Did the crop help? yes" in out and f"{n} images right only when cropped" in out

    code, out = cli(cs.db, "report", "2", "--format", "md")
    assert code == 0, out
    assert "Cropped by det" in out and f"{n} images cropped to a dog" in out

    code, out = cli(cs.db, "evaluate", cs.classifier, "--crop", cs.classifier)
    assert code == 1 and "is a classifier, not a detector" in out
    code, out = cli(cs.db, "evaluate", cs.classifier, "--crop", "det:v1", "--crop-margin", "-1")
    assert code != 0 and "Traceback" not in out


def test_a_hostile_detector_graph_is_refused_at_models_add(
    crop_set: CropSet, tmp_path: Path
) -> None:
    pb = graph_with_ops(tmp_path / "det.pb", ["ReadFile", "WriteFile"])
    spec = tmp_path / "det.toml"
    spec.write_text(
        'kind = "detector"\n[input]\ntensor = "filename"\nsize = [64, 64]\n'
        '[detector]\nboxes = "read"\nclasses = "read"\nscores = "read"\ndog_classes = [17]\n'
    )
    code, out = cli(crop_set.db, "models", "add", pb, "--name", "det", "--version", "x",
                    "--spec", spec)  # fmt: skip
    assert code == 1
    assert "ReadFile" in out and "WriteFile" in out and "Traceback" not in out
