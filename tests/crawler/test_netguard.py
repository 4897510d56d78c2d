"""The address guard as plain functions: which hosts and addresses the crawler may contact.

Nothing here sends a request: private, link-local and metadata addresses are only ever judged,
and the middlewares are driven with a stand-in resolver and hand-made responses.
"""

from __future__ import annotations

import asyncio
import socket
from ipaddress import IPv4Address, ip_address

import pytest
from scrapy import Request
from scrapy.crawler import Crawler
from scrapy.http import Response
from scrapy.utils.test import get_crawler

import crawler.middlewares
from core.errors import BreedbenchError
from core.settings import Settings
from crawler.middlewares import (
    FAILED_LOOKUP_TTL,
    LOOKUP_TTL,
    REFUSED_STAT,
    PeerAddressMiddleware,
    PrivateAddressRefused,
    PublicAddressMiddleware,
)
from crawler.netguard import AllowList, HostGuard, IPAddress, address_refusal, parse_literal
from crawler.settings import scrapy_settings

API = "http://127.0.0.1:8000/openverse/v1"


def verdict(host: str, *resolved: str, allow: str = "", port: int = 80) -> tuple[bool, str]:
    guard = HostGuard(AllowList.parse(allow), trusted_urls=[API])
    decision = guard.decide(host, port, [ip_address(a) for a in resolved])
    return decision.allowed, decision.reason


@pytest.mark.parametrize(
    ("host", "reason"),
    [
        ("127.0.0.1", "loopback"),
        ("127.255.255.254", "loopback"),
        ("::1", "loopback"),
        ("localhost", "loopback"),  # by name (RFC 6761), whatever the resolver says
        ("LOCALHOST.", "loopback"),
        ("images.localhost", "loopback"),
        ("10.0.0.1", "private"),
        ("172.16.5.4", "private"),
        ("172.31.255.255", "private"),
        ("192.168.1.1", "private"),
        ("fd12:3456::1", "private"),
        ("fc00::1", "private"),
        ("fec0::1", "private"),
        ("169.254.169.254", "link-local"),  # cloud metadata
        ("fe80::1", "link-local"),
        ("fe80::1%25eth0", "link-local"),  # a zone, escaped as in a URL
        ("100.64.0.1", "shared"),  # carrier-grade NAT
        ("100.127.255.254", "shared"),
        ("224.0.0.251", "multicast"),
        ("ff02::1", "multicast"),
        ("255.255.255.255", "broadcast"),
        ("240.0.0.1", "reserved"),
        ("192.0.0.8", "reserved"),
        ("2001::1", "reserved"),  # Teredo
        ("0.0.0.0", "unspecified"),
        ("0.1.2.3", "unspecified"),
        ("::", "unspecified"),
        ("192.0.2.10", "documentation"),
        ("198.51.100.7", "documentation"),
        ("203.0.113.9", "documentation"),
        ("2001:db8::1", "documentation"),
        ("198.18.0.1", "benchmarking"),
        ("198.19.255.1", "benchmarking"),
        ("2001:2::1", "benchmarking"),
    ],
)
def test_each_refused_class(host: str, reason: str) -> None:
    assert verdict(host) == (False, reason)


@pytest.mark.parametrize(
    ("host", "reason"),
    [
        ("::ffff:127.0.0.1", "loopback"),  # IPv4-mapped
        ("::ffff:7f00:2", "loopback"),
        ("0:0:0:0:0:ffff:a9fe:a9fe", "link-local"),
        ("::ffff:10.0.0.1", "private"),
        ("::127.0.0.1", "loopback"),  # IPv4-compatible
        ("::a00:1", "private"),
        ("::ffff:0:7f00:1", "loopback"),  # IPv4-translated
        ("64:ff9b::7f00:1", "loopback"),  # NAT64
        ("64:ff9b::a9fe:a9fe", "link-local"),
        ("64:ff9b:1::1", "private"),  # local-use NAT64
        ("2002:7f00:1::1", "loopback"),  # 6to4
        ("2002:c0a8:101::", "private"),
        ("2002:a9fe:a9fe::1", "link-local"),
    ],
)
def test_ipv6_forms_are_judged_by_the_ipv4_address_they_carry(host: str, reason: str) -> None:
    assert verdict(host) == (False, reason)


