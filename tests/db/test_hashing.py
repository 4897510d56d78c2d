"""Perceptual hashes: signed 64-bit storage and vectorised near-duplicate search."""

from __future__ import annotations

import io

import numpy as np
from PIL import Image as PILImage

from db.hashing import (
    NEAR_DUPLICATE_DISTANCE,
    WORKING_SIDE,
    HashIndex,
    hamming_distances,
    open_working,
    perceptual_hashes,
    to_signed64,
    to_unsigned64,
)
from tests.crawler.mockserver import grainy_photo_jpeg
from tests.factories import encode, jpeg_bytes


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


def _distance(a: int, b: int) -> int:
    return bin(to_unsigned64(a) ^ to_unsigned64(b)).count("1")


def test_a_drafted_jpeg_hashes_like_its_full_decode() -> None:
    # The crawl, the import and the leak check hash a JPEG from a DCT-scaled decode; a caller
    # holding a full decode (or a PNG of the same picture) must land on (nearly) the same hash.
    for size in ((1024, 768), (2048, 1536), (3000, 2000)):
        data = grainy_photo_jpeg(*size, seed=11)
        drafted = open_working(io.BytesIO(data))
        assert max(drafted.size) < 2 * WORKING_SIDE
        full = PILImage.open(io.BytesIO(data))
        full.load()
        assert full.size == size
        png = PILImage.open(io.BytesIO(encode(full, "PNG")))
        for other in (full, png):
            for a, b in zip(perceptual_hashes(drafted), perceptual_hashes(other), strict=True):
                assert _distance(a, b) <= 2


def test_resized_photo_matches_across_working_sizes_and_different_photos_do_not() -> None:
    big = perceptual_hashes(open_working(io.BytesIO(grainy_photo_jpeg(2048, 1536, seed=12))))
    small = perceptual_hashes(open_working(io.BytesIO(jpeg_bytes(400, 300, seed=12, quality=60))))
    assert _distance(big[0], small[0]) <= NEAR_DUPLICATE_DISTANCE
    others = [
        perceptual_hashes(open_working(io.BytesIO(grainy_photo_jpeg(1024, 768, seed=s))))[0]
        for s in range(20, 30)
    ]
    assert min(_distance(big[0], o) for o in others) > NEAR_DUPLICATE_DISTANCE


def test_hashes_are_imagehash_phash_and_dhash_of_the_shared_32px_reduction() -> None:
    import imagehash

    img = open_working(io.BytesIO(jpeg_bytes(400, 300, seed=3)))
    small = img.convert("L").resize((32, 32), PILImage.Resampling.LANCZOS, reducing_gap=2.0)
    phash, dhash = perceptual_hashes(img)
    assert to_unsigned64(phash) == int(str(imagehash.phash(small)), 16)
    assert to_unsigned64(dhash) == int(str(imagehash.dhash(small)), 16)
