"""Migrations run up, down and up again, on SQLite and PostgreSQL, and match the models."""

from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect, text

from core.errors import BreedbenchError
from db import migrate
from db.engine import make_engine
from db.models import Base


def test_up_down_up(db_url: str) -> None:
    engine = make_engine(db_url)
    try:
        migrate.upgrade(engine)
        assert migrate.current_revision(engine) == migrate.head_revision()
        tables = set(inspect(engine).get_table_names())
        assert {"breeds", "images", "reviews", "eval_runs", "predictions"} <= tables
        migrate.downgrade(engine, "base")
        assert migrate.current_revision(engine) is None
        assert set(inspect(engine).get_table_names()) <= {"alembic_version"}
        migrate.upgrade(engine)
        assert migrate.current_revision(engine) == migrate.head_revision()
    finally:
        engine.dispose()


def test_migrations_match_models(db_url: str) -> None:
    """A model change without its migration fails here, not on a user's database."""
    engine = make_engine(db_url)
    try:
        migrate.upgrade(engine)
        with engine.connect() as conn:
            diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
        assert diff == []
    finally:
        engine.dispose()


def test_newer_schema_is_refused(sqlite_url: str) -> None:
    engine = make_engine(sqlite_url)
    try:
        migrate.upgrade(engine)
        with engine.begin() as conn:
            conn.execute(text("UPDATE alembic_version SET version_num = '9999_future'"))
        with pytest.raises(BreedbenchError, match="newer than this breedbench"):
            migrate.ensure_current(engine)
    finally:
        engine.dispose()


def test_older_database_is_upgraded_on_open(sqlite_url: str, data_dir) -> None:
    from core.settings import Settings
    from db.database import open_database

    engine = make_engine(sqlite_url)
    migrate.upgrade(engine)
    migrate.downgrade(engine, "base")
    engine.dispose()
    db = open_database(Settings(data_dir=data_dir, database_url=sqlite_url))
    try:
        assert migrate.current_revision(db.engine) == migrate.head_revision()
    finally:
        db.dispose()
