"""The evaluation's steps one by one: plan (threads, batch, cache), predict (order, undecodable
images, progress), score (ranks, the first bad batch stops it) and measure."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pytest

from core.errors import BreedbenchError
from db.database import Database
from db.models import Image
from evaluator.labels import LabelMap
from evaluator.pipeline import (
    BatchOutput,
    EvalImage,
    InputCache,
    Scored,
    dataset_hash,
    evaluate,
    measure,
    plan_evaluation,
    predict,
    score,
)
from evaluator.runners.fake import FakeRunner
from evaluator.spec import ModelSpec, preprocessing_hash
from tests.fixtures.evaluation import EvalSet, batchable_spec, jpeg_spec, register
from tests.modelkit import TinyModels


class Recorder:
    """A progress sink that keeps every call."""

    def __init__(self) -> None:
        self.calls: list[tuple] = []

    def start(self, total: int, description: str) -> None:
        self.calls.append(("start", total, description))

    def advance(self, n: int) -> None:
        self.calls.append(("advance", n))

    @property
    def advanced(self) -> int:
        return sum(c[1] for c in self.calls if c[0] == "advance")


def corrupt(db: Database, image_id: int) -> None:
    """Replace the stored file of an image with bytes no decoder reads."""
    with db.session() as s:
        path = s.get(Image, image_id).path
    (db.store.root / path).write_bytes(b"not an image")


def constant_runner(max_batch: int) -> FakeRunner:
    return FakeRunner(lambda x: np.tile([0.4, 0.3, 0.2, 0.1], (len(x), 1)), max_batch=max_batch)


# --- plan ---------------------------------------------------------------------------------------


def test_threads_and_batch_come_from_the_argument_then_the_spec_then_the_settings(
    eval_set: EvalSet, tiny_models: TinyModels, monkeypatch: pytest.MonkeyPatch
) -> None:
    db = eval_set.db
    runtime = {"runtime": {"threads": 2, "batch": 3}}
    register(db, tiny_models.batchable_pb, batchable_spec(tiny_models, **runtime), version="rt")
    register(db, tiny_models.batchable_pb, batchable_spec(tiny_models), version="plain")
    given = plan_evaluation(db, "tiny:rt", threads=5, batch=7)
    assert (given.threads, given.batch) == (5, 7)
    from_spec = plan_evaluation(db, "tiny:rt")
    assert (from_spec.threads, from_spec.batch) == (2, 3)
    monkeypatch.setattr(db.settings, "eval_threads", 4)
    monkeypatch.setattr(db.settings, "eval_batch", 9)
    from_settings = plan_evaluation(db, "tiny:plain")
    assert (from_settings.threads, from_settings.batch) == (4, 9)


def test_the_plan_settles_the_images_and_the_cache(
    eval_set: EvalSet, tiny_models: TinyModels, monkeypatch: pytest.MonkeyPatch
) -> None:
    db = eval_set.db
    register(db, tiny_models.batchable_pb, batchable_spec(tiny_models), version="t")
    register(db, tiny_models.classic_pb, jpeg_spec(tiny_models), version="jpeg")
    plan = plan_evaluation(db, "tiny:t", limit=5)
    assert [i.id for i in plan.selection.images] == eval_set.image_ids[:5]
    assert plan.selection.excluded["uncovered_images"] == 1
    assert plan.version.ref == "tiny:t" and plan.limit == 5
    assert plan.cache_dir == db.settings.data_dir / "cache" / "inputs" / preprocessing_hash(
        plan.spec
    )
    assert plan_evaluation(db, "tiny:t", use_cache=False).cache_dir is None
    assert plan_evaluation(db, "tiny:jpeg").cache_dir is None  # the graph decodes the bytes
    monkeypatch.setattr(db.settings, "eval_cache", False)
    assert plan_evaluation(db, "tiny:t").cache_dir is None


def test_a_plan_without_images_is_refused_before_any_model_loads(
    database: Database, tiny_models: TinyModels
) -> None:
    register(database, tiny_models.batchable_pb, batchable_spec(tiny_models))
    with pytest.raises(BreedbenchError, match=r"no accepted images of the 4 breeds that tiny:1"):
        plan_evaluation(database, "tiny")


# --- predict ------------------------------------------------------------------------------------


def test_predict_runs_in_image_order_and_sets_undecodable_images_apart(
    eval_set: EvalSet, tiny_models: TinyModels
) -> None:
    db = eval_set.db
    register(db, tiny_models.batchable_pb, batchable_spec(tiny_models))
    broken = eval_set.image_ids[2]
    corrupt(db, broken)
    plan = plan_evaluation(db, "tiny", use_cache=False)
    runner = constant_runner(max_batch=5)
    progress = Recorder()
    batches = list(predict(db, plan, runner, InputCache(None), progress))
    n = len(eval_set.image_ids)
    assert [img.id for b in batches for img in b.images] == [
        i for i in eval_set.image_ids if i != broken
    ]
    assert [i for b in batches for i in b.undecodable] == [broken]
    assert [len(b.images) + len(b.undecodable) for b in batches] == [5] * (n // 5) + (
        [n % 5] if n % 5 else []
    )
    for b in batches:
        assert b.outputs is not None and b.outputs.shape == (len(b.images), 4)
        assert b.per_image_ms >= 0
    assert runner.items == n - 1  # the undecodable image never reaches the model
    assert progress.calls[0] == ("start", n, "tiny:1")
    assert progress.advanced == n


def test_progress_advances_once_a_batch_has_been_taken(
    eval_set: EvalSet, tiny_models: TinyModels
) -> None:
    """The caller scores a batch before asking for the next: only then has it been covered."""
    db = eval_set.db
    register(db, tiny_models.batchable_pb, batchable_spec(tiny_models))
    plan = plan_evaluation(db, "tiny", use_cache=False)
    progress = Recorder()
    batches = predict(db, plan, constant_runner(max_batch=4), InputCache(None), progress)
    first = next(batches)
    assert progress.advanced == 0
    next(batches)
    assert progress.advanced == len(first.images)
    batches.close()


# --- score --------------------------------------------------------------------------------------

LABELS = ["a", "b", "c"]


def label_map() -> LabelMap:
    return LabelMap(labels=LABELS, breed_ids=[10, None, 30], restrict_to_breeds=True)


def spec(activation: str = "probabilities") -> ModelSpec:
    return ModelSpec.from_dict(
        {
            "input": {"tensor": "x:0", "kind": "image"},
            "output": {"tensor": "y:0", "activation": activation},
            "labels": {"names": LABELS, "restrict_to_breeds": True},
        }
    )


def img(image_id: int, breed_id: int) -> EvalImage:
    return EvalImage(image_id, f"sha{image_id}", f"p/{image_id}", breed_id)


def test_score_ranks_the_true_breed_among_breed_classes_only() -> None:
    batches = [
        BatchOutput(
            [img(1, 10), img(2, 30)],
            np.array([[0.2, 0.7, 0.1], [0.5, 0.1, 0.4]]),
            per_image_ms=2.0,
            undecodable=[],
        ),
        BatchOutput([], None, per_image_ms=0.0, undecodable=[3]),
        BatchOutput([img(4, 30)], np.array([[0.1, 0.1, 0.8]]), per_image_ms=1.0, undecodable=[5]),
    ]
    scored = score(batches, label_map(), spec())
    # class "b" is not a breed: never ranked, even when it scores highest
    assert [(r.image_id, r.rank) for r in scored.records] == [(1, 1), (2, 2), (4, 1)]
    assert scored.records[0].top5 == [(10, 0.2), (30, 0.1)]
    assert [r.latency_ms for r in scored.records] == [2.0, 2.0, 1.0]
    assert [i.id for i in scored.evaluated] == [1, 2, 4]
    assert scored.undecodable == [3, 5]


def test_score_applies_the_softmax_to_logits() -> None:
    batch = BatchOutput([img(1, 10)], np.array([[0.0, 5.0, np.log(2.0)]]), 1.0, [])
    (record,) = score([batch], label_map(), spec("logits")).records
    total = 1 + np.exp(5.0) + 2
    assert [b for b, _ in record.top5] == [30, 10]
    assert [p for _, p in record.top5] == pytest.approx([2 / total, 1 / total])


def test_an_output_that_does_not_fit_the_labels_stops_at_the_first_batch() -> None:
    taken = []

    def batches() -> Iterator[BatchOutput]:
        for i in range(3):
            taken.append(i)
            yield BatchOutput([img(i, 10)], np.ones((1, 7)), 1.0, [])

    with pytest.raises(BreedbenchError, match=r"outputs 7 values per image .* labels list 3"):
        score(batches(), label_map(), spec())
    assert taken == [0]


# --- measure and the whole --------------------------------------------------------------------


def test_measure_counts_the_evaluated_images_and_lists_the_undecodable(
    eval_set: EvalSet, tiny_models: TinyModels
) -> None:
    db = eval_set.db
    register(db, tiny_models.batchable_pb, batchable_spec(tiny_models))
    plan = plan_evaluation(db, "tiny", limit=6, threads=2)
    kept = plan.selection.images[:4]
    batch = BatchOutput(kept, np.tile([0.4, 0.3, 0.2, 0.1], (4, 1)), 1.5, [])
    scored = score([batch], plan.label_map, plan.spec)
    scored = Scored(scored.records, scored.evaluated, undecodable=[98, 99])
    cache = InputCache(None)
    cache.hits, cache.misses = 1, 3
    metrics, settings = measure(plan, scored, 2.0, 5, cache)
    assert metrics["n_images"] == 4
    assert metrics["dataset_hash"] == dataset_hash(kept)
    assert metrics["excluded"] == {**plan.selection.excluded, "undecodable_images": [98, 99]}
    assert "undecodable_images" not in plan.selection.excluded  # the plan is left as it was
    assert metrics["throughput_ips"] == pytest.approx(2.0)
    assert settings["threads"] == 2 and settings["batch"] == 5 and settings["limit"] == 6
    assert (settings["cache_hits"], settings["cache_misses"]) == (1, 3)
    assert settings["preprocessing_hash"] == preprocessing_hash(plan.spec)


def test_an_undecodable_image_is_skipped_and_reported(
    eval_set: EvalSet, tiny_models: TinyModels
) -> None:
    db = eval_set.db
    register(db, tiny_models.batchable_pb, batchable_spec(tiny_models))
    broken = eval_set.image_ids[0]
    corrupt(db, broken)
    out = evaluate(db, "tiny", runner=constant_runner(max_batch=4), use_cache=False)
    assert out.metrics["n_images"] == len(eval_set.image_ids) - 1
    assert out.metrics["excluded"]["undecodable_images"] == [broken]
