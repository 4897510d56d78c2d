"""Sending an image back to the review queue from the evaluation pages (SQLite and PostgreSQL)."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from core.errors import BreedbenchError
from db.database import Database
from db.models import Decision, Image, ImageStatus, Review
from db.reviews import record_decision
from review.send_back import SEND_BACK_REASON, send_back_to_review
from tests.factories import insert_image


def test_send_back_to_review_appends_a_reset_and_makes_it_pending(any_database: Database) -> None:
    database = any_database
    image_id = insert_image(database, "pug", seed=1)
    with database.session() as s:
        record_decision(s, image_id, "ben", Decision.ACCEPT)
    with database.session() as s:
        assert send_back_to_review(s, image_id, "  ana  ") == "pending"
    with database.session() as s:
        assert s.get(Image, image_id).status == ImageStatus.PENDING  # type: ignore[union-attr]
        last = s.scalars(
            select(Review).where(Review.image_id == image_id).order_by(Review.id.desc())
        ).first()
        assert last is not None
        assert (last.decision, last.reviewer, last.reason) == (
            Decision.RESET,
            "ana",
            SEND_BACK_REASON,
        )
        with pytest.raises(BreedbenchError, match="needs a reviewer name"):
            send_back_to_review(s, image_id, " ")
        with pytest.raises(BreedbenchError, match="longer than 60 characters"):
            send_back_to_review(s, image_id, "x" * 61)  # the app's rules for every name
        with pytest.raises(BreedbenchError, match="no image with id 999999"):
            send_back_to_review(s, 999_999, "ana")
