"""Decisions are appended, never overwritten; status and breed derive from them."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select, update

from core.errors import BreedbenchError
from db.database import Database
from db.models import Decision, Image, ImageStatus, Review
from db.reviews import (
    Outcome,
    _apply_outcome,
    _check_no_clash,
    _check_target_breed,
    _history,
    _lock_image,
    _undo_target,
    record_decision,
)
from tests.factories import breed_id, insert_image, jpeg_bytes


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


# --- the steps of record_decision, one job each ----------------------------------------------


def test_lock_image_reads_the_row_fresh_or_names_the_missing_id(database: Database) -> None:
    img = insert_image(database, "pug", seed=5)
    with database.session() as s:
        stale = s.get(Image, img)
        assert stale is not None
        with database.session() as other:
            other.execute(update(Image).where(Image.id == img).values(status="accepted"))
        assert _lock_image(s, img).status == ImageStatus.ACCEPTED  # not the stale "pending"
        with pytest.raises(BreedbenchError, match="no image with id 424242"):
            _lock_image(s, 424242)


def test_history_is_in_decision_order(database: Database) -> None:
    img = insert_image(database, "pug", seed=6)
    with database.session() as s:
        for decision in (Decision.ACCEPT, Decision.SKIP, Decision.REJECT):
            record_decision(s, img, "ana", decision)
    with database.session() as s:
        assert [r.decision for r in _history(s, img)] == [
            Decision.ACCEPT,
            Decision.SKIP,
            Decision.REJECT,
        ]
        assert _history(s, 424242) == []


def test_relabel_needs_an_existing_target_breed(database: Database) -> None:
    pug = breed_id(database, "pug")
    with database.session() as s:
        _check_target_breed(s, Decision.RELABEL, pug)
        _check_target_breed(s, Decision.ACCEPT, None)  # only a relabel names a target
        for target in (None, 424242):
            with pytest.raises(BreedbenchError, match="relabel needs an existing target breed"):
                _check_target_breed(s, Decision.RELABEL, target)


def _review(id_: int, reviewer: str, decision: Decision, undoes_id: int | None = None) -> Review:
    return Review(id=id_, image_id=1, reviewer=reviewer, decision=decision, undoes_id=undoes_id)


def test_undo_target_is_the_given_decision_or_the_reviewers_latest() -> None:
    history = [
        _review(1, "ana", Decision.ACCEPT),
        _review(2, "bo", Decision.REJECT),
        _review(3, "ana", Decision.REJECT),
        _review(4, "ana", Decision.UNDO, undoes_id=3),
    ]
    assert _undo_target(history, "ana", 1, None) == 1  # 3 is undone already
    assert _undo_target(history, "bo", 1, None) == 2
    assert _undo_target(history, "cy", 1, 2) == 2  # anyone's decision, when named
    with pytest.raises(BreedbenchError, match="cy has no decision on image 1 to undo"):
        _undo_target(history, "cy", 1, None)
    with pytest.raises(BreedbenchError, match="review 9 is not a decision on image 1"):
        _undo_target(history, "ana", 1, 9)


def test_undo_of_another_images_decision_is_refused_without_writing(database: Database) -> None:
    a, b = insert_image(database, "pug", seed=7), insert_image(database, "pug", seed=8)
    with database.session() as s:
        other = record_decision(s, b, "ana", Decision.ACCEPT).id
    with (
        pytest.raises(BreedbenchError, match=f"review {other} is not a decision on image {a}"),
        database.session() as s,
    ):
        record_decision(s, a, "ana", Decision.UNDO, undoes_id=other)
    with database.session() as s:
        assert s.scalar(select(func.count()).select_from(Review)) == 1


def test_apply_outcome_sets_status_and_moves_between_breeds(database: Database) -> None:
    img = insert_image(database, "boxer", seed=9)
    boxer, pug = breed_id(database, "boxer"), breed_id(database, "pug")
    with database.session() as s:
        image = s.get(Image, img)
        assert image is not None
        _apply_outcome(s, image, Outcome(ImageStatus.ACCEPTED, pug))
        assert (image.status, image.breed_id, image.found_breed_id) == (
            ImageStatus.ACCEPTED,
            pug,
            boxer,
        )
        _apply_outcome(s, image, Outcome(ImageStatus.PENDING, None))  # back where it was found
        assert (image.status, image.breed_id) == (ImageStatus.PENDING, boxer)


def test_a_relabel_onto_the_same_picture_of_that_breed_is_refused(database: Database) -> None:
    data = jpeg_bytes(seed=10)
    img = insert_image(database, "boxer", data=data)
    twin = insert_image(database, "pug", data=data)  # the same bytes, kept for another breed
    pug = breed_id(database, "pug")
    with database.session() as s:
        image = s.get(Image, img)
        assert image is not None
        with pytest.raises(BreedbenchError, match=f"already image {twin} of that breed"):
            _check_no_clash(s, image, pug)
        _check_no_clash(s, image, breed_id(database, "beagle"))  # no such picture there
    with (
        pytest.raises(BreedbenchError, match=f"image {img} cannot move"),
        database.session() as s,
    ):
        record_decision(s, img, "ana", Decision.RELABEL, target_breed_id=pug)
    assert _status(database, img) == (ImageStatus.PENDING, breed_id(database, "boxer"))
    with database.session() as s:
        assert s.scalar(select(func.count()).select_from(Review)) == 0
