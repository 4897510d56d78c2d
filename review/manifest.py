"""The manifest row: one exported image as the export and its datasheet both see it."""

from __future__ import annotations

from dataclasses import dataclass

MANIFEST_FIELDS = (
    "breed",
    "synset",
    "file",
    "sha256",
    "width",
    "height",
    "source",
    "query",
    "url",
    "landing_url",
    "license",
    "license_version",
    "license_url",
    "creator",
    "attribution",
    "image_id",
    "status",
)


@dataclass(frozen=True, slots=True)
class ManifestRow:
    """One exported image, as written to the manifest (field order = ``MANIFEST_FIELDS``)."""

    breed: str
    synset: str | None
    file: str  # relative to the export root, with "/" separators
    sha256: str
    width: int
    height: int
    source: str
    query: str | None
    url: str | None
    landing_url: str | None
    license: str | None
    license_version: str | None
    license_url: str | None
    creator: str | None
    attribution: str | None
    image_id: int
    status: str
