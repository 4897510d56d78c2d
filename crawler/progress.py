"""The progress file of a crawl: ``breedbench crawl --progress-file PATH``.

The crawl keeps in PATH, as it goes, its run id and each breed's tallies (needed, found, stored,
duplicates, refusals by reason: ``BreedJob.summary``), then its outcome: ``status``
(``finished``, ``partial``, ``failed`` or ``interrupted``) and, when it failed, ``error``. The
app's background crawls (``crawler.background``) read it with ``read_crawl_progress``: the crawl
writes its own outcome, so a job's result does not depend on the app that started it.

No Scrapy here: the app reads these files.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from core.files import atomic_write, check_writable

MIN_INTERVAL = 0.5  # seconds between progress writes: the app polls every 2 s


class _Summarised(Protocol):
    slug: str

    def summary(self) -> dict[str, Any]: ...


@dataclass(frozen=True, slots=True)
class CrawlProgress:
    run_id: int | None = None
    breeds: dict[str, dict[str, Any]] = field(default_factory=dict)
    status: str | None = None  # None while running
    error: str | None = None

    @property
    def stored(self) -> int:
        return sum(int(b.get("stored", 0)) for b in self.breeds.values())

    @property
    def needed(self) -> int:
        return sum(int(b.get("needed", 0)) for b in self.breeds.values())


class CrawlProgressFile:
    """Keeps a crawl's progress, then its outcome, in a JSON file (atomic writes: a poller
    never reads half a file)."""

    def __init__(self, path: Path) -> None:
        """Checks at once that the file can be written: a wrong path is said before the crawl."""
        check_writable(path, "progress file")
        self.path = path
        self.run_id: int | None = None
        self.breeds: dict[str, dict[str, Any]] = {}
        self._last = 0.0
        self._write(force=True)

    def update(
        self, run_id: int | None, jobs: Iterable[_Summarised], *, force: bool = False
    ) -> None:
        now = time.monotonic()
        if not force and now - self._last < MIN_INTERVAL:
            return
        self.run_id = run_id
        self.breeds = {j.slug: j.summary() for j in jobs}
        self._write(force=True)

    def outcome(self, status: str, *, run_id: int | None = None, error: str | None = None) -> None:
        if run_id is not None:
            self.run_id = run_id
        self._write(force=True, status=status, error=error)

    def _write(self, force: bool = False, **outcome: Any) -> None:
        data = {"run_id": self.run_id, "breeds": self.breeds}
        data.update({k: v for k, v in outcome.items() if v is not None})
        atomic_write(self.path, json.dumps(data).encode("utf-8"))
        self._last = time.monotonic()


def read_crawl_progress(path: Path) -> CrawlProgress:
    """What a ``CrawlProgressFile`` last wrote; an empty state if nothing readable is there."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return CrawlProgress()
    if not isinstance(data, dict):
        return CrawlProgress()
    breeds = data.get("breeds")
    run_id = data.get("run_id")
    return CrawlProgress(
        run_id=run_id if isinstance(run_id, int) else None,
        breeds={str(k): v for k, v in breeds.items() if isinstance(v, dict)}
        if isinstance(breeds, dict)
        else {},
        status=str(data["status"]) if data.get("status") else None,
        error=str(data["error"]) if data.get("error") else None,
    )
