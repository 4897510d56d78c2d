"""Review decisions: appended, never overwritten; an image's status and breed derive from them.

The rule (documented in the README): the decisions of an image are read in order; an ``undo`` row
cancels the row it points at; a ``reset`` clears everything before it. Then each reviewer's latest
remaining accept/reject/relabel counts once:

* ``min_reviews = 1`` (default): the latest decision of anyone wins — two reviewers deciding the
  same image at once are both recorded, and the one committed last sets the status;
* ``min_reviews = k``: each reviewer's vote is "reject" or a breed ("accept" = the breed it was
  found for, "relabel" = the target breed). The option with the most votes wins when it has at
  least k votes and more than half of all votes: accepted (for that breed) or rejected. Otherwise
  the image stays pending; when its votes differ it is a disagreement (listed by
  ``review.consensus.disagreements`` for the conflict queue), settled when a reviewer
  changes their vote or further reviewers make one option the majority.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from core.errors import BreedbenchError
from db.models import Breed, Decision, Image, ImageStatus, Review


@dataclass(frozen=True, slots=True)
class Outcome:
    status: ImageStatus
    breed_id: int | None  # None: the breed it was found for


def effective_reviews(reviews: Sequence[Review]) -> list[Review]:
    """The decisions that still count: undone rows and everything before a reset removed."""
    undone = {r.undoes_id for r in reviews if r.decision == Decision.UNDO and r.undoes_id}
    live: list[Review] = []
    for r in reviews:
        if r.id in undone or r.decision in (Decision.UNDO, Decision.SKIP):
            continue
        if r.decision == Decision.RESET:
            live.clear()
            continue
        live.append(r)
    return live


def derive_outcome(reviews: Sequence[Review], min_reviews: int = 1) -> Outcome:
    live = effective_reviews(reviews)
    if not live:
        return Outcome(ImageStatus.PENDING, None)
    if min_reviews <= 1:
        last = live[-1]
        if last.decision == Decision.REJECT:
            return Outcome(ImageStatus.REJECTED, _last_relabel(live))
        return Outcome(ImageStatus.ACCEPTED, _last_relabel(live))
    latest: dict[str, Review] = {}
    for r in live:
        latest[r.reviewer] = r
    tally = Counter(vote_option(r) for r in latest.values())
    option, votes = tally.most_common(1)[0]
    if votes >= min_reviews and votes * 2 > len(latest):
        if option == REJECT_OPTION:
            return Outcome(ImageStatus.REJECTED, None)
        return Outcome(ImageStatus.ACCEPTED, option or None)
    return Outcome(ImageStatus.PENDING, None)


REJECT_OPTION = -1  # the "reject" vote; 0 is "accept for the breed it was found for"


def vote_option(review: Review) -> int:
    """A vote as one comparable value: ``REJECT_OPTION``, 0 (accept) or the relabel target."""
    if review.decision == Decision.REJECT:
        return REJECT_OPTION
    if review.decision == Decision.RELABEL:
        return review.target_breed_id or 0
    return 0


def _last_relabel(live: Sequence[Review]) -> int | None:
    for r in reversed(live):
        if r.decision == Decision.RELABEL:
            return r.target_breed_id
    return None


def record_decision(
    session: Session,
    image_id: int,
    reviewer: str,
    decision: Decision | str,
    *,
    reason: str | None = None,
    target_breed_id: int | None = None,
    undoes_id: int | None = None,
    min_reviews: int = 1,
) -> Review:
    """Append one decision and derive the image's status (and breed) again, atomically.

    Nothing is read before the image row is locked (``_lock_image``), so two concurrent deciders
    serialise instead of deriving the status from a stale view. A refused decision raises
    ``BreedbenchError`` inside the caller's transaction, which then writes nothing.
    """
    decision = Decision(decision)
    reviewer = _required_reviewer(reviewer)
    image = _lock_image(session, image_id)
    history = _history(session, image_id)
    _check_target_breed(session, decision, target_breed_id)
    if decision == Decision.UNDO:
        undoes_id = _undo_target(history, reviewer, image_id, undoes_id)
    row = Review(
        image_id=image_id,
        reviewer=reviewer,
        decision=decision,
        reason=reason,
        target_breed_id=target_breed_id,
        undoes_id=undoes_id,
    )
    session.add(row)
    session.flush()
    _apply_outcome(session, image, derive_outcome([*history, row], min_reviews))
    session.flush()
    return row


def _required_reviewer(reviewer: str | None) -> str:
    name = (reviewer or "").strip()
    if not name:
        raise BreedbenchError("a decision needs a reviewer name")
    return name


def _lock_image(session: Session, image_id: int) -> Image:
    """The image row, locked for this transaction (and freshly read), or a clear error.

    The first statement is a write on the row: it takes the row lock on PostgreSQL and the write
    lock on SQLite before anything is read.
    """
    locked = session.execute(
        update(Image).where(Image.id == image_id).values(status=Image.status)
    ).rowcount
    if not locked:
        raise BreedbenchError(f"no image with id {image_id}")
    image = session.get(Image, image_id, populate_existing=True)
    assert image is not None
    return image


def _history(session: Session, image_id: int) -> list[Review]:
    """The image's decisions so far, in the order they were made."""
    stmt = select(Review).where(Review.image_id == image_id).order_by(Review.id)
    return list(session.scalars(stmt))


def _check_target_breed(session: Session, decision: Decision, target_breed_id: int | None) -> None:
    """A relabel must name a breed that exists."""
    if decision == Decision.RELABEL and (
        target_breed_id is None or session.get(Breed, target_breed_id) is None
    ):
        raise BreedbenchError("relabel needs an existing target breed")


def _undo_target(
    history: Sequence[Review], reviewer: str, image_id: int, undoes_id: int | None
) -> int:
    """The decision an undo cancels: the one given, which must be on this image, or else the
    reviewer's latest one not undone yet."""
    if undoes_id is None:
        target = last_undoable(history, reviewer)
        if target is None:
            raise BreedbenchError(f"{reviewer} has no decision on image {image_id} to undo")
        return target.id
    if not any(r.id == undoes_id for r in history):
        raise BreedbenchError(f"review {undoes_id} is not a decision on image {image_id}")
    return undoes_id


def _apply_outcome(session: Session, image: Image, outcome: Outcome) -> None:
    """Set the derived status and move the image to the derived breed (by default the breed it
    was found for), unless that breed already holds the same picture."""
    image.status = outcome.status
    new_breed = outcome.breed_id or image.found_breed_id
    if new_breed != image.breed_id:
        _check_no_clash(session, image, new_breed)
        image.breed_id = new_breed


def _check_no_clash(session: Session, image: Image, breed_id: int) -> None:
    """A breed holds the same bytes once (the ``breed_id, sha256`` constraint): refuse a move
    that would break it with a clear message instead of an integrity error."""
    clash = session.scalar(
        select(Image.id).where(Image.breed_id == breed_id, Image.sha256 == image.sha256)
    )
    if clash is not None:
        raise BreedbenchError(
            f"image {image.id} cannot move: the same picture is already image {clash} of that breed"
        )


def last_undoable(history: Iterable[Review], reviewer: str) -> Review | None:
    """The reviewer's latest decision that has not been undone yet."""
    rows = list(history)
    undone = {r.undoes_id for r in rows if r.decision == Decision.UNDO}
    for r in reversed(rows):
        if r.reviewer == reviewer and r.decision != Decision.UNDO and r.id not in undone:
            return r
    return None
