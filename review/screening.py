"""What a screening model said about pending images, as the review queue uses it: to order and
to mark, never to decide.

``breedbench screen`` (``evaluator.screening``) stores one row per image and screening run; the
newest row of an image counts. Its *support* is the model's probability of the claimed breed
(its dog score when the model has no class for that breed): "most doubtful first" is lowest
support first, so pictures the model calls no dog, or another breed, come up first. Images
never screened come after the screened ones in both screening orders.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

from sqlalchemy import BigInteger, case, func, literal, select
from sqlalchemy.orm import Session

from core.chunks import id_chunks
from core.errors import BreedbenchError
from db.models import (
    LIKELY_NOT_A_DOG,
    Breed,
    Image,
    Model,
    ModelVersion,
    Screening,
    ScreeningRun,
)

QueueOrder = Literal["crawl", "doubtful", "confident", "random"]
ScreenFilter = Literal["not_a_dog", "disagrees"]

ORDERS: dict[str, str] = {
    "crawl": "Crawl order (breed by breed)",
    "doubtful": "Most doubtful first",
    "confident": "Most confident first",
    "random": "Random",
}
FILTERS: dict[str, str] = {
    "not_a_dog": "Likely not a dog",
    "disagrees": "Model disagrees",
}

# Random order, stable per reviewer: two rounds of (x × a multiplier + an offset) mod a prime,
# multipliers and offsets drawn from the reviewer's name; integer arithmetic both databases do
# the same way (no seeded RANDOM() in SQL), below 2**62 for any image id under 2**31.
_MODULUS = 2_147_483_647


@dataclass(frozen=True, slots=True)
class ScreeningMark:
    """The badge beside an image: what the newest screening said."""

    model: str  # NAME:VERSION of the screening model
    dog_score: float
    claimed_score: float | None
    top3: tuple[tuple[str, float], ...]  # breed names and probabilities
    agrees: bool | None

    @property
    def likely_not_a_dog(self) -> bool:
        return self.dog_score < LIKELY_NOT_A_DOG

    @property
    def badge(self) -> str:
        """One short line: the mark first, then the numbers."""
        if self.likely_not_a_dog:
            mark = "likely not a dog"
        elif self.agrees is False:
            mark = "model disagrees"
        elif self.agrees:
            mark = "model agrees"
        else:
            mark = "breed unknown to the model"
        return f"{mark} · dog {self.dog_score:.2f}"

    @property
    def top3_label(self) -> str:
        return ", ".join(f"{name} {p:.2f}" for name, p in self.top3)


def check_order(order: str) -> None:
    if order not in ORDERS:
        raise BreedbenchError(f"unknown order {order!r}: one of {', '.join(ORDERS)}")


def check_filter(only: str | None) -> None:
    if only is not None and only not in FILTERS:
        raise BreedbenchError(f"unknown filter {only!r}: one of {', '.join(FILTERS)}")


def newest_screenings():  # type: ignore[no-untyped-def]
    """Subquery: the newest screening row of every screened image."""
    newest = select(func.max(Screening.id)).group_by(Screening.image_id)
    return (
        select(
            Screening.image_id,
            Screening.dog_score,
            Screening.agrees,
            func.coalesce(Screening.claimed_score, Screening.dog_score).label("support"),
        )
        .where(Screening.id.in_(newest))
        .subquery("screened")
    )


def reviewer_seeds(reviewer: str) -> tuple[int, int, int, int]:
    """Two multipliers (1 … prime − 1) and two offsets, the same for a reviewer every time."""
    digest = hashlib.sha256(reviewer.encode("utf-8")).digest()
    a, b, c, d = (int.from_bytes(digest[i : i + 4], "big") for i in range(0, 16, 4))
    return a % (_MODULUS - 1) + 1, b % _MODULUS, c % (_MODULUS - 1) + 1, d % _MODULUS


def apply_order(stmt: Any, order: str, reviewer: str, only: str | None) -> Any:
    """``stmt`` (a select over ``Image``) filtered by ``only`` and ordered by ``order``."""
    check_order(order)
    check_filter(only)
    if order in ("doubtful", "confident") or only is not None:
        screened = newest_screenings()
        join = stmt.outerjoin if only is None else stmt.join
        stmt = join(screened, screened.c.image_id == Image.id)
        if only == "not_a_dog":
            stmt = stmt.where(screened.c.dog_score < LIKELY_NOT_A_DOG)
        elif only == "disagrees":
            stmt = stmt.where(screened.c.agrees.is_(False))
        unscreened_last = case((screened.c.support.is_(None), 1), else_=0)
        if order == "doubtful":
            return stmt.order_by(unscreened_last, screened.c.support, Image.id)
        if order == "confident":
            return stmt.order_by(unscreened_last, screened.c.support.desc(), Image.id)
    if order == "random":
        k1, c1, k2, c2 = (literal(v, BigInteger) for v in reviewer_seeds(reviewer))
        mixed = (((Image.id * k1 + c1) % _MODULUS) * k2 + c2) % _MODULUS
        return stmt.order_by(mixed, Image.id)
    return stmt.order_by(Image.breed_id, Image.id)


def marks_for(session: Session, image_ids: Sequence[int]) -> dict[int, ScreeningMark]:
    """The newest screening of each of these images (one indexed query and the names)."""
    if not image_ids:
        return {}
    rows = session.execute(
        select(Screening, Model.name, ModelVersion.version)
        .join(ScreeningRun, ScreeningRun.id == Screening.run_id)
        .join(ModelVersion, ModelVersion.id == ScreeningRun.model_version_id)
        .join(Model, Model.id == ModelVersion.model_id)
        .where(Screening.image_id.in_(list(image_ids)))
        .order_by(Screening.image_id, Screening.id)
    ).all()
    newest = {row[0].image_id: row for row in rows}  # the last row of each image is the newest
    breed_ids = {int(b) for row in newest.values() for b, _ in (row[0].top3 or [])}
    names = (
        dict(session.execute(select(Breed.id, Breed.name).where(Breed.id.in_(breed_ids))).all())
        if breed_ids
        else {}
    )
    return {
        image_id: ScreeningMark(
            model=f"{name}:{version}",
            dog_score=sc.dog_score,
            claimed_score=sc.claimed_score,
            top3=tuple((names.get(int(b), f"#{b}"), float(p)) for b, p in (sc.top3 or [])),
            agrees=sc.agrees,
        )
        for image_id, (sc, name, version) in newest.items()
    }


@dataclass(frozen=True, slots=True)
class ScreenedBy:
    model: str  # NAME:VERSION
    images: int  # how many of the images it screened


def screened_by(session: Session, image_ids: Sequence[int]) -> list[ScreenedBy]:
    """Which versions screened any of these images, and how many of them (for the datasheet)."""
    counts: dict[str, int] = {}
    for chunk in id_chunks(sorted(set(image_ids))):
        rows = session.execute(
            select(Model.name, ModelVersion.version, func.count(func.distinct(Screening.image_id)))
            .join(ScreeningRun, ScreeningRun.id == Screening.run_id)
            .join(ModelVersion, ModelVersion.id == ScreeningRun.model_version_id)
            .join(Model, Model.id == ModelVersion.model_id)
            .where(Screening.image_id.in_(chunk))
            .group_by(Model.name, ModelVersion.version)
        )
        for name, version, n in rows:
            counts[f"{name}:{version}"] = counts.get(f"{name}:{version}", 0) + n
    return [ScreenedBy(m, n) for m, n in sorted(counts.items())]
