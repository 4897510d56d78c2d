"""A crawl ends on its own, asks for each page once, and concludes only from honest answers.

Against the look-alike: Openverse answers malformed pages (``MALFORMED``), an API that is not
there (a loopback port where nothing listens), an API answering 503 beside a healthy one, and a
request budget. Every assertion counts requests or reads what was stored and recorded; none
depends on how long anything took.
"""

from __future__ import annotations

import logging
import socket
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import select

from crawler import settings as crawler_settings
from crawler.runner import CrawlReport
from crawler.sources.openverse import OpenverseSource
from db.database import Database
from db.models import Breed, CrawlRun, RunStatus
from tests.cli.helpers import invoke
from tests.crawler.conftest import crawl
from tests.crawler.mockserver import MALFORMED, MockServer
from tests.factories import breed_images

SHAPES = [q for q in MALFORMED if q != "pekinese"]


def dog_keyword(db: Database, slug: str) -> bool:
    with db.session() as s:
        value = s.scalar(select(Breed.dog_keyword).where(Breed.slug == slug))
    assert value is not None
    return value


def run_row(db: Database, run_id: int) -> CrawlRun:
    with db.session() as s:
        row = s.get(CrawlRun, run_id)
        assert row is not None
        s.expunge(row)
    return row


class Lines(logging.Handler):
    """The crawl's log lines (a module-wide crawl cannot use the per-test ``caplog``)."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage())


@pytest.fixture(scope="module")
def malformed_crawl(
    tmp_path_factory: pytest.TempPathFactory, mockserver: MockServer
) -> Iterator[tuple[Database, CrawlReport, Any, list[str]]]:
    """One crawl (dog keyword ``auto``) of every breed whose Openverse answers are malformed."""
    from core.settings import Settings
    from db.database import open_database
    from db.seed import seed_breeds

    tmp = tmp_path_factory.mktemp("malformed")
    db = open_database(Settings(data_dir=tmp / "data", database_url=f"sqlite:///{tmp}/t.db"))
    with db.session() as s:
        seed_breeds(s)
    lines = Lines()
    spider_log = logging.getLogger("crawler.spider")
    spider_log.addHandler(lines)
    start = len(mockserver.log())
    try:
        report = crawl(db, mockserver, breeds=SHAPES, per_breed=50)
    finally:
        spider_log.removeHandler(lines)
    yield db, report, {q: mockserver.openverse_pages(q, start) for q in SHAPES}, lines.lines
    db.dispose()


# What each malformed shape must come to (the catalog has 15 photos, 3 pages of 5, per query):
# bad results are skipped and the query still ends honestly; bad pages are skipped, and the
# query's end is then no conclusion (no dog-keyword fallback).
EXPECTED = {
    "borzoi": {"stored": 12, "honest": True},
    "keeshond": {"stored": 12, "honest": True},
    "schipperke": {"stored": 15, "honest": False},  # 3 bad pages in a row: stops for the breed
    "affenpinscher": {"stored": 10, "honest": False},  # page 2 skipped
    "rottweiler": {"stored": 10, "honest": False},
    "malamute": {"stored": 10, "honest": False},
}


@pytest.mark.parametrize("slug", SHAPES)
def test_each_malformed_shape_is_asked_once_skipped_and_the_good_results_stored(
    malformed_crawl: tuple[Database, CrawlReport, Any, list[str]], slug: str
) -> None:
    db, report, pages, _ = malformed_crawl
    assert pages[slug] == Counter({1: 1, 2: 1, 3: 1}), "every page exactly once, no more"
    assert len(breed_images(db, slug)) == EXPECTED[slug]["stored"]
    summary = report.stats["breeds"][slug]
    if EXPECTED[slug]["honest"]:
        assert summary["search_incomplete"] == {}
    else:
        assert summary["search_incomplete"] == {"openverse": "bad_pages"}
        assert summary["exhausted"] is False


def test_malformed_answers_are_counted_and_logged_and_the_run_finishes(
    malformed_crawl: tuple[Database, CrawlReport, Any, list[str]],
) -> None:
    db, report, _, lines = malformed_crawl
    assert report.status == RunStatus.FINISHED  # the source answered; its bad pages are noted
    stats = report.stats
    assert stats["search/bad_result"] == stats["search/bad_result/openverse"] == 6
    assert stats["search/bad_page"] == stats["search/bad_page/openverse"] == 3 + 1 + 1 + 1
    health = stats["sources"]["openverse"]
    assert (health["pages_bad"], health["results_bad"], health["failed"]) == (6, 6, False)
    # Source, query and page in every line; the reason in words.
    assert any(
        "openverse: unreadable results page (query 'schipperke', page 2)" in line
        and "page_count" in line
        for line in lines
    )
    assert any("query 'affenpinscher', page 2" in line and "not a list" in line for line in lines)
    assert any("query 'rottweiler', page 2" in line and "'results'" in line for line in lines)
    assert any("query 'malamute', page 2" in line and "not JSON" in line for line in lines)
    assert any("query 'borzoi', page 1" in line and "url is a number" in line for line in lines)
    assert any("query 'keeshond', page 1" in line and "not an object" in line for line in lines)
    assert run_row(db, report.run_id).stats["sources"]["openverse"]["pages_bad"] == 6


def test_only_an_honest_end_switches_to_the_dog_keyword(
    malformed_crawl: tuple[Database, CrawlReport, Any, list[str]],
) -> None:
    db, report, _, _ = malformed_crawl
    jobs = {j.slug: j for j in report.jobs}
    for slug in SHAPES:
        honest = EXPECTED[slug]["honest"]
        assert jobs[slug].fell_back is honest, slug
        assert dog_keyword(db, slug) is honest, slug


def test_a_source_whose_every_answer_is_unreadable_fails_the_run(
    database: Database, mockserver: MockServer
) -> None:
    start = len(mockserver.log())
    report = crawl(database, mockserver, breeds=["pekinese"], per_breed=50)
    assert mockserver.openverse_pages("pekinese", start) == Counter({1: 1, 2: 1, 3: 1})
    assert report.status == RunStatus.FAILED
    assert "every answer was malformed" in report.failed_sources["openverse"]
    assert breed_images(database, "pekinese") == []
    assert dog_keyword(database, "pekinese") is False
    assert run_row(database, report.run_id).status == RunStatus.FAILED


def test_an_exception_in_a_source_is_a_bad_page_not_a_loop(
    database: Database, mockserver: MockServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(self: OpenverseSource, data: Any, page: Any) -> Any:
        raise RuntimeError("boom")

    monkeypatch.setattr(OpenverseSource, "following", broken)
    start = len(mockserver.log())
    report = crawl(database, mockserver, breeds=["saluki"], per_breed=20)
    # Each page's results are used, the next page tried; 3 unreadable in a row end the source.
    assert mockserver.openverse_pages("saluki", start) == Counter({1: 1, 2: 1, 3: 1})
    assert len(breed_images(database, "saluki")) == 10
    assert report.stats["search/bad_page/openverse"] == 3
    assert "RuntimeError: boom" in report.sources["openverse"]["last_bad_page"]
    assert report.status == RunStatus.FINISHED  # its results were usable
    assert dog_keyword(database, "saluki") is False


def test_a_page_is_never_asked_twice_whatever_a_source_says(
    database: Database, mockserver: MockServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(OpenverseSource, "following", lambda self, data, page: 1)
    start = len(mockserver.log())
    report = crawl(database, mockserver, breeds=["saluki"], per_breed=20, dog_keyword="never")
    assert mockserver.openverse_pages("saluki", start) == Counter({1: 1})
    assert report.stats["search/repeat_refused"] == 1
    assert report.jobs[0].summary()["search_incomplete"] == {"openverse": "repeat"}


# --- the request budget --------------------------------------------------------------------------


def test_the_request_budget_stops_the_source_and_is_reported(
    database: Database, mockserver: MockServer
) -> None:
    start = len(mockserver.log())
    report = crawl(
        database,
        mockserver,
        breeds=["saluki", "affenpinscher", "rottweiler"],  # each has more than one page
        per_breed=50,
        BREEDBENCH_MAX_REQUESTS_PER_SOURCE=2,
    )
    asked = [e for e in mockserver.log()[start:] if e["path"] == "/openverse/v1/images/"]
    assert len(asked) == 2, "the budget caps every search of the source"
    assert report.stats["search/budget_reached/openverse"] == 1
    assert "BREEDBENCH_CRAWL_MAX_REQUESTS_PER_SOURCE" in report.budget_stops["openverse"]
    assert report.status == RunStatus.FINISHED  # a budget is a limit, not a failure
    for job in report.jobs:
        assert not job.fell_back and job.summary()["exhausted"] is False
        assert dog_keyword(database, job.slug) is False
    assert run_row(database, report.run_id).stats["sources"]["openverse"]["budget_reached"]


def test_the_budget_setting_reaches_the_crawler() -> None:
    from core.settings import Settings

    out = crawler_settings.scrapy_settings(Settings(crawl_max_requests_per_source=7))
    assert out["BREEDBENCH_MAX_REQUESTS_PER_SOURCE"] == 7
    assert crawler_settings.scrapy_settings(Settings())["BREEDBENCH_MAX_REQUESTS_PER_SOURCE"] == (
        2000
    )


def test_the_spider_takes_its_limits_from_the_settings(database: Database) -> None:
    """One place for each default (``crawler.settings.DEFAULTS``), none repeated in the spider."""
    from scrapy.crawler import Crawler

    from core.settings import Settings
    from crawler.queries import DogKeywordMode
    from crawler.spider import BreedSpider, CrawlContext

    def limits(settings: Settings) -> tuple[int, int, int]:
        crawler = Crawler(BreedSpider, crawler_settings.scrapy_settings(settings))
        context = CrawlContext(db=database, run_id=0, jobs={}, mode=DogKeywordMode.NEVER)
        spider = BreedSpider.from_crawler(crawler, context=context)
        return spider.max_requests, spider.max_bad_pages, spider.max_failed

    defaults = crawler_settings.DEFAULTS
    assert limits(Settings()) == (
        defaults["BREEDBENCH_MAX_REQUESTS_PER_SOURCE"],
        defaults["BREEDBENCH_MAX_BAD_PAGES"],
        defaults["BREEDBENCH_MAX_FAILED_SEARCHES"],
    )
    assert limits(Settings(crawl_max_requests_per_source=7, crawl_max_bad_pages=5))[:2] == (7, 5)


# --- sources that cannot be reached, or answer 5xx ------------------------------------------------


def dead_port() -> int:
    """A loopback port where nothing listens (bound, then closed)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_a_5xx_source_beside_a_healthy_one_makes_the_run_partial(
    any_database: Database, mockserver: MockServer
) -> None:
    database = any_database  # "partial" is stored on both databases (no migration needed)
    report = crawl(
        database,
        mockserver,
        breeds=["basenji"],
        per_breed=3,
        sources=["openverse", "wikimedia"],
    )
    assert report.status == RunStatus.PARTIAL
    assert {r.source for r in breed_images(database, "basenji")} == {"wikimedia"}
    assert len(breed_images(database, "basenji")) == 3
    assert report.failed_sources == {"openverse": f"HTTP 503 from {mockserver.url[7:]}"}
    assert report.sources["wikimedia"]["failed"] is False
    assert run_row(database, report.run_id).status == RunStatus.PARTIAL


