"""Real tiny detectors and a classifier that needs them, built in the test session.

Scenes: a pale, class-tinted square (the "dog") on a busy background of darker noise tinted
towards *another* class. The classifier (``chroma_classifier``) scores the classes by the image's
mean tint: on the whole image the background wins (wrong breed), on a crop around the square
the square wins (right breed).

The detectors compute the box of the bright pixels (every channel above 200) analytically: no
training. ``.tflite`` ones end in LiteRT's ``TFLite_Detection_PostProcess`` operator (the SSD
and EfficientDet-Lite layout: one anchor, box encodings, class scores with a background column)
made by TensorFlow's converter from a function that declares it implements that operator.
The ``.pb`` one gives the four outputs from plain ops, boxes as (xmin, ymin, xmax, ymax).

TensorFlow is imported inside the functions, so importing this module is cheap.
"""

from __future__ import annotations

import io
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
from PIL import Image as PILImage

DET_SIZE = 64
CLS_SIZE = 32
COCO_DOG = 17  # the post-processing operator's 0-based class id of COCO's "dog" (id 18)
BRIGHT = 200.0
# Chromatic directions of the four classes (sum zero: tint, not brightness).
TINTS = np.array([[2, -1, -1], [-1, 2, -1], [-1, -1, 2], [1, 1, -2]], dtype=np.float64) / 3.0
SQUARE_TINT = 40.0  # the dog's tint: pale, every channel above 200
BACKGROUND_TINT = 15.0  # the background's tint towards another class

Box = tuple[int, int, int, int]  # left, top, right, bottom (pixels)
Mode = Literal["square", "identity", "no_dog"]


