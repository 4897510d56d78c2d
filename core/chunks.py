"""Batches of ids for ``IN (...)`` queries, so no query passes a database's parameter limit."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import TypeVar

T = TypeVar("T")

IN_CHUNK = 500  # ids per ``IN (...)``: well under SQLite's bound-parameter limit


def id_chunks(ids: Iterable[T], size: int = IN_CHUNK) -> Iterator[list[T]]:
    """``ids`` (numbers, hashes, ...) in lists of at most ``size``, for ``column.in_(chunk)``."""
    items = list(ids)
    for start in range(0, len(items), size):
        yield items[start : start + size]
