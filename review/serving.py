"""Which review copies the app serves as files: only those of images in the database.

The browser's queue asks for ``/review-copies/<sha256>-<side>.jpg``. The name is the image's
content hash and the copy's size, so a file never changes under its name and the browser may
keep it for good (``immutable``). A name is served only when it is well formed, the side is the
configured one, and an image with that hash is in the database: nothing else on disk (no other
file, no path with ``..``) can be reached through it.
"""

from __future__ import annotations

import re
from pathlib import Path

from sqlalchemy import select

from core.errors import BreedbenchError
from db.database import Database
from db.models import Image
from review.images import ensure_copy, thumbnail

ROUTE = "/review-copies"
CACHE_CONTROL = "public, max-age=31536000, immutable"
_NAME = re.compile(r"([0-9a-f]{64})-([0-9]{2,5})\.jpg")


THUMB_ROUTE = "/review-thumbs"
_THUMB_NAME = re.compile(r"([0-9a-f]{64})\.jpg")


def thumb_url(sha256: str) -> str:
    """The stored 256 px thumbnail, for the queue's reference strip (made at store time)."""
    return f"{THUMB_ROUTE}/{sha256}.jpg"


def servable_thumb(db: Database, name: str) -> Path | None:
    """The thumbnail to send for ``name``; None unless it names an image in the database."""
    match = _THUMB_NAME.fullmatch(name)
    if match is None:
        return None
    with db.session() as s:
        if s.scalar(select(Image.id).where(Image.sha256 == match.group(1)).limit(1)) is None:
            return None
    try:
        return thumbnail(db.store, match.group(1))
    except (BreedbenchError, OSError):
        return None


def copy_url(sha256: str, side: int) -> str:
    return f"{ROUTE}/{sha256}-{side}.jpg"


def parse_copy_name(name: str) -> tuple[str, int] | None:
    """``(sha256, side)`` of a well-formed file name, else None."""
    match = _NAME.fullmatch(name)
    return (match.group(1), int(match.group(2))) if match else None


def servable_copy(db: Database, name: str, side: int) -> Path | None:
    """The file to send for ``name``, made now if the background has not made it yet; None when
    the name is not a review copy of an image in the database (or its original is gone)."""
    parsed = parse_copy_name(name)
    if parsed is None or parsed[1] != side:
        return None
    sha256 = parsed[0]
    with db.session() as s:
        if s.scalar(select(Image.id).where(Image.sha256 == sha256).limit(1)) is None:
            return None
    try:
        return ensure_copy(db.store, sha256, side)
    except BreedbenchError:
        return None
