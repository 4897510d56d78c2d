"""Entry point of the review app: router and frame, nothing else.

Run with ``breedbench review`` (or ``make run``); the database comes from the same settings as
the CLI (``BREEDBENCH_DATABASE_URL`` / ``BREEDBENCH_DATA_DIR``).
"""

from __future__ import annotations

from pathlib import Path

import streamlit as st

PAGES = Path(__file__).parent / "app_pages"

st.set_page_config(page_title="breedbench", page_icon="🐕", layout="wide")
st.title("breedbench")

navigation = st.navigation(
    {
        "Dataset": [
            st.Page(PAGES / "breeds.py", title="Breeds", icon="📋", default=True),
        ],
    }
)
navigation.run()
