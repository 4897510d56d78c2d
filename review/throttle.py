"""Sign-in throttling: a few wrong passwords are typos, many are someone guessing.

Each key (a reviewer name, a client address) may fail ``max_failures`` times within ``window``
seconds; then it is locked out for ``lockout`` seconds, twice as long at each further lock-out
(up to ``max_lockout``) until it has been quiet for ``forget_after`` seconds or the name signs in.
A locked key is refused before any password is checked, so guessing costs no hashing either.

The state lives in the app's process (every session shares it) and is lost on restart, which only
ever shortens a lock-out. The clock is injectable so tests step time instead of sleeping.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable, Hashable, Iterable
from dataclasses import dataclass, field


@dataclass
class _Record:
    failures: list[float] = field(default_factory=list)
    locked_until: float = 0.0
    lockouts: int = 0
    last_failure: float = 0.0


class SignInThrottle:
    """Failed sign-ins per key, shared by every session of the app (thread-safe)."""

    def __init__(
        self,
        *,
        max_failures: int = 5,
        window: float = 300.0,
        lockout: float = 30.0,
        max_lockout: float = 3600.0,
        forget_after: float = 3600.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.max_failures = max_failures
        self.window = window
        self.lockout = lockout
        self.max_lockout = max_lockout
        self.forget_after = forget_after
        self.clock = clock
        self._records: dict[Hashable, _Record] = {}
        self._lock = threading.Lock()

    def retry_after(self, keys: Iterable[Hashable]) -> int:
        """Whole seconds until every key may try again; 0 when all may try now."""
        now = self.clock()
        with self._lock:
            waits = [r.locked_until - now for k in keys if (r := self._records.get(k))]
        return max(0, max((math.ceil(w) for w in waits), default=0))

    def failure(self, keys: Iterable[Hashable]) -> int:
        """Count a failed sign-in against each key; the seconds until they may try again."""
        keys = tuple(keys)
        now = self.clock()
        with self._lock:
            self._forget(now)
            for key in keys:
                record = self._records.setdefault(key, _Record())
                if now - record.last_failure > self.forget_after:
                    record.lockouts = 0
                record.last_failure = now
                record.failures = [t for t in record.failures if now - t < self.window] + [now]
                if len(record.failures) >= self.max_failures:
                    seconds = min(self.lockout * 2**record.lockouts, self.max_lockout)
                    record.locked_until = now + seconds
                    record.lockouts += 1
                    record.failures = []
        return self.retry_after(keys)

    def success(self, keys: Iterable[Hashable]) -> None:
        """A sign-in worked: forget the failures of these keys (the name, not a shared client)."""
        with self._lock:
            for key in keys:
                self._records.pop(key, None)

    def _forget(self, now: float) -> None:
        """Drop keys quiet for long enough, so guessing many names cannot grow memory for ever."""
        stale = [
            k
            for k, r in self._records.items()
            if now - r.last_failure > self.forget_after and now >= r.locked_until
        ]
        for key in stale:
            del self._records[key]
