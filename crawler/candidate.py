"""One search result on its way to the store: plain data, so per-breed state and the folder
import can hold it without loading Scrapy."""

from __future__ import annotations

from dataclasses import dataclass

from db.image_dates import NO_DATES, ImageDates
from db.provenance import Provenance


@dataclass(frozen=True, slots=True)
class Candidate:
    """Where the image is and what we must keep about it (its provenance), plus what the API
    said about it that is not stored (title, announced size)."""

    provenance: Provenance  # its ``url`` is what gets downloaded
    title: str | None = None
    width: int | None = None
    height: int | None = None
    dates: ImageDates = NO_DATES  # what the source says of its upload and capture dates

    @property
    def url(self) -> str:
        return self.provenance.url or ""
