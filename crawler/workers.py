"""The CPU-heavy part of storing an image, run in worker processes.

Validation (a full decode), the perceptual hashes and the thumbnail cost about 10 ms of CPU an
image. In threads next to Scrapy's event loop they crawl: every return from Pillow's C code has
to win the GIL back from the loop (the "convoy" effect), which made each image take ~80 ms. In a
process pool they run at full speed on the other cores. A worker receives the bytes, validates
them, writes the original and the thumbnail into the store (atomic writes, paths derived from
the sha256) and returns a few numbers and the files it wrote; the row is written in the crawl's
event-loop thread.

Workers ignore SIGINT: Ctrl-C is the crawl's to handle (stop gracefully), not theirs.
"""

from __future__ import annotations

import atexit
import multiprocessing
import os
import signal
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from crawler.validation import Refusal, validate_image
from db.images import ImageFacts
from db.store import FileSystemImageStore

_stores: dict[str, FileSystemImageStore] = {}


@dataclass(frozen=True, slots=True)
class Prewritten:
    """A valid image whose files are in the store: its facts for the row, and the files this
    worker wrote (the others were there already), which are the unit's to take back if it
    stores no row (``crawler.storing``)."""

    facts: ImageFacts
    created: tuple[str, ...]


def check_and_prewrite(
    store_root: str, data: bytes, min_side: int, max_bytes: int, max_pixels: int
) -> Prewritten | tuple[str, str]:
    """Validate ``data`` and write its files (as a pair: a full disk leaves no original without
    its thumbnail); a refusal comes back as ``(reason, detail)``."""
    try:
        valid = validate_image(data, min_side=min_side, max_bytes=max_bytes, max_pixels=max_pixels)
    except Refusal as r:
        return (r.reason, r.detail)
    store = _stores.get(store_root)
    if store is None:
        store = _stores[store_root] = FileSystemImageStore(Path(store_root))
    stored = store.put_with_thumbnail(data, valid.image)
    return Prewritten(valid.facts(), stored.created)


def _ignore_sigint() -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)


_pool: ProcessPoolExecutor | None = None
_pool_size = 0


def default_workers() -> int:
    """One worker per CPU this process may use, at most 4."""
    try:
        cpus = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        cpus = os.cpu_count() or 1
    return max(1, min(4, cpus))


def pool(workers: int) -> ProcessPoolExecutor:
    """The shared pool (created once per process, reused by every crawl of the process)."""
    global _pool, _pool_size
    if _pool is None or _pool_size != workers or getattr(_pool, "_broken", False):
        shutdown()
        _pool = ProcessPoolExecutor(
            max_workers=workers,
            mp_context=multiprocessing.get_context("spawn"),
            initializer=_ignore_sigint,
        )
        _pool_size = workers
    return _pool


def warm(workers: int) -> None:
    """Start the worker processes now (they take a moment to import), not at the first image."""
    executor = pool(workers)
    for _ in range(workers):
        executor.submit(int)


def shutdown() -> None:
    global _pool
    if _pool is not None:
        _pool.shutdown(wait=True, cancel_futures=True)
        _pool = None


atexit.register(shutdown)
