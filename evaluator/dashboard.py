"""What the "Models & evaluations" pages show, as plain data: the evaluator's read API, arranged
for the dashboard.

Pages call these functions with a Session and render the result; nothing here imports Streamlit.
The numbers themselves come from ``evaluator.results`` (runs, per-breed results, confusions,
per-image predictions), ``evaluator.tradeoff`` (one row per version) and ``evaluator.compare``
(McNemar's exact test, fixed / broken images, per-breed deltas), so the app, ``breedbench
report`` and ``breedbench compare`` always agree. What is added here is what only the app needs:
the version tree in display order, run history with intervals for charts, and the mistakes
gallery ordered by confidence with each image's review status (sending an image back to review
is ``review.send_back``'s).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.chunks import id_chunks
from core.errors import BreedbenchError
from db.models import Breed, Image, ImageStatus, RunStatus
from evaluator import results
from evaluator.compare import Comparison, ImageChange, compare_runs
from evaluator.registry import VersionInfo, list_versions
from evaluator.results import BreedResult, PredictionRow, RunSummary
from evaluator.tradeoff import TradeoffRow, tradeoff_rows

__all__ = [
    "BreedResult",
    "Comparison",
    "ImageChange",
    "PredictionRow",
    "RunSummary",
    "TradeoffRow",
]


# --- versions and lineage ------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class VersionNode:
    info: VersionInfo
    depth: int  # 0: an original; 1: converted from one; ...


def version_tree(session: Session, model: str | None = None) -> list[VersionNode]:
    """Every version in display order: each parent followed by the versions made from it."""
    infos = list_versions(session, model)
    ids = {v.id for v in infos}
    by_parent: dict[int | None, list[VersionInfo]] = defaultdict(list)
    for v in infos:
        by_parent[v.parent_id if v.parent_id in ids else None].append(v)
    out: list[VersionNode] = []
    seen: set[int] = set()

    def walk(parent: int | None, depth: int) -> None:
        for v in by_parent.get(parent, []):
            if v.id in seen:  # a cycle in parent_id would otherwise never end
                continue
            seen.add(v.id)
            out.append(VersionNode(v, depth))
            walk(v.id, depth + 1)

    walk(None, 0)
    return out


def model_names(session: Session) -> list[str]:
    return sorted({v.model_name for v in list_versions(session)})


# --- run history ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class HistoryPoint:
    """One finished run's top-k rate with its 95% interval (a point and error bar on a chart)."""

    run_id: int
    version: str
    started_at: datetime
    k: int
    rate: float
    ci_low: float
    ci_high: float
    n_images: int


def runs(
    session: Session, model: str | None = None, *, finished_only: bool = False
) -> list[RunSummary]:
    """Runs, newest first (the evaluator's summaries)."""
    found = results.list_runs(session, model)
    if finished_only:
        found = [r for r in found if r.status == RunStatus.FINISHED.value]
    return found


def history(session: Session, model: str) -> list[HistoryPoint]:
    """Top-1/3/5 with intervals of every finished run of ``model``, oldest first."""
    points: list[HistoryPoint] = []
    for summary in reversed(runs(session, model, finished_only=True)):
        detail = results.get_run(session, summary.id)
        for t in detail.topk:
            points.append(
                HistoryPoint(
                    run_id=summary.id,
                    version=summary.version,
                    started_at=summary.started_at,
                    k=t.k,
                    rate=t.rate,
                    ci_low=t.ci_low,
                    ci_high=t.ci_high,
                    n_images=summary.n_images,
                )
            )
    return points


def trade_offs(session: Session, model: str) -> list[TradeoffRow]:
    """One row per version, in version-tree order (parent first, then what was made from it);
    a version's row with its detector (a cropped run) follows its own."""
    rows: dict[int, list[TradeoffRow]] = {}
    for r in tradeoff_rows(session, model):
        rows.setdefault(r.version.id, []).append(r)
    return [r for node in version_tree(session, model) for r in rows.get(node.info.id, [])]


