"""One evaluation, stage by stage: select → prepare (threads, cached) → predict → measure → record.

``evaluate`` reads top to bottom as the data path. Decoding and resizing run in a thread pool a
few batches ahead of inference (PIL, numpy, TensorFlow and LiteRT release the GIL), so the
model rarely waits. Prepared inputs are cached as ``.npy`` under
``<data dir>/cache/inputs/<preprocessing hash>/`` by image sha256: a second model with the same
resize skips decoding (the scale/offset is applied after the cache, so it may differ).

Nothing is written until the end: the run and all its predictions go in one transaction, so an
interrupted or failed evaluation leaves no half-recorded run.
"""

from __future__ import annotations

import hashlib
import io
import os
import platform
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np
from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from core.errors import BreedbenchError
from core.files import atomic_write
from db.database import Database
from db.models import (
    Breed,
    EvalRun,
    Image,
    ImageStatus,
    Prediction,
    RunStatus,
    utcnow,
)
from evaluator.calibration import calibration_image_ids
from evaluator.labels import LabelMap, build_label_map
from evaluator.metrics import PredictionRecord, compute_metrics
from evaluator.preprocess import normalise, prepare
from evaluator.registry import VersionInfo, get_version
from evaluator.runners import Item, Runner, load_runner
from evaluator.spec import ModelSpec, preprocessing_hash

DEFAULT_BATCH = 32


class ProgressSink(Protocol):
    def start(self, total: int, description: str) -> None: ...

    def advance(self, n: int) -> None: ...


@dataclass(frozen=True)
class EvalImage:
    id: int
    sha256: str
    path: str
    breed_id: int


@dataclass(frozen=True)
class EvalOutcome:
    run_id: int
    version: VersionInfo
    metrics: dict[str, Any]
    settings: dict[str, Any]


@dataclass
class Selection:
    images: list[EvalImage]
    excluded: dict[str, Any] = field(default_factory=dict)


# --- select -------------------------------------------------------------------------------------


def select_images(
    session: Session,
    version: VersionInfo,
    label_map: LabelMap,
    *,
    limit: int | None = None,
    include_calibration: bool = False,
) -> Selection:
    """Accepted images, by id; those of breeds the model cannot predict, and the version's own
    calibration images (unless included), are excluded and counted."""
    rows = session.execute(
        select(Image.id, Image.sha256, Image.path, Image.breed_id, Breed.slug)
        .join(Breed, Breed.id == Image.breed_id)
        .where(Image.status == ImageStatus.ACCEPTED)
        .order_by(Image.id)
    ).all()
    calibration = calibration_image_ids(session, version.id)
    covered = label_map.covered_breeds
    images: list[EvalImage] = []
    uncovered: dict[str, int] = {}
    calibration_hits: list[int] = []
    for image_id, sha, path, breed_id, slug in rows:
        if breed_id not in covered:
            uncovered[slug] = uncovered.get(slug, 0) + 1
            continue
        if image_id in calibration:
            calibration_hits.append(image_id)
            if not include_calibration:
                continue
        images.append(EvalImage(image_id, sha, path, breed_id))
    if limit is not None:
        images = images[:limit]
    excluded: dict[str, Any] = {
        "uncovered_images": sum(uncovered.values()),
        "uncovered_breeds": dict(sorted(uncovered.items())),
        "calibration_images": len(calibration_hits),
        "calibration_included": include_calibration,
        "non_breed_classes": len(label_map.unmatched),
        "non_breed_labels": label_map.unmatched[:50],
    }
    return Selection(images, excluded)


def dataset_hash(images: list[EvalImage]) -> str:
    """The exact image set: ids, contents and labels. Equal hashes ⇒ comparable runs."""
    h = hashlib.sha256()
    for img in sorted(images, key=lambda i: i.id):
        h.update(f"{img.id}:{img.sha256}:{img.breed_id}\n".encode())
    return h.hexdigest()


# --- prepare ------------------------------------------------------------------------------------


class InputCache:
    """Prepared arrays on disk by image sha256, one folder per preprocessing hash."""

    def __init__(self, root: Path | None) -> None:
        self.root = root
        self.hits = 0
        self.misses = 0
        self._lock = threading.Lock()

    def get(self, sha256: str, make: Callable[[], np.ndarray | bytes]) -> np.ndarray | bytes:
        if self.root is None:
            return make()
        path = self.root / sha256[:2] / f"{sha256}.npy"
        try:
            arr = np.load(path)
        except (FileNotFoundError, ValueError, OSError):
            arr = None
        if arr is not None:
            with self._lock:
                self.hits += 1
            return arr
        value = make()
        if isinstance(value, np.ndarray):
            _atomic_save(path, value)
        with self._lock:
            self.misses += 1
        return value


