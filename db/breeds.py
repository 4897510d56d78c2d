"""The seed list: the 120 Stanford Dogs breeds, with slugs exactly as in the classic breeds.csv.

The slug is the Stanford folder name after the synset id, lower-cased
(``n02100236-German_short-haired_pointer`` → ``german_short-haired_pointer``); the default search
query turns ``-`` and ``_`` into spaces, as the original study did.
"""

from __future__ import annotations

import csv
import re
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


_DOG_WORDS = ("dog", "dogs", "hound", "hounds")


def with_dog(query: str) -> str:
    """``boxer`` → ``boxer dog``; a name already ending in dog or hound stays as it is."""
    words = query.split()
    if words and words[-1].lower() in _DOG_WORDS:
        return query
    return f"{query} dog"


def normalise_label(text: str) -> str:
    """Compare breed names written in any of the usual ways: lower case, ``-``/``_`` as spaces."""
    return re.sub(r"[\s\-_]+", " ", text).strip().lower()


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
