"""The conflict queue of consensus review (``--min-reviews 2`` and up).

With consensus, an image is accepted or rejected only when enough reviewers agree (the rule is in
``db.reviews``). Images whose reviewers disagree stay pending and are listed here with every
vote, so a further reviewer can settle them or a reviewer can change their mind.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from core.chunks import id_chunks
from db.models import Breed, Decision, Image, ImageStatus, Review
from db.reviews import REJECT_OPTION, effective_reviews, vote_option
from review.decisions import reason_label
from review.queue import ImageCard, cards_by_id

PAGE_SIZE = 10


@dataclass(frozen=True, slots=True)
class Vote:
    reviewer: str
    decision: str
    detail: str  # the reason, or the breed of a relabel


@dataclass(frozen=True, slots=True)
class Disagreement:
    image: ImageCard
    votes: tuple[Vote, ...]


def disagreements(
    session: Session, *, page: int = 0, page_size: int = PAGE_SIZE
) -> list[Disagreement]:
    """Pending images whose counting votes differ, oldest first."""
    candidates = (
        select(Review.image_id)
        .join(Image, Image.id == Review.image_id)
        .where(
            Image.status == ImageStatus.PENDING,
            Review.decision.in_([Decision.ACCEPT, Decision.REJECT, Decision.RELABEL]),
        )
        .group_by(Review.image_id)
        .having(func.count(func.distinct(Review.reviewer)) >= 2)
        .order_by(Review.image_id)
    )
    found: list[tuple[int, list[Review]]] = []
    skip = page * page_size
    for chunk in id_chunks(session.scalars(candidates), 200):
        history: dict[int, list[Review]] = {i: [] for i in chunk}
        for r in session.scalars(
            select(Review).where(Review.image_id.in_(chunk)).order_by(Review.id)
        ):
            history[r.image_id].append(r)
        for image_id in chunk:
            latest: dict[str, Review] = {}
            for r in effective_reviews(history[image_id]):
                latest[r.reviewer] = r
            if len({vote_option(r) for r in latest.values()}) < 2:
                continue
            if skip:
                skip -= 1
                continue
            found.append((image_id, list(latest.values())))
        if len(found) >= page_size:
            break
    found = found[:page_size]
    cards = {c.id: c for c in cards_by_id(session, [i for i, _ in found])}
    names = dict(session.execute(select(Breed.id, Breed.name)).tuples().all())
    return [
        Disagreement(cards[i], tuple(_vote(r, names) for r in votes))
        for i, votes in found
        if i in cards
    ]


def _vote(r: Review, names: dict[int, str]) -> Vote:
    option = vote_option(r)
    if option == REJECT_OPTION:
        return Vote(r.reviewer, "reject", reason_label(r.reason))
    if r.decision == Decision.RELABEL:
        return Vote(r.reviewer, "relabel", names.get(r.target_breed_id or 0, "?"))
    return Vote(r.reviewer, "accept", "")
