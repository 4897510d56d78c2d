"""One evaluation, step by step: plan → predict → score → measure → record.

``evaluate`` reads top to bottom as the data path: ``plan_evaluation`` settles the version, its
images and how to run it; ``predict`` runs the model batch by batch; ``score`` ranks each image's
true breed among the model's breed classes; ``measure`` turns the ranks into the run's metrics
(latency from the steady-state batches, warm-up apart: ``evaluator.latency``); ``record_run``
stores it. Progress goes to a ``ProgressSink`` (``evaluator.progress``): the
evaluator displays nothing itself.

Decoding and resizing run in a thread pool a few batches ahead of inference (PIL, numpy,
TensorFlow and LiteRT release the GIL), so the model rarely waits. Prepared inputs are cached as
``.npy`` under ``<data dir>/cache/inputs/<preprocessing hash>/`` by image sha256: a second model
with the same resize skips decoding (the scale/offset is applied after the cache, so it may
differ).

With ``crop`` (``evaluate CLASSIFIER --crop DETECTOR``) each image is decoded once, the detector
finds its dog box (``evaluator.detection``; answers cached on disk per detector) and the image is
cropped to it before the classifier's own preprocessing (``cropped_batches``); the crop settings
are part of the run's preprocessing hash and of the input cache's folder, and each prediction
keeps its crop.

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
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import closing
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy import func, insert, select
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
from db.probabilities import pack_probs
from evaluator import detection
from evaluator.calibration import calibration_image_ids
from evaluator.labels import LabelMap, build_label_map
from evaluator.latency import BatchTime, summarise
from evaluator.metrics import PredictionRecord, compute_metrics
from evaluator.preprocess import decode_rgb, normalise, prepare, prepare_decoded
from evaluator.progress import ProgressSink
from evaluator.registry import VersionInfo, get_version
from evaluator.runners import Item, Runner
from evaluator.runners.detector import DetectorRunner
from evaluator.screening_bias import screening_bias
from evaluator.spec import ModelSpec, preprocessing_hash

DEFAULT_BATCH = 32


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
    uploaded_after: datetime | None = None,
) -> Selection:
    """Accepted images, by id; those of breeds the model cannot predict, and the version's own
    calibration images (unless included), are excluded and counted. With ``uploaded_after``,
    only images whose upload date is known and at or after it are kept (the others counted:
    older, or of unknown date), so runs with the same cut-off compare like with like."""
    stmt = (
        select(Image.id, Image.sha256, Image.path, Image.breed_id, Breed.slug)
        .join(Breed, Breed.id == Image.breed_id)
        .where(Image.status == ImageStatus.ACCEPTED)
        .order_by(Image.id)
    )
    window: dict[str, Any] = {}
    if uploaded_after is not None:
        accepted = select(func.count()).where(Image.status == ImageStatus.ACCEPTED)
        window = {
            "uploaded_after": uploaded_after.isoformat(),
            "before_cutoff_images": session.scalar(
                accepted.where(Image.uploaded_at < uploaded_after)
            ),
            "date_unknown_images": session.scalar(accepted.where(Image.uploaded_at.is_(None))),
        }
        stmt = stmt.where(Image.uploaded_at >= uploaded_after)
    rows = session.execute(stmt).all()
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
        **window,
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


def cache_root(
    db: Database, spec: ModelSpec, crop: detection.CropOptions | None = None
) -> Path | None:
    if spec.input.kind == "jpeg_bytes":
        return None  # nothing to save: the graph decodes the bytes itself (a crop's too)
    return db.settings.data_dir / "cache" / "inputs" / run_preprocessing_hash(spec, crop)


def run_preprocessing_hash(spec: ModelSpec, crop: detection.CropOptions | None) -> str:
    """The classifier's preprocessing, and the crop before it when there is one."""
    return preprocessing_hash(spec, None if crop is None else crop.key)


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


def breed_probabilities(outputs: np.ndarray, label_map: LabelMap, spec: ModelSpec) -> np.ndarray:
    """Each image's probability of every breed the model predicts, in the order of
    ``prob_breed_ids``: what is stored per prediction for ranking suspected label errors."""
    columns = [c for c, b in enumerate(label_map.breed_ids) if b is not None]
    return probabilities(outputs, spec)[:, columns]


def prob_breed_ids(label_map: LabelMap) -> list[int]:
    """The breeds of the stored probabilities, in their order (the model's class order)."""
    return [b for b in label_map.breed_ids if b is not None]


# --- the whole evaluation -------------------------------------------------------------------


