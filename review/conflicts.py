"""Duplicates and conflicts found by the crawler, resolved by a reviewer.

A flag (``image_flags``) points at an image and, for near-duplicates and cross-breed conflicts,
at the other image. Resolving it records ordinary decisions (so the audit trail and the status
rule stay the same everywhere) and marks the flag resolved with who, when and what.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from core.errors import BreedbenchError
from db.models import Breed, Decision, FlagKind, ImageFlag, utcnow
from review.decisions import clean_reviewer, decide
from review.queue import ImageCard, cards_by_id

PAGE_SIZE = 10


class Resolution(enum.StrEnum):
    KEEP_BOTH = "keep_both"  # not a duplicate / not a conflict: nothing rejected
    KEEP_IMAGE = "keep_image"  # keep the flagged image, reject the other one
    KEEP_OTHER = "keep_other"  # keep the other image, reject the flagged one
    REJECT_IMAGE = "reject_image"  # reject the flagged image (a leak, or both wrong)
    REJECT_BOTH = "reject_both"
    RELABEL_IMAGE = "relabel_image"  # the flagged image shows another breed


# What each kind of flag offers, in button order.
ACTIONS: dict[FlagKind, tuple[Resolution, ...]] = {
    FlagKind.NEAR_DUPLICATE: (Resolution.KEEP_IMAGE, Resolution.KEEP_OTHER, Resolution.KEEP_BOTH),
    FlagKind.CROSS_BREED: (
        Resolution.KEEP_IMAGE,
        Resolution.KEEP_OTHER,
        Resolution.REJECT_BOTH,
        Resolution.KEEP_BOTH,
    ),
    FlagKind.LEAK: (Resolution.REJECT_IMAGE, Resolution.KEEP_BOTH),
}


@dataclass(frozen=True, slots=True)
class FlagView:
    id: int
    kind: str
    distance: int | None
    detail: str | None
    image: ImageCard
    other: ImageCard | None


def open_flag_counts(session: Session) -> dict[str, int]:
    rows = session.execute(
        select(ImageFlag.kind, func.count())
        .where(ImageFlag.resolved_at.is_(None))
        .group_by(ImageFlag.kind)
    ).all()
    counts = {k.value: 0 for k in FlagKind}
    counts.update({kind.value: n for kind, n in rows})
    return counts


def open_flags(
    session: Session, kind: FlagKind | str, *, page: int = 0, page_size: int = PAGE_SIZE
) -> list[FlagView]:
    """One page of unresolved flags of a kind, oldest first (ix_image_flags_kind_resolved)."""
    flags = list(
        session.scalars(
            select(ImageFlag)
            .where(ImageFlag.kind == FlagKind(kind), ImageFlag.resolved_at.is_(None))
            .order_by(ImageFlag.id)
            .offset(page * page_size)
            .limit(page_size)
        )
    )
    ids = {f.image_id for f in flags} | {f.other_image_id for f in flags if f.other_image_id}
    cards = {c.id: c for c in cards_by_id(session, sorted(ids))}
    return [
        FlagView(
            id=f.id,
            kind=f.kind.value,
            distance=f.distance,
            detail=f.detail,
            image=cards[f.image_id],
            other=cards.get(f.other_image_id) if f.other_image_id else None,
        )
        for f in flags
        if f.image_id in cards
    ]


def resolve_flag(
    session: Session,
    flag_id: int,
    reviewer: str,
    resolution: Resolution | str,
    *,
    target_breed_id: int | None = None,
    min_reviews: int = 1,
) -> str:
    """Record the decisions a resolution implies and mark the flag resolved; returns its text."""
    reviewer = clean_reviewer(reviewer)
    resolution = Resolution(resolution)
    flag = session.get(ImageFlag, flag_id, with_for_update=True)
    if flag is None:
        raise BreedbenchError(f"no flag with id {flag_id}")
    if flag.resolved_at is not None:
        raise BreedbenchError(
            f"flag {flag_id} was already resolved by {flag.resolved_by}: {flag.resolution}"
        )
    needs_other = resolution in (
        Resolution.KEEP_IMAGE, Resolution.KEEP_OTHER, Resolution.REJECT_BOTH
    )  # fmt: skip
    if needs_other and flag.other_image_id is None:
        raise BreedbenchError(f"flag {flag_id} has no second image")
    reason = {
        FlagKind.NEAR_DUPLICATE: "duplicate",
        FlagKind.CROSS_BREED: "not_this_breed",
        FlagKind.LEAK: "leak",
    }[flag.kind]

    def reject(image_id: int) -> None:
        decide(session, image_id, reviewer, Decision.REJECT, reason=reason,
               min_reviews=min_reviews)  # fmt: skip

    if resolution == Resolution.KEEP_IMAGE:
        assert flag.other_image_id is not None
        reject(flag.other_image_id)
        text = f"kept image {flag.image_id}, rejected image {flag.other_image_id}"
    elif resolution == Resolution.KEEP_OTHER:
        assert flag.other_image_id is not None
        reject(flag.image_id)
        text = f"kept image {flag.other_image_id}, rejected image {flag.image_id}"
    elif resolution == Resolution.REJECT_BOTH:
        assert flag.other_image_id is not None
        reject(flag.image_id)
        reject(flag.other_image_id)
        text = f"rejected images {flag.image_id} and {flag.other_image_id}"
    elif resolution == Resolution.REJECT_IMAGE:
        reject(flag.image_id)
        text = f"rejected image {flag.image_id}"
    elif resolution == Resolution.RELABEL_IMAGE:
        if target_breed_id is None:
            raise BreedbenchError("relabel needs a target breed")
        decide(session, flag.image_id, reviewer, Decision.RELABEL,
               target_breed_id=target_breed_id, min_reviews=min_reviews)  # fmt: skip
        breed = session.get(Breed, target_breed_id)
        text = f"relabelled image {flag.image_id} to {breed.slug if breed else target_breed_id}"
    else:
        text = "kept both" if flag.other_image_id else "kept"
    flag.resolved_at = utcnow()
    flag.resolved_by = reviewer
    flag.resolution = text
    session.flush()
    return text
