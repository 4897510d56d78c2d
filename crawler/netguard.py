"""Which hosts the crawler may fetch from: public addresses only, unless allow-listed.

Image URLs come from whoever edits an image page on Openverse, Commons or Flickr. Fetched
blindly, they would let anyone point the crawler at ``127.0.0.1``, the LAN, or a cloud metadata
service (``169.254.169.254``) and read the answers back through the crawl stats. This module is
the decision, kept free of Scrapy and of I/O (but ``resolve``) so every case can be tested as a
plain function; ``crawler.middlewares`` applies it to every request the crawl sends.

A host is refused when it is a literal address, or a name any of whose resolved addresses is,
in a refused class: loopback, private (RFC 1918, fc00::/7, site-local), link-local, shared
(carrier-grade NAT), multicast, broadcast, unspecified, documentation, benchmarking or otherwise
reserved — and the IPv6 spellings that carry an IPv4 address (IPv4-mapped, IPv4-compatible,
IPv4-translated, NAT64 64:ff9b::/96, 6to4 2002::/16) are judged by the IPv4 address they carry.
Literal IPv4 spellings the C library accepts (``2130706433``, ``0177.0.0.1``, ``127.1``,
``0x7f.1``) are read the way ``getaddrinfo`` reads them. ``localhost`` and ``*.localhost``
are loopback by definition (RFC 6761), whatever the resolver says.
"""

from __future__ import annotations

import contextlib
import re
import socket
from collections.abc import Iterable
from dataclasses import dataclass
from ipaddress import (
    IPv4Address,
    IPv4Network,
    IPv6Address,
    IPv6Network,
    ip_address,
    ip_network,
)
from urllib.parse import unquote, urlsplit

from core.errors import BreedbenchError

IPAddress = IPv4Address | IPv6Address
IPNetwork = IPv4Network | IPv6Network

ALLOW_SETTING = "BREEDBENCH_CRAWL_ALLOW_HOSTS"
DEFAULT_PORTS = {"http": 80, "https": 443}

# Checked in order: the first match names the refusal (broadcast before the 240/4 it is in).
_REFUSED_V4: tuple[tuple[IPv4Network, str], ...] = tuple(
    (IPv4Network(net), why)
    for net, why in (
        ("0.0.0.0/8", "unspecified"),  # "this network"; 0.0.0.0 reaches the local host on Linux
        ("10.0.0.0/8", "private"),
        ("100.64.0.0/10", "shared"),  # carrier-grade NAT
        ("127.0.0.0/8", "loopback"),
        ("169.254.0.0/16", "link-local"),  # cloud metadata services live here
        ("172.16.0.0/12", "private"),
        ("192.0.0.0/24", "reserved"),  # IETF protocol assignments
        ("192.0.2.0/24", "documentation"),
        ("192.88.99.0/24", "reserved"),  # the deprecated 6to4 relay anycast
        ("192.168.0.0/16", "private"),
        ("198.18.0.0/15", "benchmarking"),
        ("198.51.100.0/24", "documentation"),
        ("203.0.113.0/24", "documentation"),
        ("224.0.0.0/4", "multicast"),
        ("255.255.255.255/32", "broadcast"),
        ("240.0.0.0/4", "reserved"),
    )
)
_REFUSED_V6: tuple[tuple[IPv6Network, str], ...] = tuple(
    (IPv6Network(net), why)
    for net, why in (
        ("::/128", "unspecified"),
        ("::1/128", "loopback"),
        ("100::/64", "reserved"),  # discard-only
        ("64:ff9b:1::/48", "private"),  # local-use NAT64
        ("2001:db8::/32", "documentation"),
        ("2001:2::/48", "benchmarking"),
        ("3fff::/20", "documentation"),
        ("fc00::/7", "private"),  # unique local
        ("fe80::/10", "link-local"),
        ("fec0::/10", "private"),  # the deprecated site-local
        ("ff00::/8", "multicast"),
    )
)
# IPv6 ranges whose low 32 bits (or, for 6to4, bits 16-48) are an IPv4 address it reaches.
_MAPPED = IPv6Network("::ffff:0:0/96")
_TRANSLATED = IPv6Network("::ffff:0:0:0/96")
_COMPATIBLE = IPv6Network("::/96")
_NAT64 = IPv6Network("64:ff9b::/96")
_SIX_TO_FOUR = IPv6Network("2002::/16")

