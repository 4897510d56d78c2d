"""Reference pictures: what the claimed breed looks like, and what it is easily taken for.

Beside a candidate the reviewer sees up to ``own`` accepted images of its breed (the pinned
canonical references first) and a strip for the breeds most often confused with it: from the
confusions of the latest evaluation runs (the newest finished run of each of the most recently
evaluated versions), or, before any run has recorded one for the breed, from a small built-in
list of look-alike breeds (``lookalikes.json``, by Stanford slug). Only accepted images are
shown: a reference nobody verified would teach the wrong breed.

Speed matters, because the strip is drawn with every image of the queue: a strip is a handful
of indexed queries; the confusion counts (the only scan, over the misses of a few runs) are
kept per set of runs for the life of the process, and strips are kept per breed for the life of
the database session (one app rerun). A strip is three queries: the breeds, the latest runs, and
the pictures of the breed and its look-alike candidates numbered per breed in one statement.
"""

from __future__ import annotations

import json
import threading
from collections import Counter
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from pathlib import Path
from typing import Any

from sqlalchemy import and_, case, func, or_, select
from sqlalchemy.orm import Session, aliased

from core.errors import BreedbenchError
from db.models import Breed, EvalRun, Image, ImageStatus, Prediction, ReferencePin, RunStatus

MAX_PINS = 6  # a few canonical pictures; more would push the unpinned ones off the strip
LATEST_VERSIONS = 3  # confusions come from the newest run of this many versions
LOOKALIKES_FILE = Path(__file__).with_name("lookalikes.json")
_STRIPS_KEY = "review.references.strips"


@dataclass(frozen=True, slots=True)
class ReferenceImage:
    image_id: int
    breed_id: int
    pinned: bool
    sha256: str  # for the thumbnail (``review.images.thumbnail``)


@dataclass(frozen=True, slots=True)
class LookalikeBreed:
    breed_id: int
    slug: str
    name: str
    images: list[ReferenceImage]


@dataclass(frozen=True, slots=True)
class ReferenceStrip:
    own: list[ReferenceImage]
    lookalikes: list[LookalikeBreed]
    lookalike_source: str = "none"  # "confusions" | "built-in" | "none"


@dataclass(frozen=True, slots=True)
class PinnedReference:
    image_id: int
    pinned_by: str
    pinned_at: datetime
    shown: bool  # still accepted and of this breed (else kept, but not shown)


# --- the strip ----------------------------------------------------------------------------------


def reference_strip(
    session: Session, breed_id: int, *, own: int = 6, lookalikes: int = 3, per_lookalike: int = 3
) -> ReferenceStrip:
    """The breed's reference pictures and its look-alikes' (kept for this session)."""
    strips = session.info.setdefault(_STRIPS_KEY, {})
    key = (breed_id, own, lookalikes, per_lookalike)
    if key not in strips:
        strips[key] = _build_strip(session, breed_id, own, lookalikes, per_lookalike)
    return strips[key]


def forget_strips(session: Session) -> None:
    """Drop the strips kept in this session (after a pin, an accept, ...)."""
    session.info.pop(_STRIPS_KEY, None)


def _build_strip(
    session: Session, breed_id: int, own: int, lookalikes: int, per_lookalike: int
) -> ReferenceStrip:
    """Three queries in all: the breeds, the latest runs, and the pictures of the breed and of
    a few look-alike candidates at once (some may have nothing accepted: a few spare)."""
    breeds = {b.id: b for b in session.execute(select(Breed.id, Breed.slug, Breed.name))}
    candidates, source = lookalike_candidates(session, breed_id, breeds)
    pool = candidates[: lookalikes + 3] if lookalikes > 0 and per_lookalike > 0 else []
    pictures = _references(session, {breed_id: own, **dict.fromkeys(pool, per_lookalike)})
    found: list[LookalikeBreed] = []
    for other in pool:
        if len(found) < lookalikes and pictures.get(other):  # nothing accepted: not shown
            row = breeds[other]
            found.append(LookalikeBreed(other, row.slug, row.name, pictures[other]))
    return ReferenceStrip(pictures.get(breed_id, []), found, source if found else "none")


