"""Two runs side by side, on the images both saw: deltas and McNemar's exact test.

McNemar looks only at the discordant images (right in one run, wrong in the other): with ``b``
fixed and ``c`` broken, the two-sided exact p-value is that of ``b`` successes in ``b + c`` fair
coin flips. It answers "is the difference in top-1 more than chance on these images?", which a
difference of two rates with overlapping intervals cannot.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from db.models import Breed, Prediction
from evaluator.results import RunSummary, get_run


@dataclass(frozen=True)
class ImageChange:
    image_id: int
    true_slug: str
    rank_a: int | None
    rank_b: int | None
    predicted_a: str | None  # slug of the top-1
    predicted_b: str | None


@dataclass(frozen=True)
class BreedDelta:
    breed_id: int
    slug: str
    name: str
    n: int  # shared images of this breed
    top1_a: float
    top1_b: float

    @property
    def delta(self) -> float:
        return self.top1_b - self.top1_a


@dataclass(frozen=True)
class Comparison:
    run_a: RunSummary
    run_b: RunSummary
    shared: int
    only_a: int
    only_b: int
    same_dataset: bool
    top1_a: float  # on the shared images
    top1_b: float
    top5_a: float
    top5_b: float
    fixed: list[ImageChange]  # wrong (top-1) in A, right in B
    broken: list[ImageChange]  # right in A, wrong in B
    p_value: float  # McNemar's exact test on top-1
    per_breed: list[BreedDelta]  # largest drop first
    # k → (images right within the top-k in A, in B), on the shared images: counts, so a
    # report can give each rate its interval
    correct: dict[int, tuple[int, int]] = field(default_factory=dict)
    # Each run's crop settings (evaluate --crop), None for a run classified uncropped.
    crop_a: dict[str, Any] | None = None
    crop_b: dict[str, Any] | None = None

    @property
    def delta_top1(self) -> float:
        return self.top1_b - self.top1_a

    @property
    def delta_top5(self) -> float:
        return self.top5_b - self.top5_a


def mcnemar_exact(fixed: int, broken: int) -> float:
    """Two-sided exact McNemar p-value; 1.0 when no image changed."""
    from scipy.stats import binomtest

    if fixed + broken == 0:
        return 1.0
    return float(binomtest(fixed, fixed + broken, 0.5).pvalue)


def _preds(session: Session, run_id: int) -> dict[int, tuple[int, int | None, int | None]]:
    rows = session.execute(
        select(
            Prediction.image_id, Prediction.true_breed_id, Prediction.rank, Prediction.top5
        ).where(Prediction.run_id == run_id)
    ).all()
    return {i: (t, r, int(top5[0][0]) if top5 else None) for i, t, r, top5 in rows}


def compare_runs(session: Session, run_a: int, run_b: int) -> Comparison:
    """Compare run B against run A (A is the reference: "fixed" means B got it right)."""
    detail_a, detail_b = get_run(session, run_a), get_run(session, run_b)
    a, b = detail_a.summary, detail_b.summary
    pa, pb = _preds(session, run_a), _preds(session, run_b)
    shared = sorted(set(pa) & set(pb))
    breeds = session.execute(select(Breed.id, Breed.slug, Breed.name)).all()
    slugs = {bid: slug for bid, slug, _ in breeds}
    names = {bid: name for bid, _, name in breeds}

    def change(i: int) -> ImageChange:
        t, ra, ta = pa[i]
        _, rb, tb = pb[i]
        return ImageChange(i, slugs[t], ra, rb, slugs.get(ta), slugs.get(tb))

    fixed = [change(i) for i in shared if pa[i][1] != 1 and pb[i][1] == 1]
    broken = [change(i) for i in shared if pa[i][1] == 1 and pb[i][1] != 1]
    n = len(shared)

    def count(p: dict[int, tuple[int, int | None, int | None]], k: int) -> int:
        return sum(1 for i in shared if p[i][1] is not None and p[i][1] <= k)

    def rate(p: dict[int, tuple[int, int | None, int | None]], k: int) -> float:
        return count(p, k) / n if n else 0.0

    per: dict[int, list[int]] = {}
    for i in shared:
        counts = per.setdefault(pa[i][0], [0, 0, 0])
        counts[0] += 1
        counts[1] += pa[i][1] == 1
        counts[2] += pb[i][1] == 1
    per_breed = sorted(
        (
            BreedDelta(bid, slugs[bid], names[bid], c[0], c[1] / c[0], c[2] / c[0])
            for bid, c in per.items()
        ),
        key=lambda d: (d.delta, d.slug),
    )
    return Comparison(
        run_a=a,
        run_b=b,
        shared=n,
        only_a=len(pa) - n,
        only_b=len(pb) - n,
        same_dataset=a.dataset_hash is not None and a.dataset_hash == b.dataset_hash,
        top1_a=rate(pa, 1),
        top1_b=rate(pb, 1),
        top5_a=rate(pa, 5),
        top5_b=rate(pb, 5),
        fixed=fixed,
        broken=broken,
        p_value=mcnemar_exact(len(fixed), len(broken)),
        per_breed=per_breed,
        correct={k: (count(pa, k), count(pb, k)) for k in (1, 3, 5)},
        crop_a=detail_a.settings.get("crop"),
        crop_b=detail_b.settings.get("crop"),
    )


def crop_verdict(c: Comparison, alpha: float = 0.05) -> str | None:
    """Answers "did the crop help?" when one run is the other's version cropped by a detector (the
    other uncropped): the answer from the discordant images, by McNemar's test. None for any
    other pair of runs."""
    if c.run_a.version_id != c.run_b.version_id or (c.crop_a is None) == (c.crop_b is None):
        return None
    crop = c.crop_a or c.crop_b or {}
    # Fixed/broken are B against A; said here as cropped against uncropped.
    helped, hurt = (len(c.fixed), len(c.broken)) if c.crop_b else (len(c.broken), len(c.fixed))
    delta = c.delta_top1 if c.crop_b else -c.delta_top1
    if c.p_value >= alpha:
        answer = "no difference beyond chance"
    else:
        answer = "yes" if helped > hurt else "no, it hurt"
    return (
        f"Did the crop help? {answer}: cropping by {crop.get('detector')} (margin "
        f"{crop.get('margin')}, {crop.get('policy')} box) changed top-1 by "
        f"{100 * delta:+.1f} points; {helped} images right only when cropped, {hurt} only "
        f"when whole, McNemar p = {c.p_value:.4g}."
    )
