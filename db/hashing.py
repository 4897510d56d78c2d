"""Content and perceptual hashes, next to the columns that store them.

Perceptual hashes are 64-bit; SQLite's INTEGER is signed 64-bit, so they are stored as the signed
value with the same bits (``to_signed64``) and compared with XOR + popcount, vectorised in numpy.

Hashes (and thumbnails) are computed from a *working image*: the picture reduced by a power of two
(1, 2, 4 or 8) to the smallest size whose longest side is still at least ``WORKING_SIDE``. A pHash
only looks at a 32×32 greyscale reduction and a dHash at 9×8, so the full resolution adds nothing
but CPU: on a 2048×1536 JPEG the full decode plus the LANCZOS resizes inside imagehash cost ~60 ms,
the working image ~10 ms. JPEGs get it straight from the decoder (``draft``: libjpeg scales in the
DCT domain, but still entropy-decodes every byte, so a truncated or corrupt file still fails to
load); other formats are box-reduced after decoding (``Image.reduce``). Every path that hashes
(crawl validation, folder import, ``add_image``, the leak check) goes through
``perceptual_hashes``, which applies the same reduction to whatever it is given, so hashes of the
same bytes agree wherever they were computed.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import BinaryIO

import imagehash
import numpy as np
from PIL import Image as PILImage

# Two images whose 64-bit pHashes differ in at most this many bits are "the same picture"
# (re-encoded, resized, lightly recompressed). Measured with this module's hashes (working-size
# decode, 32×32 with reducing_gap): 40 grainy 2048×1536 photos against 4 variants each (400×300
# q60, 1024×768, 640×480 q50, 800×600 greyscale PNG): 149 of 160 at 0 bits, the rest at 2;
# a real photo (matplotlib's grace_hopper.jpg) ×4 upscaled, halved at q50, greyscale: 0 bits,
# cropped by 5 %: 4 bits. Unrelated photos (780 pairs of the 40): minimum 18, 1st percentile 22,
# median 32. 8 leaves room on both sides.
NEAR_DUPLICATE_DISTANCE = 8

# Longest side of the working image hashes and thumbnails are computed from: twice the 256 px
# thumbnail, as Pillow's own ``thumbnail`` (reducing_gap 2) would draft it.
WORKING_SIDE = 512


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def to_signed64(value: int) -> int:
    return value - (1 << 64) if value >= (1 << 63) else value


def to_unsigned64(value: int) -> int:
    return value + (1 << 64) if value < 0 else value


def reduction_factor(size: tuple[int, int]) -> int:
    """The power of two (≤ 8) that brings ``size`` closest to ``WORKING_SIDE`` from above."""
    longest = max(size)
    factor = 1
    while factor < 8 and longest // (factor * 2) >= WORKING_SIDE:
        factor *= 2
    return factor


def draft_working(img: PILImage.Image) -> None:
    """On an opened, not yet loaded JPEG: decode straight at the working size (DCT scaling).

    Other formats are left alone (``perceptual_hashes`` box-reduces them after decoding).
    ``img.size`` changes to the reduced size: read the real size from the header first.
    """
    if img.format not in ("JPEG", "MPO"):
        return
    factor = reduction_factor(img.size)
    if factor > 1:
        width, height = img.size
        img.draft(None, (max(1, width // factor), max(1, height // factor)))


def open_working(fp: str | Path | BinaryIO) -> PILImage.Image:
    """Open and fully decode an image at its working size (JPEG: DCT-scaled, every byte read)."""
    img = PILImage.open(fp)
    try:
        draft_working(img)
        img.load()
    except BaseException:
        img.close()  # a file Pillow opened by path is not left to the garbage collector
        raise
    return img


def _to_signed(h: imagehash.ImageHash) -> int:
    return to_signed64(int(str(h), 16))


def perceptual_hashes(img: PILImage.Image) -> tuple[int, int]:
    """(phash, dhash) of a decoded image, as signed 64-bit integers.

    Both are imagehash's, computed from one shared 32×32 greyscale reduction of the working
    image (see the module docstring) rather than each resizing the whole image again. The 32×32
    is made with a box reduce to ≥ 64 px first and LANCZOS after (Pillow's ``reducing_gap=2``):
    0.1 ms instead of 0.5 ms, and a JPEG decoded in full or drafted hashes within a bit or two of
    itself.
    """
    rgb = img.convert("RGB") if img.mode not in ("RGB", "L") else img
    factor = reduction_factor(rgb.size)
    if factor > 1:  # not drafted by the JPEG decoder (another format, or a full decode)
        rgb = rgb.reduce(factor)
    small = rgb.convert("L").resize((32, 32), PILImage.Resampling.LANCZOS, reducing_gap=2.0)
    return _to_signed(imagehash.phash(small)), _to_signed(imagehash.dhash(small))


def hamming_distances(hashes: np.ndarray, query: int) -> np.ndarray:
    """Hamming distance from ``query`` to every hash in ``hashes`` (int64 array), vectorised."""
    q = np.int64(to_signed64(query)).view(np.uint64)
    return np.bitwise_count(hashes.view(np.uint64) ^ q).astype(np.int64)


class HashIndex:
    """In-memory near-duplicate index: ids and 64-bit hashes in numpy arrays.

    A lookup is one XOR + popcount over the whole array (≈0.3 ms per 100k hashes), no Python
    loop over rows. ``add`` appends in amortised O(1).
    """

    def __init__(self, ids: list[int] | None = None, hashes: list[int] | None = None) -> None:
        n = len(ids or [])
        cap = max(1024, n * 2)
        self._ids = np.zeros(cap, dtype=np.int64)
        self._hashes = np.zeros(cap, dtype=np.int64)
        self._n = 0
        for i, h in zip(ids or [], hashes or [], strict=True):
            self.add(i, h)

    def __len__(self) -> int:
        return self._n

    def add(self, item_id: int, h: int) -> None:
        if self._n == len(self._ids):
            self._ids = np.resize(self._ids, self._n * 2)
            self._hashes = np.resize(self._hashes, self._n * 2)
        self._ids[self._n] = item_id
        self._hashes[self._n] = to_signed64(h)
        self._n += 1

    def query(self, h: int, max_distance: int = NEAR_DUPLICATE_DISTANCE) -> list[tuple[int, int]]:
        """``[(id, distance), ...]`` within ``max_distance``, nearest first."""
        if self._n == 0:
            return []
        d = hamming_distances(self._hashes[: self._n], h)
        hits = np.flatnonzero(d <= max_distance)
        order = hits[np.argsort(d[hits], kind="stable")]
        return [(int(self._ids[i]), int(d[i])) for i in order]
