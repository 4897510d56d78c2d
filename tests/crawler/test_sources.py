"""Every source passes the same offline suite against the local look-alike APIs.

One crawl per source over the misbehaving image hosts (query "vizsla") and a second breed that
shares a photo (query "weimaraner"); assertions are on the database rows, the store and the
crawl run's refusal counts.
"""

from __future__ import annotations

import json
from collections import Counter
from contextlib import ExitStack
from pathlib import Path

import pytest
from PIL import Image as PILImage
from scrapy.crawler import Crawler
from scrapy.exceptions import NotConfigured
from scrapy.http import Request, TextResponse
from sqlalchemy import select

from crawler.candidate import Candidate
from crawler.runner import CrawlReport
from crawler.settings import scrapy_settings
from crawler.sources import SOURCES
from crawler.sources.flickr import FlickrSource
from crawler.sources.openverse import OpenverseSource
from crawler.sources.wikimedia import WikimediaSource
from crawler.spider import BreedSpider
from db.database import Database
from db.models import Breed, CrawlRun, FlagKind, Image, ImageFlag, RunStatus
from db.provenance import Provenance
from tests.crawler.conftest import crawl
from tests.crawler.mockserver import MISBEHAVING, OPENVERSE_CLIENT, ROBOTS_TXT, MockServer
from tests.fixtures.databases import BACKENDS, fresh_postgres

SOURCE_NAMES = ["openverse", "wikimedia", "flickr"]


def expected_refusals(source: str) -> Counter[str]:
    reasons = Counter(r for r in MISBEHAVING.values() if r not in ("stored", "near_pair"))
    reasons["near_duplicate"] = 1
    if source == "wikimedia":
        del reasons["svg"]  # Commons lists the SVG's MIME type: never downloaded
    return reasons


def rows_of(db: Database, slug: str) -> list[Image]:
    with db.session() as s:
        rows = list(
            s.scalars(select(Image).join(Image.breed).where(Breed.slug == slug).order_by(Image.id))
        )
        s.expunge_all()
    return rows


@pytest.fixture(
    scope="module",
    params=[(src, backend) for src in SOURCE_NAMES for backend in BACKENDS],
    ids=lambda p: "-".join(p),
)
def source_crawl(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, mockserver
):  # type: ignore[no-untyped-def]
    """One crawl per source and database, shared by the assertions below (a crawl takes a few
    seconds)."""
    from core.settings import Settings
    from db.database import open_database
    from db.seed import seed_breeds

    source, backend = request.param
    tmp = tmp_path_factory.mktemp(source)
    with ExitStack() as stack:
        url = f"sqlite:///{tmp}/t.db"
        if backend == "postgresql":
            server = request.getfixturevalue("postgres_server")
            template = request.getfixturevalue("postgres_template")
            url = stack.enter_context(fresh_postgres(server, template))
        db = open_database(Settings(data_dir=tmp / "data", database_url=url))
        stack.callback(db.dispose)
        with db.session() as s:
            seed_breeds(s)
        yield from _crawled(db, source, mockserver)


def _crawled(db, source: str, mockserver):  # type: ignore[no-untyped-def]
    log_start = len(mockserver.log())
    report = crawl(
        db,
        mockserver,
        breeds=["vizsla", "weimaraner"],
        sources=[source],
        dog_keyword="never",
    )
    yield source, db, report, mockserver.log()[log_start:]


def test_stores_the_good_images_with_their_provenance(source_crawl) -> None:  # type: ignore[no-untyped-def]
    source, db, report, _ = source_crawl
    assert report.status == RunStatus.FINISHED
    rows = rows_of(db, "vizsla")
    # Each image by the URL the search gave (a redirected one keeps it as requested_url).
    paths = Counter((r.requested_url or r.url).split("/", 3)[3] for r in rows if r.url)  # type: ignore[union-attr]
    stored = {p for p, what in MISBEHAVING.items() if what == "stored"}
    assert {f"/{p}" for p in paths} >= stored
    near = [p for p in paths if f"/{p}" in ("/img/good/110.jpg", "/img/big/110.jpg")]
    assert len(near) == 1, "exactly one of the re-encoded pair is kept"
    assert len(rows) == len(stored) + 1
    for r in rows:
        assert r.source == source
        assert r.query == "vizsla"
        assert r.crawl_run_id == report.run_id
        assert r.license and r.creator and r.creator.startswith("Photographer")
        assert r.attribution and r.landing_url
        assert "<a" not in r.creator  # Wikimedia's HTML artist is reduced to its text


