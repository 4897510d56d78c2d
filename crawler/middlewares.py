"""Retries that wait: ``Retry-After`` on 429/503, exponential backoff otherwise.

Scrapy's ``RetryMiddleware`` re-sends at once. A server that answers 429 says *when* to come
back, so this subclass waits that long (an integer of seconds or an HTTP date) before handing
back the retry, and gives the request up when the server asks for more than
``BREEDBENCH_RETRY_AFTER_MAX`` seconds. Other retryable failures wait
``BREEDBENCH_RETRY_BACKOFF_BASE * 2**(attempt - 1)`` seconds, capped at
``BREEDBENCH_RETRY_BACKOFF_MAX``. Only the retried request waits; other downloads go on.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

from scrapy import Request
from scrapy.downloadermiddlewares.retry import RetryMiddleware
from scrapy.http import Response
from scrapy.settings import BaseSettings
from scrapy.utils.response import response_status_message

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
