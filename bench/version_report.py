"""How big the version report's HTML page is, and how long it takes, for a full test set.

A fresh SQLite database gets 120 breeds × 50 = 6,000 accepted images (rows), each with a real
256 px store thumbnail (made by the store's own ``thumbnail_jpeg`` from crops of a real photo,
matplotlib's sample ``grace_hopper.jpg``, so the embedded pictures weigh what photos weigh), and
a model with three versions: a ``.pb`` parent evaluated 5 times, its int8 ``.tflite`` child
evaluated 5 times (each run about 4 % of the parent's right answers broken and 2.5 % of its
wrong ones fixed), and a baseline ``.pb`` (the last release) evaluated twice: 72,000
predictions. Then ``breedbench report bench:1-int8 --against bench:0.9 --format html`` is built
and rendered as the command does (best of 3), and the page's size is split into pictures and
the rest. Markdown and JSON sizes are printed for scale.

    .venv/bin/python bench/version_report.py [--images 6000] [--max-images 12]
"""

from __future__ import annotations

import argparse
import random
import re
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from machine import describe  # noqa: E402 - bench/ is on sys.path
from PIL import Image as PILImage  # noqa: E402
from sqlalchemy import insert, select  # noqa: E402

from core.files import atomic_write  # noqa: E402
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
from db.store import thumbnail_jpeg  # noqa: E402
from evaluator.metrics import PredictionRecord, compute_metrics  # noqa: E402
from evaluator.version_pages import render  # noqa: E402
from evaluator.version_report import build_report  # noqa: E402

T0 = datetime(2026, 11, 1, tzinfo=UTC)
DISTINCT_THUMBNAILS = 200
Ranks = dict[int, int | None]


def photo_thumbnails(store_root: Path, count: int) -> list[str]:
    """``count`` different 256 px thumbnails of a real photo (random crops, flips, scales)."""
    from matplotlib import cbook

    rng = random.Random(3)
    with PILImage.open(cbook.get_sample_data("grace_hopper.jpg", asfileobj=False)) as src:
        photo = src.convert("RGB")
    paths = []
    for k in range(count):
        w = rng.randint(260, photo.width)
        h = min(photo.height, int(w * rng.choice([0.75, 1.0, 1.33])))
        x, y = rng.randint(0, photo.width - w), rng.randint(0, photo.height - h)
        crop = photo.crop((x, y, x + w, y + h))
        if rng.random() < 0.5:
            crop = crop.transpose(PILImage.Transpose.FLIP_LEFT_RIGHT)
        rel = f"thumbs/bench/{k:04d}.jpg"
        atomic_write(store_root / rel, thumbnail_jpeg(crop))
        paths.append(rel)
    return paths


def version(s, model_id: int, name: str, fmt: str, size: int, parent: int | None = None) -> int:  # type: ignore[no-untyped-def]
    row = ModelVersion(
        model_id=model_id, version=name, format=fmt, path=f"models/{name}", sha256=f"{name:0>64}",
        size_bytes=size, parent_id=parent, spec={"input": {"kind": "image"}},
        conversion={"quantize": "int8", "io": "uint8"} if parent else None,
    )  # fmt: skip
    s.add(row)
    s.flush()
    return row.id


def add_run(
    s,  # type: ignore[no-untyped-def]
    version_id: int,
    images: list[tuple[int, int]],
    ranks: Ranks,
    breeds: list[int],
    when: datetime,
    latency_ms: float,
    rng: random.Random,
) -> int:
    records = []
    for image_id, breed_id in images:
        rank = ranks[image_id]
        others = rng.sample([b for b in breeds if b != breed_id], 5)
        if rank:
            others.insert(rank - 1, breed_id)
        probs = sorted((rng.random() for _ in range(5)), reverse=True)
        total = sum(probs) * 1.2
        top5 = list(zip(others[:5], [p / total for p in probs], strict=True))
        records.append(PredictionRecord(image_id, breed_id, top5, rank, latency_ms))
    size = s.scalar(select(ModelVersion.size_bytes).where(ModelVersion.id == version_id))
    metrics = compute_metrics(
        records, wall_seconds=len(records) * latency_ms / 1000, model_size_bytes=size,
        dataset_hash="h" * 64,
    )  # fmt: skip
    run = EvalRun(
        model_version_id=version_id, started_at=when, finished_at=when + timedelta(minutes=5),
        status=RunStatus.FINISHED, dataset_hash="h" * 64, n_images=len(records),
        settings={"threads": 2, "batch": 32}, metrics=metrics,
    )  # fmt: skip
    s.add(run)
    s.flush()
    s.execute(
        insert(Prediction),
        [
            {"run_id": run.id, "image_id": r.image_id, "true_breed_id": r.true_breed_id,
             "rank": r.rank, "top5": [list(t) for t in r.top5], "latency_ms": r.latency_ms}
            for r in records
        ],
    )  # fmt: skip
    return run.id