def breed_references(session: Session, breed_id: int, limit: int) -> list[ReferenceImage]:
    """Up to ``limit`` accepted images of the breed: its pins first, then the oldest."""
    return _references(session, {breed_id: limit}).get(breed_id, [])


def _references(session: Session, limits: dict[int, int]) -> dict[int, list[ReferenceImage]]:
    """For each breed, up to its limit of accepted images, pins first (in pin order), then by
    id: one query, numbered per breed by the database."""
    wanted = {b: n for b, n in limits.items() if n > 0}
    if not wanted:
        return {}
    pin = aliased(ReferencePin)
    unpinned_last = case((pin.id.is_(None), 1), else_=0)
    ranked = (
        select(
            Image.id,
            Image.sha256,
            Image.breed_id,
            pin.id.label("pin_id"),
            func.row_number()
            .over(partition_by=Image.breed_id, order_by=(unpinned_last, pin.id, Image.id))
            .label("n"),
        )
        .outerjoin(pin, and_(pin.image_id == Image.id, pin.breed_id == Image.breed_id))
        .where(Image.breed_id.in_(list(wanted)), Image.status == ImageStatus.ACCEPTED)
        .subquery()
    )
    rows = session.execute(
        select(ranked.c.id, ranked.c.sha256, ranked.c.breed_id, ranked.c.pin_id)
        .where(ranked.c.n <= max(wanted.values()))
        .order_by(ranked.c.breed_id, ranked.c.n)
    )
    out: dict[int, list[ReferenceImage]] = {}
    for image_id, sha, breed, pin_id in rows:
        found = out.setdefault(breed, [])
        if len(found) < wanted[breed]:
            found.append(ReferenceImage(image_id, breed, pin_id is not None, sha))
    return out


def lookalike_candidates(
    session: Session, breed_id: int, breeds: dict[int, Any] | None = None
) -> tuple[list[int], str]:
    """Breeds to show beside this one, most confused first, and where they come from:
    ``confusions`` of the latest runs, else the ``built-in`` list, else ``none``."""
    runs = latest_run_ids(session)
    if runs:
        counts = _confusions(str(session.get_bind().engine.url), tuple(runs), session)
        mine = counts.get(breed_id)
        if mine:
            ranked = sorted(mine.items(), key=lambda kv: (-kv[1], kv[0]))
            return [b for b, _ in ranked], "confusions"
    if breeds is None:
        breeds = {b.id: b for b in session.execute(select(Breed.id, Breed.slug))}
    by_slug = {b.slug: b.id for b in breeds.values()}
    me = breeds.get(breed_id)
    builtin = builtin_lookalikes().get(me.slug if me is not None else "", [])
    ids = [by_slug[s] for s in builtin if s in by_slug]
    return (ids, "built-in") if ids else ([], "none")


def latest_run_ids(session: Session) -> list[int]:
    """The newest finished evaluation run of each of the most recently evaluated versions."""
    rows = session.execute(
        select(EvalRun.id, EvalRun.model_version_id)
        .where(EvalRun.status == RunStatus.FINISHED)
        .order_by(EvalRun.started_at.desc(), EvalRun.id.desc())
        .limit(50)
    ).all()
    newest: dict[int, int] = {}
    for run_id, version_id in rows:
        if version_id not in newest:
            newest[version_id] = run_id
        if len(newest) >= LATEST_VERSIONS:
            break
    return sorted(newest.values())


_CONFUSIONS: dict[tuple[str, tuple[int, ...]], dict[int, Counter[int]]] = {}
_CONFUSIONS_LOCK = threading.Lock()