@dataclass(frozen=True)
class EvalPlan:
    """What one evaluation will do, settled before the model is loaded."""

    version: VersionInfo
    spec: ModelSpec
    label_map: LabelMap
    selection: Selection
    threads: int
    batch: int  # the largest batch asked for; the runner may take fewer
    cache_dir: Path | None  # None: prepare every image afresh
    limit: int | None
    include_calibration: bool
    started: datetime
    uploaded_after: datetime | None = None  # only images uploaded at or after it
    crop: detection.CropOptions | None = None  # evaluate --crop DETECTOR
    detector: VersionInfo | None = None


@dataclass(frozen=True)
class BatchOutput:
    """One batch through the model: the images it ran on and their raw outputs."""

    images: list[EvalImage]  # decoded and run, in order
    outputs: np.ndarray | None  # (images, classes); None when no image of the batch decoded
    per_image_ms: float  # the model's time for the batch / its images (0: not run)
    undecodable: list[int]  # ids of the batch's images that could not be decoded


@dataclass
class Scored:
    """The prediction of every image that reached the model, and the ids of those that did not."""

    records: list[PredictionRecord] = field(default_factory=list)
    evaluated: list[EvalImage] = field(default_factory=list)
    undecodable: list[int] = field(default_factory=list)
    timings: list[BatchTime] = field(default_factory=list)  # every model call, in order
    detections: detection.DetectionPass | None = None  # a cropped run's detection pass
    crops: dict[str, dict[str, Any] | None] = field(default_factory=dict)  # by sha256


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
    uploaded_after: datetime | None = None,
    crop: str | VersionInfo | None = None,
    crop_margin: float = detection.DEFAULT_MARGIN,
    crop_policy: str = detection.DEFAULT_POLICY,
    detector: DetectorRunner | None = None,
) -> EvalOutcome:
    """Evaluate a model version (``NAME`` or ``NAME:VERSION``) and record one finished run.

    ``crop`` names a detector version: each image is cropped to its dog box first
    (``evaluator.detection``). ``runner`` and ``detector`` replace the models (tests). Raises
    ``BreedbenchError`` before anything is recorded when the model, its spec or the image set
    is unusable.
    """
    plan = plan_evaluation(
        db,
        ref,
        threads=threads,
        batch=batch,
        limit=limit,
        include_calibration=include_calibration,
        use_cache=use_cache,
        uploaded_after=uploaded_after,
        crop=crop,
        crop_margin=crop_margin,
        crop_policy=crop_policy,
    )
    detections = detection.DetectionPass() if plan.crop is not None else None
    crops: dict[str, dict[str, Any] | None] = {}  # filled as a cropped run goes
    load_ms = None  # a runner handed in was loaded elsewhere
    if runner is None:
        stored = plan.version.open(db.settings)  # verified (sha256, ops) before it is loaded
        t_load = time.perf_counter()
        runner = stored.runner(plan.spec, plan.threads, plan.batch)
        load_ms = (time.perf_counter() - t_load) * 1000
    cache = InputCache(plan.cache_dir)
    t0 = time.perf_counter()
    source = None
    if detections is not None:
        source = cropped_batches(
            db, plan, cache, runner.max_batch, detections, crops, use_cache, detector
        )
    try:
        with closing(predict(db, plan, runner, cache, progress, source)) as batches:
            scored = score(batches, plan.label_map, plan.spec, crops)
    finally:
        runner.close()
    scored.detections, scored.crops = detections, crops
    wall = time.perf_counter() - t0
    if not scored.records:
        raise BreedbenchError(f"none of the {len(plan.selection.images)} images could be decoded")
    metrics, settings = measure(plan, scored, wall, runner.max_batch, cache, load_ms=load_ms)
    with db.session() as s:  # a model that screened these images helped choose them
        if warnings := screening_bias(s, plan.version.id, [i.id for i in scored.evaluated]):
            settings["warnings"] = warnings
    run_id = record_run(db, plan, metrics, settings, scored.records)
    return EvalOutcome(run_id, plan.version, metrics, settings)


