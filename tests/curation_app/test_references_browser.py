"""The reference strip in headless Chromium: beside the candidate, thumbnails decoded; a click
on one enlarges it in a dialog."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from db.database import Database
from tests.browser import chromium_missing, review_server
from tests.factories import insert_image
from tests.fixtures.assist import accepted_images

pytestmark = [pytest.mark.browser, pytest.mark.timeout(240)]

missing = chromium_missing()
if missing:
    pytest.skip(f"browser tests need Chromium: {missing}", allow_module_level=True)

STRIP = ".bbq-refs"


def test_strip_renders_and_a_click_enlarges(
    database: Database, browser_page, tmp_path: Path
) -> None:
    own = accepted_images(database, "norfolk_terrier", 3)
    others = accepted_images(database, "norwich_terrier", 2, seed=40)
    candidate = insert_image(database, "norfolk_terrier", seed=99)
    page = browser_page
    settings = database.settings
    with review_server(settings.data_dir, settings.resolved_database_url(),
                       log=tmp_path / "server.log") as url:  # fmt: skip
        page.goto(f"{url}/?reviewer=ana")
        page.locator(".st-key-review-image img").wait_for()
        assert page.locator(".st-key-review-image").inner_text().strip().endswith(f"#{candidate}")
        # The strip is served as stored thumbnails from the app's own route, all decoded.
        page.wait_for_function(
            """(sel) => {
                const imgs = [...document.querySelectorAll(sel + ' img')];
                return imgs.length === 5 && imgs.every(i => i.complete && i.naturalWidth > 0);
            }""",
            arg=STRIP,
        )
        captions = page.locator(f"{STRIP} figcaption").all_inner_texts()
        assert captions[:3] == [f"this breed · #{i}" for i in own[::-1]] or sorted(
            captions[:3]
        ) == sorted(f"this breed · #{i}" for i in own)
        assert sorted(captions[3:]) == sorted(f"Norwich terrier · #{i}" for i in others)
        assert page.locator(f"{STRIP} .bbq-lookalike").count() == 2
        thumb = page.locator(f"{STRIP} img").first.bounding_box()
        page.locator(f"{STRIP} figure", has_text=re.compile(rf"#{own[1]}$")).locator("img").click()
        big = page.locator(".bbq-overlay img")
        big.wait_for()
        page.wait_for_function(
            "(sel) => { const i = document.querySelector(sel); "
            "return i && i.complete && i.naturalWidth > 0; }",
            arg=".bbq-overlay img",
        )
        assert page.locator(".bbq-overlay").inner_text().endswith(f"#{own[1]}")
        box = big.bounding_box()
        assert thumb is not None and box is not None
        assert box["width"] > 2 * thumb["width"]
        page.keyboard.press("Escape")  # closes the picture; the queue's keys work again
        page.locator(".bbq-overlay").wait_for(state="detached")
