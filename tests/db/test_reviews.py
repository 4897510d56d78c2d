"""Decisions are appended, never overwritten; status and breed derive from them."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from core.errors import BreedbenchError
from db.database import Database
from db.models import Decision, Image, ImageStatus, Review
from db.reviews import record_decision
from tests.factories import breed_id, insert_image


def _status(db: Database, image_id: int) -> tuple[ImageStatus, int]:
    with db.session() as s:
        img = s.get(Image, image_id)
        assert img is not None
        return img.status, img.breed_id


def test_decisions_append_and_undo(any_database: Database) -> None:
    db = any_database
    img = insert_image(db, "boxer", seed=1)
    assert _status(db, img)[0] == ImageStatus.PENDING
    with db.session() as s:
        record_decision(s, img, "ana", Decision.ACCEPT)
    assert _status(db, img)[0] == ImageStatus.ACCEPTED
    with db.session() as s:
        record_decision(s, img, "ana", Decision.REJECT, reason="not a dog")
    assert _status(db, img)[0] == ImageStatus.REJECTED
    with db.session() as s:
        record_decision(s, img, "ana", Decision.UNDO)
    assert _status(db, img)[0] == ImageStatus.ACCEPTED
    with db.session() as s:
        rows = s.scalars(select(Review).where(Review.image_id == img).order_by(Review.id)).all()
        assert [r.decision for r in rows] == [Decision.ACCEPT, Decision.REJECT, Decision.UNDO]
        assert rows[1].reason == "not a dog" and rows[2].undoes_id == rows[1].id
        assert {r.reviewer for r in rows} == {"ana"}


def test_relabel_moves_the_image_and_undo_moves_it_back(database: Database) -> None:
    img = insert_image(database, "boxer", seed=2)
    pug = breed_id(database, "pug")
    boxer = breed_id(database, "boxer")
    beagle = breed_id(database, "beagle")
    with database.session() as s:
        record_decision(s, img, "bo", Decision.RELABEL, target_breed_id=pug, reason="pug face")
    assert _status(database, img) == (ImageStatus.ACCEPTED, pug)
    with database.session() as s:
        record_decision(s, img, "bo", Decision.RELABEL, target_breed_id=beagle)
    assert _status(database, img) == (ImageStatus.ACCEPTED, beagle)
    with database.session() as s:
        record_decision(s, img, "bo", Decision.UNDO)
        record_decision(s, img, "bo", Decision.UNDO)
    assert _status(database, img) == (ImageStatus.PENDING, boxer)
    with database.session() as s:
        relabel = s.scalar(select(Review).where(Review.decision == Decision.RELABEL))
        image = s.get(Image, img)
        assert relabel is not None and relabel.reason == "pug face"  # stored as given
        assert image is not None and image.found_breed_id == boxer


def test_consensus_needs_two_agreeing_reviewers(database: Database) -> None:
    img = insert_image(database, "pug", seed=3)
    with database.session() as s:
        record_decision(s, img, "ana", Decision.ACCEPT, min_reviews=2)
    assert _status(database, img)[0] == ImageStatus.PENDING
    with database.session() as s:
        record_decision(s, img, "bo", Decision.REJECT, min_reviews=2)
    assert _status(database, img)[0] == ImageStatus.PENDING  # disagreement
    with database.session() as s:
        record_decision(s, img, "bo", Decision.ACCEPT, min_reviews=2)
    assert _status(database, img)[0] == ImageStatus.ACCEPTED


def test_bad_decisions_are_refused_without_writing(database: Database) -> None:
    img = insert_image(database, "pug", seed=4)
    with pytest.raises(BreedbenchError, match="no image with id"), database.session() as s:
        record_decision(s, 999_999, "ana", Decision.ACCEPT)
    with pytest.raises(BreedbenchError, match="nothing|no decision"), database.session() as s:
        record_decision(s, img, "ana", Decision.UNDO)
    with pytest.raises(BreedbenchError, match="reviewer"), database.session() as s:
        record_decision(s, img, " ", Decision.ACCEPT)
    with database.session() as s:
        assert s.scalar(select(func.count()).select_from(Review)) == 0
