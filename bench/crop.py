"""Detect-then-classify benchmark: what ``evaluate --crop`` costs over the two models' own work.

Builds an SSD-shaped detector (320×320 input, five stride-2 convolutions to a 10×10 grid, box
and class heads over 100 anchors and 91 classes, ending in LiteRT's
``TFLite_Detection_PostProcess``; random constant weights, nothing downloaded) and Keras'
MobileNetV2 classifier as a dynamic-range ``.tflite`` (``bench/evaluate.py``'s), registers both
in a fresh database of accepted photo-sized JPEGs, and measures side by side, in one run:

- the detector's bare invoke loop and the classifier's, on ready tensors (same threads, the
  classifier at its batch): what any cropped evaluation must spend at least;
- ``evaluate CLASSIFIER --crop DETECTOR`` cold (no detection cache, no input cache): goal
  ≤ 1.1 × (detector invoke + classifier invoke);
- a second classifier version with the detector's answers cached, against an uncropped run of
  that version (both with a cold input cache): goal ≈ 1.0.

Each round measures all five side by side and the ratios are taken within a round (other
processes share the machine); the median ratios close the table.

    .venv/bin/python bench/crop.py [--images 300] [--rounds 3] [--threads 2] [--models DIR]
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import evaluate as bench_eval  # noqa: E402 - bench/evaluate.py: the classifier and the images
import numpy as np  # noqa: E402
from machine import describe  # noqa: E402 - bench/ is on sys.path

from core.settings import Settings  # noqa: E402
from db.breeds import stanford_breeds  # noqa: E402
from db.database import Database, open_database  # noqa: E402
from evaluator.pipeline import evaluate  # noqa: E402
from evaluator.registry import register_model  # noqa: E402
from evaluator.spec import ModelSpec, load_spec  # noqa: E402

DET_SIZE = 320
GRID = 10
NUM_CLASSES = 90


def build_detector(folder: Path) -> Path:
    """The SSD-shaped detector as a ``.tflite`` ending in the post-processing operator."""
    import tensorflow as tf

    sys.path.insert(0, str(REPO))
    from tests.detectorkit import _convert, _postprocess_signature

    rng = np.random.default_rng(0)
    widths = [3, 32, 64, 128, 256, 256]
    kernels = [
        tf.constant(rng.normal(0, (2 / (9 * a)) ** 0.5, (3, 3, a, b)).astype(np.float32))
        for a, b in zip(widths, widths[1:], strict=False)
    ]
    box_head = tf.constant(rng.normal(0, 0.05, (1, 1, 256, 4)).astype(np.float32))
    cls_head = tf.constant(rng.normal(0, 0.05, (1, 1, 256, NUM_CLASSES + 1)).astype(np.float32))
    centres = (np.arange(GRID) + 0.5) / GRID
    anchors = tf.constant(
        np.array([[y, x, 0.3, 0.3] for y in centres for x in centres], dtype=np.float32)
    )

    @tf.function(experimental_implements=_postprocess_signature(NUM_CLASSES))
    def postprocess(box_encodings: Any, class_predictions: Any, anchors: Any) -> Any:
        return (
            tf.constant(0.0, name="boxes"),
            tf.constant(0.0, name="classes"),
            tf.constant(0.0, name="scores"),
            tf.constant(0.0, name="num_detections"),
        )

    @tf.function(input_signature=[tf.TensorSpec([1, DET_SIZE, DET_SIZE, 3], tf.float32)])
    def model(x: Any) -> Any:
        h = x / 127.5 - 1.0
        for k in kernels:
            h = tf.nn.relu6(tf.nn.conv2d(h, k, 2, "SAME"))
        boxes = tf.reshape(tf.nn.conv2d(h, box_head, 1, "SAME"), [1, GRID * GRID, 4])
        # Column 18 (COCO's dog, class 17 once the background is dropped) leads: most
        # images have a dog box to crop, as a test set of dogs would.
        dog_bias = tf.one_hot(18, NUM_CLASSES + 1) * 3.0
        scores = tf.sigmoid(tf.nn.conv2d(h, cls_head, 1, "SAME") + dog_bias)
        scores = tf.reshape(scores, [1, GRID * GRID, NUM_CLASSES + 1])
        return postprocess(boxes, scores, anchors)

    return _convert(model, folder / "ssd.tflite", saved_model=True)


def detector_invoke(path: Path, n: int, threads: int) -> float:
    from ai_edge_litert.interpreter import Interpreter

    interp = Interpreter(str(path), num_threads=threads)
    interp.allocate_tensors()
    inp = interp.get_input_details()[0]["index"]
    outs = [d["index"] for d in interp.get_output_details()]
    rng = np.random.default_rng(1)
    pool = [rng.uniform(0, 255, (1, DET_SIZE, DET_SIZE, 3)).astype(np.float32) for _ in range(4)]
    t = time.perf_counter()
    for i in range(n):
        interp.set_tensor(inp, pool[i % 4])
        interp.invoke()
        for o in outs:
            interp.get_tensor(o)
    return time.perf_counter() - t


def clear(settings: Settings, what: str) -> None:
    shutil.rmtree(settings.data_dir / "cache" / what, ignore_errors=True)


def timed(db: Database, ref: str, args: argparse.Namespace, **crop: Any) -> tuple[float, dict]:
    t = time.perf_counter()
    out = evaluate(db, ref, threads=args.threads, batch=args.batch, **crop)
    took = time.perf_counter() - t
    c = out.metrics.get("crop")
    extra = (
        f"; {c['detections']} cropped, {c['fallbacks']} whole, detector run on "
        f"{c['detector_runs']}, cached {c['detector_cache_hits']}"
        if c
        else ""
    )
    print(f"  evaluate {ref}{' --crop ' + crop['crop'] if crop else ''}: {took:.1f} s{extra}")
    return took, out.metrics


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--images", type=int, default=300)
    ap.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--models", type=Path, help="Reuse (or build once into) this folder.")
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    print(f"machine: {describe()}; {args.images} images, threads {args.threads}")
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        models = args.models or folder
        models.mkdir(parents=True, exist_ok=True)
        lite, det = models / "mobilenet.tflite", models / "ssd.tflite"
        if not lite.exists():
            _, lite = bench_eval.build_models(models)
        if not det.exists():
            det = build_detector(models)
        mb = lite.stat().st_size / 1e6, det.stat().st_size / 1e6
        print(f"classifier {mb[0]:.1f} MB, detector {mb[1]:.1f} MB")
        settings = Settings(data_dir=folder / "data", database_url=f"sqlite:///{folder / 'b.db'}")
        db = open_database(settings)
        bench_eval.fill(db, args.images)
        labels = [b.slug for b in stanford_breeds()]
        common = {"kind": "tensor", "size": [224, 224], "resize": "bilinear",
                  "scale": 1 / 127.5, "offset": -1.0}  # fmt: skip
        spec = ModelSpec.from_dict({"input": common, "output": {}, "labels": {"names": labels}})
        for version in ("a", "b"):
            register_model(db, lite, "mobilenet", version, spec)
        det_spec = load_spec(
            preset="tflite-detection-postprocess", overrides={"input": {"size": [320, 320]}}
        )
        register_model(db, det, "ssd", "v1", det_spec)
        batches = bench_eval.ready_batches(spec, args.images, args.batch)
        import tensorflow  # noqa: F401 - imported once here, not inside a timing

        # Other processes share this machine and its load swings within minutes: each round
        # measures everything side by side, and the ratios are taken within a round.
        print(
            "\n| round | detector invoke | classifier invoke | sum | evaluate --crop (cold) | "
            "ratio | 2nd classifier, detector cached | uncropped | ratio |"
        )
        print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
        ratios = []
        for n in range(1, args.rounds + 1):
            det_inv = detector_invoke(det, args.images, args.threads)
            cls_inv = bench_eval.invoke_tflite(lite, batches, args.threads)
            clear(settings, "detections")
            clear(settings, "inputs")
            cropped = timed(db, "mobilenet:a", args, crop="ssd:v1")[0]
            clear(settings, "inputs")  # the detections stay cached: a second classifier
            cached = timed(db, "mobilenet:b", args, crop="ssd:v1")[0]
            clear(settings, "inputs")
            plain = timed(db, "mobilenet:b", args)[0]
            both = det_inv + cls_inv
            ratios.append((cropped / both, cached / plain))
            print(
                f"| {n} | {det_inv:.1f} s | {cls_inv:.1f} s | {both:.1f} s | {cropped:.1f} s | "
                f"{cropped / both:.2f} | {cached:.1f} s | {plain:.1f} s | {cached / plain:.2f} |",
                flush=True,
            )
        first, second = (sorted(r[i] for r in ratios)[len(ratios) // 2] for i in (0, 1))
        print(f"median ratios: cropped/(invokes) {first:.2f}, cached/uncropped {second:.2f}")
        print("\ngoals: cropped (cold) ≤ 1.10 × (detector + classifier invoke); cached ≈ 1.0")
        print(f"load average at the end: {os.getloadavg()[0]:.1f}")
        db.dispose()


if __name__ == "__main__":
    main()
