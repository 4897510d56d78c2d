"""The queue as the reviewer's browser holds it: a window of the next images, and the decisions
it sends back in batches.

The browser shows the next image the moment a key is pressed and sends the decision in the
background, so the server's work is (1) applying a batch of decisions the browser made, each
exactly once, in order, and acknowledging each, and (2) refilling the window with the next
candidates, leased to this reviewer so another reviewer is not handed them at the same time.

Every decision goes through ``review.decisions`` (``decide`` / ``undo_last``), as the buttons
did: same checks, same rows, same audit trail. The browser's id of a decision is stored on its
review row (``reviews.client_id``, unique), so a batch sent again after a lost answer or a
server restart is acknowledged without recording anything twice.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, MutableMapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from core.errors import BreedbenchError
from core.text import web_url
from db.database import Database
from db.models import Breed, Decision, Review
from db.store import original_path
from review import leases
from review.decisions import decide, reason_label, undo_last
from review.images import prefetch, review_copy_path
from review.queue import ImageCard, cards_by_id, next_images
from review.references import reference_strip
from review.screening import QueueOrder, ScreenFilter, ScreeningMark
from review.serving import copy_url, thumb_url

WINDOW_SIZE = 12  # images the browser holds ahead of the reviewer
MAX_BATCH = 200  # decisions applied from one message; the rest wait for the next
CLIENT_ID = re.compile(r"[A-Za-z0-9_-]{8,64}")
KINDS = {"accept", "reject", "skip", "relabel", "undo"}

References = Callable[[Session, int], list[dict[str, Any]]]


@dataclass(frozen=True, slots=True)
class ClientDecision:
    """One decision as the browser sends it."""

    client_id: str
    decision: str
    image_id: int | None = None
    reason: str | None = None
    target_breed_id: int | None = None


@dataclass(frozen=True, slots=True)
class Ack:
    """The server's answer to one decision: recorded (now or before), or refused and why."""

    client_id: str
    ok: bool
    message: str
    decision: str = ""
    image_id: int | None = None
    status: str | None = None
    review_id: int | None = None
    duplicate: bool = False

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def parse_batch(raw: object) -> tuple[list[ClientDecision], list[Ack]]:
    """The decisions of a browser message, and a refusal for each malformed one.

    The message is data from the browser: anything but the expected shape is refused with a
    reason (an item without a usable id cannot even be acknowledged, so it is dropped).
    """
    items = raw.get("items") if isinstance(raw, Mapping) else raw
    if not isinstance(items, list):
        return [], []
    good: list[ClientDecision] = []
    refused: list[Ack] = []
    for item in items[:MAX_BATCH]:
        if not isinstance(item, Mapping):
            continue
        cid = item.get("cid")
        if not isinstance(cid, str) or not CLIENT_ID.fullmatch(cid):
            continue
        kind = item.get("decision")
        image_id = _int_or_none(item.get("image_id"))
        target = _int_or_none(item.get("target_breed_id"))
        reason = item.get("reason")
        if kind not in KINDS:
            refused.append(Ack(cid, False, f"unknown decision {str(kind)[:40]!r}"))
        elif kind != "undo" and image_id is None:
            refused.append(Ack(cid, False, "a decision needs an image id"))
        elif reason is not None and not isinstance(reason, str):
            refused.append(Ack(cid, False, "a reject reason must be text"))
        else:
            good.append(ClientDecision(cid, str(kind), image_id, reason, target))
    return good, refused


def _int_or_none(value: object) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.isdigit():
        return int(value)
    return None


def apply_batch(
    db: Database,
    reviewer: str,
    batch: Sequence[ClientDecision],
    *,
    min_reviews: int = 1,
    settled: MutableMapping[str, Ack] | None = None,
) -> list[Ack]:
    """Apply the browser's decisions in order, each in its own transaction; one ack each.

    A decision whose id is already on a review row is acknowledged as it was recorded. One the
    decision rules refuse (an unknown image, a bad reason) is acknowledged as refused, with the
    reason, and not retried. ``settled`` remembers the outcomes that leave no row (refusals,
    "nothing to undo"), so the same message applied again does not, say, undo an older decision.
    """
    settled = settled if settled is not None else {}
    acks: list[Ack] = []
    with db.session() as s:
        recorded = {
            row.client_id: row
            for row in s.scalars(
                select(Review).where(Review.client_id.in_([d.client_id for d in batch]))
            )
        } if batch else {}  # fmt: skip
        known = {cid: _recorded_ack(s, row, duplicate=True) for cid, row in recorded.items()}
    for item in batch:
        if item.client_id in known:
            acks.append(known[item.client_id])
        elif item.client_id in settled:
            acks.append(settled[item.client_id])
        else:
            ack = _apply_one(db, reviewer, item, min_reviews)
            if ack.review_id is None:
                settled[item.client_id] = ack
            known[item.client_id] = ack
            acks.append(ack)
    return acks


