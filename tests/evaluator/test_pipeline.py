"""End to end on real tiny models: exact counts, label order, batching, cache, nothing half-done."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image as PILImage
from sqlalchemy import func, select

from core.errors import BreedbenchError
from db.models import CalibrationImage, EvalRun, Image, Prediction
from evaluator import pipeline
from evaluator.pipeline import evaluate
from evaluator.runners.fake import FakeRunner
from tests.fixtures.evaluation import (
    EvalSet,
    add_eval_images,
    batchable_spec,
    classic_spec,
    jpeg_spec,
    lite_spec,
    register,
)
from tests.modelkit import TinyModels


def classic_outputs(tiny: TinyModels, es: EvalSet) -> dict[int, np.ndarray]:
    """The classic graph run directly in a TF session on PIL-decoded images, no evaluator code."""
    import tensorflow as tf

    gd = tf.compat.v1.GraphDef()
    gd.ParseFromString(tiny.classic_pb.read_bytes())
    with tf.Graph().as_default() as g:
        tf.import_graph_def(gd, name="")
    out = {}
    with tf.compat.v1.Session(graph=g) as sess:
        for image_id in es.image_ids:
            with es.db.session() as s:
                path = s.get(Image, image_id).path
            rgb = np.asarray(PILImage.open(io.BytesIO(es.db.store.read(path))).convert("RGB"))
            out[image_id] = sess.run("output_node:0", {"Cast:0": rgb})[:, 0]
    return out


def expected_counts(outputs: dict[int, np.ndarray], truth: dict[int, int]) -> dict[int, int]:
    counts = {}
    for k in (1, 3, 5):
        counts[k] = sum(int(truth[i] in np.argsort(-outputs[i])[:k].tolist()) for i in outputs)
    return counts


def run_ranks(es: EvalSet, run_id: int) -> dict[int, int | None]:
    with es.db.session() as s:
        rows = s.execute(
            select(Prediction.image_id, Prediction.rank).where(Prediction.run_id == run_id)
        )
        return {image_id: rank for image_id, rank in rows}


def test_classic_pb_top_k_counts_match_an_independent_computation(
    eval_set: EvalSet, tiny_models: TinyModels
) -> None:
    register(eval_set.db, tiny_models.classic_pb, classic_spec(tiny_models))
    outcome = evaluate(eval_set.db, "tiny:1", threads=1)
    outputs = classic_outputs(tiny_models, eval_set)
    expected = expected_counts(outputs, eval_set.labels)
    m = outcome.metrics
    # the faint test images make the tiny model miss some: top-1 < top-3 ≤ top-5 = all
    assert 0 < expected[1] < expected[3] and expected[5] == len(eval_set.image_ids)
    assert [m["top1"]["correct"], m["top3"]["correct"], m["top5"]["correct"]] == [
        expected[1],
        expected[3],
        expected[5],
    ]
    assert m["n_images"] == len(eval_set.image_ids)
    # the image of a breed the model has no class for is counted and excluded
    assert m["excluded"]["uncovered_images"] == 1
    assert m["excluded"]["uncovered_breeds"] == {"maltese_dog": 1}
    ranks = run_ranks(eval_set, outcome.run_id)
    assert set(ranks) == set(eval_set.image_ids)
    for image_id, rank in ranks.items():
        order = np.argsort(-outputs[image_id]).tolist()
        assert rank == order.index(eval_set.labels[image_id]) + 1
    assert outcome.settings["batch"] == 1  # [None, None, 3] input: one image at a time


def test_jpeg_bytes_input_agrees_with_decoded_image_input(
    eval_set: EvalSet, tiny_models: TinyModels
) -> None:
    register(eval_set.db, tiny_models.classic_pb, classic_spec(tiny_models), version="img")
    register(eval_set.db, tiny_models.classic_pb, jpeg_spec(tiny_models), version="jpeg")
    a = evaluate(eval_set.db, "tiny:img", threads=1)
    b = evaluate(eval_set.db, "tiny:jpeg", threads=1)
    assert b.settings["cache_hits"] == 0  # JPEG bytes go to the graph as they are: no cache
    assert abs(a.metrics["top1"]["correct"] - b.metrics["top1"]["correct"]) <= 1
    assert a.metrics["dataset_hash"] == b.metrics["dataset_hash"]


def test_sorted_label_order_is_not_file_order(eval_set: EvalSet, tiny_models: TinyModels) -> None:
    """The same graph read with sorted labels scores differently (the classes are permuted)."""
    register(eval_set.db, tiny_models.classic_pb, classic_spec(tiny_models), version="file")
    register(
        eval_set.db,
        tiny_models.classic_pb,
        classic_spec(tiny_models, order="sorted"),
        version="sorted",
    )
    right = evaluate(eval_set.db, "tiny:file", threads=1)
    wrong = evaluate(eval_set.db, "tiny:sorted", threads=1)
    outputs = classic_outputs(tiny_models, eval_set)
    permuted = sorted(tiny_models.labels)  # class c is read as breed permuted[c]
    truth_sorted = {i: permuted.index(tiny_models.labels[c]) for i, c in eval_set.labels.items()}
    assert wrong.metrics["top1"]["correct"] == expected_counts(outputs, truth_sorted)[1]
    assert right.metrics["top1"]["correct"] == expected_counts(outputs, eval_set.labels)[1]
    assert right.metrics["top1"]["correct"] > wrong.metrics["top1"]["correct"]


def test_batchable_graph_batches_and_agrees_with_one_by_one(
    eval_set: EvalSet, tiny_models: TinyModels
) -> None:
    register(eval_set.db, tiny_models.batchable_pb, batchable_spec(tiny_models))
    batched = evaluate(eval_set.db, "tiny:1", threads=1, batch=8)
    single = evaluate(eval_set.db, "tiny:1", threads=1, batch=1)
    assert batched.settings["batch"] == 8 and single.settings["batch"] == 1
    assert run_ranks(eval_set, batched.run_id) == run_ranks(eval_set, single.run_id)
    # the batchable graph computes what the classic one does (same weights, same resize)
    register(eval_set.db, tiny_models.classic_pb, classic_spec(tiny_models), "classic")
    classic = evaluate(eval_set.db, "classic", threads=1)
    assert run_ranks(eval_set, classic.run_id) == run_ranks(eval_set, batched.run_id)


def test_logits_output_gets_a_softmax(eval_set: EvalSet, tiny_models: TinyModels) -> None:
    register(eval_set.db, tiny_models.batchable_pb, batchable_spec(tiny_models), version="p")
    register(
        eval_set.db, tiny_models.batchable_pb, batchable_spec(tiny_models, "logits:0"), version="l"
    )
    p = evaluate(eval_set.db, "tiny:p", threads=1)
    lo = evaluate(eval_set.db, "tiny:l", threads=1)
    with eval_set.db.session() as s:
        tops = {
            run: dict(
                s.execute(
                    select(Prediction.image_id, Prediction.top5).where(Prediction.run_id == run)
                ).all()
            )
            for run in (p.run_id, lo.run_id)
        }
    for image_id, top5 in tops[p.run_id].items():
        other = tops[lo.run_id][image_id]
        assert [b for b, _ in top5] == [b for b, _ in other]
        assert np.allclose([q for _, q in top5], [q for _, q in other], atol=1e-5)
        assert 0.99 < sum(q for _, q in top5) < 1.01  # 4 classes: the top-4 hold everything


def test_second_model_with_same_preprocessing_hits_the_cache(
    eval_set: EvalSet, tiny_models: TinyModels
) -> None:
    n = len(eval_set.image_ids)
    register(eval_set.db, tiny_models.batchable_pb, batchable_spec(tiny_models), "a")
    register(eval_set.db, tiny_models.sub_float, lite_spec(tiny_models), "b")
    first = evaluate(eval_set.db, "a")
    second = evaluate(eval_set.db, "b")
    assert (first.settings["cache_hits"], first.settings["cache_misses"]) == (0, n)
    assert (second.settings["cache_hits"], second.settings["cache_misses"]) == (n, 0)
    # the cached tensor is scale/offset-free, so [-1, 1] and x − 128 share it and agree
    assert run_ranks(eval_set, first.run_id) == run_ranks(eval_set, second.run_id)


def test_limit_and_dataset_hash(eval_set: EvalSet, tiny_models: TinyModels) -> None:
    register(eval_set.db, tiny_models.batchable_pb, batchable_spec(tiny_models))
    full = evaluate(eval_set.db, "tiny")
    part = evaluate(eval_set.db, "tiny", limit=5)
    again = evaluate(eval_set.db, "tiny", limit=5)
    assert part.metrics["n_images"] == 5
    assert set(run_ranks(eval_set, part.run_id)) == set(eval_set.image_ids[:5])
    assert part.metrics["dataset_hash"] == again.metrics["dataset_hash"]
    assert part.metrics["dataset_hash"] != full.metrics["dataset_hash"]


def test_calibration_images_are_excluded_or_reported(
    eval_set: EvalSet, tiny_models: TinyModels
) -> None:
    v = register(eval_set.db, tiny_models.sub_int8, lite_spec(tiny_models))
    calib = eval_set.image_ids[:3]
    with eval_set.db.session() as s:
        s.add_all(CalibrationImage(model_version_id=v.id, image_id=i) for i in calib)
    n = len(eval_set.image_ids)
    out = evaluate(eval_set.db, "tiny")
    assert out.metrics["n_images"] == n - 3
    assert not set(calib) & set(run_ranks(eval_set, out.run_id))
    assert out.metrics["excluded"]["calibration_images"] == 3
    kept = evaluate(eval_set.db, "tiny", include_calibration=True)
    assert kept.metrics["n_images"] == n
    assert kept.metrics["excluded"]["calibration_included"] is True
    assert kept.metrics["excluded"]["calibration_images"] == 3


def _runs(es: EvalSet) -> tuple[int, int]:
    with es.db.session() as s:
        return (
            s.scalar(select(func.count()).select_from(EvalRun)),
            s.scalar(select(func.count()).select_from(Prediction)),
        )


def test_an_interrupted_evaluation_records_nothing(
    eval_set: EvalSet, tiny_models: TinyModels
) -> None:
    register(eval_set.db, tiny_models.batchable_pb, batchable_spec(tiny_models))
    calls = {"n": 0}

    def fn(x: np.ndarray) -> np.ndarray:
        calls["n"] += 1
        if calls["n"] == 3:
            raise KeyboardInterrupt
        return np.tile([0.7, 0.1, 0.1, 0.1], (len(x), 1))

    with pytest.raises(KeyboardInterrupt):
        evaluate(eval_set.db, "tiny", runner=FakeRunner(fn, max_batch=4))
    assert calls["n"] == 3
    assert _runs(eval_set) == (0, 0)


def test_a_failure_while_recording_leaves_no_half_run(
    eval_set: EvalSet, tiny_models: TinyModels, monkeypatch: pytest.MonkeyPatch
) -> None:
    register(eval_set.db, tiny_models.batchable_pb, batchable_spec(tiny_models))
    real = pipeline.compute_metrics

    def boom(*a, **k):  # type: ignore[no-untyped-def]
        real(*a, **k)
        raise RuntimeError("disk full")

    monkeypatch.setattr(pipeline, "compute_metrics", boom)
    with pytest.raises(RuntimeError):
        evaluate(eval_set.db, "tiny")
    assert _runs(eval_set) == (0, 0)


def test_output_size_not_matching_labels_says_both_numbers(
    eval_set: EvalSet, tiny_models: TinyModels
) -> None:
    register(eval_set.db, tiny_models.batchable_pb, batchable_spec(tiny_models))
    runner = FakeRunner(lambda x: np.ones((len(x), 7)), max_batch=4)
    with pytest.raises(BreedbenchError, match=r"outputs 7 values per image .* labels list 4"):
        evaluate(eval_set.db, "tiny", runner=runner)
    assert _runs(eval_set) == (0, 0)


def test_no_accepted_images_is_a_clear_error(database, tiny_models: TinyModels) -> None:  # type: ignore[no-untyped-def]
    register(database, tiny_models.batchable_pb, batchable_spec(tiny_models))
    with pytest.raises(BreedbenchError, match="no accepted images"):
        evaluate(database, "tiny")


def test_fake_runner_exact_metrics(database, tiny_models: TinyModels) -> None:  # type: ignore[no-untyped-def]
    """A fake model whose scores are known: every count is checked by hand."""
    es = add_eval_images(database, tiny_models.labels, per_class=3)
    register(database, tiny_models.batchable_pb, batchable_spec(tiny_models))
    # always ranks: class 0, 1, 2, 3
    runner = FakeRunner(lambda x: np.tile([0.4, 0.3, 0.2, 0.1], (len(x), 1)), max_batch=5)
    m = evaluate(database, "tiny", runner=runner).metrics
    assert m["n_images"] == 12
    assert (m["top1"]["correct"], m["top3"]["correct"], m["top5"]["correct"]) == (3, 9, 12)
    assert m["macro_top1"] == pytest.approx(0.25)
    with database.session() as s:
        ids = s.execute(select(Image.breed_id).where(Image.id == es.image_ids[0])).scalar()
    assert m["per_breed"][str(ids)] == {"n": 3, "top1": 3, "top5": 3}
    top_confusions = {(t, p) for t, p, _ in m["confusions"]}
    assert all(p == ids for _, p in top_confusions) and len(top_confusions) == 3
    assert all(c == 3 for _, _, c in m["confusions"])


def test_runs_record_and_read_back_on_both_databases(any_database, tiny_models: TinyModels) -> None:  # type: ignore[no-untyped-def]
    from evaluator.compare import compare_runs
    from evaluator.results import breed_results, list_runs, predictions

    es = add_eval_images(any_database, tiny_models.labels, per_class=2)
    register(any_database, tiny_models.batchable_pb, batchable_spec(tiny_models))
    a = evaluate(any_database, "tiny", batch=4)
    b = evaluate(any_database, "tiny", batch=1)
    with any_database.session() as s:
        assert [r.id for r in list_runs(s, "tiny")] == [b.run_id, a.run_id]
        assert sum(r.n for r in breed_results(s, a.run_id)) == len(es.image_ids)
        assert len(predictions(s, a.run_id)) == len(es.image_ids)
        c = compare_runs(s, a.run_id, b.run_id)
    assert c.shared == len(es.image_ids) and not c.fixed and not c.broken and c.same_dataset
