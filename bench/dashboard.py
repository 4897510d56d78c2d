"""How long the "Models & evaluations" pages spend reading the database at full size.

A fresh SQLite database gets the full test set (120 breeds × 50 = 6,000 accepted images, rows
only: the pages read no image bytes except the 12 thumbnails they show) and a model with a
``.pb`` parent and a ``.tflite`` child evaluated 10 times each (20 runs, 120,000 predictions,
metrics JSON from ``evaluator.metrics``). Each page's data functions are timed (best of 3) and
set against the raw floor measured in the same run: reading one run's 6,000 prediction rows.

    .venv/bin/python bench/dashboard.py [--runs 20] [--images 6000]
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from machine import describe  # noqa: E402 - bench/ is on sys.path
from sqlalchemy import insert, select  # noqa: E402

from core.settings import Settings  # noqa: E402
from db.database import Database, open_database  # noqa: E402
from db.models import (  # noqa: E402
    Breed,
    EvalRun,
    Image,
    ImageStatus,
    Model,
    ModelVersion,
    Prediction,
    RunStatus,
)
from db.seed import seed_breeds  # noqa: E402
from evaluator import dashboard as ev  # noqa: E402
from evaluator.metrics import PredictionRecord, compute_metrics  # noqa: E402

T0 = datetime(2026, 11, 1, tzinfo=UTC)


def seed(db: Database, n_images: int, n_runs: int) -> list[int]:
    rng = random.Random(1)
    with db.session() as s:
        seed_breeds(s)
        breeds = list(s.scalars(select(Breed.id).order_by(Breed.id)))
        s.execute(
            insert(Image),
            [
                {
                    "breed_id": breeds[i % len(breeds)],
                    "found_breed_id": breeds[i % len(breeds)],
                    "sha256": f"{i:064x}",
                    "width": 500,
                    "height": 375,
                    "format": "JPEG",
                    "byte_size": 1,
                    "path": f"originals/{i}",
                    "source": "bench",
                    "status": ImageStatus.ACCEPTED,
                }
                for i in range(n_images)
            ],
        )
        images = [(i, b) for i, b in s.execute(select(Image.id, Image.breed_id)).all()]
        model = Model(name="bench")
        s.add(model)
        s.flush()
        parent = ModelVersion(
            model_id=model.id, version="1", format="frozen_pb", path="p", sha256="a" * 64,
            size_bytes=96_300_000, spec={"input": {"kind": "image"}},
        )  # fmt: skip
        s.add(parent)
        s.flush()
        child = ModelVersion(
            model_id=model.id, version="1-int8", format="tflite", path="c", sha256="b" * 64,
            size_bytes=30_700_000, parent_id=parent.id, conversion={"quantize": "int8"},
            spec={"input": {"kind": "image"}},
        )  # fmt: skip
        s.add(child)
        s.flush()
        run_ids = []
        for r in range(n_runs):
            version = parent if r % 2 == 0 else child
            p_top1 = 0.84 if version is parent else 0.79
            records = []
            for image_id, breed_id in images:
                u = rng.random()
                rank = 1 if u < p_top1 else rng.choice([2, 3, 4, 5, None])
                others = rng.sample([b for b in breeds if b != breed_id], 5)
                if rank:
                    others.insert(rank - 1, breed_id)
                top5 = list(zip(others[:5], [0.5, 0.2, 0.1, 0.1, 0.1], strict=True))
                records.append(PredictionRecord(image_id, breed_id, top5, rank, 20.0))
            metrics = compute_metrics(
                records, wall_seconds=60, model_size_bytes=version.size_bytes, dataset_hash="h"
            )
            run = EvalRun(
                model_version_id=version.id, started_at=T0 + timedelta(days=r), finished_at=T0,
                status=RunStatus.FINISHED, dataset_hash="h", n_images=len(records),
                metrics=metrics,
            )  # fmt: skip
            s.add(run)
            s.flush()
            s.execute(
                insert(Prediction),
                [
                    {
                        "run_id": run.id,
                        "image_id": x.image_id,
                        "true_breed_id": x.true_breed_id,
                        "rank": x.rank,
                        "top5": [list(t) for t in x.top5],
                        "latency_ms": x.latency_ms,
                    }
                    for x in records
                ],
            )
            run_ids.append(run.id)
    return run_ids


def best_of(fn: Callable[[], object], repeat: int = 3) -> float:
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--images", type=int, default=6000)
    args = parser.parse_args()
    print(f"machine: {describe()}")
    with tempfile.TemporaryDirectory(prefix="bb-bench-dashboard-") as tmp:
        run(Path(tmp), args.images, args.runs)


def run(root: Path, n_images: int, n_runs: int) -> None:
    db = open_database(Settings(data_dir=root, database_url=f"sqlite:///{root / 'bench.db'}"))
    t = time.perf_counter()
    runs = seed(db, n_images, n_runs)
    print(f"seeded {n_images} images, {len(runs)} runs in {time.perf_counter() - t:.1f} s")
    last, prev = runs[-1], runs[-2]
    with db.session() as s:
        floor = best_of(
            lambda: s.execute(select(Prediction).where(Prediction.run_id == last)).all()
        )
        pages = {
            "Models (tree, runs, history, trade-offs)": lambda: (
                ev.version_tree(s, "bench"),
                ev.runs(s, "bench"),
                ev.history(s, "bench"),
                ev.trade_offs(s, "bench"),
            ),
            "Run details (per breed, pairs, 1st gallery page)": lambda: (
                ev.per_breed(s, last),
                ev.confused_pairs(s, last),
                ev.mistakes(s, last, limit=12),
            ),
            "Compare runs (uncached)": lambda: ev.compare(s, prev, last),
        }
        print(f"floor: read one run's {n_images} predictions: {floor * 1000:.0f} ms")
        print("| page | data time | × floor |")
        print("|---|---|---|")
        for name, fn in pages.items():
            took = best_of(fn)
            print(f"| {name} | {took * 1000:.0f} ms | {took / floor:.1f} |")
    db.dispose()


if __name__ == "__main__":
    main()
