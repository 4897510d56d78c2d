"""Duplicates, cross-breed conflicts, leaks and consensus disagreements, resolved and recorded."""

from __future__ import annotations

import pytest

from core.errors import BreedbenchError
from db.database import Database
from db.models import Decision, FlagKind, ImageFlag, ImageStatus
from db.reviews import derive_outcome
from review.conflicts import Resolution, open_flag_counts, open_flags, resolve_flag
from review.consensus import disagreements
from review.decisions import decide
from tests.factories import breed_id, image_row, insert_image, jpeg_bytes
from tests.fixtures.app import reviews_of


def _flag(db: Database, image_id: int, kind: FlagKind, other: int | None = None) -> int:
    with db.session() as s:
        flag = ImageFlag(image_id=image_id, kind=kind, other_image_id=other, distance=2)
        s.add(flag)
        s.flush()
        return flag.id


def test_near_duplicate_keep_one(database: Database, add_images) -> None:
    a, b = add_images("boxer", 2)
    flag = _flag(database, a, FlagKind.NEAR_DUPLICATE, b)
    with database.session() as s:
        assert open_flag_counts(s)["near_duplicate"] == 1
        (view,) = open_flags(s, "near_duplicate")
        assert (view.image.id, view.other and view.other.id) == (a, b)
        text = resolve_flag(s, flag, "ana", Resolution.KEEP_IMAGE)
    assert text == f"kept image {a}, rejected image {b}"
    assert image_row(database, b).status == ImageStatus.REJECTED
    assert image_row(database, a).status == ImageStatus.PENDING  # still to be reviewed
    (row,) = reviews_of(database, b)
    assert (row.reviewer, row.reason) == ("ana", "duplicate")
    with database.session() as s:
        stored = s.get(ImageFlag, flag)
        assert stored is not None
        assert stored.resolved_by == "ana" and stored.resolved_at is not None
        assert stored.resolution == text
        assert open_flags(s, "near_duplicate") == []
    with (
        pytest.raises(BreedbenchError, match="already resolved by ana"),
        database.session() as s,
    ):
        resolve_flag(s, flag, "bo", Resolution.KEEP_OTHER)


def test_cross_breed_and_leak(database: Database) -> None:
    data = jpeg_bytes(seed=77)
    in_boxer = insert_image(database, "boxer", data=data)
    in_pug = insert_image(database, "pug", data=data)
    cross = _flag(database, in_boxer, FlagKind.CROSS_BREED, in_pug)
    leak_img = insert_image(database, "pug", seed=78)
    leak = _flag(database, leak_img, FlagKind.LEAK)
    with database.session() as s:
        resolve_flag(s, cross, "ana", Resolution.KEEP_OTHER)
        resolve_flag(s, leak, "ana", Resolution.REJECT_IMAGE)
    assert image_row(database, in_boxer).status == ImageStatus.REJECTED
    assert image_row(database, in_pug).status == ImageStatus.PENDING
    assert reviews_of(database, in_boxer)[0].reason == "not_this_breed"
    assert reviews_of(database, leak_img)[0].reason == "leak"
    with pytest.raises(BreedbenchError, match="has no second image"), database.session() as s:
        other_leak = _flag(database, leak_img, FlagKind.LEAK)
        resolve_flag(s, other_leak, "ana", Resolution.KEEP_IMAGE)


def test_relabel_resolution_and_clash_is_refused(database: Database) -> None:
    data = jpeg_bytes(seed=80)
    a = insert_image(database, "boxer", data=data)
    b = insert_image(database, "pug", data=data)
    flag = _flag(database, a, FlagKind.CROSS_BREED, b)
    with pytest.raises(BreedbenchError, match="already image"), database.session() as s:
        resolve_flag(s, flag, "ana", Resolution.RELABEL_IMAGE,
                     target_breed_id=breed_id(database, "pug"))  # fmt: skip
    with database.session() as s:  # nothing half-done: flag open, no review rows
        assert s.get(ImageFlag, flag).resolved_at is None  # type: ignore[union-attr]
    assert reviews_of(database) == []
    with database.session() as s:
        resolve_flag(s, flag, "ana", Resolution.RELABEL_IMAGE,
                     target_breed_id=breed_id(database, "beagle"))  # fmt: skip
    assert image_row(database, a).breed_id == breed_id(database, "beagle")


def test_consensus_disagreement_is_listed_and_settled_by_majority(
    database: Database, add_images
) -> None:
    agree, split = add_images("pug", 2)
    with database.session() as s:
        for reviewer in ("ana", "bo"):
            decide(s, agree, reviewer, "accept", min_reviews=2)
        decide(s, split, "ana", "accept", min_reviews=2)
        decide(s, split, "bo", "reject", reason="not_this_breed", min_reviews=2)
    assert image_row(database, agree).status == ImageStatus.ACCEPTED
    assert image_row(database, split).status == ImageStatus.PENDING
    with database.session() as s:
        (item,) = disagreements(s)
    assert item.image.id == split
    assert {(v.reviewer, v.decision, v.detail) for v in item.votes} == {
        ("ana", "accept", ""),
        ("bo", "reject", "not this breed"),
    }
    with database.session() as s:
        decide(s, split, "cy", "accept", min_reviews=2)  # 2 of 3 votes: a majority
    assert image_row(database, split).status == ImageStatus.ACCEPTED
    with database.session() as s:
        assert disagreements(s) == []


def test_consensus_relabel_needs_agreement_on_the_breed(database: Database, add_images) -> None:
    (img,) = add_images("boxer", 1)
    pug, beagle = breed_id(database, "pug"), breed_id(database, "beagle")
    with database.session() as s:
        decide(s, img, "ana", Decision.RELABEL, target_breed_id=pug, min_reviews=2)
        decide(s, img, "bo", Decision.ACCEPT, min_reviews=2)
    assert image_row(database, img).status == ImageStatus.PENDING  # pug vs boxer
    with database.session() as s:
        decide(s, img, "cy", Decision.RELABEL, target_breed_id=beagle, min_reviews=2)
        decide(s, img, "bo", Decision.RELABEL, target_breed_id=pug, min_reviews=2)
    row = image_row(database, img)
    assert (row.status, row.breed_id) == (ImageStatus.ACCEPTED, pug)
    assert derive_outcome(reviews_of(database, img), 2).breed_id == pug
