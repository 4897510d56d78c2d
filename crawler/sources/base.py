"""What every image-search source provides: a request for one page, and a reading of the answer.

A source is a small class built by ``from_crawler``: it reads its ``BREEDBENCH_<NAME>_*``
settings once and raises ``NotConfigured`` naming the missing setting when it cannot run (e.g.
no API key). ``page`` is opaque to the spider: ``None`` asks for the first page and the reading
of an answer says what to pass for the following one (a number, or Wikimedia's ``continue``
object), or ``None`` when the API said there is nothing more.

An answer is read in three steps, each of which a source implements on the decoded JSON:
``results`` (the list of raw results; a wrong shape makes the whole page bad), ``candidate``
(one raw result; a wrong field makes that result bad, the rest of the page is used) and
``following`` (the next page; a wrong field makes the page bad, its results are still used).
Nothing an API sends can make ``read`` raise anything but ``SourceError`` (an error document:
the source stops) or ``BadPage``: the spider must be able to move on from any answer, never ask
for the same page again because of it.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, ClassVar, Self
from urllib.parse import urlsplit

from scrapy import Request
from scrapy.crawler import Crawler
from scrapy.http import Response

from core.text import WEB_SCHEMES, web_url
from crawler.candidate import Candidate
from db.image_dates import NO_DATES, ImageDates, Window, parse_cutoff, parse_unknown
from db.provenance import Provenance


class SourceError(Exception):
    """The API answered with an error document (bad key, quota): the source stops."""


class BadPage(Exception):
    """A results page that cannot be read: not JSON, or not the shape the API documents."""


class BadResult(ValueError):
    """One search result that cannot be used; ``kind`` names the problem in the crawl's stats."""

    def __init__(self, message: str, kind: str = "bad_field") -> None:
        super().__init__(message)
        self.kind = kind


@dataclass
class PageRead:
    """What one answer gave: usable candidates, the results skipped and where to go next."""

    candidates: list[Candidate] = field(default_factory=list)
    skipped: list[BadResult] = field(default_factory=list)
    next_page: Any = None  # None: the API said there is nothing more (when ``error`` is None)
    error: str | None = None  # the paging part could not be read: the next page is unknown


class Source:
    name: ClassVar[str]

    def __init__(self, *, max_pages: int, headers: dict[str, str] | None = None) -> None:
        self.max_pages = max_pages
        self.headers = dict(headers or {})
        # The crawl's freshness window: a source that can filter by upload date at the API
        # (Flickr) asks for it; every result is checked after the fact anyway (the spider).
        self.window: Window | None = None

    def with_window(self, crawler: Crawler) -> Self:
        """This source with the crawl's ``BREEDBENCH_UPLOADED_AFTER`` window, if one is set."""
        self.window = window_setting(crawler)
        return self

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:  # pragma: no cover - per source
        raise NotImplementedError

    async def prepare(self, crawler: Crawler) -> None:
        """One-time setup before the first search (e.g. fetching a token); default: nothing."""

    def build_request(self, breed: str, query: str, page: Any) -> Request:
        raise NotImplementedError

    # --- reading an answer (per source) -------------------------------------------------------

    def results(self, data: Any) -> list[Any]:
        """The page's raw results; raises ``BadPage`` (or ``SourceError``) on a wrong shape."""
        raise NotImplementedError

    def candidate(self, response: Response, raw: dict[str, Any]) -> Candidate | None:
        """One result as a candidate; ``None`` for one that is fine but not for us (no URL, a
        vector file); raises ``BadResult`` when a field has the wrong type or value."""
        raise NotImplementedError

    def following(self, data: Any, page: Any) -> Any:
        """The page after ``page``, or ``None`` when the answer says there is nothing more."""
        raise NotImplementedError

    def page_after(self, page: Any) -> Any:
        """The page to ask for when ``page``'s answer could not be read, or ``None`` when that
        cannot be known without it (a continuation token). Default: ``None``."""
        return None

    # --- shared -------------------------------------------------------------------------------

    def read(self, response: Response, page: Any) -> PageRead:
        """Read one answer; raises only ``SourceError`` or ``BadPage`` (see the module doc)."""
        data = json_body(response)
        try:
            raw_results = self.results(data)
        except (SourceError, BadPage):
            raise
        except Exception as exc:  # a source's own slip on an odd answer is a bad page too
            raise BadPage(f"unreadable results: {describe_error(exc)}") from exc
        if not isinstance(raw_results, list):
            raise BadPage(f"results are {kind_of(raw_results)}, not a list")
        read = PageRead()
        for i, raw in enumerate(raw_results):
            try:
                if not isinstance(raw, dict):
                    raise BadResult(f"result {i} is {kind_of(raw)}, not an object", "not_object")
                found = self.candidate(response, raw)
            except BadResult as exc:
                read.skipped.append(exc)
                continue
            except Exception as exc:
                read.skipped.append(BadResult(f"result {i}: {describe_error(exc)}"))
                continue
            if found is not None:
                read.candidates.append(found)
        try:
            read.next_page = self.following(data, page)
        except Exception as exc:
            read.error = describe_error(exc)
        return read

    def parse(self, response: Response) -> Iterator[Candidate]:
        """The usable candidates of an answer (what a test or a one-off reader wants)."""
        yield from self.read(response, response.meta.get("page")).candidates

    def _provenance(self, response: Response, url: Any, **origin: Any) -> Provenance:
        """A result's provenance: this source, the query of the search that found it, and what
        the API says of the image (``landing_url``, ``license``, ``creator``, ...).

        Checked here, where every source builds it: the image URL must be an http(s) URL with a
        host (a result must never make the crawler read a local file or another scheme), and
        every other field a string or absent; anything else raises ``BadResult``.
        """
        return Provenance(
            source=self.name,
            query=response.meta.get("query"),
            url=http_url(url),
            **{key: text(key, value) for key, value in origin.items()},
        )

    def _candidate(
        self,
        response: Response,
        url: Any,
        *,
        title: Any = None,
        width: Any = None,
        height: Any = None,
        dates: ImageDates = NO_DATES,
        **origin: Any,
    ) -> Candidate:
        """A checked candidate: provenance as in ``_provenance``, a string title, whole-number
        sizes (the announced size is only a hint, but a wrong type means a wrong answer), and
        the dates the source read (``crawler.sources.dates``: an unreadable date is unknown)."""
        return Candidate(
            self._provenance(response, url, **origin),
            text("title", title),
            dimension("width", width),
            dimension("height", height),
            dates,
        )

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


