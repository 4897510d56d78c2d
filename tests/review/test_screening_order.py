"""The queue's orders and screening filters: screening orders and marks, never decides."""

from __future__ import annotations

import pytest

from core.errors import BreedbenchError
from db.database import Database
from review.datasheet import _screening_section
from review.grid import grid_batch
from review.queue import next_images, pending_count
from tests.factories import breed_id, insert_image
from tests.fixtures.assist import AddScreening, screening_adder


@pytest.fixture
def screened(database: Database, add_screening: AddScreening) -> dict[str, int]:
    """Five pending pugs: a cat, a beagle-looking one, two clear pugs, one never screened."""
    ids = {name: insert_image(database, "pug", seed=n) for n, name in
           enumerate(["clear", "cat", "unscreened", "beagle_like", "sure"])}  # fmt: skip
    add_screening({
        ids["clear"]: (0.95, 0.80, True),
        ids["cat"]: (0.08, 0.03, False),
        ids["beagle_like"]: (0.97, 0.20, False),
        ids["sure"]: (0.99, 0.97, True),
    })  # fmt: skip
    return ids


def _order(db: Database, reviewer: str = "ana", **kw: object) -> list[int]:
    with db.session() as s:
        return [c.id for c in next_images(s, reviewer, limit=10, **kw)]  # type: ignore[arg-type]


def test_most_doubtful_and_most_confident_first(database: Database, screened) -> None:
    ids = screened
    assert _order(database, order="doubtful") == [
        ids["cat"], ids["beagle_like"], ids["clear"], ids["sure"], ids["unscreened"]
    ]  # fmt: skip
    assert _order(database, order="confident") == [
        ids["sure"], ids["clear"], ids["beagle_like"], ids["cat"], ids["unscreened"]
    ]  # fmt: skip
    assert _order(database) == sorted(ids.values())  # crawl order stays the default


def test_filters_show_only_what_screening_marked(database: Database, screened) -> None:
    ids = screened
    assert _order(database, only="not_a_dog") == [ids["cat"]]
    assert _order(database, only="disagrees", order="doubtful") == [ids["cat"], ids["beagle_like"]]
    with database.session() as s:
        assert pending_count(s, "ana", only="disagrees") == 2
        pug = breed_id(database, "pug")
        page = grid_batch(s, "ana", pug, 24, order="doubtful", only="disagrees")
    assert [c.id for c in page] == [ids["cat"], ids["beagle_like"]]


def test_cards_carry_the_newest_screening_as_a_badge(
    database: Database, screened, add_screening: AddScreening
) -> None:
    add_screening({screened["clear"]: (0.3, 0.1, False)}, ref="second:2")  # newer: it counts
    with database.session() as s:
        cards = {c.id: c for c in next_images(s, "ana", limit=10)}
    cat = cards[screened["cat"]].screening
    assert cat is not None and cat.likely_not_a_dog and cat.badge.startswith("likely not a dog")
    clear = cards[screened["clear"]].screening
    assert clear is not None and clear.model == "second:2" and clear.agrees is False
    assert cards[screened["unscreened"]].screening is None


def test_random_order_is_stable_per_reviewer(database: Database) -> None:
    for n in range(9):
        insert_image(database, "beagle", seed=n)
    ana = _order(database, "ana", order="random")
    assert ana == _order(database, "ana", order="random")
    assert sorted(ana) == sorted(_order(database, "bo", order="random"))
    assert ana != sorted(ana)
    assert ana != _order(database, "bo", order="random")


def test_orders_on_both_databases(any_database: Database) -> None:
    db = any_database
    a, b, c = (insert_image(db, "pug", seed=n) for n in range(3))
    screening_adder(db)({b: (0.1, 0.05, False)})
    assert sorted(_order(db, order="random")) == [a, b, c]
    assert _order(db, order="random") == _order(db, order="random")
    assert _order(db, order="doubtful") == [b, a, c]  # screened first, then by id
    assert _order(db, only="not_a_dog") == [b]


def test_unknown_order_or_filter_is_refused(database: Database) -> None:
    with pytest.raises(BreedbenchError, match="unknown order 'sideways'"):
        _order(database, order="sideways")
    with pytest.raises(BreedbenchError, match="unknown filter 'cats'"):
        _order(database, only="cats")


def test_the_datasheet_names_the_screening_models(database: Database, screened) -> None:
    with database.session() as s:
        text = "\n".join(_screening_section(s, list(screened.values())))
        assert "| screener\\:1 | 4 |" in text  # escaped for Markdown
        assert "No model screened" in "\n".join(_screening_section(s, [screened["unscreened"]]))
