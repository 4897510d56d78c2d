"""Real tiny models made in the test session: paths in, paths out.

A few seconds of Keras training on synthetic images of ``n`` classes (told apart by colour), then
the weights are written as constants into hand-built TensorFlow graphs, so the names are exactly
those of the classic Inception retrain graph:

    DecodeJpeg/contents → DecodeJpeg → Cast → ExpandDims → ResizeBilinear → Sub (x − 128)
    → Mul (× 1/128) → CNN → output_node (shape (n, 1))

and of a batchable graph (``input`` float ``[None, S, S, 3]`` in [-1, 1] → ``logits`` and
``probs`` of shape ``[None, n]``). ``.tflite`` files are converted from a frozen graph cut at any
tensor (the classic ``.lite`` was cut at ``Sub``): float, dynamic range, or full int8 with
int8/uint8 input and output.

TensorFlow is imported inside the functions, so importing this module is cheap.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
from PIL import Image as PILImage

# Four real breed slugs (classic breeds.csv spelling), in the order of the model's classes.
DEFAULT_LABELS = ["chihuahua", "pug", "beagle", "samoyed"]
DEFAULT_SIZE = 32
CLASSIC_INPUT = "DecodeJpeg/contents"
CLASSIC_OUTPUT = "output_node"

TfliteMode = Literal["float", "dynamic", "int8", "uint8"]


# --- synthetic images -------------------------------------------------------------------------


def class_colour(label: int, n_classes: int) -> np.ndarray:
    """A distinct RGB colour per class (hues spread round the colour wheel)."""
    import colorsys

    r, g, b = colorsys.hsv_to_rgb(label / n_classes, 0.9, 0.9)
    return np.array([r, g, b]) * 255.0


def class_image(
    label: int,
    n_classes: int,
    seed: int,
    width: int = 64,
    height: int = 48,
    tint: tuple[float, float] = (0.2, 0.75),
) -> PILImage.Image:
    """One RGB image of class ``label``: smooth random blobs tinted by the class colour.

    The tint strength varies with the seed, so a weakly tinted image can be misclassified: the
    tiny model is good but not perfect, which keeps top-1 and top-3 different.
    """
    rng = np.random.default_rng([seed, label, 7])
    small = rng.integers(0, 256, size=(5, 6, 3)).astype(np.float64)
    alpha = rng.uniform(*tint)
    tinted = (1 - alpha) * small + alpha * class_colour(label, n_classes)
    img = PILImage.fromarray(np.clip(tinted, 0, 255).astype(np.uint8), "RGB")
    return img.resize((width, height), PILImage.Resampling.BICUBIC)


def class_jpeg(
    label: int,
    n_classes: int,
    seed: int,
    width: int = 64,
    height: int = 48,
    quality: int = 92,
    tint: tuple[float, float] = (0.2, 0.75),
) -> bytes:
    """A JPEG of ``class_image``; a lower ``tint`` makes harder (more often misread) images."""
    buf = io.BytesIO()
    class_image(label, n_classes, seed, width, height, tint).save(buf, "JPEG", quality=quality)
    return buf.getvalue()


def synthetic_dataset(
    n_classes: int = len(DEFAULT_LABELS),
    per_class: int = 120,
    size: int = DEFAULT_SIZE,
    seed: int = 0,
) -> tuple[np.ndarray, np.ndarray]:
    """``(x uint8 [M, size, size, 3], y int [M])``, classes interleaved."""
    xs, ys = [], []
    for i in range(per_class):
        for label in range(n_classes):
            xs.append(np.asarray(class_image(label, n_classes, seed * 100_000 + i, size, size)))
            ys.append(label)
    return np.stack(xs), np.array(ys)


# --- training ---------------------------------------------------------------------------------


def train_tiny_cnn(
    out_path: Path,
    n_classes: int = len(DEFAULT_LABELS),
    size: int = DEFAULT_SIZE,
    epochs: int = 12,
    seed: int = 0,
) -> Path:
    """Train a tiny CNN on [-1, 1] inputs ((x − 128) / 128) and save it as ``.keras``."""
    import keras

    keras.utils.set_random_seed(seed)
    x, y = synthetic_dataset(n_classes, per_class=100, size=size, seed=seed)
    xf = (x.astype(np.float32) - 128.0) / 128.0
    model = keras.Sequential(
        [
            keras.Input((size, size, 3)),
            keras.layers.Conv2D(8, 3, strides=2, activation="relu"),
            keras.layers.Conv2D(16, 3, strides=2, activation="relu"),
            keras.layers.GlobalAveragePooling2D(),
            keras.layers.Dense(n_classes, activation="softmax"),
        ]
    )
    model.compile(optimizer=keras.optimizers.Adam(0.01), loss="sparse_categorical_crossentropy")
    model.fit(xf, y, epochs=epochs, batch_size=32, verbose=0)
    out_path = Path(out_path)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    model.save(out_path)
    return out_path


def _weights(keras_path: Path) -> list[np.ndarray]:
    import keras

    return [np.asarray(w) for w in keras.models.load_model(keras_path).get_weights()]


def _cnn_logits(tf: Any, x: Any, weights: Sequence[np.ndarray]) -> Any:
    """The tiny CNN's forward pass in plain TensorFlow ops on constants (same math as Keras)."""
    k1, b1, k2, b2, dense_w, dense_b = weights
    h = tf.nn.relu(tf.nn.conv2d(x, tf.constant(k1), 2, "VALID") + tf.constant(b1))
    h = tf.nn.relu(tf.nn.conv2d(h, tf.constant(k2), 2, "VALID") + tf.constant(b2))
    h = tf.reduce_mean(h, axis=[1, 2])
    return tf.matmul(h, tf.constant(dense_w)) + tf.constant(dense_b)


