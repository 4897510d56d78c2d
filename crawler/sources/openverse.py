"""Openverse (``GET /v1/images/``): openly licensed images, keyless.

Anonymous clients get at most 20 results a page and 20 pages; ``mature=false`` leaves out
results marked sensitive. The API has no date filter: ``indexed_on`` (when Openverse indexed the
image) is kept as ``indexed_at`` and bounds the upload date from above only.
With ``BREEDBENCH_OPENVERSE_CLIENT_ID`` and ``..._SECRET`` the source
first exchanges them for a bearer token (``POST /v1/auth_tokens/token/``,
``grant_type=client_credentials``) and sends it with every search.
"""

from __future__ import annotations

from typing import Any, Self
from urllib.parse import urlencode

from scrapy import FormRequest, Request
from scrapy.crawler import Crawler
from scrapy.exceptions import NotConfigured
from scrapy.http import Response

from crawler.sources.base import (
    BadPage,
    Candidate,
    NumberedSource,
    SourceError,
    count,
    json_body,
    json_object,
    page_number,
)
from crawler.sources.dates import iso_datetime
from db.image_dates import ImageDates

ANONYMOUS_MAX_PAGE_SIZE = 20
ANONYMOUS_MAX_PAGES = 20


class OpenverseSource(NumberedSource):
    name = "openverse"

    def __init__(
        self,
        base_url: str,
        *,
        page_size: int = ANONYMOUS_MAX_PAGE_SIZE,
        max_pages: int = ANONYMOUS_MAX_PAGES,
        client_id: str | None = None,
        client_secret: str | None = None,
    ) -> None:
        authenticated = bool(client_id and client_secret)
        if not authenticated:
            page_size = min(page_size, ANONYMOUS_MAX_PAGE_SIZE)
            max_pages = min(max_pages, ANONYMOUS_MAX_PAGES)
        super().__init__(max_pages=max_pages)
        self.base_url = base_url.rstrip("/")
        self.page_size = page_size
        self.client_id = client_id
        self.client_secret = client_secret

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        s = crawler.settings
        url = s.get("BREEDBENCH_OPENVERSE_URL")
        if not url:
            raise NotConfigured("openverse: BREEDBENCH_OPENVERSE_URL is empty")
        cid, secret = (
            s.get("BREEDBENCH_OPENVERSE_CLIENT_ID"),
            s.get("BREEDBENCH_OPENVERSE_CLIENT_SECRET"),
        )
        if bool(cid) != bool(secret):
            raise NotConfigured(
                "openverse: set both BREEDBENCH_OPENVERSE_CLIENT_ID and "
                "BREEDBENCH_OPENVERSE_CLIENT_SECRET, or neither (anonymous)"
            )
        return cls(
            url,
            page_size=s.getint("BREEDBENCH_OPENVERSE_PAGE_SIZE", ANONYMOUS_MAX_PAGE_SIZE),
            max_pages=s.getint("BREEDBENCH_MAX_PAGES", ANONYMOUS_MAX_PAGES),
            client_id=cid,
            client_secret=secret,
        )

    def token_request(self) -> Request:
        return FormRequest(
            f"{self.base_url}/auth_tokens/token/",
            formdata={
                "grant_type": "client_credentials",
                "client_id": self.client_id or "",
                "client_secret": self.client_secret or "",
            },
            dont_filter=True,
            meta={"dont_obey_robotstxt": True, "handle_httpstatus_all": True},
        )

    async def prepare(self, crawler: Crawler) -> None:
        if not (self.client_id and self.client_secret):
            return
        assert crawler.engine is not None
        response = await crawler.engine.download_async(self.token_request())
        if response.status != 200:
            raise SourceError(
                f"openverse: token request failed with HTTP {response.status}; check "
                "BREEDBENCH_OPENVERSE_CLIENT_ID and BREEDBENCH_OPENVERSE_CLIENT_SECRET"
            )
        try:
            token = json_object(json_body(response)).get("access_token")
        except BadPage as exc:
            raise SourceError(f"openverse: the token answer is unreadable: {exc}") from exc
        if not isinstance(token, str) or not token or not token.isprintable():
            raise SourceError("openverse: the token answer has no usable access_token")
        self.headers["Authorization"] = f"Bearer {token}"

    def build_request(self, breed: str, query: str, page: Any) -> Request:
        params = {
            "q": query,
            "page": page_number(page),
            "page_size": self.page_size,
            "mature": "false",
        }
        return self._request(f"{self.base_url}/images/?{urlencode(params)}", breed, query, page)

    def results(self, data: Any) -> list[Any]:
        page = json_object(data)
        if "results" not in page:
            raise BadPage("the answer has no 'results'")
        return page["results"]  # read() checks it is a list

    def candidate(self, response: Response, raw: dict[str, Any]) -> Candidate | None:
        if raw.get("url") in (None, ""):
            return None
        # ``indexed_on`` is when Openverse indexed the image, not when it was published: the
        # upload came on or before it, which can prove an image old but never new.
        return self._candidate(
            response,
            raw["url"],
            title=raw.get("title"),
            width=raw.get("width"),
            height=raw.get("height"),
            landing_url=raw.get("foreign_landing_url"),
            license=raw.get("license"),
            license_version=raw.get("license_version"),
            license_url=raw.get("license_url"),
            creator=raw.get("creator"),
            attribution=raw.get("attribution"),
            dates=ImageDates(indexed_at=iso_datetime(raw.get("indexed_on"))),
        )

    def following(self, data: Any, page: Any) -> Any:
        page_count = count("page_count", json_object(data).get("page_count"))
        return self.next_numbered(page, page_count) if data["results"] else None
