"""Retries that wait: ``Retry-After`` on 429/503, exponential backoff otherwise.

Scrapy's ``RetryMiddleware`` re-sends at once. A server that answers 429 says *when* to come
back, so this subclass waits that long (an integer of seconds or an HTTP date) before handing
back the retry, and gives the request up when the server asks for more than
``BREEDBENCH_RETRY_AFTER_MAX`` seconds. Other retryable failures wait
``BREEDBENCH_RETRY_BACKOFF_BASE * 2**(attempt - 1)`` seconds, capped at
``BREEDBENCH_RETRY_BACKOFF_MAX``. Only the retried request waits; other downloads go on.

The address guard (``crawler.netguard``) runs as two more middlewares: one before every request
leaves, one on every response as it arrives. See ``PublicAddressMiddleware``.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Self

from scrapy import Request
from scrapy.crawler import Crawler
from scrapy.downloadermiddlewares.retry import RetryMiddleware
from scrapy.exceptions import IgnoreRequest
from scrapy.http import Response
from scrapy.settings import BaseSettings
from scrapy.utils.response import response_status_message

from crawler.netguard import AllowList, Decision, HostGuard, IPAddress, origin, resolve

logger = logging.getLogger(__name__)

RETRY_AFTER_CODES = (429, 503)


def retry_after_seconds(value: bytes | str | None, now: datetime | None = None) -> float | None:
    """Seconds a ``Retry-After`` header asks for; ``None`` when absent or unreadable."""
    if value is None:
        return None
    text = value.decode("latin-1") if isinstance(value, bytes) else value
    text = text.strip()
    if not text:
        return None
    if text.isdigit():
        return float(text)
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


def backoff_delay(attempt: int, base: float, cap: float) -> float:
    """Wait before retry number ``attempt`` (1-based): base, 2·base, 4·base, … at most cap."""
    if base <= 0:
        return 0.0
    return min(cap, base * 2 ** max(0, attempt - 1))


class PoliteRetryMiddleware(RetryMiddleware):
    def __init__(self, settings: BaseSettings):
        super().__init__(settings)
        self.retry_after_max = settings.getfloat("BREEDBENCH_RETRY_AFTER_MAX", 120.0)
        self.backoff_base = settings.getfloat("BREEDBENCH_RETRY_BACKOFF_BASE", 1.0)
        self.backoff_max = settings.getfloat("BREEDBENCH_RETRY_BACKOFF_MAX", 60.0)

    def wait_for(self, response: Response | None, attempt: int) -> float | None:
        """Seconds to wait before retry ``attempt``; ``None``: do not retry (asked too long)."""
        if response is not None and response.status in RETRY_AFTER_CODES:
            asked = retry_after_seconds(response.headers.get(b"Retry-After"))
            if asked is not None:
                return asked if asked <= self.retry_after_max else None
        return backoff_delay(attempt, self.backoff_base, self.backoff_max)

    async def process_response(self, request: Request, response: Response) -> Request | Response:
        if request.meta.get("dont_retry", False) or response.status not in self.retry_http_codes:
            return response
        attempt = request.meta.get("retry_times", 0) + 1
        wait = self.wait_for(response, attempt)
        if wait is None:
            self.crawler.stats.inc_value("retry/retry_after_too_long")
            return response
        retry = self._retry(request, response_status_message(response.status))
        if retry is None:
            return response
        if wait > 0:
            self.crawler.stats.inc_value("retry/waited_seconds", int(round(wait)))
            await asyncio.sleep(wait)
        return retry

    async def process_exception(self, request: Request, exception: Exception) -> Request | None:
        if request.meta.get("dont_retry", False) or not isinstance(
            exception, self.exceptions_to_retry
        ):
            return None
        retry = self._retry(request, exception)
        if retry is None:
            return None
        wait = self.wait_for(None, retry.meta.get("retry_times", 1))
        if wait:
            await asyncio.sleep(wait)
        return retry


# --- the address guard --------------------------------------------------------------------------

# The API base URLs: configured by the operator, so their origins are trusted (not guarded).
TRUSTED_URL_SETTINGS = (
    "BREEDBENCH_OPENVERSE_URL",
    "BREEDBENCH_WIKIMEDIA_URL",
    "BREEDBENCH_FLICKR_URL",
)
# How long a host's resolved addresses are reused: image hosts serve thousands of requests.
LOOKUP_TTL = 300.0
# How long a name that did not resolve stays unresolved: long enough that a host that is gone
# costs one lookup (a thread) per half-minute instead of one per request, short enough that a
# passing DNS failure does not refuse a host for the rest of the crawl.
FAILED_LOOKUP_TTL = 30.0
REFUSED_STAT = "netguard/refused"


class PrivateAddressRefused(IgnoreRequest):
    """A request to (or an answer from) an address the crawler must not contact."""

    def __init__(self, url: str, decision: Decision) -> None:
        super().__init__(f"refused {url}: {decision}")
        self.decision = decision


class _Guarded:
    def __init__(self, crawler: Crawler) -> None:
        s = crawler.settings
        self.crawler = crawler
        self.guard = HostGuard(
            AllowList.parse(s.get("BREEDBENCH_ALLOW_HOSTS")),
            trusted_urls=[s.get(name) for name in TRUSTED_URL_SETTINGS],
        )

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        return cls(crawler)

    def refuse(self, request: Request, decision: Decision) -> PrivateAddressRefused:
        first = (request.meta.get("redirect_urls") or [None])[0]
        via = f" (redirected from {first})" if first else ""
        logger.warning("refused %s%s: %s", request.url, via, decision)
        assert self.crawler.stats is not None
        self.crawler.stats.inc_value(REFUSED_STAT)
        return PrivateAddressRefused(request.url, decision)


class PublicAddressMiddleware(_Guarded):
    """Refuses, before it is sent, every request whose host is not a public address.

    Ordered before ``RobotsTxtMiddleware`` (100): a refused host never even gets its robots.txt
    asked for, and the robots.txt requests of the other hosts (sent through the same middleware
    chain) are checked like any other. Redirects are new requests that Scrapy schedules again,
    so every hop passes here; a refusal raises ``PrivateAddressRefused`` (an ``IgnoreRequest``),
    which reaches the request's errback and is never fetched.

    Names are resolved in a thread (``getaddrinfo`` blocks), once per host and ``LOOKUP_TTL``
    (``FAILED_LOOKUP_TTL`` for a name that did not resolve), with concurrent requests for a host
    sharing the lookup; expired look-ups are swept out now and then. What remains: the
    downloader resolves the name again when it connects, so a name that answers differently the
    second time (DNS rebinding) could reach an address this check did not see.
    ``PeerAddressMiddleware`` checks the address the answer actually came from and drops it
    then: the request was sent, but its answer is neither stored, nor followed, nor counted as
    a response.
    """

    def __init__(self, crawler: Crawler) -> None:
        super().__init__(crawler)
        self.clock: Callable[[], float] = time.monotonic
        # host → (when it expires, the look-up: running, or done)
        self._lookups: dict[str, tuple[float, asyncio.Future[list[IPAddress]]]] = {}
        self._next_sweep = 0.0

    async def process_request(self, request: Request) -> None:
        target = origin(request.url)  # None: not http(s), no download handler
        if target is None:
            return
        host, port = target
        addresses: list[IPAddress] = []
        if self.guard.exempt(host, port) is None and self.guard.needs_lookup(host):
            addresses = await self.addresses(host)
        decision = self.guard.decide(host, port, addresses)
        if not decision.allowed:
            raise self.refuse(request, decision)

    async def addresses(self, host: str) -> list[IPAddress]:
        now = self.clock()
        cached = self._lookups.get(host)
        if cached is None or cached[0] <= now:
            self._sweep(now)
            cached = (now + LOOKUP_TTL, asyncio.ensure_future(asyncio.to_thread(resolve, host)))
            self._lookups[host] = cached
        found = await asyncio.shield(cached[1])
        if not found and self._lookups.get(host) is cached:  # the first to learn it failed
            self._lookups[host] = (min(cached[0], self.clock() + FAILED_LOOKUP_TTL), cached[1])
        return found

    def _sweep(self, now: float) -> None:
        """Forget expired look-ups (a long crawl meets many hosts once); at most once per
        ``FAILED_LOOKUP_TTL``, so a crawl of many hosts does not walk the table per host."""
        if now < self._next_sweep:
            return
        self._next_sweep = now + FAILED_LOOKUP_TTL
        expired = [h for h, (ends, job) in self._lookups.items() if ends <= now and job.done()]
        for host in expired:
            del self._lookups[host]


class PeerAddressMiddleware(_Guarded):
    """Drops an answer that came from an address the guard refuses (see the request side).

    Ordered after every built-in middleware (950): it sees the response first, before the
    downloader stats count its status and before a redirect in it is followed. Answers through
    a proxy are left alone: the peer is then the proxy, and the proxy resolves the host.
    """

    async def process_response(self, request: Request, response: Response) -> Response:
        peer = response.ip_address
        target = origin(request.url)
        if peer is None or target is None or request.meta.get("proxy"):
            return response
        decision = self.guard.check_peer(*target, peer)
        if not decision.allowed:
            raise self.refuse(request, decision)
        return response
