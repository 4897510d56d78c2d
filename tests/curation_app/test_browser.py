"""End to end in headless Chromium: ``breedbench review`` started for real, a reviewer chosen,
five images decided with the keyboard, the rows read back from the database."""

from __future__ import annotations

from pathlib import Path

import pytest

from db.database import Database
from db.models import Decision
from tests.browser import (
    chromium_missing,
    review_server,
    shown_image_id,
    shown_image_src,
    wait_for_next_image,
    wait_until_saved,
)
from tests.fixtures.app import reviews_of

pytestmark = [pytest.mark.browser, pytest.mark.timeout(240)]

missing = chromium_missing()
if missing:
    pytest.skip(f"browser tests need Chromium: {missing}", allow_module_level=True)


def test_choose_reviewer_and_decide_five_images_with_the_keyboard(
    database: Database, add_images, browser_page, tmp_path: Path
) -> None:
    ids = add_images("boxer", 7)
    page = browser_page
    settings = database.settings
    with review_server(settings.data_dir, settings.resolved_database_url(),
                       log=tmp_path / "server.log") as url:  # fmt: skip
        page.goto(url)
        page.get_by_label("Your name").fill("Eve Tester")
        page.get_by_role("button", name="Start reviewing").click()
        page.locator(".st-key-review-image img").wait_for()
        assert "reviewer=Eve+Tester" in page.url or "reviewer=Eve%20Tester" in page.url
        keys = ["a", "2", "a", "6", "s"]
        seen = []
        src = shown_image_src(page)
        for key in keys:
            seen.append(shown_image_id(page))
            page.keyboard.press(key)
            src = wait_for_next_image(page, src)
        assert seen == ids[:5]
        assert shown_image_id(page) == ids[5]
        # Typing in the breed search is text, not a shortcut.
        page.locator(".bbq-relabel-input").first.fill("a pug")
        page.wait_for_timeout(800)
        wait_until_saved(page)
        rows = reviews_of(database)
        assert [(r.image_id, r.reviewer, r.decision, r.reason) for r in rows] == [
            (ids[0], "Eve Tester", Decision.ACCEPT, None),
            (ids[1], "Eve Tester", Decision.REJECT, "not_a_dog"),
            (ids[2], "Eve Tester", Decision.ACCEPT, None),
            (ids[3], "Eve Tester", Decision.REJECT, "poor_quality"),
            (ids[4], "Eve Tester", Decision.SKIP, None),
        ]
        # A reload keeps the reviewer (it is in the URL) and the queue moves on.
        page.reload()
        page.locator(".st-key-review-image img").wait_for()
        assert page.locator("section[data-testid=stSidebar]").get_by_text("Eve Tester").is_visible()
        assert shown_image_id(page) == ids[5]
