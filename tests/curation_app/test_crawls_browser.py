"""Crawls in real headless Chromium: a reviewer tops a breed up from the Breeds overview, follows
the crawl on the Crawls page while the page keeps polling, and cancels it there; the run ends
``interrupted`` with its images kept, and the history draws its charts.

With ``BREEDBENCH_TEST_SCREENSHOTS`` set, screenshots of the Crawls page (running, then ended)
land in ``test-artifacts/``.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from crawler import background
from db.database import Database
from db.models import RunStatus
from tests.browser import ARTIFACTS, chromium_missing, review_server
from tests.fixtures.crawl_jobs import (
    HeldBreed,
    crawl_environ,
    kill_group,
    latest_run,
    stored_count,
    wait_until,
)

pytestmark = [pytest.mark.browser, pytest.mark.timeout(300)]

missing = chromium_missing()
if missing:
    pytest.skip(f"browser tests need Chromium: {missing}", allow_module_level=True)


def screenshot(page, name: str) -> None:  # type: ignore[no-untyped-def]
    if os.environ.get("BREEDBENCH_TEST_SCREENSHOTS"):
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / name), full_page=True)


def test_top_up_follow_and_cancel_a_crawl_in_the_browser(
    database: Database,
    held_breed: HeldBreed,
    browser_page,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # type: ignore[no-untyped-def]
    for key, value in crawl_environ(held_breed.server).items():
        monkeypatch.setenv(key, value)  # the app's crawls search the look-alike
    settings = database.settings
    page = browser_page
    try:
        with review_server(
            settings.data_dir, settings.resolved_database_url(), log=tmp_path / "app.log"
        ) as url:
            page.goto(f"{url}/breeds?reviewer=ana")
            picker = page.locator(".st-key-top_up_breeds input").first
            picker.scroll_into_view_if_needed()  # the list opens below the field: keep it in view
            picker.click()
            picker.fill("Otterhound")
            page.get_by_role("option", name="Otterhound", exact=True).click()
            picker.press("Escape")
            page.get_by_role("button", name="Top up (").click()
            page.get_by_text("Crawl started (otterhound)").wait_for()

            page.goto(f"{url}/crawls?reviewer=bo")
            # The page polls: the count comes in without a reload.
            page.get_by_text(f"{held_breed.good} / 50 images stored").wait_for(timeout=60_000)
            run = latest_run(database)
            assert run is not None and run.status == RunStatus.RUNNING
            page.get_by_text(f"Crawl run {run.id}").first.wait_for()
            screenshot(page, "crawls-running.png")

            # The held images stay held: only the cancel can end this crawl.
            page.get_by_role("button", name="Cancel crawl").click()
            page.get_by_text("No crawl is running.").wait_for(timeout=60_000)
            page.get_by_text("Per breed: what its candidates became").wait_for()
            page.wait_for_function(
                """() => [...document.querySelectorAll('[data-testid="stVegaLiteChart"]')]
                    .filter(el => el.querySelector('canvas, svg.marks')).length >= 1""",
                timeout=20_000,
            )
            screenshot(page, "crawls-ended.png")
    finally:
        for job in background.list_crawl_jobs(settings):
            if job.active:
                kill_group(job.pid)
    ended = latest_run(database)
    assert ended is not None and ended.id == run.id
    assert ended.status == RunStatus.INTERRUPTED and ended.settings["cancelled_by"] == "bo"
    assert ended.settings["started_by"] == "ana"
    assert stored_count(database, run.id) >= held_breed.good
    job = wait_until(lambda: background.job_of_run(settings, run.id), "the app's job")
    assert job.status == "interrupted"
