"""A real evaluation stores every breed's probability per prediction (what ranking suspected
label errors reads), consistent with the top-5 it records."""

from __future__ import annotations

import numpy as np
from sqlalchemy import select

from db.models import EvalRun, Prediction
from db.probabilities import unpack_probs
from evaluator.pipeline import evaluate
from tests.factories import breed_id
from tests.fixtures.evaluation import EvalSet, lite_spec, register
from tests.modelkit import TinyModels


def test_probabilities_are_stored_in_the_runs_breed_order(
    eval_set: EvalSet, tiny_models: TinyModels
) -> None:
    register(eval_set.db, tiny_models.sub_float, lite_spec(tiny_models), version="1-lite")
    run_id = evaluate(eval_set.db, "tiny:1-lite", threads=1).run_id
    expected_breeds = [breed_id(eval_set.db, slug) for slug in tiny_models.labels]
    with eval_set.db.session() as s:
        assert s.get(EvalRun, run_id).prob_breed_ids == expected_breeds
        rows = s.execute(
            select(Prediction.image_id, Prediction.top5, Prediction.probs).where(
                Prediction.run_id == run_id
            )
        ).all()
    assert len(rows) == len(eval_set.image_ids)
    for _, top5, blob in rows:
        probs = unpack_probs(blob, len(expected_breeds))
        assert abs(float(probs.sum()) - 1.0) < 5e-3  # a softmax over the four breeds
        by_breed = dict(zip(expected_breeds, probs.tolist(), strict=True))
        for b, p in top5:  # the top-5 JSON and the vector agree, within float16
            assert abs(by_breed[b] - p) < 1e-3
        order = [expected_breeds[i] for i in np.argsort(-probs, kind="stable")]
        assert order[0] == top5[0][0] or np.isclose(by_breed[order[0]], top5[0][1], atol=1e-3)
