"""The read API the app uses, McNemar's test, and reports."""

from __future__ import annotations

import json

import numpy as np
import pytest
from scipy.stats import binomtest

from db.database import Database
from evaluator.compare import compare_runs, mcnemar_exact
from evaluator.metrics import wilson_interval
from evaluator.pipeline import evaluate
from evaluator.report import render, report_data
from evaluator.results import (
    breed_results,
    children,
    confusions,
    get_run,
    lineage,
    list_runs,
    predictions,
)
from evaluator.runners.fake import FakeRunner
from tests.fixtures.evaluation import EvalSet, batchable_spec, register
from tests.modelkit import TinyModels


def fixed_runner(table: dict[int, list[float]], order: list[int]) -> FakeRunner:
    """Scores per image, handed out in evaluation order (by image id)."""
    queue = iter(order)
    return FakeRunner(lambda x: np.array([table[next(queue)] for _ in range(len(x))]), 4)


def two_runs(es: EvalSet, tiny: TinyModels) -> tuple[int, int, dict[int, bool], dict[int, bool]]:
    """Run A right on even ids, run B right on ids divisible by 3: known discordant pairs."""
    base = register(es.db, tiny.batchable_pb, batchable_spec(tiny), "m", "a")
    register(es.db, tiny.batchable_pb, batchable_spec(tiny), "m", "b", parent_id=base.id)
    right_a = {i: i % 2 == 0 for i in es.image_ids}
    right_b = {i: i % 3 == 0 for i in es.image_ids}

    def scores(right: dict[int, bool]) -> dict[int, list[float]]:
        out = {}
        for i, ok in right.items():
            true = es.labels[i]
            guess = true if ok else (true + 1) % 4
            row = [0.1] * 4
            row[guess] = 0.7
            out[i] = row
        return out

    a = evaluate(es.db, "m:a", runner=fixed_runner(scores(right_a), es.image_ids)).run_id
    b = evaluate(es.db, "m:b", runner=fixed_runner(scores(right_b), es.image_ids)).run_id
    return a, b, right_a, right_b


def test_compare_counts_fixed_and_broken_and_mcnemar(
    eval_set: EvalSet, tiny_models: TinyModels
) -> None:
    a, b, right_a, right_b = two_runs(eval_set, tiny_models)
    with eval_set.db.session() as s:
        c = compare_runs(s, a, b)
    fixed = sorted(i for i in eval_set.image_ids if not right_a[i] and right_b[i])
    broken = sorted(i for i in eval_set.image_ids if right_a[i] and not right_b[i])
    assert [x.image_id for x in c.fixed] == fixed
    assert [x.image_id for x in c.broken] == broken
    assert c.shared == len(eval_set.image_ids) and c.same_dataset
    assert c.top1_a == pytest.approx(sum(right_a.values()) / len(right_a))
    assert c.top1_b == pytest.approx(sum(right_b.values()) / len(right_b))
    assert c.p_value == pytest.approx(binomtest(len(fixed), len(fixed) + len(broken)).pvalue)
    assert mcnemar_exact(0, 0) == 1.0
    assert mcnemar_exact(0, 12) < 0.001
    n_by_breed = {d.slug: d.n for d in c.per_breed}
    assert sum(n_by_breed.values()) == c.shared
    assert c.per_breed == sorted(c.per_breed, key=lambda d: (d.delta, d.slug))


def test_read_api(eval_set: EvalSet, tiny_models: TinyModels) -> None:
    a, b, right_a, _ = two_runs(eval_set, tiny_models)
    db: Database = eval_set.db
    with db.session() as s:
        runs = list_runs(s, "m")
        assert [r.id for r in runs] == [b, a]  # newest first
        assert [r.id for r in list_runs(s, "m", "a")] == [a]
        detail = get_run(s, a)
        n = len(eval_set.image_ids)
        k = sum(right_a.values())
        assert detail.topk[0].correct == k and detail.topk[0].n == n
        lo, hi = wilson_interval(k, n)
        assert (detail.topk[0].ci_low, detail.topk[0].ci_high) == pytest.approx((lo, hi))
        per = breed_results(s, a)
        assert sum(r.n for r in per) == n and sum(r.top1 for r in per) == k
        assert [r.top1_rate for r in per] == sorted(r.top1_rate for r in per)
        conf = confusions(s, a)
        assert sum(c.count for c in conf) == n - k
        wrong = predictions(s, a, wrong_only=True)
        assert {p.image_id for p in wrong} == {i for i, ok in right_a.items() if not ok}
        row = predictions(s, a, image_ids=[eval_set.image_ids[0]])[0]
        assert len(row.top5) == 4 and row.top5[0].probability == pytest.approx(0.7)
        assert row.true_slug == tiny_models.labels[eval_set.labels[row.image_id]]
        chain = lineage(s, runs[0].version_id)
        assert [v.ref for v in chain] == ["m:a", "m:b"]
        assert [v.ref for v in children(s, chain[0].id)] == ["m:b"]


def test_reports(eval_set: EvalSet, tiny_models: TinyModels) -> None:
    a, _, right_a, _ = two_runs(eval_set, tiny_models)
    with eval_set.db.session() as s:
        data = report_data(s, a)
    as_json = json.loads(render(data, "json"))
    assert as_json["topk"][0]["correct"] == sum(right_a.values())
    assert as_json["run"]["dataset_hash"] == data["run"]["dataset_hash"]
    md = render(data, "md")
    assert f"| top-1 | {sum(right_a.values())} / {len(right_a)} |" in md
    assert "maltese_dog" not in md and "excluded): 1" in md
    page = render(data, "html")
    assert page.startswith("<!doctype html>") and page.count("<svg") == 2
    for external in ("<script", "src=", "href=", "url(", "<link", "@import"):
        assert external not in page
