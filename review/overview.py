"""Breeds overview: progress against the target, and fixing a query that finds the wrong things.

A breed whose candidates are mostly rejected usually has an ambiguous query ("boxer" finds
athletes, "papillon" butterflies). The reviewer's remedy is recorded on the breed
(``dog_keyword``, ``query_flagged_by`` / ``query_flagged_at``) and the next crawl searches
"<breed> dog".
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.orm import Session

from core.errors import BreedbenchError
from db.models import Breed, utcnow
from db.queries import BreedCounts, breed_counts
from review.decisions import clean_reviewer

HIGH_REJECT_RATE = 0.5  # highlighted at or above this share of rejected among reviewed
MIN_REVIEWED = 6  # ... once this many images of the breed have been reviewed


@dataclass(frozen=True, slots=True)
class BreedProgress:
    counts: BreedCounts
    high_reject: bool

    @property
    def done(self) -> bool:
        return self.counts.accepted >= self.counts.target


def breeds_overview(
    session: Session, *, high_rate: float = HIGH_REJECT_RATE, min_reviewed: int = MIN_REVIEWED
) -> list[BreedProgress]:
    """Every breed with its counts; ``high_reject`` marks the queries worth fixing."""
    out = []
    for c in breed_counts(session):
        rate = c.reject_rate
        out.append(
            BreedProgress(c, rate is not None and c.reviewed >= min_reviewed and rate >= high_rate)
        )
    return out


@dataclass(frozen=True, slots=True)
class QueryFlag:
    slug: str
    query: str  # the query the next crawl will use
    flagged_by: str
    changed: bool  # False when the breed already used the dog keyword


def use_dog_keyword(session: Session, breed_id: int, reviewer: str) -> QueryFlag:
    """Record "the query finds the wrong things": the next crawl appends "dog" to the query."""
    reviewer = clean_reviewer(reviewer)
    breed = session.get(Breed, breed_id, with_for_update=True)
    if breed is None:
        raise BreedbenchError(f"no breed with id {breed_id}")
    if breed.dog_keyword:
        return QueryFlag(breed.slug, f"{breed.query} dog", breed.query_flagged_by or "", False)
    breed.dog_keyword = True
    breed.query_flagged_by = reviewer
    breed.query_flagged_at = utcnow()
    session.flush()
    return QueryFlag(breed.slug, f"{breed.query} dog", reviewer, True)
