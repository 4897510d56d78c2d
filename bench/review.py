"""Review app speed with 10,000 images: keypress → next image shown, decision acknowledged, grid.

Builds (or reuses, with ``--data-dir``) a database of ``--images`` images over the 120 breeds,
with a share of them already decided by another reviewer, starts ``breedbench review`` and drives
it in headless Chromium (Debian's ``chromium``):

* queue (it runs in the browser: ``curation_app/queue_component``): ``--decisions`` keypresses
  (``a`` / ``1``), each timed from the key to the next image being in place and decoded, once
  per "thinking time" between images in ``--think-ms`` (300 ms is a reviewer clicking through,
  800 ms one actually looking); and, for each decision, from the key to the server's
  acknowledgement arriving in the browser (the queue records it). Every run starts from the same
  state: the walked images are reset to pending, the leases dropped and the review copies
  deleted (they are made ahead, in the background, as the window is handed out);
* grid: a breed chosen → all 48 thumbnails decoded, for ``--grids`` breeds never shown before;
* the queue's server work, timed directly: the next window (with leases) and one decision.

The images the queue walks (the first breed's) are 2400×1800 JPEGs, so the resized review copy
is really made; the others are 800×600 to keep the setup short. Goals: keypress → next image
p95 ≤ 100 ms, decision acknowledged p95 ≤ 300 ms, grid ≤ 1 s.

    .venv/bin/python bench/review.py                 # ~6 min the first time (setup), then ~1 min
    .venv/bin/python bench/review.py --data-dir /tmp/bb10k   # keep and reuse the 10k database
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from functools import partial
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from machine import describe  # noqa: E402 - bench/ is on sys.path
from sqlalchemy import delete, func, select  # noqa: E402

from core.settings import Settings  # noqa: E402
from db.database import Database, open_database  # noqa: E402
from db.images import ImageMeta, add_image  # noqa: E402
from db.models import Breed, Decision, Image, ImageStatus, ReviewLease  # noqa: E402
from db.provenance import Provenance  # noqa: E402
from db.reviews import record_decision  # noqa: E402
from db.seed import seed_breeds  # noqa: E402
from review.decisions import decide  # noqa: E402
from review.queue import next_images, pending_count  # noqa: E402
from review.references import forget_strips, reference_strip  # noqa: E402
from review.serving import copy_url  # noqa: E402
from review.window import (  # noqa: E402
    ClientDecision,
    apply_batch,
    build_window,
    reference_items,
)
from tests.browser import (  # noqa: E402
    CHROMIUM,
    CHROMIUM_ARGS,
    review_server,
    shown_image_src,
    wait_for_next_image,
    wait_until_saved,
)
from tests.factories import jpeg_bytes  # noqa: E402

LARGE = (2400, 1800)
SMALL = (800, 600)


def _insert_chunk(args: tuple[str, list[tuple[int, int, int]]]) -> int:
    data_dir, jobs = args
    db = open_database(Settings(data_dir=Path(data_dir)), upgrade=False)
    for breed_id, seed, large in jobs:
        w, h = LARGE if large else SMALL
        data = jpeg_bytes(w, h, seed=seed)
        with db.session() as s:  # short transactions: the other worker writes too
            meta = ImageMeta(Provenance(source="bench", query="bench", license="cc0"))
            add_image(s, db.store, data, breed_id, meta)
    db.dispose()
    return len(jobs)


def build(data_dir: Path, n_images: int, decided_share: float) -> Database:
    db = open_database(Settings(data_dir=data_dir))
    with db.session() as s:
        seed_breeds(s)
        have = s.scalar(select(func.count()).select_from(Image)) or 0
        breeds = list(s.scalars(select(Breed.id).order_by(Breed.id)))
    if have >= n_images:
        print(f"reusing {have} images in {data_dir}")
        return db
    first, rest = breeds[0], breeds[1:]
    jobs = [(first, 1_000_000 + i, True) for i in range(100)]
    jobs += [(rest[i % len(rest)], i, False) for i in range(n_images - 100)]
    chunks = [jobs[i : i + 250] for i in range(0, len(jobs), 250)]
    t0 = time.perf_counter()
    done = 0
    with ProcessPoolExecutor(max_workers=os.cpu_count() or 2) as pool:
        for n in pool.map(_insert_chunk, [(str(data_dir), c) for c in chunks]):
            done += n
            print(f"\r  inserted {done}/{len(jobs)}", end="", flush=True)
    print(f"  ({time.perf_counter() - t0:.0f} s)")
    with db.session() as s:
        ids = list(s.scalars(select(Image.id).where(Image.breed_id != first).order_by(Image.id)))
    decided = ids[: int(len(ids) * decided_share)]
    with db.session() as s:
        for i in decided:
            decide(s, i, "earlier reviewer", "accept")
    print(f"  {len(decided)} images decided by another reviewer")
    return db


def reset_walk(db: Database) -> None:
    """Same start for every run: the first breed's images pending, no review copy made yet."""
    with db.session() as s:
        first = s.scalar(select(func.min(Breed.id)))
        decided = s.scalars(
            select(Image.id).where(Image.breed_id == first, Image.status != ImageStatus.PENDING)
        ).all()
        for image_id in decided:
            record_decision(s, image_id, "bench reset", Decision.RESET)
        s.execute(delete(ReviewLease))
    shutil.rmtree(db.settings.store_dir / "review", ignore_errors=True)


