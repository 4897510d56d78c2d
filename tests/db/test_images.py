"""``add_image``: facts computed once are trusted; without them, they are computed here."""

from __future__ import annotations

import io

import pytest
from PIL import Image as PILImage

import db.images
from core.errors import BreedbenchError
from db.database import Database
from db.images import ImageMeta, add_image, image_facts
from db.provenance import Provenance
from db.store import thumbnail_jpeg
from tests.db.diskfull import disk_full_from_write, store_files
from tests.factories import breed_id, jpeg_bytes

META = ImageMeta(Provenance("test"))


def test_without_facts_the_row_describes_the_bytes(database: Database) -> None:
    data = jpeg_bytes(1600, 1200, seed=3)
    with database.session() as s:
        row = add_image(s, database.store, data, breed_id(database, "pug"), META)
        assert (row.width, row.height, row.format) == (1600, 1200, "JPEG")  # not the reduced decode
        assert (row.phash, row.dhash) == (image_facts(data).phash, image_facts(data).dhash)
        assert database.store.read(row.path) == data
        assert database.store.exists(row.thumb_path or "")


def test_given_facts_nothing_is_hashed_or_decoded_again(
    database: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = jpeg_bytes(seed=4)
    facts = image_facts(data)
    database.store.put(data)  # as a crawl worker does before the row is written
    with PILImage.open(io.BytesIO(data)) as img:
        database.store.put_thumbnail(facts.sha256, img)

    def forbidden(*_args: object) -> None:
        raise AssertionError("recomputed in the writer")

    monkeypatch.setattr(db.images, "perceptual_hashes", forbidden)
    monkeypatch.setattr(db.images, "open_working", forbidden)
    monkeypatch.setattr(database.store, "put", forbidden)
    monkeypatch.setattr(database.store, "put_thumbnail", forbidden)
    with database.session() as s:
        row = add_image(s, database.store, data, breed_id(database, "pug"), META, facts=facts)
        assert (row.sha256, row.phash, row.width) == (facts.sha256, facts.phash, facts.width)


def test_given_facts_missing_files_are_still_written(database: Database) -> None:
    data = jpeg_bytes(seed=5)
    facts = image_facts(data)
    with database.session() as s:
        row = add_image(s, database.store, data, breed_id(database, "pug"), META, facts=facts)
    assert database.store.read(row.path) == data
    with PILImage.open(io.BytesIO(data)) as img:
        assert database.store.read(row.thumb_path or "") == thumbnail_jpeg(img)


def test_a_full_disk_leaves_no_original_without_its_thumbnail(
    database: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = jpeg_bytes(seed=6)
    disk_full_from_write(monkeypatch, 2)  # the original fits, its thumbnail does not
    with pytest.raises(BreedbenchError, match="disk full"), database.session() as s:
        add_image(s, database.store, data, breed_id(database, "pug"), META)
    assert store_files(database.store.root) == []


def test_the_files_written_are_told_to_the_caller(database: Database) -> None:
    data = jpeg_bytes(seed=7)
    created: list[str] = []
    with database.session() as s:
        row = add_image(s, database.store, data, breed_id(database, "pug"), META, created=created)
        assert created == [row.path, row.thumb_path]
        again: list[str] = []
        add_image(s, database.store, data, breed_id(database, "boxer"), META, created=again)
        assert again == []  # the same bytes: both files were there
