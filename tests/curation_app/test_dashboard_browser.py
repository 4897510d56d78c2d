"""The dashboard in real headless Chromium (Debian's): charts draw, the gallery shows pictures,
and "Send back to review" records a reset. A screenshot is kept when a check fails."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select

from db.database import Database
from db.models import Decision, Image, ImageStatus, Review
from tests.browser import chromium_missing, review_server
from tests.fixtures.seeding import Seeded

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(chromium_missing() is not None, reason=str(chromium_missing())),
]


@pytest.fixture
def server(database: Database, seeded: Seeded, tmp_path: Path) -> Iterator[str]:
    settings = database.settings
    with review_server(
        settings.data_dir, settings.resolved_database_url(), log=tmp_path / "app.log"
    ) as url:
        yield url


DRAWN_CHARTS = """() => [...document.querySelectorAll('[data-testid="stVegaLiteChart"]')]
    .filter(el => {
        const g = el.querySelector('canvas, svg.marks');
        if (!g) return false;
        const r = g.getBoundingClientRect();
        return r.width > 100 && r.height > 100;
    }).length"""


def drawn_charts(pg, at_least: int) -> int:  # type: ignore[no-untyped-def]
    """Wait until ``at_least`` Vega charts are drawn at a real size; return how many are."""
    pg.wait_for_function(f"() => ({DRAWN_CHARTS})() >= {at_least}", timeout=20_000)
    return int(pg.evaluate(DRAWN_CHARTS))


def test_charts_and_gallery_render_and_send_back_works(
    server: str, browser_page, database: Database, seeded: Seeded
) -> None:  # type: ignore[no-untyped-def]
    pg = browser_page
    pg.goto(f"{server}/models")
    pg.get_by_text("Trade-offs", exact=True).wait_for(timeout=20_000)
    assert drawn_charts(pg, 2) == 2  # history, trade-off

    run = seeded.runs["pb-1"]
    pg.goto(f"{server}/run_details?run={run}&reviewer=dora")
    pg.get_by_role("tab", name="Mistakes").wait_for(timeout=20_000)
    assert drawn_charts(pg, 1) == 1  # per-breed accuracy
    pg.get_by_role("tab", name="Mistakes").click()
    cards = pg.locator('[class*="st-key-mistake-"]')
    wrong = sum(r != 1 for r in seeded.ranks["pb-1"].values())
    expected = min(wrong, 12)
    # Streamlit streams the page element by element: wait for the whole gallery.
    pg.wait_for_function(
        f"""() => document.querySelectorAll('[class*="st-key-mistake-"]').length >= {expected}""",
        timeout=20_000,
    )
    assert cards.count() == expected
    pg.wait_for_function(
        """() => [...document.querySelectorAll('[class*="st-key-mistake-"] img')]
            .every(img => img.complete && img.naturalWidth > 0)""",
        timeout=20_000,
    )
    first = cards.first
    image_id = int(
        next(
            c for c in (first.get_attribute("class") or "").split() if c.startswith("st-key-")
        ).rsplit("-", 1)[1]
    )
    assert "pug" in first.inner_text()  # the model's top guess is listed with its probability
    first.get_by_role("button", name="Send back to review").click()
    pg.get_by_text("In the review queue").first.wait_for(timeout=20_000)
    with database.session() as s:
        assert s.get(Image, image_id).status == ImageStatus.PENDING  # type: ignore[union-attr]
        reviewers = s.scalars(
            select(Review.reviewer).where(
                Review.image_id == image_id, Review.decision == Decision.RESET
            )
        ).all()
    assert reviewers == ["dora"]
