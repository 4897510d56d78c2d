"""Reviewer quality, from the append-only review history: how much, how fast, how often
overturned, and how well reviewers agree with each other.

* **decisions**: accept, reject, relabel and skip rows (undo and reset rows are not decisions);
  **votes** are the accepts, rejects and relabels.
* **pace**: the median number of seconds between a reviewer's consecutive decisions within a
  sitting; a pause longer than ``SITTING_GAP_SECONDS`` starts a new sitting (lunch is not pace).
* **overturned**: a vote is overturned when it was *undone* (by anyone), when a later *suspect
  relabel* (``review.suspects``, reason "suspected label error") moved the image to another
  breed, or else when the image is settled (accepted or rejected) with another outcome than the
  vote — *overruled*, by consensus or by a later decision. A reviewer's own later vote on the
  same image replaces their earlier one, which then counts neither way. A vote's outcome is
  ``reject``, or a breed: ``accept`` is the breed the image was found for (as in consensus,
  ``db.reviews.vote_option``), ``relabel`` its target.
* **agreement**: for each pair of reviewers, the images both voted on (each one's latest vote not
  undone), the share they agree on, and Cohen's kappa — agreement corrected for chance:
  ``κ = (p_o − p_e) / (1 − p_e)``, ``p_o`` the observed agreement, ``p_e = Σ_k p_a(k)·p_b(k)``
  the agreement expected from each reviewer's own rates of each outcome.
"""

from __future__ import annotations

import statistics
from collections import Counter, defaultdict
from collections.abc import Hashable, Sequence
from dataclasses import dataclass
from datetime import datetime
from itertools import combinations

from sqlalchemy import select
from sqlalchemy.orm import Session

from db.models import Decision, Image, ImageStatus, Review
from review.suspects import SUSPECT_REASON

SITTING_GAP_SECONDS = 600.0
REJECTED = -1  # the outcome "reject"; any other outcome is a breed id
DECISIONS = (Decision.ACCEPT, Decision.REJECT, Decision.RELABEL, Decision.SKIP)
VOTES = (Decision.ACCEPT, Decision.REJECT, Decision.RELABEL)


@dataclass(frozen=True, slots=True)
class ReviewerQuality:
    reviewer: str
    decisions: int
    votes: int
    accepts: int
    rejects: int
    relabels: int
    skips: int
    sittings: int
    median_seconds: float | None  # None: fewer than two decisions in any sitting
    undone: int
    overruled: int
    suspect_relabelled: int

    @property
    def overturned(self) -> int:
        return self.undone + self.overruled + self.suspect_relabelled

    @property
    def overturned_rate(self) -> float | None:
        return self.overturned / self.votes if self.votes else None


@dataclass(frozen=True, slots=True)
class PairAgreement:
    a: str
    b: str
    shared: int  # images both voted on
    agreed: int
    kappa: float | None  # None: undefined (both gave one and the same outcome throughout)

    @property
    def agreement(self) -> float:
        return self.agreed / self.shared if self.shared else 0.0


@dataclass(frozen=True, slots=True)
class QualityReport:
    reviewers: list[ReviewerQuality]
    pairs: list[PairAgreement]


def cohen_kappa(a: Sequence[Hashable], b: Sequence[Hashable]) -> float | None:
    """Cohen's kappa of two raters' labels of the same items (``None`` when it is undefined:
    no items, or chance agreement is certain because both used one and the same label)."""
    if len(a) != len(b):
        raise ValueError("both raters must label the same items")
    n = len(a)
    if n == 0:
        return None
    observed = sum(x == y for x, y in zip(a, b, strict=True)) / n
    count_a, count_b = Counter(a), Counter(b)
    expected = sum(count_a[k] * count_b[k] for k in count_a) / (n * n)
    if expected >= 1.0:
        return None
    return (observed - expected) / (1.0 - expected)


