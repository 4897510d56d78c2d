"""Crawls: the running crawl, live; past crawl and import runs with their settings, per-breed
yield and refusals by reason; topping breeds up in the background."""

from __future__ import annotations

import streamlit as st

from core.text import inline_code, plain
from curation_app import crawl_ui
from curation_app.state import get_database
from db.crawl_runs import breed_yields, crawl_history

db = get_database()

st.header("Crawls")
st.caption(
    "A crawl tops breeds up to their target from the image-search APIs, in the background on "
    f"the server; the same as {inline_code('breedbench crawl')}. One crawl at a time per "
    "database, whoever starts it; a crawl whose process died is marked interrupted."
)
crawl_ui.show_message()
reviewer = crawl_ui.crawl_reviewer(key="crawls_reviewer")
crawl_ui.top_up_button(
    db, reviewer, key="crawls_top_up", label="Top up every breed under its target"
)
if reviewer is not None:
    st.caption("To top up chosen breeds, pick them on the Breeds overview.")

st.subheader("Now")
crawl_ui.live_fragment(db)

with db.session() as s:
    runs = crawl_history(s)

st.subheader("History")
if not runs:
    st.info(
        "No crawl or import yet. Top up from here or the Breeds overview, or run "
        f"{inline_code('breedbench crawl')} or {inline_code('breedbench import FOLDER')}."
    )
    st.stop()
st.dataframe(crawl_ui.history_frame(runs), hide_index=True, width="stretch", key="crawl-history")

by_id = {r.id: r for r in runs}
chosen = st.selectbox(
    "Run",
    list(by_id),
    key="crawl_run",
    format_func=lambda i: (
        f"#{i} · {by_id[i].kind} · {by_id[i].status} · "
        f"{by_id[i].started_at:%Y-%m-%d %H:%M} · {by_id[i].stored} stored"
    ),
)
run = by_id[chosen]
if run.process_gone:
    st.warning(plain(f"Interrupted: {run.process_gone}."))
if run.settings.get("cancelled_by"):
    st.caption(f"Cancelled by {plain(run.settings['cancelled_by'])}.")
yields = breed_yields(run)
left, right = st.columns([3, 2], gap="large")
with left:
    st.markdown("**Per breed: what its candidates became**")
    if yields:
        st.altair_chart(crawl_ui.yield_chart(yields), width="stretch")
    else:
        st.caption("Nothing recorded per breed yet.")
with right:
    st.markdown("**Refusals by reason**")
    refusals = run.refusals
    if refusals:
        st.altair_chart(crawl_ui.refusal_chart(refusals), width="stretch")
    else:
        st.caption("No image refused.")
    st.markdown("**Settings**")
    st.dataframe(
        [{"setting": k, "value": str(v)} for k, v in sorted(run.settings.items()) if k != "needed"],
        hide_index=True,
        width="stretch",
        key="crawl-settings",
    )
if yields:
    st.dataframe(crawl_ui.yield_table(yields), hide_index=True, width="stretch", key="crawl-yield")
