"""Test data made in the test session: images as bytes, and rows inserted through the store."""

from __future__ import annotations

import io

import numpy as np
from PIL import Image as PILImage
from sqlalchemy import select

from db.database import Database
from db.images import ImageMeta, add_image
from db.models import Breed, Image
from db.provenance import Provenance


def photo(width: int = 320, height: int = 240, seed: int = 0) -> PILImage.Image:
    """A synthetic 'photo': smooth random blobs, distinct per seed (so pHashes differ)."""
    rng = np.random.default_rng(seed)
    small = rng.integers(0, 256, size=(6, 8, 3), dtype=np.uint8)
    img = PILImage.fromarray(small, "RGB").resize((width, height), PILImage.Resampling.BICUBIC)
    return img


def encode(img: PILImage.Image, fmt: str = "JPEG", **kwargs: object) -> bytes:
    buf = io.BytesIO()
    img.save(buf, fmt, **kwargs)
    return buf.getvalue()


def jpeg_bytes(width: int = 320, height: int = 240, seed: int = 0, quality: int = 90) -> bytes:
    return encode(photo(width, height, seed), "JPEG", quality=quality)


def breed_id(db: Database, slug: str) -> int:
    with db.session() as s:
        bid = s.scalar(select(Breed.id).where(Breed.slug == slug))
    assert bid is not None, slug
    return bid


def insert_image(
    db: Database, slug: str, seed: int = 0, *, data: bytes | None = None, source: str = "test"
) -> int:
    """Insert one image for breed ``slug`` through the real store; returns its id."""
    payload = data if data is not None else jpeg_bytes(seed=seed)
    with db.session() as s:
        bid = s.scalar(select(Breed.id).where(Breed.slug == slug))
        assert bid is not None, slug
        row = add_image(
            s,
            db.store,
            payload,
            bid,
            ImageMeta(Provenance(source=source, query=slug.replace("_", " "), license="cc0")),
        )
        return row.id


def image_row(db: Database, image_id: int) -> Image:
    with db.session() as s:
        row = s.get(Image, image_id)
        assert row is not None
        s.expunge(row)
        return row


def breed_images(db: Database, slug: str) -> list[Image]:
    """Every stored image of a breed, detached from its session."""
    with db.session() as s:
        rows = list(s.scalars(select(Image).join(Image.breed).where(Breed.slug == slug)))
        s.expunge_all()
    return rows
