"""Outside text on the app's pages is text: a hostile creator, landing URL, licence, query,
source, breed name, reviewer or model name never becomes an image, a link or HTML.

Each page is run by AppTest with such strings in the database; everything it hands to Streamlit's
Markdown renderer (bodies, labels, tooltips, captions) is rendered by an independent Markdown
parser and must hold no live element.
"""

from __future__ import annotations

import json
from typing import Any

from google.protobuf.message import Message
from sqlalchemy import select, update
from streamlit.testing.v1 import AppTest

from curation_app.ui import CSS
from db.database import Database
from db.images import ImageMeta, add_image
from db.models import Breed, Decision, FlagKind, Image, ImageFlag, Model
from db.provenance import Provenance
from db.reviews import record_decision
from tests.curation_app.queue_driver import QueueDriver
from tests.factories import breed_id, jpeg_bytes
from tests.fixtures.app import open_app
from tests.fixtures.seeding import Seeded
from tests.markup import live_markup

BEACON = "http://127.0.0.2:9"

CREATOR = f"![]({BEACON}/creator) <img src=x onerror=alert(1)> [x](javascript:alert(1)) ana@x.org"
LICENSE = f"<script>alert(1)</script>![]({BEACON}/license)"
QUERY = f"**pug** ![]({BEACON}/query) www.example.org"
SOURCE = f"[flickr]({BEACON}/source)"
LANDING = "javascript:alert(document.cookie)"
BREED_NAME = f"Boxer ![]({BEACON}/breed) <b onmouseover=alert(1)>x</b>"
REVIEWER = f"![r]({BEACON}/reviewer)"
DETAIL = f"train/<img src={BEACON}/detail>.jpg"
MODEL = f"net![]({BEACON}/model)"
SLUG = f"pug![]({BEACON}/slug)"

# The fields of Streamlit's messages that its frontend renders as Markdown.
MARKDOWN_FIELDS = frozenset({"body", "label", "help", "caption", "placeholder"})


def _markdown_of(message: Message, out: list[str]) -> None:
    if message.DESCRIPTOR.name == "Html":  # raw HTML by design: only the page style, ours
        assert message.body == CSS.strip()
        return
    for field, value in message.ListFields():
        if field.name == "options":  # select box options are shown as plain text
            continue
        repeated = not isinstance(value, (str, bytes, Message)) and hasattr(value, "__iter__")
        items = list(value) if repeated else [value]
        for item in items:
            if isinstance(item, Message):
                _markdown_of(item, out)
            elif isinstance(item, str) and field.name in MARKDOWN_FIELDS:
                out.append(item)


def rendered_markdown(at: AppTest) -> list[str]:
    """Every Markdown text the page gave Streamlit, main area and sidebar."""
    out: list[str] = []

    def walk(node: Any) -> None:
        proto = getattr(node, "proto", None)
        if isinstance(proto, Message):
            _markdown_of(proto, out)
        for child in getattr(node, "children", {}).values():
            walk(child)

    walk(at._tree)
    return out


def assert_nothing_live(at: AppTest) -> list[str]:
    texts = rendered_markdown(at)
    live = {text: found for text in texts if (found := live_markup(text))}
    assert live == {}
    return texts


def _hostile_image(db: Database, slug: str, seed: int) -> int:
    origin = Provenance(
        source=SOURCE,
        query=QUERY,
        url=f"{BEACON}/image.jpg",
        landing_url=LANDING,
        license=LICENSE,
        license_version=f"[4.0]({BEACON}/version)",
        creator=CREATOR,
        attribution=CREATOR,
    )
    with db.session() as s:
        row = add_image(s, db.store, jpeg_bytes(seed=seed), breed_id(db, slug), ImageMeta(origin))
        image_id = row.id
    # A row stored before landing URLs were checked: the app must not link it either.
    with db.session() as s:
        s.execute(update(Image).where(Image.id == image_id).values(landing_url=LANDING))
    return image_id


def _hostile_breed(db: Database, slug: str) -> None:
    with db.session() as s:
        s.execute(update(Breed).where(Breed.slug == slug).values(name=BREED_NAME, query=QUERY))


def _open(page: str | None = None, reviewer: str = REVIEWER, **query: str) -> AppTest:
    """A page opened by a reviewer whose very name is hostile."""
    return open_app(page, query={"reviewer": reviewer, **query})


def test_a_stored_javascript_landing_url_is_never_read_back(app_env: Database) -> None:
    image_id = _hostile_image(app_env, "boxer", seed=1)
    with app_env.session() as s:
        row = s.get(Image, image_id)
        assert row is not None and row.landing_url == LANDING  # the legacy column as it is
        assert row.provenance.landing_url is None  # what the app and the export see


