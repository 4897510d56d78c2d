"""Detect, then classify: the dog box each image is cropped to before a classifier sees it.

``evaluate CLASSIFIER --crop DETECTOR`` (``evaluator.pipeline.cropped_batches``) asks the
detector for each image's dog boxes (``dog_boxes``: those of ``dog_classes`` scoring at least
``min_score``), one image at a time. Its answers are cached on disk (``DetectionCache``:
``<data dir>/cache/detections/<key>/<sha256>.json``, the key made of the detector file's sha256
and its spec), with the image's upright size and the time the detector took: evaluating five
classifiers with one detector runs the detector once per image.

Each image's crop is settled by ``crop_for``: the box the policy picks (``largest`` area,
or ``best`` score), grown by ``margin`` × its width and height on each side and clamped to the
image, in pixels of the upright image (EXIF orientation applied, as the detector saw it). An
image without a dog box is classified whole and counted as a fallback. The classifier's own
preprocessing then runs on the crop (``evaluator.preprocess.prepare(..., crop=...)``).
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from core.errors import BreedbenchError
from core.files import atomic_write
from evaluator.runners.detector import RawDetections
from evaluator.spec import DetectorSpec

CROP_POLICIES = ("largest", "best")
DEFAULT_MARGIN = 0.1
DEFAULT_POLICY = "largest"
CACHE_VERSION = 1


@dataclass(frozen=True)
class DogBox:
    """One dog the detector found: ``box`` = (ymin, xmin, ymax, xmax), normalised to [0, 1]."""

    score: float
    box: tuple[float, float, float, float]

    @property
    def area(self) -> float:
        ymin, xmin, ymax, xmax = self.box
        return max(0.0, ymax - ymin) * max(0.0, xmax - xmin)


@dataclass(frozen=True)
class ImageDetections:
    """The detector's answer for one image, as cached: its upright size, its dog boxes (best
    score first) and how long the detector took (ms; measured when it ran)."""

    width: int
    height: int
    dogs: tuple[DogBox, ...]
    detector_ms: float

    def to_json(self) -> dict[str, Any]:
        return {
            "v": CACHE_VERSION,
            "size": [self.width, self.height],
            "dogs": [[d.score, *d.box] for d in self.dogs],
            "ms": self.detector_ms,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ImageDetections:
        if data.get("v") != CACHE_VERSION:
            raise ValueError("another cache version")
        w, h = data["size"]
        dogs = tuple(DogBox(float(d[0]), (d[1], d[2], d[3], d[4])) for d in data["dogs"])
        return cls(int(w), int(h), dogs, float(data["ms"]))


@dataclass(frozen=True)
class CropOptions:
    """How a run crops: part of the run's settings and of its preprocessing hash."""

    detector_ref: str
    detector_version_id: int
    detector_sha256: str
    detector_spec: dict[str, Any]
    margin: float = DEFAULT_MARGIN
    policy: str = DEFAULT_POLICY

    def __post_init__(self) -> None:
        if self.policy not in CROP_POLICIES:
            raise BreedbenchError(
                f"--crop-policy {self.policy!r}: expected one of {', '.join(CROP_POLICIES)}"
            )
        if not (math.isfinite(self.margin) and self.margin >= 0):
            raise BreedbenchError(f"--crop-margin must be 0 or more, got {self.margin}")

    @property
    def detector_key(self) -> str:
        """What determines a detector's answers: its file and its spec."""
        return _digest({"sha256": self.detector_sha256, "spec": self.detector_spec})

    @property
    def key(self) -> str:
        """What determines the crops: the detector's answers, the margin and the policy."""
        return _digest({"detector": self.detector_key, "margin": self.margin, "p": self.policy})

    def settings(self) -> dict[str, Any]:
        det = self.detector_spec.get("detector", {})
        return {
            "detector": self.detector_ref,
            "detector_version_id": self.detector_version_id,
            "detector_sha256": self.detector_sha256,
            "margin": self.margin,
            "policy": self.policy,
            "min_score": det.get("min_score"),
            "dog_classes": det.get("dog_classes"),
            "key": self.key,
        }


def _digest(value: Any) -> str:
    return hashlib.sha256(json.dumps(value, sort_keys=True).encode()).hexdigest()[:16]


# --- which boxes are dogs, and which one is cropped -------------------------------------------


def dog_boxes(raw: RawDetections, spec: DetectorSpec) -> tuple[DogBox, ...]:
    """The detections of ``dog_classes`` scoring at least ``min_score``, as (ymin, xmin, ymax,
    xmax) clipped to the image, best score first; empty boxes are dropped."""
    dogs = set(spec.dog_classes)
    found = []
    for i in range(raw.count):
        score = float(raw.scores[i])
        if int(round(float(raw.classes[i]))) not in dogs or not score >= spec.min_score:
            continue
        a, b, c, d = (float(v) for v in np.clip(raw.boxes[i], 0.0, 1.0))
        ymin, xmin, ymax, xmax = (a, b, c, d) if spec.box_order == "yxyx" else (b, a, d, c)
        if ymax <= ymin or xmax <= xmin:
            continue
        found.append(DogBox(score, (ymin, xmin, ymax, xmax)))
    return tuple(sorted(found, key=lambda x: -x.score))


