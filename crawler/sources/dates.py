"""Reading the dates each API writes, in the formats it documents.

* ISO 8601 with ``Z`` (Commons ``imageinfo.timestamp``: ``2019-05-13T09:30:42Z``; Openverse
  ``indexed_on``: ``2020-04-02T16:49:08Z``, sometimes with fractions of a second).
* Unix seconds as a string (Flickr ``dateupload``: "posted dates are passed around as a unix
  timestamp ... in GMT").
* MySQL ``datetime`` (Flickr ``datetaken``: ``2004-11-29 16:01:26``, in the owner's time zone,
  which the API does not give: read as UTC, so it may be some hours off).
* Commons ``extmetadata`` values: HTML text such as ``2014-05-03 14:21:23``, ``2014-05-03``,
  ``<time class="dtstart" datetime="2014-05-03">3 May 2014</time>``, EXIF's ``2014:05:03
  14:21:23``, or words (``circa 1900``, ``unknown date``), which give no date.

A date that cannot be read is ``None`` (unknown), never an error: a result is still usable
without it, and the freshness window treats it as unknown.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

from db.image_dates import plausible, read_iso

_ISO_DAY = re.compile(r"(\d{4})[-:](\d{2})[-:](\d{2})(?:[ T](\d{2}):(\d{2})(?::(\d{2}))?)?")
_TIME_ATTR = re.compile(r"""datetime\s*=\s*["']([^"']+)["']""")


def iso_datetime(value: Any) -> datetime | None:
    """An ISO 8601 timestamp (``Z`` or an offset; without one, UTC)."""
    return read_iso(value)


def unix_seconds(value: Any) -> datetime | None:
    """Flickr's ``dateupload``: seconds since 1970 in GMT, sent as a string (or a number)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value.strip())
    if not isinstance(value, int):
        return None
    try:
        return plausible(datetime.fromtimestamp(value, UTC))
    except (OverflowError, OSError, ValueError):
        return None


def calendar_datetime(value: Any) -> datetime | None:
    """``YYYY-MM-DD[ HH:MM[:SS]]`` (or EXIF's ``YYYY:MM:DD``) at the start of the text, or in
    an HTML ``datetime`` attribute; read as UTC."""
    if not isinstance(value, str):
        return None
    attr = _TIME_ATTR.search(value)
    text = attr.group(1) if attr else re.sub(r"<[^>]*>", " ", value)
    m = _ISO_DAY.match(text.strip())
    if not m:
        return None
    parts = [int(p) if p else 0 for p in m.groups()]
    try:
        return plausible(datetime(*parts, tzinfo=UTC))  # type: ignore[misc]
    except ValueError:  # 2014-00-00, 2014-02-30
        return None
