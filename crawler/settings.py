"""The crawler's Scrapy settings: every ``BREEDBENCH_*`` default in one module.

Components read their settings once, when built (``from_crawler``), the way Scrapy's own
``AutoThrottle`` does. ``scrapy_settings`` maps the user-facing fields of
``core.settings.Settings`` (environment or flags) onto these names and adds the politeness
settings every crawl runs with.
"""

from __future__ import annotations

from typing import Any

from core import __version__
from core.settings import Settings
from crawler.netguard import AllowList

SOURCE_NAMES = ("openverse", "wikimedia", "flickr")
DEFAULT_SOURCES = ("openverse", "wikimedia")

# Defaults of the crawler's own settings (overridden from ``Settings`` by ``scrapy_settings``).
DEFAULTS: dict[str, Any] = {
    "BREEDBENCH_SOURCES": list(DEFAULT_SOURCES),
    "BREEDBENCH_OPENVERSE_URL": "https://api.openverse.org/v1",
    "BREEDBENCH_OPENVERSE_CLIENT_ID": None,
    "BREEDBENCH_OPENVERSE_CLIENT_SECRET": None,
    # Anonymous Openverse clients may ask for at most 20 results a page and 20 pages.
    "BREEDBENCH_OPENVERSE_PAGE_SIZE": 20,
    "BREEDBENCH_WIKIMEDIA_URL": "https://commons.wikimedia.org/w/api.php",
    "BREEDBENCH_WIKIMEDIA_PAGE_SIZE": 50,
    # Ask Commons for a scaled copy this wide (0: the original file, often 5-20 MB).
    "BREEDBENCH_WIKIMEDIA_THUMB_WIDTH": 1280,
    "BREEDBENCH_FLICKR_URL": "https://api.flickr.com/services/rest/",
    "BREEDBENCH_FLICKR_API_KEY": None,
    "BREEDBENCH_FLICKR_PAGE_SIZE": 100,
    # Creative Commons and public-domain licences only (0, "All Rights Reserved", is left out):
    # 1-6 CC 2.0, 7 no known copyright restrictions, 8 US government work, 9 CC0, 10 PDM,
    # 11-16 CC 4.0.
    "BREEDBENCH_FLICKR_LICENSES": "1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16",
    "BREEDBENCH_MAX_PAGES": 20,
    # Search requests (result pages) one source may be sent in one crawl, whatever happens.
    "BREEDBENCH_MAX_REQUESTS_PER_SOURCE": 2000,
    # Unreadable result pages in a row after which a source stops for that breed.
    "BREEDBENCH_MAX_BAD_PAGES": 3,
    # Failed searches in a row (no answer after the retries, or an error status), across
    # breeds, after which a source stops for the whole crawl.
    "BREEDBENCH_MAX_FAILED_SEARCHES": 3,
    "BREEDBENCH_DOG_KEYWORD": "auto",
    "BREEDBENCH_MIN_SIDE": 128,
    "BREEDBENCH_MAX_BYTES": 20 * 1024 * 1024,
    "BREEDBENCH_MAX_PIXELS": 64_000_000,
    "BREEDBENCH_RETRY_AFTER_MAX": 120.0,
    # Exponential backoff between retries without a Retry-After: base * 2**(attempt - 1) s.
    "BREEDBENCH_RETRY_BACKOFF_BASE": 1.0,
    "BREEDBENCH_RETRY_BACKOFF_MAX": 60.0,
    # Worker processes for validation, hashing and thumbnails (0: one per CPU, at most 4).
    "BREEDBENCH_DECODE_WORKERS": 0,
    # Hosts (names, IPs, CIDRs) fetched although not public; see crawler.netguard.
    "BREEDBENCH_ALLOW_HOSTS": [],
    # The freshness window (``crawl --uploaded-after``): an ISO date-time, or None for none;
    # and what happens to results whose upload date nothing states (keep | drop).
    "BREEDBENCH_UPLOADED_AFTER": None,
    "BREEDBENCH_UNKNOWN_DATE": "drop",
}

