"""Breeds overview: progress of every breed against its target."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from curation_app.state import get_database
from db import queries

db = get_database()
with db.session() as s:
    rows = queries.breed_counts(s)

st.subheader(f"{len(rows)} breeds")
frame = pd.DataFrame(
    [
        {
            "breed": r.slug,
            "synset": r.synset,
            "query": r.effective_query,
            "accepted": r.accepted,
            "pending": r.pending,
            "rejected": r.rejected,
            "target": r.target,
        }
        for r in rows
    ]
)
st.dataframe(frame, hide_index=True, use_container_width=True, height=600)
