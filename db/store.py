"""The image store: original bytes kept untouched, addressed by their sha256, plus thumbnails.

Paths derive from the hash only (``originals/ab/cd/<sha256>``; ``thumbs/ab/<sha256>.jpg``), so no
user-supplied text (a URL, a file name, a breed) ever becomes part of a path, and the same bytes
are stored once however many breeds or crawls bring them. Files are written to a temporary name
and renamed into place: a crawl stopped half-way, or a full disk, leaves no half file
(``core.files.atomic_write``), and an original is written with its thumbnail or not at all
(``put_with_thumbnail``: how crawl workers and ``db.images.add_image`` store an image).
``db.fsck`` checks the store against the database.
"""

from __future__ import annotations

import io
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np
from PIL import Image as PILImage
from PIL import ImageOps

from core.errors import BreedbenchError
from core.files import atomic_write
from db.hashing import open_working, sha256_bytes

THUMBNAIL_SIDE = 256
THUMBNAIL_QUALITY = 85


@dataclass(frozen=True, slots=True)
class StoredFile:
    sha256: str
    path: str  # relative to the store root
    created: bool  # False when the same bytes were already stored


@dataclass(frozen=True, slots=True)
class StoredImage:
    """An original and its thumbnail, and which of the two the call that stored them wrote.

    ``created`` is what a caller that gives up on the image may take back: the other files
    were there before, and a row may hold them.
    """

    sha256: str
    path: str
    thumb_path: str
    created: tuple[str, ...]  # store paths written by this call; empty: both were there


class ImageStoreProtocol(Protocol):
    """What the crawler, the app and the evaluator need from a store."""

    def put(self, data: bytes) -> StoredFile: ...

    def put_thumbnail(self, sha256: str, img: PILImage.Image) -> str: ...

    def put_with_thumbnail(self, data: bytes, img: PILImage.Image | None = None) -> StoredImage: ...

    def read(self, path: str) -> bytes: ...

    def absolute(self, path: str) -> Path: ...

    def exists(self, path: str) -> bool: ...


def original_path(sha256: str) -> str:
    return f"originals/{sha256[:2]}/{sha256[2:4]}/{sha256}"


def thumbnail_path(sha256: str) -> str:
    return f"thumbs/{sha256[:2]}/{sha256}.jpg"


class FileSystemImageStore:
    """The default store: a folder (``<data dir>/store``)."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        try:
            self.root.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise BreedbenchError(
                f"cannot create the image store at {self.root}: {exc.strerror}"
            ) from exc
        if not os.access(self.root, os.W_OK | os.X_OK):
            raise BreedbenchError(f"the image store {self.root} is not writable")

    def put(self, data: bytes) -> StoredFile:
        digest = sha256_bytes(data)
        rel = original_path(digest)
        target = self.root / rel
        if target.exists():
            return StoredFile(digest, rel, created=False)
        atomic_write(target, data)
        return StoredFile(digest, rel, created=True)

    def put_thumbnail(self, sha256: str, img: PILImage.Image) -> str:
        rel = thumbnail_path(sha256)
        target = self.root / rel
        if not target.exists():
            atomic_write(target, thumbnail_jpeg(img))
        return rel

    def put_with_thumbnail(self, data: bytes, img: PILImage.Image | None = None) -> StoredImage:
        """Store ``data`` and its thumbnail as a pair, or neither; ``img`` is a decode of
        ``data`` (without it, ``data`` is decoded only when the thumbnail is missing).

        When the thumbnail cannot be written (a full disk, most often), the files this call
        wrote are removed again, so no original is left without its thumbnail; one that was
        already there stays, since a row may hold it.
        """
        stored = self.put(data)
        thumb = thumbnail_path(stored.sha256)
        created = [stored.path] if stored.created else []
        try:
            if not (self.root / thumb).exists():
                created.append(thumb)  # from here on a failure takes it back too
                if img is None:
                    with open_working(io.BytesIO(data)) as decoded:
                        self.put_thumbnail(stored.sha256, decoded)
                else:
                    self.put_thumbnail(stored.sha256, img)
        except BaseException:
            for rel in created:
                (self.root / rel).unlink(missing_ok=True)
            raise
        return StoredImage(stored.sha256, stored.path, thumb, tuple(created))

    def read(self, path: str) -> bytes:
        return self.absolute(path).read_bytes()

    def absolute(self, path: str) -> Path:
        resolved = (self.root / path).resolve()
        if not resolved.is_relative_to(self.root.resolve()):
            raise BreedbenchError(f"store path {path!r} points outside the store")
        return resolved

    def exists(self, path: str) -> bool:
        return self.absolute(path).exists()


def to_display_rgb(img: PILImage.Image) -> PILImage.Image:
    """Any decoded image → 8-bit RGB as a person would see it.

    Applies EXIF orientation; CMYK, 16-bit greyscale, palette and alpha modes are converted
    (transparency over white), so thumbnails and model inputs look like the original.
    """
    img = ImageOps.exif_transpose(img)
    if img.mode in ("I;16", "I;16B", "I;16L", "I", "F"):
        arr = np.asarray(img, dtype=np.float64)
        hi = arr.max() if arr.size else 0
        scale = 255.0 / hi if hi > 255 else 1.0
        img = PILImage.fromarray(np.clip(arr * scale, 0, 255).astype(np.uint8), "L")
    if img.mode == "P":
        img = img.convert("RGBA")
    if img.mode in ("RGBA", "LA", "PA"):
        rgba = img.convert("RGBA")
        background = PILImage.new("RGB", rgba.size, (255, 255, 255))
        background.paste(rgba, mask=rgba.getchannel("A"))
        return background
    if img.mode != "RGB":
        img = img.convert("RGB")
    return img


def thumbnail_jpeg(img: PILImage.Image, side: int = THUMBNAIL_SIDE) -> bytes:
    """A JPEG whose longest side is ``side`` pixels (never enlarged).

    BICUBIC, Pillow's default for thumbnails: at these ≤ 2× reductions (the crawl hands over a
    working-size decode, ``db.hashing``) it looks the same as LANCZOS and costs 1.5 ms instead of
    2.2 ms on a 400×300 photo, the largest single cost of storing a small image.
    """
    rgb = to_display_rgb(img)
    rgb.thumbnail((side, side), PILImage.Resampling.BICUBIC)
    buf = io.BytesIO()
    rgb.save(buf, "JPEG", quality=THUMBNAIL_QUALITY, optimize=True)
    return buf.getvalue()
