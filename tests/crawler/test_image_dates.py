"""Dates read from each source's documented answer, and the freshness window applied to them.

The fixtures are shaped like the APIs' documented answers: Openverse ``/v1/images/`` results
(``indexed_on``), Commons ``generator=search`` + ``prop=imageinfo`` with ``formatversion=2``
(``timestamp``, ``extmetadata.DateTimeOriginal``), Flickr ``flickr.photos.search`` with
``extras=date_upload,date_taken`` (``dateupload`` in unix seconds as a string, ``datetaken`` as
a MySQL datetime, ``datetakenunknown``). Pure functions, no network.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from scrapy.http import Request, TextResponse

from core.errors import BreedbenchError
from crawler.sources.dates import calendar_datetime, iso_datetime, unix_seconds
from crawler.sources.flickr import FlickrSource
from crawler.sources.openverse import OpenverseSource
from crawler.sources.wikimedia import WikimediaSource
from db.image_dates import (
    DATE_UNKNOWN,
    TOO_OLD,
    ImageDates,
    UnknownDate,
    Window,
    parse_cutoff,
)

CUTOFF = datetime(2024, 1, 1, tzinfo=UTC)


def answer(body: object) -> TextResponse:
    url = "http://127.0.0.1/api"
    request = Request(url, meta={"query": "pug", "page": None})
    return TextResponse(url, body=json.dumps(body).encode(), encoding="utf-8", request=request)


OPENVERSE_PAGE: dict[str, Any] = {
    "result_count": 2,
    "page_count": 1,
    "page_size": 20,
    "page": 1,
    "results": [
        {
            "id": "4bc43a04-ef46-4544-a0c1-63c63f56e276",
            "title": "Pug",
            "indexed_on": "2020-04-02T16:49:08Z",
            "foreign_landing_url": "https://www.flickr.com/photos/1@N01/123",
            "url": "https://live.staticflickr.com/65535/123_abc_b.jpg",
            "creator": "Jo",
            "license": "by",
            "license_version": "2.0",
            "provider": "flickr",
            "source": "flickr",
            "width": 1024,
            "height": 768,
            "mature": False,
        },
        {
            "id": "9f2b0d4e-0000-4000-8000-000000000001",
            "title": "Pug 2",
            "indexed_on": "2025-03-10T08:00:00.123456Z",
            "foreign_landing_url": "https://example.org/p/2",
            "url": "https://img.example.org/2.jpg",
            "license": "cc0",
            "license_version": "1.0",
        },
    ],
    "warnings": [],
}

COMMONS_PAGE: dict[str, Any] = {
    "batchcomplete": True,
    "continue": {"gsroffset": 2, "continue": "gsroffset||"},
    "query": {
        "pages": [
            {
                "pageid": 2,
                "ns": 6,
                "title": "File:Pug 2.jpg",
                "index": 2,
                "imagerepository": "local",
                "imageinfo": [
                    {
                        "timestamp": "2015-02-01T10:00:00Z",
                        "url": "https://upload.wikimedia.org/wikipedia/commons/b/b0/Pug_2.jpg",
                        "descriptionurl": "https://commons.wikimedia.org/wiki/File:Pug_2.jpg",
                        "mime": "image/jpeg",
                        "width": 800,
                        "height": 600,
                        "extmetadata": {
                            "DateTimeOriginal": {
                                "value": "circa 1900",
                                "source": "commons-desc-page",
                            }
                        },
                    }
                ],
            },
            {
                "pageid": 1,
                "ns": 6,
                "title": "File:Pug.jpg",
                "index": 1,
                "imagerepository": "local",
                "imageinfo": [
                    {
                        "timestamp": "2024-06-13T09:30:42Z",
                        "size": 123456,
                        "width": 4000,
                        "height": 3000,
                        "thumburl": "https://upload.wikimedia.org/thumb/a/a0/Pug.jpg/1280px-Pug.jpg",
                        "thumbwidth": 1280,
                        "thumbheight": 960,
                        "url": "https://upload.wikimedia.org/wikipedia/commons/a/a0/Pug.jpg",
                        "descriptionurl": "https://commons.wikimedia.org/wiki/File:Pug.jpg",
                        "mime": "image/jpeg",
                        "extmetadata": {
                            "DateTimeOriginal": {
                                "value": '<time class="dtstart" datetime="2024-05-30">'
                                "30 May 2024</time>",
                                "source": "commons-desc-page",
                            },
                            "LicenseShortName": {"value": "CC BY-SA 4.0"},
                        },
                    }
                ],
            },
        ]
    },
}

FLICKR_PAGE: dict[str, Any] = {
    "photos": {
        "page": 1,
        "pages": 1,
        "perpage": 100,
        "total": "2",
        "photo": [
            {
                "id": "53712345678",
                "owner": "12345678@N00",
                "secret": "abc",
                "server": "65535",
                "farm": 66,
                "title": "Pug in the park",
                "ispublic": 1,
                "isfriend": 0,
                "isfamily": 0,
                "license": "4",
                "dateupload": "1717000000",
                "datetaken": "2024-05-28 16:01:26",
                "datetakengranularity": 0,
                "datetakenunknown": "0",
                "ownername": "Jo",
                "url_l": "https://live.staticflickr.com/65535/53712345678_abc_b.jpg",
                "height_l": 768,
                "width_l": 1024,
            },
            {
                "id": "53712345679",
                "owner": "12345678@N00",
                "secret": "abd",
                "server": "65535",
                "farm": 66,
                "title": "Old pug",
                "ispublic": 1,
                "isfriend": 0,
                "isfamily": 0,
                "license": "9",
                "dateupload": "1400000000",
                "datetaken": "2014-05-13 16:53:20",
                "datetakengranularity": "0",
                "datetakenunknown": "1",
                "ownername": "Jo",
                "url_l": "https://live.staticflickr.com/65535/53712345679_abd_b.jpg",
                "height_l": "768",
                "width_l": "1024",
            },
        ],
    },
    "stat": "ok",
}


def test_openverse_keeps_indexed_on_as_an_upper_bound_only() -> None:
    read = OpenverseSource("http://127.0.0.1/v1").read(answer(OPENVERSE_PAGE), None)
    first, second = (c.dates for c in read.candidates)
    assert first == ImageDates(indexed_at=datetime(2020, 4, 2, 16, 49, 8, tzinfo=UTC))
    assert second.indexed_at == datetime(2025, 3, 10, 8, 0, 0, 123456, tzinfo=UTC)
    assert second.uploaded_at is None and second.taken_at is None
    window = Window(CUTOFF)
    # Indexed before the cut-off: uploaded before it, provably old.
    assert window.refusal(first) == TOO_OLD
    # Indexed after it: the upload may be of any age, so it proves nothing.
    assert window.refusal(second) == DATE_UNKNOWN
    assert Window(CUTOFF, UnknownDate.KEEP).refusal(second) is None
    assert Window(CUTOFF, UnknownDate.KEEP).refusal(first) == TOO_OLD


def test_wikimedia_reads_the_upload_timestamp_and_date_time_original() -> None:
    source = WikimediaSource("http://127.0.0.1/w/api.php")
    request = source.build_request("pug", "pug", None)
    params = parse_qs(urlsplit(request.url).query)
    assert "timestamp" in params["iiprop"][0].split("|")
    assert "DateTimeOriginal" in params["iiextmetadatafilter"][0].split("|")
    read = source.read(answer(COMMONS_PAGE), None)
    new, old = read.candidates  # sorted by search index
    assert new.dates == ImageDates(
        uploaded_at=datetime(2024, 6, 13, 9, 30, 42, tzinfo=UTC),
        taken_at=datetime(2024, 5, 30, tzinfo=UTC),
    )
    assert old.dates == ImageDates(uploaded_at=datetime(2015, 2, 1, 10, tzinfo=UTC))  # "circa"
    window = Window(CUTOFF)
    assert window.refusal(new.dates) is None
    assert window.refusal(old.dates) == TOO_OLD


def test_flickr_reads_dateupload_and_datetaken_and_filters_at_the_api() -> None:
    source = FlickrSource("http://127.0.0.1/rest/", "key")
    plain = parse_qs(urlsplit(source.build_request("pug", "pug", None).url).query)
    assert {"date_upload", "date_taken"} <= set(plain["extras"][0].split(","))
    assert "min_upload_date" not in plain
    source.window = Window(CUTOFF)
    windowed = parse_qs(urlsplit(source.build_request("pug", "pug", None).url).query)
    assert windowed["min_upload_date"] == [str(int(CUTOFF.timestamp()))]  # unix seconds
    read = source.read(answer(FLICKR_PAGE), None)
    fresh, old = (c.dates for c in read.candidates)
    assert fresh == ImageDates(
        uploaded_at=datetime.fromtimestamp(1717000000, UTC),
        taken_at=datetime(2024, 5, 28, 16, 1, 26, tzinfo=UTC),
    )
    # datetakenunknown = 1: Flickr set the taken date to the upload time; it is not kept.
    assert old == ImageDates(uploaded_at=datetime.fromtimestamp(1400000000, UTC))
    assert source.window.refusal(fresh) is None and source.window.refusal(old) == TOO_OLD


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2014-05-03 14:21:23", datetime(2014, 5, 3, 14, 21, 23, tzinfo=UTC)),
        ("2014:05:03 14:21:23", datetime(2014, 5, 3, 14, 21, 23, tzinfo=UTC)),  # EXIF
        ("2014-05-03", datetime(2014, 5, 3, tzinfo=UTC)),
        ('<time datetime="2014-05-03T10:00">3 May</time>', datetime(2014, 5, 3, 10, tzinfo=UTC)),
        ("<span>2014-05-03</span> (upload date)", datetime(2014, 5, 3, tzinfo=UTC)),
        ("circa 1900", None),
        ("0000-00-00 00:00:00", None),
        ("2014-02-30", None),
        ("2999-01-01", None),  # a camera clock far ahead
        (None, None),
        (20140503, None),
    ],
)
def test_calendar_dates_are_read_or_unknown(value: object, expected: datetime | None) -> None:
    assert calendar_datetime(value) == expected


def test_odd_timestamps_are_unknown_not_errors() -> None:
    assert iso_datetime("yesterday") is None and iso_datetime(5) is None
    assert iso_datetime("2020-04-02T16:49:08+02:00") == datetime(2020, 4, 2, 14, 49, 8, tzinfo=UTC)
    assert unix_seconds("12ab") is None and unix_seconds(True) is None
    assert unix_seconds(10**20) is None
    assert unix_seconds(1717000000) == datetime.fromtimestamp(1717000000, UTC)


def test_window_keeps_a_proven_upload_at_or_after_the_cutoff() -> None:
    window = Window(CUTOFF)
    assert window.refusal(ImageDates(uploaded_at=CUTOFF)) is None
    assert window.refusal(ImageDates(uploaded_at=datetime(2023, 12, 31, 23, 59, tzinfo=UTC)))
    # An upload date wins over an index date; a capture date is never proof.
    assert window.refusal(ImageDates(uploaded_at=CUTOFF, indexed_at=datetime(2030, 1, 1))) is None
    assert window.refusal(ImageDates(taken_at=datetime(2025, 1, 1, tzinfo=UTC))) == DATE_UNKNOWN
    assert window.refusal(ImageDates()) == DATE_UNKNOWN


def test_cutoffs_are_read_as_utc_and_bad_ones_refused() -> None:
    assert parse_cutoff("2024-01-01") == CUTOFF
    assert parse_cutoff("2024-01-01T02:00:00+02:00") == CUTOFF
    with pytest.raises(BreedbenchError, match="not a date"):
        parse_cutoff("last year")
