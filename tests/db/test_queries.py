"""Per-breed counts and the query the next crawl will use."""

from __future__ import annotations

from sqlalchemy import update

from db.database import Database
from db.models import Breed, Decision
from db.queries import breed_counts
from db.reviews import record_decision
from tests.factories import insert_image


def test_counts_follow_the_review_status(database: Database) -> None:
    a = insert_image(database, "vizsla", seed=1)
    insert_image(database, "vizsla", seed=2)
    b = insert_image(database, "vizsla", seed=3)
    with database.session() as s:
        record_decision(s, a, "ana", Decision.ACCEPT)
        record_decision(s, b, "ana", Decision.REJECT)
    with database.session() as s:
        (row,) = breed_counts(s, ["vizsla"])
    assert (row.accepted, row.pending, row.rejected) == (1, 1, 1)
    assert row.reject_rate == 0.5 and row.missing == 48
    assert row.last_query == "vizsla"


def test_effective_query_in_auto_mode(database: Database) -> None:
    with database.session() as s:
        s.execute(update(Breed).where(Breed.slug == "beagle").values(dog_keyword=True))
    with database.session() as s:
        rows = {r.slug: r for r in breed_counts(s, ["vizsla", "boxer", "beagle", "maltese_dog"])}
    assert rows["vizsla"].effective_query == "vizsla"
    assert rows["boxer"].effective_query == "boxer dog"  # on the shipped ambiguous list
    assert rows["beagle"].effective_query == "beagle dog"  # dog_keyword set
    assert rows["maltese_dog"].effective_query == "maltese dog"  # never "dog dog"
