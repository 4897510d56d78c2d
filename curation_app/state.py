"""The app's handle on the database: one cached ``Database`` per (database URL, data dir)."""

from __future__ import annotations

import streamlit as st

from core.settings import Settings, load_settings
from db.database import Database, open_database


@st.cache_resource(show_spinner=False)
def _database(database_url: str | None, data_dir: str) -> Database:
    settings = load_settings(database_url=database_url, data_dir=data_dir)
    return open_database(settings)


def get_database(settings: Settings | None = None) -> Database:
    """The database for this app process (settings from the environment by default).

    The cache key is the URL, so tests that point the app at another database get another
    engine rather than the first one cached in the process.
    """
    settings = settings or load_settings()
    return _database(settings.database_url, str(settings.data_dir))


def get_settings() -> Settings:
    """The app's settings (``breedbench review`` passes its flags as BREEDBENCH_* variables)."""
    return load_settings()
