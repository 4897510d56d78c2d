"""The browser queue's server side: a batch of the browser's decisions applied exactly once and
in order, one acknowledgement each, and the window refilled with leased candidates."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from db.database import Database
from db.models import Decision, ImageStatus
from review.serving import copy_url, parse_copy_name, servable_copy, servable_thumb, thumb_url
from review.window import (
    Ack,
    ClientDecision,
    SentWindow,
    apply_batch,
    build_window,
    parse_batch,
    still_enough,
)
from tests.factories import breed_id, image_row, insert_image
from tests.fixtures.app import reviews_of

T0 = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
SIDE = 1024


def _item(n: int, decision: str, image_id: int | None, **kw: Any) -> ClientDecision:
    return ClientDecision(f"cid-{n:08d}", decision, image_id, kw.get("reason"), kw.get("target"))


def _window(db: Database, reviewer: str, **kw: Any) -> list[int]:
    kw.setdefault("now", T0)
    window = build_window(db, reviewer, side=SIDE, image_url=copy_url, make_copies=False, **kw)
    return [c["id"] for c in window.cards]


def test_a_batch_is_applied_in_order_and_a_resent_batch_records_nothing_twice(
    any_database: Database,
) -> None:
    ids = [insert_image(any_database, "boxer", seed=n) for n in range(4)]
    pug = breed_id(any_database, "pug")
    batch = [
        _item(1, "accept", ids[0]),
        _item(2, "reject", ids[1], reason="Not a dog"),
        _item(3, "skip", ids[2]),
        _item(4, "relabel", ids[3], target=pug),
    ]
    acks = apply_batch(any_database, "ana", batch)
    assert [(a.client_id, a.ok, a.duplicate) for a in acks] == [
        (b.client_id, True, False) for b in batch
    ]
    assert acks[1].message == f"reject #{ids[1]} (not a dog) · image is now rejected"
    assert acks[3].message == f"relabel #{ids[3]} → Pug (pug) · image is now accepted"
    again = apply_batch(any_database, "ana", batch)  # the answer was lost: sent again
    assert [a.duplicate for a in again] == [True] * 4
    assert [a.review_id for a in again] == [a.review_id for a in acks]
    rows = reviews_of(any_database)
    assert [(r.image_id, r.decision, r.reason, r.client_id) for r in rows] == [
        (ids[0], Decision.ACCEPT, None, "cid-00000001"),
        (ids[1], Decision.REJECT, "not_a_dog", "cid-00000002"),
        (ids[2], Decision.SKIP, None, "cid-00000003"),
        (ids[3], Decision.RELABEL, None, "cid-00000004"),
    ]
    assert image_row(any_database, ids[3]).breed_id == pug


def test_undo_in_a_batch_undoes_the_decision_before_it(any_database: Database) -> None:
    a, b = (insert_image(any_database, "pug", seed=n) for n in (1, 2))
    acks = apply_batch(
        any_database, "ana", [_item(1, "accept", a), _item(2, "undo", None), _item(3, "skip", a)]
    )
    assert [(x.decision, x.image_id) for x in acks] == [("accept", a), ("undo", a), ("skip", a)]
    rows = reviews_of(any_database)
    assert [r.decision for r in rows] == [Decision.ACCEPT, Decision.UNDO, Decision.SKIP]
    assert rows[1].undoes_id == rows[0].id and rows[1].client_id == "cid-00000002"
    assert image_row(any_database, a).status == ImageStatus.PENDING
    # Sent again, the undo is recognised: it does not undo the skip.
    apply_batch(any_database, "ana", [_item(2, "undo", None)])
    assert len(reviews_of(any_database)) == 3
    assert image_row(any_database, b).status == ImageStatus.PENDING


def test_nothing_to_undo_is_answered_once(database: Database) -> None:
    a = insert_image(database, "pug", seed=1)
    settled: dict[str, Ack] = {}
    (ack,) = apply_batch(database, "ana", [_item(1, "undo", None)], settled=settled)
    assert (ack.ok, ack.message, ack.review_id) == (True, "Nothing to undo.", None)
    apply_batch(database, "ana", [_item(2, "accept", a)], settled=settled)
    # The same undo again (still in the browser's outbox): not applied to the new accept.
    apply_batch(database, "ana", [_item(1, "undo", None), _item(2, "accept", a)], settled=settled)
    assert [r.decision for r in reviews_of(database)] == [Decision.ACCEPT]


def test_a_refused_decision_is_acknowledged_with_its_reason(database: Database) -> None:
    a = insert_image(database, "pug", seed=1)
    acks = apply_batch(
        database,
        "ana",
        [
            _item(1, "reject", a, reason="too blue"),
            _item(2, "accept", 999_999),
            _item(3, "accept", a),
        ],
    )
    assert [a.ok for a in acks] == [False, False, True]
    assert acks[0].message.startswith("unknown reject reason 'too blue'")
    assert [r.client_id for r in reviews_of(database)] == ["cid-00000003"]
    refused = apply_batch(database, "  ", [_item(4, "accept", a)])
    assert [(x.ok, x.message) for x in refused] == [(False, "a decision needs a reviewer name")]


def test_parse_batch_refuses_malformed_items() -> None:
    good, refused = parse_batch(
        {
            "seq": "1",
            "items": [
                {"cid": "abcdefgh12", "decision": "accept", "image_id": 3},
                {"cid": "abcdefgh13", "decision": "delete", "image_id": 3},
                {"cid": "abcdefgh14", "decision": "accept"},
                {"cid": "../../etc", "decision": "accept", "image_id": 3},  # no usable id
                {"cid": "abcdefgh15", "decision": "reject", "image_id": "4", "reason": ["x"]},
                "junk",
            ],
        }
    )
    assert good == [ClientDecision("abcdefgh12", "accept", 3)]
    assert [(a.client_id, a.ok) for a in refused] == [
        ("abcdefgh13", False),
        ("abcdefgh14", False),
        ("abcdefgh15", False),
    ]
    assert parse_batch(None) == ([], []) and parse_batch({"items": "x"}) == ([], [])


def test_two_reviewers_get_disjoint_windows_until_the_leases_end(any_database: Database) -> None:
    ids = [insert_image(any_database, "boxer", seed=n) for n in range(10)]
    ana = _window(any_database, "ana", size=4)
    bo = _window(any_database, "bo", size=4, now=T0 + timedelta(seconds=5))
    assert ana == ids[:4] and bo == ids[4:8]
    # Ana decides two: her refill skips Bo's images and leases the next free ones.
    apply_batch(any_database, "ana", [_item(1, "accept", ids[0]), _item(2, "skip", ids[1])])
    assert _window(any_database, "ana", size=4, now=T0 + timedelta(seconds=10)) == [
        *ids[2:4],
        *ids[8:10],
    ]
    # Ana leaves; once her leases run out, Bo is handed her images (her skip is not his).
    later = T0 + timedelta(minutes=10)
    assert _window(any_database, "bo", size=10, now=later) == ids[1:]


def test_an_undone_image_comes_first_and_references_are_attached(database: Database) -> None:
    ids = [insert_image(database, "boxer", seed=n) for n in range(3)]
    apply_batch(database, "ana", [_item(1, "accept", ids[0])])
    calls: list[int] = []

    def refs(session: Any, breed: int) -> list[dict[str, Any]]:
        calls.append(breed)
        return [{"src": "/refs/a.jpg", "caption": "<b>x</b>", "breed": "Boxer",
                 "large": "//127.0.0.2/big.jpg", "lookalike": 1},
                {"src": "javascript:alert(1)", "caption": "", "breed": "Boxer"},
                {"src": "http://127.0.0.2:9/track.jpg", "caption": "", "breed": "Boxer"},
                {"src": "/refs/../../bb.db", "caption": "", "breed": "Boxer"}]  # fmt: skip

    window = build_window(
        database, "ana", side=SIDE, image_url=copy_url, front=[ids[0]], references=refs,
        make_copies=False, now=T0,
    )  # fmt: skip
    assert [c["id"] for c in window.cards] == [ids[0], ids[1], ids[2]]
    assert calls == [breed_id(database, "boxer")] * 3
    none = {"large": None, "lookalike": False}
    assert window.cards[0]["references"] == [
        # a scheme-relative address is another host too: never fetched, not even enlarged
        {"src": "/refs/a.jpg", "caption": "<b>x</b>", "breed": "Boxer", **none, "lookalike": True},
        {"src": None, "caption": "", "breed": "Boxer", **none},
        {"src": None, "caption": "", "breed": "Boxer", **none},  # another host: never fetched
        {"src": None, "caption": "", "breed": "Boxer", **none},
    ]
    plain = build_window(database, "bo", side=SIDE, image_url=copy_url, make_copies=False)
    assert all(c["references"] == [] for c in plain.cards)


def test_a_card_carries_text_and_only_an_http_link(database: Database) -> None:
    from sqlalchemy import update

    from db.models import Image

    a = insert_image(database, "boxer", seed=1)
    b = insert_image(database, "boxer", seed=2)
    with database.session() as s:
        s.execute(update(Image).where(Image.id == a).values(landing_url="javascript:alert(1)"))
        s.execute(update(Image).where(Image.id == b).values(landing_url="https://e.org/p_(1)"))
    cards = build_window(database, "ana", side=SIDE, image_url=copy_url, make_copies=False).cards
    assert [c["landing_url"] for c in cards] == [None, "https://e.org/p_(1)"]
    sha = image_row(database, a).sha256
    assert cards[0]["src"] == f"/review-copies/{sha}-{SIDE}.jpg"
    assert cards[0]["breed_name"] == "Boxer" and cards[0]["query"] == "boxer"


def test_a_missing_original_is_reported_on_its_card(database: Database) -> None:
    a = insert_image(database, "boxer", seed=404)
    database.store.absolute(image_row(database, a).path).unlink()
    (card,) = build_window(database, "ana", side=SIDE, image_url=copy_url, make_copies=False).cards
    assert card["src"] is None and "missing from the store" in card["error"]


@pytest.mark.parametrize(
    "name",
    [
        "../../bb.db",
        "x.jpg",
        "{sha}-512.jpg",  # another size than the configured one
        "{sha}-1024.png",
        "{sha}-1024.jpg/../../bb.db",
        f"{'0' * 64}-1024.jpg",  # well formed, but no such image
    ],
)
def test_only_review_copies_of_images_in_the_database_are_served(
    database: Database, name: str
) -> None:
    a = insert_image(database, "boxer", seed=1)
    sha = image_row(database, a).sha256
    assert servable_copy(database, name.format(sha=sha), SIDE) is None


def test_a_review_copy_is_made_once_and_served_by_its_content_name(database: Database) -> None:
    a = insert_image(database, "boxer", seed=1)
    sha = image_row(database, a).sha256
    name = copy_url(sha, SIDE).rsplit("/", 1)[1]
    assert parse_copy_name(name) == (sha, SIDE)
    path = servable_copy(database, name, SIDE)
    assert path is not None and path.read_bytes()[:2] == b"\xff\xd8"
    made = path.stat().st_mtime_ns
    assert servable_copy(database, name, SIDE) == path
    assert path.stat().st_mtime_ns == made  # not re-encoded for the second request


def test_the_last_window_is_sent_again_while_it_holds_enough_fresh_leases() -> None:
    cards = [{"id": i} for i in range(1, 13)]
    sent = SentWindow("ana|None", cards, T0)
    decided = [Ack(f"c{i}", True, "", decision="accept", image_id=i) for i in (1, 2)]
    assert still_enough(sent, "ana|None", decided, now=T0) == cards[2:]
    refused = [Ack("c9", False, "no", decision="accept", image_id=3)]
    assert still_enough(sent, "ana|None", refused, now=T0) == cards  # not decided: kept
    many = [Ack(f"c{i}", True, "", decision="skip", image_id=i) for i in range(1, 8)]
    assert still_enough(sent, "ana|None", many, now=T0) is None  # 5 left: refill
    undo = [Ack("u", True, "", decision="undo", image_id=1)]
    assert still_enough(sent, "ana|None", undo, now=T0) is None  # the undone image first
    assert still_enough(sent, "ana|7", [], now=T0) is None  # another breed chosen
    assert still_enough(sent, "ana|None", [], now=T0 + timedelta(seconds=60)) is None
    assert still_enough(None, "ana|None", [], now=T0) is None


def test_a_copy_asked_for_by_several_requests_at_once_is_one_file(database: Database) -> None:
    from concurrent.futures import ThreadPoolExecutor

    from review.images import ensure_copy, prefetch

    sha = image_row(database, insert_image(database, "boxer", seed=1)).sha256
    prefetch(database.store, [sha], 256)  # the background is at it already
    with ThreadPoolExecutor(4) as pool:
        paths = list(pool.map(lambda _: ensure_copy(database.store, sha, 256), range(4)))
    assert len(set(paths)) == 1 and paths[0].read_bytes()[:2] == b"\xff\xd8"


def test_only_thumbnails_of_images_in_the_database_are_served(database: Database) -> None:
    image_id = insert_image(database, "pug")
    sha = image_row(database, image_id).sha256
    assert thumb_url(sha) == f"/review-thumbs/{sha}.jpg"
    path = servable_thumb(database, f"{sha}.jpg")
    assert path is not None and path == database.store.absolute(f"thumbs/{sha[:2]}/{sha}.jpg")
    for name in (f"{'0' * 64}.jpg", f"../{sha}.jpg", f"{sha}.png", f"{sha.upper()}.jpg", ""):
        assert servable_thumb(database, name) is None, name


def test_a_card_with_a_screening_mark_carries_its_badge(
    database: Database, add_screening: Any
) -> None:
    clear, cat = (insert_image(database, "pug", seed=n) for n in range(2))
    add_screening({cat: (0.05, 0.02, False)})
    cards = {c["id"]: c for c in build_window(database, "ana", side=SIDE, image_url=copy_url).cards}
    assert cards[clear]["screening"] is None
    mark = cards[cat]["screening"]
    assert mark["tone"] == "not-dog" and mark["badge"].startswith("likely not a dog")