def plan_evaluation(
    db: Database,
    ref: str | VersionInfo,
    *,
    threads: int | None = None,
    batch: int | None = None,
    limit: int | None = None,
    include_calibration: bool = False,
    use_cache: bool = True,
    uploaded_after: datetime | None = None,
    crop: str | VersionInfo | None = None,
    crop_margin: float = detection.DEFAULT_MARGIN,
    crop_policy: str = detection.DEFAULT_POLICY,
) -> EvalPlan:
    """The version, its images and how to run it. Each of threads and batch comes from the first
    of: the argument, the spec's ``[runtime]``, the settings, the default.

    Raises ``BreedbenchError`` when no accepted image is left to evaluate, when the version is a
    detector, or when ``crop`` is not one.
    """
    started = utcnow()
    with db.session() as s:
        version = ref.usable() if isinstance(ref, VersionInfo) else get_version(s, ref)
        if version.is_detector:
            raise BreedbenchError(
                f"{version.ref} is a detector: it finds dogs, it does not tell breeds; crop a "
                f"classifier's images with it: breedbench evaluate CLASSIFIER --crop {version.ref}"
            )
        detector_version = None
        if crop is not None:
            detector_version = (
                crop.usable() if isinstance(crop, VersionInfo) else get_version(s, crop)
            )
            if not detector_version.is_detector:
                raise BreedbenchError(
                    f"--crop {detector_version.ref}: that version is a classifier, not a "
                    'detector (register one with kind = "detector", e.g. --preset '
                    "tflite-detection-postprocess)"
                )
        spec = version.spec
        label_map = build_label_map(s, spec)
        selection = select_images(
            s,
            version,
            label_map,
            limit=limit,
            include_calibration=include_calibration,
            uploaded_after=uploaded_after,
        )
    if not selection.images and uploaded_after is not None:
        raise BreedbenchError(
            f"no accepted images uploaded at or after {uploaded_after:%Y-%m-%d %H:%M} UTC of "
            f"the breeds {version.ref} predicts ({selection.excluded['before_cutoff_images']} "
            f"older, {selection.excluded['date_unknown_images']} of unknown date)"
        )
    if not selection.images:
        raise BreedbenchError(
            f"no accepted images of the {len(label_map.covered_breeds)} breeds that "
            f"{version.ref} predicts (review some first: breedbench review)"
        )
    cfg = db.settings
    options = None
    if detector_version is not None:
        options = detection.CropOptions(
            detector_ref=detector_version.ref,
            detector_version_id=detector_version.id,
            detector_sha256=detector_version.sha256,
            detector_spec=detector_version.spec.to_dict(),
            margin=float(crop_margin),
            policy=crop_policy,
        )
    return EvalPlan(
        version=version,
        spec=spec,
        label_map=label_map,
        selection=selection,
        threads=threads or spec.runtime.threads or cfg.eval_threads or os.cpu_count() or 1,
        batch=batch or spec.runtime.batch or cfg.eval_batch or DEFAULT_BATCH,
        cache_dir=cache_root(db, spec, options) if use_cache and cfg.eval_cache else None,
        limit=limit,
        include_calibration=include_calibration,
        started=started,
        uploaded_after=uploaded_after,
        crop=options,
        detector=detector_version,
    )


