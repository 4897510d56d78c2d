"""The queue running in the browser, in headless Chromium against ``breedbench review``: fast
keypresses, undo, a server that goes away and comes back, two reviewers at once."""

from __future__ import annotations

from pathlib import Path

import pytest

from db.database import Database
from db.models import Decision
from tests.browser import (
    IMAGE,
    chromium_missing,
    free_port,
    queue_state,
    review_server,
    shown_image_id,
    shown_image_src,
    wait_for_next_image,
    wait_until_saved,
)
from tests.factories import breed_id
from tests.fixtures.app import reviews_of

pytestmark = [pytest.mark.browser, pytest.mark.timeout(300)]

missing = chromium_missing()
if missing:
    pytest.skip(f"browser tests need Chromium: {missing}", allow_module_level=True)

KEYS = ["a", "1", "2", "3", "4", "5", "6", "s"]
DECISION = {"a": Decision.ACCEPT, "s": Decision.SKIP}
REASONS = ["not_this_breed", "not_a_dog", "several_breeds", "drawing_or_toy", "duplicate",
           "poor_quality"]  # fmt: skip


def _expected(key: str) -> tuple[Decision, str | None]:
    if key in DECISION:
        return DECISION[key], None
    return Decision.REJECT, REASONS[int(key) - 1]


def _open_queue(page, url: str, reviewer: str) -> None:  # type: ignore[no-untyped-def]
    page.goto(f"{url}/?reviewer={reviewer}")
    page.locator(IMAGE).wait_for()


def test_fifty_fast_keypresses_with_an_undo_are_recorded_once_each_in_order(
    database: Database, add_images, browser_page, tmp_path: Path
) -> None:
    ids = add_images("boxer", 55)
    page = browser_page
    settings = database.settings
    with review_server(settings.data_dir, settings.resolved_database_url(),
                       log=tmp_path / "server.log") as url:  # fmt: skip
        _open_queue(page, url, "ana")
        src = shown_image_src(page)
        pressed: list[tuple[int, str]] = []
        for n in range(50):
            if n == 25:
                page.keyboard.press("u")  # the 25th image comes back
                src = wait_for_next_image(page, src)
                assert shown_image_id(page) == pressed[-1][0]
            key = KEYS[n % len(KEYS)]
            pressed.append((shown_image_id(page), key))
            page.keyboard.press(key)
            src = wait_for_next_image(page, src)
        wait_until_saved(page)
        assert queue_state(page)["outbox"] == 0
        assert page.evaluate("() => localStorage.getItem('breedbench-queue:ana')") is None
    rows = reviews_of(database)
    undo = rows[25]
    decisions = rows[:25] + rows[26:]
    assert [(r.image_id, r.decision, r.reason) for r in decisions] == [
        (image_id, *_expected(key)) for image_id, key in pressed
    ]
    assert (undo.decision, undo.undoes_id) == (Decision.UNDO, rows[24].id)
    assert [image_id for image_id, _ in pressed] == ids[:25] + ids[24:49]
    assert len({r.client_id for r in rows}) == 51 and None not in {r.client_id for r in rows}
    assert all(r.reviewer == "ana" for r in rows)


def test_decisions_made_while_the_server_is_down_are_kept_and_sent_when_it_is_back(
    database: Database, add_images, browser_page, tmp_path: Path
) -> None:
    ids = add_images("pug", 12)
    page = browser_page
    settings = database.settings
    port = free_port()
    log = tmp_path / "server.log"
    args = (settings.data_dir, settings.resolved_database_url())
    with review_server(*args, log=log, port=port) as url:
        _open_queue(page, url, "bo")
        src = shown_image_src(page)
        page.keyboard.press("a")
        src = wait_for_next_image(page, src)
        wait_until_saved(page)
        # Let the window's next images be in the browser before the server goes.
        page.wait_for_function(
            """(sel) => window.__breedbenchQueue.cards.length >= 6 && [...window.__breedbenchQueue
                .preloaded.values()].filter(i => i.complete && i.naturalWidth > 0).length >= 5""",
            arg=IMAGE,
        )
    # The server is gone: the preloaded images still come at once, the decisions wait.
    for key in ["a", "2", "s"]:
        page.keyboard.press(key)
        src = wait_for_next_image(page, src)
    banner = page.locator(".bbq-offline")
    banner.wait_for()
    assert "3 decisions kept in this browser" in banner.inner_text()
    stored = page.evaluate("() => JSON.parse(localStorage.getItem('breedbench-queue:bo'))")
    assert [(i["image_id"], i["decision"]) for i in stored] == [
        (ids[1], "accept"),
        (ids[2], "reject"),
        (ids[3], "skip"),
    ]
    assert len(reviews_of(database)) == 1
    # Leaving now would lose them: the page asks first.
    assert page.evaluate(
        "() => { const e = new Event('beforeunload', {cancelable: true});"
        " window.dispatchEvent(e); return e.defaultPrevented; }"
    )
    with review_server(*args, log=log, port=port):
        wait_until_saved(page, timeout_ms=60_000)
        banner.wait_for(state="hidden")
    rows = reviews_of(database)
    assert [(r.image_id, r.decision, r.reason) for r in rows] == [
        (ids[0], Decision.ACCEPT, None),
        (ids[1], Decision.ACCEPT, None),
        (ids[2], Decision.REJECT, "not_a_dog"),
        (ids[3], Decision.SKIP, None),
    ]
    assert all(r.reviewer == "bo" for r in rows)


