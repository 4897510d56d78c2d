"""The review queue and the images it sends: who sees what next, at which size."""

from __future__ import annotations

import pytest
from PIL import Image as PILImage

from core.errors import BreedbenchError
from db.database import Database
from db.models import FlagKind, ImageFlag
from db.provenance import Provenance
from db.store import original_path
from review import images
from review.decisions import decide, undo_last
from review.queue import next_images, pending_count
from tests.factories import breed_id, insert_image, jpeg_bytes


def test_queue_skips_my_decided_images_and_puts_skips_last(database: Database, add_images) -> None:
    ids = add_images("boxer", 4)
    with database.session() as s:
        assert [c.id for c in next_images(s, "ana", limit=10)] == ids
        decide(s, ids[0], "ana", "accept")
        decide(s, ids[1], "ana", "skip")
    with database.session() as s:
        assert [c.id for c in next_images(s, "ana", limit=10)] == [ids[2], ids[3], ids[1]]
        assert pending_count(s, "ana") == 3  # the skipped image is still pending
        # Another reviewer sees what ana skipped, but not what ana accepted (k = 1).
        assert [c.id for c in next_images(s, "bo", limit=10)] == ids[1:]


def test_consensus_keeps_the_image_for_other_reviewers(database: Database, add_images) -> None:
    (img,) = add_images("pug", 1)
    with database.session() as s:
        decide(s, img, "ana", "accept", min_reviews=2)
    with database.session() as s:
        assert next_images(s, "ana") == []
        assert [c.id for c in next_images(s, "bo")] == [img]


def test_undone_image_comes_back(database: Database, add_images) -> None:
    a, b = add_images("pug", 2)
    with database.session() as s:
        decide(s, a, "ana", "reject", reason="not_a_dog")
        undo_last(s, "ana")
        assert next_images(s, "ana", limit=1)[0].id == a


def test_cards_carry_breed_provenance_and_open_flags(database: Database, add_images) -> None:
    a, b = add_images("papillon", 2)
    with database.session() as s:
        s.add(ImageFlag(image_id=a, kind=FlagKind.NEAR_DUPLICATE, other_image_id=b, distance=3))
    with database.session() as s:
        card = next_images(s, "ana", breed_id=breed_id(database, "papillon"))[0]
    assert (card.id, card.breed_slug, card.breed_name) == (a, "papillon", "Papillon")
    assert card.open_flags == ("near_duplicate",)
    assert card.license_label == "cc0" and card.size_label.startswith("320×240 JPEG")
    assert card.provenance == Provenance(source="test", query="papillon", license="cc0")


def test_review_copy_is_resized_cached_and_derived_from_the_hash(database: Database) -> None:
    img = insert_image(database, "boxer", data=jpeg_bytes(3000, 2000, seed=9))
    with database.session() as s:
        card = next_images(s, "ana")[0]
    assert card.id == img
    path = images.review_copy(database.store, card.sha256, 1024)
    assert path.relative_to(database.store.root.resolve()).as_posix() == (
        f"review/1024/{card.sha256[:2]}/{card.sha256}.jpg"
    )
    with PILImage.open(path) as copy:
        assert max(copy.size) == 1024
    assert path.stat().st_size < database.store.absolute(original_path(card.sha256)).stat().st_size
    mtime = path.stat().st_mtime_ns
    assert images.review_copy(database.store, card.sha256, 1024).stat().st_mtime_ns == mtime
    thumb = images.thumbnail(database.store, card.sha256)
    with PILImage.open(thumb) as t:
        assert max(t.size) == 256


def test_prefetch_makes_the_next_copies(database: Database, add_images) -> None:
    add_images("boxer", 3)
    with database.session() as s:
        cards = next_images(s, "ana")
    futures = images.prefetch(database.store, [c.sha256 for c in cards], 512)
    assert len(futures) == 3
    for f in futures:
        f.result(timeout=30)
    for c in cards:
        assert database.store.absolute(images.review_copy_path(c.sha256, 512)).exists()
    assert images.prefetch(database.store, [c.sha256 for c in cards], 512) == []


def test_missing_original_is_a_clear_error(database: Database) -> None:
    img = insert_image(database, "boxer", seed=5)
    with database.session() as s:
        card = next_images(s, "ana")[0]
    assert card.id == img
    original = database.store.absolute(original_path(card.sha256))
    original.write_bytes(b"not a picture any more")
    with pytest.raises(BreedbenchError, match="cannot be read"):
        images.review_copy(database.store, card.sha256, 1024)
    original.unlink()
    with pytest.raises(BreedbenchError, match="missing from the store"):
        images.review_copy(database.store, card.sha256, 1024)


def test_remaining_count_under_consensus(database: Database, add_images) -> None:
    a, b, c = add_images("pug", 3)
    with database.session() as s:
        decide(s, a, "ana", "accept", min_reviews=2)
        decide(s, b, "bo", "accept", min_reviews=2)
    with database.session() as s:
        assert pending_count(s, "ana", min_reviews=2) == 2  # b and c
        assert pending_count(s, "bo", min_reviews=2) == 2  # a and c
        assert pending_count(s, "cy", min_reviews=2) == 3
        assert [x.id for x in next_images(s, "ana")] == [b, c]
