"""A small accepted set in every stored format: what a portable export has to convert.

Two breeds, eight images: JPEG and PNG (kept byte for byte), a lossy WebP with an EXIF rotation
(its PNG is upright, so its pHash differs from the original's), a lossless WebP with
transparency, a CMYK TIFF, a 16-bit greyscale TIFF, an animated GIF and a palette BMP.
"""

from __future__ import annotations

import functools
import io
import struct

import numpy as np
from PIL import Image as PILImage

from db.database import Database
from db.models import Decision
from db.reviews import record_decision
from tests.factories import encode, insert_image, photo

ROTATE_90 = 6  # EXIF orientation: rotate 90° clockwise to view


def rotated_webp(seed: int) -> bytes:
    exif = PILImage.Exif()
    exif[0x0112] = ROTATE_90
    return encode(photo(seed=seed), "WEBP", quality=80, exif=exif.tobytes())


def transparent_webp(seed: int) -> bytes:
    rgba = photo(seed=seed).convert("RGBA")
    alpha = np.full((rgba.height, rgba.width), 255, dtype=np.uint8)
    alpha[:40, :60] = 0
    rgba.putalpha(PILImage.fromarray(alpha, "L"))
    return encode(rgba, "WEBP", lossless=True)


def grey16_tiff(seed: int) -> bytes:
    grey = np.asarray(photo(seed=seed).convert("L"), dtype=np.uint16) * 257
    return encode(PILImage.fromarray(grey), "TIFF")


def animated_gif(seed: int) -> bytes:
    fast = PILImage.Quantize.FASTOCTREE
    frames = [photo(seed=s).quantize(64, method=fast) for s in (seed, seed + 100)]
    buf = io.BytesIO()
    frames[0].save(buf, "GIF", save_all=True, append_images=frames[1:], duration=100, loop=0)
    return buf.getvalue()


@functools.cache  # the same bytes every time: made once per test session
def mixed_formats() -> dict[str, list[tuple[str, bytes]]]:
    """Breed → its images as (format as stored, bytes); not to be changed by callers."""
    return {
        "beagle": [
            ("JPEG", encode(photo(seed=1), "JPEG", quality=90)),
            ("PNG", encode(photo(seed=2), "PNG")),
            ("WEBP", rotated_webp(3)),
            ("TIFF", encode(photo(seed=4).convert("CMYK"), "TIFF")),
        ],
        "pug": [
            ("GIF", animated_gif(5)),
            ("BMP", encode(photo(seed=7).quantize(64, method=PILImage.Quantize.FASTOCTREE), "BMP")),
            ("TIFF", grey16_tiff(8)),
            ("WEBP", transparent_webp(9)),
        ],
    }


def add_mixed_set(db: Database, *, accept: bool = True) -> dict[str, list[int]]:
    """Insert ``mixed_formats`` (accepted unless ``accept`` is False); breed → image ids."""
    ids: dict[str, list[int]] = {}
    for slug, images in mixed_formats().items():
        ids[slug] = [insert_image(db, slug, data=data) for _, data in images]
    if accept:
        with db.session() as s:
            for image_id in (i for group in ids.values() for i in group):
                record_decision(s, image_id, "ana", Decision.ACCEPT)
    return ids


def rle8_bmp(width: int = 8, height: int = 4, value: int = 100) -> bytes:
    """A run-length encoded 8-bit BMP (Pillow reads it but cannot write one): one grey run per
    row."""
    palette = b"".join(bytes([i, i, i, 0]) for i in range(256))
    pixels = bytes([width, value, 0, 0]) * height + b"\x00\x01"  # run, end of line; end of bitmap
    info = struct.pack("<IiiHHIIiiII", 40, width, height, 1, 8, 1, len(pixels), 2835, 2835, 256, 0)
    offset = 14 + len(info) + len(palette)
    header = b"BM" + struct.pack("<IHHI", offset + len(pixels), 0, 0, offset)
    return header + info + palette + pixels


def one_bit_bmp(seed: int) -> bytes:
    return encode(photo(seed=seed).convert("1"), "BMP")
