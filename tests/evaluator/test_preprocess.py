"""Preprocessing: TensorFlow's ResizeBilinear in numpy, EXIF orientation, crops, normalisation."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image as PILImage

from evaluator.preprocess import (
    jpeg_for_graph,
    normalise,
    prepare,
    preprocess,
    tf_resize_bilinear,
)
from evaluator.spec import InputSpec
from tests.factories import encode, photo


@pytest.mark.parametrize(
    ("h", "w", "out_h", "out_w"),
    [(37, 53, 32, 32), (20, 15, 299, 299), (64, 48, 64, 48), (100, 7, 13, 29)],
)
def test_tf_bilinear_matches_tensorflow_resize_bilinear(
    h: int, w: int, out_h: int, out_w: int
) -> None:
    import tensorflow as tf

    img = np.random.default_rng(h * w).integers(0, 256, (h, w, 3), dtype=np.uint8)
    ours = tf_resize_bilinear(img, out_h, out_w)
    theirs = tf.raw_ops.ResizeBilinear(
        images=tf.constant(img[None].astype(np.float32)),
        size=[out_h, out_w],
        align_corners=False,
        half_pixel_centers=False,
    ).numpy()[0]
    assert ours.dtype == np.float32 and ours.shape == (out_h, out_w, 3)
    np.testing.assert_allclose(ours, theirs, rtol=0, atol=1e-3)


def test_pil_bilinear_is_not_tf_bilinear_when_shrinking() -> None:
    """Why tf_bilinear exists: PIL antialiases, TF1 graphs did not."""
    img = np.random.default_rng(1).integers(0, 256, (120, 160, 3), dtype=np.uint8)
    tf_like = tf_resize_bilinear(img, 30, 40)
    pil = np.asarray(PILImage.fromarray(img).resize((40, 30), PILImage.Resampling.BILINEAR))
    assert np.abs(tf_like - pil).mean() > 5


def test_exif_orientation_is_applied() -> None:
    img = photo(60, 40, seed=3)
    exif = PILImage.Exif()
    exif[0x0112] = 6  # rotate 90° clockwise to display
    data = encode(img, "JPEG", exif=exif.tobytes())
    decoded = prepare(data, InputSpec(kind="image"))
    assert decoded.shape == (60, 40, 3)
    # a graph that decodes JPEG itself gets the upright picture, re-encoded
    again = jpeg_for_graph(data)
    assert again != data
    assert PILImage.open(io.BytesIO(again)).size == (40, 60)
    plain = encode(img, "JPEG")
    assert jpeg_for_graph(plain) == plain
    png = encode(img, "PNG")
    assert PILImage.open(io.BytesIO(jpeg_for_graph(png))).format == "JPEG"


def test_resize_shorter_then_centre_crop() -> None:
    img = np.zeros((100, 200, 3), np.uint8)
    img[:, 75:125] = 255  # a white band in the middle
    data = encode(PILImage.fromarray(img), "PNG")
    spec = InputSpec(kind="tensor", size=(50, 50), resize="bilinear", resize_shorter=50)
    out = prepare(data, spec)
    assert out.shape == (50, 50, 3) and out.dtype == np.uint8
    # 100×200 → 50×100, centre 50 columns: the band (37..62 after scaling) sits in the crop
    assert out[:, 25].min() == 255 and out[:, 0].max() < 10


def test_normalise_scale_offset_and_mean_std() -> None:
    x = np.array([[[0.0, 128.0, 255.0]]], np.float32)
    out = normalise(x, InputSpec(kind="tensor", size=(1, 1), scale=1 / 127.5, offset=-1))
    np.testing.assert_allclose(out, [[[-1.0, 128 / 127.5 - 1, 1.0]]], atol=1e-6)
    ms = normalise(
        x, InputSpec(kind="tensor", size=(1, 1), mean=(0.0, 128.0, 255.0), std=(2.0, 1.0, 5.0))
    )
    np.testing.assert_allclose(ms, [[[0.0, 0.0, 0.0]]])
    assert normalise(x.astype(np.uint8), InputSpec(kind="image")).dtype == np.uint8


def test_preprocess_is_what_the_evaluation_feeds_an_any_size_image() -> None:
    """Parity and calibration use ``preprocess``; an ``image`` input with a scale is normalised
    there as the evaluation normalises it, and keeps its own size."""
    data = encode(PILImage.fromarray(np.full((7, 11, 3), 200, np.uint8)), "PNG")
    raw = preprocess(data, InputSpec(kind="image"))
    assert raw.shape == (7, 11, 3) and raw.dtype == np.uint8
    scaled = preprocess(data, InputSpec(kind="image", scale=1.0, offset=-128.0))
    assert scaled.shape == (7, 11, 3) and scaled.dtype == np.float32
    np.testing.assert_array_equal(scaled, np.full((7, 11, 3), 72.0, np.float32))
