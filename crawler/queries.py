"""Which query a breed is searched with: its name, or its name plus "dog".

The query is the breed name with ``-``/``_`` as spaces, as in the original study. Some names mean
something else first (a boxer, a cardigan, a pug of clay, the island of Newfoundland), so in
``auto`` mode the query becomes "<name> dog" when

1. the breed is on ``AMBIGUOUS`` (curated below from the 120 Stanford breeds), or
2. the breed already carries ``dog_keyword`` (set by an earlier crawl whose plain query ran out
   before the breed reached its target — "too few usable results" — or by the review app), or
3. a reviewer flagged the query as finding the wrong things (``Breed.query_flagged_at``).

During a crawl, a plain query that runs out (every source, every page) before the breed has its
images switches to the dog query and the breed keeps ``dog_keyword`` from then on.
``always`` searches every breed with "dog"; ``never`` never adds it.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from breedbench.errors import BreedbenchError
from db.breeds import default_query, with_dog


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


# Slugs whose plain name mostly finds something other than the dog, with what it finds instead.
AMBIGUOUS: dict[str, str] = {
    "chihuahua": "the Mexican state and city",
    "papillon": "butterflies, the film",
    "toy_terrier": "toys",
    "basset": "the basset horn",
    "beagle": "HMS Beagle, the Mars lander",
    "bloodhound": "games, films, gangs",
    "bluetick": "the messaging tick",
    "redbone": "the song, the band",
    "whippet": "tanks, buses, motorcycles",
    "airedale": "the Yorkshire valley",
    "cairn": "stone cairns",
    "dandie_dinmont": "the novel character",
    "boston_bull": "bull statues, sports",
    "lhasa": "the city",
    "clumber": "Clumber Park",
    "english_springer": "locomotives, publishers",
    "groenendael": "the Belgian village and forest",
    "malinois": "people of Mechelen",
    "briard": "people and things of Brie",
    "kelpie": "the water spirit",
    "collie": "places and people named Collie",
    "doberman": "people, motorcycles",
    "appenzeller": "the cheese, the canton's people",
    "entlebucher": "the Swiss valley's people",
    "boxer": "boxing",
    "great_dane": "famous Danes",
    "saint_bernard": "the saint, the Alpine pass",
    "pug": "clay figures, the Peugeot badge",
    "leonberg": "the German town",
    "newfoundland": "the island and province",
    "great_pyrenees": "the mountains",
    "samoyed": "the Samoyed peoples",
    "pomeranian": "the region and its people",
    "chow": "food",
    "brabancon_griffon": "the mythical griffin",
    "pembroke": "the town, castle and college",
    "cardigan": "knitwear, the Welsh town",
    "toy_poodle": "toys",
    "mexican_hairless": "hairless cats",
    "dingo": "the wild dog's many namesakes",
}


def plain_query(slug: str) -> str:
    return default_query(slug)


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
) -> QueryChoice:
    """The query a crawl starts a breed with."""
    if mode is DogKeywordMode.NEVER:
        return QueryChoice(base_query, False, "plain")
    if mode is DogKeywordMode.ALWAYS:
        return QueryChoice(with_dog(base_query), True, "always")
    if flagged:
        return QueryChoice(with_dog(base_query), True, "flagged")
    if dog_keyword:
        return QueryChoice(with_dog(base_query), True, "dog_keyword")
    if slug in AMBIGUOUS:
        return QueryChoice(with_dog(base_query), True, "ambiguous")
    return QueryChoice(base_query, False, "plain")


def fallback(choice: QueryChoice, mode: DogKeywordMode) -> QueryChoice | None:
    """The query to continue with once ``choice`` ran out of results before the target."""
    if mode is not DogKeywordMode.AUTO or choice.dog:
        return None
    dog = with_dog(choice.query)
    if dog == choice.query:
        return None
    return QueryChoice(dog, True, "fallback")
