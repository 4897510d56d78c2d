"""Grid mode (mark rejects, accept the rest) and the breeds overview with its query fix."""

from __future__ import annotations

import pytest

from core.errors import BreedbenchError
from db.database import Database
from db.models import Breed, Decision, ImageStatus
from review.decisions import decide
from review.grid import apply_grid, grid_batch
from review.overview import breeds_overview, use_dog_keyword
from tests.factories import breed_id, image_row
from tests.fixtures.app import reviews_of


def test_grid_rejects_marked_and_accepts_the_rest(database: Database, add_images) -> None:
    ids = add_images("boxer", 30)
    add_images("pug", 2)
    boxer = breed_id(database, "boxer")
    with database.session() as s:
        page = grid_batch(s, "ana", boxer, 24)
    shown = [c.id for c in page]
    assert shown == ids[:24]
    with database.session() as s:
        result = apply_grid(s, "ana", shown, [shown[0], shown[5]], reason="not_a_dog")
    assert (result.accepted, result.rejected) == (22, 2)
    rows = {r.image_id: r for r in reviews_of(database)}
    assert rows[shown[0]].decision == Decision.REJECT and rows[shown[0]].reason == "not_a_dog"
    assert rows[shown[1]].decision == Decision.ACCEPT and rows[shown[1]].reviewer == "ana"
    assert image_row(database, shown[5]).status == ImageStatus.REJECTED
    with database.session() as s:
        assert [c.id for c in grid_batch(s, "ana", boxer, 24)] == ids[24:]


def test_grid_refuses_marks_outside_the_page(database: Database, add_images) -> None:
    ids = add_images("boxer", 3)
    with pytest.raises(BreedbenchError, match="not on this page"), database.session() as s:
        apply_grid(s, "ana", ids[:2], [ids[2]])
    with pytest.raises(BreedbenchError, match="grid size"), database.session() as s:
        grid_batch(s, "ana", breed_id(database, "boxer"), 10)
    assert reviews_of(database) == []


def test_overview_highlights_high_reject_rates(database: Database, add_images) -> None:
    boxer_ids = add_images("boxer", 8)
    pug_ids = add_images("pug", 8)
    with database.session() as s:
        for i in boxer_ids[:6]:
            decide(s, i, "ana", "reject", reason="not_a_dog")
        for i in boxer_ids[6:] + pug_ids:
            decide(s, i, "ana", "accept")
    with database.session() as s:
        rows = {r.counts.slug: r for r in breeds_overview(s)}
    assert rows["boxer"].high_reject and not rows["pug"].high_reject
    assert (rows["boxer"].counts.rejected, rows["boxer"].counts.accepted) == (6, 2)
    assert not rows["beagle"].high_reject  # nothing reviewed yet
    assert len(rows) == 120


def test_dog_keyword_is_recorded_for_the_next_crawl(database: Database) -> None:
    boxer = breed_id(database, "boxer")
    with database.session() as s:
        flag = use_dog_keyword(s, boxer, "ana")
    assert flag.changed and flag.query == "boxer dog"
    with database.session() as s:
        row = s.get(Breed, boxer)
        assert row is not None
        assert row.dog_keyword and row.query_flagged_by == "ana"
        assert row.query_flagged_at is not None
        first = row.query_flagged_at
    with database.session() as s:
        again = use_dog_keyword(s, boxer, "bo")
    assert not again.changed and again.flagged_by == "ana"
    with database.session() as s:
        row = s.get(Breed, boxer)
        assert row is not None and row.query_flagged_at == first
    with pytest.raises(BreedbenchError, match="no breed with id"), database.session() as s:
        use_dog_keyword(s, 99_999, "ana")
