"""Suspected label errors among the accepted images, ranked from the recorded evaluation runs.

Every run keeps each image's probability of every breed its model predicts
(``predictions.probs``). A model that never trained on these images is an out-of-sample judge of
their labels, so an accepted image that the models give a low probability for its own breed is
a likely label error (confident learning: each run scores each image by its self-confidence, the
label quality of ``cleanlab.rank.get_label_quality_scores``; see ``self_confidence``).

How the runs are combined, so that no single model decides and no family counts twice:

* per model version, the latest run that predicted the image counts;
* versions of one lineage (a model family and the versions converted from it, followed through
  ``parent_id``) are averaged into one vote, so ten quantized builds of one network do not
  outvote a second, independent network;
* an image's label quality is the mean of its votes, and its **score** is ``1 − quality``:
  higher means the models disagree more strongly with the label.

The same weights average the probability vectors, giving each image's top predicted breeds.
Only the image's current label is scored, so a relabel is judged by the same runs at once.

A reviewer who looks at a suspect and keeps its label records a ``label_checks`` row with the
score of that moment: the image stays off the list until new runs raise its score above it, or
its label changes. Sending a suspect back and relabelling it are review decisions, recorded
through ``review.decisions`` / ``review.send_back`` like every other.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from core.errors import BreedbenchError
from db.models import (
    Breed,
    Decision,
    EvalRun,
    Image,
    ImageStatus,
    LabelCheck,
    Model,
    ModelVersion,
    Prediction,
    RunStatus,
)
from db.probabilities import unpack_rows
from review.decisions import DecisionResult, clean_reviewer, decide
from review.send_back import send_back_to_review

SUSPECT_REASON = "suspected label error"
TOP_PREDICTED = 3
# A kept image comes back only when its score rose by more than this (float noise of the mean).
KEPT_TOLERANCE = 1e-6
REFERENCES = 4


@dataclass(frozen=True, slots=True)
class PredictedBreed:
    breed_id: int
    slug: str
    name: str
    probability: float  # averaged as the votes are


@dataclass(frozen=True, slots=True)
class Suspect:
    image_id: int
    sha256: str
    breed_id: int  # the current label
    breed_slug: str
    breed_name: str
    score: float  # 1 − label quality: higher = the models disagree more with the label
    label_probability: float  # the averaged probability of the label (the label quality)
    votes: int  # independent lineages that predicted the image
    versions: int  # model versions behind those votes
    top: tuple[PredictedBreed, ...]  # the top predicted breeds, best first
    kept_score: float | None = None  # the score when a reviewer last kept this label

    @property
    def predicted(self) -> PredictedBreed | None:
        """The best predicted breed other than the label: the breed a relabel would move to."""
        return next((p for p in self.top if p.breed_id != self.breed_id), None)


@dataclass
class SuspectList:
    suspects: list[Suspect]
    images_scored: int = 0  # accepted images with at least one vote
    versions: int = 0  # model versions whose runs were read
    lineages: int = 0  # independent votes those versions make
    hidden_kept: int = 0  # kept images whose score has not risen since
    runs_without_probs: int = 0  # runs recorded before probabilities were kept (not used)
    notes: list[str] = field(default_factory=list)


# --- ranking ------------------------------------------------------------------------------------


def rank_suspects(
    session: Session,
    *,
    model: str | None = None,
    limit: int | None = None,
    include_kept: bool = False,
) -> SuspectList:
    """Accepted images ranked by how strongly the recorded runs disagree with their label.

    ``model`` (``NAME`` or ``NAME:VERSION``) limits the votes to that model's versions.
    """
    if limit is not None and limit < 1:
        raise BreedbenchError("--limit must be at least 1")
    lineage_of = _lineages(session, model)
    runs, without = _runs(session, lineage_of)
    latest = _latest_predictions(session, runs)
    result = SuspectList([], versions=len({v for v, _ in latest}), runs_without_probs=without)
    result.lineages = len({lineage_of[v] for v, _ in latest})
    if not latest:
        return result
    scores = _score(runs, latest, lineage_of)
    if not len(scores.image_ids):
        return result
    result.images_scored = len(scores.image_ids)
    order = np.lexsort((scores.image_ids, -scores.score))  # score descending, then image id
    kept = _kept(session)
    chosen: list[int] = []
    for row in order:
        image_id = int(scores.image_ids[row])
        check = kept.get(image_id)
        breed = scores.breed_of[image_id]
        if (
            not include_kept
            and check is not None
            and check[0] == breed
            and scores.score[row] <= check[1] + KEPT_TOLERANCE
        ):
            result.hidden_kept += 1
            continue
        if limit is None or len(chosen) < limit:
            chosen.append(int(row))
    result.suspects = _suspects(session, scores, chosen, kept)
    return result


def runs_stamp(session: Session) -> tuple[int, int | None]:
    """(finished runs, newest run id): changes whenever a run is recorded or removed, so a
    ranking computed earlier can be reused until then."""
    count, newest = session.execute(
        select(func.count(EvalRun.id), func.max(EvalRun.id)).where(
            EvalRun.status == RunStatus.FINISHED
        )
    ).one()
    return int(count), newest


def _lineages(session: Session, model: str | None) -> dict[int, int]:
    """Model version id → its lineage (the model family of the root of its ``parent_id`` chain),
    for the versions that vote."""
    rows = session.execute(
        select(
            ModelVersion.id,
            ModelVersion.model_id,
            ModelVersion.parent_id,
            Model.name,
            ModelVersion.version,
        ).join(Model, Model.id == ModelVersion.model_id)
    ).all()
    parent = {vid: pid for vid, _, pid, _, _ in rows}
    family = {vid: mid for vid, mid, _, _, _ in rows}

    def root(vid: int) -> int:
        seen = {vid}
        while (p := parent.get(vid)) is not None and p in parent and p not in seen:
            seen.add(p)
            vid = p
        return vid

    chosen = [vid for vid, *_ in rows]
    if model is not None:
        name, _, version = model.partition(":")
        chosen = [vid for vid, _, _, n, v in rows if n == name and (not version or v == version)]
        if not chosen:
            raise BreedbenchError(f"no model version {model!r} (see breedbench models)")
    return {vid: family[root(vid)] for vid in chosen}


def _runs(session: Session, lineage_of: dict[int, int]) -> tuple[dict[int, _Run], int]:
    """The finished runs of the voting versions that kept probabilities, and how many did not."""
    runs: dict[int, _Run] = {}
    without = 0
    for run_id, version_id, breeds in session.execute(
        select(EvalRun.id, EvalRun.model_version_id, EvalRun.prob_breed_ids)
        .where(EvalRun.status == RunStatus.FINISHED)
        .order_by(EvalRun.started_at, EvalRun.id)
    ):
        if version_id not in lineage_of:
            continue
        if not breeds:
            without += 1
            continue
        runs[run_id] = _Run(run_id, version_id, [int(b) for b in breeds])
    return runs, without


@dataclass
class _Run:
    id: int
    version_id: int
    breeds: list[int]
    order: int = 0  # position in time among the runs read


def _latest_predictions(
    session: Session, runs: dict[int, _Run]
) -> dict[tuple[int, int], tuple[int, int, bytes]]:
    """(version, image) → (run, label, probabilities) of the latest run of that version that
    predicted the image, for accepted images only."""
    latest: dict[tuple[int, int], tuple[int, int, bytes]] = {}
    if not runs:
        return latest
    for n, run in enumerate(runs.values()):  # ``_runs`` reads them oldest first
        run.order = n
    stmt = (
        select(
            Prediction.run_id,
            EvalRun.model_version_id,
            Prediction.image_id,
            Image.breed_id,
            Prediction.probs,
        )
        .join(EvalRun, EvalRun.id == Prediction.run_id)
        .join(Image, Image.id == Prediction.image_id)
        .where(
            Image.status == ImageStatus.ACCEPTED,
            Prediction.probs.is_not(None),
            EvalRun.status == RunStatus.FINISHED,
        )
    )
    # Core rows, not ORM ones: tens of thousands of plain tuples, read without ORM loading.
    for run_id, version_id, image_id, breed_id, blob in session.connection().execute(stmt):
        run = runs.get(run_id)
        if run is None:
            continue
        key = (version_id, image_id)
        held = latest.get(key)
        if held is None or runs[held[0]].order < run.order:
            latest[key] = (run_id, breed_id, blob)
    return latest


@dataclass
class _Scores:
    image_ids: np.ndarray  # scored images, one row each
    score: np.ndarray
    quality: np.ndarray
    votes: np.ndarray
    versions: np.ndarray
    breeds: list[int]  # the columns of ``averaged``
    breed_of: dict[int, int]  # image id → its current label
    # per run: (image rows, their columns in ``breeds``, weights, probabilities as stored)
    parts: list[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]]

    def averaged(self, rows: Sequence[int]) -> np.ndarray:
        """The weighted mean probability vectors of these image rows (only the few shown are
        ever asked for, so the full matrix is never built)."""
        out = np.zeros((len(rows), len(self.breeds)), dtype=np.float64)
        where = {r: n for n, r in enumerate(rows)}
        wanted = np.array(list(rows), dtype=np.int64)
        for image_rows, cols, weights, matrix in self.parts:
            hit = np.flatnonzero(np.isin(image_rows, wanted))
            for k in hit:
                out[where[int(image_rows[k])], cols] += weights[k] * matrix[k].astype(np.float64)
        return out


def _score(
    runs: dict[int, _Run],
    latest: dict[tuple[int, int], tuple[int, int, bytes]],
    lineage_of: dict[int, int],
) -> _Scores:
    """Each image's label quality, averaged per lineage then across lineages (vectorised: one
    entry per image and version, grouped by run)."""
    n = len(latest)
    keys = list(latest)
    values = list(latest.values())
    run_of = np.fromiter((v[0] for v in values), dtype=np.int64, count=n)
    image_of = np.fromiter((k[1] for k in keys), dtype=np.int64, count=n)
    label_of = np.fromiter((v[1] for v in values), dtype=np.int64, count=n)
    lineage = np.fromiter((lineage_of[k[0]] for k in keys), dtype=np.int64, count=n)
    blobs = [v[2] for v in values]
    # Only votes that can judge the current label (their run predicts that breed) count.
    all_breeds = sorted({b for r in runs.values() for b in r.breeds})
    top_breed = max([*all_breeds, int(label_of.max())]) + 1
    column = np.full(top_breed, -1, dtype=np.int64)  # breed id → column in the run's vector
    covered = np.zeros(n, dtype=bool)
    column_in_run = np.full(n, -1, dtype=np.int64)
    by_run: dict[int, np.ndarray] = {}
    for run_id in np.unique(run_of):
        run = runs[int(run_id)]
        column[:] = -1
        column[run.breeds] = np.arange(len(run.breeds))
        members = np.flatnonzero(run_of == run_id)
        cols = column[label_of[members]]
        column_in_run[members] = cols
        covered[members] = cols >= 0
        by_run[int(run_id)] = members[cols >= 0]
    image_ids, image_row = np.unique(image_of[covered], return_inverse=True)
    rows_all = np.full(n, -1, dtype=np.int64)
    rows_all[covered] = image_row
    # weight of an entry: 1 / (versions of its lineage on that image × lineages on that image)
    pair = rows_all * (int(lineage.max()) + 1) + lineage
    pairs, pair_index, per_pair = np.unique(pair[covered], return_inverse=True, return_counts=True)
    lineages = np.bincount(pairs // (int(lineage.max()) + 1), minlength=len(image_ids))
    weight = np.zeros(n)
    weight[covered] = 1.0 / (per_pair[pair_index] * lineages[image_row])
    versions = np.bincount(image_row, minlength=len(image_ids))
    col_of = {b: c for c, b in enumerate(all_breeds)}
    quality = np.zeros(len(image_ids), dtype=np.float64)
    parts = []
    for run_id, members in by_run.items():
        if members.size == 0:
            continue
        run = runs[run_id]
        matrix = unpack_rows([blobs[k] for k in members], len(run.breeds))
        q = self_confidence(column_in_run[members], matrix)
        rows = rows_all[members]
        quality[rows] += weight[members] * q  # one entry per image in a run: no repeats
        cols = np.array([col_of[b] for b in run.breeds], dtype=np.int64)
        parts.append((rows, cols, weight[members], matrix))
    quality = np.clip(quality, 0.0, 1.0)
    breed_of = dict(zip(image_of[covered].tolist(), label_of[covered].tolist(), strict=True))
    return _Scores(
        image_ids=image_ids,
        score=1.0 - quality,
        quality=quality,
        votes=lineages,
        versions=versions,
        breeds=all_breeds,
        breed_of=breed_of,
        parts=parts,
    )


def self_confidence(labels: np.ndarray, pred_probs: np.ndarray) -> np.ndarray:
    """Each row's probability of its own label: ``cleanlab.rank.get_label_quality_scores(labels,
    pred_probs, method="self_confidence")``, computed here because importing cleanlab (it loads
    scikit-learn) takes 2–6 s on a 2-core machine, longer than the whole ranking; the tests check
    both give the same scores."""
    return pred_probs[np.arange(len(labels)), labels].astype(np.float64)


def _kept(session: Session) -> dict[int, tuple[int, float]]:
    """Image id → (breed kept, score then) of its latest label check."""
    kept: dict[int, tuple[int, float]] = {}
    for image_id, breed_id, score in session.execute(
        select(LabelCheck.image_id, LabelCheck.breed_id, LabelCheck.score).order_by(LabelCheck.id)
    ):
        kept[image_id] = (breed_id, float(score))
    return kept


def _suspects(
    session: Session, scores: _Scores, rows: Sequence[int], kept: dict[int, tuple[int, float]]
) -> list[Suspect]:
    if not rows:
        return []
    ids = [int(scores.image_ids[r]) for r in rows]
    shas = dict(
        session.execute(select(Image.id, Image.sha256).where(Image.id.in_(ids))).tuples().all()
    )
    breeds = {
        b: (slug, name)
        for b, slug, name in session.execute(select(Breed.id, Breed.slug, Breed.name))
    }
    out = []
    vectors = scores.averaged(rows)
    for r, vector in zip(rows, vectors, strict=True):
        image_id = int(scores.image_ids[r])
        label = scores.breed_of[image_id]
        best = np.argsort(-vector, kind="stable")[:TOP_PREDICTED]
        top = tuple(
            PredictedBreed(b, *breeds.get(b, ("?", "?")), float(vector[c]))
            for c in best
            for b in [scores.breeds[int(c)]]
        )
        check = kept.get(image_id)
        out.append(
            Suspect(
                image_id=image_id,
                sha256=shas.get(image_id, ""),
                breed_id=label,
                breed_slug=breeds.get(label, ("?", "?"))[0],
                breed_name=breeds.get(label, ("?", "?"))[1],
                score=float(scores.score[r]),
                label_probability=float(scores.quality[r]),
                votes=int(scores.votes[r]),
                versions=int(scores.versions[r]),
                top=top,
                kept_score=check[1] if check and check[0] == label else None,
            )
        )
    return out


# --- acting on a suspect ------------------------------------------------------------------------


def send_back_suspects(
    session: Session, reviewer: str, count: int, *, model: str | None = None
) -> list[int]:
    """Return the top ``count`` suspects to the review queue (a ``reset`` decision each, reason
    "suspected label error"), in one transaction; their ids, most suspect first."""
    if count < 1:
        raise BreedbenchError("--send-back must be at least 1")
    reviewer = clean_reviewer(reviewer)
    found = rank_suspects(session, model=model, limit=count).suspects
    for s in found:
        send_back(session, s.image_id, reviewer)
    return [s.image_id for s in found]


def _accepted(session: Session, image_id: int) -> Image:
    """The image, which must still be accepted: a suspect another reviewer has meanwhile sent
    back or rejected is not acted on twice."""
    image = session.get(Image, image_id)
    if image is None:
        raise BreedbenchError(f"no image with id {image_id}")
    if image.status != ImageStatus.ACCEPTED:
        raise BreedbenchError(f"image {image_id} is {image.status.value} now, not accepted")
    return image


def send_back(session: Session, image_id: int, reviewer: str) -> str:
    """One suspect back to the queue, marked as a suspected label error; its new status."""
    _accepted(session, image_id)
    return send_back_to_review(session, image_id, reviewer, reason=SUSPECT_REASON)


def keep_label(session: Session, image_id: int, reviewer: str, score: float) -> None:
    """The reviewer looked and the label is right: hide the image until its score rises."""
    reviewer = clean_reviewer(reviewer)
    image = _accepted(session, image_id)
    if not 0.0 <= score <= 1.0:
        raise BreedbenchError(f"a suspicion score lies between 0 and 1, not {score}")
    session.add(
        LabelCheck(image_id=image_id, breed_id=image.breed_id, score=score, reviewer=reviewer)
    )
    session.flush()


def relabel_suspect(
    session: Session, image_id: int, reviewer: str, breed_id: int, *, min_reviews: int = 1
) -> DecisionResult:
    """Relabel a suspect to the breed the models predict: a ``relabel`` decision, reason
    "suspected label error" (``review.quality`` counts it against the image's earlier votes)."""
    _accepted(session, image_id)
    return decide(
        session,
        image_id,
        reviewer,
        Decision.RELABEL,
        reason=SUSPECT_REASON,
        target_breed_id=breed_id,
        min_reviews=min_reviews,
    )


# --- reference pictures -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Reference:
    image_id: int
    sha256: str


def reference_images(
    session: Session, breed_id: int, *, limit: int = REFERENCES, exclude: Sequence[int] = ()
) -> list[Reference]:
    """Accepted images of a breed (oldest first), to compare a suspect with: what the breed
    looks like in this set."""
    stmt = (
        select(Image.id, Image.sha256)
        .where(Image.breed_id == breed_id, Image.status == ImageStatus.ACCEPTED)
        .order_by(Image.id)
        .limit(limit + len(exclude))
    )
    skip = set(exclude)
    return [Reference(i, sha) for i, sha in session.execute(stmt) if i not in skip][:limit]
