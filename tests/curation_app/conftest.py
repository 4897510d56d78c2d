"""A sign-in throttle on a stepped clock for each app test (the app shares one per process)."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from curation_app import ui
from review.throttle import SignInThrottle


@dataclass
class SteppedClock:
    now: float = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture(autouse=True)
def sign_in_clock(monkeypatch: pytest.MonkeyPatch) -> SteppedClock:
    clock = SteppedClock()
    monkeypatch.setattr(ui, "THROTTLE", SignInThrottle(clock=clock))
    return clock