def test_store_holds_whole_files_and_thumbnails(source_crawl) -> None:  # type: ignore[no-untyped-def]
    _, db, _, _ = source_crawl
    rows = rows_of(db, "vizsla") + rows_of(db, "weimaraner")
    for r in rows:
        assert db.store.read(r.path)[:2] in (b"\xff\xd8", b"GI")
        assert r.thumb_path and db.store.exists(r.thumb_path)
    leftovers = [p for p in Path(db.store.root).rglob("*") if p.name.startswith(".tmp-")]
    assert leftovers == []
    by_path = {r.url.split("/img/", 1)[-1]: r for r in rows if r.url}  # type: ignore[union-attr]
    rotated = by_path["rotated/107.jpg"]
    assert (rotated.width, rotated.height) == (320, 240)  # original bytes, untouched
    with PILImage.open(db.store.absolute(rotated.thumb_path)) as thumb:  # type: ignore[arg-type]
        assert thumb.height > thumb.width  # EXIF orientation applied for display
    with PILImage.open(db.store.absolute(by_path["cmyk/106.jpg"].thumb_path)) as thumb:  # type: ignore[arg-type]
        assert thumb.mode == "RGB"
    assert by_path["animated/108.gif"].format == "GIF"
    # The redirect was followed; the row holds the final URL and keeps the one the search gave.
    moved = by_path["good/103.jpg"]
    assert moved.width == 320 and (moved.requested_url or "").endswith("/img/moved/103")
    assert [r.requested_url for r in rows if r.requested_url] == [moved.requested_url]


def test_refusals_are_counted_by_reason_in_the_run(source_crawl) -> None:  # type: ignore[no-untyped-def]
    source, db, report, _ = source_crawl
    with db.session() as s:
        run = s.get(CrawlRun, report.run_id)
        assert run is not None and run.status == RunStatus.FINISHED
        stats = run.stats
    refused = Counter({k.split("/", 1)[1]: v for k, v in stats.items() if k.startswith("refused/")})
    assert refused == expected_refusals(source)
    vizsla = stats["breeds"]["vizsla"]
    assert vizsla["stored"] == len(rows_of(db, "vizsla"))
    assert vizsla["duplicates"] == 1
    assert vizsla["query"] == "vizsla"


def test_same_photo_for_two_breeds_is_kept_and_flagged(source_crawl) -> None:  # type: ignore[no-untyped-def]
    _, db, _, _ = source_crawl
    shared = [r for r in rows_of(db, "vizsla") + rows_of(db, "weimaraner") if "/200." in r.url]  # type: ignore[operator]
    assert len(shared) == 2 and shared[0].sha256 == shared[1].sha256
    with db.session() as s:
        flags = list(s.scalars(select(ImageFlag).where(ImageFlag.kind == FlagKind.CROSS_BREED)))
    assert len(flags) == 1
    assert {flags[0].image_id, flags[0].other_image_id} == {r.id for r in shared}
    assert len(rows_of(db, "weimaraner")) == 3


def test_politeness_user_agent_retry_after_and_robots(source_crawl) -> None:  # type: ignore[no-untyped-def]
    _, db, report, log = source_crawl
    assert all("breedbench/" in (e["user_agent"] or "") for e in log)
    hits = [e["time"] for e in log if e["path"] == "/img/ratelimited/104.jpg"]
    assert len(hits) == 2  # a 429 with Retry-After: 1, then the retry
    with db.session() as s:
        run = s.get(CrawlRun, report.run_id)
        assert run is not None
        # The retry's wait is the one the server asked for (not the 0.05 s backoff).
        assert run.stats.get("retry/waited_seconds") == 1, "the retry waited for Retry-After: 1"
    assert not any(e["path"].startswith("/private/") for e in log), "robots.txt was obeyed"
    assert any(e["path"] == "/robots.txt" for e in log)


def test_the_search_apis_are_exempt_from_robots_txt(source_crawl) -> None:  # type: ignore[no-untyped-def]
    """The look-alike's robots.txt disallows the APIs' paths (Commons disallows /w/): searching
    goes on regardless, while the image hosts' rules still hold."""
    source, db, report, log = source_crawl
    api = {"openverse": "/openverse/", "wikimedia": "/wikimedia/w/"}.get(source, "/flickr/")
    assert f"Disallow: {api}" in ROBOTS_TXT
    assert any(e["path"].startswith(api) for e in log)
    assert rows_of(db, "vizsla"), "nothing was found: the search was refused by robots.txt"
    assert not any(e["path"].startswith("/private/") for e in log)


