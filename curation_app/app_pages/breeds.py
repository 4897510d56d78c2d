"""Breeds overview: progress of every breed against its target, and fixing a wrong query."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from core.errors import BreedbenchError
from core.text import plain
from curation_app import crawl_ui, ui
from curation_app.state import get_database
from review.date_spread import stored_date_spread
from review.overview import HIGH_REJECT_RATE, MIN_REVIEWED, breeds_overview, use_dog_keyword

db = get_database()
with db.session() as s:
    rows = breeds_overview(s)

accepted = sum(r.counts.accepted for r in rows)
target = sum(r.counts.target for r in rows)
metrics = st.columns(4)
metrics[0].metric("Accepted", f"{accepted} / {target}")
metrics[1].metric("Pending", sum(r.counts.pending for r in rows))
metrics[2].metric("Rejected", sum(r.counts.rejected for r in rows))
metrics[3].metric("Breeds done", f"{sum(r.done for r in rows)} / {len(rows)}")

frame = pd.DataFrame(
    [
        {
            "breed": r.counts.name,
            "slug": r.counts.slug,
            "query": r.counts.effective_query,
            "accepted": r.counts.accepted,
            "pending": r.counts.pending,
            "rejected": r.counts.rejected,
            "target": r.counts.target,
            "progress": min(1.0, r.counts.accepted / r.counts.target) if r.counts.target else 1.0,
            "reject rate": r.counts.reject_rate,
            "query flagged": r.counts.flagged,
        }
        for r in rows
    ]
)
frame["reject rate"] = frame["reject rate"].astype(float)  # NaN (blank) until reviewed
high = {r.counts.slug for r in rows if r.high_reject}
only_high = st.toggle(f"Only breeds with a high reject rate ({len(high)})", key="only_high")
shown = frame[frame["slug"].isin(high)] if only_high else frame


def _highlight(row: pd.Series) -> list[str]:
    colour = "background-color: rgba(230, 80, 60, 0.25)" if row["slug"] in high else ""
    return [colour] * len(row)


st.dataframe(
    shown.style.apply(_highlight, axis=1),
    hide_index=True,
    height="auto" if only_high else 420,
    column_config={
        "progress": st.column_config.ProgressColumn("accepted / target", min_value=0, max_value=1),
        "reject rate": st.column_config.NumberColumn(format="percent"),
    },
)
st.caption(
    f"Highlighted: at least {HIGH_REJECT_RATE:.0%} of the reviewed images rejected "
    f"(once {MIN_REVIEWED} are reviewed)."
)

st.subheader("The query finds the wrong things")
by_slug = {r.counts.slug: r for r in rows}
order = sorted(by_slug, key=lambda slug: (slug not in high, by_slug[slug].counts.name))
pick, act = st.columns([3, 2], vertical_alignment="bottom")
slug = pick.selectbox(
    "Breed", order, index=None, key="flag_breed", placeholder="Type to search breeds",
    format_func=lambda s: f"{by_slug[s].counts.name} — “{by_slug[s].counts.effective_query}”"
    + (" (high reject rate)" if s in high else ""),
)  # fmt: skip
if slug is not None:
    chosen = by_slug[slug].counts
    if chosen.dog_keyword:
        act.info(f"The next crawl searches “{plain(chosen.effective_query)}”.")
    elif act.button("Use the dog keyword for the next crawl", key="use_dog_keyword"):
        reviewer = ui.require_reviewer()
        try:
            with db.session() as s:
                flag = use_dog_keyword(s, chosen.id, reviewer)
            st.session_state["breeds_message"] = (
                "ok", f"The next crawl searches “{plain(flag.query)}”."
            )  # fmt: skip
        except BreedbenchError as exc:
            st.session_state["breeds_message"] = ("error", plain(exc))
        st.rerun()
message = st.session_state.pop("breeds_message", None)
if message:
    (st.success if message[0] == "ok" else st.error)(message[1])

st.subheader("Upload dates")
with db.session() as s:
    spread = stored_date_spread(s)
if spread.years:
    st.bar_chart(
        pd.DataFrame(
            {
                "uploaded": [y.uploaded for y in spread.years],
                "taken": [y.taken for y in spread.years],
            },
            index=[str(y.year) for y in spread.years],
        ),
        stack=False,
    )
st.caption(
    f"Accepted images by year of upload and of capture, as their sources state them. Upload "
    f"date unknown: {spread.upload_unknown} of {spread.total}"
    + (
        f" ({spread.indexed_only} indexed by Openverse by {spread.latest_indexed:%Y-%m-%d})."
        if spread.latest_indexed
        else "."
    )
)
st.subheader("Top up")
st.caption(
    "Crawl the image-search APIs in the background until the chosen breeds (none chosen: every "
    "breed under its target) have their target of pending + accepted images; follow it on the "
    "Crawls page. The same as `breedbench crawl`."
)
crawl_reviewer = crawl_ui.crawl_reviewer(key="top_up_reviewer")
if crawl_reviewer is not None:
    under = [r for r in by_slug.values() if r.counts.accepted + r.counts.pending < r.counts.target]
    with st.form("top_up"):
        chosen_breeds = st.multiselect(
            "Breeds", sorted(by_slug), key="top_up_breeds", placeholder="Every breed under its "
            "target", format_func=lambda s: by_slug[s].counts.name,
        )  # fmt: skip
        started = st.form_submit_button(
            f"Top up ({len(under)} breeds under target)", type="primary"
        )
    if started:
        crawl_ui.start(db, crawl_reviewer, chosen_breeds or None, None)
        st.rerun()
crawl_ui.show_message()
