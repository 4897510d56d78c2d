"""The Suspects page in headless Chromium: keep and send back with the keyboard, read back from
the database."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select

from db.database import Database
from db.models import Decision, Image, ImageStatus, LabelCheck
from review.suspects import SUSPECT_REASON
from tests.browser import chromium_missing, review_server
from tests.fixtures.app import reviews_of

pytestmark = [pytest.mark.browser, pytest.mark.timeout(240)]

missing = chromium_missing()
if missing:
    pytest.skip(f"browser tests need Chromium: {missing}", allow_module_level=True)

SUSPECT = ".st-key-suspect-image"


def shown_suspect(page) -> int:  # type: ignore[no-untyped-def]
    """The id in the picture's caption ("#12"), once the picture is decoded."""
    page.wait_for_function(
        """(sel) => { const img = document.querySelector(sel + ' img');
                      return img && img.complete && img.naturalWidth > 0; }""",
        arg=SUSPECT,
    )
    text = page.locator(SUSPECT).first.inner_text()
    return int(text.strip().split("#")[-1].split()[0])


def wait_for_other_suspect(page, previous: int) -> int:  # type: ignore[no-untyped-def]
    page.wait_for_function(
        """([sel, prev]) => { const el = document.querySelector(sel);
               return el && !el.innerText.includes('#' + prev); }""",
        arg=[SUSPECT, str(previous)],
    )
    return shown_suspect(page)


def test_keep_and_send_back_with_the_keyboard(
    database: Database, suspect_set: dict[str, list[int]], browser_page, tmp_path: Path
) -> None:
    page = browser_page
    settings = database.settings
    first, second = suspect_set["chihuahua"][0], suspect_set["pug"][1]
    with review_server(
        settings.data_dir, settings.resolved_database_url(), log=tmp_path / "server.log"
    ) as url:
        page.goto(f"{url}/suspects?reviewer=Eve")
        assert shown_suspect(page) == first
        page.get_by_text("Relabel to Pug").wait_for()
        page.keyboard.press("k")
        assert wait_for_other_suspect(page, first) == second
        with database.session() as s:
            check = s.scalars(select(LabelCheck)).one()
        assert (check.image_id, check.reviewer) == (first, "Eve")
        page.keyboard.press("b")
        wait_for_other_suspect(page, second)
        rows = reviews_of(database, second)
        assert (rows[-1].decision, rows[-1].reviewer, rows[-1].reason) == (
            Decision.RESET,
            "Eve",
            SUSPECT_REASON,
        )
        with database.session() as s:
            assert s.get(Image, second).status == ImageStatus.PENDING
        # a reload still hides the kept image
        page.reload()
        assert shown_suspect(page) not in (first, second)
