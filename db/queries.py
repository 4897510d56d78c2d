"""Read-side queries that hand plain dataclasses to the CLI, the app and the evaluator."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from db.breeds import AMBIGUOUS, with_dog
from db.models import Breed, Image, ImageStatus, Review


@dataclass(frozen=True, slots=True)
class BreedCounts:
    id: int
    slug: str
    name: str
    synset: str | None
    query: str
    dog_keyword: bool
    flagged: bool
    target: int
    accepted: int
    pending: int
    rejected: int
    last_query: str | None = None  # the query that found the breed's newest image
    ambiguous: bool | None = None  # what the breed's list said (None: the curated list decides)
    keyword: str | None = None  # the list's query word (None: "dog")

    @property
    def effective_query(self) -> str:
        """The query the next crawl starts with in the default ``auto`` dog-keyword mode."""
        listed = self.slug in AMBIGUOUS if self.ambiguous is None else self.ambiguous
        dog = self.dog_keyword or self.flagged or listed
        return with_dog(self.query, self.keyword) if dog else self.query

    @property
    def reviewed(self) -> int:
        return self.accepted + self.rejected

    @property
    def reject_rate(self) -> float | None:
        return self.rejected / self.reviewed if self.reviewed else None

    @property
    def missing(self) -> int:
        """Images still to find: pending and accepted count towards the target."""
        return max(0, self.target - self.accepted - self.pending)


def _count(status: ImageStatus):  # type: ignore[no-untyped-def]
    return func.coalesce(func.sum(case((Image.status == status, 1), else_=0)), 0)


def breed_counts(session: Session, slugs: list[str] | None = None) -> list[BreedCounts]:
    """Per breed: accepted / pending / rejected counts, in seed order. One grouped query."""
    counts = (
        select(
            Image.breed_id,
            _count(ImageStatus.ACCEPTED).label("accepted"),
            _count(ImageStatus.PENDING).label("pending"),
            _count(ImageStatus.REJECTED).label("rejected"),
        )
        .group_by(Image.breed_id)
        .subquery()
    )
    newest = (
        select(Image.breed_id, func.max(Image.id).label("image_id"))
        .group_by(Image.breed_id)
        .subquery()
    )
    stmt = (
        select(Breed, counts.c.accepted, counts.c.pending, counts.c.rejected, Image.query)
        .outerjoin(counts, counts.c.breed_id == Breed.id)
        .outerjoin(newest, newest.c.breed_id == Breed.id)
        .outerjoin(Image, Image.id == newest.c.image_id)
        .order_by(Breed.position, Breed.id)
    )
    if slugs:
        stmt = stmt.where(Breed.slug.in_(slugs))
    return [
        BreedCounts(
            id=b.id,
            slug=b.slug,
            name=b.name,
            synset=b.synset,
            query=b.query,
            dog_keyword=b.dog_keyword,
            flagged=b.query_flagged_at is not None,
            target=b.target,
            accepted=int(a or 0),
            pending=int(p or 0),
            rejected=int(r or 0),
            last_query=q,
            ambiguous=b.ambiguous,
            keyword=b.keyword,
        )
        for b, a, p, r, q in session.execute(stmt)
    ]


@dataclass(frozen=True, slots=True)
class Totals:
    breeds: int
    images: int
    accepted: int
    pending: int
    rejected: int
    reviews: int
    reviewers: int
    target: int


def totals(session: Session) -> Totals:
    by_status = dict(
        session.execute(select(Image.status, func.count()).group_by(Image.status)).tuples().all()
    )
    return Totals(
        breeds=session.scalar(select(func.count()).select_from(Breed)) or 0,
        images=sum(by_status.values()),
        accepted=by_status.get(ImageStatus.ACCEPTED, 0),
        pending=by_status.get(ImageStatus.PENDING, 0),
        rejected=by_status.get(ImageStatus.REJECTED, 0),
        reviews=session.scalar(select(func.count()).select_from(Review)) or 0,
        reviewers=session.scalar(select(func.count(func.distinct(Review.reviewer)))) or 0,
        target=session.scalar(select(func.coalesce(func.sum(Breed.target), 0))) or 0,
    )


def breed_by_slug(session: Session, slug: str) -> Breed | None:
    return session.scalar(select(Breed).where(Breed.slug == slug))
