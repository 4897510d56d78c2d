"""Flickr (``flickr.photos.search``): needs ``BREEDBENCH_FLICKR_API_KEY``; otherwise it turns
itself off, naming that setting.

Searches photos only (``content_type=1``, ``media=photos``, ``safe_search=1``), filtered to the
licences in ``BREEDBENCH_FLICKR_LICENSES``, with
``extras=license,owner_name,url_l,url_o,date_upload,date_taken`` so one call gives the image
URL, its licence, its author and its dates (``dateupload``: unix seconds, GMT; ``datetaken``:
MySQL datetime). With a freshness window the search sends ``min_upload_date`` (unix seconds),
so Flickr itself leaves older photos out. The large size (1024 px) is preferred to
the original, which can be tens of megabytes.
"""

from __future__ import annotations

from typing import Any, Self
from urllib.parse import urlencode

from scrapy import Request
from scrapy.crawler import Crawler
from scrapy.exceptions import NotConfigured
from scrapy.http import Response

from crawler.sources.base import (
    BadPage,
    BadResult,
    Candidate,
    NumberedSource,
    SourceError,
    count,
    json_object,
    kind_of,
    page_number,
    text,
)
from crawler.sources.dates import calendar_datetime, unix_seconds
from db.image_dates import ImageDates

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


class FlickrSource(NumberedSource):
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
            "extras": "license,owner_name,url_l,url_o,date_upload,date_taken",
            "per_page": self.page_size,
            "page": page_number(page),
            "format": "json",
            "nojsoncallback": 1,
        }
        if self.window is not None:
            # "Photos with an upload date greater than or equal to this value" (a unix timestamp)
            params["min_upload_date"] = int(self.window.after.timestamp())
        return self._request(f"{self.api_url}?{urlencode(params)}", breed, query, page)

    def _photos(self, data: Any) -> dict[str, Any]:
        answer = json_object(data)
        if answer.get("stat") != "ok":
            raise SourceError(
                f"flickr: {answer.get('code')}: {answer.get('message')} "
                "(check BREEDBENCH_FLICKR_API_KEY)"
            )
        photos = answer.get("photos")
        if not isinstance(photos, dict):
            raise BadPage(f"'photos' is {kind_of(photos)}, not an object")
        return photos

    def results(self, data: Any) -> list[Any]:
        found = self._photos(data).get("photo")
        return [] if found is None else found  # read() checks it is a list

    def candidate(self, response: Response, raw: dict[str, Any]) -> Candidate | None:
        url, size = (raw.get("url_l"), "l") if raw.get("url_l") else (raw.get("url_o"), "o")
        if not url:
            return None
        code, version, license_url = LICENSES.get(str(raw.get("license")), (None, None, None))
        owner = text("owner", _id(raw.get("owner")))
        owner_name = text("ownername", raw.get("ownername")) or owner
        landing = f"https://www.flickr.com/photos/{owner}/{_id(raw.get('id'))}"
        title = text("title", raw.get("title")) or "Untitled"
        credit = (code or "unknown licence") + (f" {version}" if version else "")
        return self._candidate(
            response,
            url,
            title=title,
            width=_size(f"width_{size}", raw.get(f"width_{size}")),
            height=_size(f"height_{size}", raw.get(f"height_{size}")),
            landing_url=landing,
            license=code,
            license_version=version,
            license_url=license_url,
            creator=owner_name,
            attribution=f'"{title}" by {owner_name} ({credit}, Flickr)',
            dates=ImageDates(
                uploaded_at=unix_seconds(raw.get("dateupload")),
                # "datetakenunknown": 1 means Flickr set the taken date to the upload time.
                taken_at=None
                if str(raw.get("datetakenunknown", "0")) == "1"
                else calendar_datetime(raw.get("datetaken")),
            ),
        )

    def following(self, data: Any, page: Any) -> Any:
        photos = self._photos(data)
        if not photos.get("photo"):
            return None
        pages = photos.get("pages")
        if isinstance(pages, str) and pages.isdigit():  # Flickr sends some counts as strings
            pages = int(pages)
        return self.next_numbered(page, count("pages", pages or 0))


def _id(value: Any) -> Any:
    """Flickr ids are strings; a number is taken as its digits, anything else left to fail."""
    return str(value) if isinstance(value, int) and not isinstance(value, bool) else value


def _size(name: str, value: Any) -> Any:
    """Flickr sends sizes as numbers or digit strings; both are whole numbers of pixels."""
    if isinstance(value, str):
        if not value.isdigit():
            raise BadResult(f"{name} {value[:20]!r} is not a number")
        return int(value)
    return value
