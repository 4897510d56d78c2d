"""Recognising the images of a portable ``breedbench export`` when they are imported back.

A portable export writes a WebP, TIFF, GIF or BMP original as a PNG (``db.portable_images``):
new bytes, a new sha256, and, for a rotated original, a pHash the dedup does not match. So an
import of that tree would add each converted image again, beside the original it came from.
The export says where each file came from: its manifest (``manifest.csv`` at the root) maps
``file`` to the original's ``sha256`` and the file's own ``file_sha256``, and the file is named
by the original's sha256.

Neither is trusted. The manifest is read like any file of the tree (``crawler.localfiles``: inside
the root, a regular file, at most ``MAX_MANIFEST_BYTES``) and parsed defensively: a manifest that
is unreadable, not UTF-8, not CSV or over the limit is ignored as a whole, and a row with
anything but a relative file name and 64 hex digits is skipped. A claim, from the manifest or a
file name, only says which stored image to compare with: the file counts as that image only
when it is a PNG whose decoded pixels are exactly the portable picture of the stored original of
the same breed. A lying manifest can cost a decode, never hide a new image.
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from PIL import Image as PILImage
from sqlalchemy import select

from crawler.localfiles import read_tree_file
from crawler.validation import Refusal, ValidImage
from db.database import Database
from db.image_dates import DATE_FIELDS, NO_DATES, ImageDates, read_iso
from db.models import Image
from db.portable_images import same_picture

# The manifest a folders export writes at its root (``review.export``).
MANIFEST_NAME = "manifest.csv"
# About 70,000 rows of a typical manifest; far more than any test set.
MAX_MANIFEST_BYTES = 32 * 1024 * 1024
_SHA256 = re.compile(r"[0-9a-f]{64}", re.ASCII)


@dataclass(frozen=True, slots=True)
class Origin:
    """What an exported file claims to be: the original's sha256 and, when the manifest says,
    the exported file's own."""

    sha256: str
    file_sha256: str | None = None
    dates: ImageDates = NO_DATES  # the manifest's upload / capture / index dates, when readable


def read_origins(root: Path) -> dict[str, Origin]:
    """``file`` (relative to ``root``, ``/``-separated) → its claimed origin, from the manifest
    at ``root`` (a real path); empty when there is none or it cannot be read."""
    path = root / MANIFEST_NAME
    if not path.is_file():
        return {}
    try:
        data = read_tree_file(path, root, MAX_MANIFEST_BYTES, set())
    except Refusal:
        return {}
    return parse_origins(data)


def parse_origins(data: bytes) -> dict[str, Origin]:
    """The origins a manifest's bytes claim; ``{}`` for anything but a readable CSV manifest."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return {}
    origins: dict[str, Origin] = {}
    try:
        for row in csv.DictReader(io.StringIO(text, newline="")):
            file, sha = row.get("file"), row.get("sha256")
            if not isinstance(file, str) or not isinstance(sha, str) or not _is_relative(file):
                continue
            if not _SHA256.fullmatch(sha):
                continue
            own = row.get("file_sha256")
            own = own if isinstance(own, str) and _SHA256.fullmatch(own) else None
            dates = ImageDates(**{name: read_iso(row.get(name)) for name in DATE_FIELDS})
            origins[file] = Origin(sha, own, dates)
    except csv.Error:  # a malformed or oversized field: the whole manifest is ignored
        return {}
    return origins


def _is_relative(name: str) -> bool:
    """A plain relative path: no root, no drive, no ``..``, no backslash."""
    if not name or "\\" in name or "\x00" in name:
        return False
    parts = PurePosixPath(name).parts
    return not name.startswith("/") and ":" not in parts[0] and ".." not in parts


def origin_of(path: Path, root: Path, origins: dict[str, Origin]) -> Origin | None:
    """The origin ``path`` (a file under ``root``) claims: its manifest row, else a PNG named
    by a sha256 (``<sha256>.png``, as portable exports name a converted image)."""
    try:
        relative = path.relative_to(root).as_posix()
    except ValueError:
        return None
    found = origins.get(relative)
    if found is not None:
        return found
    if path.suffix.lower() == ".png" and _SHA256.fullmatch(path.stem):
        return Origin(path.stem)
    return None


def recognise(db: Database, origin: Origin, valid: ValidImage, breed_id: int) -> int | None:
    """The id of the stored image of ``breed_id`` that ``valid`` is the portable PNG of, if its
    claimed ``origin`` holds up (see the module docstring); else None."""
    if valid.format != "PNG" or origin.sha256 == valid.sha256:
        return None  # only conversions are PNGs of another file; the same bytes dedup anyway
    if origin.file_sha256 is not None and origin.file_sha256 != valid.sha256:
        return None  # not the file the export wrote
    with db.session() as s:
        found = s.execute(
            select(Image.id, Image.path)
            .where(Image.sha256 == origin.sha256, Image.breed_id == breed_id)
            .order_by(Image.id)
            .limit(1)
        ).first()
    if found is None:
        return None
    image_id, store_path = found
    try:
        original = db.store.read(store_path)
        exported = PILImage.open(io.BytesIO(valid.data))
        exported.load()
        return image_id if same_picture(exported, original) else None
    except Exception:  # noqa: BLE001 - a missing or undecodable file: not recognised
        return None