ODD_SPELLINGS = [
    ("2130706433", "127.0.0.1"),  # one decimal number
    ("0177.0.0.1", "127.0.0.1"),  # octal
    ("127.1", "127.0.0.1"),  # short form
    ("0x7f.0.0.1", "127.0.0.1"),  # hex
    ("0x7f000001", "127.0.0.1"),
    ("017700000001", "127.0.0.1"),
    ("3232235777", "192.168.1.1"),
    ("0xa9.254.169.254", "169.254.169.254"),
    ("0251.0376.0251.0376", "169.254.169.254"),
    ("10.1", "10.0.0.1"),
    ("0", "0.0.0.0"),
]


@pytest.mark.parametrize(("host", "address"), ODD_SPELLINGS)
def test_odd_spellings_read_as_the_resolver_reads_them(host: str, address: str) -> None:
    # AI_NUMERICHOST: the C library parses the literal, and never asks a DNS server.
    infos = socket.getaddrinfo(host, None, flags=socket.AI_NUMERICHOST, type=socket.SOCK_STREAM)
    assert {info[4][0] for info in infos} == {address}
    assert parse_literal(host) == ip_address(address)
    allowed, reason = verdict(host)
    assert not allowed and reason == address_refusal(ip_address(address))


@pytest.mark.parametrize(
    "host", ["１２７.０.０.１", "127。0。0。1", "[::FFFF:127.0.0.1]", "127.0.0.1."]
)
def test_unicode_brackets_and_trailing_dots_do_not_hide_an_address(host: str) -> None:
    assert parse_literal(host) is not None and verdict(host) == (False, "loopback")


@pytest.mark.parametrize(
    "host", ["8.8.8.8", "2606:4700:4700::1111", "::ffff:8.8.8.8", "2002:808:808::1", "1.1.1.1"]
)
def test_public_literals_are_allowed(host: str) -> None:
    assert verdict(host) == (True, "public")


def test_a_name_is_refused_when_any_of_its_addresses_is() -> None:
    assert verdict("img.example.org", "93.184.216.34", "2606:2800:220:1::1") == (True, "public")
    assert verdict("img.example.org", "93.184.216.34", "10.0.0.7") == (False, "private")
    assert verdict("img.example.org", "::ffff:169.254.169.254") == (False, "link-local")
    assert verdict("img.example.org", "2606:2800:220:1::1", "fe80::1") == (False, "link-local")
    # Unresolvable: the downloader fails on its own (and the peer check stays in force).
    assert verdict("img.example.org") == (True, "unresolved")


def test_literals_are_judged_without_their_resolution() -> None:
    guard = HostGuard()
    assert not guard.needs_lookup("127.0.0.2") and not guard.needs_lookup("2130706433")
    assert not guard.needs_lookup("localhost") and guard.needs_lookup("img.example.org")
    # A literal is what is connected to, whatever a caller passes as its "resolution".
    assert verdict("127.0.0.2", "93.184.216.34") == (False, "loopback")


def test_allow_list_names_addresses_and_ranges() -> None:
    allow = "127.0.0.1, mirror.lan, 10.1.0.0/16, [fd00::5]"
    assert verdict("127.0.0.1", allow=allow) == (True, "allow-listed")
    assert verdict("::ffff:127.0.0.1", allow=allow) == (True, "allow-listed")  # same address
    assert verdict("127.0.0.2", allow=allow) == (False, "loopback")
    assert verdict("::ffff:127.0.0.2", allow=allow) == (False, "loopback")
    assert verdict("2130706434", allow=allow) == (False, "loopback")
    assert verdict("localhost", allow=allow) == (False, "loopback")  # a name is not its address
    assert verdict("mirror.lan", "192.168.9.9", allow=allow) == (True, "allow-listed")
    assert verdict("MIRROR.LAN.", allow=allow) == (True, "allow-listed")
    assert verdict("10.1.200.3", allow=allow) == (True, "allow-listed")
    assert verdict("files.lan", "10.1.0.9", allow=allow) == (True, "allow-listed")
    assert verdict("files.lan", "10.1.0.9", "10.2.0.9", allow=allow) == (False, "private")
    assert verdict("fd00::5", allow=allow) == (True, "allow-listed")
    assert verdict("fd00::6", allow=allow) == (False, "private")
    assert verdict("localhost", allow="localhost") == (True, "allow-listed")


