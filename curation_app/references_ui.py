"""Widgets of assisted review shared by the queue and the grid: the reference strip (what the
claimed breed looks like, and its look-alikes), click to enlarge, the screening order and badge.

The logic is in ``review.references`` and ``review.screening``; this only draws what they return.
Thumbnails are the store's 256 px copies; an enlarged picture is the review-size copy.
"""

from __future__ import annotations

import time

import streamlit as st

from core.errors import BreedbenchError
from core.text import plain
from db.database import Database
from review import images
from review.references import (
    ReferenceImage,
    ReferenceStrip,
    pin_reference,
    reference_strip,
    unpin_reference,
)
from review.screening import FILTERS, ORDERS, ScreeningMark

COLUMNS = 6  # thumbnails per row at most
THUMB_PX = 64
_ENLARGED = "reference_enlarged"
_STRIPS = "reference_strips"
_PIN_ERROR = "reference_pin_error"
# A breed's strip is reused for this long: consecutive candidates are mostly of one breed, and a
# strip a few decisions old shows the same breed as well (a pin made here refreshes it at once).
STRIP_SECONDS = 30.0


def order_and_filter(where, *, key: str) -> tuple[str, str | None]:  # type: ignore[no-untyped-def]
    """The order and screening filter a reviewer chose (crawl order and everything by default)."""
    order = where.selectbox("Order", list(ORDERS), format_func=ORDERS.get, key=f"{key}_order")
    only = where.selectbox(
        "Show",
        [None, *FILTERS],
        format_func=lambda f: "All images" if f is None else FILTERS[f],
        key=f"{key}_filter",
    )
    return str(order), only


def screening_badge(mark: ScreeningMark | None, *, detailed: bool = True) -> None:
    """A small mark of what the screening model said; the reviewer decides."""
    if mark is None:
        return
    colour = "red" if mark.likely_not_a_dog else "orange" if mark.agrees is False else "gray"
    st.badge(plain(mark.badge), color=colour)
    if detailed:
        st.caption(f"Screened by {plain(mark.model)} · top-3: {plain(mark.top3_label)}")


def reference_panel(db: Database, breed_id: int, *, key: str, reviewer: str | None = None) -> None:
    """The breed's reference pictures (pinned first) and a strip per look-alike breed.

    Drawn with every candidate, so it is kept light: one image element per row (a list of
    thumbnails) and one widget to enlarge any of them."""
    strip = _strip(db, breed_id)
    with st.container(key=f"reference-strip-{key}"):
        st.caption("Reference pictures of this breed (accepted; pinned first)")
        if strip.own:
            _row(db, strip.own)
        else:
            st.caption("No accepted image of this breed yet.")
        for other in strip.lookalikes:
            st.caption(f"Often confused with **{plain(other.name)}**")
            _row(db, other.images)
        refs = {r.image_id: r for r in strip.own + [r for o in strip.lookalikes for r in o.images]}
        if refs:
            widget = f"enlarge-{key}-{breed_id}"
            st.pills(
                "Enlarge",
                list(refs),
                format_func=lambda i: ("📌 " if refs[i].pinned else "") + f"#{i}",
                key=widget,
                label_visibility="collapsed",
                on_change=_open,
                args=(key, widget, refs),
            )
    enlarged = st.session_state.get(_ENLARGED)
    if enlarged and enlarged[0] == key:
        _enlarge(db, enlarged[1], reviewer)


def _strip(db: Database, breed_id: int) -> ReferenceStrip:
    kept = st.session_state.setdefault(_STRIPS, {})
    now = time.monotonic()
    if breed_id in kept and now - kept[breed_id][0] < STRIP_SECONDS:
        return kept[breed_id][1]
    with db.session() as s:
        strip = reference_strip(s, breed_id)
    kept[breed_id] = (now, strip)
    return strip


def _row(db: Database, refs: list[ReferenceImage]) -> None:
    paths, captions = [], []
    for ref in refs[:COLUMNS]:
        try:
            paths.append(str(images.thumbnail(db.store, ref.sha256)))
            captions.append(("📌 " if ref.pinned else "") + f"#{ref.image_id}")
        except (OSError, BreedbenchError):
            continue  # a missing file is fsck's to report; the strip shows the others
    if paths:
        st.image(paths, caption=captions, width=THUMB_PX)


def _open(key: str, widget: str, refs: dict[int, ReferenceImage]) -> None:
    chosen = st.session_state.get(widget)
    if chosen is None:
        st.session_state.pop(_ENLARGED, None)
    else:
        st.session_state[_ENLARGED] = (key, refs[chosen], widget)


def _close() -> None:
    enlarged = st.session_state.pop(_ENLARGED, None)
    if enlarged:
        st.session_state[enlarged[2]] = None  # the same picture can be enlarged again


@st.dialog("Reference picture", width="large", on_dismiss=_close)
def _enlarge(db: Database, ref: ReferenceImage, reviewer: str | None) -> None:
    try:
        path = images.review_copy(db.store, ref.sha256, db.settings.review_image_side)
    except BreedbenchError as exc:
        st.error(plain(exc))
        return
    with st.container(key="reference-enlarged"):
        st.image(str(path), caption=f"#{ref.image_id}" + (" · pinned" if ref.pinned else ""))
    if error := st.session_state.pop(_PIN_ERROR, None):
        st.error(error)
    if reviewer:
        label = "Unpin" if ref.pinned else "Pin as a canonical reference"
        pressed = st.button(label, key="reference-pin", on_click=_toggle_pin,
                            args=(db, ref, reviewer))  # fmt: skip
        if pressed and _ENLARGED not in st.session_state:  # done: close it, redraw the strips
            st.rerun()


def _toggle_pin(db: Database, ref: ReferenceImage, reviewer: str) -> None:
    """Pin or unpin, then close the picture; the strips are read again (a refused pin says
    why in the dialog, which stays open)."""
    try:
        with db.session() as s:
            if ref.pinned:
                unpin_reference(s, ref.breed_id, ref.image_id)
            else:
                pin_reference(s, ref.breed_id, ref.image_id, reviewer)
    except BreedbenchError as exc:
        st.session_state[_PIN_ERROR] = plain(exc)
        return
    _close()
    st.session_state.pop(_STRIPS, None)
