"""Stored probabilities read back exactly as written (float16 bytes), on SQLite and PostgreSQL,
and the suspects ranking runs on both."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import pytest
from sqlalchemy import select

from core.errors import BreedbenchError
from db.models import EvalRun, Model, ModelVersion, Prediction, RunStatus
from db.probabilities import pack_probs, unpack_probs, unpack_rows
from review.suspects import rank_suspects, self_confidence
from tests.factories import breed_id, insert_image
from tests.fixtures.evaluation import accept


def test_pack_and_unpack_round_trip_within_float16() -> None:
    values = np.array([0.0, 1e-3, 0.25, 0.333333, 0.999, 1.0], dtype=np.float32)
    data = pack_probs(values)
    assert len(data) == 2 * values.size
    assert np.allclose(unpack_probs(data, values.size), values, atol=5e-4)
    with pytest.raises(BreedbenchError, match="3 breeds"):
        unpack_probs(data, 3)
    with pytest.raises(BreedbenchError, match="4 breeds"):
        unpack_rows([data[:8], data[:6]], 4)


def test_probabilities_round_trip_and_rank_on_both_databases(any_database) -> None:
    db = any_database
    breeds = [breed_id(db, slug) for slug in ("chihuahua", "pug", "beagle")]
    images = [insert_image(db, slug, seed=n) for n, slug in enumerate(["chihuahua", "pug"])]
    for i in images:
        accept(db, i)
    rows = {images[0]: [0.1, 0.85, 0.05], images[1]: [0.02, 0.97, 0.01]}
    with db.session() as s:
        model = Model(name="m")
        s.add(model)
        s.flush()
        version = ModelVersion(
            model_id=model.id, version="1", format="tflite", path="x", sha256="0" * 64, size_bytes=1
        )
        s.add(version)
        s.flush()
        run = EvalRun(
            model_version_id=version.id,
            status=RunStatus.FINISHED,
            started_at=datetime(2026, 12, 1, tzinfo=UTC),
            prob_breed_ids=breeds,
        )
        s.add(run)
        s.flush()
        for image_id, probs in rows.items():
            s.add(
                Prediction(
                    run_id=run.id,
                    image_id=image_id,
                    true_breed_id=breeds[0],
                    top5=[],
                    probs=pack_probs(probs),
                )
            )
    with db.session() as s:
        stored = dict(s.execute(select(Prediction.image_id, Prediction.probs)).tuples().all())
        assert s.scalar(select(EvalRun.prob_breed_ids)) == breeds
        for image_id, probs in rows.items():
            assert stored[image_id] == pack_probs(probs)  # byte for byte
            assert np.allclose(unpack_probs(stored[image_id], 3), probs, atol=5e-4)
        found = rank_suspects(s)
    assert [x.image_id for x in found.suspects] == images  # chihuahua at 0.1 first
    assert found.suspects[0].score == pytest.approx(0.9, abs=1e-3)
    assert found.suspects[0].predicted.slug == "pug"
    assert found.suspects[1].score == pytest.approx(0.03, abs=1e-3)


def test_self_confidence_is_cleanlabs_label_quality() -> None:
    rank = pytest.importorskip("cleanlab.rank")  # the test extra installs it
    rng = np.random.default_rng(5)
    probs = rng.dirichlet(np.ones(7), size=200).astype(np.float32)
    labels = rng.integers(0, 7, size=200)
    ours = self_confidence(labels, probs)
    theirs = rank.get_label_quality_scores(labels, probs, method="self_confidence")
    assert np.allclose(ours, theirs)
