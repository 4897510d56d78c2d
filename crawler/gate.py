"""Searches of a source that stopped for the run are dropped before they are sent.

When a source stops (unreachable, an error document, its request budget), searches of other
breeds may already wait in the scheduler, and Scrapy's retries of failed ones come back through
it. Without this gate each of them would still be sent, and retried, against an API that is
down or that asked us to stop. A dropped search reaches the spider's errback as
``SourceStopped`` (an ``IgnoreRequest``), so its breed moves on to the next source.

Ordered at 50, beside Scrapy's own ``OffsiteMiddleware`` (also 50, which Scrapy lists first) and
before every other downloader middleware: before the address guard (75) looks a host up and
before a retry waits.
"""

from __future__ import annotations

import logging
from typing import Self

from scrapy import Request
from scrapy.crawler import Crawler

from crawler.health import SourceStopped

logger = logging.getLogger(__name__)


class StoppedSourceMiddleware:
    def __init__(self, crawler: Crawler) -> None:
        self.crawler = crawler

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        return cls(crawler)

    def process_request(self, request: Request) -> None:
        source = request.meta.get("source")
        context = getattr(self.crawler.spider, "context", None)
        if source is None or context is None:
            return
        why = context.disabled_sources.get(source)
        if why is not None:
            assert self.crawler.stats is not None
            self.crawler.stats.inc_value(f"search/dropped/{source}")
            raise SourceStopped(f"{source} stopped: {why}")