def pct(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[int(q) - 1]


def _fresh_strip(s, breed: int):  # type: ignore[no-untyped-def]
    forget_strips(s)  # as on a new rerun: nothing kept from the last call
    return reference_strip(s, breed)


def server_queries(db: Database) -> None:
    with db.session() as s:
        first = s.scalar(select(func.min(Breed.id)))
        for name, fn in [
            ("next_images(limit=5)", lambda: next_images(s, "bench", limit=5)),
            ("pending_count", lambda: pending_count(s, "bench")),
            ("reference_strip", lambda: _fresh_strip(s, first)),
        ]:
            times = []
            for _ in range(20):
                t = time.perf_counter()
                fn()
                times.append((time.perf_counter() - t) * 1000)
            print(f"  server {name}: median {statistics.median(times):.1f} ms")
    side = db.settings.review_image_side
    times = []
    for n in range(20):
        t = time.perf_counter()
        build_window(
            db,
            f"bench-window-{n}",
            side=side,
            image_url=copy_url,
            make_copies=False,
            references=partial(reference_items, side=side),
        )
        times.append((time.perf_counter() - t) * 1000)
    print(
        "  server build_window(12, leased, with reference strips): "
        f"median {statistics.median(times):.1f} ms"
    )
    with db.session() as s:
        ids = list(
            s.scalars(
                select(Image.id)
                .where(Image.status == ImageStatus.PENDING)
                .order_by(Image.id.desc())
            ).all()[:20]
        )
    times = []
    for n, image_id in enumerate(ids):
        batch = [ClientDecision(f"bench-{time.time_ns()}-{n}", "skip", image_id)]
        t = time.perf_counter()
        apply_batch(db, "bench-apply", batch)
        times.append((time.perf_counter() - t) * 1000)
    print(f"  server apply_batch(1 decision): median {statistics.median(times):.1f} ms")


def run(args: argparse.Namespace) -> None:
    from playwright.sync_api import sync_playwright

    data_dir = Path(args.data_dir) if args.data_dir else Path(tempfile.mkdtemp(prefix="bb-bench-"))
    db = build(data_dir, args.images, args.decided_share)
    with db.session() as s:
        total = s.scalar(select(func.count()).select_from(Image))
    print(f"{total} images in the database")
    server_queries(db)
    reset_walk(db)
    reviewer = f"bench-{int(time.time())}"
    thinks = [int(t) for t in args.think_ms.split(",")]
    with (
        review_server(data_dir, db.settings.resolved_database_url()) as url,
        sync_playwright() as p,
    ):
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1440, "height": 900})
        page.goto(f"{url}/?reviewer={reviewer}")
        page.locator(".st-key-review-image img").wait_for(timeout=60_000)
        page.wait_for_timeout(1000)
        src = shown_image_src(page)
        queue_times: dict[int, list[float]] = {}
        ack_times: dict[int, list[float]] = {}
        for think in thinks:
            times = queue_times.setdefault(think, [])
            page.evaluate("() => { window.__breedbenchQueue.ackTimes = []; }")
            for n in range(args.decisions):
                page.wait_for_timeout(think)
                t = time.perf_counter()
                page.keyboard.press("a" if n % 4 else "1")
                src = wait_for_next_image(page, src)
                times.append((time.perf_counter() - t) * 1000)
            wait_until_saved(page)
            ack_times[think] = page.evaluate("() => window.__breedbenchQueue.ackTimes")
        grid_times: list[float] = []
        with db.session() as s:
            grids = [
                (slug, min(48, pending_count(s, reviewer, breed_id)))
                for breed_id, slug in s.execute(
                    select(Breed.id, Breed.slug).order_by(Breed.id).offset(60).limit(args.grids)
                )
            ]
        for slug, expected in grids:
            page.goto(f"{url}/grid?reviewer={reviewer}")
            box = page.locator(".st-key-grid_breed input").first
            box.wait_for(timeout=30_000)
            box.fill(slug)
            t = time.perf_counter()
            page.keyboard.press("Enter")
            page.wait_for_function(
                """(n) => {
                    const imgs = [...document.querySelectorAll('[class*="st-key-cell-"] img')];
                    return imgs.length >= n && imgs.every(i => i.complete && i.naturalWidth > 0);
                }""",
                arg=expected,
                timeout=30_000,
            )
            grid_times.append((time.perf_counter() - t) * 1000)
        browser.close()
    print(f"machine: {describe()}")
    print(f"load average during the run: {os.getloadavg()[0]:.1f}")
    for think, times in queue_times.items():
        print(f"keypress → next image shown ({len(times)} decisions, think {think} ms): "
              f"p50 {pct(times, 50):.0f} ms, p95 {pct(times, 95):.0f} ms, max {max(times):.0f} ms"
              f" (goal p95 ≤ 100 ms: {pct(times, 95) / 100:.2f}× of budget)")  # fmt: skip
        acks = ack_times[think]
        print(f"keypress → decision acknowledged ({len(acks)} decisions, think {think} ms): "
              f"p50 {pct(acks, 50):.0f} ms, p95 {pct(acks, 95):.0f} ms, max {max(acks):.0f} ms"
              f" (goal p95 ≤ 300 ms: {pct(acks, 95) / 300:.2f}× of budget)")  # fmt: skip
    sizes = sorted({n for _, n in grids})
    print(f"grid of {sizes} thumbnails ({len(grid_times)} breeds): median "
          f"{statistics.median(grid_times):.0f} ms, max {max(grid_times):.0f} ms "
          f"(goal ≤ 1 s: {max(grid_times) / 1000:.2f}× of budget)")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=10_000)
    parser.add_argument("--decisions", type=int, default=45, help="per thinking time")
    parser.add_argument("--grids", type=int, default=5)
    parser.add_argument("--think-ms", default="300,800", help="comma-separated")
    parser.add_argument("--decided-share", type=float, default=0.3)
    parser.add_argument("--data-dir", help="keep the database here and reuse it next time")
    run(parser.parse_args())


if __name__ == "__main__":
    main()
