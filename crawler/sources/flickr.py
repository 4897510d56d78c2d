"""Flickr (``flickr.photos.search``): needs ``BREEDBENCH_FLICKR_API_KEY``; otherwise it turns
itself off, naming that setting.

Searches photos only (``content_type=1``, ``media=photos``, ``safe_search=1``), filtered to the
licences in ``BREEDBENCH_FLICKR_LICENSES``, with ``extras=license,owner_name,url_l,url_o`` so one
call gives the image URL, its licence and its author. The large size (1024 px) is preferred to
the original, which can be tens of megabytes.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, Self
from urllib.parse import urlencode

from scrapy import Request
from scrapy.crawler import Crawler
from scrapy.exceptions import NotConfigured
from scrapy.http import Response

from crawler.sources.base import Candidate, Source, SourceError, json_body, page_number

# flickr.photos.licenses.getInfo: id → (code, version, URL)
LICENSES: dict[str, tuple[str, str | None, str | None]] = {
    "0": ("all-rights-reserved", None, None),
    "1": ("by-nc-sa", "2.0", "https://creativecommons.org/licenses/by-nc-sa/2.0/"),
    "2": ("by-nc", "2.0", "https://creativecommons.org/licenses/by-nc/2.0/"),
    "3": ("by-nc-nd", "2.0", "https://creativecommons.org/licenses/by-nc-nd/2.0/"),
    "4": ("by", "2.0", "https://creativecommons.org/licenses/by/2.0/"),
    "5": ("by-sa", "2.0", "https://creativecommons.org/licenses/by-sa/2.0/"),
    "6": ("by-nd", "2.0", "https://creativecommons.org/licenses/by-nd/2.0/"),
    "7": ("no-known-copyright", None, "https://www.flickr.com/commons/usage/"),
    "8": ("us-government-work", None, "http://www.usa.gov/copyright.shtml"),
    "9": ("cc0", "1.0", "https://creativecommons.org/publicdomain/zero/1.0/"),
    "10": ("pdm", "1.0", "https://creativecommons.org/publicdomain/mark/1.0/"),
    "11": ("by", "4.0", "https://creativecommons.org/licenses/by/4.0/"),
    "12": ("by-sa", "4.0", "https://creativecommons.org/licenses/by-sa/4.0/"),
    "13": ("by-nd", "4.0", "https://creativecommons.org/licenses/by-nd/4.0/"),
    "14": ("by-nc", "4.0", "https://creativecommons.org/licenses/by-nc/4.0/"),
    "15": ("by-nc-sa", "4.0", "https://creativecommons.org/licenses/by-nc-sa/4.0/"),
    "16": ("by-nc-nd", "4.0", "https://creativecommons.org/licenses/by-nc-nd/4.0/"),
}


class FlickrSource(Source):
    name = "flickr"

    def __init__(
        self,
        api_url: str,
        api_key: str,
        *,
        licenses: str = "1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16",
        page_size: int = 100,
        max_pages: int = 20,
    ) -> None:
        super().__init__(max_pages=max_pages)
        self.api_url = api_url
        self.api_key = api_key
        self.licenses = licenses
        self.page_size = page_size

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        s = crawler.settings
        key = s.get("BREEDBENCH_FLICKR_API_KEY")
        if not key:
            raise NotConfigured("flickr: no API key; set BREEDBENCH_FLICKR_API_KEY")
        return cls(
            s.get("BREEDBENCH_FLICKR_URL"),
            key,
            licenses=s.get("BREEDBENCH_FLICKR_LICENSES"),
            page_size=s.getint("BREEDBENCH_FLICKR_PAGE_SIZE", 100),
            max_pages=s.getint("BREEDBENCH_MAX_PAGES", 20),
        )

    def build_request(self, breed: str, query: str, page: Any) -> Request:
        params = {
            "method": "flickr.photos.search",
            "api_key": self.api_key,
            "text": query,
            "license": self.licenses,
            "content_type": 1,
            "media": "photos",
            "safe_search": 1,
            "sort": "relevance",
            "extras": "license,owner_name,url_l,url_o",
            "per_page": self.page_size,
            "page": page_number(page),
            "format": "json",
            "nojsoncallback": 1,
        }
        return self._request(f"{self.api_url}?{urlencode(params)}", breed, query, page)

    def _photos(self, response: Response) -> dict[str, Any]:
        data = json_body(response)
        if data.get("stat") != "ok":
            raise SourceError(
                f"flickr: {data.get('code')}: {data.get('message')} "
                "(check BREEDBENCH_FLICKR_API_KEY)"
            )
        return data.get("photos") or {}

    def parse(self, response: Response) -> Iterator[Candidate]:
        for p in self._photos(response).get("photo") or []:
            url, size = (p.get("url_l"), "l") if p.get("url_l") else (p.get("url_o"), "o")
            if not url:
                continue
            code, version, license_url = LICENSES.get(str(p.get("license")), (None, None, None))
            owner_name = p.get("ownername") or p.get("owner")
            landing = f"https://www.flickr.com/photos/{p.get('owner')}/{p.get('id')}"
            title = p.get("title") or "Untitled"
            credit = (code or "unknown licence") + (f" {version}" if version else "")
            origin = self._provenance(
                response,
                url,
                landing_url=landing,
                license=code,
                license_version=version,
                license_url=license_url,
                creator=owner_name,
                attribution=f'"{title}" by {owner_name} ({credit}, Flickr)',
            )
            size_w, size_h = _int(p.get(f"width_{size}")), _int(p.get(f"height_{size}"))
            yield Candidate(origin, title, size_w, size_h)

    def next_page(self, response: Response, page: Any) -> Any:
        photos = self._photos(response)
        current = page_number(page)
        if not photos.get("photo") or current >= int(photos.get("pages") or 0):
            return None
        return current + 1 if current < self.max_pages else None


def _int(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None