def reference_probabilities(keras_path: Path, x: np.ndarray) -> np.ndarray:
    """The trained model's own probabilities for preprocessed inputs (an independent check)."""
    import keras

    return np.asarray(keras.models.load_model(keras_path).predict(x, verbose=0))


# --- frozen graphs ----------------------------------------------------------------------------


def freeze_classic(keras_path: Path, out_path: Path, size: int = DEFAULT_SIZE) -> Path:
    """The classic single-image layout; feed ``Cast:0`` (uint8 HWC, any size) or
    ``DecodeJpeg/contents:0`` (JPEG bytes); ``output_node:0`` has shape (n, 1)."""
    import tensorflow as tf

    weights = _weights(keras_path)
    g = tf.Graph()
    with g.as_default():
        contents = tf.compat.v1.placeholder(tf.string, shape=[], name=CLASSIC_INPUT)
        decoded = tf.io.decode_jpeg(contents, channels=3, name="DecodeJpeg")
        x = tf.cast(decoded, tf.float32, name="Cast")
        x = tf.expand_dims(x, 0, name="ExpandDims")
        x = tf.raw_ops.ResizeBilinear(
            images=x, size=tf.constant([size, size]), align_corners=False, name="ResizeBilinear"
        )
        x = tf.subtract(x, 128.0, name="Sub")
        x = tf.multiply(x, 1.0 / 128.0, name="Mul")
        probs = tf.nn.softmax(_cnn_logits(tf, x, weights), name="final_result")
        tf.reshape(probs, [-1, 1], name=CLASSIC_OUTPUT)
    return _write_graph(g.as_graph_def(), out_path)


def freeze_batchable(keras_path: Path, out_path: Path, size: int = DEFAULT_SIZE) -> Path:
    """``input:0`` float ``[None, size, size, 3]`` in [-1, 1] → ``logits:0`` / ``probs:0``."""
    import tensorflow as tf

    weights = _weights(keras_path)
    g = tf.Graph()
    with g.as_default():
        x = tf.compat.v1.placeholder(tf.float32, shape=[None, size, size, 3], name="input")
        logits = tf.identity(_cnn_logits(tf, x, weights), name="logits")
        tf.nn.softmax(logits, name="probs")
    return _write_graph(g.as_graph_def(), out_path)


def graph_with_ops(out_path: Path, op_types: Sequence[str]) -> Path:
    """A tiny valid GraphDef that contains the given (e.g. file-system) op types."""
    import tensorflow as tf

    g = tf.Graph()
    with g.as_default():
        name = tf.compat.v1.placeholder(tf.string, shape=[], name="filename")
        for op in op_types:
            if op == "ReadFile":
                tf.io.read_file(name, name="read")
            elif op == "WriteFile":
                tf.io.write_file(name, tf.constant("x"), name="write")
            else:
                raise ValueError(f"no builder for op {op}")
    return _write_graph(g.as_graph_def(), out_path)


def _write_graph(graph_def: Any, out_path: Path) -> Path:
    out_path = Path(out_path)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    out_path.write_bytes(graph_def.SerializeToString())
    return out_path


def cut_graph_at(pb_path: Path, tensor: str, shape: Sequence[int], out_path: Path) -> Path:
    """A copy of a frozen graph whose node ``tensor`` becomes a float placeholder of ``shape``
    (everything feeding it dropped): how the classic ``.lite`` was made from ``Sub``."""
    import tensorflow as tf

    gd = tf.compat.v1.GraphDef()
    gd.ParseFromString(Path(pb_path).read_bytes())
    out = tf.compat.v1.GraphDef()
    for node in gd.node:
        if node.name == tensor:
            with tf.Graph().as_default() as g:
                tf.compat.v1.placeholder(tf.float32, shape=list(shape), name=tensor)
            out.node.extend(g.as_graph_def().node)
        else:
            out.node.append(node)
    outputs = [n.name for n in gd.node if n.name in (CLASSIC_OUTPUT,)] or [gd.node[-1].name]
    pruned = tf.compat.v1.graph_util.extract_sub_graph(out, outputs)
    return _write_graph(pruned, out_path)


