"""Recording decisions: the app's buttons, the grid, the conflicts page and ``breedbench decide``
all come through here, so every decision is validated and written the same way.

Rows are only ever appended (``db.reviews.record_decision``); undo is a new row pointing at the
one it cancels, so the audit trail shows who did what, and when.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import exists, select
from sqlalchemy.orm import Session, aliased

from core.errors import BreedbenchError
from db.models import Breed, Decision, Image, ImageStatus, Review
from db.reviews import record_decision

# Reason codes (stored) and their labels (shown). The order is the keyboard order 1..6.
REJECT_REASONS: dict[str, str] = {
    "not_this_breed": "not this breed",
    "not_a_dog": "not a dog",
    "several_breeds": "several breeds",
    "drawing_or_toy": "drawing or toy",
    "duplicate": "duplicate",
    "poor_quality": "poor quality",
}
# Reasons used by the conflicts page, not offered as buttons in the queue.
EXTRA_REASONS: dict[str, str] = {"leak": "in a training set"}
MAX_REVIEWER_LENGTH = 60


@dataclass(frozen=True, slots=True)
class DecisionResult:
    review_id: int
    image_id: int
    decision: str
    reason: str | None
    status: str  # the image's status after this decision
    breed_id: int


def clean_reviewer(name: str | None) -> str:
    """A reviewer name as stored: trimmed, printable, at most 60 characters."""
    cleaned = " ".join((name or "").split())
    if not cleaned:
        raise BreedbenchError("a decision needs a reviewer name")
    if len(cleaned) > MAX_REVIEWER_LENGTH:
        raise BreedbenchError(f"reviewer name is longer than {MAX_REVIEWER_LENGTH} characters")
    if not cleaned.isprintable():
        raise BreedbenchError("reviewer name contains control characters")
    return cleaned


def normalise_reason(reason: str | None) -> str | None:
    """``"Not a dog"``, ``"not-a-dog"`` and ``"not_a_dog"`` are the same reason code."""
    if reason is None or not reason.strip():
        return None
    code = "_".join(reason.strip().lower().replace("-", " ").split())
    known = REJECT_REASONS | EXTRA_REASONS
    if code not in known:
        label_codes = {v.replace(" ", "_"): k for k, v in known.items()}
        if code in label_codes:
            return label_codes[code]
        raise BreedbenchError(f"unknown reject reason {reason!r}; use one of: " + ", ".join(known))
    return code


def reason_label(code: str | None) -> str:
    if code is None:
        return ""
    return (REJECT_REASONS | EXTRA_REASONS).get(code, code)


def decide(
    session: Session,
    image_id: int,
    reviewer: str,
    decision: Decision | str,
    *,
    reason: str | None = None,
    target_breed_id: int | None = None,
    min_reviews: int = 1,
) -> DecisionResult:
    """Record one decision (accept, reject, skip, relabel) and return the image's new state.

    ``record_decision`` does the recording and its checks; this layer only adds what a decision
    entered by a person needs: no undo or reset here, a cleaned name, a known reason code for a
    reject, a target breed only for a relabel.
    """
    decision = Decision(decision)
    if decision in (Decision.UNDO, Decision.RESET):
        raise BreedbenchError("use undo_last to undo a decision")
    reviewer = clean_reviewer(reviewer)
    code = normalise_reason(reason) if decision == Decision.REJECT else reason
    row = record_decision(
        session,
        image_id,
        reviewer,
        decision,
        reason=code,
        target_breed_id=target_breed_id if decision == Decision.RELABEL else None,
        min_reviews=min_reviews,
    )
    return _result(session, row)


def decide_many(
    session: Session,
    image_ids: Sequence[int],
    reviewer: str,
    decision: Decision | str,
    *,
    reason: str | None = None,
    min_reviews: int = 1,
) -> list[DecisionResult]:
    """The same decision on several images in one transaction: all recorded, or none."""
    return [
        decide(session, i, reviewer, decision, reason=reason, min_reviews=min_reviews)
        for i in image_ids
    ]


def undo_last(session: Session, reviewer: str, *, min_reviews: int = 1) -> DecisionResult | None:
    """Undo ``reviewer``'s latest decision that is not undone yet (any image); None if none."""
    reviewer = clean_reviewer(reviewer)
    undo = aliased(Review)
    target = session.scalar(
        select(Review)
        .where(
            Review.reviewer == reviewer,
            Review.decision.not_in([Decision.UNDO, Decision.RESET]),
            ~exists(select(undo.id).where(undo.undoes_id == Review.id)),
        )
        .order_by(Review.id.desc())
        .limit(1)
    )
    if target is None:
        return None
    row = record_decision(
        session,
        target.image_id,
        reviewer,
        Decision.UNDO,
        undoes_id=target.id,
        min_reviews=min_reviews,
    )
    return _result(session, row)


def pending_image_ids(session: Session, breed_id: int) -> list[int]:
    """Every pending image of a breed, oldest first (``decide --all-pending``)."""
    return list(
        session.scalars(
            select(Image.id)
            .where(Image.breed_id == breed_id, Image.status == ImageStatus.PENDING)
            .order_by(Image.id)
        )
    )


@dataclass(frozen=True, slots=True)
class BreedChoice:
    id: int
    slug: str
    name: str

    @property
    def label(self) -> str:
        return f"{self.name} ({self.slug})"


def breed_choices(session: Session) -> list[BreedChoice]:
    """All breeds for the searchable relabel select, in seed order."""
    return [
        BreedChoice(i, s, n)
        for i, s, n in session.execute(
            select(Breed.id, Breed.slug, Breed.name).order_by(Breed.position, Breed.id)
        )
    ]


def _result(session: Session, row: Review) -> DecisionResult:
    image = session.get(Image, row.image_id)
    assert image is not None
    return DecisionResult(
        review_id=row.id,
        image_id=row.image_id,
        decision=str(Decision(row.decision).value),
        reason=row.reason,
        status=str(image.status.value),
        breed_id=image.breed_id,
    )
