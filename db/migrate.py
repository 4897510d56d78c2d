"""Alembic, driven from code: the CLI and the app bring any older database up to date.

The migration scripts live in the top-level ``alembic/`` folder; ``alembic.ini`` there works for
the ``alembic`` command too, but users never need it: ``breedbench db upgrade`` does the same.
"""

from __future__ import annotations

from pathlib import Path

from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine
from sqlalchemy.exc import OperationalError, SQLAlchemyError

from alembic import command
from core.errors import BreedbenchError

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
    except OperationalError as exc:
        raise BreedbenchError(f"cannot open the database: {_first_line(exc)}") from exc


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
    except OperationalError as exc:
        raise BreedbenchError(f"database migration failed: {_first_line(exc)}") from exc
    except SQLAlchemyError as exc:
        raise BreedbenchError(f"database migration failed: {_first_line(exc)}") from exc


def _first_line(exc: BaseException) -> str:
    return str(getattr(exc, "orig", None) or exc).strip().splitlines()[0]
