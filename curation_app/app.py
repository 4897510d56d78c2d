"""Entry point of the review app: router and frame, nothing else.

Run with ``breedbench review`` (or ``make run``); the database comes from the same settings as
the CLI (``BREEDBENCH_DATABASE_URL`` / ``BREEDBENCH_DATA_DIR``).
"""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from curation_app import ui

PAGES = Path(__file__).parent / "app_pages"

st.set_page_config(page_title="breedbench", page_icon="🐕", layout="wide")
st.sidebar.markdown("## :material/pets: breedbench")

# One entry per section; add a section with one line.
SECTIONS = {
    "Review": [
        st.Page(PAGES / "queue.py", title="Queue", icon=":material/photo:", default=True),
        st.Page(PAGES / "grid.py", title="Grid", icon=":material/grid_view:"),
        st.Page(PAGES / "conflicts.py", title="Duplicates & conflicts", icon=":material/compare:"),
        st.Page(PAGES / "suspects.py", title="Suspects", icon=":material/report:"),
        st.Page(PAGES / "reviewers.py", title="Reviewers", icon=":material/groups:"),
    ],
    "Dataset": [
        st.Page(PAGES / "breeds.py", title="Breeds overview", icon=":material/table_chart:"),
        st.Page(PAGES / "crawls.py", title="Crawls", icon=":material/travel_explore:"),
    ],
    "Models & evaluations": [
        st.Page(PAGES / "models.py", title="Models", icon=":material/monitoring:"),
        st.Page(PAGES / "run_details.py", title="Run details", icon=":material/troubleshoot:"),
        st.Page(PAGES / "compare_runs.py", title="Compare runs", icon=":material/compare_arrows:"),
    ],
}

navigation = st.navigation(SECTIONS)
ui.page_style()
ui.frame_reviewer()
navigation.run()
