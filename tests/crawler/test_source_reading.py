"""Reading an answer: any malformed page is a ``BadPage``, any malformed result is skipped with
its reason, and nothing an API sends makes a source raise anything else. Pure functions."""

from __future__ import annotations

import json
from typing import Any

import pytest
from scrapy.http import Request, TextResponse

from crawler.health import SourceHealth, describe_failure, run_status
from crawler.sources.base import BadPage, PageRead, Source, SourceError
from crawler.sources.flickr import FlickrSource
from crawler.sources.openverse import OpenverseSource
from crawler.sources.wikimedia import WikimediaSource
from db.models import RunStatus


def answer(body: object, page: Any = None, raw: bytes | None = None) -> TextResponse:
    url = "http://127.0.0.1/api"
    request = Request(url, meta={"query": "pug", "page": page})
    data = raw if raw is not None else json.dumps(body).encode()
    return TextResponse(url, body=data, encoding="utf-8", request=request)


GOOD = {
    "url": "https://img.example.org/1.jpg",
    "title": "Pug",
    "creator": "Jo",
    "license": "by",
    "width": 640,
    "height": 480,
}


def openverse(results: object, **extra: object) -> TextResponse:
    return answer({"page_count": 3, "results": results, **extra}, page=1)


def read_openverse(response: TextResponse) -> PageRead:
    return OpenverseSource("http://127.0.0.1/v1").read(response, response.meta["page"])


# --- Openverse ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("response", "message"),
    [
        (answer(None, raw=b"<html>Rate limited</html>"), "not JSON"),
        (answer([GOOD]), "not a JSON object"),
        (answer({"page_count": 1, "results": {}}), "results are an object"),
        (answer({"page_count": 1, "results": "none"}), "results are a string"),
        (answer({"page_count": 1}), "no 'results'"),
    ],
)
def test_openverse_unreadable_pages_are_bad_pages(response: TextResponse, message: str) -> None:
    with pytest.raises(BadPage, match=message):
        read_openverse(response)


@pytest.mark.parametrize(
    ("bad", "kind", "message"),
    [
        ({**GOOD, "url": 12345}, "bad_field", "url is a number"),
        ({**GOOD, "url": ["https://a/b.jpg"]}, "bad_field", "url is a list"),
        ({**GOOD, "url": "file:///etc/passwd"}, "url_scheme", "not http"),
        ({**GOOD, "url": "javascript:alert(1)"}, "url_scheme", "not http"),
        ({**GOOD, "url": "https:///no-host.jpg"}, "bad_field", "no host"),
        ({**GOOD, "url": "http://[::1/x.jpg"}, "bad_field", "not a URL"),
        ({**GOOD, "url": "https://img.example.org:99999/x.jpg"}, "bad_field", "not a URL"),
        ({**GOOD, "url": "https://h/a\\b.jpg"}, "bad_field", "characters a URL may not"),
        ({**GOOD, "url": "https://h/a\nb.jpg"}, "bad_field", "characters a URL may not"),
        ({**GOOD, "title": 5}, "bad_field", "title is a number"),
        ({**GOOD, "creator": {"name": "Jo"}}, "bad_field", "creator is an object"),
        ({**GOOD, "width": "640"}, "bad_field", "width is a string"),
        ({**GOOD, "width": True}, "bad_field", "width is a boolean"),
        ({**GOOD, "height": 1.5}, "bad_field", "not a whole number"),
        ({**GOOD, "height": -3}, "bad_field", "negative"),
        ("oops", "not_object", "result 1 is a string"),
        (None, "not_object", "result 1 is null"),
    ],
)
def test_openverse_bad_results_are_skipped_and_the_rest_used(
    bad: object, kind: str, message: str
) -> None:
    other = {**GOOD, "url": "https://img.example.org/2.jpg"}
    read = read_openverse(openverse([GOOD, bad, other]))
    assert [c.url for c in read.candidates] == [GOOD["url"], other["url"]]
    (skipped,) = read.skipped
    assert skipped.kind == kind and message in str(skipped)
    assert read.next_page == 2 and read.error is None


def test_image_urls_follow_the_one_url_rule() -> None:
    """``core.text.web_url`` decides, as for every other URL: what a browser would fetch."""
    urls = ["//img.example.org/a.jpg", " https://img.example.org/b c.jpg ", "HTTPS://H/x.jpg"]
    read = read_openverse(openverse([{**GOOD, "url": url} for url in urls]))
    assert [c.url for c in read.candidates] == [
        "https://img.example.org/a.jpg",
        "https://img.example.org/b%20c.jpg",
        "HTTPS://H/x.jpg",
    ]
    assert read.skipped == []


