"""Seeded evaluation history for the dashboard tests: rows inserted directly, as the evaluator
writes them (a model, a frozen parent and its quantized child, finished runs, per-image top-5,
metrics JSON from ``evaluator.metrics.compute_metrics``)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import numpy as np
from sqlalchemy import select

from db.database import Database
from db.models import (
    Breed,
    Decision,
    EvalRun,
    Image,
    Model,
    ModelVersion,
    Prediction,
    RunStatus,
)
from db.reviews import record_decision
from evaluator.metrics import PredictionRecord, compute_metrics
from tests.factories import insert_image

BREEDS = ("chihuahua", "beagle", "pug", "basenji", "samoyed", "whippet")
T0 = datetime(2026, 11, 1, 9, 0, tzinfo=UTC)


@dataclass
class Seeded:
    image_ids: dict[str, list[int]]
    parent_id: int
    child_id: int
    runs: dict[str, int] = field(default_factory=dict)  # "pb-1", "pb-2", "lite-1"
    # image id → rank per run name (None: true breed not in the top-5)
    ranks: dict[str, dict[int, int | None]] = field(default_factory=dict)


def seed_images(db: Database, per_breed: int = 4) -> dict[str, list[int]]:
    ids: dict[str, list[int]] = {}
    seed = 100
    for slug in BREEDS:
        ids[slug] = []
        for _ in range(per_breed):
            iid = insert_image(db, slug, seed=seed)
            seed += 1
            with db.session() as s:
                record_decision(s, iid, "ana", Decision.ACCEPT)
            ids[slug].append(iid)
    return ids


def _ranks(image_ids: list[int], rng: np.random.Generator, p_top1: float) -> dict[int, int | None]:
    out: dict[int, int | None] = {}
    for iid in image_ids:
        u = rng.random()
        if u < p_top1:
            out[iid] = 1
        elif u < p_top1 + (1 - p_top1) * 0.6:
            out[iid] = int(rng.integers(2, 6))
        else:
            out[iid] = None
    return out


def add_run(
    db: Database,
    version_id: int,
    ranks: dict[int, int | None],
    *,
    started: datetime,
    confuse_with: str = "pug",
    dataset_hash: str = "d" * 64,
    latency_ms: float = 10.0,
) -> int:
    """One finished run whose predictions put each image's true breed at the given rank."""
    with db.session() as s:
        stmt = select(Image.id, Image.breed_id).where(Image.id.in_(list(ranks)))
        breed_of = {i: b for i, b in s.execute(stmt).all()}
        all_breeds = list(s.scalars(select(Breed.id).order_by(Breed.id)))
        decoy = s.scalar(select(Breed.id).where(Breed.slug == confuse_with))
        records = []
        for iid, rank in ranks.items():
            true_id = breed_of[iid]
            others = [b for b in all_breeds if b != true_id and b != decoy][: 4 + (iid % 7)]
            wrong = [decoy if decoy != true_id else others[-1], *others[:4]]
            ids = wrong[:5]
            if rank is not None:
                ids = [*wrong[: rank - 1], true_id, *wrong[rank - 1 :]][:5]
            probs = [0.6, 0.2, 0.1, 0.06, 0.04]
            top5 = list(zip(ids, probs, strict=True))
            records.append(PredictionRecord(iid, true_id, top5, rank, latency_ms))
        size = s.scalar(select(ModelVersion.size_bytes).where(ModelVersion.id == version_id))
        metrics = compute_metrics(
            records,
            wall_seconds=len(records) * latency_ms / 1000,
            model_size_bytes=int(size or 0),
            dataset_hash=dataset_hash,
        )
        run = EvalRun(
            model_version_id=version_id,
            started_at=started,
            finished_at=started + timedelta(minutes=3),
            status=RunStatus.FINISHED,
            dataset_hash=dataset_hash,
            n_images=len(records),
            settings={"threads": 2, "batch": 8},
            metrics=metrics,
        )
        s.add(run)
        s.flush()
        for r in records:
            s.add(
                Prediction(
                    run_id=run.id,
                    image_id=r.image_id,
                    true_breed_id=r.true_breed_id,
                    rank=r.rank,
                    top5=[[b, p] for b, p in r.top5],
                    latency_ms=r.latency_ms,
                )
            )
        return run.id


def seed_evaluations(db: Database, per_breed: int = 4) -> Seeded:
    """Images of six breeds, a model with a .pb version and its .tflite child, three runs."""
    image_ids = seed_images(db, per_breed)
    with db.session() as s:
        model = Model(name="inception-breeds")
        s.add(model)
        s.flush()
        parent = ModelVersion(
            model_id=model.id,
            version="1",
            format="frozen_pb",
            path="models/aa/parent.pb",
            sha256="a" * 64,
            size_bytes=96_300_000,
            spec={"format": "frozen_pb"},
            created_at=T0,
        )
        s.add(parent)
        s.flush()
        child = ModelVersion(
            model_id=model.id,
            version="1-dynamic",
            format="tflite",
            path="models/bb/child.tflite",
            sha256="b" * 64,
            size_bytes=30_700_000,
            spec={"format": "tflite"},
            parent_id=parent.id,
            conversion={"quantize": "dynamic", "io": "float", "from_tensor": "Sub"},
            created_at=T0 + timedelta(hours=1),
        )
        s.add(child)
        s.flush()
        parent_id, child_id = parent.id, child.id
    seeded = Seeded(image_ids=image_ids, parent_id=parent_id, child_id=child_id)
    every = [i for ids in image_ids.values() for i in ids]
    rng = np.random.default_rng(7)
    plan = [
        ("pb-1", parent_id, 0.75, T0 + timedelta(days=1), 40.0),
        ("pb-2", parent_id, 0.85, T0 + timedelta(days=2), 38.0),
        ("lite-1", child_id, 0.70, T0 + timedelta(days=3), 12.0),
    ]
    for name, vid, p, when, latency in plan:
        ranks = _ranks(every, rng, p)
        seeded.ranks[name] = ranks
        seeded.runs[name] = add_run(db, vid, ranks, started=when, latency_ms=latency)
    return seeded
