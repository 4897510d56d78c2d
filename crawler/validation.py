"""What the crawler and the folder import refuse, as plain functions (no Scrapy, no database).

The type comes from the bytes, never from a Content-Type header or a file name: hosts serve HTML
error pages as ``image/jpeg`` and icons as ``.jpg``. A full Pillow decode catches truncated and
corrupt files; the pixel count is checked from the header *before* decoding, so a
decompression bomb (a small PNG claiming 30000×30000 pixels) is refused without allocating it.

Animated images (GIF, APNG, WebP) are accepted: the original bytes are kept untouched, and the
first frame is what thumbnails, hashes, reviewers and models see — a later frame of an animation
that starts on a dog rarely shows another breed, and reviewers reject the rest.
"""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass

from PIL import Image as PILImage
from PIL import UnidentifiedImageError

from db.hashing import draft_working, perceptual_hashes, sha256_bytes
from db.images import ImageFacts

DEFAULT_MIN_SIDE = 128
DEFAULT_MAX_BYTES = 20 * 1024 * 1024
DEFAULT_MAX_PIXELS = 64_000_000

# Formats kept as test images. Anything else that Pillow can decode (EPS, ICO, PSD, ...) is
# refused as ``unsupported``: browsers and the evaluator would not read it the same way.
ACCEPTED_FORMATS = frozenset({"JPEG", "PNG", "GIF", "WEBP", "BMP", "TIFF", "MPO"})


class Refusal(Exception):
    """An image refused before storing; ``reason`` is the short key counted in crawl stats."""

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason
        self.detail = detail


@dataclass(frozen=True, slots=True)
class ValidImage:
    """Bytes that passed validation, with what the later stages need from the decode."""

    data: bytes
    image: PILImage.Image  # decoded first frame at the working size, original mode and orientation
    format: str
    width: int  # of the original, from its header
    height: int
    frames: int
    sha256: str
    phash: int
    dhash: int

    def facts(self) -> ImageFacts:
        """What the row records, computed here once so the writer repeats none of it."""
        return ImageFacts(self.sha256, self.width, self.height, self.format, self.phash, self.dhash)


def sniff_type(data: bytes) -> str:
    """The kind of content from its first bytes: an image format name, ``svg``, ``html``,
    ``empty`` or ``unknown``."""
    if not data:
        return "empty"
    head = data[:16]
    if head.startswith(b"\xff\xd8\xff"):
        return "jpeg"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png"
    if head[:6] in (b"GIF87a", b"GIF89a"):
        return "gif"
    if head[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "webp"
    if head[:2] == b"BM":
        return "bmp"
    if head[:4] in (b"II*\x00", b"MM\x00*"):
        return "tiff"
    text = data[:1024].lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    if text.startswith(b"<svg") or (text.startswith(b"<?xml") and b"<svg" in data[:4096].lower()):
        return "svg"
    if text.startswith((b"<!doctype html", b"<html", b"<head", b"<body", b"<!--", b"<?xml")):
        return "html"
    if b"<svg" in text:
        return "svg"
    if b"<html" in text or b"<body" in text:
        return "html"
    return "unknown"


def check_bytes(data: bytes, max_bytes: int = DEFAULT_MAX_BYTES) -> str:
    """Cheap checks before any decoding; returns the sniffed type."""
    if len(data) > max_bytes:
        raise Refusal("too_big", f"{len(data)} bytes > {max_bytes}")
    kind = sniff_type(data)
    if kind in ("empty", "svg", "html"):
        raise Refusal(kind)
    if kind == "unknown":
        raise Refusal("not_an_image", f"starts with {data[:8]!r}")
    return kind


def decode(
    data: bytes, max_pixels: int = DEFAULT_MAX_PIXELS
) -> tuple[PILImage.Image, tuple[int, int]]:
    """Decode every byte of the first frame, refusing bombs (by header) and truncated or
    corrupt data; returns the image at its working size (``db.hashing``) and the real size.

    A JPEG is decoded at a reduced DCT scale: libjpeg still entropy-decodes the whole stream, so
    a truncated or corrupt file fails here just as in a full-size decode (tested).
    """
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", PILImage.DecompressionBombWarning)
            img = PILImage.open(io.BytesIO(data))
            width, height = img.size
            if width * height > max_pixels:
                raise Refusal("decompression_bomb", f"{width}x{height} > {max_pixels} pixels")
            draft_working(img)
            img.load()
    except Refusal:
        raise
    except (PILImage.DecompressionBombError, PILImage.DecompressionBombWarning) as exc:
        raise Refusal("decompression_bomb", str(exc)) from exc
    except UnidentifiedImageError as exc:
        raise Refusal("not_an_image", "Pillow cannot identify it") from exc
    except (OSError, SyntaxError, ValueError, EOFError) as exc:
        message = str(exc)
        reason = "truncated" if "truncated" in message or isinstance(exc, EOFError) else "corrupt"
        raise Refusal(reason, message) from exc
    return img, (width, height)


def validate_image(
    data: bytes,
    *,
    min_side: int = DEFAULT_MIN_SIDE,
    max_bytes: int = DEFAULT_MAX_BYTES,
    max_pixels: int = DEFAULT_MAX_PIXELS,
) -> ValidImage:
    """Everything an image must pass before it is stored; raises ``Refusal`` otherwise."""
    check_bytes(data, max_bytes)
    img, (width, height) = decode(data, max_pixels)
    fmt = (img.format or "").upper()
    if fmt not in ACCEPTED_FORMATS:
        raise Refusal("unsupported", fmt or "unknown format")
    if min(width, height) < min_side:
        raise Refusal("too_small", f"{width}x{height}, short side < {min_side}")
    phash, dhash = perceptual_hashes(img)
    return ValidImage(
        data=data,
        image=img,
        format="JPEG" if fmt == "MPO" else fmt,
        width=width,
        height=height,
        frames=int(getattr(img, "n_frames", 1) or 1),
        sha256=sha256_bytes(data),
        phash=phash,
        dhash=dhash,
    )
