"""Grid mode: one breed's pending images as thumbnails; mark the rejects, accept the rest.

Most candidates of a well-chosen query are fine, so the fast path is to look at a page of
thumbnails, pick the few wrong ones and accept everything else in one transaction.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy.orm import Session

from core.errors import BreedbenchError
from db.models import Decision
from review.decisions import decide
from review.queue import ImageCard, next_images
from review.screening import QueueOrder, ScreenFilter

GRID_SIZES = (24, 36, 48)


@dataclass(frozen=True, slots=True)
class GridResult:
    accepted: int
    rejected: int


def grid_batch(
    session: Session,
    reviewer: str,
    breed_id: int,
    size: int = 48,
    *,
    order: QueueOrder = "crawl",
    only: ScreenFilter | None = None,
) -> list[ImageCard]:
    """The next page of the breed's images still waiting for this reviewer, in ``order`` (and
    only those screening marked ``only``), as the queue orders them."""
    if size not in GRID_SIZES:
        raise BreedbenchError(f"grid size must be one of {', '.join(map(str, GRID_SIZES))}")
    return next_images(session, reviewer, limit=size, breed_id=breed_id, order=order, only=only)


def apply_grid(
    session: Session,
    reviewer: str,
    shown_ids: Sequence[int],
    reject_ids: Sequence[int],
    *,
    reason: str = "not_this_breed",
    min_reviews: int = 1,
) -> GridResult:
    """Reject the marked images and accept the rest of the page, all in one transaction."""
    rejects = set(reject_ids)
    stray = rejects - set(shown_ids)
    if stray:
        raise BreedbenchError(f"images {sorted(stray)} were not on this page")
    for image_id in shown_ids:
        if image_id in rejects:
            decide(session, image_id, reviewer, Decision.REJECT, reason=reason,
                   min_reviews=min_reviews)  # fmt: skip
        else:
            decide(session, image_id, reviewer, Decision.ACCEPT, min_reviews=min_reviews)
    return GridResult(accepted=len(shown_ids) - len(rejects), rejected=len(rejects))