def _atomic_save(path: Path, arr: np.ndarray) -> None:
    buf = io.BytesIO()
    np.save(buf, arr)
    atomic_write(path, buf.getvalue())


def prepare_workers() -> int:
    """One core fewer than the machine has: decoding keeps well ahead of a model's inference on
    one core, and leaving the model's threads a core of their own avoids stalling them (their
    threads wait for each other at every layer). Lower-priority decode threads were tried and
    were worse: a descheduled decode thread holding the GIL stalls the inference loop."""
    return max(1, (os.cpu_count() or 1) - 1)


def cache_root(db: Database, spec: ModelSpec) -> Path | None:
    if spec.input.kind == "jpeg_bytes":
        return None  # nothing to save: the graph decodes the bytes itself
    return db.settings.data_dir / "cache" / "inputs" / preprocessing_hash(spec)


def prepared_batches(
    db: Database,
    images: list[EvalImage],
    spec: ModelSpec,
    cache: InputCache,
    batch: int,
    workers: int,
) -> Iterator[tuple[list[EvalImage], list[Item | None]]]:
    """Batches of model-ready inputs in image order, prepared ``workers`` at a time, a few
    batches ahead. An image that cannot be decoded comes back as ``None``."""

    def work(img: EvalImage) -> Item | None:
        try:
            item = cache.get(img.sha256, lambda: prepare(db.store.read(img.path), spec.input))
        except (BreedbenchError, OSError):
            return None
        if isinstance(item, bytes):
            return item
        return normalise(item, spec.input)  # here, in the pool, not in the inference loop

    lookahead = max(4 * batch, 4 * workers)
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="prepare") as pool:
        pending: deque[tuple[EvalImage, Future[Item | None]]] = deque()
        queue = iter(images)
        try:
            while True:
                while len(pending) < lookahead:
                    img = next(queue, None)
                    if img is None:
                        break
                    pending.append((img, pool.submit(work, img)))
                if not pending:
                    return
                take = [pending.popleft() for _ in range(min(batch, len(pending)))]
                yield [img for img, _ in take], [f.result() for _, f in take]
        finally:
            for _, f in pending:
                f.cancel()


# --- predict and score --------------------------------------------------------------------------


def softmax(x: np.ndarray) -> np.ndarray:
    z = x - x.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def probabilities(outputs: np.ndarray, spec: ModelSpec) -> np.ndarray:
    """The model's outputs as probabilities, as its spec says they come."""
    return softmax(outputs) if spec.output.activation == "logits" else outputs


def score_batch(
    outputs: np.ndarray, images: list[EvalImage], label_map: LabelMap, spec: ModelSpec
) -> list[tuple[list[tuple[int, float]], int | None]]:
    """Per image: top-5 ``(breed id, probability)`` among classes that are breeds, and the rank
    of the true breed in it."""
    n_labels = len(label_map.labels)
    if outputs.shape[1] != n_labels:
        raise BreedbenchError(
            f"the model outputs {outputs.shape[1]} values per image but the labels list "
            f"{n_labels} classes; fix labels.file or output.tensor"
        )
    probs = probabilities(outputs, spec)
    breed_of = np.array([-1 if b is None else b for b in label_map.breed_ids])
    ranked = np.where(breed_of >= 0, probs, -np.inf)
    k = min(5, int((breed_of >= 0).sum()))
    order = np.argsort(-ranked, axis=1, kind="stable")[:, :k]
    results = []
    for row, img in enumerate(images):
        top5 = [(int(breed_of[c]), float(probs[row, c])) for c in order[row]]
        ids = [b for b, _ in top5]
        rank = ids.index(img.breed_id) + 1 if img.breed_id in ids else None
        results.append((top5, rank))
    return results


# --- the whole evaluation -------------------------------------------------------------------


