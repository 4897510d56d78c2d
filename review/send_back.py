"""Sending an accepted (or rejected) image back to the review queue.

The evaluation pages find images whose label looks wrong; returning one to the queue is a review
decision — a ``reset`` row with who, when and why, appended like every other — so it lives with
the review logic, not with the evaluator that found the image. Unlike a decision in the queue it
is not undone by the queue's undo (``undo_last`` passes over resets): the image is settled again
by reviewing it.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from db.models import Decision, Image, ImageStatus
from db.reviews import record_decision
from review.decisions import clean_reviewer

SEND_BACK_REASON = "mistakes gallery: label looks wrong"


def send_back_to_review(
    session: Session, image_id: int, reviewer: str, reason: str = SEND_BACK_REASON
) -> str:
    """Reset an image's review (it returns to the queue as pending); returns the new status."""
    record_decision(session, image_id, clean_reviewer(reviewer), Decision.RESET, reason=reason)
    status = session.scalar(select(Image.status).where(Image.id == image_id))
    return ImageStatus(status).value