def test_openverse_result_without_url_is_not_a_bad_result() -> None:
    read = read_openverse(openverse([{**GOOD, "url": ""}, {**GOOD, "url": None}]))
    assert read.candidates == [] and read.skipped == []


@pytest.mark.parametrize("page_count", ["many", None, 2.5, -1, True, [3]])
def test_openverse_unreadable_paging_keeps_the_results_and_reports_the_page(
    page_count: object,
) -> None:
    read = read_openverse(answer({"page_count": page_count, "results": [GOOD]}, page=1))
    assert len(read.candidates) == 1
    assert read.next_page is None and "page_count" in (read.error or "")


def test_openverse_pages_end_honestly_and_bad_pages_are_skipped_by_number() -> None:
    source = OpenverseSource("http://127.0.0.1/v1", max_pages=3)
    assert source.read(answer({"page_count": 2, "results": [GOOD]}, page=2), 2).next_page is None
    assert source.read(answer({"page_count": 9, "results": []}, page=1), 1).next_page is None
    assert source.read(answer({"page_count": 9, "results": [GOOD]}, page=3), 3).next_page is None
    assert (source.page_after(None), source.page_after(2), source.page_after(3)) == (2, 3, None)


# --- Wikimedia -----------------------------------------------------------------------------------


def commons(pages: object, **extra: object) -> TextResponse:
    return answer({"query": {"pages": pages}, **extra})


PAGE = {
    "index": 1,
    "title": "File:Pug.jpg",
    "imageinfo": [{"mime": "image/jpeg", "url": "https://upload.example.org/Pug.jpg"}],
}


@pytest.mark.parametrize(
    ("response", "error"),
    [
        (answer({"query": "x"}), BadPage),
        (commons({"1": PAGE}), BadPage),
        (answer("text"), BadPage),
        (answer({"error": "quota"}), SourceError),
        (answer({"error": {"code": "badvalue", "info": "no"}}), SourceError),
    ],
)
def test_wikimedia_unreadable_pages(response: TextResponse, error: type[Exception]) -> None:
    with pytest.raises(error):
        WikimediaSource("http://127.0.0.1/api").read(response, None)


def test_wikimedia_bad_results_and_continuation() -> None:
    source = WikimediaSource("http://127.0.0.1/api")
    bad_info = {**PAGE, "index": 2, "imageinfo": "x"}
    bad_index = {**PAGE, "index": "first", "title": 7}
    read = source.read(commons([bad_index, bad_info, PAGE], **{"continue": "more"}), None)
    assert [c.url for c in read.candidates] == ["https://upload.example.org/Pug.jpg"]
    assert len(read.skipped) == 2
    assert read.error is not None and "continue" in read.error
    assert source.page_after(None) is None  # the next page lives in the answer that failed
    assert source.read(answer({"batchcomplete": True}), None).candidates == []  # nothing matched
    good = source.read(commons([PAGE], **{"continue": {"gsroffset": 50}}), None)
    assert good.next_page == {"continue": {"gsroffset": 50}, "index": 2}


# --- Flickr --------------------------------------------------------------------------------------

PHOTO = {"id": "7", "owner": "1@N0", "license": "4", "url_l": "https://live.example.org/7.jpg"}


@pytest.mark.parametrize(
    "body", [{"stat": "ok", "photos": "x"}, {"stat": "ok", "photos": {"photo": {}}}, [1]]
)
def test_flickr_unreadable_pages(body: object) -> None:
    with pytest.raises(BadPage):
        FlickrSource("http://127.0.0.1/rest", "key").read(answer(body), None)


def test_flickr_sizes_may_be_digit_strings_but_not_words() -> None:
    photos = [
        {**PHOTO, "width_l": "1024", "height_l": 768},
        {**PHOTO, "id": "8", "width_l": "wide"},
        {**PHOTO, "id": 9, "owner": 12, "ownername": ["x"]},
    ]
    body = {"stat": "ok", "photos": {"photo": photos, "pages": "many"}}
    read = FlickrSource("http://127.0.0.1/rest", "key").read(answer(body), None)
    assert [(c.width, c.height) for c in read.candidates] == [(1024, 768)]
    assert len(read.skipped) == 2 and read.error is not None and "pages" in read.error
    body = {"stat": "ok", "photos": {"photo": photos[:1], "pages": "3"}}
    assert FlickrSource("http://127.0.0.1/rest", "key").read(answer(body), 1).next_page == 2


