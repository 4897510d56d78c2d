"""Wikimedia Commons: the action API's full-text search over files, with licence metadata.

One request: ``action=query&generator=search&gsrnamespace=6`` (the File: namespace) with
``filetype:bitmap`` in the search (no SVG, PDF or video), ``prop=imageinfo`` with
``iiprop=url|size|mime|extmetadata``. Pages follow the ``continue`` object; result ``pages`` come
unordered and are sorted by their search ``index``. Licence and artist come from
``extmetadata`` (the artist is HTML; its text is kept). With a thumbnail width set, the scaled
copy Commons serves (``thumburl``) is downloaded instead of an original of many megabytes.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, Self
from urllib.parse import urlencode

from scrapy import Request
from scrapy.crawler import Crawler
from scrapy.exceptions import NotConfigured
from scrapy.http import Response
from w3lib.html import remove_tags

from crawler.sources.base import Candidate, Source, SourceError, json_body

EXTMETADATA_FIELDS = "Artist|LicenseShortName|License|LicenseUrl|UsageTerms|AttributionRequired"
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
            "iiprop": "url|size|mime|extmetadata",
            "iiextmetadatafilter": EXTMETADATA_FIELDS,
        }
        if self.thumb_width:
            params["iiurlwidth"] = self.thumb_width
        cont = dict(page["continue"]) if page else {}
        params.update(cont)
        request = self._request(f"{self.api_url}?{urlencode(params)}", breed, query, page)
        request.meta["page_index"] = page["index"] if page else 1
        return request

    def parse(self, response: Response) -> Iterator[Candidate]:
        data = json_body(response)
        if "error" in data:
            err = data["error"]
            raise SourceError(f"wikimedia: {err.get('code')}: {err.get('info')}")
        pages = (data.get("query") or {}).get("pages") or []
        for p in sorted(pages, key=lambda p: p.get("index", 0)):
            info = (p.get("imageinfo") or [None])[0]
            if not info or info.get("mime") not in BITMAP_MIMES:
                continue
            meta = info.get("extmetadata") or {}
            creator = _text(meta.get("Artist"))
            short = _text(meta.get("LicenseShortName"))
            url = info.get("thumburl") or info.get("url")
            if not url:
                continue
            scaled = bool(info.get("thumburl"))
            origin = self._provenance(
                response,
                url,
                landing_url=info.get("descriptionurl"),
                license=_text(meta.get("License")) or short,
                license_url=_text(meta.get("LicenseUrl")),
                creator=creator,
                attribution=_attribution(p.get("title"), creator, short),
            )
            yield Candidate(
                origin,
                p.get("title"),
                info.get("thumbwidth") if scaled else info.get("width"),
                info.get("thumbheight") if scaled else info.get("height"),
            )

    def next_page(self, response: Response, page: Any) -> Any:
        data = json_body(response)
        cont = data.get("continue")
        index = page["index"] if page else 1
        if not cont or index >= self.max_pages:
            return None
        return {"continue": cont, "index": index + 1}


def _text(field: Any) -> str | None:
    if not isinstance(field, dict) or field.get("value") in (None, ""):
        return None
    text = remove_tags(str(field["value"])).strip()
    return " ".join(text.split()) or None


def _attribution(title: str | None, creator: str | None, license_name: str | None) -> str:
    name = (title or "").removeprefix("File:")
    parts = [f'"{name}"' if name else "Untitled"]
    if creator:
        parts.append(f"by {creator}")
    if license_name:
        parts.append(f"is licensed under {license_name}")
    return " ".join(parts) + " (Wikimedia Commons)"


__all__ = ["SourceError", "WikimediaSource"]
