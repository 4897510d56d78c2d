"""Reference pictures: pins first, only accepted images, look-alikes from the latest runs'
confusions, else from the built-in list; pins refused for images that are not accepted."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import insert

from core.errors import BreedbenchError
from db.breeds import stanford_breeds
from db.database import Database
from db.models import Decision, EvalRun, Prediction, RunStatus
from db.reviews import record_decision
from review.references import (
    LOOKALIKES_FILE,
    MAX_PINS,
    builtin_lookalikes,
    pin_reference,
    pinned_references,
    reference_strip,
    unpin_reference,
)
from tests.factories import breed_id, insert_image
from tests.fixtures.assist import accepted_images, screening_version


def _strip(db: Database, slug: str, **kw: int):  # type: ignore[no-untyped-def]
    with db.session() as s:
        return reference_strip(s, breed_id(db, slug), **kw)


def _pin(db: Database, slug: str, image_id: int) -> None:
    with db.session() as s:
        pin_reference(s, breed_id(db, slug), image_id, "ana")


def test_only_accepted_images_and_pins_first(any_database: Database) -> None:
    db = any_database
    accepted = accepted_images(db, "norfolk_terrier", 8)
    pending = insert_image(db, "norfolk_terrier", seed=100)
    rejected = insert_image(db, "norfolk_terrier", seed=101)
    with db.session() as s:
        record_decision(s, rejected, "ana", Decision.REJECT, reason="not_a_dog")
    _pin(db, "norfolk_terrier", accepted[7])
    _pin(db, "norfolk_terrier", accepted[5])
    strip = _strip(db, "norfolk_terrier")
    own = [r.image_id for r in strip.own]
    assert own == [accepted[7], accepted[5], *accepted[:4]]
    assert [r.pinned for r in strip.own] == [True, True] + [False] * 4
    assert pending not in own and rejected not in own
    assert len(_strip(db, "norfolk_terrier", own=2).own) == 2


def test_pinning_is_refused_for_images_not_accepted(database: Database) -> None:
    pending = insert_image(database, "pug", seed=1)
    other_breed = accepted_images(database, "beagle", 1)[0]
    with pytest.raises(BreedbenchError, match="pending, not accepted"):
        _pin(database, "pug", pending)
    with pytest.raises(BreedbenchError, match="not of this breed"):
        _pin(database, "pug", other_breed)
    with pytest.raises(BreedbenchError, match="no image #999"):
        _pin(database, "pug", 999)
    with database.session() as s:
        assert pinned_references(s, breed_id(database, "pug")) == []


def test_a_pin_whose_image_is_rejected_later_is_not_shown(database: Database) -> None:
    ids = accepted_images(database, "pug", 3)
    _pin(database, "pug", ids[2])
    with database.session() as s:
        record_decision(s, ids[2], "bo", Decision.REJECT, reason="not_a_dog")
    strip = _strip(database, "pug")
    assert [r.image_id for r in strip.own] == ids[:2]
    with database.session() as s:
        pins = pinned_references(s, breed_id(database, "pug"))
    assert [(p.image_id, p.shown) for p in pins] == [(ids[2], False)]


def test_unpin_and_the_pin_limit(database: Database) -> None:
    ids = accepted_images(database, "pug", MAX_PINS + 1)
    for i in ids[:MAX_PINS]:
        _pin(database, "pug", i)
    with pytest.raises(BreedbenchError, match=f"already has {MAX_PINS} pinned"):
        _pin(database, "pug", ids[-1])
    with database.session() as s:
        unpin_reference(s, breed_id(database, "pug"), ids[0])
        with pytest.raises(BreedbenchError, match="not pinned"):
            unpin_reference(s, breed_id(database, "pug"), ids[0])
    _pin(database, "pug", ids[-1])
    assert [r.image_id for r in _strip(database, "pug").own][:MAX_PINS] == ids[1:]


def test_lookalikes_from_the_builtin_list_before_any_run(database: Database) -> None:
    accepted_images(database, "norfolk_terrier", 2)
    norwich = accepted_images(database, "norwich_terrier", 4, seed=20)
    cairn = accepted_images(database, "cairn", 1, seed=40)
    strip = _strip(database, "norfolk_terrier", per_lookalike=3)
    assert strip.lookalike_source == "built-in"
    assert [(lk.slug, [r.image_id for r in lk.images]) for lk in strip.lookalikes] == [
        ("norwich_terrier", norwich[:3]),
        ("cairn", cairn),
    ]
    # A look-alike breed with no accepted image is left out.
    assert [lk.slug for lk in _strip(database, "siberian_husky").lookalikes] == []


def _run(db: Database, pairs: list[tuple[str, str]], version: str) -> int:
    """A finished run whose predictions took each ``true`` image for ``predicted``."""
    version_id = screening_version(db, "evaluated", version)
    images = [insert_image(db, true, seed=5000 + n) for n, (true, _) in enumerate(pairs)]
    with db.session() as s:
        run = EvalRun(model_version_id=version_id, status=RunStatus.FINISHED)
        s.add(run)
        s.flush()
        rows = []
        for image_id, (true, predicted) in zip(images, pairs, strict=True):
            t, p = breed_id(db, true), breed_id(db, predicted)
            rows.append({"run_id": run.id, "image_id": image_id, "true_breed_id": t,
                         "rank": 1 if t == p else None, "top5": [[p, 0.9]]})  # fmt: skip
        s.execute(insert(Prediction), rows)
        return run.id


def test_lookalikes_from_the_latest_runs_confusions(database: Database) -> None:
    accepted_images(database, "norfolk_terrier", 1)
    for slug, seed in [("pug", 10), ("beagle", 20), ("norwich_terrier", 30), ("boxer", 40)]:
        accepted_images(database, slug, 2, seed=seed)
    # Norfolk taken for a beagle twice, a pug once (and a pug taken for a Norfolk: both ways).
    _run(database, [("norfolk_terrier", "beagle")] * 2 + [("pug", "norfolk_terrier")], "1")
    strip = _strip(database, "norfolk_terrier")
    assert strip.lookalike_source == "confusions"
    assert [lk.slug for lk in strip.lookalikes] == ["beagle", "pug"]
    # A breed no run confused with anything still gets the built-in list.
    assert _strip(database, "norwich_terrier").lookalike_source == "built-in"


def test_the_strip_is_kept_for_the_session(database: Database) -> None:
    ids = accepted_images(database, "pug", 2)
    with database.session() as s:
        first = reference_strip(s, breed_id(database, "pug"))
        assert reference_strip(s, breed_id(database, "pug")) is first
        pin_reference(s, breed_id(database, "pug"), ids[1], "ana")  # forgets the kept strips
        assert reference_strip(s, breed_id(database, "pug")).own[0].image_id == ids[1]


def test_the_builtin_list_names_only_stanford_breeds() -> None:
    slugs = {b.slug for b in stanford_breeds()}
    groups = json.loads(LOOKALIKES_FILE.read_text(encoding="utf-8"))["groups"]
    assert {s for g in groups for s in g} <= slugs
    assert builtin_lookalikes()["siberian_husky"] == ["malamute", "eskimo_dog"]
