"""Grid: one breed's pending thumbnails; mark the wrong ones, accept the rest in one go."""

from __future__ import annotations

import streamlit as st

from core.errors import BreedbenchError
from core.text import plain
from curation_app import references_ui, ui
from curation_app.state import get_database, get_settings
from review import images
from review.decisions import REJECT_REASONS, breed_choices
from review.grid import GRID_SIZES, apply_grid, grid_batch
from review.queue import pending_count

COLUMNS = 8

reviewer = ui.require_reviewer()
settings = get_settings()
db = get_database()
with db.session() as s:
    breeds = breed_choices(s)
labels = {b.id: b.label for b in breeds}

top = st.columns([3, 1, 2])
breed_id = top[0].selectbox("Breed", list(labels), format_func=labels.get, index=None,
                            placeholder="Type to search breeds", key="grid_breed")  # fmt: skip
size = top[1].selectbox("Per page", GRID_SIZES, index=len(GRID_SIZES) - 1, key="grid_size")
reason = top[2].selectbox("Reason for marked images", list(REJECT_REASONS),
                          format_func=REJECT_REASONS.get, key="grid_reason")  # fmt: skip
order, only = references_ui.order_and_filter(st.columns(4)[0], key="grid")
if breed_id is None:
    st.info("Choose a breed to see its pending images.")
    st.stop()
if st.toggle("Reference pictures", key="grid_references"):
    references_ui.reference_panel(db, breed_id, key="grid", reviewer=reviewer)


def _apply(shown: list[int]) -> None:
    marked = [i for i in shown if st.session_state.get(f"mark_{i}")]
    try:
        with db.session() as s:
            result = apply_grid(s, reviewer, shown, marked, reason=reason,
                                min_reviews=settings.min_reviews)  # fmt: skip
    except BreedbenchError as exc:
        st.session_state["grid_message"] = ("error", plain(exc))
        return
    for i in shown:
        st.session_state.pop(f"mark_{i}", None)
    st.session_state["grid_message"] = (
        "ok", f"Accepted {result.accepted}, rejected {result.rejected}."
    )  # fmt: skip


@st.fragment
def grid_panel() -> None:
    with db.session() as s:
        cards = grid_batch(s, reviewer, breed_id, size, order=order, only=only)
        remaining = pending_count(s, reviewer, breed_id, only=only)
    message = st.session_state.pop("grid_message", None)
    if message:
        (st.success if message[0] == "ok" else st.error)(message[1])
    if not cards:
        st.success(f"No pending images of {plain(labels[breed_id])} left for you.")
        return
    shown = [c.id for c in cards]
    marked = sum(bool(st.session_state.get(f"mark_{i}")) for i in shown)
    st.caption(f"{len(cards)} of {remaining} pending · tick the wrong ones, then accept the rest")
    cols = st.columns(COLUMNS)
    for n, card in enumerate(cards):
        state = "marked" if st.session_state.get(f"mark_{card.id}") else "ok"
        with cols[n % COLUMNS], st.container(key=f"cell-{state}-{card.id}"):
            st.image(str(images.thumbnail(db.store, card.sha256)), width="stretch")
            st.checkbox(f"reject #{card.id}", key=f"mark_{card.id}")
            references_ui.screening_badge(card.screening, detailed=False)
    st.button(
        f"Reject {marked} marked, accept the other {len(cards) - marked}",
        key="accept_rest", type="primary", shortcut="Ctrl+Enter", on_click=_apply, args=(shown,),
    )  # fmt: skip


grid_panel()
