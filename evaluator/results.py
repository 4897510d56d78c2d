"""Read-only access to recorded runs, as plain dataclasses (the app and reports use these).

Nothing here writes. Every function takes an open ``Session``; the returned objects hold no
ORM state, so they can be cached or passed across threads.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.errors import BreedbenchError
from db.models import Breed, EvalRun, Image, Model, ModelVersion, Prediction
from evaluator.registry import VersionInfo, get_version_by_id, list_versions, version_info

__all__ = [
    "BreedResult",
    "Confusion",
    "PredictedBreed",
    "PredictionRow",
    "RunDetail",
    "RunSummary",
    "TopK",
    "breed_results",
    "children",
    "confusions",
    "get_run",
    "lineage",
    "list_runs",
    "list_versions",
    "predictions",
]


@dataclass(frozen=True)
class TopK:
    k: int
    correct: int
    n: int
    rate: float
    ci_low: float
    ci_high: float


@dataclass(frozen=True)
class RunSummary:
    id: int
    model_name: str
    version: str
    version_id: int
    format: str
    status: str
    started_at: datetime
    finished_at: datetime | None
    dataset_hash: str | None
    n_images: int
    top1: float
    top3: float
    top5: float
    macro_top1: float
    throughput_ips: float
    latency_p50_ms: float
    latency_p95_ms: float
    model_size_bytes: int
    uploaded_after: str | None = None  # the run's freshness cut-off (evaluate --uploaded-after)

    @property
    def ref(self) -> str:
        return f"{self.model_name}:{self.version}"


@dataclass(frozen=True)
class RunDetail:
    summary: RunSummary
    topk: list[TopK]
    excluded: dict[str, Any]
    settings: dict[str, Any]
    metrics: dict[str, Any]  # the stored JSON, as is


@dataclass(frozen=True)
class BreedResult:
    breed_id: int
    slug: str
    name: str
    n: int
    top1: int
    top5: int

    @property
    def top1_rate(self) -> float:
        return self.top1 / self.n if self.n else 0.0

    @property
    def top5_rate(self) -> float:
        return self.top5 / self.n if self.n else 0.0


@dataclass(frozen=True)
class Confusion:
    true_breed_id: int
    true_slug: str
    true_name: str
    predicted_breed_id: int
    predicted_slug: str
    predicted_name: str
    count: int


@dataclass(frozen=True)
class PredictedBreed:
    breed_id: int
    slug: str
    name: str
    probability: float


@dataclass(frozen=True)
class PredictionRow:
    image_id: int
    sha256: str
    image_path: str  # store-relative
    thumb_path: str | None
    true_breed_id: int
    true_slug: str
    true_name: str
    rank: int | None  # 1-based rank of the true breed in the top 5
    top5: list[PredictedBreed]
    latency_ms: float | None
    crop: dict[str, Any] | None = None  # a cropped run's box (``evaluator.detection.crop_for``)

    @property
    def correct(self) -> bool:
        return self.rank == 1

    def record(self) -> dict[str, Any]:
        """The image's result as ``report --format json`` gives it: the same values as its row
        of the predictions file (``evaluator.predictions_file``), the top-5 nested."""
        return {
            "image_id": self.image_id,
            "sha256": self.sha256,
            "breed": self.true_slug,
            "rank": self.rank,
            "top5": [{"breed": g.slug, "probability": g.probability} for g in self.top5],
            "latency_ms": self.latency_ms,
        }


def _summary(run: EvalRun, v: ModelVersion, m: Model) -> RunSummary:
    mt = run.metrics or {}
    lat = mt.get("latency_ms", {})
    return RunSummary(
        id=run.id,
        model_name=m.name,
        version=v.version,
        version_id=v.id,
        format=v.format,
        status=str(run.status.value if hasattr(run.status, "value") else run.status),
        started_at=run.started_at,
        finished_at=run.finished_at,
        dataset_hash=run.dataset_hash,
        n_images=run.n_images,
        top1=mt.get("top1", {}).get("rate", 0.0),
        top3=mt.get("top3", {}).get("rate", 0.0),
        top5=mt.get("top5", {}).get("rate", 0.0),
        macro_top1=mt.get("macro_top1", 0.0),
        throughput_ips=mt.get("throughput_ips", 0.0),
        latency_p50_ms=lat.get("p50", 0.0),
        latency_p95_ms=lat.get("p95", 0.0),
        model_size_bytes=mt.get("model_size_bytes", v.size_bytes),
        uploaded_after=(run.settings or {}).get("uploaded_after"),
    )


def _runs_stmt():  # type: ignore[no-untyped-def]
    return (
        select(EvalRun, ModelVersion, Model)
        .join(ModelVersion, ModelVersion.id == EvalRun.model_version_id)
        .join(Model, Model.id == ModelVersion.model_id)
    )


def list_runs(
    session: Session,
    model: str | None = None,
    version: str | None = None,
    *,
    version_id: int | None = None,
    limit: int | None = None,
) -> list[RunSummary]:
    """Runs, newest first; filtered by model name, version string or version id."""
    stmt = _runs_stmt()
    if model is not None:
        stmt = stmt.where(Model.name == model)
    if version is not None:
        stmt = stmt.where(ModelVersion.version == version)
    if version_id is not None:
        stmt = stmt.where(ModelVersion.id == version_id)
    stmt = stmt.order_by(EvalRun.started_at.desc(), EvalRun.id.desc())
    if limit is not None:
        stmt = stmt.limit(limit)
    return [_summary(r, v, m) for r, v, m in session.execute(stmt).all()]


def get_run(session: Session, run_id: int) -> RunDetail:
    row = session.execute(_runs_stmt().where(EvalRun.id == run_id)).first()
    if row is None:
        raise BreedbenchError(f"no evaluation run {run_id} (see breedbench history)")
    run, v, m = row
    mt = run.metrics or {}
    topk = []
    for k in (1, 3, 5):
        t = mt.get(f"top{k}", {})
        lo, hi = t.get("ci95", [0.0, 0.0])
        topk.append(TopK(k, t.get("correct", 0), run.n_images, t.get("rate", 0.0), lo, hi))
    return RunDetail(
        summary=_summary(run, v, m),
        topk=topk,
        excluded=dict(mt.get("excluded", {})),
        settings=dict(run.settings or {}),
        metrics=dict(mt),
    )


def _breeds(session: Session) -> dict[int, Breed]:
    return {b.id: b for b in session.scalars(select(Breed))}


def breed_results(session: Session, run_id: int) -> list[BreedResult]:
    """Per-breed counts of the run, worst top-1 rate first."""
    per = get_run(session, run_id).metrics.get("per_breed", {})
    breeds = _breeds(session)
    out = [
        BreedResult(
            int(bid), breeds[int(bid)].slug, breeds[int(bid)].name, c["n"], c["top1"], c["top5"]
        )
        for bid, c in per.items()
        if int(bid) in breeds
    ]
    return sorted(out, key=lambda r: (r.top1_rate, r.top5_rate, r.slug))


def confusions(session: Session, run_id: int, limit: int = 25) -> list[Confusion]:
    """Most frequent (true breed → predicted top-1) mistakes."""
    pairs = get_run(session, run_id).metrics.get("confusions", [])[:limit]
    breeds = _breeds(session)
    return [
        Confusion(t, breeds[t].slug, breeds[t].name, p, breeds[p].slug, breeds[p].name, n)
        for t, p, n in pairs
        if t in breeds and p in breeds
    ]


def predictions(
    session: Session,
    run_id: int,
    *,
    breed_id: int | None = None,
    wrong_only: bool = False,
    image_ids: list[int] | None = None,
    limit: int | None = None,
    offset: int = 0,
) -> list[PredictionRow]:
    """Per-image results with the top-5 named, by image id."""
    stmt = (
        select(Prediction, Image.sha256, Image.path, Image.thumb_path)
        .join(Image, Image.id == Prediction.image_id)
        .where(Prediction.run_id == run_id)
    )
    if breed_id is not None:
        stmt = stmt.where(Prediction.true_breed_id == breed_id)
    if wrong_only:
        stmt = stmt.where((Prediction.rank.is_(None)) | (Prediction.rank != 1))
    if image_ids is not None:
        stmt = stmt.where(Prediction.image_id.in_(image_ids))
    stmt = stmt.order_by(Prediction.image_id).offset(offset)
    if limit is not None:
        stmt = stmt.limit(limit)
    breeds = _breeds(session)
    rows = []
    for p, sha, path, thumb in session.execute(stmt).all():
        true = breeds[p.true_breed_id]
        rows.append(
            PredictionRow(
                image_id=p.image_id,
                sha256=sha,
                image_path=path,
                thumb_path=thumb,
                true_breed_id=true.id,
                true_slug=true.slug,
                true_name=true.name,
                rank=p.rank,
                top5=[
                    PredictedBreed(int(b), breeds[int(b)].slug, breeds[int(b)].name, float(q))
                    for b, q in (p.top5 or [])
                ],
                latency_ms=p.latency_ms,
                crop=p.crop,
            )
        )
    return rows


def lineage(session: Session, version_id: int) -> list[VersionInfo]:
    """The version and its ancestors (``parent_id``), oldest first: ``.pb`` → int8 ``.tflite``."""
    chain: list[VersionInfo] = []
    seen: set[int] = set()
    current: int | None = version_id
    while current is not None and current not in seen:
        seen.add(current)
        info = get_version_by_id(session, current)
        chain.append(info)
        current = info.parent_id
    return list(reversed(chain))


def children(session: Session, version_id: int) -> list[VersionInfo]:
    """Versions derived from this one (converted, quantized, ...)."""
    rows = session.execute(
        select(Model, ModelVersion)
        .join(ModelVersion)
        .where(ModelVersion.parent_id == version_id)
        .order_by(ModelVersion.id)
    ).all()
    return [version_info(m, v) for m, v in rows]
