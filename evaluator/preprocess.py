"""Image bytes → what a model's input expects, described by the spec's ``[input]`` table.

Two steps, split so the slow one can be cached and shared between models:

1. ``prepare`` (decode, EXIF orientation, resize, crop) → an array cached on disk by
   (image sha256, ``preprocessing_hash``): uint8 for PIL resizes and for ``kind = "image"``,
   float32 for ``tf_bilinear``.
2. ``normalise`` (x * scale + offset, or (x − mean) / std) on a whole batch: cheap.

``tf_bilinear`` is TensorFlow's ``ResizeBilinear`` as TF1 graphs ran it (``align_corners=False``,
``half_pixel_centers=False``), in numpy: PIL's bilinear antialiases when shrinking, so a model
trained with TF resizing sees different pixels through PIL.
"""

from __future__ import annotations

import io

import numpy as np
from PIL import Image as PILImage

from core.errors import BreedbenchError
from db.store import to_display_rgb
from evaluator.spec import InputSpec

JPEG_REENCODE_QUALITY = 95


def decode_rgb(data: bytes) -> PILImage.Image:
    """Decoded as a person sees it: EXIF orientation applied, 8-bit RGB."""
    try:
        img = PILImage.open(io.BytesIO(data))
        img.load()
    except Exception as exc:  # noqa: BLE001 - PIL raises many types for bad data
        raise BreedbenchError(f"cannot decode image: {exc}") from exc
    return to_display_rgb(img)


def jpeg_for_graph(data: bytes) -> bytes:
    """Bytes for a graph that decodes JPEG itself: the original when it is a JPEG without a
    rotation tag, else the upright RGB re-encoded (DecodeJpeg ignores EXIF orientation)."""
    img = PILImage.open(io.BytesIO(data))
    orientation = img.getexif().get(0x0112, 1)
    if img.format == "JPEG" and orientation == 1 and img.mode == "RGB":
        return data
    buf = io.BytesIO()
    to_display_rgb(img).save(buf, "JPEG", quality=JPEG_REENCODE_QUALITY)
    return buf.getvalue()


def tf_resize_bilinear(img: np.ndarray, height: int, width: int) -> np.ndarray:
    """TensorFlow's legacy ``ResizeBilinear`` (no half-pixel centres) on one HWC image, float32.

    Same float32 arithmetic as the kernel: source coordinate ``out * (in / out)``, then
    ``top + (bottom − top) * y_lerp`` of the two horizontal interpolations.
    """
    src = img.astype(np.float32, copy=False)
    in_h, in_w = src.shape[:2]
    ys, y0, y1 = _lerp_index(in_h, height)
    xs, x0, x1 = _lerp_index(in_w, width)
    top_left = src[y0][:, x0]
    top_right = src[y0][:, x1]
    bottom_left = src[y1][:, x0]
    bottom_right = src[y1][:, x1]
    xl = xs[None, :, None]
    top = top_left + (top_right - top_left) * xl
    bottom = bottom_left + (bottom_right - bottom_left) * xl
    return top + (bottom - top) * ys[:, None, None]


def _lerp_index(in_size: int, out_size: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    scale = np.float32(in_size) / np.float32(out_size)
    coords = np.arange(out_size, dtype=np.float32) * scale
    lower = np.floor(coords).astype(np.int64)
    upper = np.minimum(lower + 1, in_size - 1)
    return (coords - lower.astype(np.float32)).astype(np.float32), lower, upper


def _pil_resize(img: PILImage.Image, width: int, height: int, mode: str) -> PILImage.Image:
    resample = PILImage.Resampling.BICUBIC if mode == "bicubic" else PILImage.Resampling.BILINEAR
    return img.resize((width, height), resample)


Crop = tuple[int, int, int, int]  # (left, top, right, bottom) in pixels of the upright image


def prepare(data: bytes, spec: InputSpec, crop: Crop | None = None) -> np.ndarray | bytes:
    """The cacheable part: decode, orient, (crop to a detector's box,) resize. JPEG bytes pass
    through uncropped; cropped, they are the crop re-encoded."""
    if spec.kind == "jpeg_bytes":
        if crop is None:
            return jpeg_for_graph(data)
        buf = io.BytesIO()
        decode_rgb(data).crop(crop).save(buf, "JPEG", quality=JPEG_REENCODE_QUALITY)
        return buf.getvalue()
    img = decode_rgb(data)
    if crop is not None:
        img = img.crop(crop)
    return prepare_decoded(img, spec)


def prepare_decoded(img: PILImage.Image, spec: InputSpec) -> np.ndarray | bytes:
    """``prepare`` from an image already decoded upright (a detector's pass keeps its size)."""
    if spec.kind == "jpeg_bytes":
        buf = io.BytesIO()
        img.save(buf, "JPEG", quality=JPEG_REENCODE_QUALITY)
        return buf.getvalue()
    if spec.kind == "image":
        return np.asarray(img, dtype=np.uint8)
    assert spec.size is not None  # validated by the spec
    height, width = spec.size
    if spec.resize_shorter:
        img = _resize_shorter(img, spec.resize_shorter, spec.resize)
        img = _centre_crop(img, width, height)
    if spec.resize == "tf_bilinear":
        return tf_resize_bilinear(np.asarray(img, dtype=np.uint8), height, width)
    if img.size != (width, height):
        img = _pil_resize(img, width, height, spec.resize)
    return np.asarray(img, dtype=np.uint8)


def _resize_shorter(img: PILImage.Image, shorter: int, mode: str) -> PILImage.Image:
    w, h = img.size
    ratio = shorter / min(w, h)
    new_w, new_h = max(1, round(w * ratio)), max(1, round(h * ratio))
    if mode == "tf_bilinear":
        arr = tf_resize_bilinear(np.asarray(img, dtype=np.uint8), new_h, new_w)
        return PILImage.fromarray(np.clip(np.rint(arr), 0, 255).astype(np.uint8), "RGB")
    return _pil_resize(img, new_w, new_h, mode)


def _centre_crop(img: PILImage.Image, width: int, height: int) -> PILImage.Image:
    w, h = img.size
    if w < width or h < height:
        return img  # smaller than the crop: the final resize makes it fit
    left, top = (w - width) // 2, (h - height) // 2
    return img.crop((left, top, left + width, top + height))


def normalise(batch: np.ndarray, spec: InputSpec) -> np.ndarray:
    """``x * scale + offset`` or ``(x − mean) / std`` as float32; nothing given: unchanged."""
    if spec.mean is not None and spec.std is not None:
        mean = np.asarray(spec.mean, dtype=np.float32)
        std = np.asarray(spec.std, dtype=np.float32)
        return (batch.astype(np.float32) - mean) / std
    if spec.scale is None and spec.offset is None:
        return batch
    out = batch.astype(np.float32)
    if spec.scale is not None:
        out *= np.float32(spec.scale)
    if spec.offset is not None:
        out += np.float32(spec.offset)
    return out


def preprocess(data: bytes, spec: InputSpec) -> np.ndarray | bytes:
    """Both steps for one image (no cache): what the evaluation feeds a model for these bytes
    (an any-size ``image`` is normalised too, when the spec says how)."""
    prepared = prepare(data, spec)
    if isinstance(prepared, bytes):
        return prepared
    return normalise(prepared, spec)
