"""Shared fixtures: settings in a temporary data dir, and a database on SQLite and PostgreSQL.

PostgreSQL is the server ``BREEDBENCH_TEST_POSTGRES_URL`` names (``.ci/run`` starts one) or,
without it, one started for the run (``tests/fixtures/databases.py``); each test gets a database
of its own, dropped afterwards. ``database`` and everything built on it run on both.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from core.settings import Settings
from db.database import Database, open_database
from db.seed import seed_breeds

POSTGRES_ENV = "BREEDBENCH_TEST_POSTGRES_URL"

# Fixtures shared across test folders (tests mirror the packages; fixtures serve several).
pytest_plugins = [
    "tests.fixtures.app",
    "tests.fixtures.databases",
    "tests.fixtures.crawl_jobs",
    "tests.fixtures.assist",
    "tests.fixtures.evaluation",
    "tests.fixtures.detection",
    "tests.fixtures.permissions",
    "tests.fixtures.real_runs",
    "tests.fixtures.seeding",
    "tests.fixtures.suspects",
    "tests.fixtures.workspace",
]


@pytest.fixture(autouse=True)
def _isolated_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """No test reads the developer's own BREEDBENCH_* settings."""
    for key in list(os.environ):
        if (
            key.startswith("BREEDBENCH_")
            and key != POSTGRES_ENV
            and not key.startswith("BREEDBENCH_TEST_")
        ):
            monkeypatch.delenv(key)


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    return tmp_path / "data"


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'test.db'}"


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest) -> str:
    """Parametrizes a test over both supported databases."""
    if request.param == "sqlite":
        return request.getfixturevalue("sqlite_url")
    return request.getfixturevalue("postgres_url")


@pytest.fixture
def settings(data_dir: Path, database_url: str) -> Settings:
    """Settings of this test's database: SQLite, and again PostgreSQL (``database_backend``)."""
    return Settings(data_dir=data_dir, database_url=database_url)


def _open_seeded(settings: Settings) -> Database:
    db = open_database(settings)
    with db.session() as s:
        seed_breeds(s)
    return db


@pytest.fixture
def database(settings: Settings) -> Iterator[Database]:
    """A migrated, seeded database with an image store (the everyday fixture), once on SQLite
    and once on PostgreSQL."""
    db = _open_seeded(settings)
    yield db
    db.dispose()


@pytest.fixture
def any_database(data_dir: Path, db_url: str) -> Iterator[Database]:
    """Like ``database``, once on SQLite and once on PostgreSQL."""
    db = _open_seeded(Settings(data_dir=data_dir, database_url=db_url))
    yield db
    db.dispose()


@pytest.fixture(scope="session")
def tiny_models(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    """One tiny CNN trained per session, as .keras, classic and batchable .pb, and .tflite
    (float, dynamic range, int8 and uint8 I/O); see ``tests/modelkit.py``. About 10 s."""
    from tests.modelkit import build_tiny_models

    return build_tiny_models(tmp_path_factory.mktemp("tiny_models"))
