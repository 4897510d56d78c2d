"""Screening throughput: ``breedbench screen`` against ``breedbench evaluate`` on the same images.

Screening runs the evaluation's own predict step (same thread pool, same input cache), so on the
same images with the same model it should take about as long as an evaluation; it stores a row
per image (dog score, top-3, agreement) instead of a prediction. Builds Keras' MobileNetV2
(224×224, 120 classes, ``weights=None``: nothing is downloaded) as a dynamic-range ``.tflite``
(``bench/evaluate.py``'s model), stores ``--images`` photo-sized pending JPEGs, then:

- screening (the images pending) and evaluation (the same images accepted: their status is set
  directly between the runs, this database is thrown away) with a cold input cache, then both
  with a warm one, twice over and interleaved (each goes first once), since other processes
  share the machine;

and prints images/s of each (the best of two) and the ratio screening / evaluation (goal: ≤ 1.1).

    .venv/bin/python bench/screen.py [--images 1000] [--threads 2] [--models DIR]
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from evaluate import SIZE, build_models, photo_jpeg  # noqa: E402 - bench/ is on sys.path
from machine import describe  # noqa: E402
from sqlalchemy import select, update  # noqa: E402

from core.settings import Settings  # noqa: E402
from db.breeds import stanford_breeds  # noqa: E402
from db.database import Database, open_database  # noqa: E402
from db.images import ImageMeta, add_image  # noqa: E402
from db.models import Breed, Image, ImageStatus  # noqa: E402
from db.provenance import Provenance  # noqa: E402
from db.seed import seed_breeds  # noqa: E402
from evaluator.pipeline import evaluate  # noqa: E402
from evaluator.registry import register_model  # noqa: E402
from evaluator.screening import screen  # noqa: E402
from evaluator.spec import ModelSpec  # noqa: E402


def fill_pending(db: Database, n: int) -> None:
    slugs = [b.slug for b in stanford_breeds()]
    with db.session() as s:
        seed_breeds(s)
        ids = {b.slug: b.id for b in s.scalars(select(Breed))}
    with db.session() as s:
        for i in range(n):
            meta = ImageMeta(Provenance(source="bench"))
            add_image(s, db.store, photo_jpeg(i), ids[slugs[i % 120]], meta)


def set_status(db: Database, status: ImageStatus) -> None:
    """Every image pending (to screen) or accepted (to evaluate): the same images both ways."""
    with db.session() as s:
        s.execute(update(Image).values(status=status))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--images", type=int, default=1000)
    ap.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--models", type=Path, help="Reuse (or build once into) this folder.")
    args = ap.parse_args()
    print(f"machine: {describe()}; {args.images} images, threads {args.threads}")
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        models = args.models or folder
        models.mkdir(parents=True, exist_ok=True)
        lite = models / "mobilenet.tflite"
        if not lite.exists():
            _, lite = build_models(models)
        settings = Settings(data_dir=folder / "data", database_url=f"sqlite:///{folder / 'b.db'}")
        db = open_database(settings)
        fill_pending(db, args.images)
        common = {"kind": "tensor", "size": [SIZE, SIZE], "resize": "bilinear",
                  "scale": 1 / 127.5, "offset": -1.0}  # fmt: skip
        labels = [b.slug for b in stanford_breeds()]
        spec = ModelSpec.from_dict({"input": common, "output": {}, "labels": {"names": labels}})
        ref = register_model(db, lite, "mobilenet", "lite", spec).ref
        cache = settings.data_dir / "cache"
        timings: dict[str, float] = {}

        def timed(name: str, fn) -> None:  # type: ignore[no-untyped-def]
            t = time.perf_counter()
            fn()
            took = time.perf_counter() - t
            timings[name] = min(took, timings.get(name, took))
            print(f"  {name}: {took:.1f} s ({args.images / took:.0f} img/s)")

        kw = {"threads": args.threads, "batch": args.batch}
        print(f"load average at start: {os.getloadavg()[0]:.1f}")
        runs = [
            ("screen", ImageStatus.PENDING, screen),
            ("evaluate", ImageStatus.ACCEPTED, evaluate),
        ]
        for round_ in range(2):
            for state in ("cold", "warm"):
                for name, status, run in runs if round_ == 0 else runs[::-1]:  # both go first once
                    set_status(db, status)
                    if state == "cold":
                        shutil.rmtree(cache, ignore_errors=True)
                    timed(f"{name}, {state} cache", lambda run=run: run(db, ref, **kw))
        print(f"load average at end: {os.getloadavg()[0]:.1f}")
        for state in ("cold", "warm"):
            s, e = timings[f"screen, {state} cache"], timings[f"evaluate, {state} cache"]
            print(
                f"{state} cache, best of 2: screening {args.images / s:.0f} img/s, evaluate "
                f"{args.images / e:.0f} img/s; screening / evaluate {s / e:.2f} (goal ≤ 1.1)"
            )
        db.dispose()


if __name__ == "__main__":
    main()
