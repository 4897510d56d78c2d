"""The reference strip, the screening order and the screening badge on the queue and the grid
pages (AppTest)."""

from __future__ import annotations

from streamlit.testing.v1 import AppTest

from db.database import Database
from db.models import ReferencePin
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


def _shown_image(at: AppTest) -> int:
    caption = next(c.value for c in at.caption if "image #" in c.value)
    return int(caption.split("image #")[1].split()[0])


def test_queue_shows_the_reference_strip_and_enlarges(app_env: Database) -> None:
    own = accepted_images(app_env, "norfolk_terrier", 7)
    norwich = accepted_images(app_env, "norwich_terrier", 4, seed=30)
    insert_image(app_env, "norfolk_terrier", seed=99)  # the candidate
    at = _app()
    labels = _strip_images(at, "queue")
    assert labels[:6] == [f"#{i}" for i in own[:6]]  # up to six of its own
    assert labels[6:] == [f"#{i}" for i in norwich[:3]]  # then three of each look-alike
    assert any("Often confused with **Norwich terrier**" in c.value for c in at.caption)
    _enlarge(at, "queue", breed_id(app_env, "norfolk_terrier"), own[2])
    assert not at.exception
    assert _dialog_captions(at) == [f"#{own[2]}"]
    at.button(key="reference-pin").click().run()  # pin it from the enlarged picture
    with app_env.session() as s:
        assert [p.image_id for p in s.query(ReferencePin)] == [own[2]]
    assert _strip_images(at, "queue")[0] == f"📌 #{own[2]}"


def test_queue_order_filter_and_badge(app_env: Database, add_screening: AddScreening) -> None:
    clear, cat, sure = (insert_image(app_env, "pug", seed=n) for n in range(3))
    add_screening({clear: (0.9, 0.7, True), cat: (0.05, 0.02, False), sure: (0.99, 0.98, True)})
    at = _app()
    assert _shown_image(at) == clear  # crawl order by default
    at.selectbox(key="queue_order").set_value("doubtful").run()
    assert _shown_image(at) == cat
    badges = [b.proto.body for b in at.get("badge")] if at.get("badge") else []
    text = " ".join(badges + [m.value for m in at.markdown] + [c.value for c in at.caption])
    assert "likely not a dog" in text and "screener:1" in text.replace("\\", "")
    at.selectbox(key="queue_order").set_value("confident").run()
    assert _shown_image(at) == sure
    at.selectbox(key="queue_filter").set_value("not_a_dog").run()
    assert _shown_image(at) == cat
    assert any("1 left in your queue" in c.value for c in at.caption)


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
