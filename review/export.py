"""Exporting the curated set: a ``<breed>/<image>`` tree or a manifest, always with a datasheet.

The tree is the layout every common loader reads (one folder per class): Keras'
``image_dataset_from_directory``, torchvision's ``ImageFolder``, Hugging Face's ``imagefolder``
(through ``metadata.jsonl``, ``review.imagefolder``) and ``breedbench import ROOT``. Each image
is ``<breed slug>/<sha256 of the original>.<ext>``. With ``ImageFormat.PORTABLE`` (the default)
JPEG and PNG originals are copied byte for byte and every other format is written as a lossless
PNG (``db.portable_images``): Keras silently skips WebP and TIFF. With ``ImageFormat.ORIGINAL``
every original is copied unchanged, its extension taken from the sniffed format, never from a
URL. Either way the stored bytes' sha256 is checked before they are used. The manifest (CSV or
JSON lines) carries each image's provenance and license, because the set may only travel with
them, and both hashes: the original's (``sha256``) and the exported file's (``file_sha256``).
Its addresses are http(s) only: a local path (``file://`` URLs recorded by older imports) is
left out (``review.manifest.portable``).

PATH means what it says: for ``csv`` and ``jsonl``, a PATH ending in the format's extension is
the manifest file itself, its datasheet beside it as ``<stem>.DATASHEET.md`` (two manifests in
one folder keep their own datasheets); any other PATH is a folder that receives
``manifest.csv`` / ``manifest.jsonl`` and ``DATASHEET.md``. A ``folders`` export is always a
folder.

Nothing is overwritten by surprise: a target folder must be missing or empty, and a target
manifest file and its datasheet must not exist, unless ``force`` is given; every file is
written under a temporary name and renamed into place, so an interrupted export never leaves a
half-written image or manifest.
"""

from __future__ import annotations

import csv
import enum
import hashlib
import io
import json
from collections.abc import Iterable
from dataclasses import dataclass, replace
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.errors import BreedbenchError
from core.files import atomic_write
from db.image_dates import ImageDates
from db.models import Breed, Image, ImageStatus
from db.portable_images import is_kept, to_png
from db.store import ImageStoreProtocol
from review.datasheet import DATASHEET_NAME, ExportedFiles, build_datasheet
from review.imagefolder import METADATA_NAME, render_metadata
from review.manifest import MANIFEST_FIELDS, ManifestRow, portable


class ExportFormat(enum.StrEnum):
    FOLDERS = "folders"
    CSV = "csv"
    JSONL = "jsonl"


class ImageFormat(enum.StrEnum):
    """How a ``folders`` export writes images: JPEG/PNG kept and the rest as PNG, or all kept."""

    PORTABLE = "portable"
    ORIGINAL = "original"


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
MANIFEST_SUFFIXES = {ExportFormat.CSV: ".csv", ExportFormat.JSONL: ".jsonl"}


@dataclass(frozen=True, slots=True)
class Targets:
    """Where one export writes. ``folder``: PATH is a folder the export fills (else PATH is the
    manifest file, ``root`` its folder); ``metadata``: the imagefolder file (folders only)."""

    root: Path
    folder: bool
    manifest: Path
    datasheet: Path
    metadata: Path | None


@dataclass(frozen=True, slots=True)
class ExportResult:
    root: Path  # the folder holding the export (PATH, or the manifest file's folder)
    images: int
    files_written: int  # image files written (an identical file already there is not rewritten)
    converted: int  # images exported as PNG from another format
    breeds: int
    manifest: Path
    datasheet: Path
    metadata: Path | None


def file_name(sha256: str, fmt: str, image_format: ImageFormat = ImageFormat.ORIGINAL) -> str:
    """The exported name of an image: its original's hash and the extension of the format it
    is written in (its sniffed format, or PNG when a portable export converts it)."""
    if image_format == ImageFormat.PORTABLE and not is_kept(fmt):
        return f"{sha256}.png"
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


def targets(path: Path, fmt: ExportFormat) -> Targets:
    """The files an export to ``path`` writes, by the PATH rule (module docstring); a PATH whose
    extension names another format is refused rather than made a folder of that name."""
    suffix = path.suffix.lower()
    if fmt == ExportFormat.FOLDERS:
        if suffix in MANIFEST_SUFFIXES.values():
            raise BreedbenchError(
                f"{path} names a {suffix} file, and --format folders writes a folder of images: "
                f"give a folder name, or use --format {suffix[1:]} to write the manifest alone"
            )
        manifest = path / MANIFEST_NAMES[ExportFormat.CSV]
        return Targets(path, True, manifest, path / DATASHEET_NAME, path / METADATA_NAME)
    own = MANIFEST_SUFFIXES[fmt]
    if suffix == own:
        datasheet = path.with_name(f"{path.stem}.{DATASHEET_NAME}")
        return Targets(path.parent, False, path, datasheet, None)
    if suffix in MANIFEST_SUFFIXES.values():
        raise BreedbenchError(
            f"{path} names a {suffix} file, and --format {fmt.value} writes {own}: use "
            f"--format {suffix[1:]}, or a PATH ending in {own} (or a folder)"
        )
    return Targets(path, True, path / MANIFEST_NAMES[fmt], path / DATASHEET_NAME, None)