def test_pages_are_followed(source_crawl) -> None:  # type: ignore[no-untyped-def]
    source, _, _, log = source_crawl
    api = {"openverse": "/openverse/v1/images/", "wikimedia": "/wikimedia/w/api.php"}.get(
        source, "/flickr/services/rest/"
    )
    searches = [e for e in log if e["path"] == api and "vizsla" in e["query"]]
    assert len(searches) == 4  # 20 results, 5 a page (the conftest's page size)


# --- turning sources off ----------------------------------------------------------------------


def test_flickr_without_key_turns_itself_off_naming_the_setting() -> None:
    crawler = Crawler(
        BreedSpider, {**scrapy_settings(_settings()), "BREEDBENCH_FLICKR_API_KEY": ""}
    )
    with pytest.raises(NotConfigured, match="BREEDBENCH_FLICKR_API_KEY"):
        SOURCES["flickr"].from_crawler(crawler)


def test_openverse_half_credentials_name_both_settings() -> None:
    settings = {**scrapy_settings(_settings()), "BREEDBENCH_OPENVERSE_CLIENT_ID": "x"}
    with pytest.raises(NotConfigured, match="BREEDBENCH_OPENVERSE_CLIENT_SECRET"):
        SOURCES["openverse"].from_crawler(Crawler(BreedSpider, settings))


def _openverse(**overrides: object) -> OpenverseSource:
    crawler = Crawler(BreedSpider, {**scrapy_settings(_settings()), **overrides})
    return SOURCES["openverse"].from_crawler(crawler)  # type: ignore[return-value]


def _asked(source: OpenverseSource, page: int | None) -> dict[str, list[str]]:
    from urllib.parse import parse_qs, urlsplit

    return parse_qs(urlsplit(source.build_request("vizsla", "vizsla", page).url).query)


def test_openverse_keeps_the_anonymous_limits_of_20_by_20() -> None:
    """The tests ask for 5 a page; a real crawl asks for 20, and never for a page after the
    20th, however many pages the API counts; asking for more anonymously is cut back."""
    default = _openverse()
    assert _asked(default, None)["page_size"] == ["20"]
    assert default.page_after(19) == 20 and default.page_after(20) is None
    assert default.next_numbered(20, total_pages=500) is None
    greedy = _openverse(BREEDBENCH_OPENVERSE_PAGE_SIZE=500, BREEDBENCH_MAX_PAGES=100)
    assert _asked(greedy, 3) == {**_asked(greedy, 3), "page": ["3"], "page_size": ["20"]}
    assert greedy.page_after(20) is None
    signed_in = _openverse(
        BREEDBENCH_OPENVERSE_PAGE_SIZE=50,
        BREEDBENCH_MAX_PAGES=30,
        BREEDBENCH_OPENVERSE_CLIENT_ID="id",
        BREEDBENCH_OPENVERSE_CLIENT_SECRET="secret",
    )
    assert _asked(signed_in, None)["page_size"] == ["50"] and signed_in.page_after(20) == 21


def test_openverse_client_credentials_get_a_bearer_token(
    database: Database, mockserver: MockServer
) -> None:
    start = len(mockserver.log())
    report = crawl(
        database,
        mockserver,
        breeds=["saluki"],
        per_breed=2,
        BREEDBENCH_OPENVERSE_CLIENT_ID=OPENVERSE_CLIENT[0],
        BREEDBENCH_OPENVERSE_CLIENT_SECRET=OPENVERSE_CLIENT[1],
    )
    assert sum(j.stored for j in report.jobs) == 2
    searches = [e for e in mockserver.log()[start:] if e["path"] == "/openverse/v1/images/"]
    assert searches and all(e["authorization"] == "Bearer test-token-123" for e in searches)


def test_openverse_bad_credentials_stop_the_source_with_a_reason(
    database: Database, mockserver: MockServer
) -> None:
    report: CrawlReport = crawl(
        database,
        mockserver,
        breeds=["saluki"],
        per_breed=2,
        BREEDBENCH_OPENVERSE_CLIENT_ID="wrong",
        BREEDBENCH_OPENVERSE_CLIENT_SECRET="wrong",
    )
    assert "BREEDBENCH_OPENVERSE_CLIENT_ID" in report.disabled_sources["openverse"]
    assert sum(j.stored for j in report.jobs) == 0


def test_flickr_error_document_stops_the_source(database: Database, mockserver: MockServer) -> None:
    report = crawl(
        database,
        mockserver,
        breeds=["saluki"],
        per_breed=2,
        sources=["flickr"],
        BREEDBENCH_FLICKR_API_KEY="not-the-key",
    )
    assert "Invalid API Key" in report.disabled_sources["flickr"]
    assert report.stats["source_error/flickr"] == 1