def pace(times: Sequence[datetime], gap: float = SITTING_GAP_SECONDS) -> tuple[int, float | None]:
    """(sittings, median seconds between consecutive decisions within a sitting)."""
    ordered = sorted(times)
    if not ordered:
        return 0, None
    steps = [(b - a).total_seconds() for a, b in zip(ordered, ordered[1:], strict=False)]
    within = [s for s in steps if s <= gap]
    sittings = 1 + sum(s > gap for s in steps)
    return sittings, (statistics.median(within) if within else None)


def reviewer_quality(session: Session) -> QualityReport:
    """Every reviewer's figures and every pair's agreement, from the whole history."""
    images = {
        i: (status, breed, found)
        for i, status, breed, found in session.execute(
            select(Image.id, Image.status, Image.breed_id, Image.found_breed_id)
        )
    }
    history: dict[int, list[Review]] = defaultdict(list)
    for r in session.scalars(select(Review).order_by(Review.id)):
        history[r.image_id].append(r)

    counts: dict[str, Counter[str]] = defaultdict(Counter)
    times: dict[str, list[datetime]] = defaultdict(list)
    final_votes: dict[str, dict[int, int]] = defaultdict(dict)  # reviewer → image → outcome
    for image_id, rows in history.items():
        status, breed, found = images[image_id]
        undone = {r.undoes_id for r in rows if r.decision == Decision.UNDO}
        settled = _outcome(status, breed)
        latest: dict[str, Review] = {}
        for r in rows:
            if r.decision not in DECISIONS:
                continue
            counts[r.reviewer][r.decision.value] += 1
            times[r.reviewer].append(r.created_at)
            if r.decision not in VOTES:
                continue
            if r.id in undone:
                counts[r.reviewer]["undone"] += 1
                continue
            latest[r.reviewer] = r
        for reviewer, vote in latest.items():
            option = _vote(vote, found)
            final_votes[reviewer][image_id] = option
            if _suspect_relabel_after(rows, vote, option, undone):
                counts[reviewer]["suspect_relabelled"] += 1
            elif settled is not None and settled != option:
                counts[reviewer]["overruled"] += 1

    reviewers = []
    for name in sorted(counts):
        c = counts[name]
        sittings, median = pace(times[name])
        votes = c["accept"] + c["reject"] + c["relabel"]
        reviewers.append(
            ReviewerQuality(
                reviewer=name,
                decisions=votes + c["skip"],
                votes=votes,
                accepts=c["accept"],
                rejects=c["reject"],
                relabels=c["relabel"],
                skips=c["skip"],
                sittings=sittings,
                median_seconds=median,
                undone=c["undone"],
                overruled=c["overruled"],
                suspect_relabelled=c["suspect_relabelled"],
            )
        )
    return QualityReport(reviewers, _pairs(final_votes))


def _outcome(status: ImageStatus, breed: int) -> int | None:
    if status == ImageStatus.REJECTED:
        return REJECTED
    if status == ImageStatus.ACCEPTED:
        return breed
    return None  # pending: not settled, nothing is overturned yet


def _vote(r: Review, found_breed: int) -> int:
    if r.decision == Decision.REJECT:
        return REJECTED
    if r.decision == Decision.RELABEL and r.target_breed_id is not None:
        return r.target_breed_id
    return found_breed


def _suspect_relabel_after(
    rows: Sequence[Review], vote: Review, option: int, undone: set[int | None]
) -> bool:
    """A later relabel from the suspects page, not undone, to another breed than the vote's."""
    return any(
        r.id > vote.id
        and r.decision == Decision.RELABEL
        and r.reason == SUSPECT_REASON
        and r.id not in undone
        and r.target_breed_id != option
        for r in rows
    )


def _pairs(final_votes: dict[str, dict[int, int]]) -> list[PairAgreement]:
    pairs = []
    for a, b in combinations(sorted(final_votes), 2):
        shared = sorted(final_votes[a].keys() & final_votes[b].keys())
        if not shared:
            continue
        va = [final_votes[a][i] for i in shared]
        vb = [final_votes[b][i] for i in shared]
        agreed = sum(x == y for x, y in zip(va, vb, strict=True))
        pairs.append(PairAgreement(a, b, len(shared), agreed, cohen_kappa(va, vb)))
    return pairs