def top1_delta_vs_parent(rows: Sequence[TradeoffRow]) -> dict[int, float]:
    """Version id → top-1 minus its parent's, when both latest runs used the same image set."""
    by_id = {r.version.id: r for r in rows if r.crop is None}
    out: dict[int, float] = {}
    for r in rows:
        if r.crop is not None:
            continue
        parent = by_id.get(r.version.parent_id) if r.version.parent_id else None
        if (
            parent is not None
            and 1 in r.top
            and 1 in parent.top
            and r.dataset_hash is not None
            and r.dataset_hash == parent.dataset_hash
        ):
            out[r.version.id] = r.top[1].rate - parent.top[1].rate
    return out


# --- one run in detail ---------------------------------------------------------------------


def per_breed(session: Session, run_id: int) -> list[BreedResult]:
    return results.breed_results(session, run_id)


@dataclass(frozen=True, slots=True)
class ConfusedPair:
    true_breed: str
    predicted: str
    count: int
    share: float  # of the true breed's images in the run


def confused_pairs(session: Session, run_id: int, limit: int = 20) -> list[ConfusedPair]:
    sizes = {b.breed_id: b.n for b in results.breed_results(session, run_id)}
    return [
        ConfusedPair(
            c.true_slug,
            c.predicted_slug,
            c.count,
            c.count / sizes[c.true_breed_id] if sizes.get(c.true_breed_id) else 0.0,
        )
        for c in results.confusions(session, run_id, limit=limit)
    ]


@dataclass(frozen=True, slots=True)
class Mistake:
    prediction: PredictionRow
    image_status: str

    @property
    def confidence(self) -> float:
        return self.prediction.top5[0].probability if self.prediction.top5 else 0.0


@dataclass(frozen=True, slots=True)
class MistakePage:
    items: list[Mistake]
    total: int
    offset: int  # where ``items`` start: the last page when the asked offset was past the end


def _by_image(session: Session, column: Any, image_ids: Sequence[int]) -> dict[int, Any]:
    """Image id → one column of ``images``, in chunks of ids."""
    out: dict[int, Any] = {}
    for chunk in id_chunks(image_ids):
        stmt = select(Image.id, column).where(Image.id.in_(chunk))
        out.update(session.execute(stmt).tuples().all())
    return out


def mistakes(
    session: Session,
    run_id: int,
    *,
    breed: str | None = None,
    worst: str = "top1",
    offset: int = 0,
    limit: int = 24,
) -> MistakePage:
    """Images whose top-1 is wrong (``worst="top5"``: the true breed is not even in the top-5).

    Most confident mistakes first: a model sure of another breed is the best hint that the
    label, not the model, is wrong. An offset past the end (a filter shortened the list) gives
    the last page, so a pager never shows an empty page.
    """
    breed_id = None
    if breed:
        breed_id = session.scalar(select(Breed.id).where(Breed.slug == breed))
        if breed_id is None:
            raise BreedbenchError(f"no breed {breed!r}")
    rows = results.predictions(session, run_id, breed_id=breed_id, wrong_only=True)
    if worst == "top5":
        rows = [r for r in rows if r.rank is None]
    rows.sort(key=lambda r: (-(r.top5[0].probability if r.top5 else 0.0), r.image_id))
    offset = max(0, min(offset, (len(rows) - 1) // limit * limit))
    shown = rows[offset : offset + limit]
    found = _by_image(session, Image.status, [r.image_id for r in shown])
    status = {i: ImageStatus(v).value for i, v in found.items()}
    return MistakePage(
        items=[Mistake(r, status.get(r.image_id, "?")) for r in shown],
        total=len(rows),
        offset=offset,
    )


# --- two runs compared ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RunComparison:
    result: Comparison  # the evaluator's comparison (deltas, McNemar p, fixed, broken, breeds)
    thumbs: dict[int, str | None]  # image id → thumbnail path, for the fixed and broken images


def compare(session: Session, run_a: int, run_b: int) -> RunComparison:
    """Run B against run A (A is the baseline: "fixed" means B got it right)."""
    if run_a == run_b:
        raise BreedbenchError("choose two different runs to compare")
    result = compare_runs(session, run_a, run_b)
    ids = [c.image_id for c in (*result.fixed, *result.broken)]
    return RunComparison(result, _by_image(session, Image.thumb_path, ids))
