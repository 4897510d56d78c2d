"""Two reviewers deciding the same image at the same moment: both decisions are kept, and the
status follows the documented rule (db/reviews.py), on SQLite and on PostgreSQL."""

from __future__ import annotations

import threading

import pytest

from db.database import Database
from db.models import Decision, ImageStatus
from db.reviews import derive_outcome
from review.decisions import decide
from tests.factories import image_row, insert_image
from tests.fixtures.app import reviews_of


def _race(db: Database, image_id: int, votes: list[tuple[str, str]], min_reviews: int) -> None:
    barrier = threading.Barrier(len(votes))
    errors: list[BaseException] = []

    def run(reviewer: str, decision: str) -> None:
        try:
            barrier.wait(timeout=10)
            with db.session() as s:
                decide(s, image_id, reviewer, decision,
                       reason="not_a_dog" if decision == "reject" else None,
                       min_reviews=min_reviews)  # fmt: skip
        except BaseException as exc:  # noqa: BLE001 - re-raised in the test thread
            errors.append(exc)

    threads = [threading.Thread(target=run, args=v) for v in votes]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not errors, errors


@pytest.mark.parametrize("rounds", [3])
def test_concurrent_opposite_decisions_latest_wins(any_database: Database, rounds: int) -> None:
    for n in range(rounds):
        img = insert_image(any_database, "boxer", seed=100 + n)
        _race(any_database, img, [("ana", "accept"), ("bo", "reject")], 1)
        rows = reviews_of(any_database, img)
        assert sorted((r.reviewer, r.decision) for r in rows) == [
            ("ana", Decision.ACCEPT),
            ("bo", Decision.REJECT),
        ]
        expected = ImageStatus.REJECTED if rows[-1].reviewer == "bo" else ImageStatus.ACCEPTED
        assert image_row(any_database, img).status == expected
        assert derive_outcome(rows, 1).status == expected


def test_concurrent_agreeing_reviewers_reach_consensus(any_database: Database) -> None:
    img = insert_image(any_database, "pug", seed=200)
    _race(any_database, img, [("ana", "accept"), ("bo", "accept")], 2)
    assert len(reviews_of(any_database, img)) == 2
    assert image_row(any_database, img).status == ImageStatus.ACCEPTED
    split = insert_image(any_database, "pug", seed=201)
    _race(any_database, split, [("ana", "accept"), ("bo", "reject")], 2)
    assert len(reviews_of(any_database, split)) == 2
    assert image_row(any_database, split).status == ImageStatus.PENDING
