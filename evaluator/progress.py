"""How an evaluation reports progress, and the progress file of a background evaluation.

The evaluator displays nothing. ``evaluate`` calls a ``ProgressSink`` it is given: ``start`` once
with the number of images, ``advance`` after each batch with the images it covered. The CLI
passes a progress bar; with ``breedbench evaluate --progress-file PATH`` it also passes a
``FileProgress``, which keeps ``{"done": n, "total": m}`` in PATH once the images are counted,
and adds the outcome when the evaluation ends: ``"status"`` (``finished``, ``failed`` or
``stopped``) with the recorded ``"run_id"`` or the ``"error"``. The app's background evaluations
(``evaluator.jobs``) read that file with ``read_progress``: the evaluation writes its own
outcome, so a job's result does not depend on the app that started it still running.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from core.files import atomic_write, check_writable

MIN_INTERVAL = 0.25  # seconds between progress writes: the app polls every 2 s


class ProgressSink(Protocol):
    def start(self, total: int, description: str) -> None: ...

    def advance(self, n: int) -> None: ...


class ProgressTee:
    """Several sinks as one (a progress bar and a progress file)."""

    def __init__(self, *sinks: ProgressSink) -> None:
        self.sinks = sinks

    def start(self, total: int, description: str) -> None:
        for sink in self.sinks:
            sink.start(total, description)

    def advance(self, n: int) -> None:
        for sink in self.sinks:
            sink.advance(n)


@dataclass(frozen=True, slots=True)
class ProgressState:
    done: int | None = None
    total: int | None = None
    status: str | None = None  # None while running; then finished | failed | stopped
    run_id: int | None = None
    error: str | None = None


class FileProgress:
    """A ``ProgressSink`` that keeps the progress, then the outcome, in a JSON file.

    Every write is atomic (``core.files.atomic_write``): a poller never reads half a file.
    """

    def __init__(self, path: Path) -> None:
        """Checks at once that the file can be written: a wrong path is said before the
        evaluation rather than after it."""
        check_writable(path, "progress file")
        self.path = path
        self.done = 0
        self.total = 0
        self.started = False
        self._last = 0.0

    def start(self, total: int, description: str) -> None:
        self.total = total
        self.started = True
        self._write(force=True)

    def advance(self, n: int) -> None:
        self.done += n
        self._write(force=self.done >= self.total)

    def finished(self, run_id: int) -> None:
        self._write(force=True, status="finished", run_id=run_id)

    def failed(self, error: str) -> None:
        self._write(force=True, status="failed", error=error)

    def stopped(self) -> None:
        self._write(force=True, status="stopped", error="stopped by a user")

    def _write(self, force: bool = False, **outcome: Any) -> None:
        now = time.monotonic()
        if force or now - self._last >= MIN_INTERVAL:
            counts = {"done": self.done, "total": self.total} if self.started else {}
            data = {**counts, **outcome}
            atomic_write(self.path, json.dumps(data).encode("utf-8"))
            self._last = now


def read_progress(path: Path) -> ProgressState:
    """What a ``FileProgress`` last wrote; an empty state if there is no readable file yet."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return ProgressState()
    if not isinstance(data, dict):
        return ProgressState()
    return ProgressState(
        **{k: v for k, v in data.items() if k in ProgressState.__dataclass_fields__}
    )
