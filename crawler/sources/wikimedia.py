"""Wikimedia Commons: the action API's full-text search over files, with licence metadata.

One request: ``action=query&generator=search&gsrnamespace=6`` (the File: namespace) with
``filetype:bitmap`` in the search (no SVG, PDF or video), ``prop=imageinfo`` with
``iiprop=timestamp|url|size|mime|extmetadata``. Pages follow the ``continue`` object; result
``pages`` come unordered and are sorted by their search ``index``. Licence and artist come from
``extmetadata`` (the artist is HTML; its text is kept). With a thumbnail width set, the scaled
copy Commons serves (``thumburl``) is downloaded instead of an original of many megabytes.

Dates: ``timestamp`` is the upload of the file version returned (the latest, whose bytes are
downloaded), kept as the upload date; ``extmetadata.DateTimeOriginal`` (from the description
page or the file's EXIF) as the capture date. The search has no upload-date filter, so the
freshness window is applied to each result after the answer.
"""

from __future__ import annotations

from typing import Any, Self
from urllib.parse import urlencode

from scrapy import Request
from scrapy.crawler import Crawler
from scrapy.exceptions import NotConfigured
from scrapy.http import Response
from w3lib.html import remove_tags

from crawler.sources.base import (
    BadPage,
    BadResult,
    Candidate,
    Source,
    SourceError,
    json_object,
    kind_of,
    text,
)
from crawler.sources.dates import calendar_datetime, iso_datetime
from db.image_dates import ImageDates

EXTMETADATA_FIELDS = (
    "Artist|LicenseShortName|License|LicenseUrl|UsageTerms|AttributionRequired|DateTimeOriginal"
)
BITMAP_MIMES = ("image/jpeg", "image/png", "image/gif", "image/webp", "image/tiff", "image/bmp")


class WikimediaSource(Source):
    name = "wikimedia"

    def __init__(
        self, api_url: str, *, page_size: int = 50, max_pages: int = 20, thumb_width: int = 1280
    ) -> None:
        super().__init__(max_pages=max_pages)
        self.api_url = api_url
        self.page_size = page_size
        self.thumb_width = thumb_width

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        s = crawler.settings
        url = s.get("BREEDBENCH_WIKIMEDIA_URL")
        if not url:
            raise NotConfigured("wikimedia: BREEDBENCH_WIKIMEDIA_URL is empty")
        return cls(
            url,
            page_size=s.getint("BREEDBENCH_WIKIMEDIA_PAGE_SIZE", 50),
            max_pages=s.getint("BREEDBENCH_MAX_PAGES", 20),
            thumb_width=s.getint("BREEDBENCH_WIKIMEDIA_THUMB_WIDTH", 1280),
        )

    def build_request(self, breed: str, query: str, page: Any) -> Request:
        params: dict[str, Any] = {
            "action": "query",
            "format": "json",
            "formatversion": "2",
            "generator": "search",
            "gsrnamespace": "6",
            "gsrsearch": f"{query} filetype:bitmap",
            "gsrlimit": self.page_size,
            "prop": "imageinfo",
            "iiprop": "timestamp|url|size|mime|extmetadata",
            "iiextmetadatafilter": EXTMETADATA_FIELDS,
        }
        if self.thumb_width:
            params["iiurlwidth"] = self.thumb_width
        cont = dict(page["continue"]) if page else {}
        params.update(cont)
        request = self._request(f"{self.api_url}?{urlencode(params)}", breed, query, page)
        request.meta["page_index"] = page["index"] if page else 1
        return request

    def results(self, data: Any) -> list[Any]:
        answer = json_object(data)
        if "error" in answer:
            err = answer["error"]
            if isinstance(err, dict):
                raise SourceError(f"wikimedia: {err.get('code')}: {err.get('info')}")
            raise SourceError(f"wikimedia: {str(err)[:200]}")
        query = answer.get("query")
        if query is None:
            return []  # Commons leaves "query" out when nothing matched
        if not isinstance(query, dict):
            raise BadPage(f"'query' is {kind_of(query)}, not an object")
        pages = query.get("pages")
        if pages is None:
            return []
        if not isinstance(pages, list):
            raise BadPage(f"'query.pages' is {kind_of(pages)}, not a list")
        return sorted(pages, key=_index)  # unordered: the search rank is each page's index

    def candidate(self, response: Response, raw: dict[str, Any]) -> Candidate | None:
        infos = raw.get("imageinfo")
        if infos is None or infos == []:
            return None
        if not isinstance(infos, list) or not isinstance(infos[0], dict):
            raise BadResult(f"imageinfo is {kind_of(infos)}, not a list of objects")
        info = infos[0]
        if info.get("mime") not in BITMAP_MIMES:
            return None  # SVG, PDF, video: never downloaded
        url = info.get("thumburl") or info.get("url")
        if not url:
            return None
        meta = info.get("extmetadata") or {}
        if not isinstance(meta, dict):
            raise BadResult(f"extmetadata is {kind_of(meta)}, not an object")
        creator = _text(meta.get("Artist"))
        short = _text(meta.get("LicenseShortName"))
        title = text("title", raw.get("title"))
        scaled = bool(info.get("thumburl"))
        return self._candidate(
            response,
            url,
            title=title,
            width=info.get("thumbwidth") if scaled else info.get("width"),
            height=info.get("thumbheight") if scaled else info.get("height"),
            landing_url=info.get("descriptionurl"),
            license=_text(meta.get("License")) or short,
            license_url=_text(meta.get("LicenseUrl")),
            creator=creator,
            attribution=_attribution(title, creator, short),
            dates=ImageDates(
                uploaded_at=iso_datetime(info.get("timestamp")),
                taken_at=calendar_datetime(_value(meta.get("DateTimeOriginal"))),
            ),
        )

    def following(self, data: Any, page: Any) -> Any:
        cont = json_object(data).get("continue")
        index = page["index"] if page else 1
        if not cont or index >= self.max_pages:
            return None
        if not isinstance(cont, dict) or not all(
            isinstance(k, str) and isinstance(v, (str, int)) and not isinstance(v, bool)
            for k, v in cont.items()
        ):
            raise BadPage(f"'continue' is {kind_of(cont)}, not an object of strings")
        return {"continue": cont, "index": index + 1}


def _index(page: Any) -> int:
    """A result's search rank; results without a usable one go last (read() reports them)."""
    if isinstance(page, dict) and isinstance(page.get("index"), int):
        return page["index"]
    return 2**31


def _value(field: Any) -> Any:
    return field.get("value") if isinstance(field, dict) else None


def _text(field: Any) -> str | None:
    if not isinstance(field, dict) or field.get("value") in (None, ""):
        return None
    plain = remove_tags(str(field["value"])).strip()
    return " ".join(plain.split()) or None


def _attribution(title: str | None, creator: str | None, license_name: str | None) -> str:
    name = (title or "").removeprefix("File:")
    parts = [f'"{name}"' if name else "Untitled"]
    if creator:
        parts.append(f"by {creator}")
    if license_name:
        parts.append(f"is licensed under {license_name}")
    return " ".join(parts) + " (Wikimedia Commons)"


__all__ = ["SourceError", "WikimediaSource"]
