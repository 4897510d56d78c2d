"""Running one crawl: plan the breeds, record the run, crawl in-process, record the outcome.

The crawl runs reactorless (``TWISTED_REACTOR_ENABLED = False``) under ``asyncio.run``: Scrapy's
``AsyncCrawlerRunner`` inside a plain event loop, so one process can run any number of crawls
(the tests do) and Ctrl-C is ours to handle. The first Ctrl-C stops gracefully: no new downloads,
the images in hand are finished or dropped whole, the run is recorded as ``interrupted``; the
next ``crawl`` simply tops up.

Without a reactor, Scrapy downloads through its aiohttp handler, which it labels experimental;
the label's warning is silenced here (aiohttp itself is mature), and that choice is what lets
every crawl, the CLI's and the tests', run the same way.

The run's status says how the sources fared (``crawler.health``): ``finished``, ``partial``
when a source failed while another answered, ``failed`` when none gave anything usable — an
unreachable API is not an empty result. Each source's tallies and error are recorded in the
run's stats under ``sources``.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from scrapy.crawler import AsyncCrawlerRunner, Crawler
from scrapy.exceptions import NotConfigured
from sqlalchemy import select, update

from core.errors import BreedbenchError
from crawler.health import run_status
from crawler.jobs import BreedJob
from crawler.queries import DogKeywordMode, choose_query, parse_mode
from crawler.settings import SOURCE_NAMES, parse_sources, scrapy_settings
from crawler.sources import SOURCES
from crawler.spider import BreedSpider, CrawlContext
from db.crawl_runs import record_run_start
from db.database import Database
from db.image_dates import DATE_UNKNOWN, TOO_OLD, as_utc, parse_unknown
from db.models import Breed, CrawlRun, Image, RunStatus, utcnow
from db.queries import breed_counts

STAT_PREFIXES = (
    "refused/",
    "stored",
    "flagged/",
    "query/",
    "search/",
    "source_error/",
    "retry/",
    "robotstxt/",
    "netguard/",
    "downloader/response_status_count/",
    "downloader/request_count",
    "downloader/response_bytes",
    "item_scraped_count",
    "item_dropped_count",
    "finish_reason",
)


@dataclass
class CrawlOptions:
    breeds: list[str] | None = None  # slugs; None: all
    per_breed: int | None = None  # None: each breed's target
    sources: list[str] | None = None  # None: BREEDBENCH_CRAWL_SOURCES
    dog_keyword: str | None = None  # None: BREEDBENCH_CRAWL_DOG_KEYWORD
    min_size: int | None = None  # None: BREEDBENCH_CRAWL_MIN_SIDE
    # The freshness window: keep only images provably uploaded at or after this (None: all);
    # ``unknown_date`` keep | drop says what happens to images whose upload date is unknown.
    uploaded_after: datetime | None = None
    unknown_date: str = "drop"
    started_by: str | None = None  # who started it, recorded with the run (the app's reviewer)
    scrapy_overrides: dict[str, Any] = field(default_factory=dict)


@dataclass
class CrawlReport:
    run_id: int
    status: RunStatus
    jobs: list[BreedJob]
    stats: dict[str, Any]
    disabled_sources: dict[str, str]  # every source that did not run or stopped, and why
    sources: dict[str, dict[str, Any]] = field(default_factory=dict)  # how each one fared

    @property
    def failed_sources(self) -> dict[str, str]:
        """Sources that failed (unreachable, error status or document, unreadable answers)."""
        return {n: h["error"] for n, h in self.sources.items() if h["failed"]}

    @property
    def budget_stops(self) -> dict[str, str]:
        return {n: h["stopped"] for n, h in self.sources.items() if h["budget_reached"]}


class CrawlControl:
    """Lets a caller (Ctrl-C, a test, the progress display) stop a running crawl gracefully."""

    def __init__(self, on_stop: Callable[[], None] | None = None) -> None:
        self.context: CrawlContext | None = None
        self.stopped = False
        self.on_stop = on_stop

    def stop(self) -> None:
        """Stop gracefully; safe to call from the loop's thread (signal handler, callback)."""
        if self.stopped or self.context is None or self.context.crawler is None:
            return
        self.stopped = True
        self.context.stop_requested = True
        if self.on_stop is not None:
            self.on_stop()
        crawler: Crawler = self.context.crawler
        asyncio.ensure_future(crawler.stop_async())


