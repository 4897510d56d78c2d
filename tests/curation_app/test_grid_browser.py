"""The grid page in headless Chromium: images ticked, Ctrl+Enter presses the grid's button
("Reject N marked, accept the other M"); the decisions are read back from the database."""

from __future__ import annotations

from pathlib import Path

import pytest

from db.database import Database
from db.models import Decision, ImageStatus
from tests.browser import chromium_missing, review_server
from tests.factories import image_row
from tests.fixtures.app import reviews_of

pytestmark = [pytest.mark.browser, pytest.mark.timeout(240)]

missing = chromium_missing()
if missing:
    pytest.skip(f"browser tests need Chromium: {missing}", allow_module_level=True)


def test_ctrl_enter_rejects_the_ticked_images_and_accepts_the_rest(
    database: Database, add_images, browser_page, tmp_path: Path
) -> None:
    ids = add_images("boxer", 5)
    marked = [ids[1], ids[3]]
    page = browser_page
    settings = database.settings
    with review_server(
        settings.data_dir, settings.resolved_database_url(), log=tmp_path / "server.log"
    ) as url:
        page.goto(f"{url}/grid?reviewer=Eve")
        choose = page.locator(".st-key-grid_breed input")
        choose.click()
        choose.fill("Boxer")
        page.keyboard.press("Enter")
        for image_id in marked:
            page.locator(f".st-key-mark_{image_id} label").click()
            page.locator(f".st-key-cell-marked-{image_id}").wait_for()
        page.get_by_role("button", name="Reject 2 marked, accept the other 3").wait_for()
        page.locator("h1, h2, h3, [data-testid=stCaptionContainer]").first.click()  # leave the box
        page.keyboard.press("Control+Enter")
        page.get_by_text("Accepted 3, rejected 2.").wait_for()
    rows = reviews_of(database)
    assert sorted((r.image_id, r.reviewer, r.decision) for r in rows) == sorted(
        (i, "Eve", Decision.REJECT if i in marked else Decision.ACCEPT) for i in ids
    )
    for image_id in ids:
        expected = ImageStatus.REJECTED if image_id in marked else ImageStatus.ACCEPTED
        assert image_row(database, image_id).status == expected
