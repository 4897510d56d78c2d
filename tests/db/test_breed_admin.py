"""Changing the breeds of a database with history, on SQLite and PostgreSQL: a breed with images
is removed only on request and then wholly, in one transaction; a rename keeps its history."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from core.errors import BreedbenchError
from db import breed_admin
from db.breed_list import check_entry
from db.database import Database
from db.models import (
    Breed,
    CalibrationImage,
    Decision,
    FlagKind,
    Image,
    ImageFlag,
    ImageStatus,
    Prediction,
    Review,
)
from db.reviews import record_decision
from tests.fixtures.seeding import seed_evaluations


def count(s: Session, model: type, *where: object) -> int:
    return s.scalar(select(func.count()).select_from(model).where(*where)) or 0


def breed_id(db: Database, slug: str) -> int:
    with db.session() as s:
        found = s.scalar(select(Breed.id).where(Breed.slug == slug))
    assert found is not None
    return found


def totals(db: Database) -> dict[str, int]:
    with db.session() as s:
        return {
            m.__name__: count(s, m)
            for m in (Breed, Image, Review, Prediction, ImageFlag, CalibrationImage)
        }


@pytest.fixture
def history(any_database: Database) -> Database:
    """Six breeds with accepted images, three runs; pug's images flagged and calibrated, and a
    beagle image relabelled to pug by a reviewer who then undid it (the vote row stays)."""
    seeded = seed_evaluations(any_database)
    pug, beagle = seeded.image_ids["pug"], seeded.image_ids["beagle"]
    pug_id = breed_id(any_database, "pug")
    with any_database.session() as s:
        s.add(ImageFlag(image_id=pug[0], kind=FlagKind.NEAR_DUPLICATE, other_image_id=beagle[1]))
        s.add(CalibrationImage(model_version_id=seeded.child_id, image_id=pug[1]))
        record_decision(s, beagle[0], "bo", Decision.RELABEL, target_breed_id=pug_id)
    with any_database.session() as s:
        record_decision(s, beagle[0], "bo", Decision.UNDO)
    return any_database


def test_removing_a_breed_with_images_is_refused_and_changes_nothing(history: Database) -> None:
    before = totals(history)
    with (
        pytest.raises(BreedbenchError, match="'pug' has 4 images.*--with-images") as err,
        history.session() as s,
    ):
        breed_admin.remove_breed(s, "pug")
    assert "\n" not in str(err.value)
    assert totals(history) == before


def test_with_images_removes_everything_of_the_breed(history: Database) -> None:
    pug_id = breed_id(history, "pug")
    with history.session() as s:
        pug_images = list(s.scalars(select(Image.id).where(Image.breed_id == pug_id)))
        n_predictions = count(s, Prediction, Prediction.image_id.in_(pug_images))
    before = totals(history)
    with history.session() as s:
        done = breed_admin.remove_breed(s, "pug", with_images=True)
    assert (done.images, done.predictions, done.flags) == (4, n_predictions, 1)
    after = totals(history)
    assert after["Breed"] == before["Breed"] - 1
    assert after["Image"] == before["Image"] - 4
    assert after["Prediction"] == before["Prediction"] - n_predictions
    assert after["ImageFlag"] == before["ImageFlag"] - 1
    assert after["CalibrationImage"] == before["CalibrationImage"] - 1
    assert done.rederived == 1 and done.reviews == before["Review"] - after["Review"]
    with history.session() as s:
        assert count(s, Review, Review.image_id.in_(pug_images)) == 0
        assert count(s, Review, Review.target_breed_id == pug_id) == 0  # the relabel vote
        assert count(s, Prediction, Prediction.true_breed_id == pug_id) == 0
        # The beagle image that had a vote for pug is still an accepted beagle.
        beagle = s.scalars(select(Image).where(Image.breed_id == breed_id(history, "beagle")))
        assert {i.status for i in beagle} == {ImageStatus.ACCEPTED}


def test_with_images_is_one_transaction(history: Database, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """A failure at the very end (deleting the breed row) leaves every row in place."""
    before = totals(history)

    def fail(self: Session, instance: object) -> None:
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(Session, "delete", fail)
    with pytest.raises(RuntimeError), history.session() as s:
        breed_admin.remove_breed(s, "pug", with_images=True)
    monkeypatch.undo()
    assert totals(history) == before


def test_a_breed_without_images_goes_without_the_flag(history: Database) -> None:
    with history.session() as s:
        breed_admin.add_breed(s, check_entry("kitten", "Kitten", keyword="cat"))
    with history.session() as s:
        assert breed_admin.remove_breed(s, "kitten").images == 0
        assert s.scalar(select(Breed).where(Breed.slug == "kitten")) is None


def test_rename_keeps_images_reviews_and_predictions(history: Database) -> None:
    pug_id = breed_id(history, "pug")
    with history.session() as s:
        images = set(s.scalars(select(Image.id).where(Image.breed_id == pug_id)))
        reviews = count(s, Review, Review.image_id.in_(images))
        predictions = count(s, Prediction, Prediction.true_breed_id == pug_id)
    with history.session() as s:
        breed_admin.rename_breed(s, "pug", "mops", name="Mops")
    with history.session() as s:
        renamed = s.get(Breed, pug_id)
        assert renamed is not None
        assert (renamed.slug, renamed.name, renamed.query) == ("mops", "Mops", "mops")
        assert set(s.scalars(select(Image.id).where(Image.breed_id == pug_id))) == images
        assert count(s, Review, Review.image_id.in_(images)) == reviews > 0
        assert count(s, Prediction, Prediction.true_breed_id == pug_id) == predictions > 0


@pytest.mark.parametrize(
    ("new", "message"),
    [
        ("beagle", "exists already"),
        ("pu/g", "may hold only"),
        ("Pug2", "has capitals"),
    ],
)
def test_rename_refuses_a_taken_or_unsafe_slug(history: Database, new: str, message: str) -> None:
    with pytest.raises(BreedbenchError, match=message), history.session() as s:
        breed_admin.rename_breed(s, "pug", new)
    with (
        pytest.raises(BreedbenchError, match="same class name as breed 'beagle'"),
        history.session() as s,
    ):
        breed_admin.rename_breed(s, "pug", "pug2", name="Beagle")


def test_add_and_target(history: Database) -> None:
    with pytest.raises(BreedbenchError, match="exists already"), history.session() as s:
        breed_admin.add_breed(s, check_entry("pug", "Another pug"))
    with history.session() as s:
        assert breed_admin.set_target(s, ["pug", "beagle"], 7) == 2
        assert breed_admin.set_target(s, None, 9) == count(s, Breed)
    with pytest.raises(BreedbenchError, match="unknown breed 'nope'"), history.session() as s:
        breed_admin.set_target(s, ["nope"], 3)
