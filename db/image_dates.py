"""An image's dates as its source states them, and the freshness window that selects on them.

Three dates, each ``None`` when the source does not give it:

* ``uploaded_at``: when the file was published where it was found (Flickr ``dateupload``, the
  Commons ``imageinfo`` timestamp of the file version fetched). It is what proves an image new.
* ``taken_at``: when the picture was taken, as the source or the camera says (Flickr
  ``datetaken``, Commons ``extmetadata.DateTimeOriginal``). Camera clocks are often wrong: it is
  shown, never used as proof.
* ``indexed_at``: when an aggregator listed it (Openverse ``indexed_on``). The upload happened on
  or before that moment, so it can prove an image *old* (indexed before the cut-off) but never
  new: an image indexed yesterday may have been uploaded ten years ago.

``Window`` is ``crawl --uploaded-after``: an image is kept only when its upload provably came at
or after the cut-off; one proven older is ``too_old``, one whose upload date is unknown is
``date_unknown`` (dropped, or kept with ``--unknown-date keep``).
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time

from core.errors import BreedbenchError

TOO_OLD = "too_old"
DATE_UNKNOWN = "date_unknown"
# Earliest plausible date of a photo, and how far in the future a clock may run ahead.
EARLIEST = datetime(1826, 1, 1, tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class ImageDates:
    uploaded_at: datetime | None = None
    taken_at: datetime | None = None
    indexed_at: datetime | None = None

    def columns(self) -> dict[str, datetime | None]:
        return {name: getattr(self, name) for name in DATE_FIELDS}

    @classmethod
    def of(cls, holder: object) -> ImageDates:
        return cls(**{name: getattr(holder, name, None) for name in DATE_FIELDS})


DATE_FIELDS: tuple[str, ...] = ("uploaded_at", "taken_at", "indexed_at")
NO_DATES = ImageDates()


class UnknownDate(enum.StrEnum):
    KEEP = "keep"
    DROP = "drop"


def parse_cutoff(value: str, option: str = "--uploaded-after") -> datetime:
    """``2026-01-01`` (midnight UTC) or an ISO 8601 date-time (UTC unless it says otherwise)."""
    text = value.strip()
    try:
        if re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
            return datetime.combine(date.fromisoformat(text), time(), tzinfo=UTC)
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise BreedbenchError(
            f"{option} {value[:40]!r} is not a date (YYYY-MM-DD, or an ISO 8601 date and time)"
        ) from None
    return as_utc(parsed)


def parse_unknown(value: str) -> UnknownDate:
    try:
        return UnknownDate(value.strip().lower())
    except ValueError:
        raise BreedbenchError(f"--unknown-date {value!r} is not keep or drop") from None


def as_utc(moment: datetime) -> datetime:
    """Aware in UTC; a naive value is read as UTC (SQLite gives naive values back)."""
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def read_iso(value: object) -> datetime | None:
    """An ISO 8601 date or date-time as a manifest or an API writes it (``Z``, an offset, or
    none: UTC); ``None`` for anything else or an implausible date."""
    if not isinstance(value, str) or not value.strip():
        return None
    try:
        parsed = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    return plausible(parsed)


def iso_text(moment: datetime | None) -> str | None:
    """How a date is written into a manifest: ISO 8601 in UTC, to the second."""
    return None if moment is None else as_utc(moment).replace(microsecond=0).isoformat()


def plausible(moment: datetime | None) -> datetime | None:
    """``moment`` in UTC, or ``None`` when it cannot be a photo's date (a camera at 0000-00-00,
    a clock far in the future)."""
    if moment is None:
        return None
    moment = as_utc(moment)
    if moment < EARLIEST or moment.year > datetime.now(UTC).year + 1:
        return None
    return moment


@dataclass(frozen=True, slots=True)
class Window:
    """Keep images uploaded at or after ``after``; ``unknown`` says what happens to the others
    whose upload date nothing states."""

    after: datetime
    unknown: UnknownDate = UnknownDate.DROP

    def refusal(self, dates: ImageDates) -> str | None:
        """``None`` to keep the image, else the reason it is refused."""
        if dates.uploaded_at is not None:
            return None if as_utc(dates.uploaded_at) >= self.after else TOO_OLD
        if dates.indexed_at is not None and as_utc(dates.indexed_at) < self.after:
            return TOO_OLD  # uploaded on or before it was indexed: before the cut-off
        return None if self.unknown is UnknownDate.KEEP else DATE_UNKNOWN

    def describe(self) -> dict[str, str]:
        return {"uploaded_after": self.after.isoformat(), "unknown_date": str(self.unknown)}
