"""Adding an image: bytes into the store, hashes and a thumbnail computed, one row written.

Validation (what the crawler refuses) happens before this; ``add_image`` trusts that the bytes
decode. The crawler, the folder import and the tests all come through here.
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field

from PIL import Image as PILImage
from sqlalchemy.orm import Session

from db.hashing import open_working, perceptual_hashes, sha256_bytes
from db.image_dates import NO_DATES, ImageDates
from db.models import Image
from db.provenance import Provenance
from db.store import ImageStoreProtocol, original_path, thumbnail_path


@dataclass(frozen=True, slots=True)
class ImageMeta:
    """What the row records about an image besides its bytes: where it came from (shown to
    reviewers and written into exports and datasheets)."""

    provenance: Provenance
    extra: dict[str, str] = field(default_factory=dict)
    requested_url: str | None = None  # the search's URL, when a redirect moved the image
    dates: ImageDates = NO_DATES  # upload / capture / index dates the source gave


@dataclass(frozen=True, slots=True)
class ImageFacts:
    """What the row records about the bytes: computed once, wherever the bytes were decoded
    (a crawl worker, a folder import) and handed on, so the writer repeats none of it."""

    sha256: str
    width: int  # of the original, from its header (a decode may be reduced)
    height: int
    format: str
    phash: int
    dhash: int


def image_facts(data: bytes, decoded: PILImage.Image | None = None) -> ImageFacts:
    """Facts of ``data``; ``decoded`` (a working-size decode of it) saves decoding again."""
    with PILImage.open(io.BytesIO(data)) as header:  # the real size, before any reduced decode
        width, height, fmt = header.width, header.height, header.format
    img = decoded if decoded is not None else open_working(io.BytesIO(data))
    phash, dhash = perceptual_hashes(img)
    return ImageFacts(sha256_bytes(data), width, height, (fmt or "UNKNOWN").upper(), phash, dhash)


def add_image(
    session: Session,
    store: ImageStoreProtocol,
    data: bytes,
    breed_id: int,
    meta: ImageMeta,
    *,
    facts: ImageFacts | None = None,
    decoded: PILImage.Image | None = None,
    crawl_run_id: int | None = None,
    created: list[str] | None = None,
) -> Image:
    """Store ``data`` (once, by sha256), make its thumbnail and insert the row; flushes.

    ``facts`` computed by whoever decoded the bytes (validation does) are trusted: then nothing
    is hashed or decoded here, and files a crawl worker already wrote are not written again —
    this runs in the crawl's event-loop thread, so it must stay cheap. Missing files are written
    as a pair (``put_with_thumbnail``): a full disk leaves no original without its thumbnail.

    ``created`` collects the store files this call wrote — as soon as they are written, so a
    caller whose row then fails knows which files were its own to remove (``crawler.storing``).
    """
    if facts is None:
        if decoded is None:
            decoded = open_working(io.BytesIO(data))
        facts = image_facts(data, decoded)
    path, thumb = original_path(facts.sha256), thumbnail_path(facts.sha256)
    if not (store.exists(path) and store.exists(thumb)):
        written = store.put_with_thumbnail(data, decoded).created
        if created is not None:
            created.extend(written)
    row = Image(
        breed_id=breed_id,
        found_breed_id=breed_id,
        sha256=facts.sha256,
        phash=facts.phash,
        dhash=facts.dhash,
        width=facts.width,
        height=facts.height,
        format=facts.format,
        byte_size=len(data),
        path=path,
        thumb_path=thumb,
        provenance=meta.provenance,
        requested_url=meta.requested_url,
        crawl_run_id=crawl_run_id,
        **meta.dates.columns(),
    )
    session.add(row)
    session.flush()
    return row
