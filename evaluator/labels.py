"""From a model's class labels to our breeds.

A label file is one label per line, or a CSV with a named column (the classic ``breeds.csv``).
The model's class order is the file order or the sorted order (sklearn's ``LabelBinarizer`` sorts,
which is how the classic breed head was trained). A label matches a breed by name (normalised,
``db.breeds.match_key``: case, spaces, hyphens, underscores, punctuation and a trailing "dog" —
or the breed list's keyword — do not count; against the slug and the display name; an ImageNet
line's comma-separated names are tried one by one, then its WordNet synset id when a breed has
it) or, with ``match = "synset"``, by synset id only
(the first ``nXXXXXXXX`` token, as in ImageNet's ``synset_words.txt``).

Labels that match no breed are an error that lists them, unless ``restrict_to_breeds`` says the
model has more classes than we test (an ImageNet-1k model): then only matched classes are ranked.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.errors import BreedbenchError
from db.breeds import match_key
from db.models import Breed
from evaluator.spec import ModelSpec

SYNSET = re.compile(r"\bn\d{8}\b")
MAX_LISTED = 20


@dataclass(frozen=True)
class LabelMap:
    """The model's classes in output order and the breed each one is (None: not a breed)."""

    labels: list[str]
    breed_ids: list[int | None]
    restrict_to_breeds: bool

    @property
    def unmatched(self) -> list[str]:
        return [lab for lab, b in zip(self.labels, self.breed_ids, strict=True) if b is None]

    @property
    def covered_breeds(self) -> set[int]:
        return {b for b in self.breed_ids if b is not None}


def build_label_map(session: Session, spec: ModelSpec) -> LabelMap:
    """Match the spec's labels to breeds; unmatched labels are listed in the error."""
    labels = spec.class_labels
    if not labels:
        raise BreedbenchError(
            "the spec has no labels: set labels.file (one label per line, or a CSV column)"
        )
    breeds = session.scalars(select(Breed)).all()
    if spec.labels.match == "synset":
        index = {b.synset: b.id for b in breeds if b.synset}
        keys = [_synset(lab) for lab in labels]
    else:
        index = {}
        keywords = {b.keyword for b in breeds if b.keyword}
        for b in breeds:
            index.setdefault(match_key(b.name, b.keyword), b.id)
            index[match_key(b.slug, b.keyword)] = b.id
        by_synset = {f"synset {b.synset}": b.id for b in breeds if b.synset}
        index.update(by_synset)
        keys = [_name_match(lab, index, keywords) for lab in labels]
    breed_ids = [index.get(k) if k else None for k in keys]
    label_map = LabelMap(labels, breed_ids, spec.labels.restrict_to_breeds)
    unmatched = label_map.unmatched
    if unmatched and not spec.labels.restrict_to_breeds:
        raise BreedbenchError(
            f"{len(unmatched)} of {len(labels)} labels match no breed (match = "
            f"{spec.labels.match!r}): {_listing(unmatched)}. Fix the labels file, or set "
            "labels.restrict_to_breeds = true to rank only the classes that are breeds"
        )
    if not label_map.covered_breeds:
        raise BreedbenchError(
            f"none of the {len(labels)} labels matches a breed (match = {spec.labels.match!r}); "
            f"first labels: {_listing(labels[:5])}"
        )
    seen: dict[int, str] = {}
    for lab, b in zip(labels, breed_ids, strict=True):
        if b is not None and b in seen:
            raise BreedbenchError(f"labels {seen[b]!r} and {lab!r} both match the same breed")
        if b is not None:
            seen[b] = lab
    return label_map


@dataclass(frozen=True)
class Coverage:
    """How a model's labels meet the breed list: what ``models add`` reports."""

    unmatched_labels: list[str]
    uncovered_breeds: list[str]  # slugs no label matches: their images cannot be scored
    n_labels: int
    n_breeds: int

    def describe(self) -> list[str]:
        """Lines for the person registering the model (labels shown only if they look like
        class names, see ``_listing``)."""
        lines = []
        if self.unmatched_labels:
            lines.append(
                f"{len(self.unmatched_labels)} of {self.n_labels} labels match no breed (not "
                f"ranked): {_listing(self.unmatched_labels)}"
            )
        if self.uncovered_breeds:
            lines.append(
                f"{len(self.uncovered_breeds)} of {self.n_breeds} breeds have no label (their "
                f"images are left out of its evaluations): {_listing(self.uncovered_breeds)}"
            )
        return lines


def coverage(session: Session, spec: ModelSpec) -> Coverage:
    """The labels that match no breed and the breeds no label matches (``build_label_map``
    refuses unmatched labels unless ``restrict_to_breeds``)."""
    label_map = build_label_map(session, spec)
    breeds = session.execute(select(Breed.id, Breed.slug).order_by(Breed.position, Breed.id))
    rows = list(breeds)
    uncovered = [slug for bid, slug in rows if bid not in label_map.covered_breeds]
    return Coverage(label_map.unmatched, uncovered, len(label_map.labels), len(rows))


def _name_match(label: str, index: dict[str, int], keywords: set[str] | None = None) -> str:
    """The whole label, or else one of its comma-separated names without a leading synset id
    (``n02089867 Walker hound, Walker foxhound`` matches ``walker_hound``), or else its synset
    id when a breed has it. Each name is tried as it is and without the list's keyword (a cat
    model's ``Persian_cat`` is the breed ``persian``)."""
    for part in [label, *SYNSET.sub("", label, count=1).split(",")]:
        for word in (None, *sorted(keywords or ())):
            key = match_key(part, word)
            if key in index:
                return key
    synset = _synset(label)
    if synset and f"synset {synset}" in index:
        return f"synset {synset}"
    return match_key(label)


def _synset(label: str) -> str | None:
    m = SYNSET.search(label)
    return m.group(0) if m else None


# What a class name is made of (ImageNet's "n02085620 Chihuahua", "german_shepherd", "St.
# Bernard (dog)"). A line with anything else — ``root:$y$...`` from a spec pointing at a system
# file — is counted in an error message, never quoted.
LABEL_LIKE = re.compile(r"[\w .,'()/&+-]{1,80}")


def _listing(items: list[str]) -> str:
    quotable = [i for i in items if LABEL_LIKE.fullmatch(i)]
    shown = ", ".join(repr(i) for i in quotable[:MAX_LISTED])
    more = len(quotable) - MAX_LISTED
    hidden = len(items) - len(quotable)
    listing = shown + (f" and {more} more" if more > 0 else "")
    if hidden:
        listing += f"{'; ' if shown else ''}{hidden} that do not look like class names (not shown)"
    return listing
