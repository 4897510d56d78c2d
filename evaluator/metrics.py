"""Metrics of one run, from its per-image predictions: a pure function of the records.

Stored as JSON in ``eval_runs.metrics`` (breed ids as string keys), read back by
``evaluator.results``. Top-k rates carry 95 % Wilson intervals: with ~50 images per breed and a
few thousand in all, the interval says how much a one-point difference means.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

Z95 = 1.959963984540054
TOP_KS = (1, 3, 5)
MAX_CONFUSIONS = 25


@dataclass(frozen=True)
class PredictionRecord:
    image_id: int
    true_breed_id: int
    top5: list[tuple[int, float]]  # (breed id, probability), best first
    rank: int | None  # 1-based rank of the true breed among the top 5, else None
    latency_ms: float
    # Every breed's probability, packed (``db.probabilities``), in the run's breed order.
    probs: bytes | None = None
    crop: dict[str, Any] | None = None  # a cropped run: the box the classifier saw (None: whole)


def wilson_interval(k: int, n: int, z: float = Z95) -> tuple[float, float]:
    """The Wilson score interval for k successes in n trials (good near 0 % and 100 %)."""
    if n == 0:
        return (0.0, 0.0)
    p = k / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return (max(0.0, centre - half), min(1.0, centre + half))


def hits(rank: int | None, k: int) -> bool:
    return rank is not None and rank <= k


def compute_metrics(
    records: Sequence[PredictionRecord],
    *,
    wall_seconds: float,
    model_size_bytes: int,
    dataset_hash: str,
    excluded: dict[str, object] | None = None,
) -> dict[str, object]:
    """Everything ``report`` and ``history`` show, as a JSON-able dict."""
    n = len(records)
    topk = {}
    for k in TOP_KS:
        correct = sum(hits(r.rank, k) for r in records)
        lo, hi = wilson_interval(correct, n)
        topk[f"top{k}"] = {"correct": correct, "rate": correct / n if n else 0.0, "ci95": [lo, hi]}

    per_breed: dict[int, dict[str, int]] = defaultdict(lambda: {"n": 0, "top1": 0, "top5": 0})
    confusions: Counter[tuple[int, int]] = Counter()
    for r in records:
        b = per_breed[r.true_breed_id]
        b["n"] += 1
        b["top1"] += hits(r.rank, 1)
        b["top5"] += hits(r.rank, 5)
        if r.top5 and r.top5[0][0] != r.true_breed_id:
            confusions[(r.true_breed_id, r.top5[0][0])] += 1
    macro = float(np.mean([b["top1"] / b["n"] for b in per_breed.values()])) if per_breed else 0.0
    latencies = np.array([r.latency_ms for r in records], dtype=np.float64)
    return {
        "n_images": n,
        **topk,
        "macro_top1": macro,
        "per_breed": {str(bid): dict(v) for bid, v in sorted(per_breed.items())},
        "confusions": [
            [true, pred, count]
            for (true, pred), count in sorted(confusions.items(), key=lambda kv: (-kv[1], kv[0]))
        ][:MAX_CONFUSIONS],
        "latency_ms": {
            "p50": float(np.percentile(latencies, 50)) if n else 0.0,
            "p95": float(np.percentile(latencies, 95)) if n else 0.0,
        },
        "wall_seconds": wall_seconds,
        "throughput_ips": n / wall_seconds if wall_seconds > 0 else 0.0,
        "model_size_bytes": model_size_bytes,
        "dataset_hash": dataset_hash,
        "excluded": excluded or {},
    }
