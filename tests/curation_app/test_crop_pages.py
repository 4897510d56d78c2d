"""A cropped run in the app: the run's crop line, and the box the classifier saw drawn on each
picture of the mistakes gallery."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from PIL import Image as PILImage

from db.database import Database
from evaluator.pipeline import evaluate
from tests.detectorkit import detector_spec
from tests.fixtures.app import open_app
from tests.fixtures.detection import CropSet
from tests.fixtures.evaluation import register

BOX_COLOUR = (255, 64, 0)


def test_boxed_draws_the_crop_scaled_onto_the_thumbnail(tmp_path: Path) -> None:
    from curation_app.dashboard_ui import boxed

    path = tmp_path / "thumb.png"
    PILImage.new("RGB", (80, 60), (0, 0, 0)).save(path)
    # The upright image was 160×120: its box (40, 30)–(120, 90) is (20, 15)–(60, 45) here.
    img = boxed(str(path), {"box": [40, 30, 120, 90], "size": [160, 120], "score": 0.9})
    assert img.getpixel((20, 30)) == BOX_COLOUR and img.getpixel((60, 30)) == BOX_COLOUR
    assert img.getpixel((40, 15)) == BOX_COLOUR and img.getpixel((40, 45)) == BOX_COLOUR
    assert img.getpixel((40, 30)) == (0, 0, 0)  # inside the box: the picture
    assert img.getpixel((5, 5)) == (0, 0, 0)  # outside it too


def test_run_details_of_a_cropped_run_show_the_detector_and_each_box(
    app_env: Database, crop_set: CropSet, monkeypatch: pytest.MonkeyPatch
) -> None:
    from curation_app import dashboard_ui

    drawn: list[dict[str, Any]] = []
    real = dashboard_ui.boxed

    def recording(path: str, crop: dict[str, Any]) -> PILImage.Image:
        drawn.append(crop)
        return real(path, crop)

    monkeypatch.setattr(dashboard_ui, "boxed", recording)
    cs = crop_set
    det = register(cs.db, cs.kit.square, detector_spec(), name="det", version="v1").ref
    # A margin of 3 box sizes takes in most of the background: the classifier is wrong again,
    # so the gallery has mistakes, each with its (large) box.
    out = evaluate(cs.db, cs.classifier, crop=det, crop_margin=3.0)
    assert out.metrics["top1"]["rate"] < 1.0
    at = open_app("run_details.py", query={"run": str(out.run_id)})
    captions = " ".join(c.value for c in at.caption)
    assert "Cropped by det" in captions and "(margin 3, largest box" in captions
    # Every mistake's thumbnail is drawn with the box stored with its prediction.
    wrong = round((1 - out.metrics["top1"]["rate"]) * len(cs.boxes))
    assert len(drawn) == wrong > 0
    assert all(c["size"] == [160, 120] and len(c["box"]) == 4 for c in drawn)
