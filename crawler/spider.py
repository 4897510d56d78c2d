"""The spider: for each breed, page through the sources until it has what it needs.

``start()`` (Scrapy 2.19 ignores a spider that only defines ``start_requests``) first lets each
source prepare (an Openverse token), then asks every breed's first result page. Each results
page fills the breed's queue of candidates; ``_pump`` turns candidates into image downloads while
``stored + in flight < needed``, and asks for the next page (next source, then the dog-keyword
fallback) only once the queue is empty. The pipeline reports each image's outcome back through
``image_finished``, which pumps again, so a breed stops exactly at its target.
"""

from __future__ import annotations

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
)
from scrapy.http import Response
from scrapy.spidermiddlewares.httperror import HttpError
from twisted.python.failure import Failure

from crawler.candidate import Candidate
from crawler.jobs import BreedJob
from crawler.middlewares import PrivateAddressRefused
from crawler.queries import DogKeywordMode, fallback
from crawler.sources import SOURCES, Source, SourceError
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
        self.disabled_sources: dict[str, str] = {}
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
    if isinstance(exc, (DownloadTimeoutError, TimeoutError)):
        return "timeout"
    return "download_error"


class BreedSpider(Spider):
    name = "breedbench"

    def __init__(self, context: CrawlContext, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.context = context
        self.sources: list[Source] = []

    @classmethod
    def from_crawler(cls, crawler: Crawler, *args: Any, **kwargs: Any) -> BreedSpider:
        spider: BreedSpider = super().from_crawler(crawler, *args, **kwargs)
        spider.context.crawler = crawler
        for name in crawler.settings.getlist("BREEDBENCH_SOURCES"):
            try:
                spider.sources.append(SOURCES[name].from_crawler(crawler))
            except NotConfigured as exc:
                spider.context.disabled_sources[name] = str(exc)
                logger.warning("source turned off: %s", exc)
        crawler.signals.connect(spider._idle, signal=signals.spider_idle)
        return spider

    # --- scheduling ---------------------------------------------------------------------------

    async def start(self) -> AsyncIterator[Request]:  # type: ignore[override]
        for source in list(self.sources):
            try:
                await source.prepare(self.crawler)
            except SourceError as exc:
                self._disable(source.name, str(exc))
        for job in self.context.jobs.values():
            for request in self._pump(job):
                yield request

    def _active(self) -> list[Source]:
        return [s for s in self.sources if s.name not in self.context.disabled_sources]

    def _disable(self, name: str, why: str) -> None:
        if name not in self.context.disabled_sources:
            logger.error("source %s stopped: %s", name, why)
            self.context.disabled_sources[name] = why
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
        while not job.exhausted:
            active = self._active()
            if job.source_idx < len(self.sources):
                source = self.sources[job.source_idx]
                if source not in active:
                    job.source_idx, job.page = job.source_idx + 1, None
                    continue
                request = source.build_request(job.slug, job.choice.query, job.page)
                return request.replace(callback=self.parse_search, errback=self.search_failed)
            nxt = fallback(job.choice, self.context.mode)
            if nxt is None or not active:
                job.exhausted = True
                return None
            # The plain query ran out before the breed had its images: too few usable results.
            job.choice, job.source_idx, job.page, job.fell_back = nxt, 0, None, True
            self.crawler.stats.inc_value("query/fallback")
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
        job.searching = False
        source = next(s for s in self.sources if s.name == response.meta["source"])
        try:
            candidates = list(source.parse(response))
            nxt = source.next_page(response, response.meta["page"])
        except SourceError as exc:
            self._disable(source.name, str(exc))
            candidates, nxt = [], None
        for c in candidates:
            if not c.url.startswith(("http://", "https://")):
                self.crawler.stats.inc_value("search/skipped_url_scheme")
                continue
            if c.url in job.seen_urls:
                continue
            job.seen_urls.add(c.url)
            job.found += 1
            job.queue.append(c)
        self.crawler.stats.inc_value(f"search/pages/{source.name}")
        if nxt is None:
            job.source_idx, job.page = job.source_idx + 1, None
        else:
            job.page = nxt
        self.context.progress(job)
        yield from self._pump(job)

    def search_failed(self, failure: Failure) -> Iterator[Request]:
        request = failure.request  # type: ignore[attr-defined]
        job = self.context.jobs[request.meta["breed"]]
        job.searching = False
        self.crawler.stats.inc_value(f"search/failed/{request.meta['source']}")
        logger.warning("search failed (%s): %s", request.url, failure.getErrorMessage())
        job.source_idx, job.page = job.source_idx + 1, None
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
