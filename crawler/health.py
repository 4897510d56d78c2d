"""How each source fared in a crawl, and what that makes of the run.

A crawl must not look like a success when its sources were down: an unreachable API (after
Scrapy's retries), an error status or an answer nobody can read is recorded here per source with
its error. A source *failed* when it never answered (every search failed), when it stopped for
errors (an error document such as a bad key, or failed searches in a row up to the spider's
limit), or when every answer it gave was unreadable. A search that fails now and then between
answers does not make its source failed: it is counted (``failures``, ``search/failed/<name>``),
logged and recorded with the source (``first_failure``), and its breed moves on to the next
source. The run's status follows:

* ``failed``: no source gave anything usable (nothing reachable, or only errors and unreadable
  answers);
* ``partial``: a source failed while another answered;
* ``finished``: no source failed (some pages may still have been malformed, some searches may
  have failed once: they are counted, logged and reported, and their results skipped).

A source stopped by its request budget (``BREEDBENCH_CRAWL_MAX_REQUESTS_PER_SOURCE``) did not
fail: it is reported as stopped, and the run keeps the status its answers earned.
"""

from __future__ import annotations

import errno
from dataclasses import dataclass
from typing import Any

from scrapy.exceptions import (
    CannotResolveHostError,
    DownloadConnectionRefusedError,
    DownloadTimeoutError,
    IgnoreRequest,
)
from scrapy.spidermiddlewares.httperror import HttpError
from scrapy.utils.httpobj import urlparse_cached
from twisted.python.failure import Failure

from db.models import RunStatus


class SourceStopped(IgnoreRequest):
    """A search of a source that stopped for the run (unreachable, error, budget): not sent."""


@dataclass
class SourceHealth:
    """One source's tallies over a crawl; ``summary()`` is what the run records."""

    name: str
    requests: int = 0  # search pages asked (Scrapy's retries of a page come on top)
    pages_ok: int = 0  # answers read whole
    pages_bad: int = 0  # answers that could not be read, whole or in part
    results_bad: int = 0  # single results skipped for a wrong field
    candidates: int = 0  # usable results found
    failures: int = 0  # searches that got no answer, or an error status
    streak: int = 0  # failures in a row, across breeds (an answer resets it)
    error: str | None = None  # the first failure, as reported
    last_bad_page: str | None = None
    stopped: str | None = None  # why it stopped for the whole run
    budget_reached: bool = False

    def answered(self) -> None:
        self.streak = 0

    def failed_search(self, error: str) -> None:
        self.failures += 1
        self.streak += 1
        self.error = self.error or error

    @property
    def usable(self) -> bool:
        """It answered with something the crawl could use."""
        return self.pages_ok > 0 or self.candidates > 0

    @property
    def answered_any(self) -> bool:
        """Some search got an answer (read whole or not)."""
        return self.pages_ok > 0 or self.pages_bad > 0

    @property
    def failed(self) -> bool:
        """Never answered, stopped for errors, or only unreadable answers (the module doc)."""
        unreachable = self.failures > 0 and not self.answered_any
        stopped_by_error = self.stopped is not None and not self.budget_reached
        unreadable = self.pages_bad > 0 and not self.usable
        return unreachable or stopped_by_error or unreadable

    @property
    def problem(self) -> str | None:
        """Why it counts as failed, in one phrase; ``None`` when it did not fail."""
        if not self.failed:
            return None
        if self.error:
            return self.error
        if self.stopped:
            return self.stopped
        return f"every answer was malformed ({self.pages_bad} pages; {self.last_bad_page})"

    def summary(self) -> dict[str, Any]:
        return {
            "requests": self.requests,
            "pages_ok": self.pages_ok,
            "pages_bad": self.pages_bad,
            "results_bad": self.results_bad,
            "failures": self.failures,
            "first_failure": self.error,
            "failed": self.failed,
            "error": self.problem,
            "last_bad_page": self.last_bad_page,
            "stopped": self.stopped,
            "budget_reached": self.budget_reached,
        }


def run_status(health: list[SourceHealth]) -> RunStatus:
    """``finished``, ``partial`` or ``failed`` (see the module doc); interrupts are the caller's."""
    failed = [h for h in health if h.failed]
    if not failed:
        return RunStatus.FINISHED
    if any(h.usable for h in health):
        return RunStatus.PARTIAL
    return RunStatus.FAILED


def describe_failure(failure: Failure) -> str:
    """A failed search in one phrase that names the host: what a user can act on."""
    exc = failure.value
    request = getattr(failure, "request", None)
    where = ""
    if request is not None:
        parts = urlparse_cached(request)
        where = parts.netloc or request.url
    if isinstance(exc, HttpError):
        return f"HTTP {exc.response.status} from {where}"
    if isinstance(exc, CannotResolveHostError):
        return f"cannot resolve {urlparse_cached(request).hostname if request else where}"
    if isinstance(exc, DownloadConnectionRefusedError):
        return f"cannot connect to {where} ({_os_reason(exc)})"
    if isinstance(exc, (DownloadTimeoutError, TimeoutError)):
        return f"no answer from {where} in time ({exc})"
    return f"{type(exc).__name__} from {where}: {exc}"


def _os_reason(exc: BaseException) -> str:
    """``connection refused`` and the like, from the error under Scrapy's wrapper."""
    cause = exc.__cause__
    os_error = getattr(cause, "os_error", None) or (cause if isinstance(cause, OSError) else None)
    if isinstance(os_error, OSError) and os_error.errno:
        if os_error.errno == errno.ECONNREFUSED:
            return "connection refused"
        return os_error.strerror or str(os_error)
    return str(exc) or type(exc).__name__
