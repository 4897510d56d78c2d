"""Where an image came from: one record from the search result to the exported manifest.

A source fills it in when it reads a search result, the store writes it into the image row, the
review card shows it and the export writes it into the manifest, whose licences and credits must
travel with the images. Its fields are the ``images`` columns of the same names, in the order of
the manifest's origin columns, so each of those places takes the whole record instead of copying
nine fields one by one.
"""

from __future__ import annotations

from dataclasses import dataclass, fields


@dataclass(frozen=True, slots=True)
class Provenance:
    """An image's origin and licence, as the search result (or the imported file) gave them."""

    source: str  # openverse, wikimedia, flickr, import, ...
    query: str | None = None  # the search that found it
    url: str | None = None  # the image itself (a file:// URL for an import)
    landing_url: str | None = None  # the page that presents it
    license: str | None = None
    license_version: str | None = None
    license_url: str | None = None
    creator: str | None = None
    attribution: str | None = None

    @property
    def license_label(self) -> str:
        """The licence as a reviewer reads it: ``by-sa 4.0``, or ``unknown license``."""
        if not self.license:
            return "unknown license"
        return f"{self.license} {self.license_version or ''}".strip()

    def columns(self) -> dict[str, str | None]:
        """The fields by name, in ``PROVENANCE_FIELDS`` order: the row's and manifest's columns."""
        return {name: getattr(self, name) for name in PROVENANCE_FIELDS}

    @classmethod
    def of(cls, holder: object) -> Provenance:
        """The record read back from anything that has the fields as attributes (an image row)."""
        return cls(**{name: getattr(holder, name) for name in PROVENANCE_FIELDS})


PROVENANCE_FIELDS: tuple[str, ...] = tuple(f.name for f in fields(Provenance))
