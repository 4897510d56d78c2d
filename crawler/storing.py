"""Storing one validated image as one unit: its files, its row, its cross-breed flags and
whatever the caller records with it (the folder import's accept decision) — all, or nothing.

Shared by the crawl's store pipeline and the folder import, and free of Scrapy so that
``breedbench import`` does not load it. Called from one thread only, so the dedup check and the
insert are never interleaved.

The files are written before the row is committed (a row must never point at a file that is not
there), so a unit that stores no row — a duplicate, a crawl stopping, a failure or an interrupt
(Ctrl-C included) at any point before its commit — removes the files *it wrote* again: those it
found in the store are someone else's (an earlier image, another crawl's worker, an orphan that
``breedbench fsck`` reports) and stay. Even its own files stay when a committed row holds the
same bytes: the store is addressed by content, so another image's row may own the very same
files.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from PIL import Image as PILImage
from sqlalchemy import select
from sqlalchemy.orm import Session

from crawler.dedup import DedupIndex, DedupResult, cross_breed_flags
from db.database import Database
from db.images import ImageFacts, ImageMeta, add_image
from db.models import Image

# More writes of the same unit, in its transaction, once the row has its id.
WithinUnit = Callable[[Session, int], None]


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
    prewritten: Iterable[str] = (),
) -> tuple[DedupResult, int | None]:
    """Dedup, then write the files and commit the row, its flags and ``within`` as one unit.

    ``prewritten``: the store files a crawl worker wrote ahead for this unit (none when the
    same bytes were in the store already). Returns the verdict and the new image id (None
    when the image was a duplicate within its breed: its files are discarded, see
    ``discard_unreferenced``). On any exception the unit's files are discarded the same way and
    the exception goes on.
    """
    created = list(prewritten)
    result = index.check(breed_id, facts.sha256, facts.phash)
    if not result.keep:
        discard_unreferenced(db, index, facts.sha256, created)
        return result, None
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
                created=created,
            )
            s.add_all(cross_breed_flags(row.id, result))
            if within is not None:
                within(s, row.id)
            image_id = row.id
    except BaseException:
        discard_unreferenced(db, index, facts.sha256, created)
        raise
    index.add(image_id, breed_id, facts.sha256, facts.phash)
    return result, image_id


def discard_unreferenced(
    db: Database, index: DedupIndex, sha256: str, created: Iterable[str]
) -> None:
    """Remove the files a unit ``created`` for ``sha256``, unless a committed row holds them.

    Nothing to remove (the usual duplicate: its files were there before) costs nothing. Else
    the in-memory index answers for this process, and the database for the rest: another crawl
    or import that found these files in the store and committed a row for the same bytes, or
    this unit's own commit that went through just before an interrupt. When the database
    cannot answer, the files stay: an orphan is found and removed by ``breedbench fsck
    --repair``, a row whose original was deleted could not be repaired.
    """
    created = list(created)
    if not created or index.has_sha(sha256):
        return
    try:
        with db.session() as s:
            held = s.scalar(select(Image.id).where(Image.sha256 == sha256).limit(1))
    except Exception:
        return
    if held is not None:
        return
    for rel in created:
        db.store.absolute(rel).unlink(missing_ok=True)
