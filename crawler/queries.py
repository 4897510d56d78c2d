"""Which query a breed is searched with: its name, or its name plus "dog".

The query is the breed name with ``-``/``_`` as spaces, as in the original study. Some names mean
something else first (a boxer, a cardigan, a pug of clay, the island of Newfoundland), so in
``auto`` mode the query becomes "<name> dog" when

1. the breed's list marked it ambiguous (``Breed.ambiguous``; for a breed whose list said
   nothing, e.g. the Stanford 120: it is on ``db.breeds.AMBIGUOUS``), or
2. the breed already carries ``dog_keyword`` (set by an earlier crawl whose plain query ran out
   before the breed reached its target — "too few usable results" — or by the review app), or
3. a reviewer flagged the query as finding the wrong things (``Breed.query_flagged_at``).

During a crawl, a plain query that runs out (every source, every page) before the breed has its
images switches to the dog query and the breed keeps ``dog_keyword`` from then on. "Runs out" is
what the sources said in well-formed answers, every one of them: a failed search, an unreachable
source, an unreadable page or a request budget says nothing about the query, and never switches
it (see ``crawler.jobs``).
``always`` searches every breed with "dog"; ``never`` never adds it. "dog" is the word of the
default list: a breed list may name another (``Breed.keyword``, e.g. "cat"), used the same way.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from core.errors import BreedbenchError
from db.breeds import AMBIGUOUS, with_dog


class DogKeywordMode(enum.StrEnum):
    AUTO = "auto"
    ALWAYS = "always"
    NEVER = "never"


def parse_mode(value: str) -> DogKeywordMode:
    try:
        return DogKeywordMode(value.strip().lower())
    except ValueError:
        raise BreedbenchError(
            f"dog keyword mode {value!r} is not one of auto, always, never "
            "(--dog-keyword or BREEDBENCH_CRAWL_DOG_KEYWORD)"
        ) from None


@dataclass(frozen=True, slots=True)
class QueryChoice:
    query: str
    dog: bool
    reason: str  # plain | ambiguous | dog_keyword | flagged | always | fallback


def choose_query(
    slug: str,
    base_query: str,
    *,
    mode: DogKeywordMode,
    dog_keyword: bool = False,
    flagged: bool = False,
    ambiguous: bool | None = None,
    keyword: str | None = None,
) -> QueryChoice:
    """The query a crawl starts a breed with. ``ambiguous`` is what the breed's list said (None:
    the curated list decides); ``keyword`` the list's word (None: "dog")."""
    if mode is DogKeywordMode.NEVER:
        return QueryChoice(base_query, False, "plain")
    if mode is DogKeywordMode.ALWAYS:
        return QueryChoice(with_dog(base_query, keyword), True, "always")
    if flagged:
        return QueryChoice(with_dog(base_query, keyword), True, "flagged")
    if dog_keyword:
        return QueryChoice(with_dog(base_query, keyword), True, "dog_keyword")
    if is_ambiguous(slug, ambiguous):
        return QueryChoice(with_dog(base_query, keyword), True, "ambiguous")
    return QueryChoice(base_query, False, "plain")


def is_ambiguous(slug: str, listed: bool | None) -> bool:
    """What the breed's list said, or (it said nothing) whether the curated list names it."""
    return slug in AMBIGUOUS if listed is None else listed


def fallback(
    choice: QueryChoice, mode: DogKeywordMode, keyword: str | None = None
) -> QueryChoice | None:
    """The query to continue with once ``choice`` ran out of results before the target."""
    if mode is not DogKeywordMode.AUTO or choice.dog:
        return None
    dog = with_dog(choice.query, keyword)
    if dog == choice.query:
        return None
    return QueryChoice(dog, True, "fallback")
