"""``breedbench report RUN --format html`` is one self-contained file: it opens offline, with
its charts, and references nothing outside itself."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path

import pytest

from db.database import Database
from tests.browser import CHROMIUM, CHROMIUM_ARGS, chromium_missing
from tests.cli.helpers import cli
from tests.fixtures.seeding import Seeded

URL_ATTRS = {"src", "href", "srcset", "action", "poster", "data", "xlink:href"}


class References(HTMLParser):
    """Every URL-valued attribute, and the tags that would load something."""

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []
        self.tags: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        self.urls += [v or "" for k, v in attrs if k.lower() in URL_ATTRS]


def write_report(database: Database, run_id: int, out: Path) -> str:
    result = cli(database, "report", run_id, "--format", "html", "-o", out)
    assert result.exit_code == 0, result.output
    return out.read_text(encoding="utf-8")


def test_html_report_has_no_external_references(
    database: Database, seeded: Seeded, tmp_path: Path
) -> None:
    text = write_report(database, seeded.runs["lite-1"], tmp_path / "run.html")
    refs = References()
    refs.feed(text)
    assert refs.tags.count("svg") >= 2  # the charts are inline
    assert not [u for u in refs.urls if not u.startswith(("#", "data:"))]
    assert not {"link", "iframe", "object", "embed"} & set(refs.tags)
    assert not re.search(r"url\(\s*['\"]?(https?:)?//", text)  # nothing pulled in by CSS
    assert not re.search(r"@import", text)
    assert "inception-breeds:1-dynamic" in text


@pytest.mark.browser
@pytest.mark.skipif(chromium_missing() is not None, reason=str(chromium_missing()))
def test_html_report_opens_offline_in_chromium(
    database: Database, seeded: Seeded, tmp_path: Path
) -> None:
    from playwright.sync_api import sync_playwright

    path = tmp_path / "run.html"
    write_report(database, seeded.runs["pb-2"], path)
    requested: list[str] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        context = browser.new_context(offline=True)
        page = context.new_page()
        page.on("request", lambda r: requested.append(r.url))
        page.goto(path.as_uri())
        sizes = page.evaluate(
            "() => [...document.querySelectorAll('svg')].map(s => s.getBoundingClientRect())"
            ".map(r => [r.width, r.height])"
        )
        title = page.title()
        browser.close()
    assert [u for u in requested if u != path.as_uri()] == []
    assert len(sizes) >= 2 and all(w > 50 and h > 50 for w, h in sizes)
    assert title.startswith(f"Run {seeded.runs['pb-2']}")