def evaluate(
    db: Database,
    ref: str | VersionInfo,
    *,
    threads: int | None = None,
    batch: int | None = None,
    limit: int | None = None,
    include_calibration: bool = False,
    use_cache: bool = True,
    progress: ProgressSink | None = None,
    runner: Runner | None = None,
) -> EvalOutcome:
    """Evaluate a model version (``NAME`` or ``NAME:VERSION``) and record one finished run.

    ``runner`` replaces the model (tests). Raises ``BreedbenchError`` before anything is recorded
    when the model, its spec or the image set is unusable.
    """
    started = utcnow()
    with db.session() as s:
        version = ref if isinstance(ref, VersionInfo) else get_version(s, ref)
        spec = version.model_spec()
        label_map = build_label_map(s, spec)
        selection = select_images(
            s, version, label_map, limit=limit, include_calibration=include_calibration
        )
    if not selection.images:
        raise BreedbenchError(
            f"no accepted images of the {len(label_map.covered_breeds)} breeds that "
            f"{version.ref} predicts (review some first: breedbench review)"
        )
    cfg = db.settings
    threads = threads or spec.runtime.threads or cfg.eval_threads or os.cpu_count() or 1
    batch = batch or spec.runtime.batch or cfg.eval_batch or DEFAULT_BATCH
    if runner is None:
        runner = load_runner(version.file(db.settings), version.format, spec, threads, batch)
    cache = InputCache(cache_root(db, spec) if use_cache and cfg.eval_cache else None)
    workers = prepare_workers()

    records: list[PredictionRecord] = []
    undecodable: list[int] = []
    evaluated: list[EvalImage] = []
    if progress is not None:
        progress.start(len(selection.images), f"{version.ref}")
    t0 = time.perf_counter()
    try:
        for imgs, items in prepared_batches(
            db, selection.images, spec, cache, runner.max_batch, workers
        ):
            ok = [(img, it) for img, it in zip(imgs, items, strict=True) if it is not None]
            undecodable.extend(img.id for img, it in zip(imgs, items, strict=True) if it is None)
            if ok:
                good_imgs = [img for img, _ in ok]
                x = _model_input([it for _, it in ok], spec)
                t = time.perf_counter()
                out = runner.predict(x)
                per_image_ms = (time.perf_counter() - t) * 1000 / len(ok)
                for img, (top5, rank) in zip(
                    good_imgs, score_batch(out, good_imgs, label_map, spec), strict=True
                ):
                    records.append(PredictionRecord(img.id, img.breed_id, top5, rank, per_image_ms))
                evaluated.extend(good_imgs)
            if progress is not None:
                progress.advance(len(imgs))
    finally:
        runner.close()
    wall = time.perf_counter() - t0
    if not records:
        raise BreedbenchError(f"none of the {len(selection.images)} images could be decoded")

    selection.excluded["undecodable_images"] = undecodable
    dhash = dataset_hash(evaluated)
    metrics = compute_metrics(
        records,
        wall_seconds=wall,
        model_size_bytes=version.size_bytes,
        dataset_hash=dhash,
        excluded=selection.excluded,
    )
    settings = {
        "threads": threads,
        "batch": runner.max_batch,
        "limit": limit,
        "include_calibration": include_calibration,
        "preprocessing_hash": preprocessing_hash(spec),
        "cache_hits": cache.hits,
        "cache_misses": cache.misses,
        "format": version.format,
        "machine": f"{platform.machine()} {platform.system()} {os.cpu_count()} cpu",
    }
    run_id = _record(db, version, started, dhash, settings, metrics, records)
    return EvalOutcome(run_id, version, metrics, settings)


def _model_input(items: list[Item], spec: ModelSpec) -> np.ndarray | list[Item]:
    """The batch as the runner takes it: one array, or a list (JPEG bytes, any-size images)."""
    if spec.input.kind == "tensor":
        return np.stack([np.asarray(it) for it in items])
    return items


def _record(
    db: Database,
    version: VersionInfo,
    started: Any,
    dhash: str,
    settings: dict[str, Any],
    metrics: dict[str, Any],
    records: list[PredictionRecord],
) -> int:
    """The run and its predictions in one transaction: all or nothing."""
    with db.session() as s:
        run = EvalRun(
            model_version_id=version.id,
            started_at=started,
            finished_at=utcnow(),
            status=RunStatus.FINISHED,
            dataset_hash=dhash,
            n_images=len(records),
            settings=settings,
            metrics=metrics,
        )
        s.add(run)
        s.flush()
        s.execute(
            insert(Prediction),
            [
                {
                    "run_id": run.id,
                    "image_id": r.image_id,
                    "true_breed_id": r.true_breed_id,
                    "rank": r.rank,
                    "top5": [[b, round(p, 6)] for b, p in r.top5],
                    "latency_ms": r.latency_ms,
                }
                for r in records
            ],
        )
        return run.id


@contextmanager
def rich_progress() -> Iterator[ProgressSink]:
    """A rich progress bar (images, rate, time left) on stderr."""
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeRemainingColumn,
    )

    bar = Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        console=Console(stderr=True),
        transient=True,
    )

    class _Sink:
        task: Any = None

        def start(self, total: int, description: str) -> None:
            bar.start()  # only now: an error before the first image prints no empty bar
            self.task = bar.add_task(description, total=total)

        def advance(self, n: int) -> None:
            bar.advance(self.task, n)

    sink = _Sink()
    try:
        yield sink
    finally:
        if sink.task is not None:
            bar.stop()
