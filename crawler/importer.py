"""Folder import: ``ROOT/<breed>/*`` through the same validation and dedup as the crawl.

A breed folder is named by its slug (``german_short-haired_pointer``, as ``breedbench`` exports
write them) or Stanford-style (``n02100236-German_short-haired_pointer``: the synset decides).
Folders that name no known breed are reported and skipped, never guessed; their sub-folders are
not read. With ``accept`` every imported image gets an ``accept`` decision by ``reviewer`` (a set
that was already vetted); an image that is already in the database for that breed and still
pending is accepted too, so running the import again with ``--accept`` finishes an import made
without it.

Nothing in the tree is trusted (``crawler.localfiles``): a folder or file whose real path leaves
ROOT is refused (``outside_root``), a file over the size limit is refused from its size before it
is read, and a file reached under several names is imported once (``same_file``): by the breed
folder it really lives in when it is reached through a link, else (hard links, a shared folder
outside the breed folders) under the first name in folder order.

Each image is one unit — original, thumbnail, row and accept decision — committed together or
not at all (``crawler.storing``): a failure or Ctrl-C leaves every image either complete or
absent, and running the same import again brings in the rest.

A portable ``breedbench export`` wrote WebP, TIFF, GIF and BMP originals as PNG; such a file is
recognised as the stored image it came from (same breed, pixels verified: ``crawler.exported``)
and counted as a ``duplicate`` of it, accepted with ``accept`` when still pending, like a file
with the original's own bytes.

An imported row records no URL: the file's local path would leak into every export and mean
nothing on another machine, and a path relative to ROOT is not an address anyone can fetch.
Its provenance is ``source = "import"`` and its import run (``crawl_run_id``).
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from core.errors import BreedbenchError
from crawler.dedup import DedupIndex, Verdict
from crawler.exported import Origin, origin_of, read_origins, recognise
from crawler.localfiles import FileKey, read_tree_file, real_path_inside
from crawler.storing import WithinUnit, store_valid
from crawler.validation import DEFAULT_MAX_BYTES, DEFAULT_MAX_PIXELS, Refusal, validate_image
from db.breeds import normalise_label, parse_stanford_folder
from db.crawl_runs import process_fields
from db.database import Database
from db.image_dates import NO_DATES
from db.images import ImageMeta
from db.models import Breed, CrawlRun, Decision, Image, ImageStatus, RunStatus, utcnow
from db.provenance import Provenance
from db.reviews import record_decision

IMPORT_SOURCE = "import"
ACCEPT_REASON = "import --accept"
# Outcomes that mean "already there" rather than "refused".
DUPLICATE_OUTCOMES = ("duplicate", "near_duplicate", "same_file")


@dataclass
class ImportReport:
    run_id: int
    counts: dict[str, Counter[str]] = field(default_factory=dict)  # slug → outcome → n
    unknown_folders: list[str] = field(default_factory=list)
    accepted: int = 0

    def total(self, outcome: str) -> int:
        return sum(c[outcome] for c in self.counts.values())


@dataclass(frozen=True)
class _Options:
    root: Path  # real path
    breed_dirs: frozenset[Path]  # the breed folders that are folders, not links (real paths)
    accept: bool
    reviewer: str
    min_side: int
    max_bytes: int
    max_pixels: int
    origins: dict[str, Origin] = field(default_factory=dict)  # a portable export's manifest


def breed_folders(session: Session, root: Path) -> tuple[list[tuple[Path, int, str]], list[str]]:
    """``[(folder, breed_id, slug)]`` for the folders under ``root`` that name a breed."""
    breeds = list(session.execute(select(Breed.id, Breed.slug, Breed.synset)))
    by_synset = {syn: (bid, slug) for bid, slug, syn in breeds if syn}
    by_label = {normalise_label(slug): (bid, slug) for bid, slug, _ in breeds}
    found: list[tuple[Path, int, str]] = []
    unknown: list[str] = []
    for folder in sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")):
        synset, name = parse_stanford_folder(folder.name)
        hit = by_synset.get(synset) if synset else None
        hit = hit or by_label.get(normalise_label(name))
        if hit is None:
            unknown.append(folder.name)
        else:
            found.append((folder, *hit))
    return found, unknown


def folder_entries(folder: Path) -> Iterator[Path]:
    """What an import reads from a breed folder, in name order: every entry but hidden names and
    sub-folders (a link to a folder is read, and refused, so that it is counted)."""
    for path in sorted(folder.iterdir()):
        if path.name.startswith(".") or (path.is_dir() and not path.is_symlink()):
            continue
        yield path


def import_folder(
    db: Database,
    root: Path,
    *,
    accept: bool = False,
    reviewer: str | None = None,
    min_side: int | None = None,
    on_file: Callable[[str, str], None] | None = None,
) -> ImportReport:
    if accept and not (reviewer or "").strip():
        raise BreedbenchError("--accept needs --reviewer NAME (whose decision it is)")
    if not root.is_dir():
        raise BreedbenchError(f"import folder {root} does not exist or is not a folder")
    real_root = Path(os.path.realpath(root))
    with db.session() as s:
        folders, unknown = breed_folders(s, real_root)
    if not folders:
        raise BreedbenchError(
            f"no breed folders in {root}: expected {root}/<breed slug>/ or "
            f"{root}/n02085620-Chihuahua/ (found: {', '.join(unknown[:5]) or 'nothing'})"
        )
    options = _Options(
        root=real_root,
        breed_dirs=frozenset(f for f, _, _ in folders if not f.is_symlink()),
        accept=accept,
        reviewer=(reviewer or "").strip(),
        min_side=min_side if min_side is not None else db.settings.crawl_min_side,
        max_bytes=db.settings.crawl_max_bytes or DEFAULT_MAX_BYTES,
        max_pixels=db.settings.crawl_max_pixels or DEFAULT_MAX_PIXELS,
        origins=read_origins(real_root),
    )
    with db.session() as s:
        index = DedupIndex.load(s)
        run = CrawlRun(
            kind="import",
            status=RunStatus.RUNNING,
            settings={"root": str(root), "accept": accept, "reviewer": reviewer},
            **process_fields(),  # an import killed outright is found and marked interrupted
        )
        s.add(run)
        s.flush()
        report = ImportReport(run.id, unknown_folders=unknown)
    status = RunStatus.FAILED
    seen: set[FileKey] = set()
    try:
        for folder, breed_id, slug in folders:
            counts = report.counts.setdefault(slug, Counter())
            for outcome in _import_breed_folder(db, index, options, folder, breed_id, report, seen):
                counts[outcome] += 1
                if on_file is not None:
                    on_file(slug, outcome)
        status = RunStatus.FINISHED
    except KeyboardInterrupt:
        status = RunStatus.INTERRUPTED
        raise
    finally:
        stats = {
            "breeds": {slug: dict(c) for slug, c in report.counts.items()},
            "unknown_folders": report.unknown_folders,
            "accepted": report.accepted,
        }
        with db.session() as s:
            s.execute(
                update(CrawlRun)
                .where(CrawlRun.id == report.run_id)
                .values(status=status, stats=stats, finished_at=utcnow())
            )
    return report


def _import_breed_folder(
    db: Database,
    index: DedupIndex,
    options: _Options,
    folder: Path,
    breed_id: int,
    report: ImportReport,
    seen: set[FileKey],
) -> Iterator[str]:
    """The outcome of each file of ``folder``, imported one by one (or one outcome for a
    folder that is refused whole)."""
    if real_path_inside(folder, options.root) is None:  # a link to a folder elsewhere
        yield "outside_root"
        return
    try:
        entries = list(folder_entries(folder))
    except OSError:  # a folder that cannot be listed
        yield "unreadable"
        return
    for path in entries:
        yield _import_one(db, index, options, path, breed_id, report, seen)


def _import_one(
    db: Database,
    index: DedupIndex,
    options: _Options,
    path: Path,
    breed_id: int,
    report: ImportReport,
    seen: set[FileKey],
) -> str:
    """Import one file as one unit; returns its outcome (``stored``, a verdict or a refusal)."""
    if _lives_in_another_breed_folder(path, options.breed_dirs):
        return "same_file"
    try:
        data = read_tree_file(path, options.root, options.max_bytes, seen)
        valid = validate_image(
            data,
            min_side=options.min_side,
            max_bytes=options.max_bytes,
            max_pixels=options.max_pixels,
        )
    except Refusal as r:
        return r.reason
    origin = origin_of(path, options.root, options.origins)
    if origin is not None and not index.has_sha(valid.sha256):
        original_id = recognise(db, origin, valid, breed_id)
        if original_id is not None:  # a portable export's PNG of an image stored for the breed
            if options.accept:
                report.accepted += int(_accept_if_pending(db, original_id, options.reviewer))
            return str(Verdict.DUPLICATE)
    result, image_id = store_valid(
        db,
        index,
        valid.data,
        valid.facts(),
        breed_id,
        ImageMeta(Provenance(source=IMPORT_SOURCE), dates=origin.dates if origin else NO_DATES),
        report.run_id,
        decoded=valid.image,
        within=_accept_by(options.reviewer) if options.accept else None,
    )
    if image_id is not None:
        report.accepted += int(options.accept)
        return "stored"
    if options.accept and result.verdict is Verdict.DUPLICATE and result.same_breed:
        report.accepted += int(_accept_if_pending(db, result.same_breed.image_id, options.reviewer))
    return str(result.verdict)


def _lives_in_another_breed_folder(path: Path, breed_dirs: frozenset[Path]) -> bool:
    """Whether a breed folder of this import reads the file behind ``path`` under its own name
    (``path`` is in a link to that folder, or is a link to a file in it): that folder imports it,
    for its own breed, whichever folder comes first."""
    folder = Path(os.path.realpath(path.parent))
    if folder != path.parent and folder in breed_dirs:
        return True
    real = Path(os.path.realpath(path))
    return (
        real != path
        and real.parent in breed_dirs
        and not real.name.startswith(".")
        and real.exists()  # a dangling link is this entry's to report
    )


def _accept_by(reviewer: str) -> WithinUnit:
    """The accept decision, written in the new image's own transaction."""

    def decide(session: Session, image_id: int) -> None:
        record_decision(session, image_id, reviewer, Decision.ACCEPT, reason=ACCEPT_REASON)

    return decide


def _accept_if_pending(db: Database, image_id: int, reviewer: str) -> bool:
    """Accept an image already stored for the breed when it is still pending (an earlier import
    without ``--accept``); the status is read in the deciding transaction."""
    with db.session() as s:
        status = s.scalar(select(Image.status).where(Image.id == image_id))
        if status != ImageStatus.PENDING:
            return False
        record_decision(s, image_id, reviewer, Decision.ACCEPT, reason=ACCEPT_REASON)
    return True
