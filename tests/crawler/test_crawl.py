"""Crawl behaviour across runs: the dog-keyword fallback, topping up, stopping, the CLI."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import select, update

from crawler.jobs import BreedJob
from crawler.runner import CrawlControl
from db.database import Database
from db.models import Breed, CrawlRun, Decision, ImageStatus, RunStatus
from db.reviews import record_decision
from tests.cli.helpers import invoke
from tests.crawler.conftest import crawl
from tests.crawler.mockserver import MockServer
from tests.factories import breed_images


def breed(db: Database, slug: str) -> Breed:
    with db.session() as s:
        row = s.scalar(select(Breed).where(Breed.slug == slug))
        assert row is not None
        s.expunge(row)
    return row


def searched(server: MockServer, start: int) -> list[str]:
    """The Openverse queries asked since log position ``start``."""
    from urllib.parse import parse_qs

    return [
        parse_qs(e["query"])["q"][0]
        for e in server.log()[start:]
        if e["path"] == "/openverse/v1/images/"
    ]


def test_auto_falls_back_to_dog_when_the_plain_query_runs_dry(
    database: Database, mockserver: MockServer
) -> None:
    start = len(mockserver.log())
    report = crawl(database, mockserver, breeds=["dhole"], per_breed=5)
    job = report.jobs[0]
    assert job.fell_back and job.choice.query == "dhole dog" and job.stored == 5
    assert job.refused["too_small"] == 1 and job.refused["html"] == 1  # the off-topic results
    assert {r.query for r in breed_images(database, "dhole")} == {"dhole dog"}
    assert breed(database, "dhole").dog_keyword is True  # kept for later crawls
    assert searched(mockserver, start)[0] == "dhole"
    # The next crawl starts with the dog query; the plain one is not asked again.
    start = len(mockserver.log())
    report = crawl(database, mockserver, breeds=["dhole"], per_breed=8)
    assert report.jobs[0].choice.reason == "dog_keyword"
    assert set(searched(mockserver, start)) == {"dhole dog"}
    assert len(breed_images(database, "dhole")) == 8


def test_never_mode_keeps_the_plain_query(database: Database, mockserver: MockServer) -> None:
    report = crawl(database, mockserver, breeds=["dhole"], per_breed=5, dog_keyword="never")
    job = report.jobs[0]
    assert job.choice.query == "dhole" and not job.fell_back and job.stored == 0
    assert job.summary()["exhausted"] is True
    assert breed(database, "dhole").dog_keyword is False


def test_ambiguous_names_and_reviewer_flags_start_with_dog(
    database: Database, mockserver: MockServer
) -> None:
    with database.session() as s:
        s.execute(
            update(Breed)
            .where(Breed.slug == "saluki")
            .values(query_flagged_at=datetime.now(UTC), query_flagged_by="alice")
        )
    start = len(mockserver.log())
    report = crawl(database, mockserver, breeds=["boxer", "saluki"], per_breed=3)
    by_slug = {j.slug: j for j in report.jobs}
    assert by_slug["boxer"].choice.reason == "ambiguous" and by_slug["boxer"].stored == 3
    assert by_slug["saluki"].choice.reason == "flagged"
    asked = set(searched(mockserver, start))
    assert "boxer" not in asked and "saluki" not in asked
    assert {"boxer dog", "saluki dog"} <= asked
    assert {r.query for r in breed_images(database, "boxer")} == {"boxer dog"}


def test_always_mode_adds_dog_to_every_breed(database: Database, mockserver: MockServer) -> None:
    report = crawl(database, mockserver, breeds=["dhole"], per_breed=2, dog_keyword="always")
    assert report.jobs[0].choice.query == "dhole dog" and report.jobs[0].stored == 2


def test_recrawl_tops_up_after_rejections_without_refetching(
    database: Database, mockserver: MockServer
) -> None:
    report = crawl(database, mockserver, breeds=["saluki"], per_breed=3, dog_keyword="never")
    assert report.jobs[0].stored == 3
    first = breed_images(database, "saluki")
    with database.session() as s:
        record_decision(s, first[0].id, "alice", Decision.REJECT, reason="not a saluki")
        record_decision(s, first[1].id, "alice", Decision.ACCEPT)
    start = len(mockserver.log())
    report = crawl(database, mockserver, breeds=["saluki"], per_breed=3, dog_keyword="never")
    assert report.jobs[0].needed == 1 and report.jobs[0].stored == 1
    rows = breed_images(database, "saluki")
    assert len(rows) == 4
    assert sum(r.status != ImageStatus.REJECTED for r in rows) == 3
    fetched = [e["path"] for e in mockserver.log()[start:] if e["path"].startswith("/img/")]
    assert first[0].url is not None and first[0].url.split("127.0.0.1")[1] not in fetched
    report = crawl(database, mockserver, breeds=["saluki"], per_breed=3, dog_keyword="never")
    assert report.jobs == []  # nothing to do


def test_stopping_leaves_whole_rows_and_files_and_the_next_crawl_tops_up(
    database: Database, mockserver: MockServer
) -> None:
    control = CrawlControl()

    def stop_after_first(job: BreedJob) -> None:
        if job.stored >= 1:
            control.stop()

    report = crawl(
        database,
        mockserver,
        breeds=["saluki"],
        per_breed=10,
        dog_keyword="never",
        control=control,
        on_progress=stop_after_first,
        CONCURRENT_REQUESTS_PER_DOMAIN=1,
    )
    assert report.status == RunStatus.INTERRUPTED
    rows = breed_images(database, "saluki")
    assert 1 <= len(rows) < 10
    for r in rows:
        assert database.store.exists(r.path) and database.store.exists(r.thumb_path or "")
    assert not [p for p in Path(database.store.root).rglob(".tmp-*")]
    # Images dropped while stopping leave no files behind either: every original has its row.
    originals = {p.name for p in Path(database.store.root, "originals").rglob("*") if p.is_file()}
    assert originals == {r.sha256 for r in rows}
    with database.session() as s:
        run = s.get(CrawlRun, report.run_id)
        assert run is not None and run.status == RunStatus.INTERRUPTED and run.finished_at
    report = crawl(database, mockserver, breeds=["saluki"], per_breed=10, dog_keyword="never")
    assert report.status == RunStatus.FINISHED
    assert len(breed_images(database, "saluki")) == 10


# --- the CLI ----------------------------------------------------------------------------------


@pytest.fixture
def cli_env(
    database: Database, mockserver: MockServer, monkeypatch: pytest.MonkeyPatch
) -> list[str]:
    monkeypatch.setenv("BREEDBENCH_OPENVERSE_URL", f"{mockserver.url}/openverse/v1")
    monkeypatch.setenv("BREEDBENCH_WIKIMEDIA_URL", f"{mockserver.url}/wikimedia/w/api.php")
    monkeypatch.setenv("BREEDBENCH_CONTACT", "tests@example.org")
    monkeypatch.setenv("BREEDBENCH_CRAWL_TIMEOUT", "5")
    s = database.settings
    return ["--db", s.resolved_database_url(), "--data-dir", str(s.data_dir)]


def test_cli_crawl_prints_a_table_per_breed_and_records_the_run(
    cli_env: list[str], database: Database
) -> None:
    result = invoke(
        *cli_env, "crawl", "--breed", "weimaraner", "--per-breed", "3", "--source", "openverse"
    )
    assert result.exit_code == 0, result.output
    assert "weimaraner" in result.output and "3 images stored" in result.output
    header = next(line for line in result.output.splitlines() if "breed" in line)
    for column in ("found", "stored", "duplicates", "refused", "query"):
        assert column in header
    row = next(line for line in result.output.splitlines() if "weimaraner" in line)
    assert [c.strip() for c in row.split("│")[1:5]] == ["weimaraner", "3", "3", "3"]
    with database.session() as s:
        run = s.scalars(select(CrawlRun).order_by(CrawlRun.id.desc())).first()
        assert run is not None and run.status == RunStatus.FINISHED
        assert run.settings["sources"] == ["openverse"]
        assert "tests@example.org" in run.settings["user_agent"]
        assert run.stats["breeds"]["weimaraner"]["stored"] == 3
    result = invoke(*cli_env, "breeds", "--breed", "weimaraner")
    assert "weimaraner" in result.output and "3" in result.output


def test_a_crawl_without_a_contact_warns_and_says_so_in_its_user_agent(
    cli_env: list[str], database: Database, mockserver: MockServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """README: BREEDBENCH_CONTACT "unset (warns)"; the API operators ask for one."""
    argv = [*cli_env, "crawl", "--breed", "weimaraner", "--per-breed", "1", "--source", "openverse"]
    start = len(mockserver.log())
    with_contact = invoke(*argv)
    assert with_contact.exit_code == 0, with_contact.output
    assert "BREEDBENCH_CONTACT" not in with_contact.output
    monkeypatch.delenv("BREEDBENCH_CONTACT")
    mockserver.new_crawl()
    without = invoke(*argv[:-4], "--per-breed", "2", "--source", "openverse")
    assert without.exit_code == 0, without.output
    flat = " ".join(without.output.split())  # the console wraps at 80 columns
    assert flat.count("Warning:") == 1
    assert (
        "Warning: BREEDBENCH_CONTACT is not set; API operators ask for a contact in the "
        "User-Agent." in flat
    )
    agents = {e["user_agent"] for e in mockserver.log()[start:]}
    assert any("tests@example.org" in (a or "") for a in agents)
    assert any("no contact set: BREEDBENCH_CONTACT" in (a or "") for a in agents)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--source", "flickr"], "BREEDBENCH_FLICKR_API_KEY"),
        (["--source", "bing"], "unknown source bing"),
        (["--breed", "wolf"], "unknown breed wolf"),
        (["--dog-keyword", "sometimes"], "auto, always, never"),
        (["--min-size", "0"], "--min-size"),
    ],
)
def test_cli_crawl_bad_input_is_one_line(cli_env: list[str], args: list[str], message: str) -> None:
    result = invoke(*cli_env, "crawl", *args)
    assert result.exit_code == 1
    assert result.output.startswith("Error: ") and message in result.output
    assert "Traceback" not in result.output


def test_crawl_and_dedup_on_both_databases(any_database: Database, mockserver: MockServer) -> None:
    report = crawl(
        any_database, mockserver, breeds=["vizsla", "weimaraner"], per_breed=3, dog_keyword="never"
    )
    assert report.status == RunStatus.FINISHED
    assert [j.stored for j in report.jobs] == [3, 3]
    report = crawl(any_database, mockserver, breeds=["weimaraner"], per_breed=4)
    assert len(breed_images(any_database, "weimaraner")) == 3  # the catalog has no fourth photo
    with any_database.session() as s:
        run = s.get(CrawlRun, report.run_id)
        assert run is not None and run.stats["breeds"]["weimaraner"]["exhausted"] is True


def test_a_failing_search_moves_on_to_the_next_source(
    database: Database, mockserver: MockServer
) -> None:
    report = crawl(
        database,
        mockserver,
        breeds=["basenji"],
        per_breed=3,
        sources=["openverse", "wikimedia"],
        dog_keyword="never",
    )
    assert report.jobs[0].stored == 3
    assert {r.source for r in breed_images(database, "basenji")} == {"wikimedia"}
    assert report.stats["search/failed/openverse"] == 1
    assert report.stats["retry/count"] >= 1  # the 503 was retried before giving up
    assert "openverse" not in report.disabled_sources  # one failed search does not stop it


def test_results_pointing_at_local_files_are_never_read(
    database: Database, mockserver: MockServer
) -> None:
    report = crawl(database, mockserver, breeds=["kuvasz"], per_breed=5, dog_keyword="never")
    assert [r.url for r in breed_images(database, "kuvasz")] == [
        f"{mockserver.url}/img/good/700.jpg"
    ]
    assert report.stats["search/skipped_url_scheme"] == 1
    assert report.jobs[0].found == 1


def test_an_upper_case_scheme_is_fetched(database: Database, mockserver: MockServer) -> None:
    """``HTTP://`` is http: the source accepts it, and nothing after it refuses it again."""
    url = "HTTP" + mockserver.url.removeprefix("http") + "/img/good/720.jpg"
    mockserver.add_catalog({"leonberg": [url]})
    start = len(mockserver.log())
    report = crawl(database, mockserver, breeds=["leonberg"], per_breed=1, dog_keyword="never")
    assert report.jobs[0].stored == 1
    assert report.stats.get("search/skipped_url_scheme", 0) == 0
    assert "/img/good/720.jpg" in [e["path"] for e in mockserver.log()[start:]]
