"""Per-breed crawl state: what a breed still needs, its query, and its tallies.

A breed is topped up, never overfilled: image downloads in flight plus images stored never exceed
what it needs, and the next result page is asked for only when the queue of candidates is empty.
The tallies are what the final table and the crawl run record show.
"""

from __future__ import annotations

from collections import Counter, deque
from dataclasses import dataclass, field
from typing import Any

from crawler.candidate import Candidate
from crawler.queries import QueryChoice

DUPLICATE_REASONS = ("duplicate", "near_duplicate")


@dataclass
class BreedJob:
    breed_id: int
    slug: str
    needed: int
    choice: QueryChoice
    seen_urls: set[str] = field(default_factory=set)  # already stored for this breed, or queued
    source_idx: int = 0
    page: Any = None
    searching: bool = False
    exhausted: bool = False
    queue: deque[Candidate] = field(default_factory=deque)
    inflight: int = 0
    found: int = 0
    stored: int = 0
    cross_breed: int = 0
    refused: Counter[str] = field(default_factory=Counter)
    fell_back: bool = False

    @property
    def done(self) -> bool:
        return self.stored >= self.needed or (self.exhausted and self.inflight == 0)

    @property
    def duplicates(self) -> int:
        return sum(self.refused[r] for r in DUPLICATE_REASONS)

    @property
    def refused_other(self) -> dict[str, int]:
        """Refusals other than duplicates, by reason."""
        return {r: n for r, n in sorted(self.refused.items()) if r not in DUPLICATE_REASONS}

    def summary(self) -> dict[str, Any]:
        return {
            "needed": self.needed,
            "found": self.found,
            "stored": self.stored,
            "duplicates": self.duplicates,
            "cross_breed": self.cross_breed,
            "refused": self.refused_other,
            "query": self.choice.query,
            "query_reason": self.choice.reason,
            "exhausted": self.exhausted and self.stored < self.needed,
        }
