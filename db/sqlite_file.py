"""A SQLite file looked at before breedbench opens it, and SQLite's own verdicts in one line.

``--db`` takes any path, so it may name a folder, a text file, a photo, another application's
database or a damaged copy. Opening such a file the normal way would fail deep inside SQLAlchemy
with a traceback, or worse, turn it to WAL mode and create breedbench's tables in it. These checks
read, never write: the header's 16 bytes, then the table names through a read-only, lock-free
connection (``immutable=1``: no ``-wal``/``-shm`` files appear beside the user's file).
"""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

from sqlalchemy.exc import DBAPIError

from core.errors import BreedbenchError

SQLITE_MAGIC = b"SQLite format 3\x00"
HEADER_SIZE = 100  # every SQLite file starts with a 100-byte header
# Primary result codes (the low byte of an extended code) that mean "not a usable database".
SQLITE_CORRUPT = 11
SQLITE_NOTADB = 26
OUR_MARKER_TABLE = "alembic_version"  # every database breedbench wrote has it
_ADVICE = "restore it from a backup, or point --db at a new file"


def check_sqlite_file(path: Path) -> None:
    """Refuse, in one line naming ``path``, a file that is not a usable breedbench database.

    A missing or empty file is fine (SQLite makes a new database of it).
    """
    if path.is_dir():
        raise BreedbenchError(
            f"database {path} is a folder, not a file: point --db at a file "
            f"(e.g. {path / 'breedbench.db'})"
        )
    if not path.exists():
        return
    try:
        with path.open("rb") as fh:
            header = fh.read(HEADER_SIZE)
    except OSError as exc:
        raise BreedbenchError(f"database file {path} cannot be read: {exc.strerror}") from exc
    if not header:
        return
    if header[: len(SQLITE_MAGIC)] != SQLITE_MAGIC[: len(header)]:
        raise BreedbenchError(
            f"database file {path} is not a SQLite database (it does not start with SQLite's "
            "header): point --db at breedbench's database, or at a new file"
        )
    if len(header) < HEADER_SIZE:
        raise BreedbenchError(
            f"database file {path} is damaged (truncated to {len(header)} bytes): {_ADVICE}"
        )
    if not os.access(path, os.W_OK):
        raise BreedbenchError(
            f"database file {path} is read-only: breedbench writes to it (fix its permissions)"
        )
    tables = _table_names(path)
    if tables and OUR_MARKER_TABLE not in tables:
        shown = ", ".join(sorted(tables)[:5]) + (", …" if len(tables) > 5 else "")
        raise BreedbenchError(
            f"database file {path} belongs to another application (tables: {shown}), not "
            "breedbench: point --db at breedbench's database, or at a new file"
        )


def _table_names(path: Path) -> set[str]:
    """The file's table names, read without locks or writes; empty when SQLite cannot tell.

    A read that fails here proves nothing (another process may be checkpointing, which a
    lock-free reader can see half-done): the normal connection that follows then decides, and
    ``damaged_database_error`` words its error.
    """
    uri = f"{path.resolve().as_uri()}?mode=ro&immutable=1"
    try:
        conn = sqlite3.connect(uri, uri=True)
    except sqlite3.Error:
        return set()
    try:
        rows = conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'").fetchall()
    except sqlite3.Error:
        return set()
    finally:
        conn.close()
    return {str(name) for (name,) in rows if not str(name).startswith("sqlite_")}


def damaged_database_error(exc: BaseException, database: str | None) -> BreedbenchError | None:
    """The one-line error for SQLite saying the file is damaged or not a database (else None)."""
    orig = exc.orig if isinstance(exc, DBAPIError) else exc
    if not isinstance(orig, sqlite3.DatabaseError):
        return None
    code = (getattr(orig, "sqlite_errorcode", 0) or 0) & 0xFF
    if code not in (SQLITE_CORRUPT, SQLITE_NOTADB):
        return None
    where = f"database file {database}" if database else "the database"
    if code == SQLITE_NOTADB:
        return BreedbenchError(
            f"{where} is not a SQLite database ({orig}): point --db at breedbench's database, "
            "or at a new file"
        )
    return BreedbenchError(f"{where} is damaged ({orig}): {_ADVICE}")
