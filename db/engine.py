"""Engines and sessions, with the small differences between SQLite and PostgreSQL kept here."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import Engine, create_engine, event, make_url
from sqlalchemy.exc import ArgumentError, NoSuchModuleError
from sqlalchemy.orm import Session, sessionmaker

from core.errors import BreedbenchError


def make_engine(url: str) -> Engine:
    """An engine for ``url``; a URL we cannot use becomes a one-line ``BreedbenchError``.

    SQLite gets WAL (readers never block the one writer, so the review app and a crawl can run
    together), foreign keys on, and a busy timeout so two reviewers deciding at once wait rather
    than fail.
    """
    try:
        parsed = make_url(url)
    except ArgumentError as exc:
        raise BreedbenchError(
            f"database URL {url!r} is not valid: expected e.g. sqlite:///path/breedbench.db "
            "or postgresql+psycopg://user:password@host/dbname"
        ) from exc
    if parsed.get_backend_name() not in ("sqlite", "postgresql"):
        raise BreedbenchError(
            f"database URL {parsed.render_as_string(hide_password=True)!r}: only SQLite and "
            "PostgreSQL are supported"
        )
    if parsed.get_backend_name() == "sqlite" and parsed.database not in (None, "", ":memory:"):
        parent = Path(parsed.database).expanduser().resolve().parent
        if not parent.is_dir():
            raise BreedbenchError(f"database folder {parent} does not exist")
    try:
        engine = create_engine(parsed, pool_pre_ping=parsed.get_backend_name() != "sqlite")
    except (NoSuchModuleError, ModuleNotFoundError) as exc:
        raise BreedbenchError(
            f"database URL {parsed.render_as_string(hide_password=True)!r}: no driver for "
            f"{parsed.drivername!r} ({exc}); use sqlite:/// or postgresql+psycopg://"
        ) from exc
    if parsed.get_backend_name() == "sqlite":
        event.listen(engine, "connect", _sqlite_pragmas)
    return engine


def _sqlite_pragmas(dbapi_conn, _record) -> None:  # type: ignore[no-untyped-def]
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA busy_timeout=15000")
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.close()


def session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)


@contextmanager
def session_scope(engine: Engine) -> Iterator[Session]:
    """A session that commits on success and rolls back on any error (nothing half-written)."""
    with Session(engine, expire_on_commit=False) as session:
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise
