"""The review queue: which images a reviewer sees next, as plain cards.

An image is in a reviewer's queue while it is pending and that reviewer has no vote on it that
still counts (an accept, reject or relabel not undone and not cleared by a later reset). Images
the reviewer skipped come last, so a skip moves on without hiding the image for good. The order
is breed, then age, so a reviewer sees one breed's candidates together; a reviewer may choose
another (``order``: most doubtful or most confident first by a screening model, or random, the
same for that reviewer every time) and show only what screening marked (``only``): see
``review.screening``. Screening orders and marks; it never decides.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import and_, exists, func, select
from sqlalchemy.orm import Session, aliased

from db.models import Breed, Decision, Image, ImageFlag, ImageStatus, Review
from db.provenance import Provenance
from review.screening import QueueOrder, ScreenFilter, ScreeningMark, apply_order, marks_for

VOTES = (Decision.ACCEPT, Decision.REJECT, Decision.RELABEL)


@dataclass(frozen=True, slots=True)
class ImageCard:
    """Everything the reviewer sees next to an image."""

    id: int
    sha256: str
    breed_id: int
    breed_slug: str
    breed_name: str
    status: str
    provenance: Provenance
    width: int
    height: int
    byte_size: int
    format: str
    open_flags: tuple[str, ...] = ()
    screening: ScreeningMark | None = None  # the newest screening's badge, if screened

    @property
    def license_label(self) -> str:
        return self.provenance.license_label

    @property
    def size_label(self) -> str:
        kb = self.byte_size / 1024
        size = f"{kb / 1024:.1f} MB" if kb >= 1024 else f"{kb:.0f} kB"
        return f"{self.width}×{self.height} {self.format}, {size}"


def live_vote_by(reviewer: str, decisions: Sequence[Decision] = VOTES):  # type: ignore[no-untyped-def]
    """SQL condition: ``reviewer`` has a counting decision of these kinds on ``Image``.

    Counting: not undone, and no reset on the same image after it.
    """
    undo = aliased(Review)
    reset = aliased(Review)
    return exists(
        select(Review.id).where(
            Review.image_id == Image.id,
            Review.reviewer == reviewer,
            Review.decision.in_(list(decisions)),
            ~exists(select(undo.id).where(undo.undoes_id == Review.id)),
            ~exists(
                select(reset.id).where(
                    reset.image_id == Image.id,
                    reset.decision == Decision.RESET,
                    reset.id > Review.id,
                )
            ),
        )
    )


def _card_query():  # type: ignore[no-untyped-def]
    return select(Image, Breed.slug, Breed.name).join(Breed, Breed.id == Image.breed_id)


def next_images(
    session: Session,
    reviewer: str,
    *,
    limit: int = 6,
    breed_id: int | None = None,
    exclude: Sequence[int] = (),
    order: QueueOrder = "crawl",
    only: ScreenFilter | None = None,
) -> list[ImageCard]:
    """The next ``limit`` images for ``reviewer`` (the first is shown, the rest prefetched), in
    ``order``, only those screening marked ``only`` when given."""
    base = _card_query().where(Image.status == ImageStatus.PENDING, ~live_vote_by(reviewer))
    if breed_id is not None:
        base = base.where(Image.breed_id == breed_id)
    if exclude:
        base = base.where(Image.id.not_in(list(exclude)))
    skipped = live_vote_by(reviewer, (Decision.SKIP,))
    fresh = session.execute(
        apply_order(base.where(~skipped), order, reviewer, only).limit(limit)
    ).all()
    rows = list(fresh)
    if len(rows) < limit:
        rows += session.execute(
            apply_order(base.where(skipped), order, reviewer, only).limit(limit - len(rows))
        ).all()
    return _cards(session, rows)


def cards_by_id(session: Session, image_ids: Sequence[int]) -> list[ImageCard]:
    """Cards for these images, in the order given (missing ids left out)."""
    if not image_ids:
        return []
    rows = session.execute(_card_query().where(Image.id.in_(list(image_ids)))).all()
    by_id = {row[0].id: row for row in rows}
    return _cards(session, [by_id[i] for i in image_ids if i in by_id])


def pending_count(
    session: Session,
    reviewer: str,
    breed_id: int | None = None,
    *,
    min_reviews: int = 1,
    only: ScreenFilter | None = None,
) -> int:
    """How many images are left in ``reviewer``'s queue (shown as progress).

    With ``min_reviews = 1`` a counting vote always settles an image, so no pending image
    carries one and the count needs no look at the reviews (it stays fast with 10,000 images).
    """
    stmt = select(func.count(Image.id)).where(Image.status == ImageStatus.PENDING)
    if min_reviews > 1:
        stmt = stmt.where(~live_vote_by(reviewer))
    if breed_id is not None:
        stmt = stmt.where(Image.breed_id == breed_id)
    if only is not None:
        stmt = apply_order(stmt, "crawl", reviewer, only).order_by(None)
    return session.scalar(stmt) or 0


def _cards(session: Session, rows: Sequence) -> list[ImageCard]:  # type: ignore[type-arg]
    ids = [row[0].id for row in rows]
    flags: dict[int, list[str]] = {}
    if ids:
        for image_id, kind in session.execute(
            select(ImageFlag.image_id, ImageFlag.kind).where(
                and_(ImageFlag.image_id.in_(ids), ImageFlag.resolved_at.is_(None))
            )
        ):
            flags.setdefault(image_id, []).append(str(kind.value))
    marks = marks_for(session, ids)
    return [
        ImageCard(
            id=img.id,
            sha256=img.sha256,
            breed_id=img.breed_id,
            breed_slug=slug,
            breed_name=name,
            status=str(img.status.value),
            provenance=img.provenance,
            width=img.width,
            height=img.height,
            byte_size=img.byte_size,
            format=img.format,
            open_flags=tuple(sorted(flags.get(img.id, ()))),
            screening=marks.get(img.id),
        )
        for img, slug, name in rows
    ]


def has_candidates(session: Session) -> bool:
    """Any image at all, of any status: a database without one has never been crawled or
    imported into, and the queue says how to get candidates rather than "nothing left"."""
    return session.scalar(select(Image.id).limit(1)) is not None
