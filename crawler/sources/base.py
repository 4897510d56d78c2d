"""What every image-search source provides: a request for one page, candidates from a response.

A source is a small class built by ``from_crawler``: it reads its ``BREEDBENCH_<NAME>_*``
settings once and raises ``NotConfigured`` naming the missing setting when it cannot run (e.g.
no API key). ``page`` is opaque to the spider: ``None`` asks for the first page and
``next_page`` returns what to pass for the following one (a number, or Wikimedia's ``continue``
object), or ``None`` when the results are exhausted.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any, ClassVar, Self

from scrapy import Request
from scrapy.crawler import Crawler
from scrapy.http import Response

from crawler.candidate import Candidate
from db.provenance import Provenance


class SourceError(Exception):
    """The API answered with an error document (bad key, quota): the source stops."""


class Source:
    name: ClassVar[str]

    def __init__(self, *, max_pages: int, headers: dict[str, str] | None = None) -> None:
        self.max_pages = max_pages
        self.headers = dict(headers or {})

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:  # pragma: no cover - per source
        raise NotImplementedError

    async def prepare(self, crawler: Crawler) -> None:
        """One-time setup before the first search (e.g. fetching a token); default: nothing."""

    def build_request(self, breed: str, query: str, page: Any) -> Request:
        raise NotImplementedError

    def parse(self, response: Response) -> Iterator[Candidate]:
        raise NotImplementedError

    def next_page(self, response: Response, page: Any) -> Any:
        raise NotImplementedError

    def _provenance(self, response: Response, url: str, **origin: str | None) -> Provenance:
        """A result's provenance: this source, the query of the search that found it, and what
        the API says of the image (``landing_url``, ``license``, ``creator``, ...)."""
        return Provenance(source=self.name, query=response.meta.get("query"), url=url, **origin)

    def _request(self, url: str, breed: str, query: str, page: Any) -> Request:
        return Request(
            url,
            headers=self.headers or None,
            dont_filter=True,
            meta={
                "source": self.name,
                "breed": breed,
                "query": query,
                "page": page,
                # Search APIs are documented for programs; robots.txt is for crawlers of pages
                # (Commons disallows /w/ for them). Image hosts are checked against robots.txt.
                "dont_obey_robotstxt": True,
            },
        )


def json_body(response: Response) -> Any:
    try:
        return json.loads(response.body)
    except ValueError as exc:
        raise SourceError(f"{response.url} did not answer JSON: {exc}") from exc


def page_number(page: Any) -> int:
    return 1 if page is None else int(page)