_LOCALHOST_NAMES = frozenset(
    {"localhost", "localhost.localdomain", "ip6-localhost", "ip6-loopback"}
)
_LABEL = r"[a-z0-9_](?:[a-z0-9_-]*[a-z0-9_])?"
_HOSTNAME = re.compile(rf"{_LABEL}(?:\.{_LABEL})*")


@dataclass(frozen=True, slots=True)
class Decision:
    """Whether a host (or a connected peer) may be fetched from, and why, for the log."""

    allowed: bool
    reason: str  # allowed: "public", "trusted", "allow-listed", "unresolved"; else the class
    detail: str = ""

    def __str__(self) -> str:
        return self.detail or self.reason


ALLOWED_PUBLIC = Decision(True, "public")


def normalize_host(host: str) -> str:
    """The host as resolvers see it: unbracketed, unescaped, lower case, no trailing dot."""
    host = unquote(host.strip()).strip("[]").rstrip(".").lower()
    if not host.isascii():
        # Full-width letters and ideographic dots fold to ASCII (IDNA nameprep), as URLs do.
        with contextlib.suppress(UnicodeError):
            host = host.encode("idna").decode("ascii")
    return host


def parse_literal(host: str) -> IPAddress | None:
    """The address a literal host names, in any spelling the C library accepts; else None.

    ``ipaddress`` refuses ``2130706433``, ``0177.0.0.1`` and ``127.1``, but ``getaddrinfo``
    (through ``inet_aton``) reads them all as ``127.0.0.1``: both readings are tried.
    """
    host = normalize_host(host)
    try:
        return ip_address(host)
    except ValueError:
        pass
    if ":" in host or not host:
        return None
    try:
        return IPv4Address(socket.inet_aton(host))
    except OSError:
        return None


def is_localhost_name(host: str) -> bool:
    host = normalize_host(host)
    return host in _LOCALHOST_NAMES or host.endswith(".localhost")


def embedded_ipv4(address: IPv6Address) -> tuple[str, IPv4Address] | None:
    """The IPv4 address an IPv6 one carries (and how it carries it), if any."""
    low32 = IPv4Address(int(address) & 0xFFFFFFFF)
    if address in _MAPPED:
        return "IPv4-mapped", low32
    if address in _TRANSLATED:
        return "IPv4-translated", low32
    if address in _NAT64:
        return "NAT64", low32
    if address in _COMPATIBLE and int(address) > 1:  # :: and ::1 are themselves
        return "IPv4-compatible", low32
    if address in _SIX_TO_FOUR:
        six_to_four = address.sixtofour
        assert six_to_four is not None
        return "6to4", six_to_four
    return None


def address_refusal(address: IPAddress, allowed: Iterable[IPNetwork] = ()) -> str | None:
    """Why ``address`` must not be contacted (its class), or None when it may be."""
    networks = tuple(allowed)
    if any(address.version == n.version and address in n for n in networks):
        return None
    if isinstance(address, IPv6Address):
        carried = embedded_ipv4(address)
        if carried is not None:
            form, v4 = carried
            inner = address_refusal(v4, networks)
            return None if inner is None else f"{inner} ({form} {v4})"
        table: Iterable[tuple[IPNetwork, str]] = _REFUSED_V6
    else:
        table = _REFUSED_V4
    for network, why in table:
        if address in network:
            return why
    if not address.is_global:  # whatever else the registries reserve (Teredo, ORCHID, ...)
        return "reserved"
    return None


def _odd_spelling(host: str) -> bool:
    """A literal only the C library reads (``127.1``), not ``ipaddress``."""
    try:
        ip_address(host)
    except ValueError:
        return True
    return False


def _class_of(why: str) -> str:
    """The bare class of a refusal: "loopback" of "loopback (IPv4-mapped 127.0.0.1)"."""
    return why.split(" ", 1)[0]


