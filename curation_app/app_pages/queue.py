"""Review queue: one large image, its breed and provenance, and keyboard-driven decisions."""

from __future__ import annotations

import streamlit as st
from sqlalchemy.orm import Session

from core.errors import BreedbenchError
from core.text import plain
from curation_app import references_ui, ui
from curation_app.state import get_database, get_settings
from curation_app.text import safe_link
from db.models import Decision
from review import images
from review.decisions import REJECT_REASONS, breed_choices, decide, reason_label, undo_last
from review.queue import ImageCard, cards_by_id, next_images, pending_count

PREFETCH = 4  # review copies made ahead of the reviewer

reviewer = ui.require_reviewer()
settings = get_settings()
db = get_database()
with db.session() as s:
    breeds = breed_choices(s)
labels = {b.id: b.label for b in breeds}

breed_filter = st.sidebar.selectbox(
    "Review breed", [None, *labels], format_func=lambda i: "All breeds" if i is None else labels[i],
    key="queue_breed",
)  # fmt: skip
order, only = references_ui.order_and_filter(st.sidebar, key="queue")


def _act(image_id: int, decision: Decision, reason: str | None = None) -> None:
    target = st.session_state.get("relabel_target") if decision == Decision.RELABEL else None
    try:
        with db.session() as s:
            if decision == Decision.UNDO:
                result = undo_last(s, reviewer, min_reviews=settings.min_reviews)
            else:
                result = decide(
                    s,
                    image_id,
                    reviewer,
                    decision,
                    reason=reason,
                    target_breed_id=target,
                    min_reviews=settings.min_reviews,
                )
    except BreedbenchError as exc:
        st.session_state["queue_message"] = ("error", plain(exc))
        return
    st.session_state["relabel_target"] = None  # a chosen breed applies to one image only
    if result is None:
        st.session_state["queue_message"] = ("info", "Nothing to undo.")
        return
    if result.decision != "undo":
        st.session_state["queue_decided"] = st.session_state.get("queue_decided", 0) + 1
    what = f"{result.decision} #{result.image_id}"
    if result.decision == "relabel":
        what += f" → {plain(labels.get(result.breed_id, '?'))}"
    elif result.reason and result.decision == "reject":
        what += f" ({reason_label(result.reason)})"
    st.session_state["queue_message"] = ("ok", f"{what} · image is now {result.status}")
    if result.decision == "undo":
        st.session_state["queue_front"] = result.image_id


def _info(card: ImageCard, remaining: int) -> None:
    # Everything here but the labels comes from the search result: text, and a link only to an
    # http(s) page.
    st.subheader(plain(card.breed_name), anchor=False)
    st.caption(f"{plain(card.breed_slug)} · image #{card.id} · {remaining} left in your queue")
    origin = card.provenance
    st.markdown(
        f"**Query** {plain(origin.query) if origin.query else '—'}  \n"
        f"**Source** {safe_link(origin.source, origin.landing_url)}  \n"
        f"**License** {plain(card.license_label)}"
        + (f" · {plain(origin.creator)}" if origin.creator else "")
        + f"  \n**Size** {plain(card.size_label)}"
    )
    for flag in card.open_flags:
        st.warning(f"Flagged: {flag.replace('_', ' ')} (see Duplicates & conflicts)")
    references_ui.screening_badge(card.screening)


def _buttons(card: ImageCard) -> None:
    st.button("Accept", key="accept", shortcut="A", type="primary", width="stretch",
              on_click=_act, args=(card.id, Decision.ACCEPT))  # fmt: skip
    st.caption("Reject as")
    cols = st.columns(2)
    for n, (code, label) in enumerate(REJECT_REASONS.items(), start=1):
        cols[(n - 1) % 2].button(label.capitalize(), key=f"reject_{code}", shortcut=str(n),
                                 width="stretch", on_click=_act,
                                 args=(card.id, Decision.REJECT, code))  # fmt: skip
    left, right = st.columns(2)
    left.button("Skip", key="skip", shortcut="S", width="stretch",
                on_click=_act, args=(card.id, Decision.SKIP))  # fmt: skip
    right.button("Undo", key="undo", shortcut="U", width="stretch",
                 on_click=_act, args=(card.id, Decision.UNDO))  # fmt: skip
    others = [b for b in labels if b != card.breed_id]
    pick, go = st.columns([3, 1], vertical_alignment="bottom")
    pick.selectbox("Relabel to another breed", others, format_func=labels.get, index=None,
                   placeholder="Type to search breeds", key="relabel_target")  # fmt: skip
    go.button("Relabel", key="relabel", shortcut="L", width="stretch",
              disabled=st.session_state.get("relabel_target") is None,
              on_click=_act, args=(card.id, Decision.RELABEL))  # fmt: skip


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


@st.fragment
def review_panel() -> None:
    front = st.session_state.pop("queue_front", None)
    with db.session() as s:
        cards = next_images(s, reviewer, limit=PREFETCH + 1, breed_id=breed_filter, order=order,
                            only=only)  # fmt: skip
        if front is not None and all(c.id != front for c in cards):
            cards = cards_by_id(s, [front]) + cards
        remaining = _remaining(s, breed_filter)
    message = st.session_state.pop("queue_message", None)
    if message and message[0] != "ok":
        (st.error if message[0] == "error" else st.info)(message[1])
    if not cards:
        if message and message[0] == "ok":
            st.caption(f"Last: {message[1]}")
        st.success("Nothing left to review here. Thank you!")
        st.button("Undo", key="undo", shortcut="U", on_click=_act, args=(0, Decision.UNDO))
        return
    card = cards[0]
    images.prefetch(db.store, [c.sha256 for c in cards[1:]], settings.review_image_side)
    picture, side = st.columns([3, 2], gap="medium")
    with picture, st.container(key="review-image"):
        try:
            path = images.review_copy(db.store, card.sha256, settings.review_image_side)
            st.image(str(path), caption=f"#{card.id}")
        except BreedbenchError as exc:
            st.error(plain(exc))
    # The next images, already in the browser (decoded, off screen) when their turn comes.
    with st.container(key="preload"):
        for upcoming in cards[1:3]:
            ready = images.ready_copy(db.store, upcoming.sha256, settings.review_image_side)
            if ready is not None:
                st.image(str(ready))
    with side:
        _info(card, remaining)
        _buttons(card)
        last = message[1] if message and message[0] == "ok" else ""
        st.caption(f"Last: {last}" if last else "Decide with the keys shown on the buttons.")
        references_ui.reference_panel(db, card.breed_id, key="queue", reviewer=reviewer)


review_panel()
