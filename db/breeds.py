"""The seed list: the 120 Stanford Dogs breeds, with slugs exactly as in the classic breeds.csv.

The slug is the Stanford folder name after the synset id, lower-cased
(``n02100236-German_short-haired_pointer`` → ``german_short-haired_pointer``); the default search
query turns ``-`` and ``_`` into spaces, as the original study did.
"""

from __future__ import annotations

import csv
import re
import unicodedata
from dataclasses import dataclass
from pathlib import Path

DEFAULT_TARGET = 50


@dataclass(frozen=True, slots=True)
class BreedSeed:
    synset: str
    stanford_name: str

    @property
    def slug(self) -> str:
        return self.stanford_name.lower()

    @property
    def name(self) -> str:
        text = self.stanford_name.replace("_", " ")
        return text[0].upper() + text[1:]

    @property
    def query(self) -> str:
        return default_query(self.slug)


def default_query(slug: str) -> str:
    """``german_short-haired_pointer`` → ``german short haired pointer``."""
    return re.sub(r"[-_]+", " ", slug).strip()


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

_DOG_WORDS = ("dog", "dogs", "hound", "hounds")
DEFAULT_KEYWORD = "dog"


def with_dog(query: str, keyword: str | None = None) -> str:
    """``boxer`` → ``boxer dog``; a name already ending in dog or hound stays as it is.

    ``keyword`` is the word of the breed's list (``cat`` for a list of cats; None: ``dog``); a
    name already ending in it, or its plural, stays as it is too.
    """
    word = (keyword or DEFAULT_KEYWORD).strip()
    words = query.split()
    if words and words[-1].lower() in (*_DOG_WORDS, word.lower(), f"{word.lower()}s"):
        return query
    return f"{query} {word}"


def normalise_label(text: str) -> str:
    """Compare breed names written in any of the usual ways: lower case, ``-``/``_`` as spaces."""
    return re.sub(r"[\s\-_]+", " ", text).strip().lower()


def match_key(text: str, keyword: str | None = None) -> str:
    """A class name as labels and breeds are compared: ``normalise_label``, then accents and
    punctuation dropped (``St. Bernard's`` → ``st bernards``) and a trailing "dog"/"dogs" (or
    the list's ``keyword``) left off when more words remain (``Maltese_dog`` → ``maltese``)."""
    plain = unicodedata.normalize("NFKD", text)
    plain = "".join(ch for ch in plain if not unicodedata.combining(ch))
    plain = re.sub(r"['\u2019]", "", plain.lower())
    words = re.sub(r"[^0-9a-z]+", " ", plain).split()
    suffixes = {"dog", "dogs"}
    if keyword:
        suffixes |= {keyword.lower(), f"{keyword.lower()}s"}
    if len(words) > 1 and words[-1] in suffixes:
        words = words[:-1]
    return " ".join(words)


def stanford_breeds() -> list[BreedSeed]:
    with (Path(__file__).parent / "data" / "stanford_dogs.csv").open(encoding="utf-8") as fh:
        return [BreedSeed(r["synset"], r["stanford_name"]) for r in csv.DictReader(fh)]


STANFORD_FOLDER = re.compile(r"^(n\d{8})-(.+)$")


def parse_stanford_folder(name: str) -> tuple[str | None, str]:
    """``n02085620-Chihuahua`` → (``n02085620``, ``chihuahua``); a plain slug → (None, slug)."""
    m = STANFORD_FOLDER.match(name)
    if m:
        return m.group(1), m.group(2).lower()
    return None, name.lower()
