"""Batches of ids for ``IN (...)`` queries, so no query passes a database's parameter limit."""

from __future__ import annotations

from collections.abc import Iterable, Iterator

IN_CHUNK = 500  # ids per ``IN (...)``: well under SQLite's bound-parameter limit


def id_chunks(ids: Iterable[int], size: int = IN_CHUNK) -> Iterator[list[int]]:
    """``ids`` in lists of at most ``size``, for ``column.in_(chunk)`` queries."""
    items = list(ids)
    for start in range(0, len(items), size):
        yield items[start : start + size]
