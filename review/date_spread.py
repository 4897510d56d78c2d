"""When the images appeared: the spread of upload and capture dates, by year.

A test set is "unseen" only if its images appeared after the model's training data was
gathered; the datasheet and the Breeds overview show how the set's dates spread so a reader can
judge that. Upload dates are what the sources state (``db.image_dates``); images whose source
gave none (Openverse, folder imports without a manifest) are counted apart, with the latest
Openverse index date as an upper bound where there is one.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from db.image_dates import ImageDates, as_utc
from db.models import Image, ImageStatus


@dataclass(frozen=True, slots=True)
class YearRow:
    year: int
    uploaded: int  # images uploaded that year
    taken: int  # images taken that year


@dataclass(frozen=True, slots=True)
class DateSpread:
    total: int
    years: list[YearRow] = field(default_factory=list)
    upload_unknown: int = 0
    taken_unknown: int = 0
    # Of the images without an upload date: how many were indexed by an aggregator, and the
    # latest such date (their uploads came on or before it).
    indexed_only: int = 0
    latest_indexed: datetime | None = None
    earliest_upload: datetime | None = None
    latest_upload: datetime | None = None


def date_spread(dates: Iterable[ImageDates]) -> DateSpread:
    """The spread of ``dates`` (one per image) by year."""
    items = list(dates)
    uploaded = Counter(as_utc(d.uploaded_at).year for d in items if d.uploaded_at)
    taken = Counter(as_utc(d.taken_at).year for d in items if d.taken_at)
    no_upload = [d for d in items if d.uploaded_at is None]
    indexed = [as_utc(d.indexed_at) for d in no_upload if d.indexed_at is not None]
    uploads = [as_utc(d.uploaded_at) for d in items if d.uploaded_at is not None]
    years = sorted(set(uploaded) | set(taken))
    return DateSpread(
        total=len(items),
        years=[YearRow(y, uploaded.get(y, 0), taken.get(y, 0)) for y in years],
        upload_unknown=len(no_upload),
        taken_unknown=sum(1 for d in items if d.taken_at is None),
        indexed_only=len(indexed),
        latest_indexed=max(indexed) if indexed else None,
        earliest_upload=min(uploads) if uploads else None,
        latest_upload=max(uploads) if uploads else None,
    )


def stored_date_spread(
    session: Session, statuses: tuple[ImageStatus, ...] = (ImageStatus.ACCEPTED,)
) -> DateSpread:
    """The spread over the stored images of these statuses (the Breeds overview)."""
    rows = session.execute(
        select(Image.uploaded_at, Image.taken_at, Image.indexed_at).where(
            Image.status.in_(statuses)
        )
    )
    return date_spread(ImageDates(u, t, i) for u, t, i in rows)


def spread_lines(spread: DateSpread) -> list[str]:
    """The datasheet's "Dates" section, in Markdown (numbers only: nothing from outside)."""
    out = ["## Dates", ""]
    if not spread.total:
        return out + ["No images.", ""]
    known = spread.total - spread.upload_unknown
    if spread.earliest_upload and spread.latest_upload:
        out.append(
            f"{known} of {spread.total} images have an upload date stated by their source, "
            f"from {spread.earliest_upload:%Y-%m-%d} to {spread.latest_upload:%Y-%m-%d}; "
            f"{spread.total - spread.taken_unknown} have a capture date (camera clocks can be "
            "wrong)."
        )
    else:
        out.append(f"None of the {spread.total} images has an upload date stated by its source.")
    if spread.upload_unknown:
        bound = (
            f" {spread.indexed_only} of them were indexed by Openverse, the latest on "
            f"{spread.latest_indexed:%Y-%m-%d}: they were uploaded on or before that date."
            if spread.latest_indexed
            else ""
        )
        out.append("")
        out.append(f"Upload date unknown: {spread.upload_unknown} images.{bound}")
    if spread.years:
        out += ["", "| year | uploaded | taken |", "|---|---|---|"]
        out += [f"| {y.year} | {y.uploaded} | {y.taken} |" for y in spread.years]
    return out + [""]
