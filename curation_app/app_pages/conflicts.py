"""Duplicates & conflicts: near-duplicates, cross-breed pictures, training-set leaks, and
reviewer disagreements under consensus; each resolved here and recorded."""

from __future__ import annotations

import streamlit as st

from core.errors import BreedbenchError
from core.text import plain
from curation_app import ui
from curation_app.state import get_database, get_settings
from db.models import Decision, FlagKind
from review import images
from review.conflicts import (
    ACTIONS,
    FlagView,
    Resolution,
    open_flag_counts,
    open_flags,
    resolve_flag,
)
from review.consensus import disagreements
from review.decisions import REJECT_REASONS, breed_choices, decide
from review.queue import ImageCard

TITLES = {
    FlagKind.NEAR_DUPLICATE: "Near-duplicates",
    FlagKind.CROSS_BREED: "Cross-breed",
    FlagKind.LEAK: "Training-set leaks",
}
LABELS = {
    Resolution.KEEP_IMAGE: "Keep left, reject right",
    Resolution.KEEP_OTHER: "Keep right, reject left",
    Resolution.KEEP_BOTH: "Keep both",
    Resolution.REJECT_IMAGE: "Reject (in a training set)",
    Resolution.REJECT_BOTH: "Reject both",
}

reviewer = ui.require_reviewer()
settings = get_settings()
db = get_database()
with db.session() as _s:
    breeds = {b.id: b.label for b in breed_choices(_s)}


def _resolve(flag_id: int, resolution: Resolution) -> None:
    target = st.session_state.get(f"relabel_{flag_id}")
    try:
        with db.session() as s:
            text = resolve_flag(
                s,
                flag_id,
                reviewer,
                resolution,
                target_breed_id=target if resolution == Resolution.RELABEL_IMAGE else None,
                min_reviews=settings.min_reviews,
            )
        st.session_state["conflict_message"] = ("ok", f"Flag {flag_id}: {plain(text)}.")
    except BreedbenchError as exc:
        st.session_state["conflict_message"] = ("error", plain(exc))


def _vote(image_id: int, decision: Decision, reason: str | None = None) -> None:
    try:
        with db.session() as s:
            result = decide(s, image_id, reviewer, decision, reason=reason,
                            min_reviews=settings.min_reviews)  # fmt: skip
        st.session_state["conflict_message"] = (
            "ok", f"Your vote on #{image_id} is recorded; it is now {result.status}."
        )  # fmt: skip
    except BreedbenchError as exc:
        st.session_state["conflict_message"] = ("error", plain(exc))


def _card(card: ImageCard) -> None:
    st.image(str(images.thumbnail(db.store, card.sha256)), width="stretch")
    st.caption(f"#{card.id} · {plain(card.breed_name)} · {plain(card.status)} · "
               f"{plain(card.provenance.source)} · {card.width}×{card.height}")  # fmt: skip


def _label(view: FlagView, res: Resolution) -> str:
    """Cross-breed choices name the breed each side would keep."""
    if view.kind == FlagKind.CROSS_BREED and view.other is not None:
        if res == Resolution.KEEP_IMAGE:
            return f"Keep left ({plain(view.image.breed_name)}), reject right"
        if res == Resolution.KEEP_OTHER:
            return f"Keep right ({plain(view.other.breed_name)}), reject left"
    return LABELS[res]


def _flag(view: FlagView) -> None:
    with st.container(border=True):
        left, right, actions = st.columns([2, 2, 2])
        with left:
            _card(view.image)
        with right:
            if view.other is not None:
                _card(view.other)
            elif view.detail:
                st.caption(f"Matches {plain(view.detail)}")
        with actions:
            if view.distance is not None:
                st.caption(f"Hash distance {view.distance}")
            for res in ACTIONS[FlagKind(view.kind)]:
                st.button(_label(view, res), key=f"flag_{view.id}_{res.value}", width="stretch",
                          on_click=_resolve, args=(view.id, res))  # fmt: skip
            pick, go = st.columns([3, 2], vertical_alignment="bottom")
            pick.selectbox("Left is really a", list(breeds), format_func=breeds.get, index=None,
                           placeholder="Search breeds", key=f"relabel_{view.id}")  # fmt: skip
            go.button("Relabel left", key=f"flag_{view.id}_relabel_image", width="stretch",
                      disabled=st.session_state.get(f"relabel_{view.id}") is None,
                      on_click=_resolve, args=(view.id, Resolution.RELABEL_IMAGE))  # fmt: skip


message = st.session_state.pop("conflict_message", None)
if message:
    (st.success if message[0] == "ok" else st.error)(message[1])

with db.session() as s:
    counts = open_flag_counts(s)
kinds = list(TITLES)
tab_titles = [f"{TITLES[k]} ({counts[k.value]})" for k in kinds] + ["Reviewer disagreements"]
tabs = st.tabs(tab_titles)
for kind, tab in zip(kinds, tabs, strict=False):
    with tab:
        pages = max(1, -(-counts[kind.value] // 10))
        page = 0
        if pages > 1:
            narrow = st.columns([1, 5])[0]
            page = narrow.number_input(f"Page (of {pages})", 1, pages, 1, key=f"p_{kind.value}") - 1
        with db.session() as s:
            views = open_flags(s, kind, page=int(page))
        if not views:
            st.success("Nothing to resolve.")
        for view in views:
            _flag(view)

with tabs[-1]:
    if settings.min_reviews < 2:
        st.caption("Consensus is off (the latest decision wins); start the app with "
                   "`breedbench review --min-reviews 2` to require agreement.")  # fmt: skip
    page = st.columns([1, 5])[0].number_input("Page", 1, 1000, 1, key="page_disagreements") - 1
    with db.session() as s:
        items = disagreements(s, page=int(page))
    if not items:
        st.success("No disagreements.")
    for item in items:
        with st.container(border=True):
            left, votes, actions = st.columns([2, 2, 2])
            with left:
                _card(item.image)
            with votes:
                for v in item.votes:
                    st.markdown(f"**{plain(v.reviewer)}**: {plain(v.decision)} {plain(v.detail)}")
            with actions:
                st.button("Accept", key=f"dis_acc_{item.image.id}", width="stretch",
                          on_click=_vote, args=(item.image.id, Decision.ACCEPT))  # fmt: skip
                reason = st.selectbox("Reason", list(REJECT_REASONS), key=f"dis_r_{item.image.id}",
                                      format_func=REJECT_REASONS.get)  # fmt: skip
                st.button(
                    "Reject",
                    key=f"dis_rej_{item.image.id}",
                    width="stretch",
                    on_click=_vote,
                    args=(item.image.id, Decision.REJECT, reason),
                )
