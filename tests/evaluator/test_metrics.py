"""Metric formulas against independent implementations."""

from __future__ import annotations

import pytest
from scipy.stats import binomtest

from evaluator.metrics import PredictionRecord, compute_metrics, wilson_interval


@pytest.mark.parametrize(("k", "n"), [(84, 100), (0, 50), (50, 50), (3, 7), (4711, 6000)])
def test_wilson_interval_matches_scipy(k: int, n: int) -> None:
    ci = binomtest(k, n).proportion_ci(confidence_level=0.95, method="wilson")
    assert wilson_interval(k, n) == pytest.approx((ci.low, ci.high), abs=1e-9)


def test_metrics_by_hand() -> None:
    recs = [
        PredictionRecord(1, 10, [(10, 0.9), (11, 0.1)], 1, 2.0),
        PredictionRecord(2, 10, [(11, 0.6), (12, 0.3), (10, 0.1)], 3, 4.0),
        PredictionRecord(3, 11, [(12, 0.5), (10, 0.3)], None, 6.0),
        PredictionRecord(4, 12, [(12, 0.7), (11, 0.2)], 1, 8.0),
    ]
    m = compute_metrics(recs, wall_seconds=2.0, model_size_bytes=123, dataset_hash="h")
    assert (m["top1"]["correct"], m["top3"]["correct"], m["top5"]["correct"]) == (2, 3, 3)
    assert m["macro_top1"] == pytest.approx((0.5 + 0 + 1) / 3)
    assert m["per_breed"] == {
        "10": {"n": 2, "top1": 1, "top5": 2},
        "11": {"n": 1, "top1": 0, "top5": 0},
        "12": {"n": 1, "top1": 1, "top5": 1},
    }
    assert m["confusions"] == [[10, 11, 1], [11, 12, 1]]
    assert m["latency_ms"] == {"p50": 5.0, "p95": pytest.approx(7.7)}
    assert m["throughput_ips"] == 2.0 and m["model_size_bytes"] == 123