def scene(label: int, seed: int, width: int = 160, height: int = 120) -> tuple[np.ndarray, Box]:
    """An RGB array with a square of class ``label`` somewhere off-centre, and its box."""
    rng = np.random.default_rng([seed, label, 15])
    side = int(min(width, height) * rng.uniform(0.22, 0.3))
    left = int(rng.integers(2, width - side - 2))
    top = int(rng.integers(2, height - side - 2))
    wrong = (label + 1 + seed % 3) % len(TINTS)
    small = rng.uniform(10, 150, size=(height // 4, width // 4, 3))
    noise = np.asarray(
        PILImage.fromarray(small.astype(np.uint8)).resize((width, height), PILImage.NEAREST),
        dtype=np.float64,
    )
    img = noise + BACKGROUND_TINT * TINTS[wrong]
    square = 245.0 - SQUARE_TINT / 3 + SQUARE_TINT * TINTS[label]
    img[top : top + side, left : left + side] = np.clip(square, 0, 255)
    box = (left, top, left + side, top + side)
    return _keep_square(img, box), box


def _keep_square(img: np.ndarray, box: Box) -> np.ndarray:
    """The background clipped below the bright threshold, the square as drawn."""
    left, top, right, bottom = box
    out = np.clip(img, 0, BRIGHT - 25).astype(np.uint8)
    out[top:bottom, left:right] = np.clip(img[top:bottom, left:right], 0, 255).astype(np.uint8)
    return out


def encode(arr: np.ndarray, fmt: str = "PNG", orientation: int | None = None) -> bytes:
    """Image bytes; with ``orientation`` a JPEG whose EXIF tag says how to turn it upright
    (``arr`` is then the upright picture: the stored pixels are turned the other way)."""
    img = PILImage.fromarray(arr, "RGB")
    buf = io.BytesIO()
    if orientation is None:
        img.save(buf, fmt)
        return buf.getvalue()
    undo = {6: PILImage.Transpose.ROTATE_90, 8: PILImage.Transpose.ROTATE_270, 3: None}
    stored = img.transpose(undo[orientation]) if undo.get(orientation) else img.rotate(180)
    exif = PILImage.Exif()
    exif[0x0112] = orientation
    stored.save(buf, "JPEG", quality=97, exif=exif.tobytes())
    return buf.getvalue()


# --- the classifier -----------------------------------------------------------------------------


def chroma_classifier(out_dir: Path) -> Path:
    """``input`` float [1, 32, 32, 3] raw pixels → ``logits`` [1, 4]: the mean tint against
    each class's, as a ``.tflite``."""
    import tensorflow as tf

    tints = tf.constant(TINTS.T.astype(np.float32))

    @tf.function(input_signature=[tf.TensorSpec([1, CLS_SIZE, CLS_SIZE, 3], tf.float32)])
    def model(x: Any) -> Any:
        mean = tf.reduce_mean(x, axis=[1, 2])  # [1, 3]
        chroma = mean - tf.reduce_mean(mean, axis=1, keepdims=True)
        return tf.identity(tf.matmul(chroma, tints) * 0.5, name="logits")

    return _convert(model, Path(out_dir) / "chroma.tflite")


# --- detectors ----------------------------------------------------------------------------------


def _bright_box(tf: Any, x: Any) -> tuple[Any, Any]:
    """(ymin, xmin, ymax, xmax) normalised of the pixels brighter than ``BRIGHT`` in every
    channel, and 1.0 when there are any (else 0.0 and a zero box)."""
    size = DET_SIZE
    bright = tf.cast(tf.reduce_min(x, axis=3) > BRIGHT, tf.float32)[0]
    rows, cols = tf.reduce_max(bright, axis=1), tf.reduce_max(bright, axis=0)
    idx = tf.range(size, dtype=tf.float32)
    found = tf.reduce_max(rows)
    ymin = tf.reduce_min(idx + (1 - rows) * 1e4)
    ymax = tf.reduce_max(idx * rows - (1 - rows)) + 1
    xmin = tf.reduce_min(idx + (1 - cols) * 1e4)
    xmax = tf.reduce_max(idx * cols - (1 - cols)) + 1
    box = tf.stack([ymin, xmin, ymax, xmax]) * found / size
    return box, found


def _postprocess_signature(num_classes: int) -> str:
    attrs = {
        "max_detections": "i: 4",
        "max_classes_per_detection": "i: 1",
        "use_regular_nms": "b: false",
        "nms_score_threshold": "f: 0.000001",
        "nms_iou_threshold": "f: 0.6",
        "y_scale": "f: 1.0",
        "x_scale": "f: 1.0",
        "h_scale": "f: 1.0",
        "w_scale": "f: 1.0",
        "num_classes": f"i: {num_classes}",
    }
    parts = ['name: "TFLite_Detection_PostProcess"']
    parts += [f'attr {{ key: "{k}" value {{ {v} }} }}' for k, v in attrs.items()]
    return " ".join(parts)


def tflite_detector(out_dir: Path, mode: Mode = "square", name: str | None = None) -> Path:
    """A ``.tflite`` detector ending in ``TFLite_Detection_PostProcess`` (input ``[1, 64, 64,
    3]`` float raw pixels): ``square`` finds the bright square as a dog (class 17), ``identity``
    answers the whole image as a dog, ``no_dog`` finds the square as class 0 (a person)."""
    import tensorflow as tf

    num_classes = 20

    @tf.function(experimental_implements=_postprocess_signature(num_classes))
    def postprocess(box_encodings: Any, class_predictions: Any, anchors: Any) -> Any:
        # The converter replaces this body with the operator; these are placeholders.
        return (
            tf.constant(0.0, name="boxes"),
            tf.constant(0.0, name="classes"),
            tf.constant(0.0, name="scores"),
            tf.constant(0.0, name="num_detections"),
        )

    dog_column = COCO_DOG + 1 if mode != "no_dog" else 1  # column 0 is the background

    @tf.function(input_signature=[tf.TensorSpec([1, DET_SIZE, DET_SIZE, 3], tf.float32)])
    def model(x: Any) -> Any:
        if mode == "identity":
            box, found = tf.constant([0.0, 0.0, 1.0, 1.0]), tf.constant(1.0) + 0 * x[0, 0, 0, 0]
        else:
            box, found = _bright_box(tf, x)
        ymin, xmin, ymax, xmax = tf.unstack(box)
        h, w = tf.maximum(ymax - ymin, 1e-3), tf.maximum(xmax - xmin, 1e-3)
        # Centre-size encoding against one anchor covering the image (0.5, 0.5, 1, 1).
        enc = tf.stack([(ymin + ymax) / 2 - 0.5, (xmin + xmax) / 2 - 0.5, tf.math.log(h),
                        tf.math.log(w)])  # fmt: skip
        scores = tf.one_hot(dog_column, num_classes + 1) * 0.9 * found
        anchors = tf.constant([[0.5, 0.5, 1.0, 1.0]])
        return postprocess(
            tf.reshape(enc, [1, 1, 4]), tf.reshape(scores, [1, 1, num_classes + 1]), anchors
        )

    return _convert(model, Path(out_dir) / (name or f"det_{mode}.tflite"), saved_model=True)


def frozen_detector(out_dir: Path) -> Path:
    """``image`` float [1, 64, 64, 3] → ``boxes`` [1, 1, 4] as (xmin, ymin, xmax, ymax),
    ``classes`` [1, 1] (17), ``scores`` [1, 1] (0.9 or 0), ``count`` [1], as a frozen graph."""
    import tensorflow as tf

    g = tf.Graph()
    with g.as_default():
        x = tf.compat.v1.placeholder(tf.float32, [1, DET_SIZE, DET_SIZE, 3], name="image")
        box, found = _bright_box(tf, x)
        ymin, xmin, ymax, xmax = tf.unstack(box)
        tf.reshape(tf.stack([xmin, ymin, xmax, ymax]), [1, 1, 4], name="boxes")
        tf.fill([1, 1], float(COCO_DOG), name="classes")
        tf.reshape(found * 0.9, [1, 1], name="scores")
        tf.ones([1], name="count")
    out = Path(out_dir) / "det.pb"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_bytes(g.as_graph_def().SerializeToString())
    return out


def _convert(fn: Any, out: Path, saved_model: bool = False) -> Path:
    """``fn`` as a ``.tflite``; through a SavedModel when the converter must see a function's
    ``experimental_implements`` (a concrete function is inlined first)."""
    import tensorflow as tf

    with tempfile.TemporaryDirectory() as tmp:
        if saved_model:
            module = tf.Module()
            module.f = fn
            tf.saved_model.save(module, tmp, signatures=fn.get_concrete_function())
            conv = tf.lite.TFLiteConverter.from_saved_model(tmp)
        else:
            conv = tf.lite.TFLiteConverter.from_concrete_functions([fn.get_concrete_function()], fn)
        data = conv.convert()
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_bytes(data)
    return out


# --- specs and the whole kit --------------------------------------------------------------------


def detector_spec(fmt: str = "tflite") -> dict[str, Any]:
    if fmt == "tflite":
        return {
            "kind": "detector",
            "input": {"kind": "tensor", "size": [DET_SIZE, DET_SIZE], "resize": "bilinear"},
            "detector": {
                "boxes": "TFLite_Detection_PostProcess:0",
                "classes": "TFLite_Detection_PostProcess:1",
                "scores": "TFLite_Detection_PostProcess:2",
                "count": "TFLite_Detection_PostProcess:3",
                "dog_classes": [COCO_DOG],
                "min_score": 0.3,
            },
        }
    return {
        "kind": "detector",
        "input": {"tensor": "image", "kind": "tensor", "size": [DET_SIZE, DET_SIZE]},
        "detector": {
            "boxes": "boxes",
            "classes": "classes",
            "scores": "scores",
            "count": "count",
            "box_order": "xyxy",
            "dog_classes": [COCO_DOG],
        },
    }


def classifier_spec(labels: list[str]) -> dict[str, Any]:
    return {
        "input": {"kind": "tensor", "size": [CLS_SIZE, CLS_SIZE], "resize": "bilinear"},
        "output": {"activation": "logits"},
        "labels": {"names": labels},
    }


@dataclass(frozen=True)
class DetectorKit:
    classifier: Path
    square: Path
    identity: Path
    no_dog: Path
    frozen: Path


def build_detector_kit(out_dir: Path) -> DetectorKit:
    out_dir = Path(out_dir)
    return DetectorKit(
        classifier=chroma_classifier(out_dir),
        square=tflite_detector(out_dir, "square"),
        identity=tflite_detector(out_dir, "identity"),
        no_dog=tflite_detector(out_dir, "no_dog"),
        frozen=frozen_detector(out_dir),
    )
