"""Dedup as plain functions: exact and near duplicates within a breed, conflicts across."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from crawler.dedup import DedupIndex, Verdict, cross_breed_flags
from crawler.validation import validate_image
from db.database import Database
from db.hashing import NEAR_DUPLICATE_DISTANCE
from db.models import FlagKind, Image
from tests.factories import breed_id, insert_image, jpeg_bytes


def test_exact_and_near_duplicates_within_a_breed_are_skipped() -> None:
    index = DedupIndex()
    a = validate_image(jpeg_bytes(seed=1))
    index.add(10, 1, a.sha256, a.phash)
    assert index.check(1, a.sha256, a.phash).verdict is Verdict.DUPLICATE
    resized = validate_image(jpeg_bytes(640, 480, seed=1, quality=70))
    result = index.check(1, resized.sha256, resized.phash)
    assert result.verdict is Verdict.NEAR_DUPLICATE and not result.keep
    assert result.same_breed is not None and result.same_breed.image_id == 10
    assert result.same_breed.distance <= NEAR_DUPLICATE_DISTANCE
    other = validate_image(jpeg_bytes(seed=2))
    assert index.check(1, other.sha256, other.phash).verdict is Verdict.NEW


def test_across_breeds_the_image_is_kept_and_flagged() -> None:
    index = DedupIndex()
    a = validate_image(jpeg_bytes(seed=1))
    index.add(10, 1, a.sha256, a.phash)
    index.add(11, 2, a.sha256, a.phash)
    result = index.check(3, a.sha256, a.phash)
    assert result.verdict is Verdict.CROSS_BREED and result.keep
    assert sorted((m.image_id, m.breed_id, m.distance) for m in result.other_breeds) == [
        (10, 1, 0),
        (11, 2, 0),
    ]
    flags = cross_breed_flags(99, result)
    assert [(f.image_id, f.kind, f.other_image_id) for f in flags] == [
        (99, FlagKind.CROSS_BREED, 10),
        (99, FlagKind.CROSS_BREED, 11),
    ]


def test_same_breed_wins_over_other_breeds() -> None:
    index = DedupIndex()
    a = validate_image(jpeg_bytes(seed=4))
    index.add(10, 2, a.sha256, a.phash)
    index.add(11, 1, a.sha256, a.phash)
    assert index.check(1, a.sha256, a.phash).verdict is Verdict.DUPLICATE


def test_load_reads_every_stored_image_rejected_ones_too(database: Database) -> None:
    first = insert_image(database, "boxer", seed=5)
    insert_image(database, "pug", seed=6)
    with database.session() as s:
        index = DedupIndex.load(s)
        sha = s.scalar(select(Image.sha256).where(Image.id == first))
    assert len(index) == 2
    again = validate_image(jpeg_bytes(seed=5))
    assert again.sha256 == sha
    assert index.check(breed_id(database, "boxer"), sha, again.phash).verdict is Verdict.DUPLICATE
    assert index.check(breed_id(database, "pug"), sha, again.phash).verdict is Verdict.CROSS_BREED


def test_lookup_is_vectorised_over_many_hashes(monkeypatch: pytest.MonkeyPatch) -> None:
    """Among 100 000 stored hashes the one near picture is found, by one XOR + popcount over
    the whole array (not a Python loop over rows, not a scan that skips the index)."""
    import numpy as np

    from db import hashing

    rng = np.random.default_rng(1)
    probe = validate_image(jpeg_bytes(seed=9))
    index = DedupIndex()
    hashes = rng.integers(-(2**63), 2**63 - 1, size=100_000, dtype=np.int64)
    # Random 64-bit hashes lie ~32 bits from the probe; keep them all far away.
    far = hashing.hamming_distances(hashes, probe.phash) > 2 * NEAR_DUPLICATE_DISTANCE
    hashes = hashes[far]
    near_at = len(hashes) // 2 + 17
    for i, h in enumerate(hashes):
        index._hashes.add(i, int(h))  # bulk fill without sha entries
        index._breed_of[i] = 1 + i % 120
    # Two bits off the probe, at an arbitrary position, stored for breed 7.
    index._hashes._hashes[near_at] = hashing.to_signed64(probe.phash ^ 0b101)
    index._breed_of[near_at] = 7
    calls: list[int] = []
    real = hashing.hamming_distances

    def counted(array: np.ndarray, query: int) -> np.ndarray:
        calls.append(len(array))
        return real(array, query)

    monkeypatch.setattr(hashing, "hamming_distances", counted)
    assert index.check(500, probe.sha256, probe.phash).verdict is Verdict.CROSS_BREED
    same = index.check(7, probe.sha256, probe.phash)
    assert same.verdict is Verdict.NEAR_DUPLICATE
    assert same.same_breed is not None
    assert (same.same_breed.image_id, same.same_breed.distance) == (near_at, 2)
    assert calls == [len(hashes), len(hashes)]  # one pass over every hash per lookup
    unrelated = validate_image(jpeg_bytes(seed=31))
    index._hashes._hashes[near_at] = hashes[0]
    assert index.check(7, unrelated.sha256, probe.phash).verdict is Verdict.NEW
