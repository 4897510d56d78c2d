"""Adding an image: bytes into the store, hashes and a thumbnail computed, one row written.

Validation (what the crawler refuses) happens before this; ``add_image`` trusts that the bytes
decode. The crawler, the folder import and the tests all come through here.
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field

from PIL import Image as PILImage
from sqlalchemy.orm import Session

from db.hashing import open_working, perceptual_hashes
from db.models import Image
from db.store import ImageStoreProtocol, thumbnail_path


@dataclass(frozen=True, slots=True)
class ImageMeta:
    """Where an image came from: shown to reviewers and written into exports and datasheets."""

    source: str
    query: str | None = None
    url: str | None = None
    landing_url: str | None = None
    license: str | None = None
    license_version: str | None = None
    license_url: str | None = None
    creator: str | None = None
    attribution: str | None = None
    extra: dict[str, str] = field(default_factory=dict)


def add_image(
    session: Session,
    store: ImageStoreProtocol,
    data: bytes,
    breed_id: int,
    meta: ImageMeta,
    *,
    decoded: PILImage.Image | None = None,
    crawl_run_id: int | None = None,
    hashes: tuple[int, int] | None = None,
) -> Image:
    """Store ``data`` (once, by sha256), make its thumbnail and insert the row; flushes.

    ``hashes`` — (phash, dhash) already computed by a validation that decoded the bytes (the
    crawler's) — saves computing them twice, and the pixels are then only decoded if the
    thumbnail is missing. Size and format always come from the header: ``decoded`` may be a
    reduced (working-size) decode.
    """
    with PILImage.open(io.BytesIO(data)) as header:  # the real size, before any reduced decode
        width, height, fmt = header.width, header.height, header.format
    stored = store.put(data)
    thumb = thumbnail_path(stored.sha256)
    img = decoded
    if img is None and (hashes is None or not store.exists(thumb)):
        img = open_working(io.BytesIO(data))
    phash, dhash = hashes if hashes is not None else perceptual_hashes(img)  # type: ignore[arg-type]
    if img is not None:
        thumb = store.put_thumbnail(stored.sha256, img)
    row = Image(
        breed_id=breed_id,
        found_breed_id=breed_id,
        sha256=stored.sha256,
        phash=phash,
        dhash=dhash,
        width=width,
        height=height,
        format=(fmt or "UNKNOWN").upper(),
        byte_size=len(data),
        path=stored.path,
        thumb_path=thumb,
        source=meta.source,
        query=meta.query,
        url=meta.url,
        landing_url=meta.landing_url,
        license=meta.license,
        license_version=meta.license_version,
        license_url=meta.license_url,
        creator=meta.creator,
        attribution=meta.attribution,
        crawl_run_id=crawl_run_id,
    )
    session.add(row)
    session.flush()
    return row
