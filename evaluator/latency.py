"""Per-image latency that means what it says: warm-up apart, steady state measured.

The model's first batch pays for its initialisation (graph optimisation, kernel selection,
memory allocation): on a 9 MB graph it took ten times a later batch. Counted as images'
latency, it made p95 a measure of start-up. So, as TFLite's own ``benchmark_model`` does,
warm-up — loading the model and its first batch — is measured and reported on its own, and the
per-image p50/p95 come from the later (steady-state) batches only.

A batch runs as one call, so an image's latency is the batch's time divided by the images in it
(``PER_IMAGE``); the batch size is stated with the numbers. A run of a single batch has no
steady state: its p50/p95 are that batch's, flagged as including the warm-up.

Stored in the run's metrics JSON: ``latency_ms`` keeps ``p50``/``p95`` (what tables show) and
``latency`` says how they were derived (``summarise``); ``describe`` is the one sentence every
report, the CLI and the app print.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

PER_IMAGE = "batch time / images in the batch"


@dataclass(frozen=True)
class BatchTime:
    """One call of the model: how many images it ran on and how long it took."""

    images: int
    ms: float


def summarise(
    batches: Sequence[BatchTime], batch: int, load_ms: float | None
) -> tuple[dict[str, float], dict[str, Any]]:
    """``(latency_ms, latency)`` for the run's metrics: steady-state p50/p95 per image, and how
    they were derived, with the warm-up (``load_ms``: None when the model was handed in)."""
    timed = [b for b in batches if b.images > 0]
    first = timed[0] if timed else None
    steady = timed[1:] if len(timed) > 1 else timed
    per_image = np.repeat(
        np.array([b.ms / b.images for b in steady], dtype=np.float64),
        [b.images for b in steady],
    )
    p50 = float(np.percentile(per_image, 50)) if per_image.size else 0.0
    p95 = float(np.percentile(per_image, 95)) if per_image.size else 0.0
    latency = {
        "per_image": PER_IMAGE,
        "batch": batch,
        "steady_state": len(timed) > 1,
        "steady_batches": len(timed) - 1 if len(timed) > 1 else 0,
        "steady_images": int(per_image.size) if len(timed) > 1 else 0,
        "warmup": {
            "load_ms": None if load_ms is None else round(load_ms, 3),
            "first_batch_ms": None if first is None else round(first.ms, 3),
            "first_batch_images": 0 if first is None else first.images,
        },
    }
    return {"p50": p50, "p95": p95}, latency


def describe(metrics: dict[str, Any]) -> str:
    """How a run's per-image latency was measured, in one sentence (any run's metrics JSON)."""
    lat = metrics.get("latency")
    if not isinstance(lat, dict):
        return (
            f"per image = {PER_IMAGE}; recorded before warm-up was measured apart, so p50/p95 "
            "include the first batch"
        )
    warm = lat.get("warmup") or {}
    load = warm.get("load_ms")
    first = warm.get("first_batch_ms")
    first_n = warm.get("first_batch_images", 0)
    parts = []
    if load is not None:
        parts.append(f"load {_ms(load)}")
    if first is not None:
        parts.append(f"first batch {_ms(first)} ({_images(first_n)})")
    warmup = ", ".join(parts) or "not measured"
    batch = lat.get("batch")
    if batch == 1:
        head = "per image = the time of its own call (one image per call)"
    else:
        head = f"per image = {lat.get('per_image', PER_IMAGE)}, batches of up to {batch}"
    if not lat.get("steady_state"):
        return f"{head}; a single batch, so no steady state: p50/p95 include the warm-up ({warmup})"
    return (
        f"{head}; p50/p95 over {lat['steady_batches']} steady-state "
        f"batch{'es' if lat['steady_batches'] != 1 else ''} ({_images(lat['steady_images'])}); "
        f"warm-up apart: {warmup}"
    )


def warmup_ms(metrics: dict[str, Any]) -> float | None:
    """Load plus first batch, in ms (None for runs recorded before warm-up was measured)."""
    warm = (metrics.get("latency") or {}).get("warmup") or {}
    parts = [warm.get("load_ms"), warm.get("first_batch_ms")]
    known = [p for p in parts if p is not None]
    return float(sum(known)) if known else None


def _images(n: int) -> str:
    return f"{n} image{'s' if n != 1 else ''}"


def _ms(x: float) -> str:
    return f"{x:,.0f} ms" if x >= 100 else f"{x:.1f} ms"
