"""How a model's classes are shown to people: by name, with the ImageNet synset beside it.

A model's labels file often gives a class as a WordNet synset followed by its names
(``n03937543 pill bottle`` in ImageNet's ``synset_words.txt``, ``n02085620-Chihuahua`` as a
Stanford Dogs folder), and sometimes as the bare synset. A reader of a parity table or a report
wants the name first; the synset stays beside it, in brackets, because names alone are
ambiguous (ImageNet has a ``crane`` bird and a ``crane`` machine). A bare synset takes the name
of the breed with that synset; a bare synset of no breed has no name to show and is shown as it
is. Labels without a leading synset (``pug``, ``german_shepherd``) are shown unchanged.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping

from sqlalchemy import select
from sqlalchemy.orm import Session

from db.models import Breed

# A synset at the start of the label, then the names after a space, ``-``, ``_`` or ``:``.
_LEADING_SYNSET = re.compile(r"\s*(n\d{8})(?:[\s:_-]+(.*)|\s*)", re.DOTALL)


def class_name(label: str, breed_names: Mapping[str, str] | None = None) -> str:
    """``n03937543 pill bottle, pill vial`` → ``pill bottle (n03937543)``: the first of the
    names (underscores as spaces), then the synset. ``breed_names`` (synset → breed name) names a
    bare synset."""
    found = _LEADING_SYNSET.fullmatch(label)
    if found is None:
        return label.strip()
    synset, rest = found.group(1), found.group(2) or ""
    name = rest.split(",")[0].replace("_", " ").strip()
    if not name and breed_names:
        name = breed_names.get(synset, "")
    return f"{name} ({synset})" if name else synset


def breed_names_by_synset(session: Session) -> dict[str, str]:
    """Synset → breed name, for the breeds that have a synset."""
    rows = session.execute(select(Breed.synset, Breed.name).where(Breed.synset.is_not(None)))
    return {synset: name for synset, name in rows}


def class_names(session: Session, labels: Iterable[str]) -> list[str]:
    """Each label as ``class_name`` shows it, bare breed synsets named from the breeds table."""
    names = breed_names_by_synset(session)
    return [class_name(label, names) for label in labels]
