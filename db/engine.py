"""Engines and sessions, with the small differences between SQLite and PostgreSQL kept here."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import URL, Engine, create_engine, event, make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, NoSuchModuleError
from sqlalchemy.orm import Session, sessionmaker

from core.errors import BreedbenchError
from core.urls import mask_url, scrub
from db.sqlite_file import check_sqlite_file, damaged_database_error


def make_engine(url: str) -> Engine:
    """An engine for ``url``; a URL or file we cannot use becomes a one-line ``BreedbenchError``.

    SQLite gets WAL (readers never block the one writer, so the review app and a crawl can run
    together), foreign keys on, and a busy timeout so two reviewers deciding at once wait rather
    than fail. A SQLite file is looked at first (``db.sqlite_file``): a folder, a file that is not
    SQLite or another application's database is refused before anything writes to it. Messages
    show the URL with its password masked.
    """
    try:
        parsed = make_url(url)
    except (ArgumentError, ValueError) as exc:  # ValueError: e.g. a port that is not a number
        raise BreedbenchError(
            f"database URL {mask_url(url)!r} is not valid: expected e.g. "
            "sqlite:///path/breedbench.db or postgresql+psycopg://user:password@host/dbname"
        ) from exc
    if parsed.get_backend_name() not in ("sqlite", "postgresql"):
        raise BreedbenchError(
            f"database URL {mask_url(url)!r}: only SQLite and PostgreSQL are supported"
        )
    path = sqlite_path(parsed)
    if path is not None:
        if not path.parent.is_dir():
            raise BreedbenchError(f"database folder {path.parent} does not exist")
        check_sqlite_file(path)
    try:
        engine = create_engine(parsed, pool_pre_ping=parsed.get_backend_name() != "sqlite")
    except (NoSuchModuleError, ModuleNotFoundError) as exc:
        raise BreedbenchError(
            f"database URL {mask_url(url)!r}: no driver for "
            f"{parsed.drivername!r} ({exc}); use sqlite:/// or postgresql+psycopg://"
        ) from exc
    if parsed.get_backend_name() == "sqlite":
        event.listen(engine, "connect", _sqlite_pragmas)
    return engine


def sqlite_path(url: URL) -> Path | None:
    """The file of a SQLite URL (None for another database, or SQLite in memory)."""
    if url.get_backend_name() != "sqlite" or url.database in (None, "", ":memory:"):
        return None
    return Path(url.database).expanduser().resolve()


def describe(engine: Engine) -> str:
    """The database as messages name it: the SQLite file, or the URL without its password."""
    path = sqlite_path(engine.url)
    return str(path) if path is not None else mask_url(engine.url.render_as_string())


def database_error(exc: BaseException, engine: Engine, doing: str) -> BreedbenchError:
    """A driver error as one line: a damaged file says so, anything else says what failed.

    ``doing`` completes "cannot ... <database>" (e.g. "open", "migrate"); the driver's first line
    follows, with any password of the URL scrubbed from it.
    """
    damaged = damaged_database_error(exc, _file_name(engine))
    if damaged is not None:
        return damaged
    orig = exc.orig if isinstance(exc, DBAPIError) and exc.orig is not None else exc
    first = (str(orig).strip().splitlines() or [type(orig).__name__])[0]
    url = engine.url.render_as_string(hide_password=False)
    return BreedbenchError(f"cannot {doing} the database {describe(engine)}: {scrub(first, url)}")


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
        except BaseException as exc:
            session.rollback()
            damaged = damaged_database_error(exc, _file_name(engine))
            if damaged is not None:  # SQLite finds damage only when it reads the damaged page
                raise damaged from exc
            raise


def _file_name(engine: Engine) -> str | None:
    """The SQLite file as ``db.sqlite_file`` names it in messages (None for another database)."""
    path = sqlite_path(engine.url)
    return str(path) if path is not None else None