# --- TFLite -----------------------------------------------------------------------------------


def convert_frozen_to_tflite(
    pb_path: Path,
    out_path: Path,
    input_name: str,
    output_name: str,
    input_shape: Sequence[int],
    mode: TfliteMode = "dynamic",
    representative: Callable[[], Iterator[list[np.ndarray]]] | None = None,
) -> Path:
    """Convert a frozen graph with the TF1 converter, as the original study did.

    ``input_name`` may be any tensor of the graph (``Sub`` for the classic ``.lite``): the graph is
    cut there first. ``mode``: ``float``; ``dynamic`` (dynamic-range weights); ``int8`` / ``uint8``
    (full integer with that input/output type; needs ``representative``, batches of float inputs).
    """
    import tempfile

    import tensorflow as tf

    with tempfile.TemporaryDirectory() as tmp:
        cut = cut_graph_at(pb_path, input_name, input_shape, Path(tmp) / "cut.pb")
        conv = tf.compat.v1.lite.TFLiteConverter.from_frozen_graph(
            str(cut), [input_name], [output_name], input_shapes={input_name: list(input_shape)}
        )
        if mode != "float":
            conv.optimizations = [tf.lite.Optimize.DEFAULT]
        if mode in ("int8", "uint8"):
            if representative is None:
                raise ValueError("full integer conversion needs a representative dataset")
            conv.representative_dataset = representative
            conv.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
            io_type = tf.int8 if mode == "int8" else tf.uint8
            conv.inference_input_type = io_type
            conv.inference_output_type = io_type
        data = conv.convert()
    out_path = Path(out_path)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    out_path.write_bytes(data)
    return out_path


def sub_representative(
    n_classes: int = len(DEFAULT_LABELS), size: int = DEFAULT_SIZE, count: int = 40
) -> Callable[[], Iterator[list[np.ndarray]]]:
    """Calibration inputs at ``Sub`` (pixels − 128), one image per batch."""
    x, _ = synthetic_dataset(n_classes, per_class=max(1, count // n_classes), size=size, seed=99)

    def gen() -> Iterator[list[np.ndarray]]:
        for img in x:
            yield [img[None].astype(np.float32) - 128.0]

    return gen


def write_labels(out_path: Path, labels: Sequence[str]) -> Path:
    out_path = Path(out_path)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    out_path.write_text("".join(f"{label}\n" for label in labels), encoding="utf-8")
    return out_path


# --- everything at once (what the session fixture builds) -------------------------------------


@dataclass(frozen=True)
class TinyModels:
    """Paths of one trained tiny model in every form; ``labels`` name the classes in order."""

    labels: list[str]
    size: int
    keras: Path
    labels_file: Path
    classic_pb: Path  # Cast:0 (uint8 HWC any size) or DecodeJpeg/contents:0 → output_node:0 (n, 1)
    batchable_pb: Path  # input:0 float [None, S, S, 3] in [-1, 1] → logits:0 / probs:0
    sub_float: Path  # .tflite cut at Sub, float: input x − 128, [1, S, S, 3]
    sub_dynamic: Path  # same, dynamic-range quantized
    sub_int8: Path  # same, full int8 with int8 input/output
    sub_uint8: Path  # same, full int8 with uint8 input/output


def build_tiny_models(
    out_dir: Path, labels: Sequence[str] = DEFAULT_LABELS, size: int = DEFAULT_SIZE
) -> TinyModels:
    """Train once and write every form under ``out_dir`` (about 10 s with the TF import)."""
    out_dir = Path(out_dir)
    n = len(labels)
    keras_path = train_tiny_cnn(out_dir / "tiny.keras", n_classes=n, size=size)
    classic = freeze_classic(keras_path, out_dir / "classic.pb", size)
    shape = [1, size, size, 3]
    rep = sub_representative(n, size)
    lite = {
        mode: convert_frozen_to_tflite(
            classic, out_dir / f"sub_{mode}.tflite", "Sub", CLASSIC_OUTPUT, shape, mode, rep
        )
        for mode in ("float", "dynamic", "int8", "uint8")
    }
    return TinyModels(
        labels=list(labels),
        size=size,
        keras=keras_path,
        labels_file=write_labels(out_dir / "labels.txt", labels),
        classic_pb=classic,
        batchable_pb=freeze_batchable(keras_path, out_dir / "batchable.pb", size),
        sub_float=lite["float"],
        sub_dynamic=lite["dynamic"],
        sub_int8=lite["int8"],
        sub_uint8=lite["uint8"],
    )
