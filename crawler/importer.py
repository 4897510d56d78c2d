"""Folder import: ``ROOT/<breed>/*`` through the same validation and dedup as the crawl.

A breed folder is named by its slug (``german_short-haired_pointer``, as ``breedbench`` exports
write them) or Stanford-style (``n02100236-German_short-haired_pointer``: the synset decides).
Folders that name no known breed are reported and skipped, never guessed. With ``accept`` every
imported image gets an ``accept`` decision by ``reviewer`` (a set that was already vetted); an
image that is already in the database for that breed and still pending is accepted too, so
running the import again with ``--accept`` finishes an import made without it.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from core.errors import BreedbenchError
from crawler.dedup import DedupIndex, Verdict
from crawler.storing import store_valid
from crawler.validation import DEFAULT_MAX_BYTES, DEFAULT_MAX_PIXELS, Refusal, validate_image
from db.breeds import normalise_label, parse_stanford_folder
from db.database import Database
from db.images import ImageMeta
from db.models import Breed, CrawlRun, Decision, Image, ImageStatus, RunStatus, utcnow
from db.provenance import Provenance
from db.reviews import record_decision

IMPORT_SOURCE = "import"


@dataclass
class ImportReport:
    run_id: int
    counts: dict[str, Counter[str]] = field(default_factory=dict)  # slug → outcome → n
    unknown_folders: list[str] = field(default_factory=list)
    accepted: int = 0

    def total(self, outcome: str) -> int:
        return sum(c[outcome] for c in self.counts.values())


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
    min_side = min_side if min_side is not None else db.settings.crawl_min_side
    with db.session() as s:
        folders, unknown = breed_folders(s, root)
        if not folders:
            raise BreedbenchError(
                f"no breed folders in {root}: expected {root}/<breed slug>/ or "
                f"{root}/n02085620-Chihuahua/ (found: {', '.join(unknown[:5]) or 'nothing'})"
            )
        index = DedupIndex.load(s)
        run = CrawlRun(
            kind="import",
            status=RunStatus.RUNNING,
            settings={"root": str(root), "accept": accept, "reviewer": reviewer},
        )
        s.add(run)
        s.flush()
        report = ImportReport(run.id, unknown_folders=unknown)
    status = RunStatus.FAILED
    try:
        for folder, breed_id, slug in folders:
            counts = report.counts.setdefault(slug, Counter())
            for path in sorted(p for p in folder.iterdir() if p.is_file()):
                if path.name.startswith("."):
                    continue
                outcome = _import_one(db, index, path, breed_id, report, accept, reviewer, min_side)
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


def _import_one(
    db: Database,
    index: DedupIndex,
    path: Path,
    breed_id: int,
    report: ImportReport,
    accept: bool,
    reviewer: str | None,
    min_side: int,
) -> str:
    try:
        data = path.read_bytes()
    except OSError:  # permissions, a file removed meanwhile: counted, the import goes on
        return "unreadable"
    try:
        valid = validate_image(
            data,
            min_side=min_side,
            max_bytes=db.settings.crawl_max_bytes or DEFAULT_MAX_BYTES,
            max_pixels=db.settings.crawl_max_pixels or DEFAULT_MAX_PIXELS,
        )
    except Refusal as r:
        return r.reason
    meta = ImageMeta(Provenance(source=IMPORT_SOURCE, url=path.resolve().as_uri()))
    result, image_id = store_valid(
        db, index, valid.data, valid.facts(), breed_id, meta, report.run_id, decoded=valid.image
    )
    if image_id is None and result.verdict is Verdict.DUPLICATE and accept:
        image_id = result.same_breed.image_id if result.same_breed else None
        with db.session() as s:
            pending = s.scalar(select(Image.status).where(Image.id == image_id))
        if pending != ImageStatus.PENDING:
            image_id = None
    if image_id is not None and accept:
        with db.session() as s:
            record_decision(s, image_id, reviewer or "", Decision.ACCEPT, reason="import --accept")
        report.accepted += 1
    if result.keep:
        return "stored"
    return str(result.verdict)
