"""Storing one validated image as one unit: its files, its row, its cross-breed flags and
whatever the caller records with it (the folder import's accept decision) — all, or nothing.

Shared by the crawl's store pipeline and the folder import, and free of Scrapy so that
``breedbench import`` does not load it. Called from one thread only, so the dedup check and the
insert are never interleaved.

The files are written before the row is committed (a row must never point at a file that is not
there), so a unit that fails or is interrupted (Ctrl-C included) at any point before its commit
has its files removed again — unless a committed row holds the same bytes: the store is
addressed by content, so another image's row may own the very same files.
"""

from __future__ import annotations

from collections.abc import Callable

from PIL import Image as PILImage
from sqlalchemy import select
from sqlalchemy.orm import Session

from crawler.dedup import DedupIndex, DedupResult, cross_breed_flags
from db.database import Database
from db.images import ImageFacts, ImageMeta, add_image
from db.models import Image
from db.store import original_path, thumbnail_path

# More writes of the same unit, in its transaction, once the row has its id.
WithinUnit = Callable[[Session, int], None]


def unit_files(sha256: str) -> tuple[str, str]:
    """The store paths an image's unit writes: its original and its thumbnail."""
    return original_path(sha256), thumbnail_path(sha256)


def store_valid(
    db: Database,
    index: DedupIndex,
    data: bytes,
    facts: ImageFacts,
    breed_id: int,
    meta: ImageMeta,
    crawl_run_id: int | None,
    *,
    decoded: PILImage.Image | None = None,
    within: WithinUnit | None = None,
    keep_existing: bool = False,
) -> tuple[DedupResult, int | None]:
    """Dedup, then write the files and commit the row, its flags and ``within`` as one unit.

    Returns the verdict and the new image id (None when the image was a duplicate within its
    breed: nothing is written, and files written ahead for it by a worker are removed unless
    another row holds the same bytes). On any exception the unit's files are removed under the
    same rule and the exception goes on. ``keep_existing``: files already in the store when the
    unit starts are not the unit's and stay (the import writes its own files; a crawl worker
    writes them ahead *for* the unit, so the crawl leaves this off).
    """
    result = index.check(breed_id, facts.sha256, facts.phash)
    if not result.keep:
        discard_unreferenced(db, index, facts.sha256)
        return result, None
    present: set[str] = set()
    if keep_existing:
        present = {p for p in unit_files(facts.sha256) if db.store.exists(p)}
    try:
        with db.session() as s:
            row = add_image(
                s,
                db.store,
                data,
                breed_id,
                meta,
                decoded=decoded,
                crawl_run_id=crawl_run_id,
                facts=facts,
            )
            s.add_all(cross_breed_flags(row.id, result))
            if within is not None:
                within(s, row.id)
            image_id = row.id
    except BaseException:
        discard_unreferenced(db, index, facts.sha256, keep=present)
        raise
    index.add(image_id, breed_id, facts.sha256, facts.phash)
    return result, image_id


def discard_unreferenced(
    db: Database, index: DedupIndex, sha256: str, *, keep: set[str] | frozenset[str] = frozenset()
) -> None:
    """Remove the files of ``sha256`` (but those in ``keep``) unless a committed row holds them.

    The in-memory index answers for this process; the database for the rest (another crawl or
    import, or a commit that went through just before an interrupt). When the database cannot
    answer, the files stay: an orphan is found and removed by ``breedbench fsck --repair``, a
    row whose original was deleted could not be repaired.
    """
    if index.has_sha(sha256):
        return
    try:
        with db.session() as s:
            held = s.scalar(select(Image.id).where(Image.sha256 == sha256).limit(1))
    except Exception:
        return
    if held is not None:
        return
    for rel in unit_files(sha256):
        if rel not in keep:
            db.store.absolute(rel).unlink(missing_ok=True)
