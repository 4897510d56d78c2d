"""Suspected label errors: a planted mislabel found by a real model, votes combined per lineage,
send-back and relabel as audited decisions, keep until the score rises."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from core.errors import BreedbenchError
from db.models import Decision, Image, ImageStatus, LabelCheck, Review
from evaluator.pipeline import evaluate
from evaluator.registry import VersionInfo
from review.queue import next_images
from review.suspects import (
    SUSPECT_REASON,
    keep_label,
    rank_suspects,
    reference_images,
    relabel_suspect,
    send_back,
    send_back_suspects,
)
from tests.factories import breed_id
from tests.fixtures.suspects import FILED_AS, PLANTED_CLASS, PlantedSet, constant_run

A1 = [0.4, 0.3, 0.2, 0.1]  # fam-a:1 says this of every image (chihuahua, pug, beagle, samoyed)
A2 = [0.2, 0.2, 0.4, 0.2]  # fam-a:1-dyn, derived from fam-a:1: the same lineage
B = [0.7, 0.2, 0.1, 0.0]  # fam-b:1, an independent family


def test_a_planted_mislabel_tops_the_list_after_a_real_evaluation(planted: PlantedSet) -> None:
    evaluate(planted.db, "tiny:1-lite", threads=1)
    with planted.db.session() as s:
        found = rank_suspects(s, limit=3)
    assert found.images_scored == len(planted.image_ids)
    assert (found.versions, found.lineages) == (1, 1)
    top = found.suspects[0]
    assert top.image_id == planted.planted
    assert top.breed_slug == planted.labels[FILED_AS]
    assert top.score > 0.5 and top.votes == 1
    assert top.predicted is not None
    assert top.predicted.slug == planted.labels[PLANTED_CLASS]
    assert len(top.top) == 3 and top.top[0].probability >= top.top[1].probability
    assert [s.score for s in found.suspects] == sorted(
        (s.score for s in found.suspects), reverse=True
    )


def test_versions_of_one_lineage_count_once(
    database, constant_models: dict[str, VersionInfo]
) -> None:
    for key, probs in (("a1", A1), ("a2", A2), ("b", B)):
        constant_run(database, constant_models[key], probs)
    with database.session() as s:
        found = rank_suspects(s)
        only_a = rank_suspects(s, model="fam-a")
        only_a1 = rank_suspects(s, model="fam-a:1")
    assert (found.versions, found.lineages) == (3, 2)
    labels = ["chihuahua", "pug", "beagle", "samoyed"]
    by_breed = {s.breed_slug: s for s in found.suspects}
    for c, slug in enumerate(labels):
        quality = ((A1[c] + A2[c]) / 2 + B[c]) / 2  # family a averaged first, then the families
        assert by_breed[slug].score == pytest.approx(1 - quality, abs=1e-3)
        assert (by_breed[slug].votes, by_breed[slug].versions) == (2, 3)
    # samoyed: quality (0.15 + 0) / 2 → the most suspect; chihuahua (0.3 + 0.7) / 2 the least
    assert found.suspects[0].breed_slug == "samoyed"
    assert found.suspects[-1].breed_slug == "chihuahua"
    # the top predicted breeds average the vectors with the same weights
    top = found.suspects[0].top
    assert [p.slug for p in top] == ["chihuahua", "pug", "beagle"]
    assert top[0].probability == pytest.approx(((0.4 + 0.2) / 2 + 0.7) / 2, abs=1e-3)
    assert {s.score for s in only_a.suspects} != {s.score for s in found.suspects}
    assert only_a.lineages == 1 and only_a1.versions == 1
    assert by_breed["samoyed"].predicted.slug == "chihuahua"


def test_the_latest_run_of_a_version_counts(database, constant_models) -> None:
    constant_run(database, constant_models["b"], A1)
    constant_run(database, constant_models["b"], B)  # replaces the first
    with database.session() as s:
        found = rank_suspects(s)
    chihuahua = next(x for x in found.suspects if x.breed_slug == "chihuahua")
    assert chihuahua.score == pytest.approx(1 - 0.7, abs=1e-3)


def test_send_back_is_an_audited_reset_and_returns_the_image_to_the_queue(
    planted: PlantedSet,
) -> None:
    evaluate(planted.db, "tiny:1-lite", threads=1)
    with planted.db.session() as s:
        sent = send_back_suspects(s, "ana", 1)
    assert sent == [planted.planted]
    with planted.db.session() as s:
        image = s.get(Image, planted.planted)
        assert image.status == ImageStatus.PENDING
        last = s.scalars(
            select(Review).where(Review.image_id == planted.planted).order_by(Review.id.desc())
        ).first()
        assert (last.decision, last.reviewer, last.reason) == (
            Decision.RESET,
            "ana",
            SUSPECT_REASON,
        )
        queue = [c.id for c in next_images(s, "ben", limit=50)]
        assert planted.planted in queue
        # no longer accepted, so no longer a suspect
        assert planted.planted not in [x.image_id for x in rank_suspects(s).suspects]


def test_relabel_to_the_predicted_breed_is_a_decision(planted: PlantedSet) -> None:
    evaluate(planted.db, "tiny:1-lite", threads=1)
    with planted.db.session() as s:
        top = rank_suspects(s, limit=1).suspects[0]
        result = relabel_suspect(s, top.image_id, "ana", top.predicted.breed_id)
    assert result.status == "accepted"
    assert result.breed_id == breed_id(planted.db, planted.labels[PLANTED_CLASS])
    with planted.db.session() as s:
        row = s.scalars(select(Review).order_by(Review.id.desc())).first()
        assert (row.decision, row.reason) == (Decision.RELABEL, SUSPECT_REASON)
        # judged again under its new label by the same runs: no longer near the top
        again = rank_suspects(s)
    moved = next(x for x in again.suspects if x.image_id == planted.planted)
    assert moved.score < 0.5


def test_a_kept_label_stays_hidden_until_a_new_run_raises_its_score(
    database, constant_models
) -> None:
    constant_run(database, constant_models["a1"], A1)
    with database.session() as s:
        first = rank_suspects(s)
        top = first.suspects[0]
        assert top.breed_slug == "samoyed" and top.score == pytest.approx(0.9, abs=1e-3)
        keep_label(s, top.image_id, "ana", top.score)
    with database.session() as s:
        after = rank_suspects(s)
        assert top.image_id not in [x.image_id for x in after.suspects]
        assert after.hidden_kept == 1
        check = s.scalars(select(LabelCheck)).one()
        assert (check.reviewer, check.score) == ("ana", pytest.approx(top.score))
        shown = rank_suspects(s, include_kept=True).suspects
        assert next(x for x in shown if x.image_id == top.image_id).kept_score == check.score
    constant_run(database, constant_models["a1"], A1)  # the same verdict again: still hidden
    with database.session() as s:
        assert top.image_id not in [x.image_id for x in rank_suspects(s).suspects]
    constant_run(database, constant_models["b"], B)  # a second family: samoyed quality 0.05
    with database.session() as s:
        back = next(x for x in rank_suspects(s).suspects if x.image_id == top.image_id)
    assert back.score > top.score and back.kept_score == pytest.approx(top.score)


def test_limits_and_bad_input(database, constant_models) -> None:
    with database.session() as s:
        empty = rank_suspects(s)
        assert empty.suspects == [] and empty.images_scored == 0
        with pytest.raises(BreedbenchError, match="no model version"):
            rank_suspects(s, model="nope")
        with pytest.raises(BreedbenchError, match="at least 1"):
            rank_suspects(s, limit=0)
        with pytest.raises(BreedbenchError, match="between 0 and 1"):
            keep_label(s, 1, "ana", 2.0)
        with pytest.raises(BreedbenchError, match="no image"):
            keep_label(s, 99_999, "ana", 0.5)
    constant_run(database, constant_models["a1"], A1)
    with database.session() as s:
        assert len(rank_suspects(s, limit=3).suspects) == 3


def test_reference_images_are_accepted_images_of_the_breed(database, constant_models) -> None:
    with database.session() as s:
        bid = breed_id(database, "pug")
        refs = reference_images(s, bid, limit=5)
        ids = [r.image_id for r in refs]
        statuses = {s.get(Image, i).status for i in ids}
        assert len(ids) == 2 and statuses == {ImageStatus.ACCEPTED}
        assert [r.image_id for r in reference_images(s, bid, exclude=ids[:1])] == ids[1:]


def test_a_suspect_settled_elsewhere_is_not_acted_on_twice(database, constant_models) -> None:
    constant_run(database, constant_models["a1"], A1)
    with database.session() as s:
        top = rank_suspects(s, limit=1).suspects[0]
        send_back(s, top.image_id, "ana")
    with database.session() as s:
        for act in (
            lambda: send_back(s, top.image_id, "ben"),
            lambda: keep_label(s, top.image_id, "ben", top.score),
            lambda: relabel_suspect(s, top.image_id, "ben", top.predicted.breed_id),
        ):
            with pytest.raises(BreedbenchError, match="is pending now, not accepted"):
                act()
