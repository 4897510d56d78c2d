"""Exporting the curated set: a ``<breed>/<image>`` tree or a manifest, always with a datasheet.

The tree is the layout Keras' ``image_dataset_from_directory`` reads (one folder per class) and
``breedbench import ROOT`` reads back: ``<breed slug>/<sha256>.<ext>``, the original bytes copied
unchanged (their sha256 is checked while copying) and the extension taken from the sniffed
format, never from a URL. The manifest (CSV or JSON lines) carries each image's provenance and
license, because the set may only travel with them; ``folders`` writes it too. Its addresses are
http(s) only: a local path (``file://`` URLs recorded by older imports) is left out
(``review.manifest.portable``).

Nothing is overwritten by surprise: the target folder must be missing or empty unless ``force``
is given, and every file is written under a temporary name and renamed into place, so an
interrupted export never leaves a half-written image or manifest.
"""

from __future__ import annotations

import csv
import enum
import hashlib
import io
import json
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.errors import BreedbenchError
from core.files import atomic_write
from db.models import Breed, Image, ImageStatus
from db.store import ImageStoreProtocol
from review.datasheet import DATASHEET_NAME, build_datasheet
from review.manifest import MANIFEST_FIELDS, ManifestRow, portable


class ExportFormat(enum.StrEnum):
    FOLDERS = "folders"
    CSV = "csv"
    JSONL = "jsonl"


# Sniffed Pillow format → file extension. Keras reads .jpg/.jpeg/.png/.gif/.bmp.
EXTENSIONS = {
    "JPEG": ".jpg",
    "MPO": ".jpg",  # multi-picture JPEG (phone cameras): a JPEG to every reader
    "PNG": ".png",
    "GIF": ".gif",
    "BMP": ".bmp",
    "WEBP": ".webp",
    "TIFF": ".tiff",
}

MANIFEST_NAMES = {ExportFormat.CSV: "manifest.csv", ExportFormat.JSONL: "manifest.jsonl"}


@dataclass(frozen=True, slots=True)
class ExportResult:
    root: Path
    images: int
    files_written: int  # image files copied (an identical file already there is not rewritten)
    breeds: int
    manifest: Path
    datasheet: Path


def file_name(sha256: str, fmt: str) -> str:
    """The exported name of an image: its hash and the extension of its sniffed format."""
    ext = EXTENSIONS.get((fmt or "").upper())
    if ext is None:
        ext = "." + "".join(ch for ch in (fmt or "bin").lower() if ch.isalnum())[:8] or ".bin"
    return f"{sha256}{ext}"


def parse_status(value: str) -> list[ImageStatus] | None:
    """``accepted`` / ``pending`` / ``rejected`` / ``all`` (None: no filter)."""
    if value == "all":
        return None
    try:
        return [ImageStatus(value)]
    except ValueError:
        raise BreedbenchError(
            f"unknown status {value!r}: use accepted, pending, rejected or all"
        ) from None


def select_rows(
    session: Session, statuses: list[ImageStatus] | None
) -> tuple[list[ManifestRow], dict[int, str]]:
    """The images to export, in breed order then id order (a stable manifest), and each one's
    store path (image id → path, to copy the originals from)."""
    stmt = select(Image, Breed).join(Breed, Breed.id == Image.breed_id)
    if statuses is not None:
        stmt = stmt.where(Image.status.in_(statuses))
    stmt = stmt.order_by(Breed.position, Breed.id, Image.id)
    rows: list[ManifestRow] = []
    paths: dict[int, str] = {}
    for image, breed in session.execute(stmt).all():
        paths[image.id] = image.path
        rows.append(
            ManifestRow(
                breed=breed.slug,
                synset=breed.synset,
                file=f"{breed.slug}/{file_name(image.sha256, image.format)}",
                sha256=image.sha256,
                width=image.width,
                height=image.height,
                provenance=portable(image.provenance),
                image_id=image.id,
                status=ImageStatus(image.status).value,
            )
        )
    return rows, paths


