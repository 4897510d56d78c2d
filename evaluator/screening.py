"""Screening: an independent model's opinion of the pending images, before anyone reviews them.

``screen`` runs a registered version over pending images with the evaluation's own steps (the
same ``predict``, thread pool and ``.npy`` input cache as ``evaluator.pipeline``) and keeps, per
image: a dog score, the model's top-3 breeds, its probability of the claimed breed, and whether
its top class is the claimed breed. The review app uses these only to order the queue and to
mark images (``review.screening``); screening never changes an image's status and records no
review.

The dog score: for a model with classes that are not breeds (an ImageNet-1k model, its spec
with ``labels.restrict_to_breeds``), the summed probability of its breed classes (ImageNet's dog
classes); for a breeds-only model, which cannot say "no dog", its top probability.

A model that screened the set has seen which images reviewers were shown first and which were
marked: evaluating it (or a version of its lineage) on that set flatters it, so ``evaluate``
records a warning on the run (``evaluator.screening_bias``).

Nothing is written until the end: the screening run and all its rows go in one transaction.
"""

from __future__ import annotations

import os
import time
from collections import Counter
from collections.abc import Sequence
from contextlib import closing
from dataclasses import dataclass, field, replace

import numpy as np
from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from core.errors import BreedbenchError
from db.database import Database
from db.models import (
    LIKELY_NOT_A_DOG,
    Breed,
    Image,
    ImageStatus,
    Screening,
    ScreeningRun,
    utcnow,
)
from evaluator.labels import LabelMap, build_label_map
from evaluator.pipeline import (
    DEFAULT_BATCH,
    EvalImage,
    EvalPlan,
    InputCache,
    Selection,
    cache_root,
    predict,
    probabilities,
)
from evaluator.progress import ProgressSink
from evaluator.registry import VersionInfo, get_version
from evaluator.runners import Runner
from evaluator.spec import ModelSpec, preprocessing_hash


@dataclass(frozen=True, slots=True)
class ScreenedImage:
    image_id: int
    claimed_breed_id: int
    dog_score: float
    claimed_score: float | None  # None: the model has no class for the claimed breed
    top3: list[tuple[int, float]]
    agrees: bool | None  # the model's top class is the claimed breed (None: uncovered)


@dataclass(frozen=True, slots=True)
class BreedTally:
    slug: str
    screened: int
    likely_not_dog: int
    disagrees: int


@dataclass(frozen=True)
class ScreeningOutcome:
    run_id: int
    version: VersionInfo
    screened: int
    likely_not_dog: int
    disagrees: int
    agrees: int
    uncovered: int  # images of a breed the model has no class for
    undecodable: list[int]
    dog_score: str  # how the dog score was computed
    seconds: float
    per_breed: list[BreedTally] = field(default_factory=list)


def dog_score_kind(label_map: LabelMap) -> str:
    if label_map.unmatched:
        return "summed probability of its breed (dog) classes"
    return "top probability (a breeds-only model)"


def screen_batch(
    outputs: np.ndarray, images: Sequence[EvalImage], label_map: LabelMap, spec: ModelSpec
) -> list[ScreenedImage]:
    """Each image's dog score, top-3 breeds, claimed-breed probability and agreement."""
    n_labels = len(label_map.labels)
    if outputs.shape[1] != n_labels:
        raise BreedbenchError(
            f"the model outputs {outputs.shape[1]} values per image but the labels list "
            f"{n_labels} classes; fix labels.file or output.tensor"
        )
    probs = probabilities(outputs, spec)
    breed_of = np.array([-1 if b is None else b for b in label_map.breed_ids])
    is_breed = breed_of >= 0
    dog = probs[:, is_breed].sum(axis=1) if label_map.unmatched else probs.max(axis=1)
    ranked = np.where(is_breed, probs, -np.inf)
    k = min(3, int(is_breed.sum()))
    order = np.argsort(-ranked, axis=1, kind="stable")[:, :k]
    top_class = probs.argmax(axis=1)
    class_of = {int(b): c for c, b in enumerate(breed_of) if b >= 0}
    out = []
    for row, img in enumerate(images):
        c = class_of.get(img.breed_id)
        out.append(
            ScreenedImage(
                image_id=img.id,
                claimed_breed_id=img.breed_id,
                dog_score=float(min(1.0, dog[row])),
                claimed_score=None if c is None else float(probs[row, c]),
                top3=[(int(breed_of[j]), float(probs[row, j])) for j in order[row]],
                agrees=None if c is None else bool(top_class[row] == c),
            )
        )
    return out


def pending_images(
    session: Session, breeds: Sequence[str] = (), limit: int | None = None
) -> list[EvalImage]:
    """Pending images (of these breed slugs, if any), by id."""
    stmt = (
        select(Image.id, Image.sha256, Image.path, Image.breed_id)
        .where(Image.status == ImageStatus.PENDING)
        .order_by(Image.id)
    )
    if breeds:
        wanted = list(dict.fromkeys(breeds))
        found = select(Breed.slug, Breed.id).where(Breed.slug.in_(wanted))
        ids: dict[str, int] = dict(session.execute(found).tuples().all())
        unknown = [b for b in wanted if b not in ids]
        if unknown:
            raise BreedbenchError(
                f"unknown breed(s): {', '.join(unknown)} (see breedbench breeds for the slugs)"
            )
        stmt = stmt.where(Image.breed_id.in_(list(ids.values())))
    if limit is not None:
        stmt = stmt.limit(limit)
    return [EvalImage(*row) for row in session.execute(stmt)]