def build_settings(db: Database, options: CrawlOptions) -> tuple[dict[str, Any], DogKeywordMode]:
    mode = parse_mode(options.dog_keyword or db.settings.crawl_dog_keyword)
    sources = parse_sources(options.sources or db.settings.crawl_sources)
    unknown_sources = [s for s in sources if s not in SOURCES]
    if unknown_sources or not sources:
        raise BreedbenchError(
            f"unknown source {', '.join(unknown_sources) or '(none)'}: "
            f"choose from {', '.join(SOURCE_NAMES)}"
        )
    if options.min_size is not None and options.min_size < 1:
        raise BreedbenchError("--min-size must be at least 1 pixel")
    unknown = parse_unknown(options.unknown_date)
    if options.uploaded_after is not None and options.uploaded_after > utcnow():
        raise BreedbenchError("--uploaded-after is in the future: no image can be that new")
    overrides = {
        "BREEDBENCH_UPLOADED_AFTER": (
            as_utc(options.uploaded_after).isoformat() if options.uploaded_after else None
        ),
        "BREEDBENCH_UNKNOWN_DATE": str(unknown),
        "BREEDBENCH_SOURCES": sources,
        "BREEDBENCH_DOG_KEYWORD": str(mode),
        "BREEDBENCH_MIN_SIDE": options.min_size,
        **options.scrapy_overrides,
    }
    return scrapy_settings(db.settings, **overrides), mode


def check_sources(settings: dict[str, Any]) -> dict[str, str]:
    """Which sources cannot run (missing key, ...), before anything is recorded."""
    crawler = Crawler(BreedSpider, settings)
    off: dict[str, str] = {}
    for name in settings["BREEDBENCH_SOURCES"]:
        try:
            SOURCES[name].from_crawler(crawler)
        except NotConfigured as exc:
            off[name] = str(exc)
    if len(off) == len(settings["BREEDBENCH_SOURCES"]):
        raise BreedbenchError("no source can run: " + "; ".join(off.values()))
    return off


def plan_jobs(db: Database, options: CrawlOptions, mode: DogKeywordMode) -> dict[str, BreedJob]:
    """One job per breed that is short of its target (pending + accepted count)."""
    if options.per_breed is not None and options.per_breed < 0:
        raise BreedbenchError("--per-breed must be 0 or more")
    with db.session() as s:
        rows = breed_counts(s, options.breeds)
        if options.breeds:
            missing = sorted(set(options.breeds) - {r.slug for r in rows})
            if missing:
                raise BreedbenchError(
                    f"unknown breed {', '.join(missing)} (see `breedbench breeds` for slugs)"
                )
        if not rows:
            raise BreedbenchError("no breeds in the database: run `breedbench init` first")
        known: dict[int, set[str]] = {}
        # A redirected image is known by the URL the search gave (requested_url) too.
        urls = select(Image.breed_id, Image.url, Image.requested_url).where(
            Image.breed_id.in_([r.id for r in rows]), Image.url.is_not(None)
        )
        for breed_id, url, requested in s.execute(urls):
            known.setdefault(breed_id, set()).update(u for u in (url, requested) if u)
    jobs: dict[str, BreedJob] = {}
    for r in rows:
        target = options.per_breed if options.per_breed is not None else r.target
        needed = target - r.accepted - r.pending
        if needed <= 0:
            continue
        choice = choose_query(
            r.slug,
            r.query,
            mode=mode,
            dog_keyword=r.dog_keyword,
            flagged=r.flagged,
            ambiguous=r.ambiguous,
            keyword=r.keyword,
        )
        jobs[r.slug] = BreedJob(
            breed_id=r.id,
            slug=r.slug,
            needed=needed,
            choice=choice,
            seen_urls=set(known.get(r.id, ())),
            keyword=r.keyword,
        )
    return jobs


