"""Alembic, driven from code: the CLI and the app bring any older database up to date.

The migration scripts live in the top-level ``alembic/`` folder; ``alembic.ini`` there works for
the ``alembic`` command too, but users never need it: ``breedbench db upgrade`` does the same.
"""

from __future__ import annotations

from pathlib import Path

from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.util import CommandError
from sqlalchemy import Engine
from sqlalchemy.exc import DBAPIError, SQLAlchemyError

from alembic import command
from core.errors import BreedbenchError
from core.urls import scrub
from db.engine import database_error

ALEMBIC_DIR = Path(__file__).resolve().parent.parent / "alembic"


def alembic_config(engine: Engine) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(ALEMBIC_DIR))
    cfg.attributes["engine"] = engine
    return cfg


def head_revision() -> str:
    return ScriptDirectory(str(ALEMBIC_DIR)).get_current_head() or ""


def current_revision(engine: Engine) -> str | None:
    """The database's revision, or None for an empty database."""
    try:
        with engine.connect() as conn:
            return MigrationContext.configure(conn).get_current_revision()
    except DBAPIError as exc:  # cannot connect, or not a database / damaged
        raise database_error(exc, engine, "open") from exc


def check_not_newer(engine: Engine) -> str | None:
    """Refuse a database written by a newer breedbench: its revision is unknown to us."""
    rev = current_revision(engine)
    if rev is not None:
        script = ScriptDirectory(str(ALEMBIC_DIR))
        try:
            script.get_revision(rev)
        except Exception as exc:  # alembic raises several types for an unknown revision
            raise BreedbenchError(
                f"the database schema (revision {rev}) is newer than this breedbench "
                f"(which knows up to {head_revision()}); upgrade breedbench to use it"
            ) from exc
    return rev


def upgrade(engine: Engine, revision: str = "head") -> None:
    check_not_newer(engine)
    _run(lambda cfg: command.upgrade(cfg, revision), engine)


def downgrade(engine: Engine, revision: str) -> None:
    check_not_newer(engine)
    _run(lambda cfg: command.downgrade(cfg, revision), engine)


def ensure_current(engine: Engine) -> None:
    """Upgrade to head when the database is older; a no-op (one query) when it is current."""
    if check_not_newer(engine) != head_revision():
        upgrade(engine)


def _run(fn, engine: Engine) -> None:  # type: ignore[no-untyped-def]
    try:
        fn(alembic_config(engine))
    except DBAPIError as exc:
        raise database_error(exc, engine, "migrate") from exc
    except (SQLAlchemyError, CommandError) as exc:  # CommandError: e.g. an unknown revision
        line = scrub(_first_line(exc), engine.url.render_as_string(hide_password=False))
        raise BreedbenchError(f"database migration failed: {line}") from exc


def _first_line(exc: BaseException) -> str:
    return (str(getattr(exc, "orig", None) or exc).strip().splitlines() or [type(exc).__name__])[0]