def screen(
    db: Database,
    ref: str | VersionInfo,
    *,
    breeds: Sequence[str] = (),
    threads: int | None = None,
    batch: int | None = None,
    limit: int | None = None,
    use_cache: bool = True,
    progress: ProgressSink | None = None,
    runner: Runner | None = None,
) -> ScreeningOutcome:
    """Screen the pending images (of ``breeds``) with a version and record one screening run."""
    started = utcnow()
    with db.session() as s:
        version = ref.usable() if isinstance(ref, VersionInfo) else get_version(s, ref)
        spec = version.spec
        label_map = build_label_map(s, spec)
        images = pending_images(s, breeds, limit)
    if not images:
        where = f" of {', '.join(breeds)}" if breeds else ""
        raise BreedbenchError(f"no pending images{where} to screen")
    cfg = db.settings
    plan = EvalPlan(
        version=version,
        spec=spec,
        label_map=label_map,
        selection=Selection(images),
        threads=threads or spec.runtime.threads or cfg.eval_threads or os.cpu_count() or 1,
        batch=batch or spec.runtime.batch or cfg.eval_batch or DEFAULT_BATCH,
        cache_dir=cache_root(db, spec) if use_cache and cfg.eval_cache else None,
        limit=limit,
        include_calibration=True,
        started=started,
    )
    if runner is None:
        runner = version.open(db.settings).runner(spec, plan.threads, plan.batch)
    cache = InputCache(plan.cache_dir)
    screened: list[ScreenedImage] = []
    undecodable: list[int] = []
    t0 = time.perf_counter()
    try:
        with closing(predict(db, plan, runner, cache, progress)) as batches:
            for b in batches:
                undecodable.extend(b.undecodable)
                if b.outputs is not None and b.images:
                    screened.extend(screen_batch(b.outputs, b.images, label_map, spec))
    finally:
        runner.close()
    seconds = time.perf_counter() - t0
    if not screened:
        raise BreedbenchError(f"none of the {len(images)} images could be decoded")
    settings = {
        "breeds": list(breeds),
        "limit": limit,
        "threads": plan.threads,
        "batch": runner.max_batch,
        "preprocessing_hash": preprocessing_hash(spec),
        "cache_hits": cache.hits,
        "cache_misses": cache.misses,
        "dog_score": dog_score_kind(label_map),
        "likely_not_a_dog_below": LIKELY_NOT_A_DOG,
    }
    with db.session() as s:
        slugs = dict(s.execute(select(Breed.id, Breed.slug)).all())
        outcome = _tally(version, screened, undecodable, label_map, seconds, slugs)
        run_id = _record(s, plan, settings, outcome, screened)
    return replace(outcome, run_id=run_id)


def _tally(
    version: VersionInfo,
    screened: list[ScreenedImage],
    undecodable: list[int],
    label_map: LabelMap,
    seconds: float,
    slugs: dict[int, str],
) -> ScreeningOutcome:
    counts: dict[int, Counter[str]] = {}
    for r in screened:
        c = counts.setdefault(r.claimed_breed_id, Counter())
        c["screened"] += 1
        c["not_dog"] += r.dog_score < LIKELY_NOT_A_DOG
        c["disagrees"] += r.agrees is False
    per_breed = [
        BreedTally(slugs.get(b, str(b)), c["screened"], c["not_dog"], c["disagrees"])
        for b, c in sorted(counts.items(), key=lambda kv: slugs.get(kv[0], ""))
    ]
    return ScreeningOutcome(
        run_id=0,
        version=version,
        screened=len(screened),
        likely_not_dog=sum(r.dog_score < LIKELY_NOT_A_DOG for r in screened),
        disagrees=sum(r.agrees is False for r in screened),
        agrees=sum(r.agrees is True for r in screened),
        uncovered=sum(r.agrees is None for r in screened),
        undecodable=undecodable,
        dog_score=dog_score_kind(label_map),
        seconds=seconds,
        per_breed=per_breed,
    )


def _record(
    s: Session,
    plan: EvalPlan,
    settings: dict[str, object],
    outcome: ScreeningOutcome,
    screened: list[ScreenedImage],
) -> int:
    run = ScreeningRun(
        model_version_id=plan.version.id,
        started_at=plan.started,
        finished_at=utcnow(),
        n_images=len(screened),
        settings=settings,
        stats={
            "likely_not_dog": outcome.likely_not_dog,
            "disagrees": outcome.disagrees,
            "agrees": outcome.agrees,
            "uncovered": outcome.uncovered,
            "undecodable_images": outcome.undecodable,
            "seconds": round(outcome.seconds, 3),
        },
    )
    s.add(run)
    s.flush()
    s.execute(
        insert(Screening),
        [
            {
                "run_id": run.id,
                "image_id": r.image_id,
                "claimed_breed_id": r.claimed_breed_id,
                "dog_score": round(r.dog_score, 6),
                "claimed_score": None if r.claimed_score is None else round(r.claimed_score, 6),
                "top3": [[b, round(p, 6)] for b, p in r.top3],
                "agrees": r.agrees,
            }
            for r in screened
        ],
    )
    return run.id
