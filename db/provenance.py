"""Where an image came from: one record from the search result to the exported manifest.

A source fills it in when it reads a search result, the store writes it into the image row, the
review card shows it and the export writes it into the manifest, whose licences and credits must
travel with the images. Its fields are the ``images`` columns of the same names, in the order of
the manifest's origin columns, so each of those places takes the whole record instead of copying
nine fields one by one.

The page URLs (``landing_url``, ``license_url``) are kept only when they are http(s) URLs
(``core.text.web_url``): a search result's ``javascript:`` or ``data:`` "page" is dropped when the
record is built, before it is stored, shown as a link or exported. The image ``url`` is checked
earlier, by the source that reads it (the same ``web_url`` rule): it is what the crawler fetches,
from public http(s) addresses only.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

from core.text import web_url


@dataclass(frozen=True, slots=True)
class Provenance:
    """An image's origin and licence, as the search result (or the imported file) gave them."""

    source: str  # openverse, wikimedia, flickr, import, ...
    query: str | None = None  # the search that found it
    url: str | None = None  # the image itself (None for an import: no local path is kept)
    landing_url: str | None = None  # the page that presents it
    license: str | None = None
    license_version: str | None = None
    license_url: str | None = None
    creator: str | None = None
    attribution: str | None = None

    def __post_init__(self) -> None:
        # Every record passes here, from a search result, an import or a stored row alike.
        for name in PAGE_URL_FIELDS:
            object.__setattr__(self, name, web_url(getattr(self, name)))
        # A search result's text can be longer than its column: PostgreSQL would refuse the
        # whole image (SQLite keeps it), so it is cut to fit, visibly.
        for name, limit in FIELD_LIMITS.items():
            value = getattr(self, name)
            if value is not None and len(value) > limit:
                object.__setattr__(self, name, value[: limit - 1] + "…")

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
# The lengths of the ``images`` columns that have one (``db.models.Image``).
FIELD_LIMITS: dict[str, int] = {"source": 40, "query": 200, "license": 80, "license_version": 20}
# The links a reader may follow: http(s) or nothing.
PAGE_URL_FIELDS: tuple[str, ...] = ("landing_url", "license_url")