class AllowList:
    """``BREEDBENCH_CRAWL_ALLOW_HOSTS``: names exempt from the check, and allowed networks.

    An allowed name is fetched whatever it resolves to (a private mirror); an allowed address or
    CIDR range is contacted however it is reached, literally or through a name resolving into it.
    """

    def __init__(self, names: Iterable[str] = (), networks: Iterable[IPNetwork] = ()) -> None:
        self.names = frozenset(names)
        self.networks = tuple(networks)

    @classmethod
    def parse(cls, value: str | Iterable[str] | None) -> AllowList:
        """Parse a comma list (or a list) of host names, IP addresses and CIDR ranges."""
        if value is None:
            return cls()
        raw = value.split(",") if isinstance(value, str) else list(value)
        names: list[str] = []
        networks: list[IPNetwork] = []
        for entry in (e.strip() for e in raw):
            if not entry:
                continue
            try:
                networks.append(ip_network(entry.strip("[]"), strict=False))
                continue
            except ValueError:
                pass
            name = normalize_host(entry)
            literal = parse_literal(name)
            if literal is not None:  # an odd spelling such as 127.1: allow the address it names
                networks.append(ip_network(literal))
            elif _HOSTNAME.fullmatch(name):
                names.append(name)
            else:
                raise BreedbenchError(
                    f"{ALLOW_SETTING}: {entry!r} is not a host name, IP address or CIDR range"
                )
        return cls(names, networks)

    def entries(self) -> list[str]:
        """The list in canonical form (what a crawl run records)."""
        return sorted(self.names) + [str(n) for n in self.networks]


def origin(url: str) -> tuple[str, int] | None:
    """(host, port) of an http(s) URL, the port defaulted from the scheme."""
    parts = urlsplit(url)
    if parts.scheme not in DEFAULT_PORTS or not parts.hostname:
        return None
    try:
        port = parts.port or DEFAULT_PORTS[parts.scheme]
    except ValueError:
        return None
    return normalize_host(parts.hostname), port


class HostGuard:
    """The whole policy: trusted API origins, the allow-list, and the address classes.

    The API base URLs are configured by the operator, not by search results, so requests to
    their origin (host and port) are trusted; everything else must reach public addresses.
    """

    def __init__(self, allow: AllowList | None = None, trusted_urls: Iterable[str | None] = ()):
        self.allow = allow or AllowList()
        self.trusted = frozenset(o for o in (origin(u) for u in trusted_urls if u) if o)

    def exempt(self, host: str, port: int) -> Decision | None:
        """An allowing decision that needs no address at all, or None."""
        name = normalize_host(host)
        if (name, port) in self.trusted:
            return Decision(True, "trusted", f"{name}:{port} is a configured API")
        if name in self.allow.names:
            return Decision(True, "allow-listed", f"{name} is in {ALLOW_SETTING}")
        return None

    def needs_lookup(self, host: str) -> bool:
        """Whether ``decide`` needs the host's resolved addresses (a name, not a literal)."""
        return parse_literal(host) is None and not is_localhost_name(host)

    def decide(self, host: str, port: int, addresses: Iterable[IPAddress]) -> Decision:
        """May ``host`` be fetched, given what it resolved to? Refused if any address is."""
        exempt = self.exempt(host, port)
        if exempt is not None:
            return exempt
        name = normalize_host(host)
        if is_localhost_name(name):
            return Decision(False, "loopback", f"{name} always names the local host")
        literal = parse_literal(name)
        candidates = [literal] if literal is not None else list(addresses)
        if not candidates:
            # The downloader resolves again and fails on its own; should it get an address
            # after all, the peer check still judges the address it connected to.
            return Decision(True, "unresolved", f"{name} did not resolve")
        for address in candidates:
            why = address_refusal(address, self.allow.networks)
            if why is None:
                continue
            if literal is None:
                detail = f"{name} resolves to {address}, which is {why}"
            elif _odd_spelling(name):
                detail = f"{name} means {address}, which is {why}"
            else:
                detail = f"{name} is {why}"
            return Decision(False, _class_of(why), detail)
        if any(address_refusal(a) is not None for a in candidates):
            return Decision(True, "allow-listed", f"{name} is in {ALLOW_SETTING}")
        return ALLOWED_PUBLIC

    def check_peer(self, host: str, port: int, peer: IPAddress) -> Decision:
        """Was the address actually connected to allowed (a name may resolve differently)?"""
        exempt = self.exempt(host, port)
        if exempt is not None:
            return exempt
        why = address_refusal(peer, self.allow.networks)
        if why is None:
            if address_refusal(peer) is not None:
                return Decision(True, "allow-listed", f"{peer} is in {ALLOW_SETTING}")
            return ALLOWED_PUBLIC
        detail = f"{normalize_host(host)} was reached at {peer}, which is {why}"
        return Decision(False, _class_of(why), detail)


def resolve(host: str) -> list[IPAddress]:
    """Every address ``host`` resolves to (blocking: run it in a thread); [] when it does not."""
    try:
        infos = socket.getaddrinfo(normalize_host(host), None, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError):
        return []
    out: list[IPAddress] = []
    for info in infos:
        address = ip_address(str(info[4][0]))
        if address not in out:
            out.append(address)
    return out