def test_two_reviewers_at_once_never_hold_the_same_pending_image(
    database: Database, add_images, browser_page, tmp_path: Path
) -> None:
    add_images("beagle", 40)
    ana = browser_page
    settings = database.settings
    with review_server(settings.data_dir, settings.resolved_database_url(),
                       log=tmp_path / "server.log") as url:  # fmt: skip
        bo = ana.context.browser.new_page()
        _open_queue(ana, url, "ana")
        _open_queue(bo, url, "bo")
        seen: dict[str, set[int]] = {"ana": set(), "bo": set()}
        srcs = {"ana": shown_image_src(ana), "bo": shown_image_src(bo)}
        for n in range(12):
            for name, page in (("ana", ana), ("bo", bo)):
                state = queue_state(page)
                seen[name] |= {state["shown"], *state["window"]} - {None}
                # What each holds: shown or still to come (an image decided or skipped here is
                # let go, and may go to the other reviewer while it is still in the sent window).
                mine = {state["shown"], *state["held"]} - {None}
                other = queue_state(bo if name == "ana" else ana)
                theirs = {other["shown"], *other["held"]} - {None}
                assert not mine & theirs, (n, name, mine & theirs)
                page.keyboard.press("a" if n % 3 else "s")
                srcs[name] = wait_for_next_image(page, srcs[name])
        wait_until_saved(ana)
        wait_until_saved(bo)
        bo.close()
    rows = reviews_of(database)
    assert len(rows) == 24
    votes = {
        name: {r.image_id for r in rows if r.reviewer == name and r.decision != Decision.SKIP}
        for name in seen
    }
    assert not votes["ana"] & votes["bo"]  # no image decided twice
    # A skipped image is let go: the other reviewer may be handed it afterwards.
    skipped = {r.image_id for r in rows if r.decision == Decision.SKIP}
    assert skipped and seen["ana"] | seen["bo"] >= skipped


def test_shortcuts_are_shown_and_relabel_takes_a_chosen_breed(
    database: Database, add_images, browser_page, tmp_path: Path
) -> None:
    ids = add_images("boxer", 2)
    page = browser_page
    settings = database.settings
    with review_server(settings.data_dir, settings.resolved_database_url(),
                       log=tmp_path / "server.log") as url:  # fmt: skip
        _open_queue(page, url, "cy")
        keys = page.eval_on_selector_all(
            ".bbq-body .bbq-btn",
            "els => els.map(e => [e.querySelector('span').innerText, e.dataset.key])",
        )
        assert keys == [
            ["Accept", "A"], ["Not this breed", "1"], ["Not a dog", "2"], ["Several breeds", "3"],
            ["Drawing or toy", "4"], ["Duplicate", "5"], ["Poor quality", "6"], ["Skip", "S"],
            ["Undo", "U"], ["Relabel", "L"],
        ]  # fmt: skip
        relabel = page.locator(".bbq-relabel .bbq-btn")
        box = page.locator(".bbq-relabel-input")
        assert relabel.is_disabled()
        box.fill("Boxer (boxer)")  # its own breed: nothing to relabel to
        assert relabel.is_disabled()
        box.fill("Pug (pug)")
        assert relabel.is_enabled()
        src = shown_image_src(page)
        box.press("Enter")
        wait_for_next_image(page, src)
        assert box.input_value() == ""  # the chosen breed was for that image only
        assert relabel.is_disabled()
        wait_until_saved(page)
        assert "relabel #" in page.locator(".bbq-status").inner_text()
    (row,) = reviews_of(database)
    assert (row.image_id, row.decision, row.reviewer) == (ids[0], Decision.RELABEL, "cy")
    assert row.target_breed_id == breed_id(database, "pug")
