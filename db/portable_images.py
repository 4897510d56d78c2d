"""Image files every common loader reads the same way: JPEG and PNG, the rest made PNG.

Keras' ``image_dataset_from_directory`` reads only JPEG, PNG, GIF and BMP and silently skips
anything else (WebP and TIFF included); TensorFlow's BMP decoder refuses 1-bit and run-length
encoded BMPs that Pillow (and so validation) reads, and loaders disagree on an animated GIF
(``tf.io.decode_image`` returns every frame unless told otherwise, Pillow the first). JPEG and
PNG are read by all of them, so a portable export keeps those files byte for byte and writes
every other stored format (WebP, TIFF, GIF, BMP) as a PNG of the picture breedbench's own models
are shown:

- the first frame (validation keeps animations and shows the first frame to everyone);
- upright: an EXIF orientation is applied, since most loaders ignore the tag;
- the pixels unchanged: every mode a PNG holds (1-bit, greyscale, palette with its
  transparency, RGB, RGBA, 16-bit greyscale) is written as it is, with its ICC profile.
  Premultiplied and padded modes are unpacked, 32-bit integers that fit 16 bits become 16-bit.
  Only what a PNG cannot hold at all (CMYK, YCbCr, LAB, floating point) becomes the 8-bit RGB
  the evaluator feeds models (``db.store.to_display_rgb``). No other metadata is copied: an
  EXIF block may hold the camera's GPS position.

``same_picture`` compares decoded pixels, so a converted file is recognised as the stored
original it came from whatever Pillow version encoded it.
"""

from __future__ import annotations

import io

from PIL import Image as PILImage
from PIL import ImageOps

from db.store import to_display_rgb

# Stored formats (``Image.format``, as validation names them) copied byte for byte.
KEPT_FORMATS = frozenset({"JPEG", "MPO", "PNG"})
# Modes Pillow writes to PNG without changing a pixel.
PNG_MODES = frozenset({"1", "L", "LA", "P", "RGB", "RGBA", "I;16", "I;16B"})
# Modes with a PNG equivalent holding the same picture.
_UNPACKED = {"PA": "RGBA", "La": "LA", "RGBa": "RGBA", "RGBX": "RGB", "I;16L": "I;16"}
# What a written PNG carries over from the decoded image: colours and transparency only.
_KEPT_INFO = ("icc_profile", "transparency")
_SIXTEEN_BIT = ("I;16", "I;16B", "I;16L", "I")


def is_kept(fmt: str | None) -> bool:
    """Whether a portable export copies an original of this stored format unchanged."""
    return (fmt or "").upper() in KEPT_FORMATS


def portable_picture(img: PILImage.Image) -> PILImage.Image:
    """The opened, loaded ``img`` (its first frame) upright, in a mode a PNG holds."""
    upright = ImageOps.exif_transpose(img)  # a copy: its info may be replaced
    picture = _png_mode(upright)
    # A palette's transparency and the ICC profile describe these pixels only in their own mode.
    kept = {key: upright.info[key] for key in _KEPT_INFO if key in upright.info}
    picture.info = kept if picture is upright else {}
    return picture


def _png_mode(img: PILImage.Image) -> PILImage.Image:
    if img.mode in PNG_MODES:
        return img
    if img.mode in _UNPACKED:
        return img.convert(_UNPACKED[img.mode])
    if img.mode == "I":
        low, high = img.getextrema()
        if int(low) >= 0 and int(high) <= 0xFFFF:
            return img.convert("I;16")
    return to_display_rgb(img)


def decode_first_frame(data: bytes) -> PILImage.Image:
    """``data`` decoded: the first frame of an animation, the first page of a TIFF."""
    img = PILImage.open(io.BytesIO(data))
    img.load()
    return img


def to_png(data: bytes) -> bytes:
    """The portable PNG of an original's bytes (see the module docstring)."""
    picture = portable_picture(decode_first_frame(data))
    buf = io.BytesIO()
    picture.save(buf, "PNG")
    return buf.getvalue()


def _canonical(img: PILImage.Image) -> tuple[tuple[int, int], bytes]:
    """Size and pixels in one mode per kind (16-bit stays 16-bit, the rest RGBA)."""
    if img.mode in _SIXTEEN_BIT:
        return img.size, img.convert("I").tobytes()
    return img.size, img.convert("RGBA").tobytes()


def same_picture(exported: PILImage.Image, original: bytes) -> bool:
    """Whether ``exported`` (a decoded file) shows exactly the portable picture of the stored
    ``original`` bytes: same size, same pixels, transparency included."""
    picture = portable_picture(decode_first_frame(original))
    return _canonical(exported) == _canonical(picture)