class NumberedSource(Source):
    """A source whose pages are numbered 1, 2, ... (``None``: the first): the page after any
    page is known without reading its answer, so an unreadable page is simply skipped."""

    def page_after(self, page: Any) -> Any:
        current = page_number(page)
        return current + 1 if current < self.max_pages else None

    def next_numbered(self, page: Any, total_pages: int) -> int | None:
        """The page after ``page``, whose answer counted ``total_pages``; ``None`` when that
        count or ``max_pages`` says it was the last."""
        return None if page_number(page) >= total_pages else self.page_after(page)


def window_setting(crawler: Crawler) -> Window | None:
    after = crawler.settings.get("BREEDBENCH_UPLOADED_AFTER")
    if not after:
        return None
    return Window(
        parse_cutoff(after), parse_unknown(crawler.settings.get("BREEDBENCH_UNKNOWN_DATE"))
    )


# --- checks on what an API sent ------------------------------------------------------------------


def json_body(response: Response) -> Any:
    try:
        return json.loads(response.body)
    except ValueError as exc:
        raise BadPage(f"not JSON ({exc})") from exc


def json_object(data: Any) -> dict[str, Any]:
    if not isinstance(data, dict):
        raise BadPage(f"the answer is {kind_of(data)}, not a JSON object")
    return data


def http_url(value: Any) -> str:
    """``value`` as an http(s) URL with a host (``core.text.web_url``: the one rule for what a
    URL is, e.g. a scheme-relative ``//host/x.jpg`` is read as https and spaces are
    percent-encoded, as a browser would); ``BadResult`` saying why otherwise."""
    if not isinstance(value, str):
        raise BadResult(f"url is {kind_of(value)}, not a string")
    url = web_url(value)
    if url is not None:
        return url
    shown = f"url {value[:80]!r}"
    try:
        parts = urlsplit(value.strip())
        host = parts.hostname
        parts.port  # noqa: B018 - raises ValueError on a port that is not a number in range
    except ValueError as exc:
        raise BadResult(f"{shown} is not a URL: {exc}") from exc
    if parts.scheme.lower() not in WEB_SCHEMES:
        raise BadResult(f"{shown} is not http(s)", "url_scheme")
    if not host:
        raise BadResult(f"{shown} has no host")
    raise BadResult(f"{shown} holds characters a URL may not (a backslash, a control character)")


def text(name: str, value: Any) -> str | None:
    if value is None or isinstance(value, str):
        return value
    raise BadResult(f"{name} is {kind_of(value)}, not a string")


def dimension(name: str, value: Any) -> int | None:
    """A size in pixels: a whole number of 0 or more, or ``None``."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise BadResult(f"{name} is {kind_of(value)}, not a number")
    if isinstance(value, float) and (not math.isfinite(value) or not value.is_integer()):
        raise BadResult(f"{name} {value!r} is not a whole number")
    if value < 0:
        raise BadResult(f"{name} {value!r} is negative")
    return int(value)


def count(name: str, value: Any) -> int:
    """A page number or page count: a whole number of 0 or more (``BadPage`` otherwise)."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise BadPage(f"{name} is {kind_of(value)}, not a count")
    return value


def page_number(page: Any) -> int:
    return 1 if page is None else int(page)


def kind_of(value: Any) -> str:
    """How an unexpected value is named in a log line: its JSON type and a short preview."""
    names = {dict: "an object", list: "a list", str: "a string", bool: "a boolean"}
    if value is None:
        return "null"
    kind = names.get(type(value), "a number" if isinstance(value, (int, float)) else "a value")
    preview = json.dumps(value, default=str)
    return f"{kind} ({preview[:40]}{'...' if len(preview) > 40 else ''})"


def describe_error(exc: BaseException) -> str:
    if isinstance(exc, (BadPage, BadResult, SourceError)):
        return str(exc)
    return f"{type(exc).__name__}: {exc}"
