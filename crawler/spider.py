"""The spider: for each breed, page through the sources until it has what it needs.

``start()`` (Scrapy 2.19 ignores a spider that only defines ``start_requests``) first lets each
source prepare (an Openverse token), then asks every breed's first result page. Each results
page fills the breed's queue of candidates; ``_pump`` turns candidates into image downloads while
``stored + in flight < needed``, and asks for the next page (next source, then the dog-keyword
fallback) only once the queue is empty. The pipeline reports each image's outcome back through
``image_finished``, which pumps again, so a breed stops exactly at its target.

Every search ends in a decision, so the crawl always moves on and never asks for a page twice:

* an answer that cannot be read (not JSON, a wrong shape, anything a source raises) is logged
  with source, query and page, counted (``search/bad_page``), and the next page is asked for
  when the source can name it without the bad answer; after ``BREEDBENCH_CRAWL_MAX_BAD_PAGES``
  in a row the source stops for that breed. A single bad result is skipped and counted
  (``search/bad_result``), the rest of its page used;
* a failed search (no answer after Scrapy's retries, or an error status) moves the breed to the
  next source; 3 in a row, across breeds, stop the source for the crawl (a fixed default of
  ``crawler.settings``, not a user setting), and its waiting searches are dropped unsent
  (``crawler.gate``);
* each source may be sent ``BREEDBENCH_CRAWL_MAX_REQUESTS_PER_SOURCE`` searches, then it stops;
* a page already asked for is never asked again (``search/repeat_refused``), whatever the cause.

Only an honest end — a well-formed answer saying there is nothing more — counts as the query
running out (``BreedJob.ran_out``); the dog-keyword fallback, which the runner persists on the
breed, is taken only then. How each source fared is kept in ``CrawlContext.health``.
"""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import replace
from typing import Any

from scrapy import Request, Spider, signals
from scrapy.crawler import Crawler
from scrapy.exceptions import (
    DontCloseSpider,
    DownloadCancelledError,
    DownloadTimeoutError,
    IgnoreRequest,
    NotConfigured,
    ResponseDataLossError,
)
from scrapy.http import Response
from scrapy.spidermiddlewares.httperror import HttpError
from twisted.python.failure import Failure

from crawler.candidate import Candidate
from crawler.health import SourceHealth, SourceStopped, describe_failure
from crawler.jobs import BAD_PAGES, FAILED, RAN_OUT, REPEAT, STOPPED, BreedJob
from crawler.middlewares import PrivateAddressRefused
from crawler.queries import DogKeywordMode, fallback
from crawler.sources import SOURCES, Source, SourceError
from crawler.sources.base import PageRead, describe_error
from db.database import Database

logger = logging.getLogger(__name__)


class CrawlContext:
    """What the runner hands the spider and the pipeline: jobs, database, run id, callbacks."""

    def __init__(
        self,
        *,
        db: Database,
        run_id: int,
        jobs: dict[str, BreedJob],
        mode: DogKeywordMode,
        on_progress: Callable[[BreedJob], None] | None = None,
        on_fallback: Callable[[BreedJob], None] | None = None,
    ) -> None:
        self.db = db
        self.run_id = run_id
        self.jobs = jobs
        self.mode = mode
        self.on_progress = on_progress
        self.on_fallback = on_fallback
        self.disabled_sources: dict[str, str] = {}  # source -> why it stopped (or never ran)
        self.health: dict[str, SourceHealth] = {}  # the sources that ran
        self.stop_requested = False
        self.crawler: Crawler | None = None

    def progress(self, job: BreedJob) -> None:
        if self.on_progress is not None:
            self.on_progress(job)


def failure_reason(failure: Failure) -> str:
    """A short stats key for a failed download."""
    exc = failure.value
    if isinstance(exc, HttpError):
        return f"http_{exc.response.status}"
    if isinstance(exc, PrivateAddressRefused):
        return "private_address"
    if isinstance(exc, IgnoreRequest) and "robots.txt" in str(exc):
        return "robots_txt"
    if isinstance(exc, DownloadCancelledError):
        return "too_big"
    if isinstance(exc, ResponseDataLossError):  # the connection closed before the declared length
        return "truncated"  # as the validator calls a body that ends early
    if isinstance(exc, (DownloadTimeoutError, TimeoutError)):
        return "timeout"
    return "download_error"