def test_allow_list_canonical_entries() -> None:
    assert AllowList.parse(" Mirror.LAN., 127.1,,[::1], 10.1.2.3/16 ").entries() == [
        "mirror.lan",
        "127.0.0.1/32",
        "::1/128",
        "10.1.0.0/16",
    ]
    assert AllowList.parse(None).entries() == [] and AllowList.parse(["a.b"]).entries() == ["a.b"]


@pytest.mark.parametrize("entry", ["http://mirror.lan", "mirror.lan:8080", "10.0.0.0/33", "a b"])
def test_a_bad_allow_list_entry_is_a_one_line_error(entry: str) -> None:
    with pytest.raises(BreedbenchError, match="BREEDBENCH_CRAWL_ALLOW_HOSTS") as info:
        scrapy_settings(Settings(crawl_allow_hosts=f"127.0.0.1,{entry}"))
    assert repr(entry) in str(info.value) and "\n" not in str(info.value)


def test_settings_pass_the_allow_list_to_the_crawl() -> None:
    out = scrapy_settings(Settings(crawl_allow_hosts="127.0.0.1,mirror.lan"))
    assert out["BREEDBENCH_ALLOW_HOSTS"] == ["mirror.lan", "127.0.0.1/32"]
    assert scrapy_settings(Settings())["BREEDBENCH_ALLOW_HOSTS"] == []
    middlewares = out["DOWNLOADER_MIDDLEWARES"]
    robots, stats = 100, 850  # Scrapy's RobotsTxtMiddleware and DownloaderStats
    assert middlewares["crawler.middlewares.PublicAddressMiddleware"] < robots
    assert middlewares["crawler.middlewares.PeerAddressMiddleware"] > stats


def test_only_the_configured_api_origins_are_trusted() -> None:
    assert verdict("127.0.0.1", port=8000) == (True, "trusted")
    assert verdict("127.0.0.1", port=22) == (False, "loopback")  # another port of that host
    assert verdict("127.0.0.2", port=8000) == (False, "loopback")
    guard = HostGuard(trusted_urls=["https://api.openverse.org/v1", None])
    assert guard.exempt("API.openverse.org", 443) is not None
    assert guard.exempt("api.openverse.org", 80) is None


def test_the_peer_check_judges_the_address_actually_reached() -> None:
    guard = HostGuard(AllowList.parse("10.1.0.0/16"), trusted_urls=[API])
    assert not guard.check_peer("img.example.org", 443, ip_address("169.254.169.254")).allowed
    assert not guard.check_peer("img.example.org", 443, ip_address("::ffff:10.0.0.1")).allowed
    assert guard.check_peer("img.example.org", 443, ip_address("93.184.216.34")).allowed
    assert guard.check_peer("img.example.org", 443, ip_address("10.1.0.1")).allowed
    assert guard.check_peer("127.0.0.1", 8000, ip_address("127.0.0.1")).allowed  # the API


# --- the middlewares, without a network ----------------------------------------------------