def _apply_one(db: Database, reviewer: str, item: ClientDecision, min_reviews: int) -> Ack:
    try:
        with db.session() as s:
            if item.decision == "undo":
                result = undo_last(s, reviewer, min_reviews=min_reviews)
            else:
                assert item.image_id is not None
                result = decide(
                    s,
                    item.image_id,
                    reviewer,
                    item.decision,
                    reason=item.reason,
                    target_breed_id=item.target_breed_id,
                    min_reviews=min_reviews,
                )
            if result is None:
                return Ack(item.client_id, True, "Nothing to undo.", decision="undo")
            row = s.get(Review, result.review_id)
            assert row is not None
            row.client_id = item.client_id
            s.flush()
            if item.image_id is not None and item.decision != "undo":
                leases.release(s, reviewer, [item.image_id])
            return _recorded_ack(s, row)
    except IntegrityError:
        # The same decision arrived twice at once (two reruns, two tabs): the other one won.
        with db.session() as s:
            row = s.scalar(select(Review).where(Review.client_id == item.client_id))
            if row is None:
                raise
            return _recorded_ack(s, row, duplicate=True)
    except BreedbenchError as exc:
        return Ack(item.client_id, False, str(exc), decision=item.decision, image_id=item.image_id)


def _recorded_ack(s: Session, row: Review, *, duplicate: bool = False) -> Ack:
    image = row.image
    decision = str(Decision(row.decision).value)
    what = f"{decision} #{row.image_id}"
    if decision == "relabel":
        breed = s.get(Breed, image.breed_id)
        what += f" → {breed.name} ({breed.slug})" if breed else " → ?"
    elif decision == "reject" and row.reason:
        what += f" ({reason_label(row.reason)})"
    return Ack(
        client_id=str(row.client_id),
        ok=True,
        message=f"{what} · image is now {image.status.value}",
        decision=decision,
        image_id=row.image_id,
        status=str(image.status.value),
        review_id=row.id,
        duplicate=duplicate,
    )


@dataclass
class Window:
    """What the browser is sent: the next candidates, already leased to this reviewer."""

    cards: list[dict[str, Any]] = field(default_factory=list)
    leased: set[int] = field(default_factory=set)


def build_window(
    db: Database,
    reviewer: str,
    *,
    side: int,
    image_url: Callable[[str, int], str],
    size: int = WINDOW_SIZE,
    breed_id: int | None = None,
    front: Sequence[int] = (),
    now: datetime | None = None,
    ttl: timedelta = leases.LEASE_TTL,
    references: References | None = None,
    make_copies: bool = True,
    order: QueueOrder = "crawl",
    only: ScreenFilter | None = None,
) -> Window:
    """The next ``size`` images for ``reviewer``, leased to them, as the browser's payload.

    ``order`` and ``only`` are the screening order and filter (``review.screening``).
    ``front`` are images to show first whatever the order (one an undo brought back). Images
    another reviewer holds are left out; the review copies of the window are made in the
    background (``make_copies``), so they are ready before the browser asks for them.
    """
    now = now or leases.system_clock()
    with db.session() as s:
        taken = leases.leased_to_others(s, reviewer, now=now)
        cards = next_images(
            s, reviewer, limit=size, breed_id=breed_id, exclude=taken, order=order, only=only
        )
        if front:
            ids = {c.id for c in cards}
            cards = cards_by_id(s, [i for i in front if i not in ids]) + cards
        held = leases.acquire(s, reviewer, [c.id for c in cards], now=now, ttl=ttl)
        cards = [c for c in cards if c.id in held or c.id in front]
        payload = [
            card_payload(db, c, side=side, image_url=image_url, session=s, references=references)
            for c in cards
        ]
    if make_copies:
        prefetch(db.store, [c.sha256 for c in cards], side)
    return Window(payload, held)


