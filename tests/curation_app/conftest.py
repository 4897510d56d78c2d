"""Fixtures of the review app's tests: images in a seeded database, and the app's environment."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from sqlalchemy import select

from db.database import Database
from db.models import Review
from tests.factories import insert_image


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):  # type: ignore[no-untyped-def]
    """Keeps each phase's report on the test item, so a fixture can tell a failure."""
    report = yield
    setattr(item, f"rep_{report.when}", report)
    return report


@pytest.fixture
def add_images(database: Database) -> Callable[[str, int], list[int]]:
    """``add_images("boxer", 3)``: that many distinct images of a breed; their ids."""
    counter = iter(range(10_000))

    def add(slug: str, n: int = 1) -> list[int]:
        return [insert_image(database, slug, seed=next(counter) + 1) for _ in range(n)]

    return add


@pytest.fixture
def app_env(database: Database, monkeypatch: pytest.MonkeyPatch) -> Database:
    """Point the Streamlit app (run in this process by AppTest) at the test database."""
    monkeypatch.setenv("BREEDBENCH_DATABASE_URL", database.settings.resolved_database_url())
    monkeypatch.setenv("BREEDBENCH_DATA_DIR", str(database.settings.data_dir))
    return database


def reviews_of(db: Database, image_id: int | None = None) -> list[Review]:
    with db.session() as s:
        stmt = select(Review).order_by(Review.id)
        if image_id is not None:
            stmt = stmt.where(Review.image_id == image_id)
        rows = list(s.scalars(stmt))
        s.expunge_all()
        return rows