def test_a_search_failing_once_beside_answers_of_the_same_source_is_no_failed_source(
    database: Database, mockserver: MockServer
) -> None:
    """Openverse answers saluki but 503s basenji: counted and recorded, the run ``finished``."""
    report = crawl(
        database, mockserver, breeds=["saluki", "basenji"], per_breed=3, dog_keyword="never"
    )
    assert report.status == RunStatus.FINISHED and report.failed_sources == {}
    health = report.sources["openverse"]
    assert (health["failures"], health["failed"]) == (1, False)
    assert health["first_failure"] == f"HTTP 503 from {mockserver.url[7:]}"
    assert report.stats["search/failed/openverse"] == 1
    assert report.stats["breeds"]["basenji"]["search_incomplete"] == {"openverse": "failed"}


def test_unreachable_sources_stop_after_a_few_failures_in_a_row(
    database: Database, mockserver: MockServer
) -> None:
    port = dead_port()
    breeds = ["saluki", "weimaraner", "vizsla", "kuvasz", "borzoi", "keeshond"]
    report = crawl(
        database,
        mockserver,
        breeds=breeds,
        BREEDBENCH_OPENVERSE_URL=f"http://127.0.0.1:{port}/openverse/v1",
        CONCURRENT_REQUESTS=1,
    )
    assert report.status == RunStatus.FAILED
    assert "connection refused" in report.disabled_sources["openverse"]
    assert "3 searches in a row failed" in report.sources["openverse"]["stopped"]
    # Every breed's search ended once, as a failure or dropped unsent once the source stopped.
    failed = report.stats["search/failed/openverse"]
    assert failed >= 3
    assert failed + report.stats.get("search/dropped/openverse", 0) == len(breeds)
    for slug in breeds:
        assert report.stats["breeds"][slug]["search_incomplete"]["openverse"] in (
            "failed",
            "stopped",
        )


