"""The mock server (one per test session) and a helper that crawls it in-process."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from crawler.runner import CrawlControl, CrawlOptions, CrawlReport, run_crawl
from db.database import Database
from tests.crawler.mockserver import FLICKR_KEY, MockServer

# Small pages so that every source pages (Openverse page, Wikimedia continue, Flickr page).
PAGE = 5


@pytest.fixture(scope="session")
def mockserver() -> Iterator[MockServer]:
    with MockServer() as server:
        yield server


def source_overrides(url: str) -> dict[str, Any]:
    return {
        "BREEDBENCH_OPENVERSE_URL": f"{url}/openverse/v1",
        "BREEDBENCH_WIKIMEDIA_URL": f"{url}/wikimedia/w/api.php",
        "BREEDBENCH_FLICKR_URL": f"{url}/flickr/services/rest/",
        "BREEDBENCH_FLICKR_API_KEY": FLICKR_KEY,
        "BREEDBENCH_OPENVERSE_PAGE_SIZE": PAGE,
        "BREEDBENCH_WIKIMEDIA_PAGE_SIZE": PAGE,
        "BREEDBENCH_FLICKR_PAGE_SIZE": PAGE,
        # Local and fast: no throttling delay, short timeouts and backoff.
        "AUTOTHROTTLE_ENABLED": False,
        "DOWNLOAD_TIMEOUT": 2,
        "RETRY_TIMES": 1,
        "BREEDBENCH_RETRY_BACKOFF_BASE": 0.05,
        "CONCURRENT_REQUESTS_PER_DOMAIN": 16,
        # The look-alike's own host; any other loopback address stays refused.
        "BREEDBENCH_ALLOW_HOSTS": "127.0.0.1",
    }


def crawl(
    db: Database,
    server: MockServer,
    *,
    breeds: list[str],
    sources: list[str] | None = None,
    per_breed: int | None = None,
    dog_keyword: str | None = None,
    control: CrawlControl | None = None,
    on_progress: Any = None,
    **overrides: Any,
) -> CrawlReport:
    options = CrawlOptions(
        breeds=breeds,
        per_breed=per_breed,
        sources=sources or ["openverse"],
        dog_keyword=dog_keyword,
        scrapy_overrides={**source_overrides(server.url), **overrides},
    )
    server.new_crawl()
    return run_crawl(db, options, control=control, on_progress=on_progress)
