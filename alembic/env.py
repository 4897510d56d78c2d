"""Alembic environment: uses the engine breedbench hands over, or ``BREEDBENCH_*`` settings."""

from __future__ import annotations

from sqlalchemy import Engine

from alembic import context
from db.models import Base

config = context.config
target_metadata = Base.metadata


def _engine() -> Engine:
    engine = config.attributes.get("engine")
    if engine is not None:
        return engine
    # Run as the plain ``alembic`` command: same settings as the CLI.
    from core.settings import load_settings
    from db.engine import make_engine

    return make_engine(load_settings().resolved_database_url())


def run_migrations_offline() -> None:
    from core.settings import load_settings

    context.configure(
        url=load_settings().resolved_database_url(),
        target_metadata=target_metadata,
        literal_binds=True,
        render_as_batch=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    engine = _engine()
    with engine.connect() as connection:
        context.configure(
            connection=connection,
            target_metadata=target_metadata,
            # SQLite cannot ALTER most things: batch mode copies the table instead.
            render_as_batch=connection.dialect.name == "sqlite",
        )
        with context.begin_transaction():
            context.run_migrations()
        connection.commit()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
