"""``crawl --uploaded-after``: only images that provably appeared after the cut-off are stored.

Against the look-alike APIs (``tests/crawler/mockserver.py``): result ``i`` of a query was
uploaded on 1 June of 2016 + i, captured a week before and indexed by Openverse 30 days after.
With 8 results and a cut-off of 2019-01-01, results 0-2 are too old and 3-7 are new.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs

import pytest
from sqlalchemy import select

from crawler.runner import CrawlOptions, CrawlReport, run_crawl
from db.database import Database
from db.models import Breed, CrawlRun, Image
from tests.crawler.conftest import source_overrides
from tests.crawler.mockserver import MockServer, uploaded
from tests.factories import breed_images

CUTOFF = datetime(2019, 1, 1, tzinfo=UTC)
RESULTS = 8


def freshness_crawl(
    db: Database, server: MockServer, slug: str, source: str, first: int, **window: Any
) -> CrawlReport:
    query = slug.replace("_", " ")  # the breed's search query
    server.add_catalog({query: [f"/img/good/{first + n}.jpg" for n in range(RESULTS)]})
    options = CrawlOptions(
        breeds=[slug],
        per_breed=RESULTS + 2,
        sources=[source],
        dog_keyword="never",
        scrapy_overrides=source_overrides(server.url),
        **window,
    )
    return run_crawl(db, options)


def stored_dates(db: Database, slug: str) -> list[tuple[Any, Any, Any]]:
    return sorted((i.uploaded_at, i.taken_at, i.indexed_at) for i in breed_images(db, slug))


def utc(moment: datetime | None) -> datetime | None:
    return None if moment is None else moment.replace(tzinfo=UTC)


def test_wikimedia_results_are_kept_or_refused_by_their_upload_timestamp(
    database: Database, mockserver: MockServer
) -> None:
    report = freshness_crawl(
        database, mockserver, "otterhound", "wikimedia", 8100, uploaded_after=CUTOFF
    )
    job = report.jobs[0]
    assert job.stored == 5 and job.refused["too_old"] == 3
    assert report.stats["refused/too_old"] == 3
    dates = stored_dates(database, "otterhound")
    assert [utc(u) for u, _, _ in dates] == [uploaded(i) for i in range(3, RESULTS)]
    assert all(utc(t) is not None and utc(t) < utc(u) for u, t, _ in dates)  # taken first
    with database.session() as s:
        run = s.get(CrawlRun, report.run_id)
        assert run is not None
        assert run.settings["uploaded_after"] == CUTOFF.isoformat()
        assert run.stats["refused/too_old"] == 3
        assert run.stats["breeds"]["otterhound"]["refused"] == {"too_old": 3}


def test_flickr_asks_the_api_for_new_uploads_only(
    database: Database, mockserver: MockServer
) -> None:
    start = len(mockserver.log())
    report = freshness_crawl(
        database, mockserver, "komondor", "flickr", 8200, uploaded_after=CUTOFF
    )
    searches = [
        parse_qs(e["query"]) for e in mockserver.log()[start:] if e["path"].startswith("/flickr/")
    ]
    assert searches and all(
        q["min_upload_date"] == [str(int(CUTOFF.timestamp()))] for q in searches
    )
    job = report.jobs[0]
    # Flickr left the old photos out: nothing had to be refused after the fact.
    assert job.stored == 5 and job.found == 5 and not job.refused
    assert [utc(u) for u, _, _ in stored_dates(database, "komondor")] == [
        uploaded(i) for i in range(3, RESULTS)
    ]


def test_openverse_can_prove_an_image_old_but_never_new(
    database: Database, mockserver: MockServer
) -> None:
    report = freshness_crawl(
        database, mockserver, "leonberg", "openverse", 8300, uploaded_after=CUTOFF
    )
    job = report.jobs[0]
    # Indexed before 2019: uploaded before it. Indexed after: of unknown age, dropped.
    assert job.stored == 0
    assert job.refused == {"too_old": 3, "date_unknown": 5}
    assert report.stats["refused/date_unknown"] == 5
    assert breed_images(database, "leonberg") == []


def test_unknown_dates_can_be_kept(database: Database, mockserver: MockServer) -> None:
    report = freshness_crawl(
        database,
        mockserver,
        "newfoundland",
        "openverse",
        8400,
        uploaded_after=CUTOFF,
        unknown_date="keep",
    )
    job = report.jobs[0]
    assert job.stored == 5 and job.refused == {"too_old": 3}
    dates = stored_dates(database, "newfoundland")
    assert all(u is None and t is None for u, t, _ in dates)
    assert all(utc(i) is not None and utc(i) >= CUTOFF for _, _, i in dates)


def test_without_a_window_every_date_is_stored(database: Database, mockserver: MockServer) -> None:
    report = freshness_crawl(database, mockserver, "sealyham_terrier", "wikimedia", 8500)
    assert report.jobs[0].stored == RESULTS
    with database.session() as s:
        ups = s.scalars(select(Image.uploaded_at).where(Image.uploaded_at.is_not(None))).all()
    assert len(ups) == RESULTS


def test_a_bad_unknown_date_choice_or_future_cutoff_stops_before_a_run(
    database: Database, mockserver: MockServer
) -> None:
    from core.errors import BreedbenchError

    with pytest.raises(BreedbenchError, match="keep or drop"):
        freshness_crawl(database, mockserver, "otterhound", "wikimedia", 8600, unknown_date="maybe")
    with pytest.raises(BreedbenchError, match="future"):
        freshness_crawl(
            database,
            mockserver,
            "otterhound",
            "wikimedia",
            8600,
            uploaded_after=datetime(2999, 1, 1, tzinfo=UTC),
        )
    with database.session() as s:
        assert s.scalars(select(CrawlRun)).all() == []


def test_window_refusals_never_set_the_breed_dog_keyword(
    database: Database, mockserver: MockServer
) -> None:
    mockserver.add_catalog(
        {
            "kerry blue terrier": [f"/img/good/{8700 + n}.jpg" for n in range(3)],  # all old
            "kerry blue terrier dog": [f"/img/good/{8710 + n}.jpg" for n in range(5)],
        }
    )
    options = CrawlOptions(
        breeds=["kerry_blue_terrier"],
        per_breed=10,
        sources=["wikimedia"],
        scrapy_overrides=source_overrides(mockserver.url),
        uploaded_after=CUTOFF,
    )
    job = run_crawl(database, options).jobs[0]
    # The plain query ran out (every result too old): the dog query is tried in this crawl ...
    assert job.fell_back and job.stored == 2 and job.refused["too_old"] == 6
    # ... but the window, not the query, was the reason: the breed keeps its plain query.
    with database.session() as s:
        breed = s.scalar(select(Breed).where(Breed.slug == "kerry_blue_terrier"))
        assert breed is not None and breed.dog_keyword is False


def test_cli_crawl_takes_the_window_and_records_it(
    database: Database, mockserver: MockServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tests.cli.helpers import cli

    monkeypatch.setenv("BREEDBENCH_WIKIMEDIA_URL", f"{mockserver.url}/wikimedia/w/api.php")
    monkeypatch.setenv("BREEDBENCH_CONTACT", "tests@example.org")
    monkeypatch.setenv("BREEDBENCH_CRAWL_ALLOW_HOSTS", "127.0.0.1")
    code, out = cli(
        database, "crawl", "--breed", "saluki", "--per-breed", "20", "--source", "wikimedia",
        "--uploaded-after", "2020-01-01", "--unknown-date", "drop", width=200,
    )  # fmt: skip
    assert code == 0, out
    assert "too_old 4" in out  # saluki's 10 results were uploaded 2016-2025
    with database.session() as s:
        run = s.scalars(select(CrawlRun).order_by(CrawlRun.id.desc())).first()
        assert run is not None
        assert run.settings["uploaded_after"] == "2020-01-01T00:00:00+00:00"
        assert run.settings["unknown_date"] == "drop"
    assert len(breed_images(database, "saluki")) == 6
