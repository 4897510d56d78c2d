"""What the browser is sent: the store's 256 px thumbnails, or a review-size copy made once.

Originals can be several megabytes; sending them would make every decision wait on the network
and the browser's decoder. The review copy is a JPEG whose longest side is
``Settings.review_image_side``, written next to the thumbnails under a path derived from the
sha256 only (``review/<side>/ab/<sha256>.jpg``), atomically, the first time it is asked for.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

from PIL import Image as PILImage

from core.errors import BreedbenchError
from core.files import atomic_write
from db.store import (
    FileSystemImageStore,
    original_path,
    thumbnail_jpeg,
    thumbnail_path,
)

# Prefetch runs in the background: a few threads are enough to stay ahead of a reviewer.
_PREFETCH = ThreadPoolExecutor(max_workers=2, thread_name_prefix="review-prefetch")
# Copies being made: a request for one waits for that work instead of repeating it.
_IN_FLIGHT: dict[tuple[str, str, int], Future[None]] = {}
# Reentrant: a future already done runs its done-callback (``_forget``) at once, in the thread
# that adds it, which holds this lock then.
_IN_FLIGHT_LOCK = threading.RLock()


def review_copy_path(sha256: str, side: int) -> str:
    return f"review/{side}/{sha256[:2]}/{sha256}.jpg"


def review_copy(store: FileSystemImageStore, sha256: str, side: int) -> Path:
    """The review-size copy of an image (made now if missing); its absolute path."""
    target = store.absolute(review_copy_path(sha256, side))
    if target.exists():
        return target
    source = store.absolute(original_path(sha256))
    if not source.exists():
        raise BreedbenchError(f"image {sha256[:12]}… is missing from the store at {store.root}")
    try:
        with PILImage.open(source) as img:
            # JPEG: decode at the smallest DCT scale still >= side (several times faster).
            img.draft("RGB", (side, side))
            img.load()
            data = thumbnail_jpeg(img, side)
    except (OSError, ValueError, PILImage.DecompressionBombError) as exc:
        raise BreedbenchError(f"image {sha256[:12]}… cannot be read: {exc}") from exc
    atomic_write(target, data)
    return target


def ready_copy(store: FileSystemImageStore, sha256: str, side: int) -> Path | None:
    """The review copy if it is already made (never blocks on making it)."""
    target = store.absolute(review_copy_path(sha256, side))
    return target if target.exists() else None


def thumbnail(store: FileSystemImageStore, sha256: str) -> Path:
    """The 256 px thumbnail (remade from the original if it was deleted)."""
    target = store.absolute(thumbnail_path(sha256))
    if target.exists():
        return target
    with PILImage.open(store.absolute(original_path(sha256))) as img:
        img.load()
        store.put_thumbnail(sha256, img)
    return target


def prefetch(store: FileSystemImageStore, sha256s: Iterable[str], side: int) -> list[Future[None]]:
    """Make the review copies of the next images in the background, so they show at once."""
    return [
        _submit(store, sha, side)
        for sha in sha256s
        if not store.absolute(review_copy_path(sha, side)).exists()
    ]


def ensure_copy(store: FileSystemImageStore, sha256: str, side: int) -> Path:
    """The review copy, waiting for the background's work on it rather than making it twice
    (the browser asks for an image as soon as its window arrives, while it is being made)."""
    target = store.absolute(review_copy_path(sha256, side))
    if not target.exists():
        _submit(store, sha256, side).result()
    return review_copy(store, sha256, side)  # made now, or the error of a missing original


def _submit(store: FileSystemImageStore, sha256: str, side: int) -> Future[None]:
    key = (str(store.root), sha256, side)
    with _IN_FLIGHT_LOCK:
        future = _IN_FLIGHT.get(key)
        if future is None:
            future = _PREFETCH.submit(_quiet_review_copy, store, sha256, side)
            _IN_FLIGHT[key] = future
            future.add_done_callback(lambda _f: _forget(key))
        return future


def _forget(key: tuple[str, str, int]) -> None:
    with _IN_FLIGHT_LOCK:
        _IN_FLIGHT.pop(key, None)


def _quiet_review_copy(store: FileSystemImageStore, sha256: str, side: int) -> None:
    # A failure shows as an error when the image itself comes up.
    with contextlib.suppress(OSError, BreedbenchError, PILImage.DecompressionBombError):
        review_copy(store, sha256, side)
