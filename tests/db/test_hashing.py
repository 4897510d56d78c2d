"""Perceptual hashes: signed 64-bit storage and vectorised near-duplicate search."""

from __future__ import annotations

import io

import numpy as np
from PIL import Image as PILImage

from db.hashing import (
    NEAR_DUPLICATE_DISTANCE,
    HashIndex,
    hamming_distances,
    perceptual_hashes,
    to_signed64,
    to_unsigned64,
)
from tests.factories import jpeg_bytes


def test_signed_roundtrip() -> None:
    for v in (0, 1, 2**63 - 1, 2**63, 2**64 - 1):
        s = to_signed64(v)
        assert -(2**63) <= s < 2**63
        assert to_unsigned64(s) == v


def test_hamming_matches_python_popcount() -> None:
    rng = np.random.default_rng(0)
    values = [int(x) for x in rng.integers(0, 2**63, size=200, dtype=np.int64)]
    arr = np.array([to_signed64(v) for v in values], dtype=np.int64)
    q = values[7] ^ 0b1011
    expected = [bin(v ^ q).count("1") for v in values]
    assert hamming_distances(arr, q).tolist() == expected


def test_reencoded_photo_is_a_near_duplicate_and_others_are_not() -> None:
    a = PILImage.open(io.BytesIO(jpeg_bytes(640, 480, seed=5, quality=95)))
    b = PILImage.open(io.BytesIO(jpeg_bytes(320, 240, seed=5, quality=60)))
    others = [PILImage.open(io.BytesIO(jpeg_bytes(640, 480, seed=s))) for s in range(10, 20)]
    index = HashIndex()
    index.add(1, perceptual_hashes(a)[0])
    for i, o in enumerate(others, start=100):
        index.add(i, perceptual_hashes(o)[0])
    hits = index.query(perceptual_hashes(b)[0], NEAR_DUPLICATE_DISTANCE)
    assert [h[0] for h in hits] == [1]
