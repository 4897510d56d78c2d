"""Review queue: one large image, its breed and provenance, and keyboard-driven decisions.

The queue itself runs in the browser (``curation_app/queue_component``): it holds the next
images, shows the next one the moment a key is pressed and sends the decisions in the
background. Each run of this page applies the browser's unsent decisions (``review.window``,
each exactly once, by its id) and sends back their acknowledgements with a refilled window.
"""

from __future__ import annotations

from functools import partial
from typing import Any

import streamlit as st
from sqlalchemy.orm import Session

from curation_app import crawl_ui, references_ui, ui
from curation_app.queue_component import mount
from curation_app.state import get_database, get_settings
from review.decisions import REJECT_REASONS, breed_choices
from review.leases import system_clock
from review.queue import has_candidates, pending_count
from review.serving import copy_url
from review.window import (
    WINDOW_SIZE,
    Ack,
    SentWindow,
    apply_batch,
    build_window,
    parse_batch,
    reference_items,
    still_enough,
)

KEY = "review_queue"

db = get_database()
with db.session() as s:
    if not has_candidates(s):  # a new database: how to get candidates, not "nothing left"
        crawl_ui.first_run(db)
        st.stop()
reviewer = ui.require_reviewer()
settings = get_settings()
with db.session() as s:
    breeds = breed_choices(s)
labels = {b.id: b.label for b in breeds}

breed_filter = st.sidebar.selectbox(
    "Review breed", [None, *labels], format_func=lambda i: "All breeds" if i is None else labels[i],
    key="queue_breed",
)  # fmt: skip
order, only = references_ui.order_and_filter(st.sidebar, key="queue")


def _remaining(s: Session, breed_id: int | None) -> int:
    """Images left for this reviewer. Under consensus the exact count reads every pending
    image's votes, so it is recounted every 20 decisions and estimated in between (it is shown
    as progress only)."""
    if settings.min_reviews <= 1 or only is not None:
        return pending_count(s, reviewer, breed_id, min_reviews=settings.min_reviews, only=only)
    decided = st.session_state.get("queue_decided", 0)
    key = f"queue_remaining_{breed_id}"
    cached = st.session_state.get(key)
    if cached is None or decided - cached[1] >= 20:
        cached = (pending_count(s, reviewer, breed_id, min_reviews=settings.min_reviews), decided)
        st.session_state[key] = cached
    return max(0, cached[0] - (decided - cached[1]))


def _apply_outbox() -> list[Ack]:
    """The browser's unsent decisions, applied (a batch seen before is only acknowledged)."""
    state = st.session_state.get(KEY)
    outbox = state.get("outbox") if isinstance(state, dict) else getattr(state, "outbox", None)
    batch, refused = parse_batch(outbox)
    settled: dict[str, Ack] = st.session_state.setdefault("queue_settled", {})
    acks = refused + apply_batch(db, reviewer, batch, min_reviews=settings.min_reviews,
                                 settled=settled)  # fmt: skip
    fresh = [a for a in acks if a.ok and not a.duplicate and a.decision not in ("", "undo")]
    st.session_state["queue_decided"] = st.session_state.get("queue_decided", 0) + len(fresh)
    return acks


@st.fragment
def review_panel() -> None:
    acks = _apply_outbox()
    scope = f"{reviewer}|{breed_filter}|{order}|{only}"
    now = system_clock()
    sent: SentWindow | None = st.session_state.get("queue_window")
    cards = still_enough(sent, scope, acks, now=now)
    if cards is None:
        front = [a.image_id for a in acks if a.decision == "undo" and a.image_id and a.ok]
        cards = build_window(
            db,
            reviewer,
            side=settings.review_image_side,
            image_url=copy_url,
            size=WINDOW_SIZE,
            breed_id=breed_filter,
            front=front[-1:],
            now=now,
            order=order,
            only=only,
            references=partial(reference_items, side=settings.review_image_side),
        ).cards
        sent = SentWindow(scope, cards, now)
    else:
        sent = SentWindow(scope, cards, sent.built_at)  # type: ignore[union-attr]
    st.session_state["queue_window"] = sent
    with db.session() as s:
        remaining = _remaining(s, breed_filter)
    data: dict[str, Any] = {
        "key": KEY,
        "storage_key": f"breedbench-queue:{reviewer}",
        "scope": scope,
        "window": cards,
        "acks": [a.to_json() for a in acks],
        "remaining": remaining,
        "reasons": list(REJECT_REASONS.items()),
        "breeds": [[b.id, b.label] for b in breeds],
        "health_url": "/_stcore/health",
    }
    mount(data, key=KEY)


review_panel()