def draw_ranks(images: list[tuple[int, int]], rng: random.Random, p_top1: float) -> Ranks:
    return {i: 1 if rng.random() < p_top1 else rng.choice([2, 3, 4, 5, None]) for i, _ in images}


def derived(parent: Ranks, rng: random.Random, broken: float, fixed: float) -> Ranks:
    """A child's ranks: ``broken`` of the parent's right answers wrong, ``fixed`` of its wrong
    ones right."""
    out: Ranks = {}
    for i, rank in parent.items():
        if rank == 1 and rng.random() < broken:
            out[i] = rng.choice([2, 3, None])
        elif rank != 1 and rng.random() < fixed:
            out[i] = 1
        else:
            out[i] = rank
    return out


def seed(db: Database, n_images: int) -> None:
    rng = random.Random(1)
    thumbs = photo_thumbnails(db.store.root, DISTINCT_THUMBNAILS)
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
                    "thumb_path": thumbs[i % len(thumbs)],
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
        baseline = version(s, model.id, "0.9", "frozen_pb", 96_100_000)
        parent = version(s, model.id, "1", "frozen_pb", 96_300_000)
        child = version(s, model.id, "1-int8", "tflite", 24_600_000, parent)
        day = 0
        for _ in range(2):
            add_run(s, baseline, images, draw_ranks(images, rng, 0.80), breeds,
                    T0 + timedelta(days=day), 41.0, rng)  # fmt: skip
            day += 1
        for _ in range(5):
            parent_ranks = draw_ranks(images, rng, 0.84)
            add_run(s, parent, images, parent_ranks, breeds, T0 + timedelta(days=day), 40.0, rng)
            child_ranks = derived(parent_ranks, rng, broken=0.04, fixed=0.025)
            add_run(s, child, images, child_ranks, breeds, T0 + timedelta(days=day, hours=1),
                    14.0, rng)  # fmt: skip
            day += 1


def best_of(fn: Callable[[], object], repeat: int = 3) -> tuple[float, object]:
    times, result = [], None
    for _ in range(repeat):
        t = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - t)
    return min(times), result


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--images", type=int, default=6000)
    parser.add_argument("--max-images", type=int, default=12)
    args = parser.parse_args()
    print(f"machine: {describe()}")
    with tempfile.TemporaryDirectory(prefix="bb-bench-version-report-") as tmp:
        root = Path(tmp)
        db = open_database(Settings(data_dir=root, database_url=f"sqlite:///{root / 'bench.db'}"))
        t = time.perf_counter()
        seed(db, args.images)
        print(f"seeded {args.images} images, 12 runs in {time.perf_counter() - t:.1f} s")
        for against in (None, "bench:0.9"):
            measure(db, against, args.max_images)
        db.dispose()


def measure(db: Database, against: str | None, max_images: int) -> None:
    def html() -> str:
        with db.session() as s:
            report = build_report(
                s, "bench:1-int8", against=against, read_thumbnail=db.store.read,
                max_images=max_images,
            )  # fmt: skip
        return render(report, "html")

    took, page = best_of(html)
    assert isinstance(page, str)
    size = len(page.encode("utf-8"))
    pictures = re.findall(r'src="(data:image/jpeg;base64,[^"]+)"', page)
    picture_bytes = sum(len(p) for p in pictures)
    with db.session() as s:
        report = build_report(s, "bench:1-int8", against=against, max_images=max_images)
    md, js = render(report, "md"), render(report, "json")
    label = f"--against {against}" if against else "parent only"
    print(
        f"{label}: HTML {size / 1e6:.2f} MB ({len(pictures)} pictures, "
        f"{picture_bytes / 1e6:.2f} MB of them; the rest {(size - picture_bytes) / 1e3:.0f} kB), "
        f"built and rendered in {took * 1000:.0f} ms (best of 3); Markdown "
        f"{len(md.encode()) / 1e3:.0f} kB, JSON {len(js.encode()) / 1e3:.0f} kB"
    )
    for a in report.comparisons:
        print(f"  {a.role} {a.reference.ref}: {len(a.broken)} broken, {len(a.fixed)} fixed")


if __name__ == "__main__":
    main()