def choose(dogs: Iterable[DogBox], policy: str) -> DogBox | None:
    """``largest``: the biggest box (a dog close up over a small one behind); ``best``: the
    highest score. None when there is no dog."""
    dogs = list(dogs)
    if not dogs:
        return None
    if policy == "best":
        return max(dogs, key=lambda d: (d.score, d.area))
    return max(dogs, key=lambda d: (d.area, d.score))


def crop_pixels(
    box: tuple[float, float, float, float], width: int, height: int, margin: float
) -> tuple[int, int, int, int]:
    """``(left, top, right, bottom)`` in pixels: the box grown by ``margin`` × its size on each
    side, clamped to the image; at least one pixel each way."""
    ymin, xmin, ymax, xmax = box
    bw, bh = (xmax - xmin) * width, (ymax - ymin) * height
    left = max(0, math.floor(xmin * width - margin * bw))
    top = max(0, math.floor(ymin * height - margin * bh))
    right = min(width, math.ceil(xmax * width + margin * bw))
    bottom = min(height, math.ceil(ymax * height + margin * bh))
    right = max(right, min(width, left + 1))
    bottom = max(bottom, min(height, top + 1))
    return left, top, right, bottom


def crop_for(found: ImageDetections, options: CropOptions) -> dict[str, Any] | None:
    """What is stored with the prediction: the crop in pixels, the image's size, the box and
    its score; None when the detector found no dog (the image is classified whole)."""
    chosen = choose(found.dogs, options.policy)
    if chosen is None:
        return None
    box = crop_pixels(chosen.box, found.width, found.height, options.margin)
    return {
        "box": list(box),
        "size": [found.width, found.height],
        "score": round(chosen.score, 4),
        "dog": [round(v, 5) for v in chosen.box],
    }


def box_on(crop: dict[str, Any], width: int, height: int) -> tuple[int, int, int, int]:
    """A stored crop's box on a picture of the same image at another size (a thumbnail):
    ``(left, top, right, bottom)`` scaled from the upright image's pixels."""
    sw, sh = crop["size"]
    sx, sy = width / sw, height / sh
    left, top, right, bottom = crop["box"]
    return (
        round(left * sx),
        round(top * sy),
        min(width - 1, round(right * sx)),
        min(height - 1, round(bottom * sy)),
    )


def describe_crop(crop: dict[str, Any] | None, cropped_run: bool) -> str | None:
    """A gallery caption: where the classifier looked. None for an uncropped run."""
    if not cropped_run:
        return None
    if crop is None:
        return "no dog found: classified whole"
    left, top, right, bottom = crop["box"]
    return f"cropped to the dog ({right - left}×{bottom - top} px, score {crop['score']:.2f})"


# --- the cache ------------------------------------------------------------------------------


class DetectionCache:
    """Each image's detections on disk, by image sha256, one folder per detector key; None as
    the root keeps them in memory only (for this run)."""

    def __init__(self, root: Path | None) -> None:
        self.root = root
        self.memory: dict[str, ImageDetections] = {}

    def _path(self, sha256: str) -> Path:
        assert self.root is not None
        return self.root / sha256[:2] / f"{sha256}.json"

    def get(self, sha256: str) -> ImageDetections | None:
        if sha256 in self.memory:
            return self.memory[sha256]
        if self.root is None:
            return None
        try:
            found = ImageDetections.from_json(json.loads(self._path(sha256).read_text()))
        except (OSError, ValueError, KeyError, TypeError, IndexError):
            return None
        self.memory[sha256] = found
        return found

    def put(self, sha256: str, found: ImageDetections) -> None:
        self.memory[sha256] = found
        if self.root is not None:
            atomic_write(self._path(sha256), json.dumps(found.to_json()).encode())


def cache_root(data_dir: Path, options: CropOptions) -> Path:
    return data_dir / "cache" / "detections" / options.detector_key


# --- the detection pass -----------------------------------------------------------------------


@dataclass
class DetectionPass:
    """What a cropped run's detector did: every image's detections (by sha256), the images it
    ran on now and those answered from its cache."""

    found: dict[str, ImageDetections] = field(default_factory=dict)
    runs: int = 0
    hits: int = 0
    run_ms: list[float] = field(default_factory=list)  # the detector's time, images run now


def latency_summary(values: list[float]) -> dict[str, float] | None:
    """p50/p95/mean of the detector's per-image time (ms); None when there is none."""
    if not values:
        return None
    arr = np.asarray(values, dtype=np.float64)
    return {
        "p50": round(float(np.percentile(arr, 50)), 3),
        "p95": round(float(np.percentile(arr, 95)), 3),
        "mean": round(float(arr.mean()), 3),
    }
