"""Reviewers: each reviewer's decisions, pace and overturned votes, and how pairs of reviewers
agree on the images both saw (Cohen's kappa); the definitions are in ``review.quality``."""

from __future__ import annotations

import streamlit as st

from curation_app.state import get_database
from review.quality import SITTING_GAP_SECONDS, reviewer_quality

db = get_database()
with db.session() as s:
    report = reviewer_quality(s)

st.title("Reviewers", anchor=False)
if not report.reviewers:
    st.info("No decisions recorded yet.")
    st.stop()

st.caption(
    f"Pace: median seconds between consecutive decisions within a sitting (a pause over "
    f"{SITTING_GAP_SECONDS / 60:.0f} min starts a new one). Overturned: votes undone, overruled "
    "by consensus or a later decision, or relabelled from the Suspects page."
)
st.dataframe(
    [
        {
            "reviewer": r.reviewer,
            "decisions": r.decisions,
            "accept": r.accepts,
            "reject": r.rejects,
            "relabel": r.relabels,
            "skip": r.skips,
            "sittings": r.sittings,
            "pace s": None if r.median_seconds is None else round(r.median_seconds, 1),
            "undone": r.undone,
            "overruled": r.overruled,
            "suspect relabels": r.suspect_relabelled,
            "overturned %": None
            if r.overturned_rate is None
            else round(100 * r.overturned_rate, 1),
        }
        for r in report.reviewers
    ],
    hide_index=True,
    key="reviewers_table",
)

st.subheader("Agreement between reviewers", anchor=False)
if not report.pairs:
    st.caption("No two reviewers have voted on the same image yet.")
else:
    st.caption(
        "On the images both voted on (each one's latest vote): the share they agree on, and "
        "Cohen's kappa (1 = full agreement, 0 = what chance alone gives, below 0 = worse)."
    )
    st.dataframe(
        [
            {
                "reviewer A": p.a,
                "reviewer B": p.b,
                "shared images": p.shared,
                "agreement %": round(100 * p.agreement, 1),
                "kappa": None if p.kappa is None else round(p.kappa, 3),
            }
            for p in report.pairs
        ],
        hide_index=True,
        key="agreement_table",
    )
