"""Dashboard fixtures: a database with seeded evaluation history, and the app pointed at it."""

from __future__ import annotations

import pytest

from db.database import Database
from tests.dashboard.seeding import Seeded, seed_evaluations


@pytest.fixture
def seeded(database: Database) -> Seeded:
    return seed_evaluations(database)


@pytest.fixture
def app_env(database: Database, monkeypatch: pytest.MonkeyPatch) -> Database:
    """The app reads its database from BREEDBENCH_* like ``breedbench review`` passes it."""
    monkeypatch.setenv("BREEDBENCH_DATABASE_URL", database.settings.resolved_database_url())
    monkeypatch.setenv("BREEDBENCH_DATA_DIR", str(database.settings.data_dir))
    return database


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]):  # type: ignore[no-untyped-def]
    """Keep each phase's report on the test item, so a fixture can tell the test failed (and
    keep a screenshot)."""
    report = yield
    setattr(item, f"rep_{report.when}", report)
    return report