# --- anything a source did not foresee ------------------------------------------------------------


def test_an_exception_in_a_source_never_escapes_read(monkeypatch: pytest.MonkeyPatch) -> None:
    def explode(self: Source, *args: object) -> Any:
        raise KeyError("surprise")

    monkeypatch.setattr(OpenverseSource, "candidate", explode)
    monkeypatch.setattr(OpenverseSource, "following", explode)
    read = read_openverse(openverse([GOOD]))
    assert read.candidates == [] and "KeyError" in str(read.skipped[0])
    assert read.error is not None and "KeyError" in read.error
    monkeypatch.setattr(OpenverseSource, "results", explode)
    with pytest.raises(BadPage, match="KeyError"):
        read_openverse(openverse([GOOD]))


# --- the run's status, and how a failure is told --------------------------------------------------


def health(name: str, **tallies: Any) -> SourceHealth:
    h = SourceHealth(name)
    for key, value in tallies.items():
        setattr(h, key, value)
    return h


def test_run_status_from_the_sources() -> None:
    ok = health("openverse", pages_ok=3, candidates=40)
    down = health("wikimedia", failures=2, error="cannot connect to x (connection refused)")
    garbled = health("flickr", pages_bad=3, last_bad_page="page 1: not JSON")
    budget = health("openverse", pages_ok=2000, stopped="request budget", budget_reached=True)
    assert run_status([ok]) == RunStatus.FINISHED
    assert run_status([ok, down]) == RunStatus.PARTIAL
    assert run_status([down]) == RunStatus.FAILED
    assert run_status([down, garbled]) == RunStatus.FAILED
    assert garbled.problem == "every answer was malformed (3 pages; page 1: not JSON)"
    assert run_status([budget]) == RunStatus.FINISHED and budget.problem is None
    stopped = health("openverse", stopped="flickr: 100: Invalid API Key")
    assert run_status([stopped]) == RunStatus.FAILED and stopped.problem == stopped.stopped


def test_a_search_that_fails_now_and_then_does_not_fail_its_source() -> None:
    """One timeout among hundreds of answers is counted and recorded, not a failed source: a
    single-source crawl stays ``finished`` (README: partial is a source failing while another
    answered)."""
    flaky = health("openverse", pages_ok=300, candidates=5000, failures=1, error="no answer")
    assert not flaky.failed and flaky.problem is None
    assert run_status([flaky]) == RunStatus.FINISHED
    summary = flaky.summary()
    assert (summary["failures"], summary["first_failure"], summary["failed"]) == (
        1,
        "no answer",
        False,
    )
    # Failing in a row up to the limit stops the source for the run: that is a failure.
    stopped = health(
        "openverse", pages_ok=300, failures=4, error="no answer", stopped="3 in a row failed"
    )
    assert stopped.failed and run_status([stopped]) == RunStatus.PARTIAL
    ok = health("wikimedia", pages_ok=3, candidates=40)
    # Every search failed, none answered: failed, whatever the streak.
    never = health("openverse", failures=2, error="HTTP 503")
    assert never.failed and run_status([ok, never]) == RunStatus.PARTIAL


def test_failures_name_the_host_and_the_reason() -> None:
    from scrapy.exceptions import (
        CannotResolveHostError,
        DownloadConnectionRefusedError,
        DownloadTimeoutError,
    )
    from scrapy.http import Response
    from scrapy.spidermiddlewares.httperror import HttpError
    from twisted.python.failure import Failure

    request = Request("http://api.example.org:8080/v1/images/?q=pug")

    def failure(exc: Exception) -> Failure:
        f = Failure(exc)
        f.request = request  # type: ignore[attr-defined]
        return f

    refused = DownloadConnectionRefusedError("Cannot connect to host")
    refused.__cause__ = ConnectionRefusedError(111, "Connection refused")
    assert describe_failure(failure(refused)) == (
        "cannot connect to api.example.org:8080 (connection refused)"
    )
    assert describe_failure(failure(CannotResolveHostError("dns"))) == (
        "cannot resolve api.example.org"
    )
    assert "no answer from api.example.org:8080" in describe_failure(
        failure(DownloadTimeoutError("took longer than 30 seconds"))
    )
    error = HttpError(Response(request.url, status=503, request=request), "Ignoring")
    assert describe_failure(failure(error)) == "HTTP 503 from api.example.org:8080"