def cropped_batches(
    db: Database,
    plan: EvalPlan,
    cache: InputCache,
    batch: int,
    found: detection.DetectionPass,
    crops: dict[str, dict[str, Any] | None],
    use_cache: bool = True,
    detector: DetectorRunner | None = None,
) -> Iterator[tuple[list[EvalImage], list[Item | None]]]:
    """``prepared_batches`` for a cropped run, in one pass: each image is decoded once (in the
    pool), the detector runs on it in this thread (unless its answer is cached), and the crop
    is cut and prepared for the classifier in the pool while the detector goes on with the next
    image. ``found`` and ``crops`` (by sha256) are filled as images go by.

    The detector's answers are cached on disk per detector unless ``use_cache`` is off; the
    detector is loaded (verified like any model) only when an image is not in that cache.
    """
    assert plan.crop is not None and plan.detector is not None
    options, version = plan.crop, plan.detector
    det_spec, spec = version.spec, plan.spec
    use_disk = use_cache and db.settings.eval_cache
    answers = detection.DetectionCache(
        detection.cache_root(db.settings.data_dir, options) if use_disk else None
    )
    runner: DetectorRunner | None = None

    def ready(item: np.ndarray | bytes) -> Item:
        return item if isinstance(item, bytes) else normalise(item, spec.input)

    def first(img: EvalImage) -> tuple[str, Any, Any]:
        """In the pool: the crop's input when the detector's answer is known, else the
        decoded picture and the detector's input."""
        try:
            hit = answers.get(img.sha256)
            if hit is not None:
                crop = detection.crop_for(hit, options)
                box = None if crop is None else tuple(crop["box"])
                make = lambda: prepare(db.store.read(img.path), spec.input, box)  # noqa: E731
                return "known", hit, ready(cache.get(img.sha256, make))
            picture = decode_rgb(db.store.read(img.path))
            x = prepare_decoded(picture, det_spec.input)
        except (BreedbenchError, OSError):
            return "bad", None, None
        if isinstance(x, bytes):
            raise BreedbenchError('a detector takes pixels: its input.kind cannot be "jpeg_bytes"')
        return "detect", picture, normalise(x, det_spec.input)

    def second(img: EvalImage, picture: Any, crop: dict[str, Any] | None) -> Item:
        """In the pool: the classifier's input cut from the picture decoded once."""
        cut = picture if crop is None else picture.crop(tuple(crop["box"]))
        return ready(cache.get(img.sha256, lambda: prepare_decoded(cut, spec.input)))

    workers = prepare_workers()
    lookahead = max(4 * batch, 4 * workers)
    seen: dict[str, detection.ImageDetections] = {}
    # Crops get a thread of their own: queued behind the decodes running ahead, the batch the
    # classifier waits for would wait for them too.
    with (
        ThreadPoolExecutor(max_workers=workers, thread_name_prefix="decode") as pool,
        ThreadPoolExecutor(max_workers=1, thread_name_prefix="crop") as cutter,
    ):
        pending: deque[tuple[EvalImage, Future[tuple[str, Any, Any]]]] = deque()
        out: deque[tuple[EvalImage, Future[Item] | Item | None]] = deque()
        queue = iter(plan.selection.images)
        try:
            while True:
                while len(pending) < lookahead:
                    nxt = next(queue, None)
                    if nxt is None:
                        break
                    pending.append((nxt, pool.submit(first, nxt)))
                if pending:
                    img, fut = pending.popleft()
                    kind, value, item = fut.result()
                    if kind == "known":
                        found.hits += img.sha256 not in seen
                        seen[img.sha256] = value
                        found.found[img.sha256] = value
                        crops[img.sha256] = detection.crop_for(value, options)
                        out.append((img, item))
                    elif kind == "bad":
                        out.append((img, None))
                    else:
                        hit = seen.get(img.sha256)  # the same picture twice in one set
                        if hit is None:
                            if runner is None:
                                runner = detector or version.open(db.settings).detector(
                                    det_spec, plan.threads
                                )
                            t = time.perf_counter()
                            raw = runner.detect(item)
                            ms = (time.perf_counter() - t) * 1000
                            assert det_spec.detector is not None
                            dogs = detection.dog_boxes(raw, det_spec.detector)
                            hit = detection.ImageDetections(*value.size, dogs, ms)
                            answers.put(img.sha256, hit)
                            seen[img.sha256] = hit
                            found.runs += 1
                            found.run_ms.append(ms)
                        found.found[img.sha256] = hit
                        crop = detection.crop_for(hit, options)
                        crops[img.sha256] = crop
                        out.append((img, cutter.submit(second, img, value, crop)))
                if len(out) >= batch or (not pending and out):
                    take = [out.popleft() for _ in range(min(batch, len(out)))]
                    items = [it.result() if isinstance(it, Future) else it for _, it in take]
                    yield [img for img, _ in take], items
                elif not pending:
                    return
        finally:
            for _, f in pending:
                f.cancel()
            for _, f in out:
                if isinstance(f, Future):
                    f.cancel()
            if runner is not None:
                runner.close()


def predict(
    db: Database,
    plan: EvalPlan,
    runner: Runner,
    cache: InputCache,
    progress: ProgressSink | None = None,
    source: Iterator[tuple[list[EvalImage], list[Item | None]]] | None = None,
) -> Iterator[BatchOutput]:
    """The model's outputs, batch by batch in image order, timed per image. Progress advances
    once a batch has been scored (when the caller asks for the next one). ``source`` gives
    the prepared batches (a cropped run's); by default ``prepared_batches``."""
    images = plan.selection.images
    if progress is not None:
        progress.start(len(images), plan.version.ref)
    workers = prepare_workers()
    batches = source or prepared_batches(db, images, plan.spec, cache, runner.max_batch, workers)
    with closing(batches):
        for imgs, items in batches:
            pairs = list(zip(imgs, items, strict=True))
            ok = [(img, it) for img, it in pairs if it is not None]
            undecodable = [img.id for img, it in pairs if it is None]
            outputs, per_image_ms = None, 0.0
            if ok:
                x = _model_input([it for _, it in ok], plan.spec)
                t = time.perf_counter()
                outputs = runner.predict(x)
                per_image_ms = (time.perf_counter() - t) * 1000 / len(ok)
            yield BatchOutput([img for img, _ in ok], outputs, per_image_ms, undecodable)
            if progress is not None:
                progress.advance(len(imgs))


