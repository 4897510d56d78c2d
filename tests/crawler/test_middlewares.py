"""Retry policy as plain functions: Retry-After parsing and backoff."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from scrapy.http import Response
from scrapy.settings import Settings

from crawler.middlewares import PoliteRetryMiddleware, backoff_delay, retry_after_seconds

NOW = datetime(2026, 11, 27, 12, 0, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("value", "seconds"),
    [
        (b"120", 120.0),
        ("0", 0.0),
        ("Fri, 27 Nov 2026 12:00:30 GMT", 30.0),
        ("Fri, 27 Nov 2026 11:59:00 GMT", 0.0),  # in the past: go now
        (None, None),
        ("", None),
        ("soon", None),
    ],
)
def test_retry_after_seconds(value: bytes | str | None, seconds: float | None) -> None:
    assert retry_after_seconds(value, NOW) == seconds


@pytest.mark.parametrize(
    ("attempt", "expected"), [(1, 0.5), (2, 1.0), (3, 2.0), (4, 4.0), (10, 5.0)]
)
def test_backoff_doubles_up_to_the_cap(attempt: int, expected: float) -> None:
    assert backoff_delay(attempt, 0.5, 5.0) == expected


def test_wait_for_honours_retry_after_and_gives_up_when_too_long() -> None:
    mw = PoliteRetryMiddleware(
        Settings({"BREEDBENCH_RETRY_AFTER_MAX": 60, "BREEDBENCH_RETRY_BACKOFF_BASE": 1})
    )

    def response(status: int, retry_after: str | None) -> Response:
        headers = {"Retry-After": retry_after} if retry_after else {}
        return Response("http://x/", status=status, headers=headers)

    assert mw.wait_for(response(429, "7"), 1) == 7
    assert mw.wait_for(response(503, "7"), 1) == 7
    assert mw.wait_for(response(429, "3600"), 1) is None
    assert mw.wait_for(response(429, None), 3) == 4  # no header: backoff
    assert mw.wait_for(response(500, "7"), 2) == 2  # Retry-After only means something on 429/503
