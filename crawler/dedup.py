"""Duplicates: the same bytes (sha256) or the same picture (pHash within
``db.hashing.NEAR_DUPLICATE_DISTANCE`` bits, i.e. re-encoded, resized, lightly recompressed).

Within a breed a duplicate is skipped: it would count twice in the test set. Across breeds the
image is kept and flagged (``image_flags`` kind ``cross_breed``): the same picture found for a
boxer and a bull mastiff is a question for a reviewer, not for a hash. Every stored image counts,
rejected ones too, so a picture a reviewer threw out does not come back with the next crawl.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from db.hashing import NEAR_DUPLICATE_DISTANCE, HashIndex
from db.models import FlagKind, Image, ImageFlag


class Verdict(enum.StrEnum):
    NEW = "new"
    DUPLICATE = "duplicate"  # same sha256, same breed
    NEAR_DUPLICATE = "near_duplicate"  # same picture, same breed
    CROSS_BREED = "cross_breed"  # same or near-same picture stored for another breed


@dataclass(frozen=True, slots=True)
class Match:
    image_id: int
    breed_id: int
    distance: int  # 0 for identical bytes


@dataclass(frozen=True, slots=True)
class DedupResult:
    verdict: Verdict
    same_breed: Match | None = None  # why a duplicate is skipped
    other_breeds: tuple[Match, ...] = ()  # nearest match in each other breed, for flags

    @property
    def keep(self) -> bool:
        return self.verdict in (Verdict.NEW, Verdict.CROSS_BREED)


class DedupIndex:
    """Every stored image's sha256 and pHash in memory; one vectorised lookup per candidate."""

    def __init__(self, max_distance: int = NEAR_DUPLICATE_DISTANCE) -> None:
        self.max_distance = max_distance
        self._by_sha: dict[str, list[tuple[int, int]]] = {}
        self._breed_of: dict[int, int] = {}
        self._hashes = HashIndex()

    def __len__(self) -> int:
        return len(self._breed_of)

    @classmethod
    def load(cls, session: Session, max_distance: int = NEAR_DUPLICATE_DISTANCE) -> DedupIndex:
        index = cls(max_distance)
        rows = session.execute(select(Image.id, Image.breed_id, Image.sha256, Image.phash))
        for image_id, breed, sha, phash in rows:
            index.add(image_id, breed, sha, phash)
        return index

    def add(self, image_id: int, breed_id: int, sha256: str, phash: int | None) -> None:
        self._by_sha.setdefault(sha256, []).append((image_id, breed_id))
        self._breed_of[image_id] = breed_id
        if phash is not None:
            self._hashes.add(image_id, phash)

    def has_sha(self, sha256: str) -> bool:
        """Whether some stored image (any breed) has exactly these bytes."""
        return sha256 in self._by_sha

    def check(self, breed_id: int, sha256: str, phash: int) -> DedupResult:
        for image_id, breed in self._by_sha.get(sha256, []):
            if breed == breed_id:
                return DedupResult(Verdict.DUPLICATE, Match(image_id, breed, 0))
        nearest_other: dict[int, Match] = {}
        for image_id, breed in self._by_sha.get(sha256, []):
            nearest_other.setdefault(breed, Match(image_id, breed, 0))
        for image_id, distance in self._hashes.query(phash, self.max_distance):
            breed = self._breed_of[image_id]
            if breed == breed_id:
                return DedupResult(Verdict.NEAR_DUPLICATE, Match(image_id, breed, distance))
            nearest_other.setdefault(breed, Match(image_id, breed, distance))
        if nearest_other:
            return DedupResult(Verdict.CROSS_BREED, other_breeds=tuple(nearest_other.values()))
        return DedupResult(Verdict.NEW)


def cross_breed_flags(image_id: int, result: DedupResult) -> list[ImageFlag]:
    """One ``cross_breed`` flag per other breed holding the same picture (nearest first)."""
    return [
        ImageFlag(
            image_id=image_id,
            kind=FlagKind.CROSS_BREED,
            other_image_id=m.image_id,
            distance=m.distance,
            detail=f"same picture as image {m.image_id} of breed {m.breed_id}",
        )
        for m in result.other_breeds
    ]