def check_target(root: Path, force: bool) -> None:
    """Refuse a target that is a file, or a non-empty folder without ``force``."""
    if root.exists() and not root.is_dir():
        raise BreedbenchError(f"{root} is a file: give a folder to export into")
    if root.is_dir() and not force and any(root.iterdir()):
        raise BreedbenchError(
            f"{root} is not empty: choose an empty or new folder, or pass --force to write "
            "into it (existing files with the same names are replaced, nothing else is removed)"
        )


def export_dataset(
    session: Session,
    store: ImageStoreProtocol,
    root: Path,
    fmt: ExportFormat | str,
    *,
    status: str = "accepted",
    force: bool = False,
    min_reviews: int | None = None,
) -> ExportResult:
    """Write the set to ``root``: images (``folders``), the manifest and the datasheet."""
    fmt = ExportFormat(fmt)
    statuses = parse_status(status)
    root = Path(root)
    check_target(root, force)
    rows, paths = select_rows(session, statuses)
    if not rows:
        raise BreedbenchError(
            f"no images with status {status!r} to export (see `breedbench status`)"
        )
    if fmt == ExportFormat.FOLDERS:
        missing = [r.image_id for r in rows if not store.exists(paths[r.image_id])]
        if missing:
            shown = ", ".join(str(i) for i in missing[:10])
            raise BreedbenchError(
                f"{len(missing)} image(s) have no original in the store (ids {shown}"
                f"{', ...' if len(missing) > 10 else ''}); nothing was exported"
            )
    try:
        root.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise BreedbenchError(f"cannot create {root}: {exc.strerror}") from exc

    written = 0
    if fmt == ExportFormat.FOLDERS:
        for row in rows:
            written += _copy_original(store, paths[row.image_id], row, root)
    manifest_fmt = ExportFormat.JSONL if fmt == ExportFormat.JSONL else ExportFormat.CSV
    manifest = root / MANIFEST_NAMES[manifest_fmt]
    atomic_write(manifest, render_manifest(rows, manifest_fmt).encode("utf-8"))
    datasheet = root / DATASHEET_NAME
    text = build_datasheet(session, rows, status=status, fmt=fmt.value, min_reviews=min_reviews)
    atomic_write(datasheet, text.encode("utf-8"))
    return ExportResult(
        root=root,
        images=len(rows),
        files_written=written,
        breeds=len({r.breed for r in rows}),
        manifest=manifest,
        datasheet=datasheet,
    )


def _copy_original(store: ImageStoreProtocol, store_path: str, row: ManifestRow, root: Path) -> int:
    """Copy one original, byte for byte; returns 1 when a file was written."""
    target = root / row.file
    if target.is_file() and target.stat().st_size > 0 and _sha256_file(target) == row.sha256:
        return 0
    data = store.read(store_path)
    digest = hashlib.sha256(data).hexdigest()
    if digest != row.sha256:
        raise BreedbenchError(
            f"image {row.image_id}: the stored original does not match its sha256 "
            f"(store file {store_path} is damaged); export stopped"
        )
    atomic_write(target, data)
    return 1


def _sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def render_manifest(rows: Iterable[ManifestRow], fmt: ExportFormat) -> str:
    """CSV with a header row, or one JSON object per line (keys in ``MANIFEST_FIELDS`` order).

    CSV lines end in CRLF (RFC 4180): the writer quotes a cell holding any character of the line
    ending, so a carriage return inside a creator or title stays inside its quoted cell instead of
    splitting the row for every reader.
    """
    if fmt == ExportFormat.JSONL:
        return "".join(json.dumps(r.record(), ensure_ascii=False) + "\n" for r in rows)
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=MANIFEST_FIELDS, lineterminator="\r\n")
    writer.writeheader()
    for r in rows:
        writer.writerow({k: ("" if v is None else v) for k, v in r.record().items()})
    return buf.getvalue()
