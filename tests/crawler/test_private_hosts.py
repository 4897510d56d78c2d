"""End to end, on loopback only: results and redirects pointing at hosts that are not public.

The look-alike's own ``127.0.0.1`` is allow-listed (and its API origin trusted); ``127.0.0.2``,
``localhost`` and ``[::ffff:127.0.0.2]`` stand in for a private host and are not. A second tiny
server bound to ``127.0.0.2`` counts its hits: it must see none.
"""

from __future__ import annotations

import logging
import socket
from collections.abc import Iterator
from ipaddress import ip_address
from urllib.parse import quote, urlsplit

import pytest

import crawler.middlewares
from db.database import Database
from tests.crawler.conftest import crawl
from tests.crawler.mockserver import CountingServer, MockServer
from tests.factories import breed_images


@pytest.fixture
def private_host() -> Iterator[CountingServer]:
    with CountingServer("127.0.0.2") as server:
        yield server


def test_private_hosts_are_refused_on_every_hop_and_never_reached(
    database: Database,
    mockserver: MockServer,
    private_host: CountingServer,
    caplog: pytest.LogCaptureFixture,
) -> None:
    port = urlsplit(private_host.url).port
    own = mockserver.url

    def redirect(to: str) -> str:
        return f"/redirect?to={quote(to, safe='')}"

    refused = [
        f"{private_host.url}/direct.jpg",
        f"http://localhost:{urlsplit(own).port}/img/good/810.jpg",  # would reach the look-alike
        f"http://[::ffff:127.0.0.2]:{port}/mapped.jpg",
        f"http://2130706434:{port}/decimal.jpg",  # 127.0.0.2
        f"http://0177.0.0.2:{port}/octal.jpg",
        f"http://127.2:{port}/short.jpg",
        redirect(f"{private_host.url}/hop.jpg"),
        redirect(f"http://localhost:{urlsplit(own).port}/img/good/811.jpg"),
        redirect(f"http://[::ffff:127.0.0.2]:{port}/hop-mapped.jpg"),
    ]
    fine = ["/img/good/812.jpg", redirect("/img/good/813.jpg")]
    mockserver.add_catalog({"komondor": refused + fine})
    start = len(mockserver.log())
    with caplog.at_level(logging.WARNING, logger="crawler.middlewares"):
        report = crawl(database, mockserver, breeds=["komondor"], per_breed=20, dog_keyword="never")

    assert private_host.hits == []
    fetched = [e["path"] for e in mockserver.log()[start:]]
    assert "/img/good/810.jpg" not in fetched and "/img/good/811.jpg" not in fetched
    job = report.jobs[0]
    assert job.refused["private_address"] == len(refused) and job.stored == 2
    assert report.stats["refused/private_address"] == len(refused)
    assert report.stats["netguard/refused"] == len(refused)  # no robots.txt asked of them
    assert "refused/download_error" not in report.stats  # nothing was even attempted
    hops = [r.getMessage() for r in caplog.records if "redirected from" in r.getMessage()]
    assert len(hops) == 3 and all(f"{own}/redirect?to=" in m for m in hops)

    rows = {urlsplit(r.url or "").path: r for r in breed_images(database, "komondor")}
    assert set(rows) == {"/img/good/812.jpg", "/img/good/813.jpg"}
    assert rows["/img/good/812.jpg"].requested_url is None
    moved = rows["/img/good/813.jpg"]
    assert moved.url == f"{own}/img/good/813.jpg"  # the final URL, after the redirect
    assert moved.requested_url == f"{own}{redirect('/img/good/813.jpg')}"  # as the search gave it

    # A later crawl knows the redirected result by the URL the search gives: not fetched again.
    start = len(mockserver.log())
    crawl(database, mockserver, breeds=["komondor"], per_breed=21, dog_keyword="never")
    again = [e["path"] + "?" + e["query"] for e in mockserver.log()[start:]]
    assert not [e for e in again if "813" in e]
    assert private_host.hits == []


def test_allow_listed_hosts_are_fetched_and_their_robots_redirects_guarded(
    database: Database, mockserver: MockServer, private_host: CountingServer
) -> None:
    # An allow-listed image host whose robots.txt redirects to a host that is not.
    with CountingServer("127.0.0.3", f"{private_host.url}/robots.txt") as mirror:
        mockserver.add_catalog({"briard": [f"{mirror.url}/a.jpg", f"{mirror.url}/b.jpg"]})
        report = crawl(
            database,
            mockserver,
            breeds=["briard"],
            per_breed=2,
            dog_keyword="never",
            BREEDBENCH_ALLOW_HOSTS="127.0.0.1,127.0.0.3",
        )
    assert report.jobs[0].stored == 2
    assert sorted(mirror.hits) == ["/a.jpg", "/b.jpg", "/robots.txt"]
    assert private_host.hits == []
    assert report.stats["netguard/refused"] == 1  # the robots.txt redirect hop
    assert "refused/private_address" not in report.stats  # no image was refused
    assert {urlsplit(r.url or "").hostname for r in breed_images(database, "briard")} == {
        "127.0.0.3"
    }


def test_an_answer_from_an_address_the_lookup_did_not_show_is_dropped(
    database: Database, mockserver: MockServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """DNS rebinding, simulated on loopback: the guard's lookup of a name says "public", the
    downloader's own lookup lands on 127.0.0.1 (the look-alike, not allow-listed here)."""
    name = socket.gethostname()
    try:
        real = {info[4][0] for info in socket.getaddrinfo(name, None, type=socket.SOCK_STREAM)}
    except OSError:
        real = set()
    if real != {"127.0.0.1"}:
        pytest.skip(f"this machine's name ({name}) does not resolve to 127.0.0.1 only")
    monkeypatch.setattr(crawler.middlewares, "resolve", lambda host: [ip_address("192.0.43.10")])
    url = f"http://{name}:{urlsplit(mockserver.url).port}/img/good/820.jpg"
    mockserver.add_catalog({"otterhound": [url]})
    start = len(mockserver.log())
    report = crawl(
        database,
        mockserver,
        breeds=["otterhound"],
        per_breed=1,
        dog_keyword="never",
        BREEDBENCH_ALLOW_HOSTS="",
    )
    # Sent (that is what a check before connecting cannot prevent), but dropped on arrival.
    assert "/img/good/820.jpg" in [e["path"] for e in mockserver.log()[start:]]
    assert report.jobs[0].stored == 0 and report.jobs[0].refused["private_address"] == 1
    assert report.stats["refused/private_address"] == 1
    assert report.stats["netguard/refused"] == 2  # its robots.txt, then the image
    assert breed_images(database, "otterhound") == []