def test_queue_shows_hostile_provenance_as_text(app_env: Database) -> None:
    _hostile_breed(app_env, "boxer")
    _hostile_image(app_env, "boxer", seed=1)
    q = QueueDriver(_open())
    texts = assert_nothing_live(q.at)
    card = q.card
    # The component gets the strings as data (queue.js shows them with textContent): the
    # javascript: landing URL is not even sent, and the reader still sees every character.
    assert card["landing_url"] is None
    assert "document.cookie" not in json.dumps(card)
    assert (card["query"], card["source"], card["creator"]) == (QUERY, SOURCE, CREATOR)
    assert card["license"].startswith(LICENSE)
    assert card["breed_name"] == BREED_NAME  # the breed, as the title
    assert any("\\!\\[r\\]" in t for t in texts)  # the reviewer, in the sidebar
    # A decision still works, and its message names the breed as text.
    pug = breed_id(app_env, "pug")
    with app_env.session() as s:
        s.execute(update(Breed).where(Breed.id == pug).values(name=BREED_NAME))
    ack = q.press("relabel", target=pug)
    assert ack["ok"] and f"→ {BREED_NAME} (pug)" in ack["message"]
    assert_nothing_live(q.at)


def test_queue_links_an_http_landing_page(app_env: Database) -> None:
    image_id = _hostile_image(app_env, "boxer", seed=1)
    page = "https://example.org/photos/1_(pug)"
    with app_env.session() as s:
        s.execute(update(Image).where(Image.id == image_id).values(landing_url=page))
    q = QueueDriver(_open(reviewer="ana"))
    # The one link the component makes: this landing page (and nothing from the text).
    assert q.card["landing_url"] == page
    assert [k for k, v in q.card.items() if isinstance(v, str) and v.startswith("http")] == [
        "landing_url"
    ]


def test_grid_shows_a_hostile_breed_name_as_text(app_env: Database) -> None:
    _hostile_breed(app_env, "papillon")
    ids = [_hostile_image(app_env, "papillon", seed=n) for n in (1, 2)]
    at = _open("grid.py")
    at.selectbox(key="grid_breed").set_value(breed_id(app_env, "papillon")).run()
    assert len(at.checkbox) == len(ids)
    assert_nothing_live(at)
    at.button(key="accept_rest").click().run()
    texts = assert_nothing_live(at)
    assert any("No pending images of Boxer" in t for t in texts)


def test_conflicts_show_hostile_names_sources_details_and_votes_as_text(
    app_env: Database, monkeypatch
) -> None:
    monkeypatch.setenv("BREEDBENCH_MIN_REVIEWS", "2")
    _hostile_breed(app_env, "boxer")
    a = _hostile_image(app_env, "boxer", seed=1)
    b = _hostile_image(app_env, "pug", seed=2)
    split = _hostile_image(app_env, "boxer", seed=3)
    with app_env.session() as s:
        s.add(ImageFlag(image_id=a, kind=FlagKind.CROSS_BREED, other_image_id=b, distance=0))
        s.add(ImageFlag(image_id=a, kind=FlagKind.LEAK, distance=2, detail=DETAIL))
        record_decision(s, split, REVIEWER, Decision.ACCEPT, min_reviews=2)
        record_decision(
            s, split, f"<img src={BEACON}/r2>", Decision.REJECT, reason="not_a_dog", min_reviews=2
        )
    at = _open("conflicts.py")
    texts = assert_nothing_live(at)
    assert any("Keep left (Boxer" in t for t in texts)  # the button names the breed as text
    assert any(t.startswith("Matches train/") for t in texts)
    # The two reviewers' votes, each name as text.
    assert any(t.startswith("**\\!\\[r\\]") and "**: accept" in t for t in texts)
    assert any(t.startswith("**&lt;img src=") and "**: reject" in t for t in texts)


def test_run_details_show_hostile_model_breed_and_reviewer_names_as_text(
    app_env: Database, seeded: Seeded
) -> None:
    with app_env.session() as s:
        s.execute(update(Model).values(name=MODEL))
        s.execute(update(Breed).where(Breed.slug == "pug").values(slug=SLUG))
        assert s.scalar(select(Breed.id).where(Breed.slug == SLUG)) is not None
    at = _open("run_details.py", run=str(seeded.runs["pb-1"]))
    texts = assert_nothing_live(at)
    assert any("net\\!\\[\\]" in t for t in texts)  # the run's model, in the caption
    assert any("pug\\!\\[\\]" in t for t in texts)  # the breed, in the mistakes gallery
    assert any("Sending back to review as **\\!\\[r\\]" in t for t in texts)
    at = _open("models.py")
    assert_nothing_live(at)
    at = _open("compare_runs.py")
    assert_nothing_live(at)