def test_searches_of_a_stopped_source_are_dropped_unsent() -> None:
    from types import SimpleNamespace

    from scrapy import Request

    from crawler.gate import StoppedSourceMiddleware
    from crawler.health import SourceStopped

    counts: Counter[str] = Counter()
    context = SimpleNamespace(disabled_sources={"openverse": "cannot connect"})
    crawler = SimpleNamespace(
        spider=SimpleNamespace(context=context),
        stats=SimpleNamespace(inc_value=lambda key: counts.update([key])),
    )
    gate = StoppedSourceMiddleware(crawler)  # type: ignore[arg-type]
    with pytest.raises(SourceStopped, match="openverse stopped: cannot connect"):
        gate.process_request(Request("http://127.0.0.1/s", meta={"source": "openverse"}))
    assert counts == {"search/dropped/openverse": 1}
    gate.process_request(Request("http://127.0.0.1/s", meta={"source": "wikimedia"}))
    gate.process_request(Request("http://127.0.0.1/img.jpg"))  # images are not searches


# --- the CLI -------------------------------------------------------------------------------------


@pytest.fixture
def fast_cli(database: Database, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The CLI against ``database``, with retries that do not wait (settings only, no clocks)."""
    monkeypatch.setitem(crawler_settings.POLITENESS, "AUTOTHROTTLE_ENABLED", False)
    monkeypatch.setitem(crawler_settings.POLITENESS, "RETRY_TIMES", 1)
    monkeypatch.setitem(crawler_settings.DEFAULTS, "BREEDBENCH_RETRY_BACKOFF_BASE", 0.0)
    monkeypatch.setenv("BREEDBENCH_CONTACT", "tests@example.org")
    monkeypatch.setenv("BREEDBENCH_CRAWL_TIMEOUT", "5")
    s = database.settings
    return ["--db", s.resolved_database_url(), "--data-dir", str(s.data_dir)]


def test_cli_crawl_with_nothing_reachable_fails_names_each_source_and_concludes_nothing(
    fast_cli: list[str], database: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    port = dead_port()
    monkeypatch.setenv("BREEDBENCH_OPENVERSE_URL", f"http://127.0.0.1:{port}/openverse/v1")
    monkeypatch.setenv("BREEDBENCH_WIKIMEDIA_URL", f"http://127.0.0.1:{port}/w/api.php")
    breeds = ["golden_retriever", "german_shepherd"]
    argv = [*fast_cli, "crawl", "--breed", breeds[0], "--breed", breeds[1]]
    result = invoke(*argv)
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output
    error = [line for line in result.output.splitlines() if line.startswith("Error: ")]
    assert len(error) == 1
    assert "failed, no source could be used" in error[0]
    for source in ("openverse", "wikimedia"):
        assert f"{source}: cannot connect to 127.0.0.1:{port} (connection refused)" in error[0]
    for slug in breeds:
        assert dog_keyword(database, slug) is False  # a network error is not an empty result
    with database.session() as s:
        run = s.scalars(select(CrawlRun).order_by(CrawlRun.id.desc())).first()
        assert run is not None and run.status == RunStatus.FAILED
        assert "connection refused" in run.stats["sources"]["openverse"]["error"]
        assert run.stats["breeds"]["golden_retriever"]["exhausted"] is False


def test_cli_crawl_partial_exits_0_with_a_warning(
    fast_cli: list[str], database: Database, mockserver: MockServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BREEDBENCH_OPENVERSE_URL", f"{mockserver.url}/openverse/v1")
    monkeypatch.setenv("BREEDBENCH_WIKIMEDIA_URL", f"{mockserver.url}/wikimedia/w/api.php")
    monkeypatch.setenv("BREEDBENCH_CRAWL_ALLOW_HOSTS", "127.0.0.1")
    result = invoke(*fast_cli, "crawl", "--breed", "basenji", "--per-breed", "2")
    assert result.exit_code == 0, result.output
    assert "2 images stored" in result.output and "(partial)" in result.output
    assert "Warning: source openverse failed: HTTP 503" in result.output
    assert "is partial: openverse failed" in result.output