def _confusions(url: str, runs: tuple[int, ...], session: Session) -> dict[int, Counter[int]]:
    """Breed → how often it and each other breed were taken for one another (both ways) in
    these runs. A finished run never changes, so the counts are kept per set of runs."""
    key = (url, runs)
    with _CONFUSIONS_LOCK:
        if key in _CONFUSIONS:
            return _CONFUSIONS[key]
    counts: dict[int, Counter[int]] = {}
    rows = session.execute(
        select(Prediction.true_breed_id, Prediction.top5).where(
            Prediction.run_id.in_(list(runs)),
            or_(Prediction.rank.is_(None), Prediction.rank != 1),
        )
    )
    for true_id, top5 in rows:
        if not top5:
            continue
        predicted = int(top5[0][0])
        if predicted == true_id:
            continue
        counts.setdefault(true_id, Counter())[predicted] += 1
        counts.setdefault(predicted, Counter())[true_id] += 1
    with _CONFUSIONS_LOCK:
        if len(_CONFUSIONS) > 64:  # old sets of runs: a new run replaces them
            _CONFUSIONS.clear()
        _CONFUSIONS[key] = counts
    return counts


@cache
def builtin_lookalikes() -> dict[str, list[str]]:
    """Slug → its look-alikes' slugs, from ``lookalikes.json`` (the other breeds of its groups,
    in the order listed)."""
    groups = json.loads(LOOKALIKES_FILE.read_text(encoding="utf-8"))["groups"]
    out: dict[str, list[str]] = {}
    for group in groups:
        for slug in group:
            seen = out.setdefault(slug, [])
            seen.extend(s for s in group if s != slug and s not in seen)
    return out


# --- pins ---------------------------------------------------------------------------------------


def pin_reference(session: Session, breed_id: int, image_id: int, reviewer: str) -> None:
    """Make an accepted image of the breed one of its canonical references."""
    image = session.get(Image, image_id)
    if image is None:
        raise BreedbenchError(f"no image #{image_id}")
    if image.breed_id != breed_id:
        raise BreedbenchError(f"image #{image_id} is not of this breed: it cannot be its reference")
    if image.status != ImageStatus.ACCEPTED:
        raise BreedbenchError(
            f"image #{image_id} is {image.status.value}, not accepted: "
            "only accepted images can be references"
        )
    pins = session.scalars(
        select(ReferencePin.image_id).where(ReferencePin.breed_id == breed_id)
    ).all()
    if image_id in pins:
        return
    shown = [p for p in pinned_references(session, breed_id) if p.shown]
    if len(shown) >= MAX_PINS:
        raise BreedbenchError(
            f"the breed already has {MAX_PINS} pinned references: unpin one first"
        )
    session.add(ReferencePin(breed_id=breed_id, image_id=image_id, pinned_by=reviewer))
    session.flush()
    forget_strips(session)


def unpin_reference(session: Session, breed_id: int, image_id: int) -> None:
    pin = session.scalar(
        select(ReferencePin).where(
            ReferencePin.breed_id == breed_id, ReferencePin.image_id == image_id
        )
    )
    if pin is None:
        raise BreedbenchError(f"image #{image_id} is not pinned for this breed")
    session.delete(pin)
    session.flush()
    forget_strips(session)


def pinned_references(session: Session, breed_id: int) -> list[PinnedReference]:
    """Every pin of the breed, oldest first, and whether it is still shown."""
    rows = session.execute(
        select(ReferencePin, Image.breed_id, Image.status)
        .join(Image, Image.id == ReferencePin.image_id)
        .where(ReferencePin.breed_id == breed_id)
        .order_by(ReferencePin.id)
    ).all()
    return [
        PinnedReference(
            pin.image_id,
            pin.pinned_by,
            pin.pinned_at,
            shown=image_breed == breed_id and status == ImageStatus.ACCEPTED,
        )
        for pin, image_breed, status in rows
    ]
