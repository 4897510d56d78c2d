"""In a real Chromium: a review card full of hostile provenance makes the browser fetch nothing.

A beacon HTTP server on 127.0.0.2 counts every request. The image's creator is a Markdown image
pointing at it, its licence an HTML ``<img>``, its breed name and the reviewer's name more of the
same, and its landing URL the beacon too (an http URL, so a link the reviewer may follow, but
nothing the page loads by itself). After the queue has rendered, the beacon has had no hit.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import quote

import pytest
from sqlalchemy import update

from db.database import Database
from db.images import ImageMeta, add_image
from db.models import Breed
from db.provenance import Provenance
from tests.browser import ARTIFACTS, IMAGE, chromium_missing, chromium_page, review_server
from tests.factories import breed_id, jpeg_bytes

pytestmark = [pytest.mark.browser, pytest.mark.timeout(180)]

missing = chromium_missing()
if missing:
    pytest.skip(f"browser tests need Chromium: {missing}", allow_module_level=True)


class Beacon(ThreadingHTTPServer):
    """Answers every request with an empty 204 and remembers its path."""

    def __init__(self) -> None:
        self.hits: list[str] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def _hit(self) -> None:
                server.hits.append(f"{self.command} {self.path}")
                self.send_response(204)
                self.end_headers()

            do_GET = do_POST = do_HEAD = do_OPTIONS = _hit

            def log_message(self, *args: object) -> None:
                pass

        super().__init__(("127.0.0.2", 0), Handler)

    @property
    def url(self) -> str:
        return f"http://127.0.0.2:{self.server_address[1]}"


@pytest.fixture
def beacon() -> Iterator[Beacon]:
    server = Beacon()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def test_hostile_provenance_makes_the_browser_fetch_nothing(
    database: Database, beacon: Beacon, tmp_path: Path
) -> None:
    b = beacon.url
    origin = Provenance(
        source="flickr",
        query=f"pug ![]({b}/beacon?query)",
        url=f"{b}/beacon?image",
        landing_url=f"{b}/beacon?landing",
        license=f"<img src={b}/beacon?license onerror=alert(1)>",
        license_version="4.0",
        creator=f"![]({b}/beacon)",
        attribution=f"![]({b}/beacon?attribution)",
    )
    with database.session() as s:
        add_image(
            s, database.store, jpeg_bytes(seed=7), breed_id(database, "boxer"), ImageMeta(origin)
        )
        s.execute(
            update(Breed).where(Breed.slug == "boxer").values(name=f"Boxer ![]({b}/beacon?breed)")
        )
    reviewer = quote(f"![]({b}/beacon?reviewer)")
    settings = database.settings
    with (
        review_server(
            settings.data_dir, settings.resolved_database_url(), log=tmp_path / "log"
        ) as url,
        chromium_page() as page,  # its screenshot is taken below, pass or fail
    ):
        page.goto(f"{url}/?reviewer={reviewer}")
        page.locator(IMAGE).wait_for()
        info = page.get_by_text("Query", exact=False).first
        info.wait_for()
        page.wait_for_function('() => document.querySelector(".st-key-review-image img").complete')
        page.wait_for_timeout(1500)  # let anything the page would load arrive
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "hostile_provenance_queue.png"), full_page=True)
        assert beacon.hits == []
        main = page.locator("[data-testid=stMain]")
        # Every hostile string is on screen, as text.
        text = main.inner_text()
        assert f"![]({b}/beacon)" in text.replace("\u2060", "")
        assert f"<img src={b}/beacon?license" in text.replace("\u2060", "")
        # The one link is the http landing page; no image of the card comes from the beacon.
        links = page.eval_on_selector_all("a[href*='127.0.0.2']", "els => els.map(e => e.href)")
        assert links == [f"{b}/beacon?landing"]
        sources = page.eval_on_selector_all("img", "els => els.map(e => e.src)")
        assert not [s for s in sources if "127.0.0.2" in s]
        sidebar = page.locator("section[data-testid=stSidebar]").inner_text()
        assert f"![]({b}/beacon?reviewer)" in sidebar.replace("\u2060", "")
    assert beacon.hits == []  # nor while the page was read and closed
