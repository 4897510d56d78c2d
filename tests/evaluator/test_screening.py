"""Screening pending images with an independent model (the real tiny model of the session):
what the model calls no dog comes first under "most doubtful"; screening changes no status and
records no review; evaluating a model that screened the set records a warning on the run."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pytest
from sqlalchemy import func, select

from core.errors import BreedbenchError
from db.database import Database
from db.models import Image, Review, Screening, ScreeningRun
from evaluator.labels import LabelMap
from evaluator.pipeline import EvalImage, evaluate
from evaluator.screening import screen, screen_batch
from evaluator.spec import ModelSpec
from review.queue import next_images
from tests.factories import insert_image
from tests.fixtures.evaluation import accept, lite_spec, register
from tests.modelkit import TinyModels, class_jpeg

STRONG = (0.6, 0.75)  # clearly tinted: the tiny model is sure of these
# The tiny model's fourth class, renamed: a model that knows three breeds and "tabby cat".
WITH_A_CAT = ["chihuahua", "pug", "beagle", "tabby cat"]


def _cat_spec(tiny: TinyModels) -> dict:
    spec = lite_spec(tiny)
    spec["labels"] = {"names": WITH_A_CAT, "restrict_to_breeds": True}
    return spec


def _pending(db: Database, label: int, slug: str, n: int, seed: int = 0) -> list[int]:
    return [
        insert_image(db, slug, data=class_jpeg(label, 4, seed + i, 48, 40, tint=STRONG))
        for i in range(n)
    ]


def _statuses(db: Database) -> dict[int, str]:
    with db.session() as s:
        return {i: st.value for i, st in s.execute(select(Image.id, Image.status))}


def test_what_the_model_calls_no_dog_comes_first_and_nothing_is_decided(
    database: Database, tiny_models: TinyModels
) -> None:
    dogs = _pending(database, 0, "chihuahua", 3) + _pending(database, 1, "pug", 3, seed=10)
    cats = _pending(database, 3, "pug", 2, seed=20)  # labelled pug, a "tabby cat" to the model
    before = _statuses(database)
    version = register(database, tiny_models.sub_float, _cat_spec(tiny_models), name="cat")
    outcome = screen(database, version.ref)
    assert outcome.screened == 8 and outcome.likely_not_dog == 2
    assert outcome.dog_score.startswith("summed probability")
    # Screening never decides: statuses as they were, no review recorded.
    assert _statuses(database) == before
    with database.session() as s:
        assert s.scalar(select(func.count()).select_from(Review)) == 0
        doubtful = [c.id for c in next_images(s, "ana", limit=8, order="doubtful")]
        not_dogs = [c.id for c in next_images(s, "ana", limit=8, only="not_a_dog")]
        marks = {c.id: c.screening for c in next_images(s, "ana", limit=8)}
    assert set(doubtful[:2]) == set(cats)
    assert set(not_dogs) == set(cats)
    for cat in cats:
        mark = marks[cat]
        assert mark is not None and mark.likely_not_a_dog and mark.agrees is False
        assert mark.model == "cat:1"
    assert all(marks[d] is not None and marks[d].agrees for d in dogs)


def test_breed_filter_and_errors(database: Database, tiny_models: TinyModels) -> None:
    chihuahuas = _pending(database, 0, "chihuahua", 2)
    _pending(database, 1, "pug", 2, seed=10)
    version = register(database, tiny_models.sub_float, lite_spec(tiny_models))
    outcome = screen(database, version.ref, breeds=["chihuahua"])
    assert outcome.screened == 2 and [t.slug for t in outcome.per_breed] == ["chihuahua"]
    with database.session() as s:
        assert set(s.scalars(select(Screening.image_id))) == set(chihuahuas)
    with pytest.raises(BreedbenchError, match="unknown breed.*: wolf"):
        screen(database, version.ref, breeds=["wolf"])
    with pytest.raises(BreedbenchError, match="no pending images of samoyed to screen"):
        screen(database, version.ref, breeds=["samoyed"])


def _label_map(labels: Sequence[str], breeds: Sequence[int | None]) -> LabelMap:
    return LabelMap(list(labels), list(breeds), restrict_to_breeds=None in breeds)


def test_dog_score_of_an_imagenet_style_and_a_breeds_only_model() -> None:
    spec = ModelSpec.from_dict(
        {"input": {"tensor": "x", "kind": "image"}, "output": {"tensor": "y"}}
    )
    images = [EvalImage(1, "s", "p", 10), EvalImage(2, "s", "p", 30)]
    probs = np.array([[0.5, 0.2, 0.3], [0.1, 0.1, 0.8]])
    # Classes: breed 10, breed 20, a kite (no breed).
    imagenet = screen_batch(probs, images, _label_map(["x", "y", "kite"], [10, 20, None]), spec)
    assert [round(r.dog_score, 6) for r in imagenet] == [0.7, 0.2]
    assert imagenet[0].top3 == [(10, 0.5), (20, 0.2)] and imagenet[0].agrees is True
    assert imagenet[1].agrees is None and imagenet[1].claimed_score is None  # breed 30: unknown
    breeds_only = screen_batch(probs, images, _label_map(["x", "y", "z"], [10, 20, 30]), spec)
    assert [r.dog_score for r in breeds_only] == [0.5, 0.8]
    assert breeds_only[1].agrees is True and breeds_only[1].claimed_score == 0.8


def test_evaluating_a_screening_model_records_a_warning(
    database: Database, tiny_models: TinyModels
) -> None:
    ids = _pending(database, 0, "chihuahua", 3) + _pending(database, 2, "beagle", 3, seed=30)
    spec = lite_spec(tiny_models)
    screener = register(database, tiny_models.sub_float, spec, version="1")
    child = register(database, tiny_models.sub_float, spec, version="1-copy",
                     parent_id=screener.id)  # fmt: skip
    unrelated = register(database, tiny_models.sub_dynamic, spec, name="other", version="1")
    screen(database, screener.ref)
    for image_id in ids:
        accept(database, image_id)
    own = evaluate(database, screener.ref)
    assert own.settings["warnings"] == [
        "6 of the 6 images were screened before review by tiny:1 (the same version): it helped "
        "choose them, so this run may overstate its accuracy"
    ]
    converted = evaluate(database, child.ref)
    assert "by tiny:1 (a version it was converted from)" in converted.settings["warnings"][0]
    assert "warnings" not in evaluate(database, unrelated.ref).settings
    with database.session() as s:
        assert s.scalar(select(func.count()).select_from(ScreeningRun)) == 1


def test_the_parent_is_warned_about_when_its_child_screened(
    database: Database, tiny_models: TinyModels
) -> None:
    ids = _pending(database, 1, "pug", 2)
    spec = lite_spec(tiny_models)
    parent = register(database, tiny_models.sub_float, spec, version="1")
    child = register(database, tiny_models.sub_dynamic, spec, version="1-dynamic",
                     parent_id=parent.id)  # fmt: skip
    screen(database, child.ref)
    for image_id in ids:
        accept(database, image_id)
    warnings = evaluate(database, parent.ref).settings["warnings"]
    assert "by tiny:1-dynamic (a version converted from it)" in warnings[0]