def page_label(page: Any) -> Any:
    """A page as a log line shows it: its number (Wikimedia's continuation: its index)."""
    if page is None:
        return 1
    if isinstance(page, dict):
        return page.get("index", page)
    return page


def page_key(source: str, query: str, page: Any) -> str:
    """What identifies a search: ``None`` (the first page) and ``1`` are the same page."""
    return json.dumps([source, query, 1 if page is None else page], sort_keys=True, default=str)


class BreedSpider(Spider):
    name = "breedbench"

    # The limits: their defaults live in ``crawler.settings.DEFAULTS``, the user-facing ones are
    # validated by ``core.settings.Settings`` (each at least 1).
    max_requests: int  # search requests per source and crawl
    max_bad_pages: int  # unreadable pages in a row before a source stops for a breed
    max_failed: int  # failed searches in a row before a source stops for the crawl

    def __init__(self, context: CrawlContext, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.context = context
        self.sources: list[Source] = []

    @classmethod
    def from_crawler(cls, crawler: Crawler, *args: Any, **kwargs: Any) -> BreedSpider:
        spider: BreedSpider = super().from_crawler(crawler, *args, **kwargs)
        spider.context.crawler = crawler
        s = crawler.settings
        spider.max_requests = s.getint("BREEDBENCH_MAX_REQUESTS_PER_SOURCE")
        spider.max_bad_pages = s.getint("BREEDBENCH_MAX_BAD_PAGES")
        spider.max_failed = s.getint("BREEDBENCH_MAX_FAILED_SEARCHES")
        for name in s.getlist("BREEDBENCH_SOURCES"):
            try:
                spider.sources.append(SOURCES[name].from_crawler(crawler).with_window(crawler))
            except NotConfigured as exc:
                spider.context.disabled_sources[name] = str(exc)
                logger.warning("source turned off: %s", exc)
            else:
                spider.context.health[name] = SourceHealth(name)
        crawler.signals.connect(spider._idle, signal=signals.spider_idle)
        return spider

    # --- scheduling ---------------------------------------------------------------------------

    async def start(self) -> AsyncIterator[Request]:  # type: ignore[override]
        for source in list(self.sources):
            try:
                await source.prepare(self.crawler)
            except SourceError as exc:
                self._stop(source.name, str(exc))
            except Exception as exc:  # e.g. the token endpoint cannot be reached
                self._stop(source.name, f"{source.name}: preparing failed: {describe_error(exc)}")
        for job in self.context.jobs.values():
            for request in self._pump(job):
                yield request

    def _stop(self, name: str, why: str, *, budget: bool = False) -> None:
        """Stop a source for the rest of the crawl; its waiting searches are dropped unsent."""
        if name in self.context.disabled_sources:
            return
        self.context.disabled_sources[name] = why
        health = self.context.health[name]
        health.stopped, health.budget_reached = why, budget
        if budget:
            logger.warning("source %s stopped: %s", name, why)
            self.crawler.stats.inc_value(f"search/budget_reached/{name}")
        else:
            logger.error("source %s stopped: %s", name, why)
            self.crawler.stats.inc_value(f"source_error/{name}")

    def _pump(self, job: BreedJob) -> list[Request]:
        out: list[Request] = []
        if self.context.stop_requested:
            return out
        while job.queue and job.stored + job.inflight < job.needed:
            out.append(self._image_request(job, job.queue.popleft()))
            job.inflight += 1
        if job.stored >= job.needed:
            job.queue.clear()
        elif not job.queue and not job.searching and job.stored + job.inflight < job.needed:
            search = self._next_search(job)
            if search is not None:
                job.searching = True
                out.append(search)
        return out

    def _next_search(self, job: BreedJob) -> Request | None:
        stats = self.crawler.stats
        while not job.exhausted:
            if job.source_idx < len(self.sources):
                source = self.sources[job.source_idx]
                if source.name in self.context.disabled_sources:
                    job.end_source(source.name, STOPPED)
                    continue
                health = self.context.health[source.name]
                if health.requests >= self.max_requests:
                    self._stop(
                        source.name,
                        f"request budget reached ({self.max_requests} search requests, "
                        "BREEDBENCH_CRAWL_MAX_REQUESTS_PER_SOURCE)",
                        budget=True,
                    )
                    job.end_source(source.name, STOPPED)
                    continue
                key = page_key(source.name, job.choice.query, job.page)
                if key in job.asked:
                    logger.error(
                        "%s: page %s of %r was asked for already; not asking again",
                        source.name,
                        page_label(job.page),
                        job.choice.query,
                    )
                    stats.inc_value("search/repeat_refused")
                    job.end_source(source.name, REPEAT)
                    continue
                try:
                    request = source.build_request(job.slug, job.choice.query, job.page)
                except Exception as exc:  # a page value the source cannot turn into a request
                    self._count_bad_page(job, source, job.page, describe_error(exc))
                    job.end_source(source.name, BAD_PAGES)
                    continue
                job.asked.add(key)
                health.requests += 1
                stats.inc_value(f"search/requests/{source.name}")
                return request.replace(callback=self.parse_search, errback=self.search_failed)
            nxt = fallback(job.choice, self.context.mode, job.keyword) if job.ran_out else None
            if nxt is None:
                job.exhausted = True
                return None
            # The plain query ran out, every source said so, before the breed had its images:
            # too few usable results. Errors, bad pages and stopped sources never get here.
            job.switch_query(nxt)
            stats.inc_value("query/fallback")
            if self.context.on_fallback is not None:
                self.context.on_fallback(job)
        return None

    def _image_request(self, job: BreedJob, candidate: Candidate) -> Request:
        return Request(
            candidate.url,
            callback=self.parse_image,
            errback=self.image_failed,
            dont_filter=True,
            priority=1,  # finish the images in hand before asking for more results
            meta={"breed": job.slug, "candidate": candidate},
        )

    def _idle(self) -> None:
        """Safety net: never close while a breed still has work that was not scheduled."""
        assert self.crawler.engine is not None
        pending = [r for job in self.context.jobs.values() for r in self._pump(job)]
        for request in pending:
            self.crawler.engine.crawl(request)
        if pending:
            raise DontCloseSpider

    # --- callbacks ----------------------------------------------------------------------------

    def parse_search(self, response: Response) -> Iterator[Request]:
        job = self.context.jobs[response.meta["breed"]]
        name, page = response.meta["source"], response.meta["page"]
        source = next(s for s in self.sources if s.name == name)
        job.searching = False
        self.context.health[name].answered()
        self.crawler.stats.inc_value(f"search/pages/{name}")
        try:
            read = source.read(response, page)
        except SourceError as exc:  # an error document (bad key, quota): no use asking again
            self._stop(name, str(exc))
            job.end_source(name, STOPPED)
        except Exception as exc:  # BadPage, or anything a source did not foresee
            self._bad_page(job, source, page, describe_error(exc))
        else:
            self._take(job, source, page, read)
            if read.error is not None:
                self._bad_page(job, source, page, read.error)
            else:
                self.context.health[name].pages_ok += 1
                job.bad_streak = 0
                if read.next_page is None:
                    job.end_source(name, RAN_OUT)
                else:
                    job.page = read.next_page
        self.context.progress(job)
        yield from self._pump(job)

    def _take(self, job: BreedJob, source: Source, page: Any, read: PageRead) -> None:
        """Queue a page's usable candidates; count (and log once) the results skipped."""
        stats, health = self.crawler.stats, self.context.health[source.name]
        bad = [r for r in read.skipped if r.kind != "url_scheme"]
        stats.inc_value("search/skipped_url_scheme", len(read.skipped) - len(bad))
        if bad:
            health.results_bad += len(bad)
            stats.inc_value("search/bad_result", len(bad))
            stats.inc_value(f"search/bad_result/{source.name}", len(bad))
            logger.warning(
                "%s: %d results skipped (query %r, page %s), e.g. %s",
                source.name,
                len(bad),
                job.choice.query,
                page_label(page),
                bad[0],
            )
        health.candidates += len(read.candidates)
        for c in read.candidates:  # http(s) URLs with a host: the source checked them
            if c.url in job.seen_urls:
                continue
            job.seen_urls.add(c.url)
            job.found += 1
            refusal = source.window.refusal(c.dates) if source.window is not None else None
            if refusal is not None:  # outside the freshness window: never downloaded
                stats.inc_value(f"refused/{refusal}")
                job.refused[refusal] += 1
                continue
            job.queue.append(c)

    def _count_bad_page(self, job: BreedJob, source: Source, page: Any, error: str) -> None:
        health = self.context.health[source.name]
        health.pages_bad += 1
        health.last_bad_page = f"page {page_label(page)}: {error}"
        job.bad_streak += 1
        job.bad_pages += 1
        self.crawler.stats.inc_value("search/bad_page")
        self.crawler.stats.inc_value(f"search/bad_page/{source.name}")
        logger.warning(
            "%s: unreadable results page (query %r, page %s): %s",
            source.name,
            job.choice.query,
            page_label(page),
            error,
        )

    def _bad_page(self, job: BreedJob, source: Source, page: Any, error: str) -> None:
        """Count and log an unreadable answer; go on past it, or stop the source for the breed."""
        self._count_bad_page(job, source, page, error)
        nxt = None
        if job.bad_streak < self.max_bad_pages:
            try:
                nxt = source.page_after(page)
            except Exception as exc:
                logger.warning("%s: no page after %s: %s", source.name, page, describe_error(exc))
        if nxt is None:
            logger.warning(
                "%s: stops searching %r for %s after %d unreadable page(s) in a row",
                source.name,
                job.choice.query,
                job.slug,
                job.bad_streak,
            )
            job.end_source(source.name, BAD_PAGES)
        else:
            job.page = nxt

    def search_failed(self, failure: Failure) -> Iterator[Request]:
        request = failure.request  # type: ignore[attr-defined]
        job = self.context.jobs[request.meta["breed"]]
        name = request.meta["source"]
        job.searching = False
        if isinstance(failure.value, SourceStopped):  # dropped unsent: the source stopped
            job.end_source(name, STOPPED)
            yield from self._pump(job)
            return
        why = describe_failure(failure)
        health = self.context.health[name]
        health.failed_search(why)
        self.crawler.stats.inc_value(f"search/failed/{name}")
        logger.warning(
            "%s: search failed (query %r, page %s): %s",
            name,
            request.meta.get("query"),
            page_label(request.meta.get("page")),
            why,
        )
        job.end_source(name, FAILED)
        if health.streak >= self.max_failed:
            self._stop(name, f"{why} ({health.streak} searches in a row failed)")
        yield from self._pump(job)

    def parse_image(self, response: Response) -> Iterator[dict[str, Any]]:
        job = self.context.jobs[response.meta["breed"]]
        candidate: Candidate = response.meta["candidate"]
        requested = None
        if response.meta.get("redirect_urls"):
            # The row records where the bytes really came from (every hop passed the address
            # guard), and keeps the URL the search gave: later crawls recognise it by that.
            requested = candidate.url
            final = replace(candidate.provenance, url=response.url)
            candidate = replace(candidate, provenance=final)
        yield {
            "breed": job.slug,
            "breed_id": job.breed_id,
            "candidate": candidate,
            "requested_url": requested,
            "body": response.body,
        }

    def image_failed(self, failure: Failure) -> Iterator[Request]:
        request = failure.request  # type: ignore[attr-defined]
        reason = failure_reason(failure)
        self.crawler.stats.inc_value(f"refused/{reason}")
        yield from self._finish(request.meta["breed"], reason)

    def image_finished(self, slug: str, outcome: str, *, cross_breed: bool = False) -> None:
        """Called by the pipeline once an image is stored (``stored``) or refused (reason)."""
        assert self.crawler.engine is not None
        job = self.context.jobs[slug]
        if cross_breed:
            job.cross_breed += 1
        for request in self._finish(slug, outcome):
            self.crawler.engine.crawl(request)

    def _finish(self, slug: str, outcome: str) -> list[Request]:
        job = self.context.jobs[slug]
        job.inflight -= 1
        if outcome == "stored":
            job.stored += 1
        else:
            job.refused[outcome] += 1
        self.context.progress(job)
        return self._pump(job)
