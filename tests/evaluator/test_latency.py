"""Honest latency: the warm-up (load + first batch) is recorded apart and kept out of p50/p95,
which come from the steady-state batches; every output says how per-image latency was derived."""

from __future__ import annotations

import json

import numpy as np
import pytest
from sqlalchemy import select

from db.models import Prediction
from evaluator import latency
from evaluator.latency import BatchTime, describe, summarise
from evaluator.pipeline import evaluate
from evaluator.report import render, report_data
from evaluator.runners.fake import FakeRunner
from tests.fixtures.evaluation import EvalSet, batchable_spec, register
from tests.modelkit import TinyModels

SLOW_FIRST_CALL = 0.3  # seconds: a model whose first batch initialises its graph


def _stored_latencies(es: EvalSet, run_id: int) -> dict[int, float]:
    with es.db.session() as s:
        rows = s.execute(
            select(Prediction.image_id, Prediction.latency_ms).where(Prediction.run_id == run_id)
        ).all()
    return {image_id: float(ms) for image_id, ms in rows}


def _constant(x: np.ndarray) -> np.ndarray:
    return np.tile([0.4, 0.3, 0.2, 0.1], (len(x), 1))


def test_warm_up_is_kept_out_of_p50_p95(eval_set: EvalSet, tiny_models: TinyModels) -> None:
    register(eval_set.db, tiny_models.batchable_pb, batchable_spec(tiny_models))
    runner = FakeRunner(_constant, max_batch=4, first_call_seconds=SLOW_FIRST_CALL)
    out = evaluate(eval_set.db, "tiny", limit=12, runner=runner)
    lat = out.metrics["latency"]
    assert runner.calls == 3
    assert lat["batch"] == 4 and lat["per_image"] == latency.PER_IMAGE
    assert (lat["steady_state"], lat["steady_batches"], lat["steady_images"]) == (True, 2, 8)
    warm = lat["warmup"]
    assert warm["first_batch_images"] == 4 and warm["first_batch_ms"] >= SLOW_FIRST_CALL * 1000
    assert warm["load_ms"] is None  # the runner was handed in: its load was not measured here

    # From the recorded values: the first batch's images carry the slow call's share, and the
    # percentiles are exactly those of the other images.
    stored = _stored_latencies(eval_set, out.run_id)
    first, steady = sorted(stored)[:4], sorted(stored)[4:]
    assert [stored[i] for i in first] == [pytest.approx(warm["first_batch_ms"] / 4, abs=1e-3)] * 4
    steady_ms = [stored[i] for i in steady]
    assert out.metrics["latency_ms"] == {
        "p50": pytest.approx(np.percentile(steady_ms, 50)),
        "p95": pytest.approx(np.percentile(steady_ms, 95)),
    }
    assert out.metrics["latency_ms"]["p95"] < min(stored[i] for i in first)
    assert latency.warmup_ms(out.metrics) == warm["first_batch_ms"]


def test_a_single_batch_has_no_steady_state(eval_set: EvalSet, tiny_models: TinyModels) -> None:
    register(eval_set.db, tiny_models.batchable_pb, batchable_spec(tiny_models))
    runner = FakeRunner(_constant, max_batch=16, first_call_seconds=0.05)
    out = evaluate(eval_set.db, "tiny", limit=12, runner=runner)
    lat = out.metrics["latency"]
    assert (lat["steady_state"], lat["steady_batches"], lat["steady_images"]) == (False, 0, 0)
    per_image = lat["warmup"]["first_batch_ms"] / 12
    assert out.metrics["latency_ms"]["p50"] == pytest.approx(per_image, abs=1e-3)
    assert "a single batch, so no steady state: p50/p95 include the warm-up" in describe(
        out.metrics
    )


def test_a_real_model_records_its_load(eval_set: EvalSet, tiny_models: TinyModels) -> None:
    register(eval_set.db, tiny_models.batchable_pb, batchable_spec(tiny_models))
    out = evaluate(eval_set.db, "tiny", batch=8)
    warm = out.metrics["latency"]["warmup"]
    assert warm["load_ms"] > 0 and warm["first_batch_ms"] > 0 and warm["first_batch_images"] == 8
    text = describe(out.metrics)
    assert text.startswith("per image = batch time / images in the batch, batches of up to 8;")
    assert "steady-state batches (16 images); warm-up apart: load" in text


def test_summarise_weights_each_image() -> None:
    batches = [BatchTime(4, 400.0), BatchTime(4, 8.0), BatchTime(2, 2.0), BatchTime(0, 0.0)]
    latency_ms, lat = summarise(batches, 4, load_ms=120.5)
    per_image = [2.0] * 4 + [1.0] * 2  # the warm-up's 100 ms per image is not among them
    assert latency_ms == {
        "p50": pytest.approx(np.percentile(per_image, 50)),
        "p95": pytest.approx(np.percentile(per_image, 95)),
    }
    assert lat["warmup"] == {"load_ms": 120.5, "first_batch_ms": 400.0, "first_batch_images": 4}
    assert (lat["steady_batches"], lat["steady_images"]) == (2, 6)


def test_one_image_at_a_time_is_said_so() -> None:
    _, lat = summarise([BatchTime(1, 50.0), BatchTime(1, 2.0)], 1, load_ms=10.0)
    text = describe({"latency": lat})
    assert text.startswith("per image = the time of its own call (one image per call);")
    assert "over 1 steady-state batch (1 image); warm-up apart: load 10.0 ms, first batch" in text


def test_a_run_recorded_before_warm_up_was_measured() -> None:
    old = {"latency_ms": {"p50": 3.0, "p95": 40.0}}
    assert "include the first batch" in describe(old)
    assert latency.warmup_ms(old) is None


def test_reports_say_how_latency_was_measured(eval_set: EvalSet, tiny_models: TinyModels) -> None:
    register(eval_set.db, tiny_models.batchable_pb, batchable_spec(tiny_models))
    runner = FakeRunner(_constant, max_batch=4, first_call_seconds=0.05)
    out = evaluate(eval_set.db, "tiny", limit=12, runner=runner)
    with eval_set.db.session() as s:
        data = report_data(s, out.run_id)
    how = describe(out.metrics)
    assert "p50/p95 over 2 steady-state batches (8 images)" in how
    assert f"- latency measured as: {how}" in render(data, "md")
    assert "Latency measured as: per image = batch time / images in the batch" in render(
        data, "html"
    )
    back = json.loads(render(data, "json"))["latency"]
    assert back["how"] == how and back["steady_batches"] == 2 and back["batch"] == 4
