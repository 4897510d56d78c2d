"""Storing one validated image: dedup, then its row and cross-breed flags in one transaction.

Shared by the crawl's store pipeline and the folder import, and free of Scrapy so that
``breedbench import`` does not load it. Called from one thread only, so the dedup check and the
insert are never interleaved.
"""

from __future__ import annotations

from PIL import Image as PILImage

from crawler.dedup import DedupIndex, DedupResult, cross_breed_flags
from db.database import Database
from db.images import ImageFacts, ImageMeta, add_image
from db.store import original_path, thumbnail_path


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
) -> tuple[DedupResult, int | None]:
    """Dedup, then insert the row and its cross-breed flags in one transaction.

    Returns the verdict and the new image id (None when the image was a duplicate within its
    breed: nothing is written, and files written ahead for it by a worker are removed unless
    another row holds the same bytes).
    """
    result = index.check(breed_id, facts.sha256, facts.phash)
    if not result.keep:
        discard_unreferenced(db, index, facts.sha256)
        return result, None
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
        image_id = row.id
    index.add(image_id, breed_id, facts.sha256, facts.phash)
    return result, image_id


def discard_unreferenced(db: Database, index: DedupIndex, sha256: str) -> None:
    """Remove the files a worker wrote ahead for bytes that no row holds (a skipped image)."""
    if index.has_sha(sha256):
        return
    for rel in (original_path(sha256), thumbnail_path(sha256)):
        db.store.absolute(rel).unlink(missing_ok=True)