def check_targets(target: Targets, force: bool) -> None:
    """Refuse to overwrite anything without ``force``: a non-empty folder, an existing manifest
    file or its datasheet; and refuse a folder where a file is meant, or a file where a folder."""
    if target.folder:
        root = target.root
        if root.exists() and not root.is_dir():
            raise BreedbenchError(f"{root} is a file: give a folder to export into")
        if root.is_dir() and not force and any(root.iterdir()):
            raise BreedbenchError(
                f"{root} is not empty: choose an empty or new folder, or pass --force to write "
                "into it (existing files with the same names are replaced, nothing else is "
                "removed)"
            )
        return
    if target.root.exists() and not target.root.is_dir():
        raise BreedbenchError(f"{target.root} is a file: the manifest needs a folder to go in")
    for path in (target.manifest, target.datasheet):
        if path.is_dir():
            raise BreedbenchError(f"{path} is a folder: give a file name for the manifest")
    existing = [p for p in (target.manifest, target.datasheet) if p.exists() or p.is_symlink()]
    if existing and not force:
        raise BreedbenchError(
            f"{existing[0]} already exists: choose another name, or pass --force to replace "
            f"{target.manifest.name} and {target.datasheet.name}"
        )


def select_rows(
    session: Session,
    statuses: list[ImageStatus] | None,
    image_format: ImageFormat = ImageFormat.PORTABLE,
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
                file=f"{breed.slug}/{file_name(image.sha256, image.format, image_format)}",
                sha256=image.sha256,
                width=image.width,
                height=image.height,
                provenance=portable(image.provenance),
                image_id=image.id,
                status=ImageStatus(image.status).value,
                original_format=image.format,
                dates=ImageDates.of(image),
            )
        )
    return rows, paths


def export_dataset(
    session: Session,
    store: ImageStoreProtocol,
    path: Path,
    fmt: ExportFormat | str,
    *,
    status: str = "accepted",
    force: bool = False,
    min_reviews: int | None = None,
    image_format: ImageFormat | str = ImageFormat.PORTABLE,
) -> ExportResult:
    """Write the set to ``path``: images (``folders``), the manifest, the imagefolder metadata
    (``folders``) and the datasheet."""
    fmt = ExportFormat(fmt)
    image_format = ImageFormat(image_format)
    statuses = parse_status(status)
    target = targets(Path(path), fmt)
    check_targets(target, force)
    rows, paths = select_rows(session, statuses, image_format)
    if not rows:
        raise BreedbenchError(
            f"no images with status {status!r} to export (see `breedbench status`)"
        )
    folders = fmt == ExportFormat.FOLDERS
    if folders:
        missing = [r.image_id for r in rows if not store.exists(paths[r.image_id])]
        if missing:
            shown = ", ".join(str(i) for i in missing[:10])
            raise BreedbenchError(
                f"{len(missing)} image(s) have no original in the store (ids {shown}"
                f"{', ...' if len(missing) > 10 else ''}); nothing was exported"
            )
    try:
        target.root.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise BreedbenchError(f"cannot create {target.root}: {exc.strerror}") from exc

    written = converted = 0
    if folders:
        exported: list[ManifestRow] = []
        for row in rows:
            done, wrote = _export_image(store, paths[row.image_id], row, target.root, image_format)
            exported.append(done)
            written += wrote
            converted += int(
                image_format == ImageFormat.PORTABLE and not is_kept(row.original_format)
            )
        rows = exported
    manifest_fmt = ExportFormat.JSONL if fmt == ExportFormat.JSONL else ExportFormat.CSV
    atomic_write(target.manifest, render_manifest(rows, manifest_fmt).encode("utf-8"))
    if target.metadata is not None:
        atomic_write(target.metadata, render_metadata(rows).encode("utf-8"))
    files = ExportedFiles(
        manifest=target.manifest.name,
        image_format=image_format.value if folders else None,
        converted=converted,
        metadata=target.metadata.name if target.metadata is not None else None,
    )
    text = build_datasheet(
        session, rows, status=status, fmt=fmt.value, min_reviews=min_reviews, files=files
    )
    atomic_write(target.datasheet, text.encode("utf-8"))
    return ExportResult(
        root=target.root,
        images=len(rows),
        files_written=written,
        converted=converted,
        breeds=len({r.breed for r in rows}),
        manifest=target.manifest,
        datasheet=target.datasheet,
        metadata=target.metadata,
    )


def _export_image(
    store: ImageStoreProtocol,
    store_path: str,
    row: ManifestRow,
    root: Path,
    image_format: ImageFormat,
) -> tuple[ManifestRow, bool]:
    """Write one image (the original byte for byte, or its portable PNG); returns its manifest
    row with the written file's sha256, and whether a file was written (an identical file
    already at its name is left as it is)."""
    target = root / row.file
    keep = image_format == ImageFormat.ORIGINAL or is_kept(row.original_format)
    if keep and _same_file(target, row.sha256):  # checked before reading the store: cheap
        return replace(row, file_sha256=row.sha256), False
    data = store.read(store_path)
    if hashlib.sha256(data).hexdigest() != row.sha256:
        raise BreedbenchError(
            f"image {row.image_id}: the stored original does not match its sha256 "
            f"(store file {store_path} is damaged); export stopped"
        )
    if not keep:
        data = _converted(data, row)
    digest = hashlib.sha256(data).hexdigest()
    done = replace(row, file_sha256=digest)
    if not keep and _same_file(target, digest):
        return done, False
    atomic_write(target, data)
    return done, True


def _converted(data: bytes, row: ManifestRow) -> bytes:
    try:
        return to_png(data)
    except Exception as exc:  # noqa: BLE001 - Pillow raises many types for data it cannot write
        raise BreedbenchError(
            f"image {row.image_id}: its {row.original_format} original cannot be written as "
            f"PNG ({exc}); export stopped (--image-format original copies it unchanged)"
        ) from exc


def _same_file(path: Path, sha256: str) -> bool:
    """Whether ``path`` is a non-empty regular file with these bytes."""
    if not path.is_file() or path.is_symlink() or path.stat().st_size == 0:
        return False
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest() == sha256


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