def _jsonable(stats: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in sorted(stats.items()):
        if not k.startswith(STAT_PREFIXES):
            continue
        out[k] = v.isoformat() if isinstance(v, datetime) else v
    return out


def run_crawl(
    db: Database,
    options: CrawlOptions,
    *,
    on_progress: Callable[[BreedJob], None] | None = None,
    control: CrawlControl | None = None,
) -> CrawlReport:
    """Crawl until every selected breed has its images (or the sources run out)."""
    settings, mode = build_settings(db, options)
    disabled = check_sources(settings)
    jobs = plan_jobs(db, options, mode)
    control = control or CrawlControl()

    def persist_fallback(job: BreedJob) -> None:
        if job.refused[TOO_OLD] or job.refused[DATE_UNKNOWN]:
            # The freshness window, not the query, left results out: the dog query is tried in
            # this crawl, but nothing is concluded about the breed's query for later ones.
            return
        # In the loop's thread, like every other write of the crawl: one writer.
        with db.session() as s:
            s.execute(update(Breed).where(Breed.id == job.breed_id).values(dog_keyword=True))

    run_id = record_run_start(  # refused while another crawl runs (db.crawl_runs)
        db,
        "crawl",
        {
            "breeds": sorted(jobs),
            "per_breed": options.per_breed,
            "needed": {slug: job.needed for slug, job in sorted(jobs.items())},
            "sources": settings["BREEDBENCH_SOURCES"],
            "disabled_sources": disabled,
            "dog_keyword": str(mode),
            "min_side": settings["BREEDBENCH_MIN_SIDE"],
            "max_bytes": settings["BREEDBENCH_MAX_BYTES"],
            "max_pixels": settings["BREEDBENCH_MAX_PIXELS"],
            "allow_hosts": settings["BREEDBENCH_ALLOW_HOSTS"],
            "max_requests_per_source": settings["BREEDBENCH_MAX_REQUESTS_PER_SOURCE"],
            "max_bad_pages": settings["BREEDBENCH_MAX_BAD_PAGES"],
            "user_agent": settings["USER_AGENT"],
            "uploaded_after": settings["BREEDBENCH_UPLOADED_AFTER"],
            "unknown_date": settings["BREEDBENCH_UNKNOWN_DATE"],
            **({"started_by": options.started_by} if options.started_by else {}),
        },
    )
    context = CrawlContext(
        db=db,
        run_id=run_id,
        jobs=jobs,
        mode=mode,
        on_progress=on_progress,
        on_fallback=persist_fallback,
    )
    control.context = context
    crawler_box: dict[str, Crawler] = {}
    status = RunStatus.FAILED
    try:
        if jobs:
            asyncio.run(_crawl(settings, context, control, crawler_box))
        if control.stopped:
            status = RunStatus.INTERRUPTED
        else:
            status = run_status(list(context.health.values()))
    except KeyboardInterrupt:
        status = RunStatus.INTERRUPTED
        raise
    finally:
        crawler = crawler_box.get("crawler")
        stats = _jsonable(crawler.stats.get_stats()) if crawler and crawler.stats else {}
        stats["breeds"] = {slug: job.summary() for slug, job in jobs.items()}
        stats["sources"] = {name: h.summary() for name, h in context.health.items()}
        with db.session() as s:
            s.execute(
                update(CrawlRun)
                .where(CrawlRun.id == run_id)
                .values(status=status, stats=stats, finished_at=utcnow())
            )
    all_disabled = {**disabled, **context.disabled_sources}
    return CrawlReport(run_id, status, list(jobs.values()), stats, all_disabled, stats["sources"])


async def _crawl(
    settings: dict[str, Any],
    context: CrawlContext,
    control: CrawlControl,
    box: dict[str, Crawler],
) -> None:
    logging.getLogger("scrapy.core.downloader.handlers._base_streaming").setLevel(logging.ERROR)
    runner = AsyncCrawlerRunner(settings)
    crawler = runner.create_crawler(BreedSpider)
    box["crawler"] = crawler
    loop = asyncio.get_running_loop()
    handled = threading.current_thread() is threading.main_thread()
    if handled:

        def on_sigint() -> None:
            loop.remove_signal_handler(signal.SIGINT)  # a second Ctrl-C stops at once
            control.stop()

        loop.add_signal_handler(signal.SIGINT, on_sigint)
    try:
        await runner.crawl(crawler, context=context)
    finally:
        if handled:
            loop.remove_signal_handler(signal.SIGINT)
