"""Decisions from the app and the CLI: validated, appended, undoable."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from core.errors import BreedbenchError
from db.database import Database
from db.models import Decision, ImageStatus, Review
from review.decisions import (
    clean_reviewer,
    decide,
    decide_many,
    normalise_reason,
    undo_last,
)
from tests.factories import breed_id, image_row
from tests.fixtures.app import reviews_of


def test_reject_records_reviewer_and_reason_code(database: Database, add_images) -> None:
    (img,) = add_images("boxer", 1)
    with database.session() as s:
        result = decide(s, img, "  ana  ", "reject", reason="Not a dog")
    assert result.status == ImageStatus.REJECTED
    (row,) = reviews_of(database, img)
    assert (row.reviewer, row.decision, row.reason) == ("ana", Decision.REJECT, "not_a_dog")


def test_undo_last_appends_a_row_and_restores_the_status(database: Database, add_images) -> None:
    first, second = add_images("pug", 2)
    with database.session() as s:
        decide(s, first, "ana", "accept")
        decide(s, second, "ana", "reject", reason="poor_quality")
        decide(s, first, "bo", "accept")  # another reviewer's decision is not ana's to undo
    with database.session() as s:
        undone = undo_last(s, "ana")
    assert undone is not None and undone.image_id == second
    assert image_row(database, second).status == ImageStatus.PENDING
    with database.session() as s:
        again = undo_last(s, "ana")
    assert again is not None and again.image_id == first
    rows = reviews_of(database)
    assert [r.decision for r in rows] == [Decision.ACCEPT, Decision.REJECT, Decision.ACCEPT,
                                          Decision.UNDO, Decision.UNDO]  # fmt: skip
    assert rows[3].undoes_id == rows[1].id and rows[4].undoes_id == rows[0].id
    # bo's accept still counts: the image stays accepted.
    assert image_row(database, first).status == ImageStatus.ACCEPTED
    with database.session() as s:
        assert undo_last(s, "nobody") is None


def test_relabel_moves_the_image(database: Database, add_images) -> None:
    (img,) = add_images("boxer", 1)
    pug = breed_id(database, "pug")
    with database.session() as s:
        result = decide(s, img, "ana", Decision.RELABEL, target_breed_id=pug)
    assert (result.status, result.breed_id) == (ImageStatus.ACCEPTED, pug)
    (row,) = reviews_of(database, img)
    assert row.target_breed_id == pug


def test_bad_input_is_refused_and_nothing_is_written(database: Database, add_images) -> None:
    a, b = add_images("boxer", 2)
    with (
        pytest.raises(BreedbenchError, match="unknown reject reason 'blurry'"),
        database.session() as s,
    ):
        decide(s, a, "ana", "reject", reason="blurry")
    with (
        pytest.raises(BreedbenchError, match="no image with id 424242"),
        database.session() as s,
    ):
        decide_many(s, [a, b, 424242], "ana", "accept")
    with pytest.raises(BreedbenchError, match="reviewer"), database.session() as s:
        decide(s, a, "   ", "accept")
    with (
        pytest.raises(BreedbenchError, match="relabel needs an existing target breed"),
        database.session() as s,
    ):
        decide(s, a, "ana", "relabel")
    with database.session() as s:
        assert s.scalar(select(func.count()).select_from(Review)) == 0
    assert image_row(database, a).status == ImageStatus.PENDING


def test_reason_and_name_normalisation() -> None:
    assert normalise_reason("drawing-or-toy") == "drawing_or_toy"
    assert normalise_reason(" Several breeds ") == "several_breeds"
    assert normalise_reason("") is None
    assert clean_reviewer(" ana   maria ") == "ana maria"
    with pytest.raises(BreedbenchError, match="longer than 60"):
        clean_reviewer("x" * 61)
    with pytest.raises(BreedbenchError, match="control characters"):
        clean_reviewer("ana\x07")
