"""How long ``breedbench suspects`` takes on the full test set with many recorded runs.

A fresh database gets 120 breeds × 50 = 6,000 accepted images (rows only) and 10 evaluation
runs, one per model version: four families, two of them with converted children (so lineages
count once), every prediction with its 120 breed probabilities as float16 bytes, as
``evaluate`` stores them. 1 % of the images are planted mislabels (the models see another
breed). Timed: the ranking ``rank_suspects`` that the command and the Suspects page run (the
first call, then the best of 3), the whole ``breedbench suspects`` command in a fresh process
(imports and all), and how many planted mislabels are in the top 60.

    .venv/bin/python bench/suspects.py [--images 6000] [--runs 10] [--db URL]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402
from machine import describe  # noqa: E402 - bench/ is on sys.path
from sqlalchemy import func, insert, select  # noqa: E402

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
from review.suspects import rank_suspects  # noqa: E402

T0 = datetime(2026, 11, 1, tzinfo=UTC)
# (family, versions): the first version of a family is the parent of the others.
FAMILIES = [("inception", 3), ("mobilenet", 3), ("efficientnet", 2), ("resnet", 2)]


def seed(db: Database, n_images: int, n_runs: int) -> set[int]:
    """The images, versions and runs; the ids of the planted mislabels."""
    rng = np.random.default_rng(1)
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
        rows = s.execute(select(Image.id, Image.breed_id).order_by(Image.id)).all()
        image_ids = np.array([i for i, _ in rows])
        col = {b: n for n, b in enumerate(breeds)}
        truth = np.array([col[b] for _, b in rows])
        planted = rng.choice(len(rows), size=max(1, len(rows) // 100), replace=False)
        seen = truth.copy()
        seen[planted] = (truth[planted] + rng.integers(1, len(breeds), planted.size)) % len(breeds)
        versions = []
        for name, n in FAMILIES:
            model = Model(name=name)
            s.add(model)
            s.flush()
            parent = None
            for v in range(n):
                mv = ModelVersion(
                    model_id=model.id,
                    version=str(v + 1),
                    format="tflite",
                    path="x",
                    sha256=f"{len(versions):064x}",
                    size_bytes=1,
                    parent_id=parent,
                )
                s.add(mv)
                s.flush()
                parent = parent or mv.id
                versions.append(mv.id)
        for r in range(n_runs):
            logits = rng.normal(0.0, 1.0, size=(len(rows), len(breeds)))
            logits[np.arange(len(rows)), seen] += rng.uniform(2.0, 6.0, size=len(rows))
            probs = np.exp(logits - logits.max(axis=1, keepdims=True))
            probs /= probs.sum(axis=1, keepdims=True)
            packed = probs.astype("<f2")
            run = EvalRun(
                model_version_id=versions[r % len(versions)],
                started_at=T0 + timedelta(hours=r),
                status=RunStatus.FINISHED,
                n_images=len(rows),
                prob_breed_ids=breeds,
            )
            s.add(run)
            s.flush()
            s.execute(
                insert(Prediction),
                [
                    {
                        "run_id": run.id,
                        "image_id": int(image_ids[n]),
                        "true_breed_id": breeds[truth[n]],
                        "rank": None,
                        "top5": [],
                        "probs": packed[n].tobytes(),
                    }
                    for n in range(len(rows))
                ],
            )
    return {int(image_ids[p]) for p in planted}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--images", type=int, default=6000)
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--db", help="an empty database URL (default: SQLite in a temp dir)")
    args = parser.parse_args()
    print(f"machine: {describe()}")
    with tempfile.TemporaryDirectory(prefix="bb-bench-suspects-") as tmp:
        root = Path(tmp)
        url = args.db or f"sqlite:///{root / 'bench.db'}"
        db = open_database(Settings(data_dir=root, database_url=url))
        t = time.perf_counter()
        planted = seed(db, args.images, args.runs)
        print(
            f"seeded {args.images} images × {args.runs} runs in {time.perf_counter() - t:.1f} s"
            f" on {db.engine.dialect.name}"
        )
        with db.session() as s:
            stored = s.scalar(select(func.sum(func.length(Prediction.probs))))
            t = time.perf_counter()
            first = rank_suspects(s, limit=20)
            cold = time.perf_counter() - t
            times = []
            for _ in range(3):
                t = time.perf_counter()
                found = rank_suspects(s, limit=60)
                times.append(time.perf_counter() - t)
        hits = len({x.image_id for x in found.suspects} & planted)
        print(
            f"probabilities stored: {stored / 1e6:.1f} MB ({stored / args.images / args.runs:.0f}"
            " bytes per prediction)"
        )
        print(
            f"{first.images_scored} images, {first.versions} versions in {first.lineages} lineages"
        )
        print(f"rank_suspects: first call {cold * 1000:.0f} ms")
        print(f"rank_suspects: best of 3 {min(times) * 1000:.0f} ms")
        print(f"planted mislabels in the top 60: {hits} of {len(planted)}")
        cmd = [
            sys.executable,
            "-m",
            "breedbench",
            "--db",
            url,
            "--data-dir",
            str(root),
            "suspects",
            "--limit",
            "20",
        ]
        t = time.perf_counter()
        cmd_dir = Path(__file__).resolve().parents[1]
        subprocess.run(cmd, check=True, capture_output=True, cwd=cmd_dir)
        took = time.perf_counter() - t
        t = time.perf_counter()
        subprocess.run([*cmd[:3], "--help"], check=True, capture_output=True, cwd=cmd_dir)
        floor = time.perf_counter() - t
        print(
            f"breedbench suspects --limit 20 (new process): {took:.1f} s; "
            f"breedbench --help alone: {floor:.1f} s"
        )
        db.dispose()


if __name__ == "__main__":
    main()
