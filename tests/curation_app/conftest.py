"""A sign-in throttle on a stepped clock for each app test (the app shares one per process), and
a Chromium page for the browser tests."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from curation_app import ui
from review.throttle import SignInThrottle
from tests.browser import chromium_page
from tests.fixtures.app import SteppedClock


@pytest.fixture(autouse=True)
def sign_in_clock(monkeypatch: pytest.MonkeyPatch) -> SteppedClock:
    clock = SteppedClock()
    monkeypatch.setattr(ui, "THROTTLE", SignInThrottle(clock=clock))
    return clock


@pytest.fixture
def browser_page(request: pytest.FixtureRequest) -> Iterator[Any]:
    """A Chromium page; a screenshot lands in test-artifacts/ when the test fails."""
    with chromium_page(request) as page:
        yield page
