"""The reference strip, the screening order and the screening badge on the queue and the grid
pages (AppTest)."""

from __future__ import annotations

from streamlit.testing.v1 import AppTest

from db.database import Database
from db.models import Image, ReferencePin
from review.references import pin_reference
from tests.curation_app.queue_driver import queue_data
from tests.factories import breed_id, insert_image
from tests.fixtures.app import open_app
from tests.fixtures.assist import AddScreening, accepted_images


def _app(page: str | None = None) -> AppTest:
    return open_app(page, query={"reviewer": "ana"})


def _strip_images(at: AppTest, key: str) -> list[str]:
    """Captions of the strip's thumbnails, in order (``#id``, pinned ones with a pin)."""
    found: list[str] = []

    def walk(node) -> None:  # type: ignore[no-untyped-def]
        if getattr(node, "type", None) == "image":
            found.extend(img.caption for img in node.proto.imgs)
        for child in getattr(node, "children", {}).values():
            walk(child)

    for block in at.get("flex_container"):
        if getattr(block, "key", None) == f"reference-strip-{key}":
            walk(block)
    return found


def _enlarge(at: AppTest, key: str, breed: int, image_id: int) -> None:
    """Choose a thumbnail in the strip's "Enlarge" pills."""
    at.button_group(key=f"enlarge-{key}-{breed}").set_value(image_id).run()


def _dialog_captions(at: AppTest) -> list[str]:
    """Captions of the pictures in the open dialog (the enlarged reference)."""
    found: list[str] = []

    def walk(node) -> None:  # type: ignore[no-untyped-def]
        if getattr(node, "type", None) == "image":
            found.extend(img.caption for img in node.proto.imgs)
        for child in getattr(node, "children", {}).values():
            walk(child)

    for dialog in at.get("dialog"):
        walk(dialog)
    return found


def _front(at: AppTest) -> dict:  # type: ignore[type-arg]
    """The card the queue component shows first (its payload)."""
    data = queue_data(at)
    assert data is not None and data["window"], "the queue shows no image"
    return data["window"][0]


def test_queue_shows_the_reference_strip_and_enlarges(app_env: Database) -> None:
    own = accepted_images(app_env, "norfolk_terrier", 7)
    norwich = accepted_images(app_env, "norwich_terrier", 4, seed=30)
    candidate = insert_image(app_env, "norfolk_terrier", seed=99)
    at = _app()
    card = _front(at)
    assert card["id"] == candidate
    refs = card["references"]
    assert [r["caption"] for r in refs[:6]] == [f"#{i}" for i in own[:6]]  # six of its own
    assert {r["breed"] for r in refs[:6]} == {"this breed"} and not refs[0]["lookalike"]
    # ...then three of the look-alike, drawn apart
    assert [(r["breed"], r["caption"]) for r in refs[6:]] == [
        ("Norwich terrier", f"#{i}") for i in norwich[:3]
    ]
    assert all(r["lookalike"] for r in refs[6:])
    with app_env.session() as s:
        sha = {i: s.get(Image, i).sha256 for i in own[:1]}
    side = app_env.settings.review_image_side
    # Thumbnails from the app's own route; the review copy when one is clicked to enlarge.
    assert refs[0]["src"] == f"/review-thumbs/{sha[own[0]]}.jpg"
    assert refs[0]["large"] == f"/review-copies/{sha[own[0]]}-{side}.jpg"
    with app_env.session() as s:
        pin_reference(s, breed_id(app_env, "norfolk_terrier"), own[2], "ana")
        assert [p.image_id for p in s.query(ReferencePin)] == [own[2]]
    refs = _front(_app())["references"]
    assert refs[0]["caption"] == f"#{own[2]} · pinned"  # a pinned picture comes first


def test_queue_order_filter_and_badge(app_env: Database, add_screening: AddScreening) -> None:
    clear, cat, sure = (insert_image(app_env, "pug", seed=n) for n in range(3))
    add_screening({clear: (0.9, 0.7, True), cat: (0.05, 0.02, False), sure: (0.99, 0.98, True)})
    at = _app()
    assert _front(at)["id"] == clear  # crawl order by default
    at.selectbox(key="queue_order").set_value("doubtful").run()
    card = _front(at)
    assert card["id"] == cat
    assert card["screening"]["badge"].startswith("likely not a dog")
    assert card["screening"]["tone"] == "not-dog" and "screener:1" in card["screening"]["detail"]
    at.selectbox(key="queue_order").set_value("confident").run()
    assert _front(at)["id"] == sure
    at.selectbox(key="queue_filter").set_value("not_a_dog").run()
    assert _front(at)["id"] == cat
    assert queue_data(at)["remaining"] == 1  # type: ignore[index]


def test_grid_shows_references_on_demand(app_env: Database, add_screening: AddScreening) -> None:
    own = accepted_images(app_env, "papillon", 2)
    pending = [insert_image(app_env, "papillon", seed=50 + n) for n in range(3)]
    add_screening({pending[2]: (0.1, 0.05, False)})
    at = _app("grid.py")
    at.selectbox(key="grid_breed").set_value(breed_id(app_env, "papillon")).run()
    assert _strip_images(at, "grid") == []
    at.toggle(key="grid_references").set_value(True).run()
    assert _strip_images(at, "grid") == [f"#{i}" for i in own]
    at.selectbox(key="grid_order").set_value("doubtful").run()
    assert [c.key for c in at.checkbox][0] == f"mark_{pending[2]}"
    at.selectbox(key="grid_filter").set_value("disagrees").run()
    assert [c.key for c in at.checkbox] == [f"mark_{pending[2]}"]