# Politeness and robustness: what every crawl runs with unless a caller overrides it.
POLITENESS: dict[str, Any] = {
    "ROBOTSTXT_OBEY": True,  # image hosts; API calls opt out per request (documented APIs)
    "AUTOTHROTTLE_ENABLED": True,
    "AUTOTHROTTLE_START_DELAY": 1.0,
    "AUTOTHROTTLE_MAX_DELAY": 30.0,
    "AUTOTHROTTLE_TARGET_CONCURRENCY": 2.0,
    "CONCURRENT_REQUESTS": 32,
    "CONCURRENT_REQUESTS_PER_DOMAIN": 4,
    "DOWNLOAD_TIMEOUT": 30,
    "RETRY_ENABLED": True,
    "RETRY_TIMES": 3,
    "RETRY_HTTP_CODES": [429, 500, 502, 503, 504, 522, 524, 408],
    "REDIRECT_ENABLED": True,  # image URLs that moved are followed (unlike MEDIA_ALLOW_REDIRECTS)
    "COOKIES_ENABLED": False,
    # Scrapy starts this many tasks for every callback's output; an image response yields one
    # item and a results page at most a page of requests, so 100 (the default) is pure overhead.
    "CONCURRENT_ITEMS": 4,
    "TELNETCONSOLE_ENABLED": False,
    "LOG_LEVEL": "WARNING",
    "DOWNLOADER_MIDDLEWARES": {
        # Searches of a source that stopped for the run are never sent (nor retried).
        "crawler.gate.StoppedSourceMiddleware": 50,
        "scrapy.downloadermiddlewares.retry.RetryMiddleware": None,
        "crawler.middlewares.PoliteRetryMiddleware": 550,
        # Public addresses only, on every hop: before robots.txt (100) on the way out, and
        # first of all (after the cache, 900) on the way back.
        "crawler.middlewares.PublicAddressMiddleware": 75,
        "crawler.middlewares.PeerAddressMiddleware": 950,
    },
    "ITEM_PIPELINES": {"crawler.pipelines.StorePipeline": 300},
    # Only http(s): a search result must never make the crawler read a local file (file://),
    # a bucket (s3://) or an FTP server. Sources also refuse such URLs before any request
    # (``crawler.sources.base.http_url``).
    "DOWNLOAD_HANDLERS": {"file": None, "s3": None, "ftp": None, "data": None},
    "TWISTED_REACTOR_ENABLED": False,  # crawls run inside asyncio.run (crawler.runner)
}


def user_agent(contact: str | None) -> str:
    """A descriptive User-Agent: what we are, why, and whom to tell if we misbehave."""
    who = contact or "no contact set: BREEDBENCH_CONTACT"
    return f"breedbench/{__version__} (dog-breed test-set builder; {who}) Scrapy"


def parse_sources(value: str | list[str] | tuple[str, ...]) -> list[str]:
    names = value.split(",") if isinstance(value, str) else list(value)
    return [n.strip().lower() for n in names if n.strip()]


def scrapy_settings(settings: Settings, **overrides: Any) -> dict[str, Any]:
    """The Scrapy settings of one crawl: defaults < ``Settings`` < ``overrides``."""
    out: dict[str, Any] = {**DEFAULTS, **POLITENESS}
    out.update(
        {
            "USER_AGENT": user_agent(settings.contact),
            "BREEDBENCH_SOURCES": parse_sources(settings.crawl_sources),
            "BREEDBENCH_OPENVERSE_URL": settings.openverse_url,
            "BREEDBENCH_OPENVERSE_CLIENT_ID": settings.openverse_client_id,
            "BREEDBENCH_OPENVERSE_CLIENT_SECRET": settings.openverse_client_secret,
            "BREEDBENCH_WIKIMEDIA_URL": settings.wikimedia_url,
            "BREEDBENCH_FLICKR_URL": settings.flickr_url,
            "BREEDBENCH_FLICKR_API_KEY": settings.flickr_api_key,
            "BREEDBENCH_MAX_PAGES": settings.crawl_max_pages,
            "BREEDBENCH_MAX_REQUESTS_PER_SOURCE": settings.crawl_max_requests_per_source,
            "BREEDBENCH_MAX_BAD_PAGES": settings.crawl_max_bad_pages,
            "BREEDBENCH_DOG_KEYWORD": settings.crawl_dog_keyword,
            "BREEDBENCH_MIN_SIDE": settings.crawl_min_side,
            "BREEDBENCH_MAX_BYTES": settings.crawl_max_bytes,
            "BREEDBENCH_MAX_PIXELS": settings.crawl_max_pixels,
            "BREEDBENCH_RETRY_AFTER_MAX": settings.crawl_retry_after_max,
            "BREEDBENCH_ALLOW_HOSTS": settings.crawl_allow_hosts,
            "DOWNLOAD_TIMEOUT": settings.crawl_timeout,
            "CONCURRENT_REQUESTS_PER_DOMAIN": settings.crawl_concurrency_per_domain,
            # Bodies over the byte limit are cut off by the downloader instead of read whole.
            "DOWNLOAD_MAXSIZE": settings.crawl_max_bytes + 1,
            "DOWNLOAD_WARNSIZE": 0,
        }
    )
    out.update({k: v for k, v in overrides.items() if v is not None})
    # Checked here, before a run is recorded: a bad entry is a one-line error, not a dead crawl.
    out["BREEDBENCH_ALLOW_HOSTS"] = AllowList.parse(out["BREEDBENCH_ALLOW_HOSTS"]).entries()
    return out
