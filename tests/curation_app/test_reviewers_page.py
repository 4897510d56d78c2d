"""The Reviewers page under AppTest: per-reviewer figures and pairwise agreement."""

from __future__ import annotations

from db.database import Database
from db.reviews import record_decision
from tests.fixtures.app import open_app


def test_reviewers_page_shows_figures_and_agreement(app_env: Database, add_images) -> None:
    ids = add_images("boxer", 3)
    for who, decisions in (("ana", ["accept", "accept", "reject"]), ("ben", ["accept", "reject"])):
        for image_id, decision in zip(ids, decisions, strict=False):
            with app_env.session() as s:
                record_decision(s, image_id, who, decision, reason=None)
    at = open_app("reviewers.py")
    people = at.dataframe[0].value
    assert list(people["reviewer"]) == ["ana", "ben"]
    assert list(people["decisions"]) == [3, 2]
    # ids[1]: ana accepted, ben's later reject settled it: ana overruled once
    assert list(people["overruled"]) == [1, 0]
    pairs = at.dataframe[1].value
    assert list(pairs["shared images"]) == [2] and list(pairs["agreement %"]) == [50.0]


def test_reviewers_page_without_decisions(app_env: Database) -> None:
    at = open_app("reviewers.py")
    assert any("No decisions" in i.value for i in at.info)
