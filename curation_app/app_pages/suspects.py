"""Suspects: accepted images the models' runs disagree with, one at a time, beside accepted
pictures of the labelled and of the predicted breed; keep, send back or relabel with one key."""

from __future__ import annotations

import streamlit as st

from core.errors import BreedbenchError
from core.text import plain
from curation_app import ui
from curation_app.state import get_database, get_settings
from review import images
from review.suspects import (
    Reference,
    Suspect,
    SuspectList,
    keep_label,
    rank_suspects,
    reference_images,
    relabel_suspect,
    runs_stamp,
    send_back,
)

LISTED = 20  # the suspects listed under the current one
REFILL = 5  # rank again when fewer are left in the session's list
CACHE = "suspects_cache"
REFERENCE_COLUMNS = 4

reviewer = ui.require_reviewer()
settings = get_settings()
db = get_database()


def _act(suspect: Suspect, action: str) -> None:
    try:
        with db.session() as s:
            if action == "keep":
                keep_label(s, suspect.image_id, reviewer, suspect.score)
                done = f"kept #{suspect.image_id} as {plain(suspect.breed_name)}"
            elif action == "send_back":
                status = send_back(s, suspect.image_id, reviewer)
                done = f"sent #{suspect.image_id} back to review (now {status})"
            else:
                target = suspect.predicted
                if target is None:
                    raise BreedbenchError("no other breed is predicted for this image")
                result = relabel_suspect(
                    s, suspect.image_id, reviewer, target.breed_id, min_reviews=settings.min_reviews
                )
                done = (
                    f"relabelled #{suspect.image_id} → {plain(target.name)} "
                    f"(image is now {result.status})"
                )
    except BreedbenchError as exc:
        st.session_state["suspects_message"] = ("error", plain(exc))
        _drop(suspect.image_id)  # most likely settled elsewhere meanwhile: rank again
        st.session_state.pop(CACHE, None)
        return
    st.session_state["suspects_message"] = ("ok", done)
    _drop(suspect.image_id)


def _drop(image_id: int) -> None:
    """Take a handled image off the session's list: the others' scores did not change."""
    cached = st.session_state.get(CACHE)
    if cached is not None:
        found = cached[1]
        found.suspects = [x for x in found.suspects if x.image_id != image_id]


def _ranking() -> SuspectList:
    """The ranking, computed again only when runs were recorded since, when the list runs
    low, or on Refresh: ranking reads every stored prediction (about a second for 6,000 images
    × 10 runs), too slow to repeat on every key."""
    with db.session() as s:
        stamp = runs_stamp(s)
        cached = st.session_state.get(CACHE)
        if cached is None or cached[0] != stamp or len(cached[1].suspects) < REFILL:
            cached = (stamp, rank_suspects(s, limit=LISTED))
            st.session_state[CACHE] = cached
    return cached[1]


def _references(title: str, refs: list[Reference], key: str) -> None:
    st.markdown(title)
    if not refs:
        st.caption("No accepted images of this breed yet.")
        return
    cols = st.columns(REFERENCE_COLUMNS)
    for n, ref in enumerate(refs):
        with cols[n % REFERENCE_COLUMNS], st.container(key=f"{key}-{ref.image_id}"):
            st.image(str(images.thumbnail(db.store, ref.sha256)), caption=f"#{ref.image_id}")


def _suspect(suspect: Suspect) -> None:
    target = suspect.predicted
    picture, side = st.columns([3, 2], gap="medium")
    with picture, st.container(key="suspect-image"):
        try:
            path = images.review_copy(db.store, suspect.sha256, settings.review_image_side)
            st.image(str(path), caption=f"#{suspect.image_id}")
        except BreedbenchError as exc:
            st.error(plain(exc))
    with side:
        st.subheader(f"Labelled {plain(suspect.breed_name)}", anchor=False)
        st.caption(
            f"score {suspect.score:.3f} · p(label) {suspect.label_probability:.3f} · "
            f"{suspect.votes} independent model(s), {suspect.versions} version(s)"
            + (f" · kept before at {suspect.kept_score:.3f}" if suspect.kept_score else "")
        )
        st.markdown(
            "  \n".join(
                f"**{plain(p.name)}** {p.probability:.1%}"
                + (" (the label)" if p.breed_id == suspect.breed_id else "")
                for p in suspect.top
            )
        )
        st.button(
            "Keep the label",
            key="keep",
            shortcut="K",
            type="primary",
            width="stretch",
            on_click=_act,
            args=(suspect, "keep"),
        )
        st.button(
            "Send back to review",
            key="send_back",
            shortcut="B",
            width="stretch",
            on_click=_act,
            args=(suspect, "send_back"),
        )
        st.button(
            f"Relabel to {plain(target.name)}" if target else "Relabel (no other breed)",
            key="relabel",
            shortcut="L",
            width="stretch",
            disabled=target is None,
            on_click=_act,
            args=(suspect, "relabel"),
        )
    with db.session() as s:
        labelled = reference_images(s, suspect.breed_id, exclude=[suspect.image_id])
        predicted = reference_images(s, target.breed_id) if target else []
    left, right = st.columns(2, gap="large")
    with left:
        _references(f"**Accepted as {plain(suspect.breed_name)}**", labelled, "ref-label")
    with right:
        if target:
            _references(f"**Accepted as {plain(target.name)}**", predicted, "ref-predicted")


@st.fragment
def suspects_panel() -> None:
    try:
        found = _ranking()
    except BreedbenchError as exc:
        st.error(plain(exc))
        return
    message = st.session_state.pop("suspects_message", None)
    if message:
        (st.success if message[0] == "ok" else st.error)(message[1])
    if not found.suspects:
        st.success(
            "No suspects: no accepted image has predictions with stored probabilities yet "
            "(evaluate a model)."
            if not found.images_scored
            else "Nothing left to check."
        )
        return
    st.caption(
        f"{found.images_scored} accepted images judged by {found.versions} model version(s) in "
        f"{found.lineages} independent lineage(s) · most suspect first"
        + (
            f" · {found.hidden_kept} kept, hidden until their score rises"
            if found.hidden_kept
            else ""
        )
    )
    _suspect(found.suspects[0])
    st.divider()
    st.button(
        "Refresh the list",
        key="suspects_refresh",
        on_click=lambda: st.session_state.pop(CACHE, None),
    )
    st.dataframe(
        [
            {
                "image": x.image_id,
                "label": x.breed_name,
                "score": round(x.score, 3),
                "top predicted": ", ".join(f"{p.name} {p.probability:.0%}" for p in x.top),
            }
            for x in found.suspects
        ],
        hide_index=True,
        key="suspects_table",
    )


st.title("Suspected label errors", anchor=False)
suspects_panel()
