"""Per-breed crawl state: what a breed still needs, its query, and its tallies.

A breed is topped up, never overfilled: image downloads in flight plus images stored never exceed
what it needs, and the next result page is asked for only when the queue of candidates is empty.
The tallies are what the final table and the crawl run record show.

``ended`` records how each source's search for the current query came to an end. Only
``RAN_OUT`` — a well-formed answer saying there is nothing more, with no unreadable page on the
way — is a conclusion about the query; every other end (bad pages, a failed search, a source
stopped for the run) says nothing about it. The dog-keyword fallback and the ``exhausted``
verdict are drawn from ``ran_out``, which needs every source to have ended with ``RAN_OUT``.
"""

from __future__ import annotations

from collections import Counter, deque
from dataclasses import dataclass, field
from typing import Any

from crawler.candidate import Candidate
from crawler.queries import QueryChoice

DUPLICATE_REASONS = ("duplicate", "near_duplicate")

# How a source's search for a breed's query ended (``BreedJob.ended``).
RAN_OUT = "ran_out"  # a well-formed answer said there is nothing more
BAD_PAGES = "bad_pages"  # unreadable answers (too many in a row, or one with no way past it)
FAILED = "failed"  # no answer after the retries, or an error status
STOPPED = "stopped"  # the source stopped for the whole crawl (unreachable, error, budget)
REPEAT = "repeat"  # the same page would have been asked twice: refused


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
    ended: dict[str, str] = field(default_factory=dict)  # source -> how its search ended
    bad_streak: int = 0  # unreadable pages in a row from the current source
    bad_pages: int = 0  # unreadable pages from the current source for the current query
    asked: set[str] = field(default_factory=set)  # every search page asked (never twice)
    keyword: str | None = None  # the breed list's query word (None: "dog")

    def end_source(self, source: str, how: str) -> None:
        """The current source has nothing more for this query (``how``: see ``RAN_OUT``...)."""
        if how == RAN_OUT and self.bad_pages:
            how = BAD_PAGES  # pages were skipped: what they held is unknown
        self.ended[source] = how
        self.source_idx, self.page = self.source_idx + 1, None
        self.bad_streak = self.bad_pages = 0

    def switch_query(self, choice: QueryChoice) -> None:
        self.choice, self.source_idx, self.page, self.fell_back = choice, 0, None, True
        self.ended, self.bad_streak, self.bad_pages = {}, 0, 0

    @property
    def ran_out(self) -> bool:
        """Every source said, in a well-formed answer, that the query has nothing more."""
        return bool(self.ended) and all(how == RAN_OUT for how in self.ended.values())

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
            "exhausted": self.exhausted and self.ran_out and self.stored < self.needed,
            "search_incomplete": {s: how for s, how in self.ended.items() if how != RAN_OUT},
        }