@pytest.fixture
def lookups(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """A stand-in resolver (host → addresses); the hosts it was asked for, in order."""
    table = {
        "img.example.org": [ip_address("93.184.216.34")],
        "rebound.example.org": [ip_address("93.184.216.34"), ip_address("169.254.169.254")],
    }
    asked: list[str] = []

    def resolve(host: str) -> list[IPAddress]:
        asked.append(host)
        return table.get(host, [])

    monkeypatch.setattr(crawler.middlewares, "resolve", resolve)
    return asked


def guard_crawler() -> Crawler:
    return get_crawler(
        settings_dict={"BREEDBENCH_ALLOW_HOSTS": ["10.1.0.0/16"], "BREEDBENCH_OPENVERSE_URL": API}
    )


def test_requests_to_refused_hosts_raise_and_are_counted(lookups: list[str]) -> None:
    c = guard_crawler()
    mw = PublicAddressMiddleware.from_crawler(c)

    async def run(url: str, **meta: object) -> None:
        await mw.process_request(Request(url, meta=meta))

    asyncio.run(run("https://img.example.org/dog.jpg"))
    asyncio.run(run(f"{API}/images/?q=pug"))
    asyncio.run(run("http://10.1.0.5/dog.jpg"))  # allow-listed range
    for url in (
        "https://rebound.example.org/dog.jpg",  # one of its addresses is link-local
        "http://169.254.169.254/latest/meta-data/",
        "http://[::ffff:a9fe:a9fe]/latest/meta-data/",
        "http://2852039166/latest/meta-data/",  # 169.254.169.254 as one number
        "http://localhost:8000/x.jpg",
    ):
        with pytest.raises(PrivateAddressRefused):
            asyncio.run(run(url, redirect_urls=["https://img.example.org/moved.jpg"]))
    assert c.stats.get_value(REFUSED_STAT) == 5
    assert lookups == ["img.example.org", "rebound.example.org"]  # literals: no lookup


def test_one_lookup_per_host_is_shared_and_reused(lookups: list[str]) -> None:
    mw = PublicAddressMiddleware.from_crawler(guard_crawler())

    async def many() -> None:
        urls = [f"https://img.example.org/{n}.jpg" for n in range(20)]
        await asyncio.gather(*(mw.process_request(Request(u)) for u in urls))
        await mw.process_request(Request("https://img.example.org/later.jpg"))

    asyncio.run(many())
    assert lookups == ["img.example.org"]


class Clock:
    """A monotonic clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_failed_lookups_are_remembered_briefly(lookups: list[str]) -> None:
    """A host that is gone costs one lookup per ``FAILED_LOOKUP_TTL``, not one per request;
    a name that resolves is kept for ``LOOKUP_TTL``."""
    mw = PublicAddressMiddleware.from_crawler(guard_crawler())
    mw.clock = clock = Clock()

    def fetch(host: str) -> None:
        asyncio.run(mw.process_request(Request(f"https://{host}/x.jpg")))

    for _ in range(3):
        fetch("gone.example.org")
        fetch("img.example.org")
    assert lookups == ["gone.example.org", "img.example.org"]
    clock.now += FAILED_LOOKUP_TTL
    fetch("gone.example.org")  # asked again: it may resolve by now
    fetch("img.example.org")
    assert lookups == ["gone.example.org", "img.example.org", "gone.example.org"]
    clock.now += LOOKUP_TTL
    fetch("img.example.org")
    assert lookups[-1] == "img.example.org" and len(lookups) == 4


def test_expired_lookups_are_forgotten(lookups: list[str]) -> None:
    mw = PublicAddressMiddleware.from_crawler(guard_crawler())
    mw.clock = clock = Clock()
    hosts = [f"h{n}.example.org" for n in range(50)]
    for host in hosts:
        asyncio.run(mw.process_request(Request(f"https://{host}/x.jpg")))
    clock.now += FAILED_LOOKUP_TTL
    asyncio.run(mw.process_request(Request("https://img.example.org/x.jpg")))
    assert list(mw._lookups) == ["img.example.org"]  # the failed ones expired and went
    clock.now += LOOKUP_TTL
    asyncio.run(mw.process_request(Request("https://gone.example.org/x.jpg")))
    assert list(mw._lookups) == ["gone.example.org"]


def test_an_answer_from_a_refused_peer_is_dropped() -> None:
    c = guard_crawler()
    mw = PeerAddressMiddleware.from_crawler(c)

    def answer(url: str, peer: str, **meta: object) -> Response:
        request = Request(url, meta=meta)
        response = Response(url, status=200, ip_address=ip_address(peer), request=request)
        return asyncio.run(mw.process_response(request, response))

    ok = answer("https://img.example.org/a.jpg", "93.184.216.34")
    assert ok.ip_address == IPv4Address("93.184.216.34")
    answer(f"{API}/images/", "127.0.0.1")  # the configured API
    answer("https://img.example.org/a.jpg", "10.1.0.1")  # allow-listed range
    answer("https://img.example.org/a.jpg", "10.0.0.1", proxy="http://10.0.0.1:3128")
    with pytest.raises(PrivateAddressRefused, match="169.254.169.254"):
        answer("https://img.example.org/a.jpg", "169.254.169.254")
    assert c.stats.get_value(REFUSED_STAT) == 1
