"""The manifest row: one exported image as the export and its datasheet both see it."""

from __future__ import annotations

from dataclasses import dataclass

from db.provenance import PROVENANCE_FIELDS, Provenance

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
        order (the provenance's fields flattened between the file's and the record's)."""
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