def score(
    batches: Iterable[BatchOutput],
    label_map: LabelMap,
    spec: ModelSpec,
    crops: dict[str, dict[str, Any] | None] | None = None,
) -> Scored:
    """Each image's top-5 breeds and the rank of its true breed, batch by batch as they come:
    an output that does not fit the labels stops the evaluation at the first batch."""
    scored = Scored()
    crops = {} if crops is None else crops  # the same dict: a cropped run fills it as it goes
    for b in batches:
        scored.undecodable.extend(b.undecodable)
        if b.outputs is None or not b.images:
            continue
        scored.timings.append(BatchTime(len(b.images), b.per_image_ms * len(b.images)))
        ranked = score_batch(b.outputs, b.images, label_map, spec)  # checks the output's shape
        probs = breed_probabilities(b.outputs, label_map, spec)
        for img, (top5, rank), row in zip(b.images, ranked, probs, strict=True):
            scored.records.append(
                PredictionRecord(
                    img.id,
                    img.breed_id,
                    top5,
                    rank,
                    b.per_image_ms,
                    probs=pack_probs(row),
                    crop=crops.get(img.sha256),
                )
            )
        scored.evaluated.extend(b.images)
    return scored


def measure(
    plan: EvalPlan,
    scored: Scored,
    wall_seconds: float,
    batch: int,
    cache: InputCache,
    *,
    load_ms: float | None = None,
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The run's metrics (over the images actually evaluated) and the settings it ran with.

    Latency p50/p95 come from the steady-state batches; the warm-up (``load_ms`` and the first
    batch) is recorded apart, with how per-image latency was derived (``evaluator.latency``).
    """
    excluded = {**plan.selection.excluded, "undecodable_images": scored.undecodable}
    metrics = compute_metrics(
        scored.records,
        wall_seconds=wall_seconds,
        model_size_bytes=plan.version.size_bytes,
        dataset_hash=dataset_hash(scored.evaluated),
        excluded=excluded,
    )
    # Replaces the percentiles over every image (first batch included) compute_metrics gives.
    metrics["latency_ms"], metrics["latency"] = summarise(scored.timings, batch, load_ms)
    settings = {
        "threads": plan.threads,
        "batch": batch,
        "limit": plan.limit,
        "include_calibration": plan.include_calibration,
        # The freshness cut-off: runs compare like with like only when it is the same.
        "uploaded_after": plan.uploaded_after.isoformat() if plan.uploaded_after else None,
        "preprocessing_hash": run_preprocessing_hash(plan.spec, plan.crop),
        "cache_hits": cache.hits,
        "cache_misses": cache.misses,
        "format": plan.version.format,
        "machine": f"{platform.machine()} {platform.system()} {os.cpu_count()} cpu",
    }
    if plan.crop is not None:
        settings["crop"] = plan.crop.settings()
        metrics["crop"] = crop_metrics(plan, scored)
    return metrics, settings


def crop_metrics(plan: EvalPlan, scored: Scored) -> dict[str, Any]:
    """What the detector did in a cropped run: images cropped, fallbacks (no dog found, taken
    whole), its own latency (apart from the classifier's) and size, the cache's share."""
    found = scored.detections or detection.DetectionPass()
    evaluated = scored.evaluated
    cropped = sum(1 for img in evaluated if scored.crops.get(img.sha256) is not None)
    # Each image's detector time as measured when the detector ran on it (now or cached).
    ms = [found.found[img.sha256].detector_ms for img in evaluated if img.sha256 in found.found]
    size = plan.detector.size_bytes if plan.detector is not None else None
    return {
        "detections": cropped,
        "fallbacks": len(evaluated) - cropped,
        "detector_latency_ms": detection.latency_summary(ms),
        "detector_runs": found.runs,
        "detector_cache_hits": found.hits,
        "detector_size_bytes": size,
    }


def _model_input(items: list[Item], spec: ModelSpec) -> np.ndarray | list[Item]:
    """The batch as the runner takes it: one array, or a list (JPEG bytes, any-size images)."""
    if spec.input.kind == "tensor":
        return np.stack([np.asarray(it) for it in items])
    return items


def record_run(
    db: Database,
    plan: EvalPlan,
    metrics: dict[str, Any],
    settings: dict[str, Any],
    records: list[PredictionRecord],
) -> int:
    """The run and its predictions in one transaction: all or nothing."""
    with db.session() as s:
        run = EvalRun(
            model_version_id=plan.version.id,
            started_at=plan.started,
            finished_at=utcnow(),
            status=RunStatus.FINISHED,
            dataset_hash=metrics["dataset_hash"],  # of the images evaluated (``measure``)
            n_images=len(records),
            settings=settings,
            metrics=metrics,
            prob_breed_ids=prob_breed_ids(plan.label_map),
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
                    "probs": r.probs,
                    "crop": r.crop,
                }
                for r in records
            ],
        )
        return run.id