def _settings():  # type: ignore[no-untyped-def]
    from core.settings import Settings

    return Settings()


# --- what a source keeps of a result ------------------------------------------------------------


def _search_response(url: str, body: object, query: str) -> TextResponse:
    request = Request(url, meta={"query": query})
    return TextResponse(url, body=json.dumps(body).encode(), encoding="utf-8", request=request)


def test_openverse_result_becomes_a_candidate_with_its_provenance() -> None:
    result = {
        "url": "https://img.example.org/1.jpg",
        "foreign_landing_url": "https://www.example.org/1",
        "title": "Pug on a sofa",
        "license": "by-sa",
        "license_version": "4.0",
        "license_url": "https://creativecommons.org/licenses/by-sa/4.0/",
        "creator": "Jo",
        "attribution": '"Pug on a sofa" by Jo is licensed under CC BY-SA 4.0.',
        "width": 640,
        "height": 480,
    }
    response = _search_response(
        "http://127.0.0.1/v1/images/", {"results": [result, {"url": ""}]}, "pug"
    )
    (candidate,) = OpenverseSource("http://127.0.0.1/v1").parse(response)
    assert candidate == Candidate(
        Provenance(
            source="openverse",
            query="pug",
            url=result["url"],
            landing_url=result["foreign_landing_url"],
            license="by-sa",
            license_version="4.0",
            license_url=result["license_url"],
            creator="Jo",
            attribution=result["attribution"],
        ),
        title="Pug on a sofa",
        width=640,
        height=480,
    )
    assert candidate.url == result["url"]


def test_flickr_result_names_its_licence_and_author() -> None:
    photo = {
        "id": "7",
        "owner": "12@N01",
        "ownername": "Jo",
        "title": "Rex",
        "license": "4",
        "url_l": "https://live.example.org/7_l.jpg",
        "width_l": "1024",
        "height_l": "768",
    }
    unknown = {**photo, "id": "8", "license": "99", "title": "", "ownername": ""}
    body = {"stat": "ok", "photos": {"photo": [photo, unknown], "pages": 1}}
    response = _search_response("http://127.0.0.1/rest", body, "boxer dog")
    first, second = FlickrSource("http://127.0.0.1/rest", "key").parse(response)
    assert first.provenance == Provenance(
        source="flickr",
        query="boxer dog",
        url="https://live.example.org/7_l.jpg",
        landing_url="https://www.flickr.com/photos/12@N01/7",
        license="by",
        license_version="2.0",
        license_url="https://creativecommons.org/licenses/by/2.0/",
        creator="Jo",
        attribution='"Rex" by Jo (by 2.0, Flickr)',
    )
    assert (first.title, first.width, first.height) == ("Rex", 1024, 768)
    assert second.provenance.license is None and second.provenance.creator == "12@N01"
    assert second.provenance.attribution == '"Untitled" by 12@N01 (unknown licence, Flickr)'


def test_wikimedia_result_keeps_the_artists_text_and_the_short_licence() -> None:
    page = {
        "index": 1,
        "title": "File:Pug.jpg",
        "imageinfo": [
            {
                "mime": "image/jpeg",
                "url": "https://upload.example.org/Pug.jpg",
                "thumburl": "https://upload.example.org/1280px-Pug.jpg",
                "thumbwidth": 1280,
                "thumbheight": 960,
                "descriptionurl": "https://commons.example.org/wiki/File:Pug.jpg",
                "extmetadata": {
                    "Artist": {"value": '<a href="//commons.example.org/wiki/User:P">Pat</a>'},
                    "LicenseShortName": {"value": "CC BY-SA 4.0"},
                    "LicenseUrl": {"value": "https://creativecommons.org/licenses/by-sa/4.0"},
                },
            }
        ],
    }
    response = _search_response("http://127.0.0.1/api.php", {"query": {"pages": [page]}}, "pug")
    (candidate,) = WikimediaSource("http://127.0.0.1/api.php").parse(response)
    assert candidate.provenance == Provenance(
        source="wikimedia",
        query="pug",
        url="https://upload.example.org/1280px-Pug.jpg",
        landing_url="https://commons.example.org/wiki/File:Pug.jpg",
        license="CC BY-SA 4.0",
        license_url="https://creativecommons.org/licenses/by-sa/4.0",
        creator="Pat",
        attribution='"Pug.jpg" by Pat is licensed under CC BY-SA 4.0 (Wikimedia Commons)',
    )
    assert (candidate.title, candidate.width, candidate.height) == ("File:Pug.jpg", 1280, 960)