def card_payload(
    db: Database,
    card: ImageCard,
    *,
    side: int,
    image_url: Callable[[str, int], str],
    session: Session | None = None,
    references: References | None = None,
) -> dict[str, Any]:
    """One candidate as JSON. Every string is data: the browser shows it as text, the only link
    it makes is ``landing_url``, given only when it is an http(s) URL, and the only pictures it
    loads are on this server (``src``, and the references' ``src`` when a local path)."""
    origin = card.provenance
    error = None
    if (
        not db.store.absolute(original_path(card.sha256)).exists()
        and not db.store.absolute(review_copy_path(card.sha256, side)).exists()
    ):
        error = f"image {card.sha256[:12]}… is missing from the store at {db.store.root}"
    refs = references(session, card.breed_id) if references and session is not None else []
    return {
        "id": card.id,
        "src": None if error else image_url(card.sha256, side),
        "error": error,
        "breed_id": card.breed_id,
        "breed_slug": card.breed_slug,
        "breed_name": card.breed_name,
        "query": origin.query or "",
        "source": origin.source or "",
        "landing_url": web_url(origin.landing_url),
        "license": card.license_label,
        "creator": origin.creator or "",
        "size": card.size_label,
        "flags": [flag.replace("_", " ") for flag in card.open_flags],
        "screening": screening_payload(card.screening),
        "references": [
            {
                "src": _local_path(r.get("src")),
                "large": _local_path(r.get("large")),
                "caption": str(r.get("caption") or ""),
                "breed": str(r.get("breed") or ""),
                "lookalike": bool(r.get("lookalike")),
            }
            for r in refs
            if isinstance(r, Mapping)
        ],
    }


def screening_payload(mark: ScreeningMark | None) -> dict[str, str] | None:
    """What a screening model said, as a badge: it marks, the reviewer decides."""
    if mark is None:
        return None
    tone = "not-dog" if mark.likely_not_a_dog else "disagrees" if mark.agrees is False else "info"
    return {
        "badge": mark.badge,
        "detail": f"Screened by {mark.model} · top-3: {mark.top3_label}",
        "tone": tone,
    }


def reference_items(session: Session, breed_id: int, *, side: int) -> list[dict[str, Any]]:
    """The breed's reference pictures (pinned first), then its look-alikes', for the strip under
    the queue's image: stored thumbnails, and the review copy when one is clicked to enlarge.
    ``reference_strip`` keeps each breed's strip for the session, so a window of one breed
    costs its queries once."""
    strip = reference_strip(session, breed_id)
    items: list[dict[str, Any]] = [
        {
            "src": thumb_url(r.sha256),
            "large": copy_url(r.sha256, side),
            "caption": f"#{r.image_id}" + (" · pinned" if r.pinned else ""),
            "breed": "this breed",
            "lookalike": False,
        }
        for r in strip.own
    ]
    for other in strip.lookalikes:
        items += [
            {
                "src": thumb_url(r.sha256),
                "large": copy_url(r.sha256, side),
                "caption": f"#{r.image_id}",
                "breed": other.name,
                "lookalike": True,
            }
            for r in other.images
        ]
    return items


def _local_path(src: object) -> str | None:
    """A reference image on this server (an absolute path, no scheme, no way up). Never another
    host: the reviewer's browser fetches what it is given, and a remote address could track it."""
    if isinstance(src, str) and src.startswith("/") and not src.startswith("//"):
        return None if ".." in src.split("/") else src
    return None


@dataclass
class SentWindow:
    """The window last sent to a browser, so most decisions need no new one: the browser still
    holds enough images, and their leases are fresh."""

    scope: str
    cards: list[dict[str, Any]]
    built_at: datetime


REFILL_BELOW = WINDOW_SIZE // 2  # a new window once the browser holds fewer undecided images
RENEW_AFTER = timedelta(seconds=60)  # well inside the lease: a window is rebuilt (and leases
# renewed) at least this often


def still_enough(
    sent: SentWindow | None, scope: str, acks: Sequence[Ack], *, now: datetime
) -> list[dict[str, Any]] | None:
    """The last window without the images just decided, when it can be sent again as it is;
    None when a new one is needed (another scope, too few left, an undo, old leases)."""
    if sent is None or sent.scope != scope or now - sent.built_at >= RENEW_AFTER:
        return None
    if any(a.decision == "undo" for a in acks):
        return None
    decided = {a.image_id for a in acks if a.ok and a.image_id is not None}
    left = [c for c in sent.cards if c["id"] not in decided]
    return left if len(left) >= REFILL_BELOW else None
